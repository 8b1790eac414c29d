"""`high_exposure`: roles and users whose reach of top-level data is an outlier among peers.

The measure is the number of held permissions (class, purpose, action) whose
class is at the policy's top level (C3 by default). Roles are compared with
all roles, users with all users; an outlier is a modified z-score above 3.5
(`pdp.analysis.outliers`: median and MAD, mean absolute deviation when MAD is
0). The fitted statistics go to the report's summary.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from pdp.analysis.context import ReviewContext
from pdp.analysis.finding import Deferred, Finding, Pending, Permissions, mask_key
from pdp.analysis.held import Projected
from pdp.analysis.outliers import RobustScore, fit
from pdp.analysis.space import PermissionSpace
from pdp.analysis.wording import Summariser


@dataclass(frozen=True)
class Exposure:
    """How many top-level permissions each role and user holds, and the fitted statistics."""

    projected: Projected
    counts: dict[str, dict[str, int]]  # "role"/"user" -> subject -> count
    masks: dict[str, dict[str, int]]  # "role"/"user" -> subject -> held top-level set
    scores: dict[str, RobustScore]  # "role"/"user" -> the fit over all of them

    def summary(self) -> dict[str, Any]:
        """The fitted statistics, for the report's summary: `{"roles": ..., "users": ...}`."""
        return {f"{kind}s": score.to_dict() for kind, score in self.scores.items()}


def measure_exposure(ctx: ReviewContext) -> Exposure:
    """Count every role's and user's top-level permissions, and fit their distributions."""
    top = ctx.top_level
    space = PermissionSpace(
        ctx.policy, classes={c for c, k in ctx.policy.classes.items() if k.level == top}
    )
    projected = ctx.project(space)
    sets = ctx.role_sets
    role_masks = {r: projected.held((r,)) for r in ctx.compiled.role_closure}
    roles = {r: mask.bit_count() for r, mask in role_masks.items()}
    users = dict.fromkeys(ctx.policy.users, 0)
    user_masks: dict[str, int] = {}
    for group in sets.assigning(projected.allow):
        mask = projected.held(sets.roles[group])
        if mask:
            users.update(dict.fromkeys(sets.members[group], mask.bit_count()))
            user_masks.update(dict.fromkeys(sets.members[group], mask))
    ctx.progress("exposure", 1, 1)
    counts = {"role": roles, "user": users}
    scores = {kind: fit(Counter(c.values()).items()) for kind, c in counts.items()}
    return Exposure(projected, counts, {"role": role_masks, "user": user_masks}, scores)


def high_exposure(ctx: ReviewContext, exposure: Exposure | None = None) -> Iterator[Pending]:
    """Roles and users holding far more top-level permissions than their peers.

    `exposure` is `measure_exposure(ctx)`, when the caller has it already.
    """
    exposure = exposure or measure_exposure(ctx)
    projected = exposure.projected
    policy = ctx.policy
    summarise = Summariser(ctx.class_desc, ctx.purpose_desc)
    for kind, counts in exposure.counts.items():
        score, masks = exposure.scores[kind], exposure.masks[kind]
        for ident, count in counts.items():
            if count and score.is_outlier(count):
                yield Deferred(
                    "high_exposure",
                    "medium",
                    None,
                    kind,
                    ident,
                    ctx.top_level,
                    (policy.roles[ident] if kind == "role" else policy.users[ident]).location,
                    partial(_finding, ctx, projected, kind, ident, score, masks[ident], summarise),
                    mask_key(projected.space, masks[ident]),
                )


def _finding(
    ctx: ReviewContext,
    projected: Projected,
    kind: str,
    ident: str,
    score: RobustScore,
    mask: int,
    summarise: Summariser,
) -> Finding:
    space = projected.space
    count = mask.bit_count()
    z = score.score(count)
    closure = ctx.compiled.closure_of(kind, ident)  # type: ignore[arg-type]
    assert closure is not None
    location = (ctx.policy.roles[ident] if kind == "role" else ctx.policy.users[ident]).location
    typical = "none" if score.median == 0 else f"{score.median:g}"
    permissions = Permissions(space, mask)
    return Finding(
        kind="high_exposure",
        rule_id=None,
        subject={kind: ident},
        severity="medium",
        level=ctx.top_level,
        message=(
            f"{kind} `{ident}` holds {count} {ctx.top_level} permissions; "
            f"a typical {kind} holds {typical}"
        ),
        evidence=ctx.explain(kind, ident, closure, mask, space=space),
        permissions=permissions,
        location=location,
        statistics={
            "count": count,
            "median": score.median,
            "population": score.population,
            "score": round(z, 2) if z is not None else None,
            "threshold": score.threshold,
            "method": score.method,
        },
        details=tuple(summarise(permissions)),
    )
