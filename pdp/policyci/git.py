"""Policy texts from a path or a git revision: what `pdp diff` and `pdp ci` compare.

A source that exists on disk is a policy file or directory. Otherwise it is a
git revision, read with `git ls-tree` and `git show REV:path` from the
repository around the working directory, at `--path` (a policy file or a
directory whose `*.yaml`/`*.yml` files are merged in name order, as on disk).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path, PurePosixPath

from pdp.core.compile import CompiledPolicy, compile_policy
from pdp.core.load import POLICY_SUFFIXES, check_texts, read_policy_texts
from pdp.errors import PolicyError, RevisionError

DEFAULT_PATH = "policies"


def _git(args: list[str], cwd: Path) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=60
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise RevisionError(f"cannot run git: {exc}") from None
    if done.returncode != 0:
        raise RevisionError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "")
    return done.stdout


def is_revision(rev: str, cwd: Path | None = None) -> bool:
    """True when `rev` names a commit of the git repository around `cwd`."""
    try:
        _git(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], cwd or Path.cwd())
    except RevisionError:
        return False
    return True


def revision_texts(
    rev: str, path: str = DEFAULT_PATH, cwd: Path | None = None
) -> list[tuple[str, str]]:
    """The (name, text) pairs of the policy at `path` in revision `rev`, in merge order.

    Raises `RevisionError` when the revision does not exist or holds no policy there.
    """
    where = cwd or Path.cwd()
    if not is_revision(rev, where):
        raise RevisionError(f"`{rev}` is neither a policy path nor a git revision")
    spec = path.rstrip("/") or "."
    if Path(spec).is_absolute():
        spec = os.path.relpath(spec, where)
    listing = _git(["ls-tree", "-r", "--full-name", "--name-only", rev, "--", spec], where)
    names = [n for n in listing.splitlines() if n]
    prefix = _git(["rev-parse", "--show-prefix"], where).strip()
    full = str(PurePosixPath(prefix) / spec) if prefix else spec
    full = str(PurePosixPath(full))
    if full in names:  # a single policy file
        files = [full]
    else:
        files = sorted(
            (n for n in names if str(PurePosixPath(n).parent) == full or full == "."),
            key=lambda n: PurePosixPath(n).name,
        )
        files = [n for n in files if PurePosixPath(n).suffix in POLICY_SUFFIXES]
    if not files:
        raise RevisionError(f"revision `{rev}` holds no policy at `{path}`")
    return [(f"{rev}:{name}", _git(["show", f"{rev}:{name}"], where)) for name in files]


def source_texts(source: str, path: str = DEFAULT_PATH) -> list[tuple[str, str]]:
    """The policy texts of a source: a path on disk, else a git revision read at `path`.

    Raises `PolicyError` when a file cannot be read and `RevisionError` when the
    source is neither.
    """
    if Path(source).exists():
        texts, problems = read_policy_texts(source)
        if problems:
            raise PolicyError(problems)
        return texts
    return revision_texts(source, path)


def compile_source(source: str, path: str = DEFAULT_PATH) -> CompiledPolicy:
    """Load and compile the policy of a source; raise `PolicyError` or `RevisionError`."""
    return compile_texts(source_texts(source, path))


def compile_texts(texts: list[tuple[str, str]]) -> CompiledPolicy:
    """Check and compile a policy given as (file name, text) pairs; raise its `PolicyError`."""
    result = check_texts(texts)
    if result.policy is None:
        raise PolicyError(result.problems)
    return compile_policy(result.policy)
