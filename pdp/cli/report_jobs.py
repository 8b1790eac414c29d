"""The JSON review report's findings encoded by several processes (`pdp review --jobs N`).

A bank's review has about a million findings, and encoding them is most of
the JSON report's time. The findings are dealt in blocks to `jobs`
processes, in turn: workers forked from this process (they inherit the
review, `Steps.start_inherited`) and this one each encode their blocks into
a file of one finding a line; then the blocks are read back in order. The
items are those of `finding_items`, in the same order: the report is the
same byte for byte whatever the number of jobs.
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
# The findings are dealt to the processes in blocks of this many, in turn: the costly kinds
# (findings listing thousands of permissions) sit together in the order, and are shared out.
BLOCK = 1024


def report_items(report: Report, steps: Steps) -> Iterator[bytes]:
    """The encoded findings of the report (`finding_items`), encoded by `steps.jobs` processes."""
    total = len(report.findings.entries)
    jobs = min(steps.jobs, total // MIN_PER_JOB)
    if jobs < 2:
        yield from finding_items(report)
        return
    blocks = [(start, min(start + BLOCK, total)) for start in range(0, total, BLOCK)]
    silent = dataclasses.replace(report, progress=quiet)
    with tempfile.TemporaryDirectory(prefix="pdp-review-") as tmp:
        paths = [Path(tmp) / f"job-{job}.jsonl" for job in range(jobs)]
        waits = [
            steps.start_inherited(partial(_encode, silent, blocks[job::jobs], paths[job]))
            for job in range(1, jobs)
        ]
        _encode(report, blocks[0::jobs], paths[0])
        for wait in waits:
            wait()
        runs = [path.open("rb") for path in paths]
        try:
            for number, (start, stop) in enumerate(blocks):
                run = runs[number % jobs]
                for _ in range(start, stop):
                    yield run.readline()[:-1]
        finally:
            for run in runs:
                run.close()
    report.progress("writing", total, total)


def _encode(report: Report, blocks: list[tuple[int, int]], path: Path) -> None:
    """The findings of some blocks, encoded in order, one a line, into `path`."""
    with path.open("wb") as run:
        for item in finding_items(report, blocks):
            run.write(item + b"\n")
