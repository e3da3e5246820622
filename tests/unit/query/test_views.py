"""The query service's pure parts: what each role sees, and text aligned by display width."""

from __future__ import annotations

import dataclasses
import itertools
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from query.models import Profile
from query.render import display_width, pad, profile_lines, table
from query.roles import HIDDEN_FACTORS, PUBLIC_HIDDEN, Role, profile_view, summary_view
from readmodel.rows import to_json
from schemas.sectors import load_catalog
from streams.core import fold
from streams.core.scorecard import score
from tests.outputs import oracle
from tests.province import AS_OF, province


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """Profiles as the read model stores them (canonical JSON), from a small province."""
    import orjson  # noqa: PLC0415

    events = province(Path(tmp_path_factory.mktemp("p")), 60, seed=3)
    profiles, _ = oracle(list(itertools.chain(*events.values())), AS_OF)
    return {u: orjson.loads(to_json(p)) for u, p in profiles.items()}


def test_the_public_sees_no_amounts_nor_what_would_give_them_away(stored: dict[str, dict]) -> None:
    catalog = load_catalog()
    hidden_factors = 0
    for profile in stored.values():
        view = profile_view(profile, Role.PUBLIC, catalog)
        assert (view["tax_paid"], view["arrears"], view["credit_line"]) == (None, None, None)
        assert view["score"] is None
        assert view["hidden"] == list(PUBLIC_HIDDEN)
        assert list(PUBLIC_HIDDEN) == ["score", "tax_paid", "arrears", "credit_line",
                                       "patent_holdings", "ip_pledge"]  # fmt: skip
        amounts = [t["amount"] for t in profile["tax_paid"] if t["amount"] != "0.00"]
        assert not any(a in str(view) for a in amounts)
        # The factors of public facts, whole; none of the tax amounts (their points give
        # the amounts away, and score minus the public points would give those).
        public = [f for f in profile["factors"] if f["code"] not in HIDDEN_FACTORS]
        assert view["factors"] == public
        hidden_factors += len(profile["factors"]) - len(public)
        assert [(g["year"], g["grade"], g["score"]) for g in view["tax_grades"]] == [
            (g["year"], g["grade"], None) for g in profile["tax_grades"]
        ]
    assert hidden_factors > 0
    assert {"tax_paid", "arrears"} == HIDDEN_FACTORS


@pytest.fixture(scope="module")
def folded(tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    """The pure fold's state profiles of a small province."""
    events = province(Path(tmp_path_factory.mktemp("f")), 60, seed=3)
    return list(fold(list(itertools.chain(*events.values())), AS_OF)[0].values())


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(paid=st.lists(st.integers(0, 10**10), min_size=2, max_size=2),
       owed=st.integers(0, 10**9), which=st.integers(0, 59))  # fmt: skip
def test_the_factors_the_public_sees_do_not_move_with_tax_amounts(
    folded: list[Any], paid: list[int], owed: int, which: int
) -> None:
    """Any other tax paid and arrears, the same public factors: HIDDEN_FACTORS are all
    the scorecard's factors that tax amounts move."""
    p = folded[which % len(folded)]
    years = (AS_OF.year - 2, AS_OF.year - 1)
    other = dataclasses.replace(
        p, tax_paid={y: ((0,), Decimal(a)) for y, a in zip(years, paid, strict=True)},
        arrears=((0,), (Decimal(owed), AS_OF)),
    )  # fmt: skip

    def public(profile: Any) -> list[Any]:
        return [f for f in score(profile, AS_OF).factors if f.code not in HIDDEN_FACTORS]

    assert public(other) == public(p)
    if owed:
        assert "arrears" in {f.code for f in score(other, AS_OF).factors}


def test_the_public_list_items_have_no_score() -> None:
    item = {"uscc": "x", "score": 812, "grade": "EXCELLENT"}
    assert summary_view(item, Role.PUBLIC) == {**item, "score": None}
    for role in (Role.BANK, Role.DEPARTMENT, Role.ADMIN):
        assert summary_view(item, role) == item
    assert [r for r in Role if not r.sees_score] == [Role.PUBLIC]


def test_a_bank_sees_the_amounts_and_only_departments_read_history(stored: dict) -> None:
    profile = next(p for p in stored.values() if p["tax_paid"])
    view = profile_view(profile, Role.BANK, load_catalog())
    assert view["tax_paid"] == profile["tax_paid"]
    assert view["credit_line"] == profile["credit_line"]
    assert view["hidden"] == []
    assert [r for r in Role if r.sees_history] == [Role.DEPARTMENT, Role.ADMIN]
    assert [r for r in Role if not r.sees_tax] == [Role.PUBLIC]


def test_the_public_sees_patent_counts_and_a_bank_the_patents_and_their_pledges(
    stored: dict,
) -> None:
    catalog = load_catalog()
    holders = [p for p in stored.values() if p["patents"]]
    assert holders, "the small province has no patent holder"
    for profile in holders:
        public = profile_view(profile, Role.PUBLIC, catalog)
        bank = profile_view(profile, Role.BANK, catalog)
        in_force = [x for x in profile["patents"] if x["status"] == "IN_FORCE"]
        assert sum(public["patents"].values()) == len(in_force)
        assert public["patents"] == bank["patents"]
        assert (public["patent_holdings"], public["ip_pledge"]) == (None, None)
        assert bank["patent_holdings"] == profile["patents"]
        assert bank["ip_pledge"] == profile["ip_pledge"] is not None
        titles = [x["title"] for x in profile["patents"] if x["title"]]
        assert not any(t in str(public) for t in titles)
        Profile.model_validate(public)
        Profile.model_validate(bank)


def test_a_profile_stored_before_v2_is_served_with_no_patents(stored: dict) -> None:
    v2_only = ("patents", "invention_patent_count", "utility_model_patent_count",
               "design_patent_count", "active_patent_pledge_count", "patent_pledged_amount",
               "ip_pledge")  # fmt: skip
    profile = next(iter(stored.values()))
    v1 = {k: v for k, v in profile.items() if k not in v2_only}
    view = profile_view(v1, Role.BANK, load_catalog())
    assert view["patents"] == {"invention": 0, "utility_model": 0, "design": 0}
    assert (view["patent_holdings"], view["ip_pledge"]) == ([], None)
    Profile.model_validate(view)


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


def test_the_patents_print_for_a_bank_and_only_their_counts_for_the_public(
    stored: dict[str, dict],
) -> None:
    profile = next(p for p in stored.values() if p["patents"])
    catalog = load_catalog()
    public = "\n".join(profile_lines(profile_view(profile, Role.PUBLIC, catalog)))
    bank = "\n".join(profile_lines(profile_view(profile, Role.BANK, catalog)))
    counts = f"发明 invention {profile['invention_patent_count']},"
    assert counts in public
    assert counts in bank
    assert "知识产权 Patents" not in public
    assert f"知识产权 Patents ({len(profile['patents'])})" in bank
    for x in profile["patents"]:
        assert x["patent_no"] in bank
        assert x["patent_no"] not in public
    assert "知识产权质押 IP pledges:" in bank
