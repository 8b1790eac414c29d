"""The errors pdp raises, each with a stable code.

The tree::

    PdpError                      base of every error pdp raises on purpose
    ├── PolicyError               a policy could not be loaded; `.problems` lists every problem
    ├── RequestError              a request was malformed (raised by edges, never by `decide`)
    └── StorageError              the decision log or a store failed
        └── LogIntegrityError     the decision log's hash chain does not verify

`DecisionPoint.decide` never raises for a request: unknown ids, bad context and
internal errors all become a deny with a reason. Errors carry `Problem`
values: a stable code, a one-line lower-case message with user input in
backticks, a location, the offending id and a hint.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pdp.core.fastpickle import by_fields

Severity = Literal["error", "warning"]


@by_fields
@dataclass(frozen=True, slots=True, order=True)
class Location:
    """Where a problem or a policy element stands: file, 1-based line and column."""

    file: str = ""
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if not self.file:
            return "<policy>"
        if not self.line:
            return self.file
        if not self.column:
            return f"{self.file}:{self.line}"
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem found in a policy: a stable code, a message, where, what and how to fix it."""

    code: str
    message: str
    location: Location = field(default_factory=Location)
    id: str = ""
    hint: str = ""
    severity: Severity = "error"

    def __str__(self) -> str:
        text = f"{self.location}: {self.severity}[{self.code}]: {self.message}"
        if self.hint:
            text += f" (hint: {self.hint})"
        return text

    def to_dict(self) -> dict[str, object]:
        """Return the problem as a JSON-ready mapping."""
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "file": self.location.file,
            "line": self.location.line,
            "column": self.location.column,
            "id": self.id,
            "hint": self.hint,
        }


def sort_problems(problems: list[Problem]) -> list[Problem]:
    """Sort problems by location, then code, the order they are reported in."""
    return sorted(problems, key=lambda p: (p.location, p.code, p.id, p.message))


class PdpError(Exception):
    """Base class of every error pdp raises on purpose."""

    code = "pdp_error"


class PolicyError(PdpError):
    """A policy could not be loaded or compiled; `problems` lists every problem found."""

    code = "policy_invalid"

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sort_problems(problems)
        errors = [p for p in self.problems if p.severity == "error"]
        first = str(errors[0]) if errors else "invalid policy"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(first + more)


class RequestError(PdpError):
    """A request was malformed; raised at the edges (HTTP, CLI), never by `decide`."""

    code = "request_invalid"

    def __init__(self, message: str, field_name: str = "") -> None:
        self.field = field_name
        super().__init__(message)


class StorageError(PdpError):
    """The decision log or another store failed."""

    code = "storage_failed"


class LogIntegrityError(StorageError):
    """The decision log's hash chain does not verify: a record was edited, deleted or moved."""

    code = "log_tampered"
