"""`pdp diff OLD NEW`: which held permissions a policy change adds or removes."""

from __future__ import annotations

from enum import StrEnum
from functools import partial
from typing import TYPE_CHECKING, Annotated

import typer

from pdp.cli.jobs import Jobs, Steps
from pdp.cli.output import (
    DOCS_URL,
    EXIT_FINDINGS,
    EXIT_INVALID,
    EXIT_OK,
    CacheOpt,
    DocsUrlOpt,
    JsonOpt,
    echo_json,
    echo_problems,
    fail,
    parse_moment,
)

if TYPE_CHECKING:
    from datetime import datetime

    from pdp.core.compile import CompiledPolicy
    from pdp.errors import Problem
    from pdp.policyci.cache import CompiledCache
    from pdp.policyci.diff import PolicyDiff

# The checks a worker runs while this process computes the symbolic diff and the others:
# about half the time of the checks of a change on a bank-sized policy.
WORKER_CHECKS = frozenset({"high_exposure"})


class Format(StrEnum):
    """Output formats of `pdp diff`."""

    text = "text"
    json = "json"
    markdown = "markdown"
    sarif = "sarif"


class FailOn(StrEnum):
    """When `pdp diff` exits 1."""

    new_access = "new-access"
    any = "any"
    none = "none"


def diff(
    old: Annotated[str, typer.Argument(help="Old policy: file, directory or git revision.")],
    new: Annotated[str, typer.Argument(help="New policy: file, directory or git revision.")],
    output: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.text,
    as_json: JsonOpt = False,
    docs_url: DocsUrlOpt = DOCS_URL,
    fail_on: Annotated[
        FailOn, typer.Option("--fail-on", help="Exit 1 on new access, on any change, or never.")
    ] = FailOn.none,
    level: Annotated[
        str | None,
        typer.Option("--level", help="With --fail-on new-access: only access at or above this."),
    ] = None,
    path: Annotated[
        str | None,
        typer.Option(
            "--path",
            help="Policy path inside a git revision (default: the other side's path, "
            "else policies).",
        ),
    ] = None,
    findings: Annotated[
        bool, typer.Option("--findings/--no-findings", help="Compare review findings too.")
    ] = True,
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            metavar="TIME",
            help="Compare what is held at this time (ISO 8601 date or date-time; default now).",
        ),
    ] = None,
    jobs: Jobs = None,
    use_cache: CacheOpt = True,
) -> None:
    """Diff two policies by held permission (and review findings).

    Exit 1 per --fail-on, 2 on invalid input.
    """
    from pathlib import Path

    from pdp.errors import PolicyError, RevisionError
    from pdp.policyci.cache import default_cache
    from pdp.policyci.diff import level_rank
    from pdp.policyci.render import render_markdown, render_text, sarif_log, sarif_results

    if path is None:
        on_disk = [s for s in (new, old) if Path(s).exists()]
        path = on_disk[0] if on_disk else "policies"
    with Steps(jobs) as steps:
        try:
            old_compiled, new_compiled = load_both(steps, old, new, path, default_cache(use_cache))
        except PolicyError as exc:
            echo_problems(exc.problems)
            raise typer.Exit(EXIT_INVALID) from None
        except RevisionError as exc:
            fail(str(exc), EXIT_INVALID)
        if level is not None and level_rank(level, new_compiled, old_compiled) < 0:
            fail(f"unknown level `{level}`", EXIT_INVALID)
        moment = parse_moment(at) if at is not None else None
        result = diff_of(steps, old_compiled, new_compiled, findings=findings, at=moment)
    if as_json or output is Format.json:
        echo_json(result.to_dict())
    elif output is Format.markdown:
        typer.echo(render_markdown(result), nl=False)
    elif output is Format.sarif:
        echo_json(sarif_log(sarif_results(result, level), docs_url))
    else:
        typer.echo(render_text(result))
    if fail_on is FailOn.new_access:
        failed = bool(result.added_at_or_above(level) or result.loosened_at_or_above(level))
    elif fail_on is FailOn.any:
        failed = bool(result.added or result.removed or result.obligations or result.loosened)
    else:
        failed = False
    raise typer.Exit(EXIT_FINDINGS if failed else EXIT_OK)


def load_both(
    steps: Steps, old: str, new: str, path: str, cache: CompiledCache | None
) -> tuple[CompiledPolicy, CompiledPolicy]:
    """Both versions, the new one in a worker; the first `PolicyError`/`RevisionError` raised."""
    from pdp.errors import PolicyError
    from pdp.policyci.cache import load_source

    loading = steps.start(load_or_problems, new, path, cache)
    before = load_source(old, path, cache)  # the old side's error is reported first
    after = loading()
    if isinstance(after, list):
        raise PolicyError(after)
    return before, after


def load_or_problems(
    source: str, path: str, cache: CompiledCache | None
) -> CompiledPolicy | list[Problem]:
    """`load_source`, with the problems of an invalid policy as the value (for a worker)."""
    from pdp.errors import PolicyError
    from pdp.policyci.cache import load_source

    try:
        return load_source(source, path, cache)
    except PolicyError as exc:
        return exc.problems


def diff_of(
    steps: Steps,
    old: CompiledPolicy,
    new: CompiledPolicy,
    *,
    findings: bool,
    at: datetime | None = None,
) -> PolicyDiff:
    """The diff of what is held at `at` (default now), with the loosened permissions.

    Both versions are read at `at` (`pdp.analysis.timing.policy_at`); the
    diff keeps the versions themselves (their ids, files and lines).
    """
    from datetime import UTC, datetime

    from pdp.analysis.timing import policy_at
    from pdp.policyci.diff import loosened_access

    moment = at or datetime.now(UTC)
    old_at, new_at = policy_at(old, moment), policy_at(new, moment)
    result = _diff_of(steps, old_at, new_at, findings=findings)
    result.loosened = loosened_access(old_at, new_at)
    result.old, result.new = old, new
    return result


def _diff_of(
    steps: Steps, old: CompiledPolicy, new: CompiledPolicy, *, findings: bool
) -> PolicyDiff:
    """The diff, with the findings of the change computed in a worker alongside.

    The worker runs the checks that take about half the time; this process
    computes the symbolic diff and then the other checks. Fingerprints hash
    the kind, so the two answers merge into the one `diff_with_findings` gives.
    """
    from pdp.analysis.changes import merged, review_changes
    from pdp.analysis.review import CHECKS
    from pdp.core.change import policy_change
    from pdp.policyci.diff import diff_policies, diff_with_findings

    if not findings:
        return diff_policies(old, new)
    if steps.jobs < 2:
        return diff_with_findings(old, new)
    change = policy_change(old, new)
    there = [c for c in CHECKS if c.__name__ in WORKER_CHECKS]
    here = [c for c in CHECKS if c.__name__ not in WORKER_CHECKS]
    found_there = steps.start_inherited(partial(review_changes, old, new, there, change))
    result = diff_policies(old, new, change)
    found = merged(review_changes(old, new, here, change), found_there())
    result.new_findings, result.resolved_findings = found
    return result


def register(app: typer.Typer) -> None:
    """Add `diff` to the CLI."""
    app.command()(diff)
