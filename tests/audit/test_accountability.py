"""Accountability in the decision log: context facts, the customer as an HMAC, key rotation."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pdp.audit import open_log, verify_source
from pdp.audit.accountability import (
    CustomerKey,
    CustomerKeys,
    accountability,
    load_customer_keys,
    parse_keys,
)
from pdp.audit.record import canonical_json, decision_record, parse_canonical
from pdp.cli.app import app as cli
from pdp.core.decision import Decision, Request
from pdp.errors import ConfigError
from tests.audit.conftest import make_record
from tests.audit.test_postgres import pg_url

OLD_SECRET = "o" * 40
NEW_SECRET = "n" * 40
KEYS_2025 = CustomerKeys([CustomerKey("k2025", OLD_SECRET.encode())])
KEYS_2026 = CustomerKeys(
    [CustomerKey("k2026", NEW_SECRET.encode()), CustomerKey("k2025", OLD_SECRET.encode())]
)
__all__ = ["pg_url"]  # the PostgreSQL fixture, used below

CONTEXT = {
    "mfa": True,
    "ticket": "INC-4711",
    "approver": "u2002",
    "relationship": "own_customer",
    "records": 3,
    "consent": ["marketing"],
    "time": "2026-12-01T09:30:00+08:00",
    "customer": "CIF-000123",
}


def hmac_hex(secret: str, reference: str) -> str:
    return hmac.new(secret.encode(), reference.encode(), hashlib.sha256).hexdigest()


def record_for(
    reference: str | None, keys: CustomerKeys | None, subject: str = "u1001", time: str = ""
) -> object:
    context = dict(CONTEXT)
    if reference is None:
        del context["customer"]
    else:
        context["customer"] = reference
    request = Request("user", subject, "account.balance", "customer_service", "use", context)
    decision = Decision(True, ("G-RM",), ("mask",), "v9")
    return decision_record(
        request, decision, "crm", time=time or "2026-12-01T01:30:00.000000Z", customer_keys=keys
    )


def test_a_record_keeps_the_facts_that_decided_it() -> None:
    record = record_for("CIF-000123", KEYS_2025)
    facts = record.detail  # type: ignore[attr-defined]
    assert {k: facts[k] for k in CONTEXT if k != "customer"} == {
        k: v for k, v in CONTEXT.items() if k != "customer"
    }
    assert facts["customer"] == hmac_hex(OLD_SECRET, "CIF-000123")
    assert facts["customer_key"] == "k2025"


def test_the_customer_reference_is_never_stored_in_clear() -> None:
    for keys in (KEYS_2025, None):
        body = canonical_json(record_for("CIF-000123", keys))  # type: ignore[arg-type]
        assert "CIF-000123" not in body and "000123" not in body


def test_without_a_key_the_reference_is_dropped_and_marked() -> None:
    facts = record_for("CIF-000123", None).detail  # type: ignore[attr-defined]
    assert facts["customer_dropped"] is True
    assert "customer" not in facts and "customer_key" not in facts


def test_an_empty_context_adds_nothing() -> None:
    assert accountability({}, KEYS_2025) == {}
    assert accountability({"customer": ""}, KEYS_2025) == {}
    request = Request("role", "teller", "c", "p", "read")
    assert decision_record(request, Decision(False, ("d",), (), "v"), "cli").detail == {}


def test_the_canonical_form_round_trips_so_the_chain_verifies(tmp_path: Path) -> None:
    record = record_for("CIF-1", KEYS_2025)
    body = canonical_json(record)  # type: ignore[arg-type]
    assert canonical_json(parse_canonical(body)) == body
    log = open_log(str(tmp_path / "d.db"), writer="thread")
    log.append(make_record(1))  # a record written before accountability: no facts
    log.append(record)  # type: ignore[arg-type]
    log.close()
    result = verify_source(str(tmp_path / "d.db"))
    assert result.ok and result.checked == 2
    exported = tmp_path / "d.jsonl"
    args = ["log", "export", str(tmp_path / "d.db"), "--out", str(exported)]
    assert CliRunner().invoke(cli, args).exit_code == 0 and verify_source(str(exported)).ok


def test_key_files_name_the_line_at_fault(tmp_path: Path) -> None:
    keys = parse_keys(f"# current first\nk2026 {NEW_SECRET}\n\nk2025 {OLD_SECRET}\n", "keys")
    assert [k.id for k in keys.keys] == ["k2026", "k2025"] and keys.current.id == "k2026"
    assert NEW_SECRET not in repr(keys.keys)
    with pytest.raises(ConfigError, match=r"^keys:2: the secret of customer key `k1`"):
        parse_keys(f"k0 {OLD_SECRET}\nk1 short\n", "keys")
    with pytest.raises(ConfigError, match=r"^keys:1: a customer key id"):
        parse_keys(f"k/1 {OLD_SECRET}\n", "keys")
    with pytest.raises(ConfigError, match="given twice"):
        parse_keys(f"k {OLD_SECRET}\nk {NEW_SECRET}\n", "keys")
    with pytest.raises(ConfigError, match="holds no customer key"):
        parse_keys("# nothing\n", "keys")
    with pytest.raises(ConfigError, match="cannot read the customer key file"):
        load_customer_keys(str(tmp_path / "missing"), {})


def test_keys_come_from_the_config_else_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    path.write_text(f"kf {NEW_SECRET}\n", encoding="utf-8")
    assert load_customer_keys(None, {}) is None
    env = {"PDP_CUSTOMER_KEY": f"ke:{OLD_SECRET}", "PDP_CUSTOMER_KEY_FILE": str(path)}
    assert load_customer_keys(None, env).current.id == "kf"  # type: ignore[union-attr]
    assert load_customer_keys(None, {"PDP_CUSTOMER_KEY": f"ke:{OLD_SECRET}"}).current.id == "ke"  # type: ignore[union-attr]
    with pytest.raises(ConfigError, match="ID:SECRET"):
        load_customer_keys(None, {"PDP_CUSTOMER_KEY": OLD_SECRET})


def fill_rotated(url: str) -> None:
    """Two accesses to CIF-1 under the old key, one after rotation, and other customers."""
    log = open_log(url, writer="thread")
    log.append(record_for("CIF-1", KEYS_2025, "u1001", "2026-06-01T08:00:00.000000Z"))  # type: ignore[arg-type]
    log.append(record_for("CIF-2", KEYS_2025, "u1002", "2026-06-01T08:01:00.000000Z"))  # type: ignore[arg-type]
    log.append(record_for("CIF-1", KEYS_2025, "u1003", "2026-06-02T08:00:00.000000Z"))  # type: ignore[arg-type]
    log.append(record_for(None, KEYS_2026, "u1004", "2026-07-01T08:00:00.000000Z"))  # type: ignore[arg-type]
    log.append(record_for("CIF-1", KEYS_2026, "u1005", "2026-07-02T08:00:00.000000Z"))  # type: ignore[arg-type]
    log.close()
    assert log.write_failures == 0


def check_customer_query(url: str) -> None:
    log = open_log(url, writer="thread")
    try:
        found = log.query(customers=KEYS_2026.digests("CIF-1"))
        assert [r.subject for r in found] == ["u1001", "u1003", "u1005"]
        assert {r.detail["customer_key"] for r in found} == {"k2025", "k2026"}
        assert [r.subject for r in log.query(customers=KEYS_2025.digests("CIF-1"))] == [
            "u1001",
            "u1003",
        ]
        assert log.query(customers=KEYS_2026.digests("CIF-404")) == []
    finally:
        log.close()


def test_query_by_customer_across_a_key_rotation_sqlite(tmp_path: Path) -> None:
    url = str(tmp_path / "d.db")
    fill_rotated(url)
    check_customer_query(url)


def test_query_by_customer_across_a_key_rotation_postgres(pg_url: str) -> None:
    fill_rotated(pg_url)
    check_customer_query(pg_url)
    env = {"PDP_CUSTOMER_KEY": f"k2025:{OLD_SECRET}", "PDP_CUSTOMER_KEY_FILE": ""}
    args = ["log", "query", "--db", pg_url, "--customer", "CIF-1", "--format", "json"]
    result = CliRunner().invoke(cli, args, env=env)
    assert result.exit_code == 0, result.output
    assert [r["subject"] for r in json.loads(result.stdout)] == ["u1001", "u1003"]


def test_pdp_log_query_customer(tmp_path: Path) -> None:
    url = str(tmp_path / "d.db")
    fill_rotated(url)
    env = {"PDP_CUSTOMER_KEY": "", "PDP_CUSTOMER_KEY_FILE": ""}
    key_file = tmp_path / "keys"
    key_file.write_text(f"k2026 {NEW_SECRET}\nk2025 {OLD_SECRET}\n", encoding="utf-8")
    args = ["log", "query", url, "--customer", "CIF-1", "--customer-key-file", str(key_file)]
    result = CliRunner().invoke(cli, [*args, "--format", "json"], env=env)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["subject"], r["purpose"], r["time"]) for r in rows] == [
        ("u1001", "customer_service", "2026-06-01T08:00:00.000000Z"),
        ("u1003", "customer_service", "2026-06-02T08:00:00.000000Z"),
        ("u1005", "customer_service", "2026-07-02T08:00:00.000000Z"),
    ]
    table = CliRunner().invoke(cli, [*args, "--format", "table"], env={**env, "COLUMNS": "400"})
    assert table.exit_code == 0 and "3 record(s)" in table.stdout
    assert "ticket=INC-4711" in table.stdout and "CIF-1" not in table.stdout
    piped = CliRunner().invoke(
        cli,
        ["log", "query", "--log", url, "--customer", "-", "--customer-key-file", str(key_file)],
        input="CIF-1\n",
        env=env,
    )
    assert piped.exit_code == 0 and len(piped.stdout.splitlines()) == 3
    missing = CliRunner().invoke(cli, ["log", "query", url, "--customer", "CIF-1"], env=env)
    assert missing.exit_code == 2 and "no customer key" in missing.stderr
    twice = CliRunner().invoke(cli, ["log", "query", url, "--log", url + "x"], env=env)
    assert twice.exit_code == 2 and "give the log once" in twice.stderr
