"""The layout normal form of a policy file, line by line: order and comments kept.

Only layout changes; the author's order of sections, entries and keys stays,
and every comment stays on the line, or above the item, it was written on:

- indentation: two spaces a level, a sequence's `- ` two spaces in from its
  key; a full-line comment takes the indentation of the line below it;
- spacing: one space after `key:` and `-`, none inside brackets, `, ` between
  flow items, no trailing space, at most one blank line in a row, none at the
  start, one newline at the end;
- quoting: double quotes wherever quotes stay; a quoted word that needs none
  (an id such as `"teller"`) loses them;
- flow style: a block list of plain ids becomes a flow list `[a, b]`, and a
  flow collection split over lines is joined into one.

Block scalars (`|`, `>`), multi-line scalars, anchors, tags and anything else
this cannot read line by line are kept as written (indented along with their
parent). It reads each line once, so a 30,000-grant policy takes about a
second; the caller checks that the result loads to the same data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import yaml

INDENT = 2
WIDTH = 100
WORD = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:/*+-]*")
KEY = re.compile(
    r"""("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'"""  # a quoted key
    r"""|[^\s#'"\[\]{},&*!|>%@`-][^#]*?|-[^\s#][^#]*?)"""  # a plain one
    r""":(?:\s+|$)"""
)
SEQ_ITEM = re.compile(r"-(?:\s+|$)")
PLAIN_ID = r"[A-Za-z0-9_][A-Za-z0-9_.:/*+-]*"
SIMPLE_FLOW = re.compile(rf"\[(?:{PLAIN_ID}(?:, {PLAIN_ID})*)?\]$")
"""A flow list of plain ids already in normal form, at the end of a line."""
VERBATIM_START = ("&", "*", "!", "|", ">", "%", "@", "`")


@dataclass
class _Frame:
    """An open block: where its lines start as written, and where they start normalised."""

    author: int
    norm: int
    kind: str  # "map" or "seq"


def split_comment(line: str) -> tuple[str, str]:
    """A line's code and its trailing comment (`# ...`, or ""), quotes respected."""
    if "#" not in line:
        return line.rstrip(), ""
    quote = ""
    i = 0
    while i < len(line):
        ch = line[i]
        if quote == '"':
            if ch == "\\":
                i += 1
            elif ch == '"':
                quote = ""
        elif quote == "'":
            if ch == "'":
                quote = ""
        elif ch in "\"'" and (i == 0 or line[i - 1] in " \t[{,:-"):
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i].rstrip(), line[i:]
        i += 1
    return line.rstrip(), ""


def _open_depth(code: str) -> tuple[int, bool]:
    """How many brackets a line's code leaves open, and whether it ends inside quotes."""
    if SIMPLE_FLOW.search(code) or not any(c in code for c in "[{\"'"):
        return 0, False
    depth = 0
    quote = ""
    i = 0
    while i < len(code):
        ch = code[i]
        if quote == '"':
            if ch == "\\":
                i += 1
            elif ch == '"':
                quote = ""
        elif quote == "'":
            if ch == "'":
                quote = ""
        elif ch in "\"'" and (i == 0 or code[i - 1] in " \t[{,:-"):
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        i += 1
    return depth, bool(quote)


@lru_cache(maxsize=65_536)
def scalar(raw: str) -> str:
    """The normal spelling of one scalar: double quotes where quotes stay, none on a plain word."""
    if raw.startswith("'") and raw.endswith("'") and len(raw) >= 2:
        value = raw[1:-1].replace("''", "'")
    elif raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
        try:
            value = json.loads(raw)
        except ValueError:
            return raw  # a YAML escape JSON lacks: keep it as written
    else:
        return raw
    if WORD.fullmatch(value) and _loads_as(value) == value:
        return value
    return json.dumps(value, ensure_ascii=False)


def _loads_as(text: str) -> object:
    try:
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return None


class _Flow:
    """A recursive reader of one flow collection, re-emitted in normal form (None: cannot)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0

    def read(self) -> str | None:
        out = self._node()
        self._space()
        return out if out is not None and self.i == len(self.text) else None

    def _space(self) -> None:
        while self.i < len(self.text) and self.text[self.i] in " \t":
            self.i += 1

    def _node(self) -> str | None:
        self._space()
        if self.i >= len(self.text):
            return None
        ch = self.text[self.i]
        if ch == "[":
            return self._collection("]", self._item)
        if ch == "{":
            return self._collection("}", self._pair)
        return self._scalar(in_key=False)

    def _collection(self, close: str, item: Callable[[], str | None]) -> str | None:
        opener = self.text[self.i]
        self.i += 1
        parts: list[str] = []
        while True:
            self._space()
            if self.i < len(self.text) and self.text[self.i] == close:
                self.i += 1
                return opener + ", ".join(parts) + close
            part = item()
            if part is None:
                return None
            parts.append(part)
            self._space()
            if self.i < len(self.text) and self.text[self.i] == ",":
                self.i += 1
            elif not (self.i < len(self.text) and self.text[self.i] == close):
                return None

    def _item(self) -> str | None:
        return self._node()

    def _pair(self) -> str | None:
        self._space()
        key = self._scalar(in_key=True)
        if key is None:
            return None
        self._space()
        if self.i >= len(self.text) or self.text[self.i] != ":":
            return None
        self.i += 1
        value = self._node()
        return None if value is None else f"{key}: {value}"

    def _scalar(self, in_key: bool) -> str | None:
        text, start = self.text, self.i
        if start >= len(text):
            return None
        ch = text[start]
        if ch in "\"'":
            end = start + 1
            while end < len(text):
                if ch == '"' and text[end] == "\\":
                    end += 2
                    continue
                if text[end] == ch:
                    if ch == "'" and end + 1 < len(text) and text[end + 1] == "'":
                        end += 2
                        continue
                    break
                end += 1
            if end >= len(text):
                return None
            self.i = end + 1
            return scalar(text[start : end + 1])
        if ch in VERBATIM_START or ch in "[]{},#":
            return None
        end = start
        while end < len(text):
            c = text[end]
            if c in ",[]{}":
                break
            if c == ":" and (end + 1 == len(text) or text[end + 1] in " ,[]{}"):
                break
            if c == "#" and text[end - 1] in " \t":
                return None
            end += 1
        self.i = end
        raw = text[start:end].rstrip()
        return raw or None


def value(raw: str) -> str | None:
    """A value in normal form, or None when it must be kept as written."""
    if not raw:
        return ""
    if raw[0] in "[{":
        return raw if SIMPLE_FLOW.fullmatch(raw) else _Flow(raw).read()
    if raw[0] in VERBATIM_START:
        return None
    if raw[0] in "\"'":
        flow = _Flow(raw)
        out = flow._scalar(in_key=False)
        flow._space()
        return out if out is not None and flow.i == len(raw) else None
    return raw


def _content(code: str) -> tuple[str, str, str] | None:
    """Split stripped code into (kind, key or "", rest): kind `seq`, `map` or None if neither."""
    if SEQ_ITEM.match(code):
        return "seq", "", code[1:].strip()
    match = KEY.match(code)
    if match and not code.startswith(("? ", "[", "{")):
        return "map", match.group(1).strip(), code[match.end() :].strip()
    return None


def _format_body(key: str, rest: str) -> str | None:
    """`key: value` in normal form, or None when the line must stay as written."""
    spelled = scalar(key) if key[:1] in "\"'" else key
    if not rest:
        return f"{spelled}:"
    normal = value(rest)
    return None if normal is None else f"{spelled}: {normal}"


def _format_item(rest: str) -> str | None:
    """The content after `- ` in normal form (a scalar, a flow node or an inline `key: value`)."""
    if not rest:
        return "-"
    inner = _content(rest)
    if inner is not None and inner[0] == "map":
        body = _format_body(inner[1], inner[2])
        return None if body is None else f"- {body}"
    if inner is not None and inner[0] == "seq":
        return None  # `- - x`: kept as written
    normal = value(rest)
    return None if normal is None else f"- {normal}"


def _join_flow(lines: list[str], start: int) -> tuple[str, int] | None:
    """A flow collection opened on lines[start] joined with its continuation lines, if
    none holds a comment; and the index of the last line joined."""
    code, comment = split_comment(lines[start])
    if comment:
        return None
    depth, in_quote = _open_depth(code)
    joined = code.rstrip()
    end = start
    while depth > 0 or in_quote:
        end += 1
        if end >= len(lines):
            return None
        part, comment = split_comment(lines[end])
        if comment or not part.strip():
            return None
        more, in_quote = _open_depth(joined + " " + part.strip())
        joined = joined + " " + part.strip()
        depth = more
    if depth < 0:
        return None
    return joined, end


def _block_ids(lines: list[str], start: int, key_indent: int) -> tuple[list[str], int] | None:
    """The plain items of a block list of ids under a key line, and the last line used."""
    items: list[str] = []
    end = start
    item_indent = None
    while end + 1 < len(lines):
        line = lines[end + 1]
        stripped = line.strip()
        if not stripped:
            break
        indent = len(line) - len(line.lstrip(" "))
        if indent < key_indent or (indent == key_indent and not stripped.startswith("-")):
            break
        code, comment = split_comment(line)
        if comment or not SEQ_ITEM.match(code.strip()):
            return None
        if item_indent is None:
            item_indent = indent
        elif indent != item_indent:
            return None
        rest = code.strip()[1:].strip()
        normal = value(rest)
        if not rest or normal is None or normal[:1] in "[{" or _content(rest) is not None:
            return None
        items.append(normal)
        end += 1
    return (items, end) if items else None


def wrap(line: str) -> list[str]:
    """A line with flow collections broken after `, ` to fit WIDTH, continuations aligned
    one column right of the innermost bracket open at the break."""
    if len(line) <= WIDTH:
        return [line]
    breaks: list[tuple[int, int]] = []  # (index after ", ", continuation column)
    opened: list[int] = []
    quote = ""
    i = 0
    while i < len(line):
        ch = line[i]
        if quote == '"':
            if ch == "\\":
                i += 1
            elif ch == '"':
                quote = ""
        elif quote == "'":
            if ch == "'":
                quote = ""
        elif ch in "\"'" and line[i - 1 : i] in ("", " ", "[", "{", ","):
            quote = ch
        elif ch in "[{":
            opened.append(i)
        elif ch in "]}" and opened:
            opened.pop()
        elif ch == "," and opened and line[i + 1 : i + 2] == " ":
            breaks.append((i + 2, opened[-1] + 1))
        i += 1
    out: list[str] = []
    start, column = 0, 0
    best: tuple[int, int] | None = None
    for at, next_column in breaks:
        if column + at - start > WIDTH and best is not None:
            out.append(" " * column + line[start : best[0]].rstrip())
            start, column = best
            best = None
            if column + at - start > WIDTH:
                best = (at, next_column)
                continue
        best = (at, next_column)
    if column + len(line) - start > WIDTH and best is not None:
        out.append(" " * column + line[start : best[0]].rstrip())
        start, column = best
    out.append(" " * column + line[start:])
    return out


def _after_dash(code: str, indent: int) -> int:
    """The column where the content after a `- ` starts."""
    after = code[indent + 1 :]
    return indent + 1 + len(after) - len(after.lstrip(" "))


class _Layout:
    """One pass over the lines of a file, writing each in normal form."""

    def __init__(self, text: str) -> None:
        self.lines = text.split("\n")
        self.out: list[str] = []
        self.comments: list[tuple[int, int]] = []  # (index in out, indent as written)
        self.stack: list[_Frame] = []
        self.kept_above: int | None = None  # lines indented deeper are kept as written
        self.shift = 0  # how far the block they belong to moved

    def emit(self, indent: int, text: str) -> None:
        for index, _ in self.comments:
            self.out[index] = " " * indent + self.out[index].lstrip(" ")
        self.comments = []
        self.out.append(" " * indent + text)

    def keep(self, line: str, indent: int) -> None:
        self.emit(max(indent + self.shift, 0), line.lstrip(" "))

    def frame(self, indent: int, kind: str) -> int | None:
        """The normalised column of a `kind` line written at `indent`, or None if unsure."""
        stack = self.stack
        while stack and stack[-1].author > indent:
            stack.pop()
        if stack and stack[-1].author == indent and stack[-1].kind != kind:
            if kind == "seq":  # `key:` then `- item` at the key's own column
                stack.append(_Frame(indent, stack[-1].norm + INDENT, "seq"))
                return stack[-1].norm
            stack.pop()  # a key after such a sequence: the sequence has ended
            if not (stack and stack[-1].author == indent and stack[-1].kind == kind):
                return None
        if stack and stack[-1].author == indent:
            return stack[-1].norm
        norm = stack[-1].norm + INDENT if stack else 0
        stack.append(_Frame(indent, norm, kind))
        return norm

    def run(self) -> str:
        lines = self.lines
        i = 0
        while i < len(lines):
            i = self.line(i) + 1
        for index, indent in self.comments:  # comments after the last item stay put
            self.out[index] = " " * indent + self.out[index].lstrip(" ")
        out = self.out
        while out and out[-1] == "":
            out.pop()
        return "\n".join(out) + "\n" if out else ""

    def line(self, i: int) -> int:
        """Write line i (and any it joins); return the index of the last line used."""
        line = self.lines[i].rstrip()
        stripped = line.lstrip(" ")
        indent = len(line) - len(stripped)
        if self.kept_above is not None:
            if stripped and indent > self.kept_above:
                self.keep(line, indent)
                return i
            if stripped:
                self.kept_above = None
        if not stripped:
            if self.out and self.out[-1] != "":
                self.out.append("")
            return i
        if stripped.startswith("#"):
            self.comments.append((len(self.out), indent))
            self.out.append(stripped)
            return i
        last = i
        code, comment = split_comment(line)
        if _open_depth(code)[0] > 0:
            joined = _join_flow(self.lines, i)
            if joined is not None:
                line, last = joined
                code, comment = split_comment(line)
        parsed = _content(code.strip()) if stripped not in ("---", "...") else None
        norm = self.frame(indent, parsed[0]) if parsed is not None else None
        if parsed is None or norm is None:
            self.keep(line, indent)
            return last
        kind, key, rest = parsed
        self.shift = norm - indent
        key_column = indent
        if kind == "seq":
            body = _format_item(rest)
            inner = _content(rest) if rest else None
            if inner is not None and inner[0] == "map":
                key_column = _after_dash(code, indent)
                self.stack.append(_Frame(key_column, norm + INDENT, "map"))
                key, rest = inner[1], inner[2]
        else:
            body = _format_body(key, rest)
        if body is not None and (kind == "map" or key_column != indent) and not rest:
            ids = _block_ids(self.lines, last, key_column)
            if ids is not None:
                items, last = ids
                body += f" [{', '.join(items)}]"
        if body is None:
            body = code.strip()
        if rest and rest[0] not in "[{":
            # a block scalar, or a plain or quoted scalar continued on deeper lines
            self.kept_above = key_column if (kind == "map" or key_column != indent) else indent
            self.shift = norm - indent
        if comment:
            self.emit(norm, f"{body}  {comment}")
        else:
            first, *more = wrap(" " * norm + body)
            self.emit(norm, first.lstrip(" "))
            self.out += more
        return last


def format_layout(text: str) -> str:
    """The text of one policy file in layout normal form (order and comments kept)."""
    return _Layout(text).run()
