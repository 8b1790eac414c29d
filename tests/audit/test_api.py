"""The public API of `pdp.audit`: every name in `__all__` exists; the log interface is whole."""

from __future__ import annotations

import inspect

import pdp.audit
from pdp.audit import DecisionLog, open_log


def test_all_names_exist() -> None:
    assert sorted(pdp.audit.__all__) == sorted(set(pdp.audit.__all__))
    for name in pdp.audit.__all__:
        assert getattr(pdp.audit, name) is not None


def test_decision_log_interface_is_complete() -> None:
    wanted = {"append", "flush", "close", "healthy", "write_failures", "verify", "query", "head"}
    assert wanted <= set(DecisionLog.__abstractmethods__)
    assert "__len__" in DecisionLog.__abstractmethods__
    params = inspect.signature(open_log).parameters
    assert params["batch_size"].default == 500 and params["flush_interval"].default == 0.2
