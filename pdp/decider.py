"""The `Decider` protocol: what answers an access question, in process or over HTTP.

`DecisionPoint` (in process) and `PdpClient` (the decision service) are
`Decider`s; `AsyncPdpClient` is an `AsyncDecider`. Each takes the same
arguments, so code written against one works with any:

    def may_open(pdp: Decider, user: str, consent: list[str]) -> bool:
        return pdp.decide(user=user, info_class="identity.id_number",
                          purpose="account_opening", action="use",
                          context={"consent": consent}).allowed

`context` holds `consent`, the purposes the customer consented to (an absent
or empty value means none), and the other keys of the policy format's
request context: `mfa`, `ticket`, `approver`, `relationship`, `records`,
`time` and `customer` (`pdp.core.context.Context` validates them; anything
else is a deny with reason `invalid_context`, or a 422 from the service).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from pdp.core.decision import Decision

__all__ = ["AsyncDecider", "Decider"]


class Decider(Protocol):
    """Answers one access question with a `Decision`."""

    def decide(
        self,
        *,
        info_class: str,
        purpose: str,
        action: str,
        role: str | None = None,
        user: str | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> Decision:
        """Decide; exactly one of `role` and `user` names the subject."""
        ...


class AsyncDecider(Protocol):
    """Answers one access question with a `Decision`, awaited."""

    async def decide(
        self,
        *,
        info_class: str,
        purpose: str,
        action: str,
        role: str | None = None,
        user: str | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> Decision:
        """Decide; exactly one of `role` and `user` names the subject."""
        ...
