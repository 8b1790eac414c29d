"""Loading a policy from text, a file or a directory: read, parse, validate, report all."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from pdp.core.fastsource import fast_source
from pdp.core.model import Policy
from pdp.core.parse import parse_sources
from pdp.core.source import Source, read_source
from pdp.core.validate import validate
from pdp.errors import Location, PolicyError, Problem, sort_problems

POLICY_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class CheckResult:
    """The outcome of checking a policy: the policy when it has no errors, and every problem."""

    policy: Policy | None
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        """The problems that make the policy invalid."""
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        """The problems that do not stop the policy from loading."""
        return [p for p in self.problems if p.severity == "warning"]


def check_texts(texts: list[tuple[str, str]], *, fast: bool = True) -> CheckResult:
    """Check a policy given as (file name, YAML text) pairs, merged in the order given.

    Valid policies are read on the fast path (`pdp.core.fastsource`) when every
    file allows it; any problem at all sends the whole policy through the
    reference reader, so problems always carry exact lines and columns.
    `fast=False` uses the reference reader only.
    """
    if fast:
        fast_sources = [fast_source(text, name) for name, text in texts]
        ready = [source for source in fast_sources if source is not None]
        if len(ready) == len(texts):
            result = _check_sources(texts, ready, [])
            if not result.problems:
                return result
    sources, problems = [], []
    for name, text in texts:
        source, read_problems = read_source(text, name)
        problems += read_problems
        sources.append(source)
    return _check_sources(texts, sources, problems)


def _check_sources(
    texts: list[tuple[str, str]], sources: list[Source], problems: list[Problem]
) -> CheckResult:
    if any(p.severity == "error" for p in problems):
        return CheckResult(None, sort_problems(problems))
    parsed, parse_problems = parse_sources(sources)
    policy, validate_problems = validate(parsed)
    problems = sort_problems(problems + parse_problems + validate_problems)
    if any(p.severity == "error" for p in problems):
        return CheckResult(None, problems)
    return CheckResult(replace(policy, sources=tuple(name for name, _ in texts)), problems)


def policy_files(path: Path) -> list[Path]:
    """The files of a policy: the file itself, or a directory's YAML files in name order."""
    if path.is_dir():
        return sorted(
            (p for p in path.iterdir() if p.is_file() and p.suffix in POLICY_SUFFIXES),
            key=lambda p: p.name,
        )
    return [path]


def read_policy_texts(path: str | Path) -> tuple[list[tuple[str, str]], list[Problem]]:
    """Read the YAML texts of a policy file or directory, with problems for what cannot be read."""
    root = Path(path)
    if not root.exists():
        return [], [
            Problem(
                "not_found",
                f"policy path `{root}` does not exist",
                Location(str(root)),
                hint="give a policy file or a directory of .yaml files",
            )
        ]
    files = policy_files(root)
    if not files:
        return [], [
            Problem(
                "no_policy_files",
                f"directory `{root}` holds no .yaml or .yml file",
                Location(str(root)),
            )
        ]
    texts, problems = [], []
    for file in files:
        try:
            texts.append((str(file), file.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(
                Problem("unreadable", f"cannot read `{file}`: {exc}", Location(str(file)))
            )
    return texts, problems


def check_policy(path: str | Path) -> CheckResult:
    """Check a policy file or directory without raising: the policy if valid, and all problems."""
    texts, problems = read_policy_texts(path)
    if problems:
        return CheckResult(None, problems)
    return check_texts(texts)


def load_policy(path: str | Path) -> Policy:
    """Load a policy file or directory; raise `PolicyError` listing every problem if invalid."""
    return _policy_or_raise(check_policy(path))


def load_policy_text(text: str, name: str = "<policy>") -> Policy:
    """Load a policy from one YAML text; raise `PolicyError` listing every problem if invalid."""
    return _policy_or_raise(check_texts([(name, text)]))


def _policy_or_raise(result: CheckResult) -> Policy:
    if result.policy is None:
        raise PolicyError(result.problems)
    return result.policy
