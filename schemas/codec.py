"""Confluent wire format: byte 0 is 0, bytes 1-4 the big-endian schema id, then Avro binary.

Encoding writes with the subject's latest schema. Decoding reads the writer's schema id
from the frame and resolves the data to the *reader's* schema (by default the latest
version of the writer's subject), so messages written under every earlier version keep
decoding after the schema evolves.

Example::

    codec = Codec(ManifestRegistry.load())
    frame = codec.encode("tax", event)          # b"\\x00\\x00\\x00\\x00\\x02..."
    record, writer = codec.decode(frame)        # record as a dict, writer = RegisteredSchema
"""

from __future__ import annotations

import io
import struct
from collections.abc import Callable, Mapping
from typing import Any

import fastavro

from schemas.binary import compile_writer
from schemas.errors import BadMagicByte, CorruptBody, EncodeError
from schemas.registry import ManifestRegistry, RegisteredSchema

__all__ = ["MAGIC_BYTE", "Codec", "frame", "unframe"]

MAGIC_BYTE = 0
_HEADER = struct.Struct(">bI")


def frame(schema_id: int, body: bytes) -> bytes:
    """Prefix an Avro body with the Confluent header."""
    return _HEADER.pack(MAGIC_BYTE, schema_id) + body


def unframe(data: bytes) -> tuple[int, memoryview]:
    """Split a Confluent frame into ``(schema_id, body)``; BadMagicByte if it is not one."""
    if len(data) < _HEADER.size:
        raise BadMagicByte(f"{len(data)} bytes is too short for a Confluent frame (5-byte header)")
    magic, schema_id = _HEADER.unpack_from(data)
    if magic != MAGIC_BYTE:
        raise BadMagicByte(f"byte 0 is {magic & 0xFF:#04x}, expected 0x00 (Confluent wire format)")
    return schema_id, memoryview(data)[_HEADER.size :]


def _writer_for(schema: RegisteredSchema) -> Callable[[Any], bytes]:
    try:
        return compile_writer(schema.schema)
    except NotImplementedError:
        parsed = schema.parsed

        def write_with_fastavro(record: Any) -> bytes:
            buffer = io.BytesIO()
            fastavro.schemaless_writer(buffer, parsed, record)
            return buffer.getvalue()

        return write_with_fastavro


# What a writer raises on a record that does not fit its schema.
_WRITE_ERRORS = (ValueError, TypeError, KeyError, AttributeError, OverflowError)


def _does_not_fit(schema: RegisteredSchema, error: Exception) -> EncodeError:
    return EncodeError(f"record does not fit schema {schema.record_name}: {error!r}")


class Codec:
    """Encode and decode Confluent-framed Avro against a registry."""

    def __init__(self, registry: ManifestRegistry) -> None:
        self.registry = registry
        self._writers: dict[int, Callable[[Any], bytes]] = {}

    def encode(self, subject: str, record: Mapping[str, Any]) -> bytes:
        """Serialise ``record`` with the latest schema of ``subject``, framed."""
        schema = self.registry.latest(subject)
        return frame(schema.id, self.encode_body(schema, record))

    def encode_framed(self, schema: RegisteredSchema, record: Mapping[str, Any]) -> bytes:
        """Serialise ``record`` with exactly ``schema`` (a producer that resolved it once)."""
        return frame(schema.id, self.encode_body(schema, record))

    def encode_body(self, schema: RegisteredSchema, record: Mapping[str, Any]) -> bytes:
        """Avro binary of ``record`` under ``schema`` (no frame); EncodeError if it does not fit."""
        try:
            return self._writer(schema)(record)
        except _WRITE_ERRORS as error:
            raise _does_not_fit(schema, error) from error

    def framed_encoder(self, schema: RegisteredSchema) -> Callable[[Mapping[str, Any]], bytes]:
        """:meth:`encode_framed` bound to ``schema``, for a caller that encodes record after
        record with it (the producer's encoders: one call a row, not three)."""
        write = self._writer(schema)
        header = frame(schema.id, b"")

        def encode(record: Mapping[str, Any]) -> bytes:
            try:
                return header + write(record)
            except _WRITE_ERRORS as error:
                raise _does_not_fit(schema, error) from error

        return encode

    def _writer(self, schema: RegisteredSchema) -> Callable[[Any], bytes]:
        write = self._writers.get(schema.id)
        if write is None:
            write = self._writers[schema.id] = _writer_for(schema)
        return write

    def decode(
        self, data: bytes, reader: RegisteredSchema | None = None
    ) -> tuple[dict[str, Any], RegisteredSchema]:
        """Decode a frame; return the record (as ``reader`` sees it) and the writer's schema.

        Raises BadMagicByte, UnknownSchemaId or CorruptBody (all DecodeError).
        """
        schema_id, body = unframe(data)
        writer = self.registry.by_id(schema_id)
        target = reader or self.registry.latest(writer.subject)
        stream = io.BytesIO(body)
        try:
            record = fastavro.schemaless_reader(
                stream, writer.parsed, None if target.id == writer.id else target.parsed
            )
        except (
            ValueError,
            TypeError,
            IndexError,
            EOFError,
            UnicodeDecodeError,
            OverflowError,
        ) as error:
            raise CorruptBody(
                f"body does not decode as schema id {schema_id} ({writer.record_name}): {error}"
            ) from error
        if stream.tell() != len(body):
            raise CorruptBody(
                f"{len(body) - stream.tell()} trailing bytes after a schema id {schema_id} record"
            )
        if not isinstance(record, dict):
            raise CorruptBody(f"schema id {schema_id} did not decode to a record")
        return record, writer
