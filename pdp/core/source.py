"""Reading policy YAML into plain data while keeping the line and column of every node."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from pdp.errors import Location, Problem

PathKey = tuple[str | int, ...]

_BASE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
STR_TAG = "tag:yaml.org,2002:str"


class _Loader(_BASE_LOADER):  # type: ignore[valid-type,misc]
    """The safe loader (libyaml's composer when available) with implicit tags memoised.

    Policies repeat the same few thousand ids hundreds of thousands of times;
    resolving each scalar's implicit tag by regex dominated loading time.
    """

    _memo: dict[tuple[type, str, tuple[bool, bool]], str] = {}  # noqa: RUF012

    def resolve(self, kind: type, value: Any, implicit: Any) -> Any:
        if kind is not yaml.ScalarNode or not isinstance(value, str):
            return super().resolve(kind, value, implicit)
        key = (kind, value, tuple(implicit))
        tag = self._memo.get(key)
        if tag is None:
            tag = super().resolve(kind, value, implicit)
            if len(self._memo) < 1_000_000:
                self._memo[key] = tag
        return tag


_LOADER = _Loader


@dataclass
class Source:
    """One policy file's plain data, plus the location of each value and each mapping key."""

    file: str
    data: Any = None
    values: dict[PathKey, Location] = field(default_factory=dict)
    keys: dict[PathKey, Location] = field(default_factory=dict)

    def at(self, path: PathKey) -> Location:
        """The location of the value at `path`, or of its nearest located parent."""
        while path:
            if path in self.values:
                return self.values[path]
            path = path[:-1]
        return self.values.get((), Location(self.file, 1, 1))

    def key_at(self, path: PathKey) -> Location:
        """The location of the mapping key that ends `path` (falls back to its value)."""
        return self.keys.get(path) or self.at(path)


class _Reader:
    """Turns a composed YAML node tree into plain Python data with locations."""

    def __init__(self, source: Source, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        self.scalars = yaml.constructor.SafeConstructor()

    def loc(self, node: yaml.Node) -> Location:
        mark = node.start_mark
        return Location(self.source.file, mark.line + 1, mark.column + 1)

    def read(self, node: yaml.Node, path: PathKey) -> Any:
        self.source.values[path] = self.loc(node)
        if node.tag == STR_TAG:
            return node.value
        if isinstance(node, yaml.MappingNode):
            return self.read_mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.read(item, (*path, i)) for i, item in enumerate(node.value)]
        return self.construct(node)

    def construct(self, node: yaml.Node) -> Any:
        """A scalar's value by its tag; a problem (and None) for a tag pdp cannot read."""
        try:
            return self.scalars.construct_object(node, deep=True)
        except ValueError:
            # A well-formed but impossible date (2026-02-30): the text, for the parser to judge.
            return node.value
        except yaml.YAMLError as exc:
            what = getattr(exc, "problem", None) or str(exc)
            self.problems.append(
                Problem(
                    "unsupported_yaml",
                    f"cannot read this value: {what}",
                    self.loc(node),
                    hint="write plain yaml: no custom tags or merge keys (`<<`)",
                )
            )
            return None

    def read_mapping(self, node: yaml.MappingNode, path: PathKey) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self.problems.append(
                    Problem(
                        "invalid_key",
                        "a mapping key must be a plain string",
                        self.loc(key_node),
                        hint="write the key as a plain word",
                    )
                )
                continue
            key = key_node.value if key_node.tag == STR_TAG else self.construct(key_node)
            if key is None and key_node.tag != STR_TAG:
                continue
            key = str(key)
            key_path = (*path, key)
            if key in result:
                self.problems.append(
                    Problem(
                        "duplicate_key",
                        f"key `{key}` is defined twice in the same mapping",
                        self.loc(key_node),
                        id=key,
                        hint="remove or rename one of them",
                    )
                )
                continue
            self.source.keys[key_path] = self.loc(key_node)
            result[key] = self.read(value_node, key_path)
        return result


def read_source(text: str, file: str) -> tuple[Source, list[Problem]]:
    """Parse one YAML document into a `Source`; syntax errors come back as problems."""
    source = Source(file)
    problems: list[Problem] = []
    try:
        nodes = list(yaml.compose_all(text, Loader=_LOADER))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file)
        what = (exc.problem or exc.context or "invalid yaml").strip()
        problems.append(
            Problem(
                "yaml_syntax",
                f"yaml syntax error: {what}",
                where,
                hint="check indentation, colons and quoting near this line",
            )
        )
        return source, problems
    except yaml.YAMLError as exc:
        problems.append(Problem("yaml_syntax", f"yaml error: {exc}", Location(file)))
        return source, problems
    if len(nodes) > 1:
        problems.append(
            Problem(
                "multiple_documents",
                "a policy file must hold a single yaml document",
                Location(file, nodes[1].start_mark.line + 1, 1),
                hint="split the documents into separate files",
            )
        )
    if nodes:
        source.data = _Reader(source, problems).read(nodes[0], ())
    else:
        source.data = {}
        source.values[()] = Location(file, 1, 1)
    return source, problems
