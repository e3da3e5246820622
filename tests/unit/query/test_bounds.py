"""query/bounds.py: which search texts reach the database, and how deep a page goes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from query.bounds import PAGE_DEPTH, name_text, page_offset
from query.errors import InvalidParameter


def _refused(text: str) -> dict[str, str]:
    with pytest.raises(InvalidParameter) as raised:
        name_text(text)
    body = raised.value.body()
    assert (body["status"], body["details"][0]["field"]) == (422, "q")
    detail: dict[str, str] = body["details"][0]
    return detail


@pytest.mark.parametrize(
    "text", ["杭州市", "  阿里巴 ", "abc", "（杭州市）", "A1b", "x-杭州市", "913"]
)
def test_a_text_with_three_letters_or_digits_in_a_row_is_kept_trimmed(text: str) -> None:
    assert name_text(text) == text.strip()


@pytest.mark.parametrize("text", ["杭", "杭州", "ab", "a b c", "杭 州 市", "a_b", "ab%c", "a1-b2"])
def test_a_text_without_a_trigram_is_too_short_and_says_what_works(text: str) -> None:
    detail = _refused(text)
    assert detail["rule"] == "too_short"
    assert "3 letters or digits in a row" in detail["message"]
    assert "credit code" in detail["message"]
    assert "city" in detail["message"]


@pytest.mark.parametrize("text", ["...", "（）", "%%%", "、 ，", "___", "—"])
def test_punctuation_alone_is_refused(text: str) -> None:
    assert _refused(text)["rule"] == "no_letters"


def test_empty_and_control_characters_are_refused() -> None:
    assert _refused("   ")["rule"] == "empty"
    assert _refused("杭州市\x00")["rule"] == "characters"
    assert name_text(None) is None


@given(st.text(min_size=1, max_size=50))
def test_every_text_kept_has_a_run_that_pg_trgm_indexes(text: str) -> None:
    try:
        kept = name_text(text)
    except InvalidParameter:
        return
    assert kept is not None
    runs = [0]
    for c in kept:
        runs.append(runs[-1] + 1 if c.isalnum() else 0)
    assert max(runs) >= 3


def test_pages_reach_the_stated_depth_and_no_further() -> None:
    assert page_offset(1, 20) == 0
    assert page_offset(500, 20) == PAGE_DEPTH - 20
    assert page_offset(100, 100) == PAGE_DEPTH - 100
    assert page_offset(PAGE_DEPTH, 1) == PAGE_DEPTH - 1
    for page, size in ((501, 20), (101, 100), (PAGE_DEPTH + 1, 1)):
        with pytest.raises(InvalidParameter) as raised:
            page_offset(page, size)
        body = raised.value.body()
        assert body["error"] == "page_too_deep"
        assert "narrow the filters" in body["message"]
        assert "format=csv" in body["message"]
