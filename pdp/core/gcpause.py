"""Pausing Python's cyclic garbage collector while a large policy is built.

Reading and compiling a bank-sized policy allocates millions of small,
long-lived objects (ids, tuples, dicts) and no reference cycles worth
collecting; the collector's generational passes over that growing heap cost
as much as the work itself (measured: reading a 30,000-grant policy took
5.8 s with the collector on, 2.8 s with it paused). Reference counting still
frees everything as usual, and the collector resumes when the block ends.
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
