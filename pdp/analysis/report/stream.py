"""Writing a JSON document whose one long list is streamed: the JSON and SARIF reports.

A bank's review has about a million findings: building the whole document
(and its text) at once takes gigabytes. `write_json` writes the document with
`json.dumps(..., indent=2, ensure_ascii=False)`'s exact text, but takes the
long list as an iterator and writes its items one at a time.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, TextIO

PLACEHOLDER = "\x00pdp-stream\x00"
INDENT = 2


def write_json(document: Any, items: Iterable[Any], out: TextIO) -> None:
    """Write `document` as indented JSON, its one `PLACEHOLDER` value replaced by `items`.

    The text is what `json.dumps(document, indent=2, ensure_ascii=False)`
    writes with the list in place of the placeholder, plus a final newline.
    """
    text = json.dumps(document, indent=INDENT, ensure_ascii=False)
    marker = json.dumps(PLACEHOLDER, ensure_ascii=False)
    head, found, tail = text.partition(marker)
    if not found:
        raise ValueError("the document has no placeholder to stream into")
    depth = _line_indent(head)
    inner = "\n" + " " * (depth + INDENT)
    out.write(head)
    first = True
    for item in items:
        out.write("[" + inner if first else "," + inner)
        out.write(json.dumps(item, indent=INDENT, ensure_ascii=False).replace("\n", inner))
        first = False
    out.write("[]" if first else "\n" + " " * depth + "]")
    out.write(tail + "\n")


def _line_indent(head: str) -> int:
    """The indentation of the line the placeholder is on (its key's)."""
    line = head[head.rfind("\n") + 1 :]
    return len(line) - len(line.lstrip(" "))
