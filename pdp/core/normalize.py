"""The normalised form of a policy and its content-hash version.

Two policies that say the same thing, whatever their files, key order, list
order or duplicates, have the same normal form and so the same version.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pdp.core.model import Grant, Policy, SodRule

VERSION_PREFIX = "sha256:"


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
    return data


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
    return {
        "version": 1,
        "actions": sorted(policy.actions),
        "levels": list(policy.levels),
        "classes": {
            c.id: _labelled({"level": c.level}, c.label, c.description)
            for c in policy.classes.values()
        },
        "purposes": {
            p.id: _labelled({"legal_basis": p.legal_basis}, p.label, p.description)
            for p in policy.purposes.values()
        },
        "roles": {
            r.id: _labelled(
                {"inherits": sorted(r.inherits), "duties": sorted(r.duties)}, r.label, r.description
            )
            for r in policy.roles.values()
        },
        "users": {
            u.id: _labelled({"roles": sorted(u.roles)}, u.label, u.description)
            for u in policy.users.values()
        },
    }


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
