"""`pdp decide` and `pdp explain`: one decision from the command line.

The request context is `--context` (a JSON object of the format's context
keys: mfa, ticket, approver, relationship, records, time, customer, consent)
plus each `--consent`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from pdp.cli.output import (
    EXIT_FINDINGS,
    EXIT_INVALID,
    EXIT_OK,
    Format,
    FormatOpt,
    JsonOpt,
    echo_json,
    fail,
    load_or_exit,
    wants_json,
)

EXIT_ALLOW, EXIT_DENY = EXIT_OK, EXIT_FINDINGS

PolicyArg = Annotated[Path, typer.Argument(help="Policy file or directory.")]
RoleOpt = Annotated[str | None, typer.Option("--role", help="Role id (or give --user).")]
UserOpt = Annotated[str | None, typer.Option("--user", help="User id (or give --role).")]
ClassOpt = Annotated[str, typer.Option("--class", help="Information class id.")]
PurposeOpt = Annotated[str, typer.Option("--purpose", help="Purpose id.")]
ActionOpt = Annotated[str, typer.Option("--action", help="Lifecycle action.")]
ConsentOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--consent", metavar="PURPOSE", help="A purpose the customer consented to (repeat)."
    ),
]
ContextOpt = Annotated[
    str | None,
    typer.Option(
        "--context",
        metavar="JSON",
        help='The request context as a JSON object, e.g. \'{"mfa": true, "ticket": "CHG-1"}\'.',
    ),
]


def _context(text: str | None, consent: list[str] | None) -> Any:
    """The request context of the options; a JSON object unless unreadable (then exit 2)."""
    context: Any = {}
    if text is not None:
        try:
            context = json.loads(text)
        except ValueError as exc:
            fail(f"--context is not JSON: {exc}", EXIT_INVALID)
    if not isinstance(context, dict):
        return context  # the decision says invalid_context
    if consent:
        context["consent"] = [*context.get("consent", []), *consent]
    return context


def _explain_text(data: dict[str, Any]) -> str:
    from pdp.core.explain import requirements_text

    lines = [
        f"class {data['request']['info_class']}: ancestors {' > '.join(data['class_ancestors'])}",
        f"purpose {data['request']['purpose']}: ancestors {' > '.join(data['purpose_ancestors'])}"
        + ("  (consent-based)" if data["consent_needed"] else ""),
    ]
    for title, key in (("matched allow", "matched"), ("overriding deny", "overridden_by")):
        for m in data[key]:
            lines.append(
                f"{title} {m['grant']} ({m['location']}): via {' -> '.join(m['path'])}, "
                f"class {m['matched_class']}, purpose {m['matched_purpose']}"
                + (f", obligations {', '.join(m['obligations'])}" if m["obligations"] else "")
                + (", break-glass" if m.get("break_glass") else "")
                + requirements_text(m)
            )
    if not data["matched"] and not data["overridden_by"]:
        lines.append("no grant matched")
    return "\n".join(lines)


def _run(
    policy: Path,
    role: str | None,
    user: str | None,
    info_class: str,
    purpose: str,
    action: str,
    consent: list[str] | None,
    context: str | None,
    as_json: bool,
    explain: bool,
) -> None:
    from pdp.core.compile import compile_policy
    from pdp.core.explain import Explanation
    from pdp.decision_point import DecisionPoint

    if (role is None) == (user is None):
        fail("give exactly one of --role and --user", EXIT_INVALID)
    dp = DecisionPoint(compile_policy(load_or_exit(policy, EXIT_INVALID, as_json=as_json)))
    args: dict[str, Any] = {
        "role": role,
        "user": user,
        "info_class": info_class,
        "purpose": purpose,
        "action": action,
        "context": _context(context, consent),
    }
    result = dp.explain(**args) if explain else dp.decide(**args)
    decision = result.decision if isinstance(result, Explanation) else result
    data = result.to_dict()
    if as_json:
        echo_json(data)
    else:
        verdict = "allow" if decision.allowed else "deny"
        typer.echo(
            f"{verdict}: {', '.join(decision.reasons)}"
            + (f" [obligations: {', '.join(decision.obligations)}]" if decision.obligations else "")
            + f" (policy {decision.policy_version})"
        )
        if explain and "matched" in data:
            typer.echo(_explain_text(data))
    raise typer.Exit(EXIT_ALLOW if decision.allowed else EXIT_DENY)


def decide(
    policy: PolicyArg,
    info_class: ClassOpt,
    purpose: PurposeOpt,
    action: ActionOpt,
    role: RoleOpt = None,
    user: UserOpt = None,
    consent: ConsentOpt = None,
    context: ContextOpt = None,
    output: FormatOpt = Format.text,
    as_json: JsonOpt = False,
    explain: Annotated[bool, typer.Option("--explain", help="Show how it was decided.")] = False,
) -> None:
    """Decide one request.

    Exit 0 allow, 1 deny, 2 invalid input (policy, options).
    """
    json_out = wants_json(output, as_json)
    _run(policy, role, user, info_class, purpose, action, consent, context, json_out, explain)


def explain(
    policy: PolicyArg,
    info_class: ClassOpt,
    purpose: PurposeOpt,
    action: ActionOpt,
    role: RoleOpt = None,
    user: UserOpt = None,
    consent: ConsentOpt = None,
    context: ContextOpt = None,
    output: FormatOpt = Format.text,
    as_json: JsonOpt = False,
) -> None:
    """Decide one request and show the grants, paths and denies behind it.

    Exit 0 allow, 1 deny, 2 invalid input (policy, options).
    """
    json_out = wants_json(output, as_json)
    _run(policy, role, user, info_class, purpose, action, consent, context, json_out, True)


def register(app: typer.Typer) -> None:
    """Add `decide` and `explain` to the CLI."""
    app.command()(decide)
    app.command()(explain)
