"""The credit-code validator against the fixtures of domain.md section 1."""

from dataclasses import FrozenInstanceError

import pytest

from schemas.errors import ContractError, InvalidCreditCode
from schemas.uscc import (
    PILOT_CODES,
    ZHEJIANG_CITIES,
    CreditCode,
    check_character,
    is_valid,
    make_code,
    normalize,
    org_check_character,
    validate,
)

# Real codes from domain.md: (code, division, city_code, city_name, province_code).
REAL_CODES = [
    ("91330100716105852F", "330100", "330100", "杭州", "330000"),
    ("91330100799655058B", "330100", "330100", "杭州", "330000"),
    ("91330000733796106P", "330000", "330000", None, "330000"),
    ("91330000727215176K", "330000", "330000", None, "330000"),
    ("913301067046373179", "330106", "330100", "杭州", "330000"),
    ("91330000761336668H", "330000", "330000", None, "330000"),
    ("91440300708461136T", "440300", "440300", None, "440000"),
    ("91110000802100433B", "110000", "110000", None, "110000"),
]


def rejection(raw: str, **kwargs: frozenset[str]) -> InvalidCreditCode:
    with pytest.raises(InvalidCreditCode) as caught:
        validate(raw, **kwargs)
    return caught.value


@pytest.mark.parametrize(("raw", "division", "city_code", "city_name", "province"), REAL_CODES)
def test_every_real_code_passes_with_its_city(
    raw: str, division: str, city_code: str, city_name: str | None, province: str
) -> None:
    code = validate(raw)
    assert code == CreditCode(
        code=raw,
        authority="9",
        entity_type="91",
        entity_type_name="企业",
        division=division,
        city_code=city_code,
        city_name=city_name,
        province_code=province,
        legacy=False,
    )
    assert is_valid(raw)


def test_the_standards_worked_example() -> None:
    assert check_character("91350100M000100Y4") == "3"
    assert validate("91350100M000100Y43").division == "350100"
    error = rejection("91350100M000100Y4Z")
    assert error.reason == "charset"
    assert "'Z'" in str(error)
    assert "position 18" in str(error)


@pytest.mark.parametrize(
    ("raw", "reason", "fragments"),
    [
        ("91330100716105852G", "check_char", ["position 18", "'G'", "expected 'F'"]),
        ("91330000733796106Q", "check_char", ["position 18", "'Q'", "expected 'P'"]),
        ("91330000727215175G", "org_check", ["position 17", "'5'", "expected '6'", "'72721517'"]),
        # Both check characters are wrong: the organisation check runs first.
        ("91330000727215175K", "org_check", ["position 17", "expected '6'"]),
        ("91330000I27215176K", "charset", ["'I'", "position 9", "I, O, S, V, Z"]),
        ("91330100716105852", "length", ["18 characters", "has 17"]),
        ("91330100716105852F0", "length", ["18 characters", "has 19"]),
    ],
)
def test_each_invalid_fixture_fails_with_its_reason(
    raw: str, reason: str, fragments: list[str]
) -> None:
    error = rejection(raw)
    assert error.reason == reason
    for fragment in fragments:
        assert fragment in str(error)
    assert isinstance(error, ValueError)
    assert isinstance(error, ContractError)
    assert not is_valid(raw)


@pytest.mark.parametrize("raw", ["", "   ", "\u3000", "\ufeff \t\n"])
def test_blank_input_is_empty(raw: str) -> None:
    assert rejection(raw).reason == "empty"


@pytest.mark.parametrize(
    ("raw", "reason", "fragments"),
    [
        ("B1330100716105852F", "authority", ["position 1", "'B'"]),
        ("0133010071610585XF", "authority", ["position 1", "'0'"]),
        ("94330100716105852F", "entity_type", ["position 2", "'4'", "工商", "1, 2, 3"]),
        ("99330100716105852F", "entity_type", ["position 2", "'9'"]),
        ("Y9330100716105852F", "entity_type", ["position 2", "authority Y"]),
        ("913301A0716105852F", "division", ["positions 3-8", "position 7", "'A'"]),
        ("91330100716105852f-", "length", ["has 19"]),
        ("91330100 16105852F", "charset", ["' '", "position 9"]),
        ("９1330100716105852F", "charset", ["'９'", "position 1"]),
    ],
)
def test_structural_rules_name_the_position(raw: str, reason: str, fragments: list[str]) -> None:
    error = rejection(raw)
    assert error.reason == reason
    for fragment in fragments:
        assert fragment in str(error)


def test_division_is_checked_for_form_not_for_todays_district_list() -> None:
    # 330103 (下城) was merged away in 2021, but codes issued there live on.
    code = validate(make_code("91", "330103", "MA27XL0C"))
    assert (code.city_code, code.city_name) == ("330100", "杭州")
    assert validate(make_code("91", "990000", "12345678")).city_name is None


def test_province_level_zhejiang_has_no_city() -> None:
    code = validate("91330000727215176K")
    assert code.city_code == "330000"
    assert code.city_name is None
    assert code.province_code == "330000"


@pytest.mark.parametrize(("division", "city"), [("330782", "金华"), ("331102", "丽水")])
def test_county_divisions_roll_up_to_their_city(division: str, city: str) -> None:
    assert validate(make_code("92", division, "L0719637")).city_name == city


def test_zhejiang_has_eleven_cities() -> None:
    assert len(ZHEJIANG_CITIES) == 11
    assert ZHEJIANG_CITIES["330100"] == ("杭州", "Hangzhou")
    assert ZHEJIANG_CITIES["331100"] == ("丽水", "Lishui")


@pytest.mark.parametrize(
    ("entity_type", "name"),
    [
        ("92", "个体工商户"),
        ("93", "农民专业合作社"),
        ("51", "社会团体"),
        ("N2", "村级集体经济组织"),
    ],
)
def test_entity_type_names(entity_type: str, name: str) -> None:
    code = validate(make_code(entity_type, "330100", "12345678"))
    assert (code.authority, code.entity_type, code.entity_type_name) == (
        entity_type[0],
        entity_type,
        name,
    )


@pytest.mark.parametrize("pilot", sorted(PILOT_CODES))
def test_pilot_codes_pass_only_through_the_legacy_path(pilot: str) -> None:
    code = validate(pilot)
    assert code.legacy
    assert (code.code, code.entity_type_name, code.province_code) == (pilot, "企业", "350000")
    assert validate(pilot.lower()).legacy
    assert rejection(pilot, legacy_allowed=frozenset()).reason == "check_char"
    assert not is_valid(pilot, legacy_allowed=frozenset())


def test_a_code_that_passes_every_check_is_not_legacy() -> None:
    assert not validate(
        "91330100716105852F", legacy_allowed=frozenset({"91330100716105852F"})
    ).legacy
    # The pilot body with its correct position 18 is an ordinary valid code.
    assert not validate("91350100M0001TGQX1").legacy


def test_legacy_codes_still_need_length_and_charset() -> None:
    for broken in ("91350100M0001TGQO1", "91350100M0001TGQX"):
        error = rejection(broken, legacy_allowed=frozenset({broken}))
        assert error.reason in {"charset", "length"}


def test_any_allow_listed_code_is_accepted_as_legacy() -> None:
    odd = "Y9330100716105852F"  # an entity type the standard does not list
    code = validate(odd, legacy_allowed=frozenset({odd}))
    assert code.legacy
    assert code.entity_type == "Y9"


def test_lower_case_and_padding_are_normalised() -> None:
    upper = make_code("91", "330282", "L0719637")
    raw = f"\u3000 {upper.lower()}\t"
    assert raw != upper
    assert normalize(raw) == upper
    code = validate(raw)
    assert code.code == upper
    assert code.city_name == "宁波"
    assert validate(raw) == validate(upper)


def test_normalize_rejects_non_strings() -> None:
    with pytest.raises(TypeError):
        normalize(913301067046373179)  # type: ignore[arg-type]
    assert not is_valid(913301067046373179)
    assert not is_valid(None)


def test_check_character_helpers() -> None:
    assert org_check_character("72721517") == "6"
    assert org_check_character("M0001TGQ") == "X"  # c = 10
    assert org_check_character("00000000") == "0"  # c = 11
    assert check_character("91330100716105852") == "F"
    for bad in ("7272151", "727215171", "7272151a", "7272151-"):
        with pytest.raises(ValueError, match="organisation body"):
            org_check_character(bad)
    for bad in ("9133010071610585", "91330100716105852F", "9133010071610585I"):
        with pytest.raises(ValueError, match="17 characters"):
            check_character(bad)


def test_make_code_builds_valid_codes_and_refuses_bad_parts() -> None:
    assert make_code("91", "330100", "71610585") == "91330100716105852F"
    assert make_code("91", "350100", "M000100Y") == "91350100M000100Y43"
    with pytest.raises(ValueError, match="entity type"):
        make_code("94", "330100", "71610585")
    with pytest.raises(ValueError, match="division"):
        make_code("91", "33010", "71610585")
    with pytest.raises(ValueError, match="division"):
        make_code("91", "33010A", "71610585")
    with pytest.raises(ValueError, match="body"):
        make_code("91", "330100", "7161058I")
    with pytest.raises(ValueError, match="body"):
        make_code("91", "330100", "7161058")


def test_credit_code_is_frozen() -> None:
    code = validate("91330100716105852F")
    with pytest.raises(FrozenInstanceError):
        code.code = "x"  # type: ignore[misc]
