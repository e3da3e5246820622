"""Patent application numbers: the worked examples of the check rule, and each broken rule.

The valid numbers are the worked examples of the secondary sources cited in
schemas/patent_no.py (the standard's own text was not found): each was computed there by
hand, so they pin the rule, not our reading of it.
"""

from __future__ import annotations

import pytest

from schemas.errors import ContractError, InvalidPatentNumber
from schemas.patent_no import PatentNumber, check_character, normalize, problem, validate

# (number as published, year, kind digit, kind, legacy)
WORKED_EXAMPLES = [
    ("201710601862.3", 2017, "1", "INVENTION", False),
    ("201310699744.2", 2013, "1", "INVENTION", False),
    ("201080063196.9", 2010, "8", "INVENTION", False),  # a PCT application entering China
    ("95115608.X", 1995, "1", "INVENTION", True),  # remainder 10 is written X
    ("97101765.4", 1997, "1", "INVENTION", True),
]


def rule_of(raw: str) -> str:
    with pytest.raises(InvalidPatentNumber) as caught:
        validate(raw)
    assert isinstance(caught.value, ContractError)
    return caught.value.reason


@pytest.mark.parametrize(("number", "year", "digit", "kind", "legacy"), WORKED_EXAMPLES)
def test_every_worked_example_checks(
    number: str, year: int, digit: str, kind: str, legacy: bool
) -> None:
    parsed = validate(number)
    assert parsed.number == number
    assert (parsed.year, parsed.kind_digit, parsed.kind, parsed.legacy) == (
        year,
        digit,
        kind,
        legacy,
    )
    assert check_character(number[:-2]) == number[-1]
    assert problem(number) is None


def test_the_hand_computed_sums() -> None:
    # 201710601862: 2*2+0*3+1*4+7*5+1*6+0*7+6*8+0*9+1*2+8*3+6*4+2*5 = 157 = 14*11 + 3
    assert check_character("201710601862") == "3"
    # 95115608: 9*2+5*3+1*4+1*5+5*6+6*7+0*8+8*9 = 186 = 16*11 + 10 -> X
    assert check_character("95115608") == "X"


def test_the_kinds_of_the_kind_digit() -> None:
    kinds = {}
    for digit in "12389":
        body = f"2016{digit}0000001"
        kinds[digit] = validate(f"{body}.{check_character(body)}")
    assert {d: p.kind for d, p in kinds.items()} == {
        "1": "INVENTION", "2": "UTILITY_MODEL", "3": "DESIGN", "8": "INVENTION",
        "9": "UTILITY_MODEL",
    }  # fmt: skip
    assert [d for d, p in kinds.items() if p.pct] == ["8", "9"]
    # 2*2 + 1*4 + 6*5 + 2*6 + 1*5 = 55 = 5*11: check 0
    assert kinds["2"] == PatentNumber("201620000001.0", 2016, "2", "UTILITY_MODEL", False,
                                      "0000001", False)  # fmt: skip


@pytest.mark.parametrize("wrong", ["0", "1", "2", "4", "9", "X"])
def test_any_other_check_character_is_refused_as_check_digit(wrong: str) -> None:
    assert rule_of(f"201710601862.{wrong}") == "check_digit"
    verdict = problem(f"201710601862.{wrong}")
    assert verdict is not None
    assert verdict[0] == "check_digit"
    assert "check character is '3'" in verdict[1]


def test_a_transposition_breaks_the_check() -> None:
    assert rule_of("201710608162.3") == "check_digit"
    assert rule_of("95115680.X") == "check_digit"


@pytest.mark.parametrize("digit", ["0", "4", "5", "6", "7"])
def test_kind_digits_outside_the_standard_are_refused(digit: str) -> None:
    body = f"2017{digit}0601862"
    assert rule_of(f"{body}.{check_character(body)}") == "kind"  # even with a right check
    body8 = f"95{digit}15608"
    assert rule_of(f"{body8}.{check_character(body8)}") == "kind"


@pytest.mark.parametrize(
    ("raw", "rule"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("201710601862", "format"),  # no check character
        ("20171060186.2", "format"),  # 11 digits
        ("2017106018623.3", "format"),
        ("201710601862.Y", "format"),
        ("2017106O1862.3", "format"),  # letter O for a zero
        ("ZL" + "1" * 60, "format"),  # too long to read
        ("198410000001.1", "year"),  # 12-digit form before 2003 (and before the Patent Law)
        ("200210000001.1", "year"),
        ("05100001.1", "year"),  # 8-digit form after 2003
        ("84100001.1", "year"),  # before the Patent Law of 1985
    ],
)
def test_malformed_numbers_name_their_rule(raw: str, rule: str) -> None:
    assert rule_of(raw) == rule


@pytest.mark.parametrize(
    "written",
    ["ZL201710601862.3", "CN 201710601862.3", "zl2017 1 0601862.3", "2017106018623",
     "ＺＬ２０１７１０６０１８６２．３", " 201710601862.3\t"],
)  # fmt: skip
def test_departments_spellings_normalise_to_one_form(written: str) -> None:
    assert normalize(written) == "201710601862.3"
    assert validate(written).number == "201710601862.3"


def test_old_numbers_normalise_too() -> None:
    assert normalize("zl95115608x") == "95115608.X"
    assert validate("ZL 95115608.x").legacy


def test_the_check_is_defined_for_eight_or_twelve_digits_only() -> None:
    for bad in ("2017106018", "20171060186A", ""):
        with pytest.raises(ValueError, match="8 or 12 digits"):
            check_character(bad)
