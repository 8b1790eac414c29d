"""Normalising a policy file without losing its order or comments (`pdp fmt`).

By default only the layout changes (`pdp.policyci.layout`): indentation,
spacing, quoting and flow style, with the author's order of sections, entries
and keys, and every comment with its item. The result always loads to the same
data, so the policy version never changes; a file whose result would not is an
internal error, never written.

With `sort=True` (`pdp fmt --sort`) the order is normalised too, through a
ruamel.yaml round trip (slower):

- top-level sections in the spec's order (version, actions, levels, classes,
  purposes, roles, grants, users, separation_of_duties, then any others);
- the keys of each entry in the spec's order (e.g. a grant: id, description,
  effect, roles, classes, purposes, actions, obligations);
- the entries of `classes`, `purposes`, `roles` and `users` sorted by id (a
  mapping whose order has no meaning);
- id lists sorted and de-duplicated: inherits, duties, a user's roles, and a
  grant's or rule's roles, classes, purposes, actions and obligations.

The order of `actions` and `levels` (lowest first) means something and is kept,
as is the order of grants and rules. A comment stays with the entry it follows
on the same line or stands above.
"""

from __future__ import annotations

import io
import re
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from pdp.errors import InternalError
from pdp.policyci.layout import format_layout

SECTIONS = (
    "version",
    "actions",
    "levels",
    "classes",
    "purposes",
    "roles",
    "grants",
    "users",
    "separation_of_duties",
)
ENTRY_KEYS = {
    "classes": ("level", "label", "description"),
    "purposes": ("legal_basis", "label", "description"),
    "roles": ("label", "description", "inherits", "duties"),
    "users": ("label", "description", "roles"),
    "grants": (
        "id",
        "description",
        "effect",
        "roles",
        "classes",
        "purposes",
        "actions",
        "obligations",
    ),
    "separation_of_duties": ("id", "description", "roles", "max", "permissions", "severity"),
}
ID_LISTS = {
    "roles": ("inherits", "duties"),
    "users": ("roles",),
    "grants": ("roles", "classes", "purposes", "actions", "obligations"),
    "separation_of_duties": ("roles",),
}
SORTED_MAPPINGS = ("classes", "purposes", "roles", "users")


def _yaml() -> YAML:
    round_trip = YAML()
    round_trip.preserve_quotes = True
    round_trip.width = 4096
    round_trip.indent(mapping=2, sequence=4, offset=2)
    return round_trip


def _reorder_entry(mapping: CommentedMap, order: list[Any]) -> None:
    """Reorder an entry's keys, unless comments stand between them (then the order is kept).

    The comment after the entry's last key (the lines standing above the next
    entry) moves to the new last key.
    """
    keys = list(mapping.keys())
    if keys == order:
        return
    items = mapping.ca.items
    if any(k != keys[-1] and any(items[k]) for k in items) or mapping.ca.comment:
        return
    tail = items.pop(keys[-1], None)
    values = [(k, mapping[k]) for k in order]
    for key in keys:
        del mapping[key]
    for key, value in values:
        mapping[key] = value
    if tail is not None:
        items[order[-1]] = tail


def _sort_list(seq: Any) -> None:
    if not isinstance(seq, list) or not all(isinstance(v, str) for v in seq):
        return
    wanted = sorted(dict.fromkeys(seq))
    if list(seq) == wanted:
        return
    if isinstance(seq, CommentedSeq) and seq.ca.items:
        return  # items carry their own comments: leave the author's order
    seq[:] = wanted


def _key_order(keys: list[Any], preferred: tuple[str, ...]) -> list[Any]:
    return sorted(keys, key=lambda k: preferred.index(k) if k in preferred else len(preferred))


def normalise_data(doc: Any) -> None:
    """Normalise a round-trip-loaded policy document in place."""
    if not isinstance(doc, CommentedMap):
        return
    for section, value in doc.items():
        entries: list[Any] = []
        if isinstance(value, CommentedMap):
            entries = list(value.values())
        elif isinstance(value, list):
            entries = list(value)
        for entry in entries:
            if not isinstance(entry, CommentedMap):
                continue
            if section in ENTRY_KEYS:
                _reorder_entry(entry, _key_order(list(entry.keys()), ENTRY_KEYS[section]))
            for name in ID_LISTS.get(section, ()):
                _sort_list(entry.get(name))
            for pattern in entry.get("permissions", None) or ():
                if isinstance(pattern, CommentedMap):
                    for name in ("classes", "purposes", "actions"):
                        _sort_list(pattern.get(name))


KEY_LINE = re.compile(r"""^( *)("(?:[^"\\]|\\.)*"|'[^']*'|[^\s#:'"-][^:#]*?) *:(?: |$)""")


def _key_of(line: str, indent: int) -> str | None:
    """The (unquoted) key a line opens at exactly this indent, or None."""
    match = KEY_LINE.match(line)
    if match is None or len(match.group(1)) != indent:
        return None
    return match.group(2).strip("\"'")


def _blocks(
    lines: list[str], indent: int
) -> tuple[list[str], list[tuple[str, list[str]]], list[str]]:
    """Split lines into (head, [(key, block)], tail): each block takes the comment and blank
    lines standing above its key; lines after the last key's content stay in the tail."""
    head: list[str] = []
    blocks: list[tuple[str, list[str]]] = []
    pending: list[str] = []
    for line in lines:
        key = _key_of(line, indent)
        stripped = line.strip()
        if key is not None:
            blocks.append((key, [*pending, line]))
            pending = []
        elif not stripped or (
            stripped.startswith("#") and len(line) - len(line.lstrip()) <= indent
        ):
            pending.append(line)
        elif blocks:
            blocks[-1][1].extend([*pending, line])
            pending = []
        else:
            head.extend([*pending, line])
            pending = []
    if not blocks:
        return [*head, *pending], [], []
    return head, blocks, pending


def _sorted_blocks(lines: list[str], indent: int, rank: Any) -> list[str]:
    head, blocks, tail = _blocks(lines, indent)
    ordered = sorted(blocks, key=lambda b: rank(b[0]))
    if ordered == blocks:
        return lines
    for i, (_, block) in enumerate(ordered):  # every block but the last ends its line
        if block and not block[-1].endswith("\n") and i < len(ordered) - 1:
            block[-1] += "\n"
    return head + [line for _, block in ordered for line in block] + tail


def _child_indent(lines: list[str]) -> int | None:
    for line in lines:
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            width = len(line) - len(line.lstrip(" "))
            return width if width and not stripped.startswith(("- ", "{", "[")) else None
    return None


def sort_text(text: str) -> str:
    """Sections in the spec's order and the entries of id-keyed sections by id, as text."""
    lines = text.splitlines(keepends=True)
    lines = _sorted_blocks(
        lines, 0, lambda k: SECTIONS.index(k) if k in SECTIONS else len(SECTIONS)
    )
    head, blocks, tail = _blocks(lines, 0)
    out = list(head)
    for key, block in blocks:
        first = next(i for i, line in enumerate(block) if _key_of(line, 0) == key)
        indent = _child_indent(block[first + 1 :]) if key in SORTED_MAPPINGS else None
        if indent is None:
            out += block
            continue
        out += block[: first + 1] + _sorted_blocks(block[first + 1 :], indent, lambda k: k)
    return "".join(out + tail)


def sorted_text(text: str) -> str:
    """The text of one policy file in the spec's order (ruamel.yaml round trip, comments kept)."""
    round_trip = _yaml()
    doc = round_trip.load(text)
    normalise_data(doc)
    out = io.StringIO()
    round_trip.dump(doc, out)
    return sort_text(out.getvalue())


def _data(text: str) -> list[Any]:
    return list(yaml.load_all(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))


def format_text(text: str, *, sort: bool = False, verify: bool = True) -> str:
    """The normal form of one policy file; with `sort`, in the spec's order too.

    With `verify`, a changed text is loaded both ways to prove it means the
    same (`InternalError` if not); that costs more than formatting. Raises
    `yaml.YAMLError` when the text is not YAML.
    """
    source = sorted_text(text) if sort else text
    out = format_layout(source)
    if verify and out != source and _data(out) != _data(source):
        raise InternalError("formatting would change what the file means: file a bug")
    return out


def needs_format(text: str, *, sort: bool = False) -> bool:
    """True when `pdp fmt` would change the text (nothing is loaded to verify it)."""
    return format_text(text, sort=sort, verify=False) != text
