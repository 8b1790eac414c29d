"""The policy CI pipeline (`pdp ci`): check, format, test, review gate, diff, replay.

Each step gives a status (`pass`, `fail`, `skip`, `note`), a one-line summary
and a Markdown section; together they make one exit code (0 when no step
failed, 1 otherwise), a Markdown summary for a pull-request comment and SARIF
results for code scanning. A step that cannot run because its input is
unusable (a malformed test file, an unreadable log) raises `CiInputError`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from pdp.analysis.register import Register, read_register
from pdp.analysis.report.sarif import results as review_results
from pdp.core.compile import CompiledPolicy, compile_policy
from pdp.core.load import check_policy, policy_files
from pdp.errors import CiInputError, Problem, RegisterError, RevisionError, TestFileError
from pdp.policyci.diff import PolicyDiff, diff_with_findings, review_function
from pdp.policyci.git import compile_source, is_revision
from pdp.policyci.render import render_markdown, sarif_results
from pdp.policyci.testing import render_report, run_tests

SEVERITIES = ("info", "low", "medium", "high", "critical")
ICON = {"pass": "✅", "fail": "❌", "skip": "⏭️", "note": "ℹ️"}


@dataclass
class Step:
    """The outcome of one step of the pipeline."""

    name: str
    status: str
    summary: str
    details: str = ""


@dataclass
class CiOptions:
    """What `pdp ci` runs, and what makes it fail."""

    policy: Path
    tests: Path | None = None
    base: str | None = None
    fail_on: str = "high"
    gate: str = "all"
    accept: Path | None = None
    log: str | None = None
    diff_fail_on: str = "none"
    level: str | None = None
    fail_on_flip: bool = False
    today: date | None = None  # when acceptances are judged (default: today, UTC)


@dataclass
class CiResult:
    """Every step, the SARIF results, and the exit code."""

    steps: list[Step] = field(default_factory=list)
    sarif: list[dict[str, Any]] = field(default_factory=list)
    diff: PolicyDiff | None = None

    @property
    def failed(self) -> bool:
        """True when a step failed."""
        return any(s.status == "fail" for s in self.steps)

    @property
    def exit_code(self) -> int:
        """0 when every step passed or was skipped, 1 when one failed."""
        return 1 if self.failed else 0

    def markdown(self) -> str:
        """The summary as Markdown, for a pull-request comment."""
        verdict = "❌ failed" if self.failed else "✅ passed"
        out = [f"## pdp policy CI {verdict}", "", "| step | result | summary |", "|---|---|---|"]
        out += [f"| {s.name} | {ICON[s.status]} {s.status} | {s.summary} |" for s in self.steps]
        out.append("")
        for s in self.steps:
            if s.details:
                out += [s.details.rstrip(), ""]
        return "\n".join(out)

    def text(self) -> str:
        """The summary as plain text, one line per step."""
        lines = [f"{s.status:>4}  {s.name}: {s.summary}" for s in self.steps]
        lines.append("pdp ci: " + ("failed" if self.failed else "passed"))
        return "\n".join(lines)


def _problem_result(problem: Problem) -> dict[str, Any]:
    loc = problem.location
    result: dict[str, Any] = {
        "ruleId": f"pdp/check/{problem.code}",
        "level": "error" if problem.severity == "error" else "warning",
        "message": {"text": problem.message},
        "locations": [],
    }
    if loc.file:
        region = {"startLine": max(loc.line, 1)} | (
            {"startColumn": loc.column} if loc.column else {}
        )
        result["locations"] = [
            {"physicalLocation": {"artifactLocation": {"uri": loc.file}, "region": region}}
        ]
    return result


def read_accepted(options: CiOptions) -> Register:
    """The risk register of `--accept` (empty without one); `CiInputError` when unusable."""
    if options.accept is None:
        return Register()
    try:
        return read_register(options.accept)
    except RegisterError as exc:
        raise CiInputError(str(exc)) from None


def _check_step(options: CiOptions, result: CiResult) -> CompiledPolicy | None:
    checked = check_policy(options.policy)
    result.sarif += [_problem_result(p) for p in checked.problems]
    if checked.policy is None:
        lines = "\n".join(f"- `{p}`" for p in checked.errors[:30])
        result.steps.append(
            Step(
                "check",
                "fail",
                f"{len(checked.errors)} error(s) in `{options.policy}`",
                f"### Policy check\n\n{lines}\n",
            )
        )
        return None
    compiled = compile_policy(checked.policy)
    result.steps.append(
        Step(
            "check",
            "pass",
            f"`{options.policy}` is valid (`{compiled.version}`), "
            f"{len(checked.warnings)} warning(s)",
        )
    )
    return compiled


def unformatted_files(files: list[Path]) -> list[Path]:
    """The policy files `pdp fmt` would change (unreadable ones are the check step's)."""
    from pdp.policyci.fmt import needs_format

    unformatted = []
    for file in files:
        try:
            text = file.read_text(encoding="utf-8")
            if needs_format(text):
                unformatted.append(file)
        except Exception:  # a file the check step already reported
            continue
    return unformatted


def _fmt_step(unformatted: list[Path]) -> Step:
    if unformatted:
        names = ", ".join(f"`{f.name}`" for f in unformatted)
        return Step(
            "format", "note", f"{len(unformatted)} file(s) not normalised ({names}): run `pdp fmt`"
        )
    return Step("format", "pass", "every policy file is normalised")


def _test_step(options: CiOptions, compiled: CompiledPolicy, result: CiResult, review: Any) -> None:
    tests = options.tests
    if tests is None or not tests.exists():
        result.steps.append(Step("test", "skip", "no policy tests given"))
        return
    try:
        run = run_tests(compiled, tests, review)
    except TestFileError as exc:
        raise CiInputError(str(exc)) from None
    total = len(run.results)
    if run.passed:
        result.steps.append(Step("test", "pass", f"{total}/{total} policy test(s) passed"))
        return
    report = render_report(run)
    result.steps.append(
        Step(
            "test",
            "fail",
            f"{len(run.failed)} of {total} policy test(s) failed",
            f"### Failing policy tests\n\n```\n{report}\n```\n",
        )
    )


def _base_policy(options: CiOptions, load: Loader) -> tuple[CompiledPolicy | None, str]:
    """The base revision's policy, or None and why not."""
    base = options.base
    if base is None:
        return None, "no base revision given"
    try:
        return load(base, str(options.policy)), ""
    except RevisionError:
        return None, f"the base `{base}` holds no policy at `{options.policy}`"
    except Exception as exc:  # an invalid base policy is the base's problem, not this change's
        return None, f"the policy at base `{base}` does not load: {type(exc).__name__}"


def _review_step(
    options: CiOptions,
    compiled: CompiledPolicy,
    diff: PolicyDiff | None,
    result: CiResult,
    review: Any,
    register: Register,
) -> None:
    reviewed = review(compiled).findings
    verdict = register.judge(reviewed.entries, options.today or datetime.now(UTC).date())
    findings = list(reviewed)
    result.sarif += list(review_results(reviewed.entries, verdict))
    if options.fail_on == "none":
        gated: list[Any] = []
    else:
        floor = SEVERITIES.index(options.fail_on)
        gated = [
            f
            for f in findings
            if SEVERITIES.index(f.severity) >= floor and verdict.acceptance_of(f) is None
        ]
    note = ""
    if options.gate == "new" and diff is not None:
        fresh = {f.fingerprint for f in diff.new_findings}  # the base's findings lack these
        gated = [f for f in gated if f.fingerprint in fresh]
        note = " new"
    summary = (
        f"{len(findings)} finding(s), {verdict.accepted} accepted; "
        f"{len(gated)}{note} at or above `{options.fail_on}` not accepted"
    )
    if verdict.expired or verdict.unmatched:
        summary += (
            f"; {len(verdict.expired)} expired, {len(verdict.unmatched)} unmatched acceptance(s)"
        )
    details = ""
    if verdict.expired or verdict.unmatched:
        details = "### Risk register\n\n" + "".join(f"- {w}\n" for w in verdict.warnings()) + "\n"
    if gated:
        rows = "\n".join(
            f"| {f.severity} | {f.kind} | {f.rule_id or '—'} | "
            f"{', '.join(f'{k} `{v}`' for k, v in f.subject.items())} | "
            f"{f.message.replace('|', '/')} |"
            for f in gated[:50]
        )
        details += (
            "### Findings that fail the gate\n\n| severity | kind | rule | subject | message |\n"
            f"|---|---|---|---|---|\n{rows}\n"
        )
    result.steps.append(Step("review", "fail" if gated else "pass", summary, details))


def _diff_step(options: CiOptions, diff: PolicyDiff | None, why: str, result: CiResult) -> None:
    if diff is None:
        result.steps.append(Step("diff", "skip", why))
        return
    result.diff = diff
    result.sarif += [
        r for r in sarif_results(diff, options.level) if r["ruleId"] == "pdp/new-access"
    ]
    s = diff.summary()
    summary = (
        f"vs `{options.base}`: {s['added']} added, {s['removed']} removed, "
        f"{s['obligations_changed']} obligation change(s), {s['new_findings']} new finding(s)"
    )
    failed = options.diff_fail_on == "new-access" and bool(
        diff.added_at_or_above(options.level) or diff.loosened_at_or_above(options.level)
    )
    result.steps.append(
        Step("diff", "fail" if failed else "pass", summary, render_markdown(diff, "###"))
    )


def _replay_step(options: CiOptions, compiled: CompiledPolicy, result: CiResult) -> None:
    if not options.log:
        result.steps.append(Step("replay", "skip", "no decision log given"))
        return
    from pdp.audit import read_records
    from pdp.errors import StorageError
    from pdp.policyci.replay import render_replay_markdown, replay

    if "://" not in options.log and not Path(options.log).exists():
        raise CiInputError(f"decision log `{options.log}` does not exist")
    try:
        report = replay(compiled, read_records(options.log))
    except (StorageError, ValueError) as exc:
        raise CiInputError(f"cannot read decision log `{options.log}`: {exc}") from None
    counts = report.counts()
    summary = (
        f"{report.decisions} logged decision(s): {len(report.flips)} would flip "
        f"({counts['allow->deny']} allow→deny, {counts['deny->allow']} deny→allow)"
    )
    failed = options.fail_on_flip and bool(report.flips)
    result.steps.append(
        Step("replay", "fail" if failed else "pass", summary, render_replay_markdown(report))
    )


def _once_per_policy(review: Any) -> Any:
    """`review`, memoised per compiled policy for one run (the test and review steps share it)."""
    done: dict[int, tuple[CompiledPolicy, Any]] = {}

    def reviewed(compiled: CompiledPolicy) -> Any:
        found = done.get(id(compiled))
        if found is None:
            found = done[id(compiled)] = (compiled, review(compiled))  # keeps the id alive
        return found[1]

    return reviewed


Loader = Callable[[str, str], CompiledPolicy]
Differ = Callable[[CompiledPolicy, CompiledPolicy], PolicyDiff]


def run_ci(
    options: CiOptions,
    *,
    unformatted: Callable[[list[Path]], list[Path]] = unformatted_files,
    load: Loader = compile_source,
    differ: Differ = diff_with_findings,
) -> CiResult:
    """Run every step; raise `CiInputError` when an input other than the policy is unusable.

    The seams are for the process that runs it (`pdp ci`): `unformatted` finds
    the policy files `pdp fmt` would change (it may have been started
    elsewhere already), `load(source, path)` loads the base revision's policy
    (it may be cached), and `differ` is `diff_with_findings` or the same
    answer computed otherwise. Only an absent base skips the diff: a base that
    does not resolve is unusable.
    """
    if options.base is not None and not is_revision(options.base):
        raise CiInputError(
            f"base revision `{options.base}` does not resolve here "
            "(a typo, a shallow clone, or a remote branch not fetched?)"
        )
    result = CiResult()
    register = read_accepted(options)  # an unusable register stops the run before it starts
    compiled = _check_step(options, result)
    if compiled is None:
        for name in ("format", "test", "review", "diff", "replay"):
            result.steps.append(Step(name, "skip", "the policy does not load"))
        return result
    review = _once_per_policy(review_function())
    _test_step(options, compiled, result, review)
    base, why = _base_policy(options, load)
    # The findings of the change (new and resolved) come from the diff, which reviews the
    # base only where the change reaches; the new version's full review serves the gate.
    diff = differ(base, compiled) if base is not None else None
    _review_step(options, compiled, diff, result, review, register)
    _diff_step(options, diff, why, result)
    _replay_step(options, compiled, result)
    # Reported second, after the check.
    result.steps.insert(1, _fmt_step(unformatted(policy_files(options.policy))))
    return result
