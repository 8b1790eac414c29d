"""Which uses of sensitive classes fall outside a subject's duties, from a compiled policy.

A subject's effective duties are the duties of every role it reaches (own and
inherited; for a user, all its roles'). A purpose is inside them when it or
one of its ancestors is a duty. A subject with no effective duties is not
judged, as in the review's `outside_duties` finding.
"""

from __future__ import annotations

from collections.abc import Iterable

from pdp.core.compile import CompiledPolicy


def effective_duties(compiled: CompiledPolicy, closure: Iterable[str]) -> frozenset[str]:
    """The union of the duties of the roles in a closure."""
    roles = compiled.policy.roles
    return frozenset(d for r in closure for d in roles[r].duties)


class DutyIndex:
    """Precomputed class levels and effective duties: O(depth) per question."""

    def __init__(self, compiled: CompiledPolicy, levels: Iterable[str]) -> None:
        wanted = set(levels)
        self.version = compiled.version
        self.sensitive = frozenset(
            c for c, info in compiled.policy.classes.items() if info.level in wanted
        )
        self.levels = {c: info.level for c, info in compiled.policy.classes.items()}
        self.level_order = compiled.policy.levels
        self.timezone = compiled.policy.timezone
        self._above: dict[str, frozenset[str]] = {}
        self.purpose_ancestors = compiled.purpose_ancestors
        self.duties = {
            "role": {r: effective_duties(compiled, c) for r, c in compiled.role_closure.items()},
            "user": {u: effective_duties(compiled, c) for u, c in compiled.user_closure.items()},
        }

    def outside_duties(self, kind: str, subject: str, info_class: str, purpose: str) -> bool:
        """True for a sensitive class used for a purpose outside the subject's duties."""
        if info_class not in self.sensitive:
            return False
        duties = self.duties.get(kind, {}).get(subject)
        if not duties:
            return False
        return not any(p in duties for p in self.purpose_ancestors.get(purpose, (purpose,)))

    def known_class(self, info_class: str) -> bool:
        """True for a class declared in the policy."""
        return info_class in self.levels

    def at_or_above(self, level: str) -> frozenset[str]:
        """The classes at `level` or above in the policy's level order (none: unknown level)."""
        found = self._above.get(level)
        if found is None:
            if level not in self.level_order:
                found = frozenset()
            else:
                wanted = set(self.level_order[self.level_order.index(level) :])
                found = frozenset(c for c, lv in self.levels.items() if lv in wanted)
            self._above[level] = found
        return found
