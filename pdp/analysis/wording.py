"""Sets of permissions in a reader's words: class subtrees × purposes → actions.

    summarise(permissions, classes, purposes)
    # ["account.credential and its 3 sub-classes for authentication: collect, use"]

Used where a finding lists many permissions (high exposure) and by the
policy diff's grouped lines (`collapse`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence

import numpy as np
import numpy.typing as npt

from pdp.analysis.finding import Permissions
from pdp.analysis.space import PermissionSpace, set_bit_array
from pdp.core.queries import Permission, descendants


def collapse(
    ids: Iterable[str],
    tree: Iterable[str],
    nouns: tuple[str, str] = ("sub-class", "sub-classes"),
    below: Mapping[str, Collection[str]] | None = None,
) -> list[str]:
    """Phrases for a set of dotted ids: `x and its N sub-classes` for a whole subtree,
    `x and 3 of its 9 sub-classes` when part of it is in the set.

    `below` is `descendants(tree)` when the caller has it (it costs more than the rest),
    best as frozensets (a caller with many sets to phrase makes them once).
    """
    chosen = set(ids)
    if below is None:
        below = descendants(tree)
    phrases = []
    covered: set[str] = set()
    for item in sorted(chosen, key=lambda i: (i.count("."), i)):
        if item in covered:
            continue
        subtree = below.get(item, (item,))
        if not isinstance(subtree, frozenset):
            subtree = frozenset(subtree)
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
    space (`Permissions`) is read as arrays (`_grouped`).
    """

    def __init__(
        self, class_below: Mapping[str, Sequence[str]], purpose_below: Mapping[str, Sequence[str]]
    ) -> None:
        self.class_below = {k: frozenset(v) for k, v in class_below.items()}
        self.purpose_below = {k: frozenset(v) for k, v in purpose_below.items()}
        self._classes: dict[frozenset[str], tuple[str, ...]] = {}
        self._purposes: dict[frozenset[str], str] = {}
        self._masks: dict[tuple[PermissionSpace, int], list[str]] = {}
        self._class_sets: dict[PermissionSpace, dict[bytes, tuple[str, ...]]] = {}

    def __call__(self, permissions: Iterable[Permission]) -> list[str]:
        """The lines of `summarise` for these permissions."""
        if isinstance(permissions, Permissions):
            key = (permissions.space, permissions.mask)
            found = self._masks.get(key)
            if found is None:
                found = self._masks[key] = self._mask_lines(permissions)
            return found
        return self._lines(_cells(permissions))

    def _lines(self, classes_of: Cells) -> list[str]:
        purposes_of: Joined = defaultdict(set)
        for (p, acts), found in classes_of.items():
            purposes_of[(self._phrase(frozenset(found)), acts)].add(p)
        return self._joined(purposes_of)

    def _mask_lines(self, permissions: Permissions) -> list[str]:
        """`_lines` of a mask, its cells grouped by purpose and action set as arrays
        (`_grouped`); each group's classes named once per set of classes."""
        space = permissions.space
        grouped = _grouped(permissions)
        if grouped is None:
            return self._lines(_cells(permissions))
        purposes, held, classes, bounds = grouped
        keys = classes.astype(np.int32).tobytes()  # a group's classes: a slice of these bytes
        phrases = self._class_sets.setdefault(space, {})
        names: dict[int, tuple[str, ...]] = {}
        class_ids, purpose_ids, actions = space.classes, space.purposes, space.actions
        purposes_of: Joined = defaultdict(set)
        ends = [*bounds[1:], len(classes)] if bounds else []
        for start, stop, p, acts in zip(
            bounds, ends, purposes[bounds].tolist(), held[bounds].tolist(), strict=True
        ):
            key = keys[4 * start : 4 * stop]
            phrase = phrases.get(key)
            if phrase is None:
                chosen = frozenset(class_ids[c] for c in classes[start:stop].tolist())
                phrase = phrases[key] = self._phrase(chosen)
            named = names.get(acts)
            if named is None:
                named = names[acts] = tuple(a for i, a in enumerate(actions) if acts >> i & 1)
            purposes_of[(phrase, named)].add(purpose_ids[p])
        return self._joined(purposes_of)

    def _phrase(self, classes: frozenset[str]) -> tuple[str, ...]:
        phrase = self._classes.get(classes)
        if phrase is None:
            phrase = self._classes[classes] = tuple(collapse(classes, (), below=self.class_below))
        return phrase

    def _joined(self, purposes_of: Joined) -> list[str]:
        """One line per class phrase and action set, with its purposes joined."""
        lines = []
        for (phrase, acts), held in purposes_of.items():
            key = frozenset(held)
            purposes = self._purposes.get(key)
            if purposes is None:
                nouns = ("sub-purpose", "sub-purposes")
                purposes = ", ".join(collapse(key, (), nouns, self.purpose_below))
                self._purposes[key] = purposes
            lines.append(f"{', '.join(phrase)} for {purposes}: {', '.join(acts)}")
        return sorted(lines)


Cells = dict[tuple[str, tuple[str, ...]], set[str]]
Joined = dict[tuple[tuple[str, ...], tuple[str, ...]], set[str]]


def _cells(permissions: Iterable[Permission]) -> Cells:
    """The classes of some permissions by purpose and (sorted) set of actions."""
    actions_of: dict[tuple[str, str], set[str]] = defaultdict(set)
    for c, p, a in permissions:
        actions_of[(c, p)].add(a)
    classes_of: Cells = defaultdict(set)
    for (c, p), held in actions_of.items():
        classes_of[(p, tuple(sorted(held)))].add(c)
    return classes_of


def _grouped(permissions: Permissions) -> Grouped | None:
    """A mask's (class, purpose) cells with their action bits, sorted by purpose, action set
    and class: the arrays of purposes, action sets and classes, and where each group of one
    purpose and action set starts. None past `MAX_ARRAY_ACTIONS` actions."""
    space = permissions.space
    width = space.n_actions
    if width > MAX_ARRAY_ACTIONS:
        return None
    bits = set_bit_array(permissions.mask)
    if not len(bits):
        return bits, bits, bits, []
    cells = bits // width
    starts = np.flatnonzero(np.diff(cells, prepend=-1))  # each cell's first bit
    held = np.bitwise_or.reduceat(np.left_shift(1, bits - cells * width), starts)
    classes, purposes = np.divmod(cells[starts], space.n_purposes)
    order = np.lexsort((classes, held, purposes))
    purposes, held, classes = purposes[order], held[order], classes[order]
    bounds = np.flatnonzero(np.diff(purposes, prepend=-1) | np.diff(held, prepend=-1))
    return purposes, held, classes, bounds.tolist()


Grouped = tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.intp], list[int]]


# Past this many actions a cell's action bits do not fit the arrays' 64-bit integers.
MAX_ARRAY_ACTIONS = 62
