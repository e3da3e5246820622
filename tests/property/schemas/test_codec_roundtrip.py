"""Any valid record of any registered schema survives encode -> decode unchanged."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.codec import Codec, frame, unframe
from schemas.errors import DecodeError
from schemas.registry import ManifestRegistry
from tests.strategies import avro_values

registry = ManifestRegistry.load()
codec = Codec(registry)


def _normalised(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {k: _normalised(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalised(v) for v in value]
    return value


@pytest.mark.parametrize("entry", registry.entries(), ids=lambda e: e.file)
def test_round_trip(entry: Any) -> None:
    @settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], deadline=None)
    @given(record=avro_values(dict(entry.schema)))
    def round_trip(record: dict[str, Any]) -> None:
        data = frame(entry.id, codec.encode_body(entry, record))  # this version, not the latest
        assert unframe(data)[0] == entry.id
        decoded, writer = codec.decode(data, reader=entry)
        assert writer.id == entry.id
        assert _normalised(decoded) == _normalised(record)

    round_trip()


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=200))
def test_random_bytes_never_crash_the_decoder(data: bytes) -> None:
    """Garbage decodes to a DecodeError or (rarely, by chance) to a record; nothing else."""
    try:
        record, _ = codec.decode(data)
    except DecodeError:
        return
    assert isinstance(record, dict)
