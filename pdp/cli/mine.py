"""`pdp mine POLICY` or `pdp mine --up FILE`: mine the fewest roles reproducing UP exactly."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pdp.cli.output import EXIT_INVALID, JsonOpt, echo_json, fail, load_or_exit, parse_moment

if TYPE_CHECKING:
    from pdp.analysis.mining import MergeSuggestion, MiningResult


class MineFormat(StrEnum):
    """Output formats of `pdp mine`."""

    text = "text"
    json = "json"
    yaml = "yaml"


def mine(
    policy: Annotated[
        Path | None, typer.Argument(help="Policy file or directory (users' held permissions).")
    ] = None,
    up: Annotated[
        Path | None,
        typer.Option("--up", help="User-permission file: `user permission` a line, or `.ass`."),
    ] = None,
    output_format: Annotated[
        MineFormat, typer.Option("--format", help="text, json, or yaml (a policy fragment).")
    ] = MineFormat.text,
    as_json: JsonOpt = False,
    time_limit: Annotated[
        float,
        typer.Option(
            "--time-limit",
            help="Seconds of exact search before keeping the best cover found (and a bound).",
        ),
    ] = 20.0,
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            metavar="TIME",
            help="A POLICY's users' permissions held at this time (ISO 8601; default now).",
        ),
    ] = None,
    merge_threshold: Annotated[
        float | None,
        typer.Option(
            "--merge-threshold",
            help="Also suggest merging roles whose permissions have Jaccard similarity ≥ this.",
        ),
    ] = None,
) -> None:
    """Mine the fewest roles reproducing every user's permissions.

    The mined roles satisfy UA∘PA = UP, verified. Exit 0, or 2 on invalid input.
    """
    from pdp.analysis.mining import (
        RelationError,
        mine_roles,
        policy_role_permissions,
        read_up_file,
        relation_from_policy,
        suggest_merges,
    )
    from pdp.analysis.mining.fragment import policy_fragment, up_fragment
    from pdp.analysis.timing import policy_at
    from pdp.core.compile import compile_policy

    if (policy is None) == (up is None):
        fail("give either a POLICY or `--up FILE`", EXIT_INVALID)
    if time_limit < 0:
        fail(f"`--time-limit` must be at least 0, got `{time_limit}`", EXIT_INVALID)
    if merge_threshold is not None and not 0 < merge_threshold <= 1:
        fail(f"`--merge-threshold` must be in (0, 1], got `{merge_threshold}`", EXIT_INVALID)
    if policy is not None:
        moment = parse_moment(at) if at is not None else datetime.now(UTC)
        compiled = policy_at(compile_policy(load_or_exit(policy, EXIT_INVALID)), moment)
        relation = relation_from_policy(compiled)
        result = mine_roles(relation, time_limit=time_limit)
        role_sets = policy_role_permissions(compiled)
        declared: int | None = len(compiled.policy.roles)
    else:
        assert up is not None
        try:
            relation = read_up_file(up)
        except RelationError as exc:
            fail(str(exc), EXIT_INVALID)
        result = mine_roles(relation, time_limit=time_limit)
        role_sets = {r.id: frozenset(r.permissions) for r in result.roles}
        declared = None
    merges = suggest_merges(role_sets, merge_threshold) if merge_threshold is not None else None
    if as_json or output_format is MineFormat.json:
        echo_json(_json(result, declared, merges))
    elif output_format is MineFormat.yaml:
        text = (
            policy_fragment(result, relation, compiled, str(policy))
            if policy is not None
            else up_fragment(result, str(up))
        )
        typer.echo(text + _merge_comments(merges), nl=False)
    else:
        _echo_text(result, declared, merges)


def _json(
    result: MiningResult, declared: int | None, merges: list[MergeSuggestion] | None
) -> dict[str, object]:
    document = result.to_dict()
    summary = document["summary"]
    assert isinstance(summary, dict)
    if declared is not None:
        summary["declared_roles"] = declared
    if merges is not None:
        document["merge_suggestions"] = [m.to_dict() for m in merges]
        summary["merge_saves"] = sum(m.saves for m in merges)
    return document


def _merge_comments(merges: list[MergeSuggestion] | None) -> str:
    if merges is None:
        return ""
    lines = [f"# merge suggestions: {len(merges)}, saving {sum(m.saves for m in merges)} roles"]
    lines += [_merge_line(m, "# ") for m in merges]
    return "\n".join(lines) + "\n"


def _merge_line(merge: MergeSuggestion, prefix: str = "  ") -> str:
    gains = "; ".join(f"{r} gains {len(p)}" for r, p in merge.added.items()) or "no change"
    return (
        f"{prefix}merge {', '.join(merge.roles)} (similarity {merge.similarity:.2f}, "
        f"saves {merge.saves}): {gains}"
    )


def _short(items: tuple[str, ...], limit: int = 8) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f", … (+{len(items) - limit})" if len(items) > limit else "")


def _echo_text(
    result: MiningResult, declared: int | None, merges: list[MergeSuggestion] | None
) -> None:
    proof = "optimal" if result.optimal else f"lower bound {result.lower_bound}"
    typer.echo(
        f"{len(result.roles)} roles ({proof}) reproduce {result.users} users × "
        f"{result.permissions} permissions ({result.up_edges} assignments) exactly, "
        f"verified, in {result.seconds:.2f} s"
        + (f"; the policy declares {declared} roles" if declared is not None else "")
    )
    for role in result.roles:
        typer.echo(
            f"{role.id}: {len(role.users)} users, {len(role.permissions)} permissions: "
            f"{_short(role.permissions)}; users: {_short(role.users)}"
        )
    if merges is not None:
        typer.echo(f"merge suggestions: {len(merges)}, saving {sum(m.saves for m in merges)} roles")
        for merge in merges:
            typer.echo(_merge_line(merge))


def register(app: typer.Typer) -> None:
    """Add `mine` to the CLI."""
    app.command()(mine)
