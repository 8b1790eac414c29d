"""Sets of permissions in a reader's words: class subtrees × purposes → actions.

    summarise(permissions, classes, purposes)
    # ["account.credential and its 3 sub-classes for authentication: collect, use",
    #  ..., "and 412 more permissions in 37 more lines"]

Used where a finding lists many permissions (high exposure) and by the
policy diff's grouped lines (`collapse`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence

import numpy as np
import numpy.typing as npt

from pdp.analysis.finding import Permissions
from pdp.analysis.space import PermissionSpace
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
    chosen = ids if isinstance(ids, frozenset) else frozenset(ids)
    if below is None:
        below = descendants(tree)
    phrases = []
    covered: set[str] = set()
    # Sorted, an id comes after its ancestors (each is a prefix of it).
    for item in sorted(chosen):
        if item in covered:
            continue
        subtree = below.get(item)
        if subtree is None or len(subtree) == 1:  # a leaf
            phrases.append(item)
            continue
        if not isinstance(subtree, frozenset):
            subtree = frozenset(subtree)
        n = len(subtree) - 1
        inside = subtree & chosen
        covered |= inside
        noun = nouns[0] if n == 1 else nouns[1]
        if len(inside) > n:
            phrases.append(f"{item} and its {n} {noun}")
        elif len(inside) > 1:
            phrases.append(f"{item} and {len(inside) - 1} of its {n} {noun}")
        else:
            phrases.append(item)
    return sorted(phrases)


def summarise(
    permissions: Iterable[Permission], classes: Iterable[str], purposes: Iterable[str]
) -> list[str]:
    """One line per set of classes and purposes sharing their actions: the `LINES` largest
    (most permissions first, then by text), and a line counting the rest.

    Each (class, purpose) gets its set of actions; the classes with the same
    purpose and actions form a set; the purposes with the same set of classes
    and actions join. A line names its classes as subtree phrases (`collapse`),
    then its purposes, then its actions.
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
        self._class_sets: dict[PermissionSpace, dict[tuple[int, int], tuple[str, ...]]] = {}
        self._purpose_sets: dict[PermissionSpace, dict[bytes, str]] = {}
        self._action_sets: dict[PermissionSpace, dict[int, tuple[str, ...]]] = {}
        self._salts: dict[PermissionSpace, npt.NDArray[np.uint64]] = {}

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
            purposes_of[(frozenset(found), acts)].add(p)
        lines = [
            (
                len(found) * len(held) * len(acts),
                _line(self._phrase(found), self._purposes_phrase(frozenset(held)), acts),
            )
            for (found, acts), held in purposes_of.items()
        ]
        return _largest(lines, len(lines), sum(n for n, _ in lines))

    def _mask_lines(self, permissions: Permissions) -> list[str]:
        """`_lines` of a mask, read as arrays: its cells grouped by purpose and action set
        (`_grouped`), then the groups with the same classes and actions into lines, of
        which only the largest are worded.

        Groups with the same classes are found by a 128-bit fingerprint of their
        classes (the sums of two random numbers per class, `_salts`): two different
        sets share it with a chance of 2**-128. Each set of classes and of purposes
        is named once per space.
        """
        space = permissions.space
        grouped = _grouped(permissions)
        if grouped is None:
            return self._lines(_cells(permissions))
        purposes, held, classes, bounds = grouped
        if not bounds:
            return []
        starts = np.asarray(bounds)
        ends = [*bounds[1:], len(classes)]
        salts = self._salts.get(space)
        if salts is None:
            salts = self._salts[space] = _salts(space.n_classes)
        first = np.add.reduceat(salts[0][classes], starts)
        second = np.add.reduceat(salts[1][classes], starts)
        group_purposes, group_held = purposes[starts], held[starts]
        order = np.lexsort((group_purposes, second, first, group_held))
        first, second, group_held = first[order], second[order], group_held[order]
        change = np.empty(len(order), dtype=bool)
        change[0] = True
        change[1:] = (
            (first[1:] != first[:-1])
            | (second[1:] != second[:-1])
            | (group_held[1:] != group_held[:-1])
        )
        line_starts = np.flatnonzero(change)
        line_ends = np.append(line_starts[1:], len(order))
        # A line's permissions: its classes × its purposes × its actions.
        sizes = (np.asarray(ends) - starts)[order[line_starts]]
        counts = (
            sizes
            * (line_ends - line_starts)
            * np.bitwise_count(group_held[line_starts].astype(np.uint64))
        )
        chosen = np.arange(len(counts))
        if len(counts) > LINES:  # the largest, and every line as large as the last of them
            chosen = np.flatnonzero(counts >= np.partition(counts, -LINES)[-LINES])
        keys = group_purposes[order].astype(np.int32)  # a line's purposes: a slice
        phrases = self._class_sets.setdefault(space, {})
        names = self._action_sets.setdefault(space, {})
        said = self._purpose_sets.setdefault(space, {})
        class_ids, actions = space.classes, space.actions
        lines = []
        for line in chosen.tolist():
            start, stop = int(line_starts[line]), int(line_ends[line])
            one, two, acts = int(first[start]), int(second[start]), int(group_held[start])
            phrase = phrases.get((one, two))
            if phrase is None:
                group = int(order[start])
                chosen_classes = classes[bounds[group] : ends[group]].tolist()
                phrase = self._phrase(frozenset(class_ids[c] for c in chosen_classes))
                phrases[(one, two)] = phrase
            named = names.get(acts)
            if named is None:
                named = names[acts] = tuple(a for i, a in enumerate(actions) if acts >> i & 1)
            key = keys[start:stop].tobytes()
            purposes_said = said.get(key)
            if purposes_said is None:
                ids = frozenset(space.purposes[p] for p in keys[start:stop].tolist())
                purposes_said = said[key] = self._purposes_phrase(ids)
            lines.append((int(counts[line]), _line(phrase, purposes_said, named)))
        return _largest(lines, len(counts), permissions.mask.bit_count())

    def _phrase(self, classes: frozenset[str]) -> tuple[str, ...]:
        phrase = self._classes.get(classes)
        if phrase is None:
            phrase = self._classes[classes] = tuple(collapse(classes, (), below=self.class_below))
        return phrase

    def _purposes_phrase(self, purposes: frozenset[str]) -> str:
        said = self._purposes.get(purposes)
        if said is None:
            nouns = ("sub-purpose", "sub-purposes")
            said = self._purposes[purposes] = ", ".join(
                collapse(purposes, (), nouns, self.purpose_below)
            )
        return said


Cells = dict[tuple[str, tuple[str, ...]], set[str]]
Joined = dict[tuple[frozenset[str], tuple[str, ...]], set[str]]


def _line(phrase: Sequence[str], purposes: str, actions: Sequence[str]) -> str:
    """One line of a summary: classes for purposes: actions."""
    return f"{', '.join(phrase)} for {purposes}: {', '.join(actions)}"


def _largest(lines: list[tuple[int, str]], count: int, held: int) -> list[str]:
    """The `LINES` largest of a summary's `count` lines (most permissions first, then by
    text), from `lines` (each with its number of permissions; the largest at least), and
    a last line counting the rest of the `held` permissions."""
    lines.sort(key=lambda line: (-line[0], line[1]))
    shown = lines[:LINES]
    text = [line for _, line in shown]
    if count > len(shown):
        rest = held - sum(n for n, _ in shown)
        more = count - len(shown)
        noun = "permission" if rest == 1 else "permissions"
        text.append(f"and {rest} more {noun} in {more} more {'line' if more == 1 else 'lines'}")
    return text


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
    bits = permissions.array()
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


def _salts(count: int) -> npt.NDArray[np.uint64]:
    """Two random 64-bit numbers per class (fixed seed): a class set's fingerprint sums them."""
    return np.random.default_rng(count).integers(0, 2**64, size=(2, count), dtype=np.uint64)


# The lines of a summary: the largest, then one counting the rest.
LINES = 8
# Past this many actions a cell's action bits do not fit the arrays' 64-bit integers.
MAX_ARRAY_ACTIONS = 62
