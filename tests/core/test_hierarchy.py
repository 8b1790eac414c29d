"""The one shortest-inheritance-path function: breadth first, the least chain on ties."""

from __future__ import annotations

from pdp.core.hierarchy import inheritance_path, inheritance_paths
from pdp.core.model import Role

ROLES = {
    "a": Role("a", inherits=("c", "b")),
    "b": Role("b", inherits=("d",)),
    "c": Role("c", inherits=("d",)),
    "d": Role("d"),
    "e": Role("e", inherits=("d",)),
    "lone": Role("lone"),
}


def test_paths_from_one_role_are_shortest_in_listing_order() -> None:
    paths = inheritance_paths(ROLES, "a")
    assert paths == {"a": ("a",), "c": ("a", "c"), "b": ("a", "b"), "d": ("a", "c", "d")}


def test_the_path_from_several_starts_is_the_shortest_then_least() -> None:
    assert inheritance_path(ROLES, ["a"], ["d"]) == ("a", "c", "d")
    assert inheritance_path(ROLES, ["a", "e"], ["d"]) == ("e", "d")  # shorter
    assert inheritance_path(ROLES, ["e", "b"], ["d"]) == ("b", "d")  # as short, and less
    assert inheritance_path(ROLES, ["a"], ["b", "c"]) == ("a", "b")
    assert inheritance_path(ROLES, ["d"], ["d"]) == ("d",)
    assert inheritance_path(ROLES, ["lone"], ["d"]) == ()
