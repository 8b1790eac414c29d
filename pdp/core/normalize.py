"""The normalised form of a policy and its content-hash version.

Two policies that say the same thing, whatever their files, key order, list
order or duplicates, have the same normal form and so the same version.
Version-2 keys enter the normal form only when they say something (a sensitive
class, a condition, a window...), so a version-1 policy keeps its version.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from pdp.core.model import DEFAULT_TIMEZONE, Conditions, Grant, Policy, SodRule, User

VERSION_PREFIX = "sha256:"


def _instant(moment: datetime) -> str:
    """An aware instant as canonical text: UTC, to the microsecond."""
    return moment.isoformat(timespec="microseconds")


def _window(
    data: dict[str, Any], valid_from: datetime | None, valid_until: datetime | None
) -> dict[str, Any]:
    if valid_from is not None:
        data["valid_from"] = _instant(valid_from)
    if valid_until is not None:
        data["valid_until"] = _instant(valid_until)
    return data


def _conditions(when: Conditions) -> dict[str, Any]:
    data: dict[str, Any] = {k: True for k in ("mfa", "ticket", "approver") if getattr(when, k)}
    if when.relationship is not None:
        data["relationship"] = sorted(set(when.relationship))
    if when.max_records is not None:
        data["max_records"] = when.max_records
    if when.hours is not None:
        data["hours"] = list(when.hours)
    return data


def _grant(grant: Grant) -> dict[str, Any]:
    data: dict[str, Any] = {
        "effect": grant.effect,
        "roles": sorted(grant.roles),
        "classes": sorted(grant.classes),
        "purposes": sorted(grant.purposes),
        "actions": sorted(grant.actions),
    }
    if grant.explicit_id:
        data["id"] = grant.id
    if grant.obligations:
        data["obligations"] = sorted(grant.obligations)
    if grant.description:
        data["description"] = grant.description
    if grant.when is not None:
        data["when"] = _conditions(grant.when)
    if grant.break_glass:
        data["break_glass"] = True
    return _window(data, grant.valid_from, grant.valid_until)


def _user(user: User) -> dict[str, Any]:
    data: dict[str, Any] = {"roles": sorted(user.roles)}
    if user.timed:
        data["windows"] = {
            a.role: _window({}, a.valid_from, a.valid_until) for a in user.assignments if a.timed
        }
    if user.disabled:
        data["disabled"] = True
    return _labelled(data, user.label, user.description)


def _rule(rule: SodRule) -> dict[str, Any]:
    data: dict[str, Any] = {"severity": rule.severity}
    if rule.explicit_id:
        data["id"] = rule.id
    if rule.patterns:
        data["permissions"] = sorted(
            (
                {
                    "classes": sorted(p.classes),
                    "purposes": sorted(p.purposes),
                    "actions": sorted(p.actions),
                }
                for p in rule.patterns
            ),
            key=_canonical,
        )
    else:
        data["roles"] = sorted(rule.roles)
        data["max"] = rule.max
    if rule.description:
        data["description"] = rule.description
    return data


def _labelled(data: dict[str, Any], label: str, description: str) -> dict[str, Any]:
    if label:
        data["label"] = label
    if description:
        data["description"] = description
    return data


def _head(policy: Policy) -> dict[str, Any]:
    """Every section of the normal form but the grants and the separation-of-duty rules."""
    head: dict[str, Any] = {
        "version": 1,  # the normal form's own version: a v1 policy hashes as it always did
        "actions": sorted(policy.actions),
        "levels": list(policy.levels),
        "classes": {
            c.id: _labelled(
                {"level": c.level, "sensitive": True} if c.sensitive else {"level": c.level},
                c.label,
                c.description,
            )
            for c in policy.classes.values()
        },
        "purposes": {
            p.id: _labelled(
                {"legal_basis": p.legal_basis, "consent": p.consent}
                if p.consent
                else {"legal_basis": p.legal_basis},
                p.label,
                p.description,
            )
            for p in policy.purposes.values()
        },
        "roles": {
            r.id: _labelled(
                {"inherits": sorted(r.inherits), "duties": sorted(r.duties)}, r.label, r.description
            )
            for r in policy.roles.values()
        },
        "users": {u.id: _user(u) for u in policy.users.values()},
    }
    if policy.timezone != DEFAULT_TIMEZONE:
        head["timezone"] = policy.timezone
    if policy.relationships:
        head["relationships"] = sorted(set(policy.relationships))
    return head


def normalize(policy: Policy) -> dict[str, Any]:
    """The policy as canonical plain data: sorted keys and lists, no duplicates, no locations."""
    return {
        **_head(policy),
        "grants": sorted((_grant(g) for g in policy.grants), key=_canonical),
        "separation_of_duties": sorted((_rule(r) for r in policy.rules), key=_canonical),
    }


_ENCODER = json.JSONEncoder(
    sort_keys=True, ensure_ascii=False, separators=(",", ":"), check_circular=False
)


def _canonical(data: Any) -> str:
    return _ENCODER.encode(data)


def canonical_text(policy: Policy) -> str:
    """`_canonical(normalize(policy))`, encoding each grant and rule once instead of twice.

    A list sorted by its items' canonical text encodes as those texts, sorted and joined.
    """
    lists = {
        "grants": sorted(_canonical(_grant(g)) for g in policy.grants),
        "separation_of_duties": sorted(_canonical(_rule(r)) for r in policy.rules),
    }
    head = _head(policy)
    parts = [
        _canonical(name)
        + ":"
        + ("[" + ",".join(lists[name]) + "]" if name in lists else _canonical(head[name]))
        for name in sorted(head.keys() | lists.keys())
    ]
    return "{" + ",".join(parts) + "}"


def policy_version(policy: Policy) -> str:
    """The content hash of the normalised policy: `sha256:` and 16 hex digits."""
    digest = hashlib.sha256(canonical_text(policy).encode("utf-8")).hexdigest()
    return VERSION_PREFIX + digest[:16]
