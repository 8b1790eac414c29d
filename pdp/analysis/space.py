"""Permission sets as bitsets: one bit per declared (class, purpose, action).

The review works on whole sets of permissions (everything a role holds, what
a toxic pattern matches, what a role's duties allow), thousands of subjects at
a time. A set is a Python `int` used as a bitset, numbered

    bit = (class_index * P + purpose_index) * A + action_index

with classes and purposes in depth-first (tree) order, so that a class and its
descendants — and a purpose and its descendants — are a contiguous run of
indexes, and with the bits of a set in the order permissions are listed
(class, then purpose, then action). What a filed key `(class, purpose,
action)` of the compiled index covers — the class and its descendants x the
purpose and its descendants x the action — is a strided run of bits repeated
over a run of class blocks: one multiplication and one shift (`box`).

A space may be a *projection*: only some classes, purposes and actions (the
classes at the top level, or what one toxic pattern matches), numbered the
same way among themselves. Sets in a small projection are small ints, which is
what makes per-user checks cheap. `|`, `&`, `& ~` and `int.bit_count` do the
rest.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Collection, Iterable, Iterator, Sequence
from operator import itemgetter
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from pdp.core.model import Policy
from pdp.core.queries import Permission, descendants

_ONE = re.compile("1")


def tree_order(ids: Iterable[str]) -> list[str]:
    """Dotted ids in depth-first order: each id followed by its descendants."""
    return sorted(ids, key=lambda i: i.split("."))


class PermissionSpace:
    """A numbering of permissions (class, purpose, action) as bits, possibly a projection."""

    def __init__(
        self,
        policy: Policy,
        classes: Collection[str] | None = None,
        purposes: Collection[str] | None = None,
        actions: Collection[str] | None = None,
        *,
        cache: bool = True,
    ) -> None:
        all_classes = tree_order(policy.classes)
        all_purposes = tree_order(policy.purposes)
        all_actions = sorted(policy.actions)
        self.classes = [c for c in all_classes if classes is None or c in classes]
        self.purposes = [p for p in all_purposes if purposes is None or p in purposes]
        self.actions = [a for a in all_actions if actions is None or a in actions]
        self.class_range = _ranges(all_classes, self.classes)
        self.purpose_range = _ranges(all_purposes, self.purposes)
        self.class_index = {c: i for i, c in enumerate(self.classes)}
        self.purpose_index = {p: i for i, p in enumerate(self.purposes)}
        self.action_index = {a: i for i, a in enumerate(self.actions)}
        self.n_classes = len(self.classes)
        self.n_purposes = len(self.purposes)
        self.n_actions = len(self.actions)
        self.block = self.n_purposes * self.n_actions  # bits per class
        self.size = self.n_classes * self.block
        self._strides: dict[tuple[int, int], int] = {}
        self._boxes: dict[tuple[str, str, str], int] | None = {} if cache else None
        self._table: list[Permission] | None = None

    @property
    def full(self) -> int:
        """The set of every permission of the space."""
        return (1 << self.size) - 1

    def stride(self, count: int, step: int) -> int:
        """`count` bits, `step` apart, from bit 0 (cached)."""
        key = (count, step)
        found = self._strides.get(key)
        if found is None:
            found = ((1 << (count * step)) - 1) // ((1 << step) - 1) if count and step else 0
            self._strides[key] = found
        return found

    def box(self, info_class: str, purpose: str, action: str) -> int:
        """What a grant filed under (class, purpose, action) covers here: descendants of both."""
        key = (info_class, purpose, action)
        if self._boxes is not None:
            found = self._boxes.get(key)
            if found is not None:
                return found
        mask = self.spread(info_class, self.run(purpose, action))
        if self._boxes is not None:
            self._boxes[key] = mask
        return mask

    def run(self, purpose: str, action: str) -> int:
        """The bits of one class block a key's (purpose, action) covers: the purpose's subtree."""
        a = self.action_index.get(action)
        p0, p1 = self.purpose_range.get(purpose, (0, 0))
        if a is None or p1 <= p0:
            return 0
        return self.stride(p1 - p0, self.n_actions) << (p0 * self.n_actions + a)

    def spread(self, info_class: str, run: int) -> int:
        """A block's bits repeated over the blocks of a class's subtree (0 when it has none)."""
        c0, c1 = self.class_range.get(info_class, (0, 0))
        if not run or c1 <= c0:
            return 0
        return (run * self.stride(c1 - c0, self.block)) << (c0 * self.block)

    def boxes(self, keys: Iterable[tuple[str, str, str]]) -> int:
        """The union of the boxes of several keys (one large shift per class, not per key)."""
        runs: dict[str, int] = {}
        for cls, purp, act in keys:
            runs[cls] = runs.get(cls, 0) | self.run(purp, act)
        mask = 0
        for cls, run in runs.items():
            mask |= self.spread(cls, run)
        return mask

    def cells(
        self,
        classes: Iterable[str] | None,
        purposes: Iterable[str] | None,
        actions: Iterable[str] | None,
    ) -> int:
        """Every permission with its class, purpose and action in these sets (no descendants).

        None stands for every class, purpose or action of the space.
        """
        if actions is None:
            action_bits = (1 << self.n_actions) - 1
        else:
            action_bits = sum(
                1 << self.action_index[a] for a in set(actions) & self.action_index.keys()
            )
        if purposes is None:
            purpose_bits = self.stride(self.n_purposes, self.n_actions)
        else:
            chosen = set(purposes) & self.purpose_index.keys()
            purpose_bits = sum(1 << (self.purpose_index[p] * self.n_actions) for p in chosen)
        block = action_bits * purpose_bits
        if classes is None:
            return block * self.stride(self.n_classes, self.block)
        mask = 0
        for cls in set(classes) & self.class_index.keys():
            mask |= block << (self.class_index[cls] * self.block)
        return mask

    def class_mask(self, classes: Iterable[str]) -> int:
        """Every permission on one of these classes (exactly these, not their descendants)."""
        return self.cells(classes, None, None)

    def purpose_mask(self, purposes: Iterable[str]) -> int:
        """Every permission for one of these purposes (exactly these, not their descendants)."""
        return self.cells(None, purposes, None)

    def bits(self, mask: int) -> Iterator[int]:
        """The indexes of the bits set in a mask, lowest first."""
        return iter(set_bits(mask))

    @property
    def table(self) -> list[Permission]:
        """Every permission of the space, in bit order (built on first use)."""
        if self._table is None:
            self._table = [
                (c, p, a) for c in self.classes for p in self.purposes for a in self.actions
            ]
        return self._table

    def permission(self, bit: int) -> Permission:
        """The permission a bit stands for."""
        rest, a = divmod(bit, self.n_actions)
        c, p = divmod(rest, self.n_purposes)
        return (self.classes[c], self.purposes[p], self.actions[a])

    def decode(self, mask: int) -> list[Permission]:
        """The permissions of a mask, in tree order of class, then purpose, then action."""
        bits = set_bits(mask)
        if not bits:
            return []
        return list(pick(self.table, bits))

    def indexes(self, mask: int) -> list[int]:
        """The bits set in a mask, lowest (first in tree order) first."""
        return set_bits(mask)

    def purposes_of(self, bits: npt.NDArray[np.intp]) -> list[str]:
        """The purposes of a mask's permissions (exactly those, not their parents), sorted,
        from its bits (`set_bit_array`)."""
        indexes = np.unique(bits // self.n_actions % self.n_purposes)
        return sorted(self.purposes[i] for i in indexes.tolist())

    def first(self, mask: int) -> Permission | None:
        """The permission of the lowest bit of a mask, or None when it is empty."""
        if not mask:
            return None
        return self.permission((mask & -mask).bit_length() - 1)

    def encode(self, permissions: Iterable[Permission]) -> int:
        """The mask of some permissions; those outside the space are left out."""
        mask = 0
        for cls, purp, act in permissions:
            a = self.action_index.get(act)
            c = self.class_index.get(cls)
            p = self.purpose_index.get(purp)
            if a is not None and c is not None and p is not None:
                mask |= 1 << ((c * self.n_purposes + p) * self.n_actions + a)
        return mask


# Past this many bits a mask's set bits are found with numpy (below, a regex is quicker).
WIDE = 1024


def set_bits(mask: int) -> list[int]:
    """The indexes of the bits set in a mask, lowest first."""
    if mask.bit_length() <= WIDE:
        return [match.start() for match in _ONE.finditer(bin(mask)[:1:-1])]
    return set_bit_array(mask).tolist()  # type: ignore[no-any-return]


def set_bit_array(mask: int) -> npt.NDArray[np.intp]:
    """`set_bits` as an array, found in C (numpy)."""
    data = np.frombuffer(mask.to_bytes((mask.bit_length() + 7) // 8, "little"), np.uint8)
    held = np.flatnonzero(data)  # the bytes with a bit set (a wide mask is mostly zeros)
    rows, columns = np.nonzero(np.unpackbits(data[held, None], axis=1, bitorder="little"))
    return held[rows] * 8 + columns


T = TypeVar("T")


def pick(items: Sequence[T], indexes: list[int]) -> Sequence[T]:
    """The items at these indexes, in their order (one C-level call)."""
    if len(indexes) == 1:
        return [items[indexes[0]]]
    return itemgetter(*indexes)(items) if indexes else ()


def _ranges(order: list[str], selected: list[str]) -> dict[str, tuple[int, int]]:
    """For every id of `order`: the run of `selected` indexes its subtree covers."""
    rank = {item: i for i, item in enumerate(order)}
    selected_ranks = [rank[s] for s in selected]
    size = {item: len(subtree) for item, subtree in descendants(order).items()}
    result = {}
    for item in order:
        start = rank[item]
        lo = bisect_left(selected_ranks, start)
        hi = bisect_left(selected_ranks, start + size[item])
        result[item] = (lo, hi)
    return result
