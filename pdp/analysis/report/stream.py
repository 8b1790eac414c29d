"""Writing a JSON document whose one long list is streamed: the JSON and SARIF reports.

A bank's review has about a million findings: building the whole document
(and its text) at once takes gigabytes. `write_json` writes the document
indented (two spaces) but its long list one item a line, compact, each item
written as soon as it is made:

    {
      "summary": {...},
      "findings": [
        {"kind":"toxic_combination","rule_id":"TOX-1",...},
        {"kind":"outside_duties",...}
      ]
    }

One finding a line also makes two reports easy to diff.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from pdp.analysis.finding import Pending
    from pdp.analysis.report.triage import Report

PLACEHOLDER = "\x00pdp-stream\x00"
INDENT = 2
BATCH = 1 << 20


def write_json(document: Any, items: Iterable[bytes], out: TextIO) -> None:
    """Write `document` as indented JSON, its one `PLACEHOLDER` value replaced by `items`.

    Everything but the items is the document indented by two spaces
    (`wire.indented`); each item, already encoded JSON (compact, one line,
    UTF-8), is written on its own line; a final newline. Items are written
    a batch of about `BATCH` bytes at a time: to the binary stream below
    `out` when it has one and encodes as UTF-8 (a file, standard output),
    as they are, and as text otherwise.
    """
    from pdp.analysis.report.wire import encode_text, indented

    text = indented(document)
    marker = encode_text(PLACEHOLDER)
    head, found, tail = text.partition(marker)
    if not found:
        raise ValueError("the document has no placeholder to stream into")
    depth = _line_indent(head)
    inner = ("\n" + " " * (depth + INDENT)).encode()
    between = b"," + inner
    out.write(head)
    write = _bytes_writer(out)
    opening = b"[" + inner
    for batch in _batches(items):
        write(opening + between.join(batch))
        opening = between
    out.write("[]" if opening.startswith(b"[") else "\n" + " " * depth + "]")
    out.write(tail + "\n")


def _bytes_writer(out: TextIO) -> Callable[[bytes], object]:
    """A function writing UTF-8 bytes to a text stream: to its binary buffer when it has
    one and encodes as UTF-8 (after what the text layer holds), else decoded."""
    binary = getattr(out, "buffer", None)
    encoding = getattr(out, "encoding", None)
    if binary is None or encoding is None or codecs.lookup(encoding).name != "utf-8":
        return lambda data: out.write(data.decode())

    def write(data: bytes) -> object:
        out.flush()
        return binary.write(data)

    return write


def _batches(items: Iterable[bytes]) -> Iterator[list[bytes]]:
    """The items in lists of about `BATCH` bytes (one item alone when it is larger)."""
    batch: list[bytes] = []
    size = 0
    for item in items:
        batch.append(item)
        size += len(item)
        if size >= BATCH:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _line_indent(head: str) -> int:
    """The indentation of the line the placeholder is on (its key's)."""
    line = head[head.rfind("\n") + 1 :]
    return len(line) - len(line.lstrip(" "))


def write_json_report(report: Report, out: TextIO, items: Iterable[bytes] | None = None) -> None:
    """The JSON report: the review's summary, the overview, the register, then every finding.

    The findings are `finding_items(report)`, or `items` when given (the
    same, made by several processes: `pdp.cli.report_jobs`), one a line;
    `items` is closed (when it can be) once written, or when writing fails.
    """
    try:
        document = report.review.to_dict(findings=False)
        document["overview"] = report.overview
        document["register"] = report.verdict.to_dict()
        document["findings"] = PLACEHOLDER
        write_json(document, finding_items(report) if items is None else items, out)
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()


def finding_items(report: Report) -> Iterator[bytes]:
    """The selected findings, encoded: the JSON report's items, in order."""
    return map(finding_encoder(report, report.findings.entries), report.entries())


def finding_encoder(report: Report, entries: Iterable[Pending]) -> Callable[[Pending], bytes]:
    """A function encoding a finding of the report as an item of its `findings`, for these
    of its entries (what they share is assembled first: `chunks.Chunks.prepare`).

    Each is `wire.finding_document`, encoded by `wire.encode` (through
    `chunks.Chunks`, which assembles the many toxic findings from shared
    fragments), with its acceptance by the register.
    """
    from pdp.analysis.report.chunks import Chunks

    verdict = report.verdict
    chunks = Chunks()
    chunks.prepare(entries)
    encode = chunks.encode
    if not verdict.waives:
        return encode
    return lambda entry: encode(entry, verdict.acceptance_of(entry))
