"""Properties of the credit-code validator: generated codes pass, typos are caught.

Why single substitutions are always caught: position i weighs 3^(i-1) mod 31, never 0 because
31 is prime; changing a character changes its value by d in 1..30, so the weighted sum moves by
w*d, which is not 0 mod 31 either. Position 18 maps values to symbols one to one. The one way a
substitution can pass is to land on an allow-listed legacy code: 91350100M0001TGQX1 is valid
and changing its position 18 to M gives the pilot code 91350100M0001TGQXM.
"""

import string

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from schemas.errors import InvalidCreditCode
from schemas.uscc import (
    ALPHABET,
    ENTITY_TYPES,
    PILOT_CODES,
    check_character,
    make_code,
    normalize,
    validate,
)

entity_types = st.sampled_from(sorted(ENTITY_TYPES))
divisions = st.text(alphabet=string.digits, min_size=6, max_size=6)
bodies = st.text(alphabet=ALPHABET, min_size=8, max_size=8)
codes = st.builds(make_code, entity_types, divisions, bodies)


def substitute(code: str, index: int, offset: int) -> str:
    """Replace code[index] by another legal symbol (offset 1..30 steps along the alphabet)."""
    replacement = ALPHABET[(ALPHABET.index(code[index]) + offset) % len(ALPHABET)]
    return code[:index] + replacement + code[index + 1 :]


@given(entity_type=entity_types, division=divisions, body=bodies)
def test_make_code_output_validates(entity_type: str, division: str, body: str) -> None:
    code = validate(make_code(entity_type, division, body), legacy_allowed=frozenset())
    assert (code.entity_type, code.division, code.code[8:16]) == (entity_type, division, body)
    assert not code.legacy


@given(code=codes, index=st.integers(0, 17), offset=st.integers(1, 30))
def test_mod_31_alone_catches_every_single_substitution(code: str, index: int, offset: int) -> None:
    typo = substitute(code, index, offset)
    assert check_character(typo[:17]) != typo[17]


@given(code=codes, index=st.integers(0, 17), offset=st.integers(1, 30))
def test_validate_rejects_every_single_substitution_when_strict(
    code: str, index: int, offset: int
) -> None:
    with pytest.raises(InvalidCreditCode):
        validate(substitute(code, index, offset), legacy_allowed=frozenset())


@given(code=codes, index=st.integers(0, 17), offset=st.integers(1, 30))
@example(code="91350100M0001TGQX1", index=17, offset=ALPHABET.index("M") - 1)
@example(
    code="91350211M0000XUF4R", index=17, offset=(ALPHABET.index("6") - ALPHABET.index("R")) % 31
)
def test_with_the_pilot_allow_list_only_a_pilot_code_slips_through(
    code: str, index: int, offset: int
) -> None:
    typo = substitute(code, index, offset)
    if typo in PILOT_CODES:
        assert validate(typo).legacy
    else:
        with pytest.raises(InvalidCreditCode):
            validate(typo)


def test_a_substitution_can_land_on_a_pilot_code() -> None:
    valid = make_code("91", "350100", "M0001TGQ")
    assert valid == "91350100M0001TGQX1"
    assert substitute(valid, 17, ALPHABET.index("M") - 1) in PILOT_CODES


@given(code=codes, index=st.integers(0, 15))
def test_adjacent_transpositions_in_positions_1_to_17_are_caught(code: str, index: int) -> None:
    # Swapping i and i+1 moves the sum by (a-b)(w_i - 3 w_i) = -2 w_i (a-b), not 0 mod 31.
    if code[index] == code[index + 1]:
        return
    typo = code[:index] + code[index + 1] + code[index] + code[index + 2 :]
    assert check_character(typo[:17]) != typo[17]


@given(raw=st.text())
def test_normalize_is_idempotent(raw: str) -> None:
    once = normalize(raw)
    assert normalize(once) == once


@given(code=codes, pad=st.text(alphabet=" \t\n\u3000\ufeff", max_size=3))
def test_case_and_padding_do_not_change_the_result(code: str, pad: str) -> None:
    assert validate(pad + code.lower() + pad) == validate(code)


REASONS = {
    "empty",
    "length",
    "charset",
    "authority",
    "entity_type",
    "division",
    "org_check",
    "check_char",
}
near_codes = st.text(alphabet=ALPHABET + ALPHABET.lower() + "IOSVZ -", min_size=17, max_size=19)


@given(raw=near_codes | st.text())
def test_any_text_is_accepted_or_refused_with_a_known_reason(raw: str) -> None:
    reason = None
    try:
        code = validate(raw)
    except InvalidCreditCode as error:
        reason = error.reason
    if reason is None:
        assert code.code == normalize(raw)
    else:
        assert reason in REASONS
