"""pdp: role-and-permission modelling and a policy decision point for customer information.

The public API::

    from pdp import DecisionPoint, Decision, PolicyError
"""

from pdp.core.compile import CompiledPolicy, compile_policy
from pdp.core.decision import Decision, Request
from pdp.core.explain import Explanation, Match
from pdp.core.load import CheckResult, check_policy, load_policy, load_policy_text
from pdp.core.model import Policy
from pdp.core.normalize import policy_version
from pdp.decision_point import DecisionPoint
from pdp.errors import (
    PdpError,
    PolicyError,
    Problem,
    RequestError,
    StorageError,
)

__version__ = "0.2.0"

__all__ = [
    "CheckResult",
    "CompiledPolicy",
    "Decision",
    "DecisionPoint",
    "Explanation",
    "Match",
    "PdpError",
    "Policy",
    "PolicyError",
    "Problem",
    "Request",
    "RequestError",
    "StorageError",
    "__version__",
    "check_policy",
    "compile_policy",
    "load_policy",
    "load_policy_text",
    "policy_version",
]
