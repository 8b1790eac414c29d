"""The JSON review report's findings encoded by several processes (`pdp review --jobs N`).

A bank's review has about a million findings, and encoding them is most of
the JSON report's time. `report_items` starts `jobs - 1` workers forked
from this process (they inherit the review, `Steps.start_inherited`) at
once, while this process still counts the report's overview. Each finding
has an owner (`owners`). A worker encodes the findings it owns, one a line,
in order, into a ring of shared memory (`pdp.cli.ring`). This process
yields the findings in order: its own encoded as they come, a worker's read
from its ring as the worker writes it (waiting when it is ahead). The items
are those of `finding_items`: the report is the same byte for byte whatever
the number of jobs.

Owners keep together what encodes faster together: the toxic findings of
subjects with the same roles share their encoded parts (`chunks.Chunks`),
so they go to one process, chosen by the roles; other findings are dealt in
blocks, in turn (the costly ones, listing thousands of permissions each,
sit together in the order and are shared out). This process, which also
counts the overview and writes the report, owns a smaller share
(`OWN_WEIGHT`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Generator, Iterator
from functools import partial

from pdp.analysis.checks.separation import ToxicHit
from pdp.analysis.finding import Pending
from pdp.analysis.report.stream import finding_encoder, finding_items
from pdp.analysis.report.triage import Report, quiet
from pdp.cli.jobs import Started, Steps
from pdp.cli.ring import Ring

# Below this many findings one process encodes them all (a worker costs more than it saves).
MIN_PER_JOB = 20_000
# Findings other than toxic ones are dealt to the processes in blocks of this many, in turn.
BLOCK = 128
# This process's share of the findings, as a part of a worker's: it also counts the
# overview, reads the workers' rings and writes the report (measured with
# tools/bench_review.py at 100,000 users on 2 cores).
OWN_WEIGHT = 0.9
SLOTS = 64  # the owners' table (`_table`): each process's share in 64ths


def report_items(report: Report, steps: Steps) -> Iterator[bytes]:
    """The encoded findings of the report (`finding_items`), encoded by `steps.jobs` processes.

    The workers start when this is called; this process encodes its share
    as the items are read.
    """
    total = len(report.findings.entries)
    jobs = min(steps.jobs, total // MIN_PER_JOB)
    if jobs < 2 or not steps.forks:
        return finding_items(report)
    rings = [Ring() for _ in range(1, jobs)]
    silent = dataclasses.replace(report, progress=quiet)
    try:
        started = [
            steps.start_inherited(partial(_encode, silent, jobs, job, rings))
            for job in range(1, jobs)
        ]
    except BaseException:
        for ring in rings:
            ring.close()
        raise
    return Merged(_merged(report, jobs, rings, started), rings)


class Merged(Iterator[bytes]):
    """The findings in order (`_merged`). `close` frees the rings also when they were never
    read, so that a worker waiting for room ends (the report failed before its findings)."""

    def __init__(self, items: Generator[bytes, None, None], rings: list[Ring]) -> None:
        self._items = items
        self._rings = rings

    def __next__(self) -> bytes:
        return next(self._items)

    def close(self) -> None:
        """Stop: the rings are closed and the workers' lines no longer read."""
        self._items.close()
        for ring in self._rings:
            ring.close()


def owners(report: Report, jobs: int) -> bytes:
    """The process (0 to `jobs - 1`) that encodes each selected finding, in order."""
    table = _table(jobs)
    found = bytearray(len(report.findings.entries))
    for i, entry in enumerate(report.findings.entries):
        if isinstance(entry, ToxicHit):
            found[i] = table[hash(entry.assigned) % SLOTS]  # forked processes hash alike
        else:
            found[i] = table[i // BLOCK % SLOTS]
    return bytes(found)


def _table(jobs: int) -> bytes:
    """The owner of each of `SLOTS` slots: process 0 `OWN_WEIGHT` of a worker's share, the
    workers the rest, each slot's owner spread over the table."""
    weights = [OWN_WEIGHT, *([1.0] * (jobs - 1))]
    total = sum(weights)
    # Slot s goes to the process whose running share falls furthest behind its weight.
    dealt = [0] * jobs
    table = bytearray(SLOTS)
    for slot in range(SLOTS):
        job = max(range(jobs), key=lambda j: weights[j] / total * (slot + 1) - dealt[j])
        table[slot] = job
        dealt[job] += 1
    return bytes(table)


def _merged(
    report: Report, jobs: int, rings: list[Ring], started: list[Started[int]]
) -> Generator[bytes, None, None]:
    """Every finding in order (its progress reported): this process's encoded here, the
    workers' read from their rings."""
    try:
        order = owners(report, jobs)
        encode = finding_encoder(report, _owned(report, order, 0))
        lines: list[Callable[[], bytes]] = [
            partial(ring.reader().line, job) for ring, job in zip(rings, started, strict=True)
        ]
        for owner, entry in zip(order, report.entries(), strict=True):
            yield encode(entry) if owner == 0 else lines[owner - 1]()
        for job in started:
            job.result()
    finally:
        for ring in rings:
            ring.close()


def _encode(report: Report, jobs: int, job: int, rings: list[Ring]) -> int:
    """In worker `job`: encode the findings it owns into its ring, one a line, in order;
    how many."""
    for other, ring in enumerate(rings, start=1):
        if other != job:
            ring.close()  # another worker's: only that worker and the reader hold its ends
    order = owners(report, jobs)
    entries = report.findings.entries
    encode = finding_encoder(report, _owned(report, order, job))
    done = 0
    with rings[job - 1].writer() as run:
        write = run.write
        for i, owner in enumerate(order):
            if owner == job:
                write(encode(entries[i]))
                write(b"\n")
                done += 1
    return done


def _owned(report: Report, order: bytes, job: int) -> Iterator[Pending]:
    """The findings process `job` encodes."""
    return (e for o, e in zip(order, report.findings.entries, strict=True) if o == job)
