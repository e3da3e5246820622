"""The sink reads what the worker writes and every source topic, for the history."""

from __future__ import annotations

import dataclasses

from schemas.events import SOURCES
from sink.service import SinkOptions


def test_the_sink_reads_the_outputs_and_every_source_patent_included() -> None:
    (roles,) = [f.default for f in dataclasses.fields(SinkOptions) if f.name == "roles"]
    assert set(roles) == {"profiles", "penalties", *SOURCES}
    assert "patent" in roles
