"""The Casbin form of a compiled policy: a fixed model and the policy rules.

Any Casbin library enforcing `MODEL_TEXT` with `casbin_rules(...)` answers a
request `(subject, info_class, purpose, action)` exactly as the spec's rules
1-4 ("held"). Role inheritance and user assignment are written as their
transitive closure (`g`), and the class and purpose trees as child-to-ancestor
links (`g2`, `g3`), so every link is one hop and no Casbin hierarchy-depth
limit applies. That is the export of a version-1 policy, unchanged.

A policy that says anything of version 2 (`version: 2`, a condition, a
window, a sensitive class, separate consent, a disabled user...) exports to
`MODEL_TEXT_V2` instead: the request takes a fifth element, the context
(`CasbinContext`), and every `p` rule a sixth, an `eval()`-able condition
over it (`r.ctx.*`), so the allow/deny of plain Casbin is pdp's:

- each grant is one rule per action, on a group named after the grant
  (`@ID`) that its roles join in `g` and its classes and purposes join, as
  an ancestor, in `g2` and `g3`; the condition is written once per grant;
- an allow rule's condition is its grant's window, its requirements (`when`,
  break-glass's ticket) and the consent rule for the classes and purposes it
  covers; a deny rule's is its grant's window;
- a role held through a dated assignment is written as rules of the user
  itself, each with the assignment's window added; a disabled user has no
  rules and no links, so Casbin's default deny is pdp's `user_disabled`.

Conditions use only `&&`, `||`, `!`, comparisons, `in` on a list, numbers
and quoted strings, never a comma (so a policy CSV needs no quoting).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pdp.core.compile import CompiledPolicy, expand
from pdp.core.context import Context, context_of
from pdp.core.decision import Request, request_time
from pdp.core.model import DEFAULT_TIMEZONE, Conditions, Grant, Policy, User, ancestors_of

MODEL_FILE_NAME = "pdp_model.conf"

MODEL_TEXT = """\
# pdp: the Casbin model every pdp policy compiles to.
# request: subject (role or user id), information class, purpose, lifecycle action.
[request_definition]
r = sub, info_class, purpose, action

[policy_definition]
p = sub, info_class, purpose, action, eft

[role_definition]
# g: subject -> role (transitive closure of user roles and role inheritance)
g = _, _
# g2: class -> ancestor class; g3: purpose -> ancestor purpose
g2 = _, _
g3 = _, _

[policy_effect]
e = some(where (p.eft == allow)) && !some(where (p.eft == deny))

[matchers]
m = g(r.sub, p.sub) && g2(r.info_class, p.info_class) && g3(r.purpose, p.purpose) \
&& r.action == p.action
"""


MODEL_TEXT_V2 = """\
# pdp: the Casbin model of a version-2 pdp policy.
# request: subject (role or user id), information class, purpose, lifecycle action, and
# the context: an object with consent, mfa, ticket, approver, relationship, records,
# user, time (POSIX seconds, UTC) and minute (of the day, in the policy's timezone).
[request_definition]
r = sub, info_class, purpose, action, ctx

[policy_definition]
# cond: when the rule applies (its window, requirements and consent), over r.ctx
p = sub, info_class, purpose, action, eft, cond

[role_definition]
# g: subject -> role (closure of user roles and role inheritance), role -> @grant
g = _, _
# g2: class -> ancestor class, class -> @grant; g3: the same for purposes
g2 = _, _
g3 = _, _

[policy_effect]
e = some(where (p.eft == allow)) && !some(where (p.eft == deny))

[matchers]
m = g(r.sub, p.sub) && g2(r.info_class, p.info_class) && g3(r.purpose, p.purpose) \
&& r.action == p.action && eval(p.cond)
"""

ALWAYS = "1 == 1"
"""The condition of a rule that always applies (portable: no `true` literal in every Casbin)."""

NO_RULE = ("p", "", "", "", "", "deny", "1 == 0")
"""The one `p` rule of a policy that grants nothing: pycasbin refuses `eval()` over no rules."""

# Casbin rewrites `p.`/`r.` (with an optional number) in a condition into `p_`/`r_`,
# string literals included: such a literal is written as a concatenation instead.
_REWRITTEN = re.compile(r"\b[pr][0-9]*\.")


@dataclass(frozen=True, slots=True)
class CasbinContext:
    """The fifth element of a version-2 Casbin request: the request context, flattened.

    Missing text is `""`. `user` is the requesting user (`""` for a role
    request), so `approver` can be told apart from it; `time` is the request
    time in POSIX seconds; `minute` is its minute of the day in the policy's
    timezone, since Casbin's expression languages know no time zones.
    """

    consent: tuple[str, ...] = ()
    mfa: bool = False
    ticket: str = ""
    approver: str = ""
    relationship: str = ""
    records: int = 1
    user: str = ""
    time: float = 0.0
    minute: int = 0


def casbin_context(policy: Policy, at: datetime, user: str, facts: Context) -> CasbinContext:
    """The `CasbinContext` of a request by `user` (`""` for a role) at `at`, with its facts."""
    local = at.astimezone(ZoneInfo(policy.timezone))
    return CasbinContext(
        consent=tuple(facts.consent),
        mfa=facts.mfa,
        ticket=facts.ticket or "",
        approver=facts.approver or "",
        relationship=facts.relationship or "",
        records=facts.records,
        user=user,
        time=at.timestamp(),
        minute=local.hour * 60 + local.minute,
    )


def casbin_request(
    compiled: CompiledPolicy, request: Request, at: datetime
) -> tuple[Any, ...] | None:
    """The arguments of Casbin's `enforce` for a request judged at `at` (unless it names a time).

    Four ids for a version-1 export, the `CasbinContext` fifth for version 2;
    None when the context is invalid (pdp denies it with `invalid_context`).
    """
    facts = context_of(request.context)
    if facts is None or (
        facts.relationship is not None and facts.relationship not in compiled.relationships
    ):
        return None
    ids = (request.subject, request.info_class, request.purpose, request.action)
    if not speaks_version_2(compiled.policy):
        return ids
    user = request.subject if request.subject_kind == "user" else ""
    return (*ids, casbin_context(compiled.policy, request_time(facts, at), user, facts))


def speaks_version_2(policy: Policy) -> bool:
    """True when a policy says something only version 2 can: its export takes a context."""
    return (
        policy.version >= 2
        or policy.timezone != DEFAULT_TIMEZONE
        or bool(policy.relationships)
        or any(c.sensitive for c in policy.classes.values())
        or any(p.consent is not None for p in policy.purposes.values())
        or any(g.when is not None or g.break_glass or g.timed for g in policy.grants)
        or any(u.disabled or u.timed for u in policy.users.values())
    )


def casbin_model(compiled: CompiledPolicy) -> str:
    """The model a policy exports to: `MODEL_TEXT_V2`, or `MODEL_TEXT` for version 1."""
    return MODEL_TEXT_V2 if speaks_version_2(compiled.policy) else MODEL_TEXT


def casbin_rules(compiled: CompiledPolicy) -> list[list[str]]:
    """The Casbin policy rows (`p`, `g`, `g2`, `g3`) of a compiled policy, without duplicates."""
    if speaks_version_2(compiled.policy):
        return _rules_v2(compiled)
    policy = compiled.policy
    rows: dict[tuple[str, ...], None] = {}
    for grant in policy.grants:
        for role in expand(grant, policy, "roles"):
            for cls in expand(grant, policy, "classes"):
                for purp in expand(grant, policy, "purposes"):
                    for act in expand(grant, policy, "actions"):
                        rows[("p", role, cls, purp, act, grant.effect)] = None
    for table in (compiled.role_closure, compiled.user_closure):
        for subject, closure in table.items():
            for role in sorted(closure - {subject}):
                rows[("g", subject, role)] = None
    for ptype, tree in (("g2", compiled.class_ancestors), ("g3", compiled.purpose_ancestors)):
        for item, chain in tree.items():
            for ancestor in chain[1:]:
                rows[(ptype, item, ancestor)] = None
    return [list(row) for row in rows]


def _literal(text: str) -> str:
    """A quoted string literal that Casbin's `p.`/`r.` rewriting leaves alone."""
    if not _REWRITTEN.search(text):
        return f"'{text}'"
    head, *rest = text.split(".")
    return "(" + " + ".join([f"'{head}'", *(f"'.{part}'" for part in rest)]) + ")"


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


def _all(parts: Iterable[str]) -> str:
    """The conjunction of conditions (`ALWAYS` for none)."""
    kept = [p for p in parts if p != ALWAYS]
    if not kept:
        return ALWAYS
    return " && ".join(kept)


def _any(parts: Sequence[str]) -> str:
    return parts[0] if len(parts) == 1 else "(" + " || ".join(parts) + ")"


def window_condition(valid_from: datetime | None, valid_until: datetime | None) -> str:
    """The condition of a window [valid_from, valid_until) on `r.ctx.time`."""
    parts = []
    if valid_from is not None:
        parts.append(f"r.ctx.time >= {_number(valid_from.timestamp())}")
    if valid_until is not None:
        parts.append(f"r.ctx.time < {_number(valid_until.timestamp())}")
    return _all(parts)


def requirements_condition(when: Conditions | None) -> str:
    """The condition that every requirement of a `when` holds."""
    if when is None:
        return ALWAYS
    parts = []
    if when.mfa:
        parts.append("r.ctx.mfa")
    if when.ticket:
        parts.append("r.ctx.ticket != ''")
    if when.approver:
        parts.append("r.ctx.approver != '' && r.ctx.approver != r.ctx.user")
    if when.relationship is not None:
        parts.append(
            _any([f"r.ctx.relationship == {_literal(v)}" for v in sorted(when.relationship)])
        )
    if when.max_records is not None:
        parts.append(f"r.ctx.records <= {when.max_records}")
    if when.hours is not None:
        start, end = when.hours
        if start < end:
            parts.append(f"r.ctx.minute >= {start} && r.ctx.minute < {end}")
        else:
            parts.append(f"(r.ctx.minute >= {start} || r.ctx.minute < {end})")
    return _all(parts)


def _below(tree: Iterable[str], top: str) -> list[str]:
    """`top` and the ids of `tree` under it, sorted."""
    return sorted(i for i in tree if i == top or i.startswith(top + "."))


def consent_condition(policy: Policy, classes: Sequence[str], purposes: Sequence[str]) -> str:
    """The consent rule (version 2) for requests on the class and purpose trees of a grant.

    With q the request's purpose and k its class, each under one the grant
    names: when q needs consent, the context must name q or an ancestor
    (ordinary), and name q itself when q's chain says `consent: separate` or
    k is sensitive.
    """
    declared = policy.purposes
    chain = {p: ancestors_of(p) for top in purposes for p in _below(declared, top)}
    needing = [
        p for p, up in chain.items() if any(declared[a].legal_basis == "consent" for a in up)
    ]
    if not needing:
        return ALWAYS
    parts = [
        f"(r.purpose != {_literal(p)} || "
        + _any([f"{_literal(a)} in r.ctx.consent" for a in chain[p]])
        + ")"
        for p in needing
    ]
    separate = [p for p in needing if any(declared[a].consent == "separate" for a in chain[p])]
    sensitive = sorted(
        {c for top in classes for c in _below(policy.classes, top) if policy.classes[c].sensitive}
    )
    if all(policy.classes[c].sensitive for c in classes) or len(separate) == len(needing):
        why = ALWAYS
    elif separate or sensitive:
        why = _any(
            [f"r.purpose == {_literal(p)}" for p in separate]
            + [f"r.info_class == {_literal(c)}" for c in sensitive]
        )
    else:
        return _all(parts)
    if len(needing) < len(chain):
        why = _all([_any([f"r.purpose == {_literal(p)}" for p in needing]), why])
    exact = "r.purpose in r.ctx.consent"
    parts.append(exact if why == ALWAYS else f"(!({why}) || {exact})")
    return _all(parts)


def grant_group(index: int, grant: Grant) -> str:
    """The name that stands for a grant's roles, classes and purposes in `g`, `g2` and `g3`.

    `@` cannot begin a declared id, so the name collides with none.
    """
    return f"@{grant.id}" if grant.explicit_id else f"@#{index + 1}"


def _condition(policy: Policy, grant: Grant) -> str:
    """When a grant applies: its window; for an allow, its requirements and consent too."""
    window = window_condition(grant.valid_from, grant.valid_until)
    if grant.effect == "deny":
        return window
    classes, purposes = expand(grant, policy, "classes"), expand(grant, policy, "purposes")
    requirements = requirements_condition(grant.when)
    return _all([window, requirements, consent_condition(policy, classes, purposes)])


def _rules_v2(compiled: CompiledPolicy) -> list[list[str]]:
    """The rows of a version-2 export: one conditioned `p` rule per grant and action.

    Each grant names a group (`grant_group`) that its roles join (`g`) and
    that its classes and purposes join as an ancestor (`g2`, `g3`), so a
    request reaches the grant's rule exactly when rules 1-4 say the grant
    reaches it, and the rule's condition is written once.
    """
    policy = compiled.policy
    rows: dict[tuple[str, ...], None] = {}
    links: dict[tuple[str, ...], None] = {}
    reached_by: dict[str, list[tuple[str, ...]]] = {}  # role -> the p rows of its grants
    for index, grant in enumerate(policy.grants):
        group, cond = grant_group(index, grant), _condition(policy, grant)
        own = [
            ("p", group, group, group, act, grant.effect, cond)
            for act in expand(grant, policy, "actions")
        ]
        rows.update(dict.fromkeys(own))
        for role in expand(grant, policy, "roles"):
            links[("g", role, group)] = None
            reached_by.setdefault(role, []).extend(own)
        for ptype, field_name in (("g2", "classes"), ("g3", "purposes")):
            for item in expand(grant, policy, field_name):
                links[(ptype, item, group)] = None
    if not rows:
        rows[NO_RULE] = None
    for subject, closure in compiled.role_closure.items():
        for role in sorted(closure - {subject}):
            links[("g", subject, role)] = None
    for user in policy.users.values():
        if not user.disabled:
            _user_rows(compiled, user, reached_by, rows, links)
    for ptype, tree in (("g2", compiled.class_ancestors), ("g3", compiled.purpose_ancestors)):
        for item, chain in tree.items():
            for ancestor in chain[1:]:
                links[(ptype, item, ancestor)] = None
    return [list(row) for row in (*rows, *links)]


def _user_rows(
    compiled: CompiledPolicy,
    user: User,
    reached_by: dict[str, list[tuple[str, ...]]],
    rows: dict[tuple[str, ...], None],
    links: dict[tuple[str, ...], None],
) -> None:
    """A user's links to the roles it always holds, and rules of its own for dated ones."""
    closure = compiled.role_closure
    undated = {r for a in user.assignments if not a.timed for r in closure[a.role]}
    for role in sorted(undated - {user.id}):
        links[("g", user.id, role)] = None
    for assignment in user.assignments:
        if not assignment.timed:
            continue
        window = window_condition(assignment.valid_from, assignment.valid_until)
        for role in sorted(closure[assignment.role]):
            for _, _, cls, purp, act, effect, cond in reached_by.get(role, []):
                rows[("p", user.id, cls, purp, act, effect, _all([cond, window]))] = None


def render_policy_csv(rows: list[list[str]]) -> str:
    """Casbin's policy CSV: `ptype, v0, v1, ...`, one rule a line."""
    out = io.StringIO()
    for row in rows:
        out.write(", ".join(row) + "\n")
    return out.getvalue()
