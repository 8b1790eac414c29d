"""The JSON review report's findings encoded by several processes (`pdp review --jobs N`).

A bank's review has about a million findings, and encoding them is most of
the JSON report's time. The findings are cut into `jobs` runs: workers
forked from this process (they inherit the review, `Steps.start_inherited`)
encode all runs but the first into files of one finding a line, while this
process encodes the first; then the runs are read back in order. The items
are those of `finding_items`, in the same order: the report is the same
byte for byte whatever the number of jobs.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Iterator
from functools import partial
from pathlib import Path

from pdp.analysis.report.stream import finding_items
from pdp.analysis.report.triage import Report, quiet
from pdp.cli.jobs import Steps

# Below this many findings one process encodes them all (a worker costs more than it saves).
MIN_PER_JOB = 20_000
# This process also writes the report (its own run, then the workers'): it takes a smaller run.
OWN_SHARE = 0.8


def report_items(report: Report, steps: Steps) -> Iterator[bytes]:
    """The encoded findings of the report (`finding_items`), encoded by `steps.jobs` processes."""
    total = len(report.findings.entries)
    jobs = min(steps.jobs, total // MIN_PER_JOB)
    if jobs < 2:
        yield from finding_items(report)
        return
    bounds = cuts(total, jobs)
    silent = dataclasses.replace(report, progress=quiet)
    with tempfile.TemporaryDirectory(prefix="pdp-review-") as tmp:
        runs = []
        for i in range(1, jobs):
            path = Path(tmp) / f"run-{i}.jsonl"
            encode = partial(_encode_run, silent, bounds[i], bounds[i + 1], path)
            runs.append((steps.start_inherited(encode), path, bounds[i + 1]))
        yield from finding_items(report, 0, bounds[1])
        for wait, path, stop in runs:
            wait()
            with path.open("rb") as run:
                for line in run:
                    yield line[:-1]
            report.progress("writing", stop, total)


def cuts(total: int, jobs: int) -> list[int]:
    """Where the runs of `jobs` processes start, and the end: this process's run is
    `OWN_SHARE` of a worker's."""
    whole = OWN_SHARE + jobs - 1
    return [0, *(round(total * (OWN_SHARE + i) / whole) for i in range(jobs))]


def _encode_run(report: Report, start: int, stop: int, path: Path) -> None:
    """In a worker: the findings from `start` to `stop`, encoded, one a line, into `path`."""
    with path.open("wb") as run:
        for item in finding_items(report, start, stop):
            run.write(item + b"\n")
