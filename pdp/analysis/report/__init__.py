"""Reports of a privilege review: text, JSON, Markdown, SARIF 2.1.0, CSV and HTML.

`render(review, fmt, compiled)` returns the report as text. The JSON report is
`Review.to_dict()`; its JSON Schema ships as `schema/review.schema.json`
(`schema_path()`).
"""

from __future__ import annotations

from pathlib import Path

FORMATS = ("text", "json", "markdown", "html", "sarif", "csv")


def schema_path() -> Path:
    """The JSON Schema of the JSON report."""
    return Path(__file__).parent / "schema" / "review.schema.json"
