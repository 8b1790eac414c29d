"""Role mining: the fewest roles that reproduce a user-permission relation exactly.

`mine_roles(relation)` returns roles verified to satisfy UA∘PA = UP;
relations come from the HP pair format, the `.ass` matrix format or a pdp
policy; `suggest_merges` proposes merging roles with near-identical permissions.
"""

from pdp.analysis.mining.merge import MergeSuggestion, policy_role_permissions, suggest_merges
from pdp.analysis.mining.mine import MinedRole, MiningResult, mine_roles, verify_roles
from pdp.analysis.mining.relation import (
    UserPermissions,
    parse_ass_text,
    parse_up_text,
    read_up_file,
    relation_from_policy,
)
from pdp.errors import CoverError, RelationError

__all__ = [
    "CoverError",
    "MergeSuggestion",
    "MinedRole",
    "MiningResult",
    "RelationError",
    "UserPermissions",
    "mine_roles",
    "parse_ass_text",
    "parse_up_text",
    "policy_role_permissions",
    "read_up_file",
    "relation_from_policy",
    "suggest_merges",
    "verify_roles",
]
