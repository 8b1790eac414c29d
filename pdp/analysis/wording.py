"""Sets of permissions in a reader's words: class subtrees × purposes → actions.

    summarise(permissions, classes, purposes)
    # ["account.credential and its 3 sub-classes for authentication: collect, use"]

Used where a finding lists many permissions (high exposure) and by the
policy diff's grouped lines (`collapse`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

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
    class_below, purpose_below = descendants(classes), descendants(purposes)
    actions_of: dict[tuple[str, str], set[str]] = defaultdict(set)
    for c, p, a in permissions:
        actions_of[(c, p)].add(a)
    classes_of: dict[tuple[str, tuple[str, ...]], set[str]] = defaultdict(set)
    for (c, p), held_actions in actions_of.items():
        classes_of[(p, tuple(sorted(held_actions)))].add(c)
    purposes_of: dict[tuple[tuple[str, ...], tuple[str, ...]], set[str]] = defaultdict(set)
    for (p, acts), found in classes_of.items():
        purposes_of[(tuple(collapse(found, (), below=class_below)), acts)].add(p)
    lines = []
    for (phrase, acts), held in purposes_of.items():
        named = collapse(held, (), ("sub-purpose", "sub-purposes"), purpose_below)
        lines.append(f"{', '.join(phrase)} for {', '.join(named)}: {', '.join(acts)}")
    return sorted(lines)
