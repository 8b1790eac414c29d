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

from pdp.analysis.context import ReviewContext
from pdp.analysis.finding import Finding
from pdp.analysis.outliers import RobustScore, fit
from pdp.analysis.space import PermissionSpace


def high_exposure(ctx: ReviewContext) -> Iterator[Finding]:
    """Roles and users holding far more top-level permissions than their peers."""
    top = ctx.top_level
    space = PermissionSpace(
        ctx.policy, classes={c for c, k in ctx.policy.classes.items() if k.level == top}
    )
    projected = ctx.project(space)
    subjects = ctx.subjects
    reach = subjects.reaching(projected.own_allow)
    held = {g: projected.held(subjects.closures[g]) for g in sorted(reach)}
    ctx.progress("exposure", 1, 1)
    for kind, table in (("role", subjects.role_group), ("user", subjects.user_group)):
        weights = Counter(table.values())
        score = fit((held.get(g, 0).bit_count(), w) for g, w in weights.items())
        ctx.notes.setdefault("high_exposure", {})[f"{kind}s"] = score.to_dict()
        for ident, group in sorted(table.items()):
            mask = held.get(group, 0)
            if mask and score.is_outlier(mask.bit_count()):
                yield _finding(ctx, space, kind, ident, group, mask, score)


def _finding(
    ctx: ReviewContext,
    space: PermissionSpace,
    kind: str,
    ident: str,
    group: int,
    mask: int,
    score: RobustScore,
) -> Finding:
    count = mask.bit_count()
    z = score.score(count)
    closure = ctx.subjects.closures[group]
    location = (ctx.policy.roles[ident] if kind == "role" else ctx.policy.users[ident]).location
    median = f"{score.median:g}"
    return Finding(
        kind="high_exposure",
        rule_id=None,
        subject={kind: ident},
        severity="medium",
        level=ctx.top_level,
        message=(
            f"{kind} `{ident}` holds {count} {ctx.top_level} permissions, far above its peers "
            f"(median {median} of {score.population} {kind}s; modified z-score {z:.1f} > "
            f"{score.threshold:g})"
        ),
        evidence=ctx.explain(kind, ident, closure, mask, space=space),
        permissions=space.decode(mask),
        location=location,
    )
