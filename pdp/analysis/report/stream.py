"""Writing a JSON document whose one long list is streamed: the JSON and SARIF reports.

A bank's review has about a million findings: building the whole document
(and its text) at once takes gigabytes, and Python's indenting encoder is
pure Python. `write_json` writes the document indented (`indent=2`) but its
long list one item a line, compact (the C encoder), each item written as soon
as it is made:

    {
      "summary": {...},
      "findings": [
        {"kind": "toxic_combination", "rule_id": "TOX-1", ...},
        {"kind": "outside_duties", ...}
      ]
    }

One finding a line also makes two reports easy to diff.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from pdp.analysis.register import Verdict
    from pdp.analysis.review import Review

PLACEHOLDER = "\x00pdp-stream\x00"
INDENT = 2


def write_json(document: Any, items: Iterable[str], out: TextIO) -> None:
    """Write `document` as indented JSON, its one `PLACEHOLDER` value replaced by `items`.

    Everything but the items is `json.dumps(document, indent=2,
    ensure_ascii=False)`'s text; each item, already JSON text (compact, one
    line), is written on its own line; a final newline.
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
        out.write(item)
        first = False
    out.write("[]" if first else "\n" + " " * depth + "]")
    out.write(tail + "\n")


def _line_indent(head: str) -> int:
    """The indentation of the line the placeholder is on (its key's)."""
    line = head[head.rfind("\n") + 1 :]
    return len(line) - len(line.lstrip(" "))


def write_json_report(review: Review, verdict: Verdict, out: TextIO) -> None:
    """The JSON report: `Review.to_dict()`, the register's verdict, each finding's acceptance."""
    document = review.to_dict(findings=False)
    document["register"] = verdict.to_dict()
    document["findings"] = PLACEHOLDER
    write_json(document, _finding_texts(review, verdict), out)


def _finding_texts(review: Review, verdict: Verdict) -> Iterator[str]:
    from pdp.analysis.finding import ENCODER

    for entry in review.findings.entries:
        text = entry.build().to_json()
        acceptance = verdict.acceptance_of(entry)
        accepted = "null" if acceptance is None else ENCODER.encode(acceptance.to_dict())
        yield f'{text[:-1]}, "accepted": {accepted}}}'
