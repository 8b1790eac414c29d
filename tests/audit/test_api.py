"""The public API of `pdp.audit`: every name in `__all__` exists; the log interface is whole."""

from __future__ import annotations

import inspect

import pdp.audit
from pdp.audit import DEFAULT_WRITER, DecisionLog, open_log
from pdp.audit.process_writer import ProcessDecisionLog
from pdp.audit.thread_writer import ThreadDecisionLog


def test_all_names_exist() -> None:
    assert sorted(pdp.audit.__all__) == sorted(set(pdp.audit.__all__))
    for name in pdp.audit.__all__:
        assert getattr(pdp.audit, name) is not None


def test_decision_log_interface_is_complete() -> None:
    wanted = {"append", "flush", "close", "healthy", "accepting", "write_failures", "dropped"}
    assert wanted <= set(DecisionLog.__abstractmethods__)
    for reading in ("verify", "query", "head", "__len__"):  # shared by every writer
        assert reading in vars(DecisionLog)
    params = inspect.signature(open_log).parameters
    assert params["batch_size"].default == 500 and params["flush_interval"].default == 0.2


def test_one_default_writer_for_the_library_and_the_service() -> None:
    from pdp.service.config import ServiceConfig

    assert inspect.signature(open_log).parameters["writer"].default == DEFAULT_WRITER
    assert ServiceConfig().log_writer == DEFAULT_WRITER
    assert issubclass(ProcessDecisionLog, DecisionLog) and issubclass(
        ThreadDecisionLog, DecisionLog
    )
