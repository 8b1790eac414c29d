"""An independent, naive reading of the spec's section "Decisions", for differential tests.

It works directly on a `Policy` and uses nothing of `pdp.core.compile` or
`pdp.core.decision`: role inheritance by plain recursion, class and purpose
ancestry by dotted prefix, and a scan of every grant for every question.
Slow on purpose; it is the reference the index is checked against.
"""

from __future__ import annotations

from typing import Any

from pdp.core.model import Grant, Policy

UNKNOWN_REASONS = ("unknown_role", "unknown_user", "unknown_info_class", "unknown_purpose")


def _reaches(policy: Policy, role: str, target: str) -> bool:
    """True when `role` is `target` or inherits it, directly or transitively."""
    if role == target:
        return True
    return any(_reaches(policy, parent, target) for parent in policy.roles[role].inherits)


def _covers(named: str, requested: str) -> bool:
    """True when the dotted id `named` is `requested` or one of its ancestors."""
    return requested == named or requested.startswith(named + ".")


def _subject_roles(policy: Policy, kind: str, subject: str) -> list[str]:
    """The roles a subject starts from: the role itself, or a user's roles (pooled)."""
    return [subject] if kind == "role" else list(policy.users[subject].roles)


def _matches(
    policy: Policy, grant: Grant, starts: list[str], info_class: str, purpose: str, action: str
) -> bool:
    # `*` names every declared role; a user holding no role reaches none of them.
    roles_ok = (bool(starts) and "*" in grant.roles) or any(
        _reaches(policy, start, named) for start in starts for named in grant.roles
    )
    classes_ok = "*" in grant.classes or any(_covers(c, info_class) for c in grant.classes)
    purposes_ok = "*" in grant.purposes or any(_covers(p, purpose) for p in grant.purposes)
    actions_ok = "*" in grant.actions or action in grant.actions
    return roles_ok and classes_ok and purposes_ok and actions_ok


def matching(
    policy: Policy, kind: str, subject: str, info_class: str, purpose: str, action: str
) -> tuple[list[Grant], list[Grant]]:
    """Every allow and every deny grant that reaches the request (ids must be declared)."""
    starts = _subject_roles(policy, kind, subject)
    allows, denies = [], []
    for grant in policy.grants:
        if _matches(policy, grant, starts, info_class, purpose, action):
            (denies if grant.effect == "deny" else allows).append(grant)
    return allows, denies


def held(
    policy: Policy, kind: str, subject: str, info_class: str, purpose: str, action: str
) -> bool:
    """Rules 1-4: some allow grant reaches the request and no deny does."""
    allows, denies = matching(policy, kind, subject, info_class, purpose, action)
    return bool(allows) and not denies


def _unknown(
    policy: Policy, kind: str, subject: str, info_class: str, purpose: str, action: str
) -> list[str]:
    table: dict[str, Any] = policy.roles if kind == "role" else policy.users
    reasons = []
    if subject not in table:
        reasons.append(f"unknown_{kind}")
    if info_class not in policy.classes:
        reasons.append("unknown_info_class")
    if purpose not in policy.purposes:
        reasons.append("unknown_purpose")
    if action not in policy.actions:
        reasons.append("unknown_action")
    return reasons


def _needs_consent(policy: Policy, purpose: str) -> bool:
    return any(
        _covers(pid, purpose) and p.legal_basis == "consent" for pid, p in policy.purposes.items()
    )


def decide(
    policy: Policy,
    kind: str,
    subject: str,
    info_class: str,
    purpose: str,
    action: str,
    consent: list[str] | None = None,
) -> tuple[bool, tuple[str, ...], tuple[str, ...]]:
    """Rules 1-7: (allowed, reasons, obligations) for a request with plain string ids."""
    unknown = _unknown(policy, kind, subject, info_class, purpose, action)
    if unknown:
        return False, tuple(unknown), ()
    allows, denies = matching(policy, kind, subject, info_class, purpose, action)
    if denies:
        return False, tuple(sorted({g.id for g in denies})), ()
    if not allows:
        return False, ("default_deny",), ()
    if _needs_consent(policy, purpose) and not any(_covers(c, purpose) for c in consent or []):
        return False, ("consent_required",), ()
    obligations = sorted({o for g in allows for o in g.obligations})
    return True, tuple(sorted({g.id for g in allows})), tuple(obligations)
