"""The fast path for reading policy YAML: a Rust parser, entity lines found by a checked scan.

PyYAML builds a node (with two marks) for every scalar, which made reading a
bank-sized policy (100,000 users, 30,000 grants: 370k lines) take 10-15 s.
`fast_source` parses the text with `fast_yaml` (Rust, about 20x faster) and
finds the line and column of each *entity* (class, purpose, role, user,
grant, rule) with a line scan, then proves that scan against the parsed
data. It gives up, returning None, whenever the result could differ in any
way from the reference reader (`pdp.core.source.read_source`):

- anything the scan cannot vouch for: several documents, unusual line
  breaks, tags and merge keys (`!`, `<<`), entity sections in flow style
  or with quoted keys, section keys or entity keys that do not match the
  parsed data one for one;
- duplicate keys at any depth (fast_yaml keeps the last silently; the
  reference reader reports them), found by fast_yaml's own linter;
- YAML 1.1 versus 1.2 scalar differences: a string the reference reader
  (PyYAML, YAML 1.1) would read as a bool, number, date or null; any float;
  an integer other than a plain decimal `version:`, `max:` or `max_records:`
  (dates under `valid_from:`/`valid_until:` are fine: the parser reads a date and
  its text alike).

The fast source records exact locations only for entities and sections;
deeper paths answer with their entity's location. That is enough for a
valid policy, whose model keeps entity locations only: the loader
(`pdp.core.load.check_texts`) re-reads every file with the reference reader
as soon as any problem, error or warning, is found, so every reported
problem carries its exact line and column.
"""

from __future__ import annotations

import re
from typing import Any

import fast_yaml
import yaml
from fast_yaml import lint as _lint

from pdp.core.source import PathKey, Source
from pdp.errors import Location

_DUPLICATES_ONLY: Any = _lint.LintConfig(
    max_line_length=None,
    disabled_rules=[
        "line-length",
        "document-start",
        "document-end",
        "indentation",
        "empty-lines",
        "new-line-at-end-of-file",
        "braces",
        "brackets",
        "colons",
        "commas",
        "hyphens",
        "comments",
        "comments-indentation",
        "anchors",
        "octal-values",
        "truthy",
        "quoted-strings",
        "key-ordering",
        "float-values",
        "trailing-spaces",
        "empty-values",
        "new-lines",
    ],
)

MAPPING_SECTIONS = ("classes", "purposes", "roles", "users")
SEQUENCE_SECTIONS = ("grants", "separation_of_duties")
INT_KEYS = ("version", "max", "max_records")
# PyYAML reads a date here as a date, fast_yaml as its text: the parser reads both
# alike, and text it cannot read is a problem, which sends the policy to the reference reader.
DATE_KEYS = ("valid_from", "valid_until")

_DOCUMENT_MARKER = re.compile(r"^(?:---|\.\.\.)(?:\s|$)", re.MULTILINE)
_TAG = re.compile(r"(?:^|[\s\[{,:-])!")
_KEY = re.compile(r"([\w.-]+)[ \t]*:(?:[ \t]|$)")
_INT_VALUE = re.compile(
    r"(?:^[ \t]*(?:-[ \t]+)?|[{,][ \t]*)['\"]?(?:version|max|max_records)['\"]?[ \t]*:[ \t]*"
    r"([^\s,}\]#]+)",
    re.MULTILINE,
)
_PLAIN_DECIMAL = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")
_ODD_BREAKS = ("\x85", "\u2028", "\u2029")
_RISKY_FIRST = frozenset(yaml.resolver.Resolver.yaml_implicit_resolvers) - {""}
_RESOLVER = yaml.resolver.Resolver()
# A plain `*`, `&` or `!` is YAML syntax, so a string holding one was quoted: a string.
_STRING_TAGS = ("tag:yaml.org,2002:str", "tag:yaml.org,2002:yaml")


def fast_source(text: str, file: str) -> Source | None:
    """Read one policy file on the fast path, or None when only the reference reader may."""
    if not _plain_text(text):
        return None
    try:
        data = fast_yaml.safe_load(text)
        duplicates = _lint.lint(text, _DUPLICATES_ONLY)
    except Exception:  # any parser complaint: the reference reader reports it
        return None
    if not isinstance(data, dict) or duplicates or not _same_scalars(data, text):
        return None
    source = Source(file, data)
    if not _locate(text, source):
        return None
    return source


def _plain_text(text: str) -> bool:
    """True when lines are counted the same way by every reader and there is one document."""
    if any(ch in text for ch in _ODD_BREAKS) or text.count("\r") != text.count("\r\n"):
        return False
    # The substring tests are a memchr each; the regular expressions walk the text.
    if "<<" in text or ("!" in text and _TAG.search(text) is not None):
        return False
    markers = "---" in text or "..." in text
    return not markers or _DOCUMENT_MARKER.search(text) is None


def _same_scalars(data: dict[str, Any], text: str) -> bool:
    """True when PyYAML (YAML 1.1) would read every scalar of `data` the same way."""
    seen: set[str] = set()
    ints = 0
    stack: list[Any] = [data]
    while stack:
        node = stack.pop()
        pairs: Any = node.items() if isinstance(node, dict) else ((None, v) for v in node)
        for key, value in pairs:
            if key is not None and (not isinstance(key, str) or not _same_string(key, seen)):
                return False
            if isinstance(value, dict | list):
                stack.append(value)
            elif isinstance(value, str):
                if key not in DATE_KEYS and not _same_string(value, seen):
                    return False
            elif isinstance(value, bool) or value is None:
                continue
            elif isinstance(value, int) and key in INT_KEYS:
                ints += 1
            else:
                return False
    if ints == 0:
        return True
    tokens = _INT_VALUE.findall(text)
    plain = [t for t in tokens if _PLAIN_DECIMAL.fullmatch(t)]
    return len(plain) == len(tokens) and len(plain) >= ints


def _same_string(value: str, seen: set[str]) -> bool:
    """True when PyYAML reads this string as a string too (each distinct value checked once)."""
    if not value or value[0] not in _RISKY_FIRST or value in seen:
        return True
    seen.add(value)
    return _plain_string(value)


def _plain_string(value: str) -> bool:
    """True when PyYAML resolves this plain scalar to a string."""
    tag = _RESOLVER.resolve(yaml.ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]
    return tag in _STRING_TAGS


def _locate(text: str, source: Source) -> bool:
    """Record section and entity locations in `source`; False when the scan cannot vouch."""
    file, data = source.file, source.data
    top: list[str] = []
    found: dict[str, list[tuple[str, Location]]] = {}
    section = ""
    indent = -1
    for number, line in enumerate(text.replace("\r\n", "\n").split("\n"), 1):
        body = line.lstrip(" ")
        if not body or body[0] == "#" or body.isspace():
            continue
        column = len(line) - len(body)
        if column == 0 and body[0] != "-":
            match = _KEY.match(body)
            if match is None:
                return False
            section = match.group(1)
            top.append(section)
            here = Location(file, number, 1)
            source.keys[(section,)] = here
            source.values[(section,)] = here
            found[section] = []
            indent = -1
            continue
        if section not in MAPPING_SECTIONS and section not in SEQUENCE_SECTIONS:
            if not section:
                return False
            continue
        if indent < 0:
            indent = column
        if column > indent:
            continue
        if column < indent:
            return False
        entry = _entry(body, section, column)
        if entry is None:
            return False
        found[section].append((entry[0], Location(file, number, entry[1])))
    if top != list(data):
        return False
    return all(_record(source, name, found[name]) for name in top)


def _entry(body: str, section: str, column: int) -> tuple[str, int] | None:
    """The key (or "") and 1-based column of an entity line, or None if it is not one."""
    if section in SEQUENCE_SECTIONS:
        if not body.startswith("- "):
            return None
        rest = body[2:]
        content = rest.lstrip(" ")
        if not content or content[0] in "#-":
            return None
        return "", column + 3 + len(rest) - len(content)
    match = _KEY.match(body)
    return None if match is None else (match.group(1), column + 1)


def _record(source: Source, name: str, entries: list[tuple[str, Location]]) -> bool:
    """File one section's entity locations after checking them against the parsed data."""
    value = source.data[name]
    if name in SEQUENCE_SECTIONS:
        if not isinstance(value, list) or len(value) != len(entries):
            return not entries and value is None
        for index, (_, where) in enumerate(entries):
            source.values[(name, index)] = where
        return True
    if name in MAPPING_SECTIONS:
        if not isinstance(value, dict) or list(value) != [key for key, _ in entries]:
            return not entries and value is None
        for key, where in entries:
            path: PathKey = (name, key)
            source.keys[path] = where
            source.values[path] = where
    return True
