"""The sink reads what the worker folds, and no source the worker does not fold yet."""

from __future__ import annotations

import dataclasses

from schemas.events import SOURCES, UNFOLDED_SOURCES
from sink.service import SinkOptions


def test_the_sink_reads_the_folded_sources_and_not_patent() -> None:
    (roles,) = [f.default for f in dataclasses.fields(SinkOptions) if f.name == "roles"]
    assert set(roles) == {"profiles", "penalties", *SOURCES}
    assert not set(UNFOLDED_SOURCES) & set(roles)
