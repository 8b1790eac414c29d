"""Request contexts that meet every version-2 requirement of a policy.

A test that asks "does the policy hold this?" of a version-2 policy must show
what the grants ask for (MFA, a ticket, a second person, a relationship, a
time inside office hours), or it only learns that the request fell short.
"""

from __future__ import annotations

from typing import Any

from pdp.core.model import Policy

TICKET = "CASE-2026-0042"
APPROVER = "u-second-person"  # no user of a test policy: never the requester
# 10:00 in Beijing, on a day inside every window of the reference policy.
TIME = "2026-12-01T02:00:00Z"


def meeting_everything(
    policy: Policy, relationship: str | None = None, time: str = TIME
) -> dict[str, Any]:
    """A context meeting every requirement of `policy`'s grants, with consent to every purpose.

    `relationship` defaults to the first declared one; grants that ask for
    another relationship stay unmet, as they would for a real request.
    """
    context: dict[str, Any] = {
        "consent": sorted(policy.purposes),
        "mfa": True,
        "ticket": TICKET,
        "approver": APPROVER,
        "time": time,
    }
    chosen = relationship or next(iter(policy.relationships), None)
    if chosen is not None:
        context["relationship"] = chosen
    return context


def meeting_each_relationship(policy: Policy, time: str = TIME) -> list[dict[str, Any]]:
    """`meeting_everything` once per declared relationship (a context names one), or once."""
    relationships = policy.relationships or (None,)
    return [meeting_everything(policy, r, time) for r in relationships]
