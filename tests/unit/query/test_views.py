"""The query service's pure parts: what each role sees, and text aligned by display width."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from query.render import display_width, pad, profile_lines, table
from query.roles import Role, profile_view
from readmodel.rows import to_json
from schemas.sectors import load_catalog
from tests.outputs import oracle
from tests.province import AS_OF, province


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """Profiles as the read model stores them (canonical JSON), from a small province."""
    import orjson  # noqa: PLC0415

    events = province(Path(tmp_path_factory.mktemp("p")), 60, seed=3)
    profiles, _ = oracle(list(itertools.chain(*events.values())), AS_OF)
    return {u: orjson.loads(to_json(p)) for u, p in profiles.items()}


def test_the_public_sees_no_amounts(stored: dict[str, dict]) -> None:
    catalog = load_catalog()
    for profile in stored.values():
        view = profile_view(profile, Role.PUBLIC, catalog)
        assert (view["tax_paid"], view["arrears"], view["credit_line"]) == (None, None, None)
        assert view["hidden"] == ["tax_paid", "arrears", "credit_line"]
        amounts = [t["amount"] for t in profile["tax_paid"] if t["amount"] != "0.00"]
        assert not any(a in str(view) for a in amounts)
        assert [f["points"] for f in view["factors"]] == [f["points"] for f in profile["factors"]]


def test_a_bank_sees_the_amounts_and_only_departments_read_history(stored: dict) -> None:
    profile = next(p for p in stored.values() if p["tax_paid"])
    view = profile_view(profile, Role.BANK, load_catalog())
    assert view["tax_paid"] == profile["tax_paid"]
    assert view["credit_line"] == profile["credit_line"]
    assert view["hidden"] == []
    assert [r for r in Role if r.sees_history] == [Role.DEPARTMENT, Role.ADMIN]
    assert [r for r in Role if not r.sees_tax] == [Role.PUBLIC]


def test_chinese_text_is_padded_by_display_cells() -> None:
    assert display_width("信用浙江") == 8
    assert display_width("ABC") == 3
    assert display_width("（中）") == 6  # full-width brackets
    assert pad("杭州", 6) == "杭州  "
    rows = table(["名称", "x"], [["杭州美兴贸易有限公司", "1"], ["ab", "2"]])
    assert len({display_width(r[: r.rindex(" ") + 1]) for r in rows}) == 1


def test_a_profile_prints_with_aligned_values(stored: dict[str, dict]) -> None:
    profile = next(p for p in stored.values() if p["blacklist"])
    lines = profile_lines(profile_view(profile, Role.PUBLIC, load_catalog()))
    block = lines[2 : lines.index("", 2)]
    starts = {display_width(line[: len(line) - len(line.split("  ")[-1].lstrip())])
              for line in block if line.count("  ") == 2}  # fmt: skip
    assert len(starts) <= 1
    assert any("失信名单" in line for line in lines)
