"""The Casbin form of a compiled policy: one fixed model and the policy rules.

Any Casbin library enforcing `MODEL_TEXT` with `casbin_rules(...)` answers a
request `(subject, info_class, purpose, action)` exactly as the spec's rules
1-4 ("held"). Role inheritance and user assignment are written as their
transitive closure (`g`), and the class and purpose trees as child-to-ancestor
links (`g2`, `g3`), so every link is one hop and no Casbin hierarchy-depth
limit applies. Consent (rule 5) is context, decided by pdp, not by the model.
"""

from __future__ import annotations

import io

from pdp.core.compile import CompiledPolicy, expand

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


def casbin_rules(compiled: CompiledPolicy) -> list[list[str]]:
    """The Casbin policy rows (`p`, `g`, `g2`, `g3`) of a compiled policy, without duplicates."""
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


def render_policy_csv(rows: list[list[str]]) -> str:
    """Casbin's policy CSV: `ptype, v0, v1, ...`, one rule a line."""
    out = io.StringIO()
    for row in rows:
        out.write(", ".join(row) + "\n")
    return out.getvalue()
