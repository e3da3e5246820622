"""The worker reads the folded sources and its ticks; a source not folded yet is left alone."""

from __future__ import annotations

from schemas.events import ALL_SOURCES, UNFOLDED_SOURCES
from streams.app import ROLES


def test_the_worker_does_not_subscribe_to_a_source_it_cannot_fold() -> None:
    assert "patent" in UNFOLDED_SOURCES
    assert not set(UNFOLDED_SOURCES) & set(ROLES)
    assert set(ROLES) == (set(ALL_SOURCES) - set(UNFOLDED_SOURCES)) | {"ticks"}
