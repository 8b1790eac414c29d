"""The public API: `pdp.__all__` is exactly the documented names, and each one imports."""

from __future__ import annotations

import importlib

import pdp

DOCUMENTED = {
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
}


def test_all_is_the_documented_api() -> None:
    assert set(pdp.__all__) == DOCUMENTED
    assert len(pdp.__all__) == len(set(pdp.__all__))


def test_every_public_name_imports() -> None:
    module = importlib.import_module("pdp")
    for name in pdp.__all__:
        assert getattr(module, name) is not None, name


def test_the_error_tree() -> None:
    assert issubclass(pdp.PolicyError, pdp.PdpError)
    assert issubclass(pdp.RequestError, pdp.PdpError)
    assert issubclass(pdp.StorageError, pdp.PdpError)


def test_the_readme_example_runs() -> None:
    dp = pdp.DecisionPoint.from_text(
        "actions: [use]\nclasses: {c: {level: C1}}\npurposes: {p: {}}\nroles: {r: {}}\n"
        "grants: [{id: G, roles: [r], classes: [c], purposes: [p], actions: [use]}]\n"
    )
    decision = dp.decide(role="r", info_class="c", purpose="p", action="use")
    assert isinstance(decision, pdp.Decision)
    assert (decision.allowed, decision.reasons) == (True, ("G",))
