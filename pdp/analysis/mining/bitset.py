"""Python ints as bitsets: the few operations role mining needs on them."""

from __future__ import annotations

from collections.abc import Iterator


def members(bits: int) -> Iterator[int]:
    """The indexes of the set bits, lowest first."""
    while bits:
        low = bits & -bits
        yield low.bit_length() - 1
        bits ^= low


def size(bits: int) -> int:
    """The number of set bits."""
    return bits.bit_count()


def contains(outer: int, inner: int) -> bool:
    """True when every bit of `inner` is set in `outer`."""
    return outer & inner == inner
