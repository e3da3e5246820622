"""The departments' column names: each names a real field of its source's schema."""

from __future__ import annotations

from schemas.headers import ALIASES, COMMON, VALUE_ALIASES, field_for, header_key
from schemas.registry import ManifestRegistry


def test_every_alias_names_a_field_of_its_sources_latest_schema() -> None:
    registry = ManifestRegistry.load()
    for source, aliases in ALIASES.items():
        fields = {f["name"] for f in registry.latest(source).schema["fields"]}
        wrong = {alias: field for alias, field in aliases.items() if field not in fields}
        assert wrong == {}, source
        assert not fields & set(aliases), "an alias shadows a field name"
    assert set(ALIASES) == {"enterprise", "tax", "trademark", "blacklist", "patent"}


def test_the_names_the_issue_gives_and_their_spellings() -> None:
    assert field_for("tax", "统一社会信用代码") == "uscc"
    assert field_for("enterprise", "企业名称") == "name"
    assert field_for("tax", "纳税信用级别") == "grade"
    assert (
        field_for("blacklist", "决定文书号")
        == field_for("trademark", "决定文书号")
        == "decision_no"
    )
    assert field_for("enterprise", " 注册资本（元） ") == "registered_capital"  # full-width, spaced
    assert field_for("tax", "企业名称") is None  # the tax schema has no name
    assert field_for("tax", "grade") is None
    assert header_key("统一 社会信用代码") == "统一社会信用代码"
    assert all(field_for(source, alias) == COMMON[alias] for alias in COMMON for source in ALIASES)


def test_the_patent_columns_the_issue_names() -> None:
    given = {"专利号": "patent_no", "专利名称": "title", "专利类型": "patent_kind",
             "申请日": "application_date", "授权公告日": "grant_date", "质押登记号": "pledge_no",
             "质权人": "pledgee", "担保金额": "secured_amount"}  # fmt: skip
    assert {name: field_for("patent", name) for name in given} == given
    assert field_for("patent", "统一社会信用代码") == "uscc"  # the common envelope too
    assert field_for("trademark", "专利号") is None  # a patent column is the patent's only


def test_every_value_alias_names_a_symbol_of_its_enum() -> None:
    registry = ManifestRegistry.load()
    for source, fields in VALUE_ALIASES.items():
        schema = {f["name"]: f["type"] for f in registry.latest(source).schema["fields"]}
        for field, values in fields.items():
            branches = schema[field] if isinstance(schema[field], list) else [schema[field]]
            (enum,) = [b for b in branches if isinstance(b, dict) and b.get("type") == "enum"]
            assert set(values.values()) <= set(enum["symbols"]), (source, field)
    assert VALUE_ALIASES["patent"]["patent_kind"]["实用新型"] == "UTILITY_MODEL"
