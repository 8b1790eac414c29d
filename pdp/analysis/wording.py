"""Sets of permissions in a reader's words: class subtrees × purposes → actions.

    summarise(permissions, classes, purposes)
    # ["account.credential and its 3 sub-classes for authentication: collect, use"]

Used where a finding lists many permissions (high exposure) and by the
policy diff's grouped lines (`collapse`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from pdp.analysis.finding import Permissions
from pdp.analysis.space import PermissionSpace, set_bit_array
from pdp.core.queries import Permission, descendants


def collapse(
    ids: Iterable[str],
    tree: Iterable[str],
    nouns: tuple[str, str] = ("sub-class", "sub-classes"),
    below: Mapping[str, Sequence[str]] | None = None,
) -> list[str]:
    """Phrases for a set of dotted ids: `x and its N sub-classes` for a whole subtree,
    `x and 3 of its 9 sub-classes` when part of it is in the set.

    `below` is `descendants(tree)` when the caller has it (it costs more than the rest).
    """
    chosen = set(ids)
    if below is None:
        below = descendants(tree)
    phrases = []
    covered: set[str] = set()
    for item in sorted(chosen, key=lambda i: (i.count("."), i)):
        if item in covered:
            continue
        subtree = set(below.get(item, (item,)))
        n = len(subtree) - 1
        inside = (subtree & chosen) - {item}
        noun = nouns[0] if n == 1 else nouns[1]
        covered |= inside | {item}
        if n and subtree <= chosen:
            phrases.append(f"{item} and its {n} {noun}")
        elif inside:
            phrases.append(f"{item} and {len(inside)} of its {n} {noun}")
        else:
            phrases.append(item)
    return sorted(phrases)


def summarise(
    permissions: Iterable[Permission], classes: Iterable[str], purposes: Iterable[str]
) -> list[str]:
    """One line per class subtree and purposes that share their actions, sorted.

    Each (class, purpose) gets its set of actions; the classes with the same
    purpose and actions join into subtree phrases (`collapse`); then the
    purposes with the same phrase and actions join.
    """
    return Summariser(descendants(classes), descendants(purposes))(permissions)


class Summariser:
    """`summarise` for many permission sets of one policy, sharing what they have in common.

    Made with `descendants` of the class and purpose trees; remembers the
    phrase of each set of classes or purposes, and the lines of each mask of a
    space (users with the same roles hold the same set). A permission set of a
    space (`Permissions`) is read a class block at a time.
    """

    def __init__(
        self, class_below: Mapping[str, Sequence[str]], purpose_below: Mapping[str, Sequence[str]]
    ) -> None:
        self.class_below = class_below
        self.purpose_below = purpose_below
        self._classes: dict[frozenset[str], tuple[str, ...]] = {}
        self._purposes: dict[frozenset[str], str] = {}
        self._masks: dict[tuple[PermissionSpace, int], list[str]] = {}

    def __call__(self, permissions: Iterable[Permission]) -> list[str]:
        """The lines of `summarise` for these permissions."""
        if isinstance(permissions, Permissions):
            key = (permissions.space, permissions.mask)
            found = self._masks.get(key)
            if found is None:
                found = self._masks[key] = self._lines(_space_cells(permissions))
            return found
        return self._lines(_cells(permissions))

    def _lines(self, classes_of: Mapping[tuple[str, tuple[str, ...]], set[str]]) -> list[str]:
        phrases, named = self._classes, self._purposes
        purposes_of: dict[tuple[tuple[str, ...], tuple[str, ...]], set[str]] = defaultdict(set)
        for (p, acts), found in classes_of.items():
            key = frozenset(found)
            phrase = phrases.get(key)
            if phrase is None:
                phrase = phrases[key] = tuple(collapse(key, (), below=self.class_below))
            purposes_of[(phrase, acts)].add(p)
        lines = []
        for (phrase, acts), held in purposes_of.items():
            key = frozenset(held)
            purposes = named.get(key)
            if purposes is None:
                nouns = ("sub-purpose", "sub-purposes")
                purposes = named[key] = ", ".join(collapse(key, (), nouns, self.purpose_below))
            lines.append(f"{', '.join(phrase)} for {purposes}: {', '.join(acts)}")
        return sorted(lines)


Cells = dict[tuple[str, tuple[str, ...]], set[str]]


def _cells(permissions: Iterable[Permission]) -> Cells:
    """The classes of some permissions by purpose and (sorted) set of actions."""
    actions_of: dict[tuple[str, str], set[str]] = defaultdict(set)
    for c, p, a in permissions:
        actions_of[(c, p)].add(a)
    classes_of: Cells = defaultdict(set)
    for (c, p), held in actions_of.items():
        classes_of[(p, tuple(sorted(held)))].add(c)
    return classes_of


def _space_cells(permissions: Permissions) -> Cells:
    """`_cells` of a mask, read as arrays: its bits' (class, purpose) cells, each cell's action
    bits, then the cells grouped by purpose and action set."""
    space = permissions.space
    width = space.n_actions
    if width > MAX_ARRAY_ACTIONS:
        return _cells(permissions)
    bits = set_bit_array(permissions.mask)
    if not len(bits):
        return {}
    cells = bits // width
    starts = np.flatnonzero(np.diff(cells, prepend=-1))  # each cell's first bit
    held = np.bitwise_or.reduceat(np.left_shift(1, bits - cells * width), starts)
    classes, purposes = np.divmod(cells[starts], space.n_purposes)
    order = np.lexsort((classes, held, purposes))
    purposes, held, classes = purposes[order], held[order], classes[order]
    bounds = np.flatnonzero(np.diff(purposes, prepend=-1) | np.diff(held, prepend=-1)).tolist()
    names: dict[int, tuple[str, ...]] = {}
    actions, class_ids, purpose_ids = space.actions, space.classes, space.purposes
    found: Cells = {}
    for start, stop in zip(bounds, [*bounds[1:], len(order)], strict=True):
        acts = int(held[start])
        named = names.get(acts)
        if named is None:
            named = names[acts] = tuple(a for i, a in enumerate(actions) if acts >> i & 1)
        chosen = {class_ids[c] for c in classes[start:stop].tolist()}
        found[(purpose_ids[int(purposes[start])], named)] = chosen
    return found


# Past this many actions a cell's action bits do not fit the arrays' 64-bit integers.
MAX_ARRAY_ACTIONS = 62
