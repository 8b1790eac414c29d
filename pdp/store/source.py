"""Where a served policy comes from: a file, a directory or a sealed bundle, loaded whole.

`load_source` reads, checks and compiles a policy without raising, and names
files relative to the policy's root (a directory's file names, a bundle's
member names), so that problems never show the machine's paths. A bundle is
used only when its hashes hold, its signature verifies (when a key is given),
the policy inside is valid and its content hash is the manifest's version.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from pdp.core.compile import CompiledPolicy, compile_policy
from pdp.core.load import check_texts, read_policy_texts
from pdp.decision_point import DecisionPoint
from pdp.errors import BundleError, Location, PolicyError, Problem
from pdp.store.bundle import read_bundle, verify_signature

SourceKind = Literal["bundle", "directory", "file", "store", "cache"]
GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True, slots=True)
class LoadedSource:
    """A policy loaded from its source: compiled when usable, else the problems."""

    kind: SourceKind
    compiled: CompiledPolicy | None
    problems: tuple[Problem, ...] = ()
    signed: bool = False

    @property
    def ok(self) -> bool:
        """True when the policy may be served."""
        return self.compiled is not None


def source_kind(path: Path) -> SourceKind:
    """Whether `path` is a bundle (a gzip file), a directory or a plain policy file."""
    if path.is_dir():
        return "directory"
    try:
        with path.open("rb") as handle:
            return "bundle" if handle.read(2) == GZIP_MAGIC else "file"
    except OSError:
        return "file"


def relative_name(name: str, root: Path) -> str:
    """A file name relative to the policy's root (the root's own name for a single file)."""
    path = Path(name)
    try:
        return str(path.relative_to(root)) if root.is_dir() else path.name
    except ValueError:
        return path.name


def _relative(problem: Problem, root: Path) -> Problem:
    location = problem.location
    relative = Location(relative_name(location.file, root), location.line, location.column)
    message = problem.message.replace(f"{root}/", "").replace(str(root), root.name)
    return Problem(problem.code, message, relative, problem.id, problem.hint, problem.severity)


def load_source(path: Path, verify_key: Ed25519PublicKey | None = None) -> LoadedSource:
    """Load, check and compile a policy source (never raises; problems name files relatively)."""
    kind = source_kind(path)
    if kind == "bundle":
        return _load_bundle(path, verify_key)
    if verify_key is not None:
        problem = Problem(
            "bundle_required",
            "a verify key is configured, so only a signed bundle may be served",
            Location(path.name),
            hint="build one with `pdp bundle build POLICY -o FILE --sign-key KEY`",
        )
        return LoadedSource(kind, None, (problem,))
    texts, problems = named_texts(path)
    if problems:
        return LoadedSource(kind, None, problems)
    return compile_texts(kind, texts)


def named_texts(path: Path) -> tuple[list[tuple[str, str]], tuple[Problem, ...]]:
    """A policy file's or directory's texts named relative to it, or the reading problems."""
    texts, problems = read_policy_texts(path)
    if problems:
        return [], tuple(_relative(p, path) for p in problems)
    return [(relative_name(name, path), text) for name, text in texts], ()


def compile_texts(
    kind: SourceKind, texts: list[tuple[str, str]], signed: bool = False
) -> LoadedSource:
    """Check and compile named policy texts into a `LoadedSource`."""
    result = check_texts(texts)
    if result.policy is None:
        return LoadedSource(kind, None, tuple(result.errors))
    return LoadedSource(kind, compile_policy(result.policy), signed=signed)


def _load_bundle(path: Path, verify_key: Ed25519PublicKey | None) -> LoadedSource:
    try:
        bundle = read_bundle(path)
        if verify_key is not None:
            verify_signature(bundle, verify_key)
    except BundleError as exc:
        return LoadedSource("bundle", None, (Problem(exc.code, str(exc), Location(path.name)),))
    loaded = compile_texts("bundle", list(bundle.texts), signed=verify_key is not None)
    if loaded.compiled is not None and loaded.compiled.version != bundle.manifest.version:
        problem = Problem(
            "bundle_invalid",
            f"the bundle's policy is version `{loaded.compiled.version}`, "
            f"its manifest says `{bundle.manifest.version[:80]}`",
            Location(path.name),
        )
        return LoadedSource("bundle", None, (problem,))
    return loaded


def open_source(path: Path, verify_key: Ed25519PublicKey | None = None) -> DecisionPoint:
    """A decision point serving a policy source (raises `PolicyError` with every problem)."""
    loaded = load_source(path, verify_key)
    if loaded.compiled is None:
        raise PolicyError(list(loaded.problems))
    return DecisionPoint(loaded.compiled, path)
