"""Sealed bundles: built, signed and verified; every alteration refused; the CLI's exit codes."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pdp.cli.app import app
from pdp.core.load import load_policy
from pdp.core.normalize import policy_version
from pdp.errors import BundleError
from pdp.store.bundle import (
    MANIFEST,
    generate_key,
    load_private_key,
    load_public_key,
    read_bundle,
    sign_bundle,
)
from pdp.store.source import load_source, named_texts

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "policies"
runner = CliRunner()


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    """A signing key pair on disk: (private, public)."""
    private, public = generate_key()
    (tmp_path / "k").write_bytes(private)
    (tmp_path / "k.pub").write_bytes(public)
    return tmp_path / "k", tmp_path / "k.pub"


def build(target: Path, key: Path | None = None, policy: Path = POLICIES) -> Path:
    """Build a bundle of a policy directory with the CLI (exit 0 expected)."""
    args = ["bundle", "build", str(policy), "-o", str(target)]
    if key is not None:
        args += ["--sign-key", str(key)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return target


def rewrite(bundle: Path, change: dict[str, bytes | None]) -> None:
    """Rewrite a bundle's members: replace (bytes), drop (None) or add members by name."""
    with tarfile.open(bundle, "r:gz") as tar:
        members = {}
        for info in tar:
            extracted = tar.extractfile(info)
            assert extracted is not None
            members[info.name] = extracted.read()
    for name, data in change.items():
        if data is None:
            members.pop(name)
        else:
            members[name] = data
    with tarfile.open(bundle, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def member(bundle: Path, name: str) -> bytes:
    with tarfile.open(bundle, "r:gz") as tar:
        extracted = tar.extractfile(name)
        assert extracted is not None
        return extracted.read()


def test_a_signed_bundle_round_trips(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    bundle = build(tmp_path / "b.tgz", keys[0])
    read = read_bundle(bundle)
    assert read.signed and [name for name, _ in read.texts] == sorted(
        p.name for p in POLICIES.glob("*.yaml")
    )
    assert read.manifest.version == policy_version(load_policy(POLICIES))
    loaded = load_source(bundle, load_public_key(keys[1]))
    assert loaded.ok and loaded.signed and loaded.kind == "bundle"
    assert loaded.compiled is not None and loaded.compiled.version == read.manifest.version


TRUNCATED = b"version: 1\ngrants:\n"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"policy/50-prohibitions.yaml": None}, "is missing"),
        ({"policy/50-prohibitions.yaml": TRUNCATED}, "does not match its manifest hash"),
        ({"policy/99-extra.yaml": b"version: 1\n"}, "is not listed in the manifest"),
        ({MANIFEST: None}, "has no manifest.json"),
    ],
)
def test_an_altered_bundle_is_refused(
    tmp_path: Path, keys: tuple[Path, Path], change: dict[str, bytes | None], message: str
) -> None:
    bundle = build(tmp_path / "b.tgz", keys[0])
    rewrite(bundle, change)
    with pytest.raises(BundleError, match=message):
        read_bundle(bundle)
    loaded = load_source(bundle, load_public_key(keys[1]))
    assert not loaded.ok and loaded.problems[0].code == "bundle_invalid"


def test_a_manifest_edited_after_signing_fails_the_signature(
    tmp_path: Path, keys: tuple[Path, Path]
) -> None:
    """Drop a file and re-hash the manifest consistently: only the signature catches it."""
    bundle = build(tmp_path / "b.tgz", keys[0])
    manifest = json.loads(member(bundle, MANIFEST))
    manifest["files"] = [f for f in manifest["files"] if f["name"] != "50-prohibitions.yaml"]
    raw = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    rewrite(bundle, {"policy/50-prohibitions.yaml": None, MANIFEST: raw})
    assert not read_bundle(bundle).manifest.files[-1].name.startswith("50")
    loaded = load_source(bundle, load_public_key(keys[1]))
    assert not loaded.ok and "signature does not verify" in loaded.problems[0].message
    # Unsigned verification still catches it: the policy is not the manifest's version.
    unsigned = load_source(bundle)
    assert not unsigned.ok and "its manifest says" in unsigned.problems[0].message


def test_unsigned_or_foreign_signed_bundles_are_refused_with_a_key(
    tmp_path: Path, keys: tuple[Path, Path]
) -> None:
    public = load_public_key(keys[1])
    unsigned = build(tmp_path / "u.tgz")
    assert load_source(unsigned).ok
    refused = load_source(unsigned, public)
    assert not refused.ok and "not signed" in refused.problems[0].message
    other, _ = generate_key()
    (tmp_path / "other").write_bytes(other)
    sign_bundle(unsigned, load_private_key(tmp_path / "other"))
    forged = load_source(unsigned, public)
    assert not forged.ok and "does not verify" in forged.problems[0].message
    sign_bundle(unsigned, load_private_key(keys[0]))
    assert load_source(unsigned, public).ok


def test_a_key_requires_a_bundle(keys: tuple[Path, Path]) -> None:
    loaded = load_source(POLICIES, load_public_key(keys[1]))
    assert not loaded.ok and loaded.problems[0].code == "bundle_required"


def test_problems_name_files_relative_to_the_policy_root(tmp_path: Path) -> None:
    policy = tmp_path / "policy"
    shutil.copytree(POLICIES, policy)
    grants = policy / "40-grants.yaml"
    grants.write_text(grants.read_text().replace("roles: [teller]", "roles: [ghost]", 1))
    loaded = load_source(policy)
    assert not loaded.ok
    assert {p.location.file for p in loaded.problems} == {"40-grants.yaml"}
    assert all(str(tmp_path) not in p.message for p in loaded.problems)
    texts, problems = named_texts(tmp_path / "absent")
    assert texts == [] and str(tmp_path) not in problems[0].message


def test_cli_verify_and_keygen_exit_codes(tmp_path: Path) -> None:
    key = tmp_path / "signing"
    assert runner.invoke(app, ["bundle", "keygen", "-o", str(key)]).exit_code == 0
    assert key.stat().st_mode & 0o777 == 0o600
    assert runner.invoke(app, ["bundle", "keygen", "-o", str(key)]).exit_code == 2
    bundle = build(tmp_path / "b.tgz", key)
    public = str(key) + ".pub"
    ok = runner.invoke(app, ["bundle", "verify", str(bundle), "--verify-key", public, "--json"])
    assert ok.exit_code == 0 and json.loads(ok.output)["signed"] is True
    rewrite(bundle, {"policy/50-prohibitions.yaml": TRUNCATED})
    refused = runner.invoke(app, ["bundle", "verify", str(bundle), "--verify-key", public])
    assert refused.exit_code == 1 and "manifest hash" in refused.output
    missing = runner.invoke(app, ["bundle", "verify", str(tmp_path / "nope.tgz")])
    assert missing.exit_code == 2


def test_cli_build_refuses_an_invalid_policy(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("actions: [use]\nroles: {a: {inherits: [nobody]}}\n")
    result = runner.invoke(app, ["bundle", "build", str(broken), "-o", str(tmp_path / "b")])
    assert result.exit_code == 2 and "no bundle written" in result.output
    assert not (tmp_path / "b").exists()
