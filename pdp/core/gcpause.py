"""Pausing Python's cyclic garbage collector while a large policy is built.

Reading and compiling a bank-sized policy allocates millions of small,
long-lived objects (ids, tuples, dicts) and no reference cycles worth
collecting; the collector's generational passes over that growing heap cost
as much as the work itself (measured: reading a 30,000-grant policy took
5.8 s with the collector on, 2.8 s with it paused). Reference counting still
frees everything as usual, and the collector resumes when the block ends.

Resuming has a price: every object allocated in the block is still young, so
the first collection after it walks them all (about 0.1 s per block for a
30,000-grant policy), and the older generations walk them again later. The
`pdp` command therefore runs with the collector off altogether
(`pdp.cli.app.main`), except `pdp serve`, which freezes its startup heap
instead (`pdp.service.app.freeze_startup_heap`). Measured on the
30,000-grant pair of tools/bench_diff.py: `pdp diff` 7.2-7.4 s with it on,
6.1-6.5 s off; `pdp review` 13.5 s on, 11.5 s off, with the same peak memory
(446 MB).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    """Disable the cyclic collector for the block (re-entrant; restores the previous state)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
