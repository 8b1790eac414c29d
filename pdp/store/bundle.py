"""Sealed policy bundles: a policy's files, a manifest of their hashes and version, a signature.

A bundle is one gzip-compressed tar file::

    manifest.json    {"format": "pdp-bundle/1", "version": "sha256:…", "created": "…",
                      "files": [{"name": "40-grants.yaml", "sha256": "…", "size": 1234}, …]}
    manifest.sig     optional: the Ed25519 signature of manifest.json's exact bytes
    policy/NAME      each policy file the manifest lists, and nothing else

Reading a bundle checks everything before anything is used: the members are
exactly the manifest, the optional signature and the listed files; each file's
sha256 and size match; with a public key, the signature is present and valid.
A file removed, added, cut short or edited, or a manifest edited after
signing, makes the whole bundle unusable (`BundleError`). Whether the policy
inside is valid, and whether its content hash equals the manifest's version,
is checked by the loader (`pdp.store.source`), which compiles it.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from pdp.errors import BundleError

FORMAT = "pdp-bundle/1"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
POLICY_DIR = "policy/"
MAX_BUNDLE_BYTES = 64 * 1024 * 1024
_NAME = re.compile(r"^[A-Za-z0-9._-]{1,200}$")


@dataclass(frozen=True, slots=True)
class BundleFile:
    """One policy file of a bundle: its name, sha256 hex and size in bytes."""

    name: str
    sha256: str
    size: int


@dataclass(frozen=True, slots=True)
class Manifest:
    """What a bundle holds: the policy version and each file's hash."""

    version: str
    created: str
    files: tuple[BundleFile, ...]

    def to_bytes(self) -> bytes:
        """The manifest as canonical JSON (sorted keys): the bytes that are signed."""
        data = {
            "format": FORMAT,
            "version": self.version,
            "created": self.created,
            "files": [{"name": f.name, "sha256": f.sha256, "size": f.size} for f in self.files],
        }
        return json.dumps(data, sort_keys=True, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_bytes(cls, raw: bytes) -> Manifest:
        """Parse a manifest (raises `BundleError` when it is not one)."""
        try:
            data = json.loads(raw)
            if data.get("format") != FORMAT:
                raise BundleError(f"unknown bundle format `{str(data.get('format'))[:40]}`")
            files = tuple(
                BundleFile(str(f["name"]), str(f["sha256"]), int(f["size"])) for f in data["files"]
            )
            return cls(str(data["version"]), str(data["created"]), files)
        except BundleError:
            raise
        except (ValueError, TypeError, KeyError, AttributeError):
            raise BundleError("the bundle's manifest is not valid") from None


@dataclass(frozen=True, slots=True)
class Bundle:
    """A bundle read and hash-checked: its manifest, signature and policy texts."""

    manifest: Manifest
    manifest_bytes: bytes
    signature: bytes | None
    texts: tuple[tuple[str, str], ...]

    @property
    def signed(self) -> bool:
        """True when the bundle carries a signature (checked only by `verify_signature`)."""
        return self.signature is not None


def sha256_hex(data: bytes) -> str:
    """The sha256 of bytes, in hex."""
    return hashlib.sha256(data).hexdigest()


def manifest_of(texts: list[tuple[str, str]], version: str) -> Manifest:
    """The manifest of policy texts given as (file name, text) pairs."""
    files = []
    for name, text in texts:
        data = text.encode("utf-8")
        files.append(BundleFile(name, sha256_hex(data), len(data)))
    created = datetime.now(UTC).isoformat(timespec="seconds")
    return Manifest(version, created, tuple(files))


def _member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def write_bundle(
    path: Path,
    texts: list[tuple[str, str]],
    version: str,
    key: Ed25519PrivateKey | None = None,
) -> Manifest:
    """Write a bundle of policy texts, signed with `key` when given; replaced atomically."""
    for name, _ in texts:
        if not _NAME.match(name):
            raise BundleError(f"policy file name `{name[:80]}` cannot go into a bundle")
    manifest = manifest_of(texts, version)
    raw = manifest.to_bytes()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        _member(tar, MANIFEST, raw)
        if key is not None:
            _member(tar, SIGNATURE, base64.b64encode(key.sign(raw)))
        for name, text in texts:
            _member(tar, POLICY_DIR + name, text.encode("utf-8"))
    replace_file(path, buffer.getvalue())
    return manifest


def replace_file(path: Path, data: bytes) -> None:
    """Write a file whole: to a temporary file beside it, then renamed over it."""
    directory = path.parent if str(path.parent) else Path()
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        Path(temporary).chmod(0o644)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _members(path: Path) -> dict[str, bytes]:
    """Every regular file of a bundle by name (raises `BundleError`)."""
    try:
        if path.stat().st_size > MAX_BUNDLE_BYTES:
            raise BundleError(f"bundle `{path.name}` is larger than {MAX_BUNDLE_BYTES} bytes")
        members: dict[str, bytes] = {}
        with tarfile.open(path, mode="r:gz") as tar:
            for info in tar:
                if not info.isfile():
                    raise BundleError(f"bundle member `{info.name[:80]}` is not a plain file")
                if info.name in members:
                    raise BundleError(f"bundle member `{info.name[:80]}` appears twice")
                extracted = tar.extractfile(info)
                if extracted is None:  # pragma: no cover - isfile() members always extract
                    raise BundleError(f"bundle member `{info.name[:80]}` cannot be read")
                members[info.name] = extracted.read()
        return members
    except BundleError:
        raise
    except FileNotFoundError:
        raise BundleError(f"no bundle at `{path}`") from None
    except (OSError, tarfile.TarError, EOFError):
        raise BundleError(f"`{path.name}` is not a readable policy bundle") from None


def read_bundle(path: Path) -> Bundle:
    """Read a bundle and check its members against the manifest (raises `BundleError`)."""
    members = _members(path)
    raw = members.pop(MANIFEST, None)
    if raw is None:
        raise BundleError(f"bundle `{path.name}` has no {MANIFEST}")
    manifest = Manifest.from_bytes(raw)
    signature = members.pop(SIGNATURE, None)
    texts = []
    for entry in manifest.files:
        data = members.pop(POLICY_DIR + entry.name, None)
        if data is None:
            raise BundleError(f"bundle file `{entry.name}` listed in the manifest is missing")
        if len(data) != entry.size or sha256_hex(data) != entry.sha256:
            raise BundleError(f"bundle file `{entry.name}` does not match its manifest hash")
        try:
            texts.append((entry.name, data.decode("utf-8")))
        except UnicodeDecodeError:
            raise BundleError(f"bundle file `{entry.name}` is not UTF-8") from None
    if members:
        extra = sorted(members)[0]
        raise BundleError(f"bundle member `{extra[:80]}` is not listed in the manifest")
    if not texts:
        raise BundleError(f"bundle `{path.name}` holds no policy file")
    decoded = None if signature is None else _decode_signature(signature)
    return Bundle(manifest, raw, decoded, tuple(texts))


def _decode_signature(raw: bytes) -> bytes:
    try:
        return base64.b64decode(raw.strip(), validate=True)
    except ValueError:
        raise BundleError(f"the bundle's {SIGNATURE} is not base64") from None


def verify_signature(bundle: Bundle, key: Ed25519PublicKey) -> None:
    """Check the bundle's signature with `key` (raises `BundleError` when unsigned or forged)."""
    if bundle.signature is None:
        raise BundleError("the bundle is not signed, and a verify key is configured")
    try:
        key.verify(bundle.signature, bundle.manifest_bytes)
    except InvalidSignature:
        raise BundleError("the bundle's signature does not verify with the given key") from None


def sign_bundle(path: Path, key: Ed25519PrivateKey) -> Manifest:
    """Sign an existing bundle (its files unchanged, its manifest re-signed)."""
    bundle = read_bundle(path)
    return write_bundle(path, list(bundle.texts), bundle.manifest.version, key)


def generate_key() -> tuple[bytes, bytes]:
    """A new Ed25519 key pair as (private PKCS#8 PEM, public SubjectPublicKeyInfo PEM)."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


def _read_key(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise BundleError(f"cannot read key `{path}`: {exc.strerror or exc}") from None


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Read an Ed25519 private key (PEM, unencrypted) (raises `BundleError`)."""
    key: Any
    try:
        key = serialization.load_pem_private_key(_read_key(path), password=None)
    except (ValueError, TypeError):
        raise BundleError(f"`{path}` is not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise BundleError(f"`{path}` is not an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """Read an Ed25519 public key (PEM) (raises `BundleError`)."""
    key: Any
    try:
        key = serialization.load_pem_public_key(_read_key(path))
    except (ValueError, TypeError):
        raise BundleError(f"`{path}` is not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise BundleError(f"`{path}` is not an Ed25519 public key")
    return key
