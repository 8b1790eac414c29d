"""The fast YAML path against the reference reader: same data, same entity locations, same result.

`pdp.core.fastsource` may only ever be an accelerator: for every text it
either gives up (None) or yields exactly what `pdp.core.source.read_source`
yields for the parts a valid policy keeps, and `check_texts` answers the same
whichever path it took, problems included.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pdp.core.fastsource import MAPPING_SECTIONS, SEQUENCE_SECTIONS, fast_source
from pdp.core.load import CheckResult, check_texts, read_policy_texts
from pdp.core.model import Policy
from pdp.core.source import read_source
from tests.strategies import policies

REFERENCE = Path(__file__).resolve().parents[2] / "policies"

STYLES: list[dict[str, Any]] = [
    {},
    {"default_flow_style": None},
    {"indent": 4},
    {"indent": 4, "default_flow_style": None, "width": 24},
]


def entity_locations(policy: Policy) -> dict[tuple[str, str], Any]:
    """Every entity's location, keyed by its kind and id (locations are not part of ==)."""
    found: dict[tuple[str, str], Any] = {}
    for kind in ("classes", "purposes", "roles", "users"):
        for key, item in getattr(policy, kind).items():
            found[(kind, key)] = item.location
    for grant in policy.grants:
        found[("grants", grant.id)] = grant.location
    for rule in policy.rules:
        found[("rules", rule.id)] = rule.location
    return found


def assert_same_result(fast: CheckResult, slow: CheckResult) -> None:
    assert fast.problems == slow.problems
    assert [p.location for p in fast.problems] == [p.location for p in slow.problems]
    assert fast.policy == slow.policy
    if slow.policy is not None:
        assert fast.policy is not None
        assert entity_locations(fast.policy) == entity_locations(slow.policy)


def test_every_file_of_the_reference_policy_takes_the_fast_path() -> None:
    texts, problems = read_policy_texts(REFERENCE)
    assert not problems
    for name, text in texts:
        assert fast_source(text, name) is not None, name
    assert_same_result(check_texts(texts), check_texts(texts, fast=False))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy=policies(), style=st.sampled_from(STYLES))
def test_generated_policies_read_the_same_on_both_paths(
    policy: dict[str, Any], style: dict[str, Any]
) -> None:
    text = yaml.safe_dump(policy, sort_keys=False, **style)
    fast = fast_source(text, "p.yaml")
    slow, problems = read_source(text, "p.yaml")
    assert not problems
    assert fast is not None
    assert fast.data == slow.data
    for path, where in fast.keys.items():
        assert where == slow.keys[path], path
    for section in SEQUENCE_SECTIONS:
        for index in range(len(slow.data.get(section) or [])):
            assert fast.values[(section, index)] == slow.values[(section, index)]
    for section in MAPPING_SECTIONS:
        for key in slow.data.get(section) or {}:
            assert (section, key) in fast.keys
    assert_same_result(check_texts([("p.yaml", text)]), check_texts([("p.yaml", text)], fast=False))


BASE = """\
version: 1
actions: [use]
levels: [C1]
classes:
  identity: {level: C1}
purposes:
  service: {legal_basis: contract}
roles:
  teller: {}
users:
  u1: {roles: [teller]}
grants:
- id: G1
  roles: [teller]
  classes: [identity]
  purposes: [service]
  actions: [use]
"""

# Texts the fast path must refuse: each reads differently under YAML 1.2 (fast_yaml)
# and YAML 1.1 (PyYAML), or hides a duplicate, or defeats the line scan.
REFUSED = {
    "yaml 1.1 bool id": BASE.replace("teller: {}", "yes: {}"),
    "yaml 1.1 bool in a list": BASE.replace("actions: [use]\n", "actions: [use, on]\n", 1),
    "octal max": BASE + "separation_of_duties:\n- id: S1\n  roles: [teller]\n  max: 017\n",
    "prefixed octal version": BASE.replace("version: 1", "version: 0o1"),
    "underscore number": BASE.replace("version: 1", "version: 1_0"),
    "exponent without dot": BASE.replace("version: 1", "version: 1e0"),
    "date": BASE.replace("u1: {roles: [teller]}", "u1: {roles: [teller], label: 2024-01-01}"),
    "float": BASE.replace("version: 1", "version: 1.0"),
    "nested duplicate key": BASE.replace("  roles: [teller]\n", "  roles: [teller]\n  roles: []\n"),
    "duplicate in a flow mapping": BASE.replace("{level: C1}", "{level: C1, level: C1}"),
    "duplicate section": BASE + "users:\n  u2: {roles: [teller]}\n",
    "duplicate entity": BASE.replace("  teller: {}\n", "  teller: {}\n  teller: {}\n"),
    "second document": BASE + "---\nversion: 1\n",
    "document end marker": BASE + "...\n",
    "merge key": BASE.replace("  teller: {}", "  base: &b {duties: [service]}\n  teller: {<<: *b}"),
    "tag": BASE.replace("label", "x").replace("teller: {}", "teller: !!map {}"),
    "quoted entity key": BASE.replace("  teller: {}", '  "teller": {}'),
    "flow section": BASE.replace("roles:\n  teller: {}\n", "roles: {teller: {}}\n"),
    "item on the next line": BASE.replace("- id: G1\n", "-\n  id: G1\n"),
    "lone carriage return": BASE.replace("\n", "\r", 3),
    "unicode line separator": BASE.replace("\n", "\u2028", 1),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_the_fast_path_refuses_what_it_cannot_read_exactly(name: str) -> None:
    text = REFUSED[name]
    assert fast_source(text, "p.yaml") is None
    texts = [("p.yaml", text)]
    assert_same_result(check_texts(texts), check_texts(texts, fast=False))


ACCEPTED = {
    "base": BASE,
    "crlf": BASE.replace("\n", "\r\n"),
    "comments and blank lines": BASE.replace("roles:\n", "roles:  # who\n\n  # tellers\n"),
    "block scalar": BASE.replace(
        "  teller: {}", "  teller:\n    description: |\n      - not an item\n      x: y"
    ),
    "indented sequence": BASE.split("grants:")[0]
    + "grants:\n  - id: G1\n    roles: [teller]\n    classes: [identity]\n"
    + "    purposes: [service]\n    actions: [use]\n  -   id: G2\n      roles: [teller]\n"
    + "      classes: [identity]\n      purposes: [service]\n      actions: [use]\n",
    "quoted wildcard": BASE.replace("actions: [use]\n", 'actions: ["*"]\n', 2).replace(
        'actions: ["*"]\n', "actions: [use]\n", 1
    ),
    "sod rule": BASE + "separation_of_duties:\n- id: S1\n  roles: [teller]\n  max: 1\n",
}


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_the_fast_path_reads_ordinary_layouts_exactly(name: str) -> None:
    text = ACCEPTED[name]
    assert fast_source(text, "p.yaml") is not None
    texts = [("p.yaml", text)]
    fast, slow = check_texts(texts), check_texts(texts, fast=False)
    assert_same_result(fast, slow)


def test_a_problem_sends_the_whole_policy_to_the_reference_reader() -> None:
    text = BASE.replace("roles: [teller]\n  classes", "roles: [tellr]\n  classes")
    assert fast_source(text, "p.yaml") is not None
    result = check_texts([("p.yaml", text)])
    assert [(p.code, p.location.line, p.location.column) for p in result.problems] == [
        ("undeclared_role", 14, 11)
    ]
    assert_same_result(result, check_texts([("p.yaml", text)], fast=False))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    policy=policies(),
    texts=st.lists(st.text(max_size=60), min_size=1, max_size=6),
    style=st.sampled_from([*STYLES, {"width": 12, "default_style": '"'}, {"width": 12}]),
    unicode=st.booleans(),
)
def test_free_text_reads_the_same_on_both_paths(
    policy: dict[str, Any], texts: list[str], style: dict[str, Any], unicode: bool
) -> None:
    """Labels and descriptions with any characters, folded, escaped or quoted by the emitter."""
    targets = [
        entry
        for section in ("classes", "purposes", "roles", "users")
        for entry in (policy.get(section) or {}).values()
    ]
    for index, entry in enumerate(targets):
        entry["label" if index % 2 else "description"] = texts[index % len(texts)]
    text = yaml.safe_dump(policy, sort_keys=False, allow_unicode=unicode, **style)
    texts_in = [("p.yaml", text)]
    fast, slow = check_texts(texts_in), check_texts(texts_in, fast=False)
    assert_same_result(fast, slow)
    if slow.policy is not None:
        assert fast.policy is not None
        for section in ("classes", "purposes", "roles", "users"):
            for key, item in getattr(slow.policy, section).items():
                other = getattr(fast.policy, section)[key]
                assert (other.label, other.description) == (item.label, item.description)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy=policies(version=2), style=st.sampled_from(STYLES))
def test_generated_v2_policies_read_the_same_on_both_paths(
    policy: dict[str, Any], style: dict[str, Any]
) -> None:
    """Dates (read as text by one reader, as dates by the other), `when` and windows alike."""
    text = yaml.safe_dump(policy, sort_keys=False, **style)
    assert fast_source(text, "p.yaml") is not None
    fast, slow = check_texts([("p.yaml", text)]), check_texts([("p.yaml", text)], fast=False)
    assert fast.policy is not None and fast.policy == slow.policy
    assert_same_result(fast, slow)
