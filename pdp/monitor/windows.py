"""Per-key window state with O(1) updates and amortised pruning.

Time is cut into fixed windows (`index = now // window`). A key's state lives
until it has been idle for `keep` windows; the table is swept once whenever
the window index advances, so the cost per observation stays O(1) amortised
and memory is bounded by the keys active in the last `keep` windows (and by
`max_keys`: beyond it, new keys share the state of the key `OVERFLOW`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

OVERFLOW = "<other>"

S = TypeVar("S")


class WindowTable(Generic[S]):
    """A dict of per-key states tagged with the window they were last touched in."""

    def __init__(self, window_seconds: float, keep: int, max_keys: int) -> None:
        self.window = window_seconds
        self.keep = keep
        self.max_keys = max_keys
        self._states: dict[str, tuple[int, S]] = {}
        self._swept = 0

    def index(self, now: float) -> int:
        """The window index of a time."""
        return int(now // self.window)

    def get(self, key: str, index: int, new: Callable[[], S]) -> tuple[str, int, S]:
        """The key actually used, the window it was last touched in, and its state."""
        if index > self._swept:
            self._sweep(index)
        entry = self._states.get(key)
        if entry is None:
            if len(self._states) >= self.max_keys:
                key = OVERFLOW
                entry = self._states.get(key)
            if entry is None:
                entry = (index, new())
                self._states[key] = entry
        return key, entry[0], entry[1]

    def touch(self, key: str, index: int, state: S) -> None:
        """Record that the key's state was updated in window `index`."""
        self._states[key] = (index, state)

    def _sweep(self, index: int) -> None:
        horizon = index - self.keep
        self._states = {k: v for k, v in self._states.items() if v[0] > horizon}
        self._swept = index

    def __len__(self) -> int:
        return len(self._states)


def _counter_state() -> list[int]:
    """A new counter: events in the current window, in the previous one, window it fired in."""
    return [0, 0, -1]


class SlidingCounter:
    """Counts per key over a sliding window, estimated from two tumbling windows.

    The estimate is `previous * (1 - elapsed fraction) + current`, the usual
    O(1) approximation of a sliding window; each key can fire once per window.
    """

    def __init__(self, window_seconds: float, max_keys: int) -> None:
        self._table: WindowTable[list[int]] = WindowTable(window_seconds, 2, max_keys)

    def add(self, key: str, now: float, events: int = 1) -> tuple[str, float, bool]:
        """Count events; return the key used, the windowed count and whether it may fire."""
        table = self._table
        index = table.index(now)
        key, last, state = table.get(key, index, _counter_state)
        if last != index:
            state[1] = state[0] if last == index - 1 else 0
            state[0] = 0
            table.touch(key, index, state)
        state[0] += events
        fraction = (now - index * table.window) / table.window
        return key, state[1] * (1.0 - fraction) + state[0], state[2] != index

    def fired(self, key: str, now: float) -> None:
        """Mark the key as alerted in the current window."""
        index = self._table.index(now)
        _, _, state = self._table.get(key, index, _counter_state)
        state[2] = index

    def __len__(self) -> int:
        return len(self._table)
