"""The departments' column names: each names a real field of its source's schema."""

from __future__ import annotations

from schemas.headers import ALIASES, COMMON, field_for, header_key
from schemas.registry import ManifestRegistry


def test_every_alias_names_a_field_of_its_sources_latest_schema() -> None:
    registry = ManifestRegistry.load()
    for source, aliases in ALIASES.items():
        fields = {f["name"] for f in registry.latest(source).schema["fields"]}
        wrong = {alias: field for alias, field in aliases.items() if field not in fields}
        assert wrong == {}, source
        assert not fields & set(aliases), "an alias shadows a field name"
    assert set(ALIASES) == {"enterprise", "tax", "trademark", "blacklist"}


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
