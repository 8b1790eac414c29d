"""Policy unit tests (`pdp test`): expected decisions and expected findings, written in YAML.

A test file holds `tests:` (or `cases:`), a list of cases. A decision case::

    - name: teller collects an ID number at account opening
      request: {role: teller, info_class: identity.id_number,
                purpose: account_opening, action: collect, context: {consent: [...]}}
      expect: {allowed: true, reasons: [G-TELLER-ACCOUNT-OPENING], obligations: [log:enhanced]}

`reasons` and `obligations`, when given, must match exactly (both are sorted
by the decision point). A findings case::

    - name: the credit SoD is enforced on u1021
      findings:
        present: [{kind: sod_violation, subject: {user: u1021}, rule_id: SOD-CREDIT}]
        absent:  [{kind: toxic_combination, subject: {role: teller}}]

An expected finding matches a finding of the privilege review when every key
it gives (kind, subject, rule_id, severity, level) is equal; `absent` fails
when any finding matches. A case may hold both `request` and `findings`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pdp.analysis.review import Review
from pdp.core.compile import CompiledPolicy
from pdp.core.decision import Decision, request_from
from pdp.core.explain import Explanation, explain, requirements_text
from pdp.errors import TestFileError
from pdp.policyci.diff import review_function

TEST_SUFFIXES = (".yaml", ".yml")
FINDING_KEYS = ("kind", "subject", "rule_id", "severity", "level")


@dataclass(frozen=True)
class CaseResult:
    """The outcome of one test case: passed or not, and why not."""

    file: str
    name: str
    passed: bool
    failures: tuple[str, ...] = ()
    seconds: float = 0.0


@dataclass
class TestRun:
    """The outcome of every case of every test file against one policy."""

    policy_version: str
    results: list[CaseResult] = field(default_factory=list)

    @property
    def failed(self) -> list[CaseResult]:
        """The cases that did not pass."""
        return [r for r in self.results if not r.passed]

    @property
    def passed(self) -> bool:
        """True when every case passed."""
        return not self.failed

    def to_dict(self) -> dict[str, Any]:
        """The run as plain data."""
        return {
            "policy_version": self.policy_version,
            "passed": len(self.results) - len(self.failed),
            "failed": len(self.failed),
            "results": [
                {
                    "file": r.file,
                    "name": r.name,
                    "passed": r.passed,
                    "failures": list(r.failures),
                }
                for r in self.results
            ],
        }


def test_files(path: Path) -> list[Path]:
    """The test files under a path: the file itself, or every YAML file below a directory
    that has a top-level `tests:` or `cases:` (other YAML files, such as an accepted-findings
    file, are left alone)."""
    if not path.is_dir():
        return [path]
    found = []
    for file in sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in TEST_SUFFIXES):
        try:
            data = yaml.safe_load(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            found.append(file)  # read_cases reports it
            continue
        if isinstance(data, Mapping) and ("tests" in data or "cases" in data):
            found.append(file)
    return found


def read_cases(path: Path) -> list[Mapping[str, Any]]:
    """The cases of one test file; raise `TestFileError` naming the file when malformed."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise TestFileError(f"cannot read `{path}`: {first}") from None
    cases = data.get("tests", data.get("cases")) if isinstance(data, Mapping) else None
    if not isinstance(cases, list) or not all(isinstance(c, Mapping) for c in cases):
        raise TestFileError(f"`{path}` has no `tests:` list of cases")
    for number, case in enumerate(cases, 1):
        if "request" not in case and "findings" not in case:
            raise TestFileError(f"`{path}` case {number} has neither `request` nor `findings`")
    return cases


def _describe(decision: Decision) -> str:
    verdict = "allow" if decision.allowed else "deny"
    text = f"{verdict} (reasons: {', '.join(decision.reasons) or '-'}"
    return text + f"; obligations: {', '.join(decision.obligations) or '-'})"


def _explanation(found: Explanation) -> str:
    parts = []
    for label, matches in (("matched allow", found.allows), ("denied by", found.denies)):
        for m in matches:
            parts.append(
                f"{label} {m.grant_id} via {' > '.join(m.path)} on {m.matched_class}"
                f" for {m.matched_purpose} ({m.location}){requirements_text(m.to_dict())}"
            )
    if found.consent_needed:
        parts.append("the purpose needs consent")
    return "; ".join(parts) or "no grant reaches this request"


def check_decision(compiled: CompiledPolicy, case: Mapping[str, Any]) -> list[str]:
    """The failures of one case's expected decision (empty when it holds)."""
    raw = case["request"]
    expect = case.get("expect")
    if not isinstance(raw, Mapping) or not isinstance(expect, Mapping) or "allowed" not in expect:
        return ["a decision case needs a `request` mapping and an `expect` with `allowed`"]
    request = request_from(
        raw.get("role"),
        raw.get("user"),
        raw.get("info_class"),
        raw.get("purpose"),
        raw.get("action"),
        raw.get("context"),
    )
    found = None if isinstance(request, str) else explain(compiled, request)
    decision = (
        found.decision
        if found is not None
        else Decision(False, (str(request),), (), compiled.version)
    )
    wrong = []
    if bool(expect["allowed"]) != decision.allowed:
        wrong.append("allowed")
    for name in ("reasons", "obligations"):
        if name in expect and list(expect[name] or []) != list(getattr(decision, name)):
            wrong.append(name)
    if not wrong:
        return []
    wanted = "allow" if expect["allowed"] else "deny"
    extras = "; ".join(
        f"{n}: {', '.join(map(str, expect[n] or [])) or '-'}"
        for n in ("reasons", "obligations")
        if n in expect
    )
    return [
        f"expected {wanted}" + (f" ({extras})" if extras else ""),
        f"got {_describe(decision)}; differs in {', '.join(wrong)}",
        "explanation: "
        + (_explanation(found) if found is not None else "the request itself is malformed"),
    ]


def _subject_of(value: Any) -> dict[str, str] | None:
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    if isinstance(value, str) and ":" in value:
        kind, _, ident = value.partition(":")
        return {kind: ident}
    return None


def finding_matches(finding: Any, expected: Mapping[str, Any]) -> bool:
    """True when a review finding has every field an expected finding gives."""
    for key in FINDING_KEYS:
        if key not in expected:
            continue
        if key == "subject":
            if _subject_of(expected[key]) != dict(finding.subject):
                return False
        elif getattr(finding, key) != expected[key]:
            return False
    return True


def _short(expected: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={expected[k]}" for k in FINDING_KEYS if k in expected)


def check_findings(findings: list[Any], spec: Any) -> list[str]:
    """The failures of one case's expected findings (empty when they hold)."""
    if not isinstance(spec, Mapping):
        return ["`findings` must be a mapping with `present` and/or `absent`"]
    failures = []
    for expected in spec.get("present") or []:
        if not any(finding_matches(f, expected) for f in findings):
            near = [f for f in findings if f.kind == expected.get("kind")]
            failures.append(
                f"expected a finding {_short(expected)}; none came"
                + (f" (findings of that kind: {len(near)})" if near else "")
            )
    for expected in spec.get("absent") or []:
        for f in findings:
            if finding_matches(f, expected):
                failures.append(
                    f"expected no finding {_short(expected)}; got {f.kind} "
                    f"{f.rule_id or ''} on {dict(f.subject)}: {f.message}"
                )
    return failures


Reviewer = Callable[[CompiledPolicy], Review]


class _Findings:
    """The review's findings, computed once and only when a case asks for them."""

    def __init__(self, compiled: CompiledPolicy, review: Reviewer | None = None) -> None:
        self.compiled = compiled
        self.review = review
        self.cached: list[Any] | None = None

    def get(self) -> list[Any]:
        if self.cached is None:
            review = self.review or review_function()
            self.cached = list(review(self.compiled).findings)
        return self.cached


def run_case(
    compiled: CompiledPolicy, findings: _Findings, file: str, number: int, case: Mapping[str, Any]
) -> CaseResult:
    """Run one case."""
    started = time.perf_counter()
    name = str(case.get("name") or f"case {number}")
    failures: list[str] = []
    if "request" in case:
        failures += check_decision(compiled, case)
    if "findings" in case:
        failures += check_findings(findings.get(), case["findings"])
    return CaseResult(file, name, not failures, tuple(failures), time.perf_counter() - started)


def iter_results(
    compiled: CompiledPolicy, files: list[Path], review: Reviewer | None = None
) -> Iterator[CaseResult]:
    """Every case result of the test files, in file and case order."""
    findings = _Findings(compiled, review)
    for file in files:
        for number, case in enumerate(read_cases(file), 1):
            yield run_case(compiled, findings, str(file), number, case)


def run_tests(compiled: CompiledPolicy, path: Path, review: Reviewer | None = None) -> TestRun:
    """Run every test file under `path` against a policy; raise `TestFileError` on bad files.

    `review` reviews the policy when a case expects findings (default: the
    privilege review); `pdp ci` passes the one its review gate shares.
    """
    files = test_files(path)
    if not files:
        raise TestFileError(f"no test files under `{path}`")
    for file in files:
        read_cases(file)  # report a malformed file before running anything
    return TestRun(compiled.version, list(iter_results(compiled, files, review)))


def render_report(run: TestRun) -> str:
    """A readable report: every failure with what was expected, what came and why."""
    lines = []
    for r in run.failed:
        lines.append(f"FAIL {r.file}: {r.name}")
        lines += [f"    {f}" for f in r.failures]
    total = len(run.results)
    lines.append(
        f"{total - len(run.failed)}/{total} policy test(s) passed on {run.policy_version}"
        + (f", {len(run.failed)} failed" if run.failed else "")
    )
    return "\n".join(lines)
