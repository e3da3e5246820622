"""Properties of the patent-number check: made numbers pass, typos are caught.

Why a single changed digit is always caught: each weight (2-9) is not 0 mod 11, and 11 is
prime, so changing a digit by d in 1..9 moves the sum by w*d, never 0 mod 11. Why swapping
two different neighbours is caught: their weights differ by 1 (or by 7 where 9 wraps to 2),
so the sum moves by (a - b) or 7(a - b), not 0 mod 11 either. The remainder maps to the
check character one to one (10 is X). A changed year or kind digit may break an earlier
rule first (``year``, ``kind``): then that is the reason, and the number is still refused.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.errors import InvalidPatentNumber
from schemas.patent_no import KIND_DIGITS, check_character, problem, validate

kinds = st.sampled_from(sorted(KIND_DIGITS))
new_bodies = st.builds(lambda y, k, n: f"{y}{k}{n:07d}", st.integers(2003, 2100), kinds,
                       st.integers(0, 9_999_999))  # fmt: skip
old_bodies = st.builds(lambda y, k, n: f"{y % 100:02d}{k}{n:05d}", st.integers(1985, 2003), kinds,
                       st.integers(0, 99_999))  # fmt: skip
bodies = st.one_of(new_bodies, old_bodies)


def numbered(body: str) -> str:
    return f"{body}.{check_character(body)}"


@given(bodies)
def test_a_made_number_passes_and_keeps_its_parts(body: str) -> None:
    parsed = validate(numbered(body))
    assert parsed.number == numbered(body)
    assert parsed.kind == KIND_DIGITS[parsed.kind_digit]
    assert parsed.legacy == (len(body) == 8)
    assert validate("ZL " + numbered(body).lower()).number == parsed.number


@given(bodies, st.sampled_from("0123456789X"))
def test_every_other_check_character_is_refused(body: str, check: str) -> None:
    number = f"{body}.{check}"
    verdict = problem(number)
    assert (verdict is None) == (check == check_character(body))
    if verdict is not None:
        assert verdict[0] == "check_digit"


@given(bodies, st.data())
def test_a_single_changed_digit_is_refused(body: str, data: st.DataObject) -> None:
    at = data.draw(st.integers(0, len(body) - 1))
    digit = data.draw(st.sampled_from([d for d in "0123456789" if d != body[at]]))
    typo = body[:at] + digit + body[at + 1 :]
    verdict = problem(f"{typo}.{check_character(body)}")
    assert verdict is not None
    assert verdict[0] in ("check_digit", "year", "kind")


@given(bodies, st.data())
def test_swapped_neighbours_are_refused(body: str, data: st.DataObject) -> None:
    at = data.draw(st.integers(0, len(body) - 2))
    if body[at] == body[at + 1]:
        return
    swapped = body[:at] + body[at + 1] + body[at] + body[at + 2 :]
    with pytest.raises(InvalidPatentNumber) as caught:
        validate(f"{swapped}.{check_character(body)}")
    assert caught.value.reason in ("check_digit", "year", "kind")
