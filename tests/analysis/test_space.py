"""Reading bitsets: a mask's set bits, by a regex or by numpy past `WIDE` bits."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pdp.analysis import space
from pdp.analysis.space import set_bits

WIDTHS = st.sampled_from([1, 7, 8, 63, 64, 65, space.WIDE, space.WIDE + 1, 5000, 70_000])


@given(WIDTHS.flatmap(lambda width: st.integers(0, (1 << width) - 1)))
def test_set_bits_are_the_bits_of_the_mask(mask: int) -> None:
    plain = [i for i in range(mask.bit_length()) if mask >> i & 1]
    assert set_bits(mask) == plain
    assert space.set_bit_array(mask).tolist() == plain


def test_a_masks_purposes_are_those_of_its_permissions() -> None:
    from pdp.core.load import load_policy_text

    policy = load_policy_text(
        "version: 1\nactions: [use, read, store]\nclasses: {a: {level: C1}, b: {level: C2}}\n"
        "purposes: {p: {}, p.q: {}, r: {}}\nroles: {}\ngrants: []\n"
    )
    whole = space.PermissionSpace(policy)
    for mask in (0, 1, whole.full, *(1 << bit for bit in range(whole.size)), 0b1001 << 9):
        want = sorted({p for _, p, _ in whole.decode(mask)})
        assert whole.purposes_of(space.set_bit_array(mask)) == want


@given(st.integers(min_value=0, max_value=(1 << 3000) - 1))
def test_a_permission_sets_bits_are_its_masks_whichever_is_read_first(mask: int) -> None:
    from pdp.analysis.finding import Permissions
    from pdp.core.load import load_policy_text

    classes = ", ".join(f"c{i}: {{level: C1}}" for i in range(125))
    policy = load_policy_text(
        f"version: 1\nactions: [use, read, store]\nclasses: {{{classes}}}\n"
        "purposes: {p: {}, p.q: {}, r: {}, s: {}, t: {}, u: {}, v: {}, w: {}}\n"
        "roles: {}\ngrants: []\n"
    )
    whole = space.PermissionSpace(policy)
    mask &= whole.full
    plain = [i for i in range(mask.bit_length()) if mask >> i & 1]
    listed, arrayed = Permissions(whole, mask), Permissions(whole, mask)
    assert listed.bits() == plain == listed.array().tolist()
    assert arrayed.array().tolist() == plain == arrayed.bits()
