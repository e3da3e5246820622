"""The compiled writer is byte-for-byte fastavro, for every registered schema."""

from __future__ import annotations

import io
from typing import Any

import fastavro
import pytest
from hypothesis import HealthCheck, given, settings

from schemas.binary import compile_writer
from schemas.registry import ManifestRegistry
from tests.samples import SAMPLES
from tests.strategies import avro_values

registry = ManifestRegistry.load()


def _fastavro(parsed: Any, record: Any) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, parsed, record)
    return out.getvalue()


@pytest.mark.parametrize("entry", registry.entries(), ids=lambda e: e.file)
def test_same_bytes_as_fastavro(entry: Any) -> None:
    write = compile_writer(entry.schema)
    assert write(SAMPLES[entry.subject]) == _fastavro(entry.parsed, SAMPLES[entry.subject])

    @settings(max_examples=80, suppress_health_check=[HealthCheck.too_slow], deadline=None)
    @given(record=avro_values(dict(entry.schema)))
    def same(record: dict[str, Any]) -> None:
        assert write(record) == _fastavro(entry.parsed, record)

    same()
