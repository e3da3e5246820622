"""Unified social credit code (统一社会信用代码, GB 32100-2015): parse and validate.

The 18-character code every legal person or organisation in China is given for life. It is
the key of every credit record in this service. :func:`validate` checks, in this order:

- ``empty`` / ``length``: 18 characters after :func:`normalize` (trim, upper-case);
- ``charset``: the 31 symbols ``0-9 A-Z`` without I, O, S, V, Z;
- ``authority``: position 1 is a registration authority (1-9, A, N, Y);
- ``entity_type``: position 2 is an entity type of that authority (91 企业, 92 个体工商户, ...);
- ``division``: positions 3-8 are six digits (form only: merged districts keep their codes);
- ``org_check``: position 17 is the GB 11714 check of the organisation-code body (9-16);
- ``check_char``: position 18 is the MOD 31 check of positions 1-17.

The 2015 pilot codes in :data:`PILOT_CODES` fail a check yet are legal; they are accepted
with ``legacy=True``. Failures raise :class:`~schemas.errors.InvalidCreditCode` whose
``reason`` is the rule's name.

Example::

    >>> code = validate(" 91330100716105852f ")
    >>> code.code, code.entity_type_name, code.city_name
    ('91330100716105852F', '企业', '杭州')
    >>> try:
    ...     validate("91330100716105852G")
    ... except InvalidCreditCode as error:
    ...     print(error.reason)
    check_char
"""

from __future__ import annotations

import operator
import string
from dataclasses import dataclass

from schemas.errors import InvalidCreditCode

__all__ = [
    "ALPHABET",
    "ENTITY_TYPES",
    "MAX_RAW",
    "PILOT_CODES",
    "ZHEJIANG_CITIES",
    "CreditCode",
    "check_character",
    "is_valid",
    "make_code",
    "normalize",
    "org_check_character",
    "problem",
    "validate",
]

_LENGTH = 18
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {symbol: value for value, symbol in enumerate(ALPHABET)}
_WEIGHTS = tuple(pow(3, i, 31) for i in range(_LENGTH - 1))
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
# GB 11714 predates the USCC alphabet, so its letters run over all 26 (A=10 ... Z=35).
_ORG_VALUE = {c: int(c, 36) for c in string.digits + string.ascii_uppercase}

# Registration authority (pos 1) -> (name, {entity type (pos 2) -> name}), per GB 32100.
# Authority 9 has no "other" type and Y has only 1: the standard lists nothing more.
_AUTHORITIES: dict[str, tuple[str, dict[str, str]]] = {
    "1": (
        "机构编制",
        {"1": "机关", "2": "事业单位", "3": "中央编办直接管理机构编制的群众团体", "9": "其他"},
    ),
    "2": ("外交", {"1": "外国常驻新闻机构", "9": "其他"}),
    "3": (
        "司法行政",
        {
            "1": "律师执业机构",
            "2": "公证处",
            "3": "基层法律服务所",
            "4": "司法鉴定机构",
            "5": "仲裁委员会",
            "9": "其他",
        },
    ),
    "4": ("文化", {"1": "外国在华文化中心", "9": "其他"}),
    "5": ("民政", {"1": "社会团体", "2": "民办非企业单位", "3": "基金会", "9": "其他"}),
    "6": (
        "旅游",
        {
            "1": "外国旅游部门常驻代表机构",
            "2": "港澳台地区旅游部门常驻内地（大陆）代表机构",
            "9": "其他",
        },
    ),
    "7": ("宗教", {"1": "宗教活动场所", "2": "宗教院校", "9": "其他"}),
    "8": ("工会", {"1": "基层工会", "9": "其他"}),
    "9": ("工商", {"1": "企业", "2": "个体工商户", "3": "农民专业合作社"}),
    "A": ("中央军委改革和编制办公室", {"1": "军队事业单位", "9": "其他"}),
    "N": (
        "农业",
        {"1": "组级集体经济组织", "2": "村级集体经济组织", "3": "乡镇级集体经济组织", "9": "其他"},
    ),
    "Y": ("其他", {"1": "其他"}),
}
ENTITY_TYPES: dict[str, str] = {
    authority + kind: name
    for authority, (_, kinds) in _AUTHORITIES.items()
    for kind, name in kinds.items()
}

ZHEJIANG_CITIES: dict[str, tuple[str, str]] = {
    "330100": ("杭州", "Hangzhou"),
    "330200": ("宁波", "Ningbo"),
    "330300": ("温州", "Wenzhou"),
    "330400": ("嘉兴", "Jiaxing"),
    "330500": ("湖州", "Huzhou"),
    "330600": ("绍兴", "Shaoxing"),
    "330700": ("金华", "Jinhua"),
    "330800": ("衢州", "Quzhou"),
    "330900": ("舟山", "Zhoushan"),
    "331000": ("台州", "Taizhou"),
    "331100": ("丽水", "Lishui"),
}

# 2015 Fujian pilot codes: legal, though position 18 fails the MOD 31 check.
PILOT_CODES: frozenset[str] = frozenset({"91350100M0001TGQXM", "91350211M0000XUF46"})

# BOM and zero-width space ride along in spreadsheet exports, as does U+3000 (the widest
# whitespace code point: nothing above it is whitespace). str.strip is linear; a regex
# anchored at the end retried every start position of a long run of blanks (8.7 s).
_EDGES = "".join(c for c in map(chr, range(0x3001)) if c.isspace()) + "\u200b\ufeff"
# A code as written (blanks around it) longer than this is refused unread: nothing
# downstream parses a megabyte of spaces.
MAX_RAW = 64
# ASCII only: str.upper() would turn "ß" into "SS" and hide the real length.
_UPPER = str.maketrans(string.ascii_lowercase, string.ascii_uppercase)
_STRUCTURAL = frozenset({"empty", "length", "charset"})


@dataclass(frozen=True, slots=True)
class CreditCode:
    """A code that passed :func:`validate`, with its parts decoded."""

    code: str
    authority: str
    entity_type: str
    entity_type_name: str
    division: str
    city_code: str
    city_name: str | None
    province_code: str
    legacy: bool = False


def normalize(raw: str) -> str:
    """Trim whitespace (full-width too) and upper-case ASCII letters."""
    if not isinstance(raw, str):
        raise TypeError(f"a credit code is a str, not {type(raw).__name__}")
    return raw.strip(_EDGES).translate(_UPPER)


def org_check_character(body8: str) -> str:
    """The GB 11714 check character (position 17) of an 8-character organisation body."""
    if len(body8) != 8 or any(c not in _ORG_VALUE for c in body8):
        raise ValueError(f"an organisation body is 8 characters of 0-9 and A-Z, not {body8!r}")
    return _org_check(body8)


def _org_check(body8: str) -> str:
    # Unchecked: callers have validated the characters (this runs once per row).
    c = 11 - sum(map(operator.mul, map(_ORG_VALUE.__getitem__, body8), _ORG_WEIGHTS)) % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


def check_character(first17: str) -> str:
    """The MOD 31 check character (position 18) of the first 17 characters."""
    if len(first17) != _LENGTH - 1 or any(c not in _VALUE for c in first17):
        raise ValueError(f"expected 17 characters of {ALPHABET}, not {first17!r}")
    return _mod31_check(first17)


def _mod31_check(first17: str) -> str:
    total = sum(map(operator.mul, map(_VALUE.__getitem__, first17), _WEIGHTS))
    return ALPHABET[(31 - total % 31) % 31]


def make_code(entity_type: str, division: str, body8: str) -> str:
    """Assemble a valid code: positions 1-16 from the parts, then both check characters."""
    if entity_type not in ENTITY_TYPES:
        raise ValueError(f"unknown entity type {entity_type!r}")
    if not _is_six_digits(division):
        raise ValueError(f"a division is six digits, not {division!r}")
    if len(body8) != 8 or any(c not in _VALUE for c in body8):
        raise ValueError(f"a body is 8 characters of {ALPHABET}, not {body8!r}")
    first17 = entity_type + division + body8 + org_check_character(body8)
    return first17 + check_character(first17)


def validate(raw: str, *, legacy_allowed: frozenset[str] = PILOT_CODES) -> CreditCode:
    """Normalise ``raw`` and check every rule; raise InvalidCreditCode on the first broken one.

    ``legacy_allowed`` holds normalised codes accepted (``legacy=True``) even though a
    rule after ``charset`` fails; pass ``frozenset()`` to be strict.
    """
    code = _normalized(raw)
    try:
        _check(code)
    except InvalidCreditCode as error:
        if error.reason in _STRUCTURAL or code not in legacy_allowed:
            raise
        return _parse(code, legacy=True)
    return _parse(code, legacy=False)


def problem(raw: str, *, legacy_allowed: frozenset[str] = PILOT_CODES) -> str | None:
    """Why ``raw`` is not a valid code (the InvalidCreditCode message), or None.

    Same rules as :func:`validate`, without building the :class:`CreditCode`.
    """
    try:
        code = _normalized(raw)
        _check(code)
    except InvalidCreditCode as error:
        if error.reason in _STRUCTURAL or code not in legacy_allowed:
            return str(error)
    return None


def is_valid(raw: object, *, legacy_allowed: frozenset[str] = PILOT_CODES) -> bool:
    """True when ``raw`` is a str that :func:`validate` accepts."""
    if not isinstance(raw, str):
        return False
    try:
        validate(raw, legacy_allowed=legacy_allowed)
    except InvalidCreditCode:
        return False
    return True


def _normalized(raw: str) -> str:
    if isinstance(raw, str) and len(raw) > MAX_RAW:
        raise _fail("length", f"a credit code has 18 characters, {raw[:20]!r}... has {len(raw):,}")
    return normalize(raw)


def _is_six_digits(text: str) -> bool:
    # str.isdigit() also accepts "²" and Arabic-Indic digits.
    return len(text) == 6 and all(c in string.digits for c in text)


def _fail(reason: str, message: str) -> InvalidCreditCode:
    return InvalidCreditCode(message, reason=reason)


def _check(code: str) -> None:
    if not code:
        raise _fail("empty", "the credit code is empty")
    if len(code) != _LENGTH:
        raise _fail("length", f"a credit code has 18 characters, {code[:40]!r} has {len(code)}")
    for position, ch in enumerate(code, start=1):
        if ch not in _VALUE:
            raise _fail(
                "charset",
                f"illegal character {ch!r} at position {position} of {code!r}: "
                "only 0-9 and A-Z are used, and I, O, S, V, Z never",
            )
    authority = _AUTHORITIES.get(code[0])
    if authority is None:
        raise _fail(
            "authority",
            f"position 1 of {code!r} is {code[0]!r}, not a registration authority "
            f"(one of {', '.join(_AUTHORITIES)})",
        )
    name, kinds = authority
    if code[1] not in kinds:
        raise _fail(
            "entity_type",
            f"position 2 of {code!r} is {code[1]!r}, not an entity type of authority "
            f"{code[0]} ({name}); expected one of {', '.join(kinds)}",
        )
    division = code[2:8]
    if not _is_six_digits(division):
        bad = next(i for i, c in enumerate(division, start=3) if c not in string.digits)
        raise _fail(
            "division",
            f"positions 3-8 of {code!r} must be six digits (division code), "
            f"but position {bad} is {code[bad - 1]!r}",
        )
    expected = _org_check(code[8:16])
    if code[16] != expected:
        raise _fail(
            "org_check",
            f"position 17 of {code!r} is {code[16]!r}, expected {expected!r} "
            f"(organisation-code check of positions 9-16 {code[8:16]!r})",
        )
    expected = _mod31_check(code[:17])
    if code[17] != expected:
        raise _fail(
            "check_char",
            f"position 18 of {code!r} is {code[17]!r}, expected {expected!r} "
            "(MOD 31 check of positions 1-17)",
        )


def _parse(code: str, *, legacy: bool) -> CreditCode:
    division = code[2:8]
    city_code = division[:4] + "00"
    city = ZHEJIANG_CITIES.get(city_code)
    return CreditCode(
        code=code,
        authority=code[0],
        entity_type=code[:2],
        # Only an allow-listed legacy code can carry an unknown pair.
        entity_type_name=ENTITY_TYPES.get(code[:2], "未知"),
        division=division,
        city_code=city_code,
        city_name=city[0] if city else None,
        province_code=division[:2] + "0000",
        legacy=legacy,
    )
