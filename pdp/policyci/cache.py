"""A cache of compiled policies on disk, so that repeated work is done once.

`pdp diff main HEAD` and `pdp ci --base main` load the same base version run
after run; reading and compiling a bank-sized policy takes seconds, loading
it from the cache a fraction of that. An entry is found by a key computed
without compiling: the hash of the exact source texts (file names and
contents, from which the policy version derives, and which the locations of
findings cite) and of pdp's own code. The entry holds the compiled policy and
the policy version it claims, and is used only when it passes every check:

- it is authenticated: HMAC-SHA256 over the whole entry with a random
  secret key that only the cache's owner can read (`key`, mode 0600);
- the cache directory belongs to the current user and nobody else can write
  it (mode 0700 when pdp creates it); otherwise the cache is not used at all;
- its header names the key it is filed under, and the value is a
  `CompiledPolicy` of the version the header claims, of the same file names.

An entry failing any check is ignored (and replaced): a corrupt, truncated,
foreign or stale entry is never trusted. The value is a pickle, which can run
code when read: that is why nothing is unpickled before the HMAC check, and
why the key and the directory are the owner's alone (anyone who can write
them can already run code as that user). The cache lives in the user's cache
directory (`platformdirs`), or `PDP_CACHE_DIR`; `PDP_NO_CACHE=1` or a
command's `--no-cache` turns it off. Only the `MAX_ENTRIES` most recently
used entries are kept.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import pickle
import secrets
import stat
import sys
from functools import cache
from pathlib import Path

from pdp.core.compile import CompiledPolicy
from pdp.policyci.git import DEFAULT_PATH, compile_texts, source_texts

FORMAT = 1
MAX_ENTRIES = 16
KEY_BYTES = 32
Texts = list[tuple[str, str]]


class CompiledCache:
    """Compiled policies filed under a hash of their source texts, in one directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._key: bytes | None = None

    def entry_key(self, texts: Texts) -> str:
        """The key of a policy's texts: sha256 of pdp's code and every (name, text) pair."""
        digest = hashlib.sha256(code_id().encode())
        for name, text in texts:
            for part in (name, text):
                data = part.encode("utf-8", "surrogatepass")
                digest.update(len(data).to_bytes(8, "big") + data)
        return digest.hexdigest()

    def get(self, texts: Texts) -> CompiledPolicy | None:
        """The cached compiled policy of these texts, None when absent or not valid."""
        secret = self._secret(create=False)
        if secret is None:
            return None
        key = self.entry_key(texts)
        try:
            data = self._entry(key).read_bytes()
        except OSError:
            return None
        compiled = _verified(data, secret, key, [name for name, _ in texts])
        if compiled is not None:
            with contextlib.suppress(OSError):
                os.utime(self._entry(key))  # recently used: pruned last
        return compiled

    def put(self, texts: Texts, compiled: CompiledPolicy) -> None:
        """File a compiled policy under its texts; a cache that cannot be written is skipped."""
        secret = self._secret(create=True)
        if secret is None:
            return
        key = self.entry_key(texts)
        header = json.dumps({"format": FORMAT, "key": key, "version": compiled.version})
        body = header.encode() + b"\n" + pickle.dumps(compiled, protocol=pickle.HIGHEST_PROTOCOL)
        mac = hmac.new(secret, body, hashlib.sha256).digest()
        target = self._entry(key)
        partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(mac + body)
            partial.replace(target)
            self._prune()
        except OSError:
            partial.unlink(missing_ok=True)

    def _entry(self, key: str) -> Path:
        return self.directory / f"{key}.compiled"

    def _secret(self, *, create: bool) -> bytes | None:
        """The HMAC key, None when the directory is not the user's alone (or cannot be made)."""
        if self._key is not None:
            return self._key
        try:
            if create:
                self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            if not _owned_privately(self.directory):
                return None
            path = self.directory / "key"
            if create and not path.exists():
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as out:
                    out.write(secrets.token_bytes(KEY_BYTES))
            if not _owned_privately(path):
                return None
            secret = path.read_bytes()
        except OSError:
            return None
        if len(secret) != KEY_BYTES:
            return None
        self._key = secret
        return secret

    def _prune(self) -> None:
        entries = sorted(self.directory.glob("*.compiled"), key=lambda p: p.stat().st_mtime)
        for stale in entries[:-MAX_ENTRIES]:
            stale.unlink(missing_ok=True)


def _owned_privately(path: Path) -> bool:
    """True when `path` belongs to this user and no one else may write it."""
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode):
        return False
    if not hasattr(os, "getuid"):  # no POSIX owners: the user's own profile directory
        return True
    return info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _verified(data: bytes, secret: bytes, key: str, names: list[str]) -> CompiledPolicy | None:
    """The compiled policy of an entry that passes every check, else None."""
    mac, body = data[: hashlib.sha256().digest_size], data[hashlib.sha256().digest_size :]
    if not hmac.compare_digest(mac, hmac.new(secret, body, hashlib.sha256).digest()):
        return None
    header_line, _, payload = body.partition(b"\n")
    try:
        header = json.loads(header_line)
        if header.get("format") != FORMAT or header.get("key") != key:
            return None
        compiled = pickle.loads(payload)
    except Exception:  # an entry we wrote but cannot read any more: ignore it
        return None
    if (
        not isinstance(compiled, CompiledPolicy)
        or compiled.version != header.get("version")
        or list(compiled.policy.sources) != names
    ):
        return None
    return compiled


@cache
def code_id() -> str:
    """A hash of the code that defines a compiled policy: an entry of other code is stale."""
    digest = hashlib.sha256(f"{FORMAT} {sys.version}".encode())
    package = Path(__file__).resolve().parents[1]
    for path in sorted([*package.glob("core/*.py"), package / "errors.py"]):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


def load_source(
    source: str, path: str = DEFAULT_PATH, cache: CompiledCache | None = None
) -> CompiledPolicy:
    """`compile_source`, through the cache when there is one."""
    texts = source_texts(source, path)
    compiled = cache.get(texts) if cache is not None else None
    if compiled is None:
        compiled = compile_texts(texts)
        if cache is not None:
            cache.put(texts, compiled)
    return compiled


def default_cache(enabled: bool = True) -> CompiledCache | None:
    """The user's cache (`PDP_CACHE_DIR`, else the platform's cache directory), or None.

    None when `enabled` is false or `PDP_NO_CACHE` is set to anything but `0` or empty.
    """
    if not enabled or os.environ.get("PDP_NO_CACHE", "") not in ("", "0"):
        return None
    override = os.environ.get("PDP_CACHE_DIR")
    if override:
        return CompiledCache(Path(override))
    from platformdirs import user_cache_dir

    return CompiledCache(Path(user_cache_dir("pdp", appauthor=False)) / "compiled")
