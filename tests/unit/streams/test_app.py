"""The worker reads every source department send, patent included, and its ticks."""

from __future__ import annotations

from schemas.events import SOURCES
from streams.app import ROLES


def test_the_worker_subscribes_to_every_source_and_its_ticks() -> None:
    assert "patent" in SOURCES
    assert set(ROLES) == {*SOURCES, "ticks"}
