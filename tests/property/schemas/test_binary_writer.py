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

    @settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
    @given(record=avro_values(dict(entry.schema), wide=True))
    def same(record: dict[str, Any]) -> None:
        assert write(record) == _fastavro(entry.parsed, record)

    same()


_UNKNOWN_TO_THE_WRITER = {
    "type": "record", "name": "Odd",
    "fields": [
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "price", "type": {"type": "fixed", "name": "Price", "size": 8,
                                   "logicalType": "decimal", "precision": 18, "scale": 2}},
    ],
}  # fmt: skip


def test_a_logical_type_it_does_not_know_falls_back_to_fastavro() -> None:
    """timestamp-micros, a decimal on fixed: fastavro converts them; the codec uses it."""
    import datetime as dt  # noqa: PLC0415
    import decimal  # noqa: PLC0415

    from schemas.codec import _writer_for  # noqa: PLC0415
    from schemas.registry import RegisteredSchema  # noqa: PLC0415

    with pytest.raises(NotImplementedError, match="timestamp-micros"):
        compile_writer(_UNKNOWN_TO_THE_WRITER)
    parsed = fastavro.parse_schema(_UNKNOWN_TO_THE_WRITER)
    entry = RegisteredSchema(99, "odd", 1, "odd.avsc", _UNKNOWN_TO_THE_WRITER, parsed)
    record = {"at": dt.datetime(2018, 6, 30, 12, 0, 0, 123456, tzinfo=dt.UTC),
              "price": decimal.Decimal("1234.50")}  # fmt: skip
    assert _writer_for(entry)(record) == _fastavro(parsed, record)
