"""The errors pdp raises, each with a stable code, and what each means at the edges.

Every exception pdp raises on purpose is one of these kinds; each is defined
here and imported where it is raised. The tree::

    PdpError                    base of every error pdp raises on purpose
    ├── PolicyError             a policy could not be loaded; `.problems` lists every problem
    ├── InputError              an input other than the policy is unusable
    │   ├── RequestError        a decision request is malformed (edges only, never `decide`)
    │   ├── ConfigError         the service configuration is unreadable or invalid
    │   ├── RevisionError       a source is neither a policy path nor a readable git revision
    │   ├── CiInputError        an input of `pdp ci` is unusable (not the policy: the check step)
    │   ├── RegisterError       a risk register of accepted findings is unusable
    │   ├── TestFileError       a policy test file is unreadable or not shaped like one
    │   ├── UsageError          a usage source cannot be read, or a usage window is bad
    │   ├── RelationError       a user-permission file cannot be read (with the line at fault)
    │   ├── BundleError         a policy bundle is unreadable, altered or wrongly signed
    │   ├── StoreRefusedError   the policy store refuses a change (self-approval, no such version)
    │   └── LogInputError       an input about the decision log is malformed (a time, a head)
    ├── StorageError            the decision log or a store failed (unreachable, unreadable)
    │   └── LogRecordError      a decision-log record is malformed or cannot be encoded
    ├── PdpClientError          the decision service could not answer (treat it as a deny)
    └── InternalError           pdp's own invariants do not hold: a bug, never a finding
        ├── ReviewInconsistencyError  the review's sets disagree with the decision index
        └── CoverError          mined roles do not reproduce the user-permission relation

`OUTCOMES` is the one table from a kind to its CLI exit code and HTTP status;
`outcome_of` finds an error's entry through its class hierarchy. The exit codes
are those of every `pdp` command: 0 ok, 1 the check failed (findings, a deny,
new access, a tampered log), 2 unusable input or usage. A tampered decision log
is a finding of `pdp log verify`, not an error.

`DecisionPoint.decide` never raises for a request: unknown ids, bad context and
internal errors all become a deny with a reason. Errors carry `Problem`
values: a stable code, a one-line lower-case message with user input in
backticks, a location, the offending id and a hint. What a problem quotes from
a policy is bounded (`excerpt`), so a stray file never lands in messages whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

Severity = Literal["error", "warning"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_UNUSABLE = 2

EXCERPT_CHARS = 80
MESSAGE_CHARS = 400
_QUOTED = re.compile(r"`([^`]*)`")
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """Quoted input made safe to print: control characters escaped, at most `limit` characters."""
    safe = _UNPRINTABLE.sub(lambda m: repr(m.group())[1:-1], text)
    return safe if len(safe) <= limit else safe[: limit - 1] + "…"


def _bounded(message: str) -> str:
    """A message whose backticked excerpts, and the whole, have bounded lengths."""
    quoted = _QUOTED.sub(lambda m: f"`{excerpt(m.group(1))}`", message)
    return excerpt(quoted, MESSAGE_CHARS)


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

    def __post_init__(self) -> None:
        object.__setattr__(self, "message", _bounded(self.message))
        object.__setattr__(self, "id", excerpt(self.id))
        object.__setattr__(self, "hint", _bounded(self.hint))

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


class InputError(PdpError):
    """An input other than the policy is unusable: a file, an option, a revision, a request."""

    code = "input_invalid"


class RequestError(InputError):
    """A decision request is malformed; raised at the edges (HTTP, CLI), never by `decide`."""

    code = "request_invalid"

    def __init__(self, message: str = "", field_name: str = "") -> None:
        self.field = field_name
        super().__init__(message)


class ConfigError(InputError):
    """The service configuration file is unreadable or invalid."""

    code = "config_invalid"


class RevisionError(InputError):
    """A source is neither a policy path nor a readable git revision."""

    code = "revision_invalid"


class CiInputError(InputError):
    """An input of `pdp ci` is unusable (not a policy problem: those fail the check step)."""

    code = "ci_input_invalid"


class RegisterError(InputError):
    """A risk register of accepted findings is unusable: unreadable, or an entry is invalid."""

    code = "register_invalid"


class TestFileError(InputError):
    """A test file cannot be read or does not have the shape of a test file."""

    __test__ = False  # not a pytest test class
    code = "test_file_invalid"


class UsageError(InputError):
    """A usage source that cannot be read, or a bad window."""

    code = "usage_invalid"


class RelationError(InputError):
    """A user-permission file that cannot be read, with the line at fault."""

    code = "relation_invalid"

    def __init__(self, message: str, location: Location | None = None) -> None:
        where = f"{location.file}:{location.line}: " if location else ""
        super().__init__(f"{where}{message}")
        self.location = location


class BundleError(InputError):
    """A policy bundle is unreadable, altered, unsigned where a signature is required, or forged."""

    code = "bundle_invalid"


class StoreRefusedError(InputError):
    """The policy store refuses a change: self-approval, no such version, not a proposal."""

    code = "store_refused"


class LogInputError(InputError):
    """An input about the decision log is malformed: a time, a span or an expected head."""

    code = "log_input_invalid"


class StorageError(PdpError):
    """The decision log or another store failed: unreachable, unreadable or not a pdp store."""

    code = "storage_failed"


class LogRecordError(StorageError):
    """A decision-log record is malformed (a field missing, not JSON) or cannot be encoded."""

    code = "log_record_invalid"


class PdpClientError(PdpError):
    """The decision service could not answer: unreachable, refused or failed (treat as deny)."""

    code = "client_error"

    def __init__(self, message: str, status: int | None = None, error_code: str = "") -> None:
        self.status = status
        self.error_code = error_code
        super().__init__(message)


class InternalError(PdpError):
    """pdp's own invariants do not hold: a bug to report, never a finding."""

    code = "internal_error"


class ReviewInconsistencyError(InternalError):
    """The review's sets disagree with the core's decision index: a bug, never a finding."""

    code = "review_inconsistent"


class CoverError(InternalError):
    """Mined roles that do not reproduce the user-permission relation (a bug, never hidden)."""

    code = "cover_invalid"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an error kind means at the edges: the CLI's exit code and the service's status."""

    exit_code: int
    http_status: int


OUTCOMES: dict[type[PdpError], Outcome] = {
    PdpError: Outcome(EXIT_UNUSABLE, 500),
    PolicyError: Outcome(EXIT_UNUSABLE, 422),
    InputError: Outcome(EXIT_UNUSABLE, 422),
    RequestError: Outcome(EXIT_UNUSABLE, 422),
    ConfigError: Outcome(EXIT_UNUSABLE, 500),
    StorageError: Outcome(EXIT_UNUSABLE, 503),
    PdpClientError: Outcome(EXIT_UNUSABLE, 503),
    InternalError: Outcome(EXIT_UNUSABLE, 500),
}
"""Error kind -> exit code and HTTP status; a kind not listed takes its nearest base's entry."""


def outcome_of(error: BaseException) -> Outcome:
    """The exit code and HTTP status of an error (anything not a `PdpError` is internal)."""
    for kind in type(error).__mro__:
        found = OUTCOMES.get(kind)
        if found is not None:
            return found
    return OUTCOMES[InternalError]
