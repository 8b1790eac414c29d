"""The JSON review report's findings encoded by several processes (`pdp review --jobs N`).

A bank's review has about a million findings, and encoding them is most of
the JSON report's time. `report_items` starts `jobs - 1` workers forked
from this process (they inherit the review, `Steps.start_inherited`) at
once, while this process still counts the report's overview. Each finding
has an owner (`owners`), the process that encodes it into a file of its
own, one a line, in order; then the lines are read back in the findings'
order. The items are those of `finding_items`: the report is the same byte
for byte whatever the number of jobs.

Owners keep together what encodes faster together: the toxic findings of
subjects with the same roles share their encoded parts (`chunks.Chunks`),
so they go to one process, chosen by the roles; other findings are dealt in
blocks, in turn (the costly ones, listing thousands of permissions each,
sit together in the order and are shared out).
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

from pdp.analysis.checks.separation import ToxicHit
from pdp.analysis.report.stream import finding_encoder, finding_items
from pdp.analysis.report.triage import PROGRESS_EVERY, Progress, Report, quiet
from pdp.cli.jobs import Steps

# Below this many findings one process encodes them all (a worker costs more than it saves).
MIN_PER_JOB = 20_000
# Findings other than toxic ones are dealt to the processes in blocks of this many, in turn.
BLOCK = 128


def report_items(report: Report, steps: Steps) -> Iterator[bytes]:
    """The encoded findings of the report (`finding_items`), encoded by `steps.jobs` processes.

    The workers start when this is called; this process encodes its share
    and joins them when the items are first read.
    """
    total = len(report.findings.entries)
    jobs = min(steps.jobs, total // MIN_PER_JOB)
    if jobs < 2:
        return finding_items(report)
    tmp = tempfile.TemporaryDirectory(prefix="pdp-review-")
    paths = [Path(tmp.name) / f"job-{job}.jsonl" for job in range(jobs)]
    silent = dataclasses.replace(report, progress=quiet)
    waits = [
        steps.start_inherited(partial(_encode, silent, jobs, job, paths[job], quiet))
        for job in range(1, jobs)
    ]
    return _gathered(silent, report.progress, jobs, paths, waits, tmp)


def owners(report: Report, jobs: int) -> bytes:
    """The process (0 to `jobs - 1`) that encodes each selected finding, in order."""
    found = bytearray(len(report.findings.entries))
    for i, entry in enumerate(report.findings.entries):
        if isinstance(entry, ToxicHit):
            found[i] = hash(entry.assigned) % jobs  # forked processes hash alike
        else:
            found[i] = i // BLOCK % jobs
    return bytes(found)


def _gathered(
    report: Report,
    progress: Progress,
    jobs: int,
    paths: list[Path],
    waits: list[Callable[[], bytes]],
    tmp: tempfile.TemporaryDirectory[str],
) -> Iterator[bytes]:
    """This process's share encoded, then every finding read back in order."""
    with tmp:
        order = _encode(report, jobs, 0, paths[0], progress)
        for wait in waits:
            wait()
        files = [path.open("rb") for path in paths]
        try:
            lines = [file.readline for file in files]
            for owner in order:
                yield lines[owner]()[:-1]
        finally:
            for file in files:
                file.close()
    progress("writing", len(order), len(order))


def _encode(report: Report, jobs: int, job: int, path: Path, progress: Progress) -> bytes:
    """Encode the findings `job` owns into `path`, one a line, in order; the owners."""
    order = owners(report, jobs)
    entries = report.findings.entries
    encode = finding_encoder(report)
    total, done = len(entries), 0
    with path.open("wb") as run:
        write = run.write
        for i, owner in enumerate(order):
            if owner == job:
                write(encode(entries[i]))
                write(b"\n")
                done += 1
                if not done % PROGRESS_EVERY:
                    progress("writing", i, total)
    return order
