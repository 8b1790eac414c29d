"""The service configuration file and the token helpers of the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from pdp.cli.app import app as cli
from pdp.errors import ConfigError
from pdp.service.auth import hash_token
from pdp.service.config import load_config

DIGEST = hash_token("s3cret")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pdp.yaml"
    path.write_text(text)
    return path


def test_full_config(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            f"""
log: sqlite:///x.db
watch: false
watch_interval: 2
tokens:
  - {{name: crm, sha256: {DIGEST}, scopes: [decide, explain]}}
  - {{name: ops, sha256: {"a" * 64}, scopes: [admin]}}
limits: {{max_body_bytes: 2048, max_batch: 50}}
alerts:
  denial_burst: {{window_seconds: 30, threshold: 7}}
  sensitive_outside_duties: {{levels: [C2, C3]}}
""",
        )
    )
    assert config.log == "sqlite:///x.db" and config.watch is False
    assert config.watch_interval == 2.0
    assert config.tokens[0].name == "crm" and config.tokens[0].scopes == {"decide", "explain"}
    assert config.auth_enabled and config.admin_enabled
    assert (config.limits.max_body_bytes, config.limits.max_batch) == (2048, 50)
    assert config.alerts.denial_burst.threshold == 7
    assert config.alerts.denial_burst.window_seconds == 30.0
    assert config.alerts.sensitive_outside_duties.levels == ("C2", "C3")
    assert load_config(write(tmp_path, "")).tokens == ()
    assert load_config(write(tmp_path, "")).log_writer == "process"
    assert load_config(write(tmp_path, "log_writer: thread")).log_writer == "thread"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("colour: blue", "unknown key `colour`"),
        ("tokens: [{name: a, sha256: abc, scopes: [decide]}]", "`tokens[0].sha256`"),
        (f"tokens: [{{name: a, sha256: {DIGEST}, scopes: [root]}}]", "unknown scope `root`"),
        ("limits: {max_batch: 0}", "`limits.max_batch` must be positive"),
        ("limits: {max_batch: 1000000}", "at most 10000"),
        ("limits: {max_batch: many}", "`limits.max_batch` must be a int"),
        ("alerts: {denial_burst: {burst: 1}}", "unknown key `alerts.denial_burst.burst`"),
        ("watch: maybe", "`watch` must be true or false"),
        ("log_writer: fast", "`log_writer` must be `process` or `thread`"),
        ("[1, 2]", "must be a mapping"),
        ("a: [", "not valid YAML"),
    ],
)
def test_bad_config_is_one_line_naming_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_token_commands() -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["token", "hash", "s3cret"])
    assert result.exit_code == 0 and result.stdout.strip() == DIGEST
    result = runner.invoke(cli, ["serve", "--print-token-hash"], input="s3cret\n")
    assert result.exit_code == 0 and result.stdout.strip() == DIGEST
    result = runner.invoke(cli, ["token", "new", "--name", "crm", "--scope", "decide"])
    assert result.exit_code == 0
    assert "name: crm" in result.stdout and "scopes: [decide]" in result.stdout
    result = runner.invoke(cli, ["token", "new", "--name", "crm", "--scope", "root"])
    assert result.exit_code == 2


def test_serve_refuses_a_bad_config_or_policy(tmp_path: Path) -> None:
    runner = CliRunner()
    bad = write(tmp_path, "colour: blue")
    result = runner.invoke(cli, ["serve", "tests/service/policy", "--config", str(bad)])
    assert result.exit_code == 2 and "unknown key `colour`" in result.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\nactions: [use]\ngrants: [{roles: [ghost]}]\n")
    result = runner.invoke(cli, ["serve", str(broken)])
    assert result.exit_code == 2


def test_connection_limits_and_allowed_hosts(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            "limits: {read_timeout: 2.5, keep_alive_timeout: 3, max_connections: 50}\n"
            "allowed_hosts: [pdp.bank.internal, 'pdp.bank.internal:8181']\n",
        )
    )
    limits = config.limits
    assert (limits.read_timeout, limits.keep_alive_timeout, limits.max_connections) == (2.5, 3, 50)
    assert config.allowed_hosts == ("pdp.bank.internal", "pdp.bank.internal:8181")
    for bad in ("allowed_hosts: pdp\n", "allowed_hosts: ['']\n", "limits: {read_timeout: 0}\n"):
        with pytest.raises(ConfigError):
            load_config(write(tmp_path, bad))
