"""The Confluent wire format, pinned byte for byte, and its failure modes."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest

from schemas.codec import Codec, frame, unframe
from schemas.errors import BadMagicByte, CorruptBody, EncodeError, UnknownSchemaId
from schemas.registry import ManifestRegistry
from tests.samples import SAMPLES

GOLDEN = Path(__file__).with_name("golden")
codec = Codec(ManifestRegistry.load())


@pytest.mark.parametrize("entry", ManifestRegistry.load().entries(), ids=lambda e: e.file)
def test_golden_frame_per_schema(entry) -> None:  # type: ignore[no-untyped-def]
    """Each schema id's frame of its sample is frozen; a diff here is a wire-format change."""
    sample = SAMPLES[entry.subject]
    encoded = frame(entry.id, codec.encode_body(entry, sample))
    golden = GOLDEN / f"{entry.subject}.v{entry.version}.hex"
    if os.environ.get("ZJCREDIT_WRITE_GOLDEN") == "1" and not golden.exists():
        golden.write_text(encoded.hex() + "\n")
    assert golden.exists(), f"no golden file {golden}; create it with ZJCREDIT_WRITE_GOLDEN=1"
    assert encoded.hex() == golden.read_text().strip()
    assert encoded[0] == 0
    assert struct.unpack(">I", encoded[1:5])[0] == entry.id
    decoded, writer = codec.decode(encoded, reader=entry)
    assert writer == entry
    fields = {f["name"] for f in entry.schema["fields"]}  # a sample may serve two versions
    expected = {k: v for k, v in sample.items() if k in fields}
    assert decoded == {**expected, **_as_decoded(entry.subject, expected)}


def _as_decoded(subject: str, sample: dict) -> dict:  # type: ignore[type-arg]
    # fastavro hands uuid logical values back as UUID objects.
    import uuid  # noqa: PLC0415

    return {"event_id": uuid.UUID(sample["event_id"])} if "event_id" in sample else {}


def test_encode_uses_the_latest_schema_of_the_subject() -> None:
    latest = codec.registry.latest("tax")
    assert unframe(codec.encode("tax", SAMPLES["tax"]))[0] == latest.id


@pytest.mark.parametrize(
    ("data", "error", "fragment"),
    [
        (b"", BadMagicByte, "too short"),
        (b"\x00\x00\x00", BadMagicByte, "too short"),
        (b'{"uscc": "91330100716105852F"}', BadMagicByte, "byte 0 is 0x7b"),
        (b"\x00\x00\x00\x03\xe7" + b"\x02", UnknownSchemaId, "no schema with id 999"),
        (b"\x00\x00\x00\x00\x02" + b"\x48abc", CorruptBody, "schema id 2"),
    ],
    ids=["empty", "short", "json not avro", "unknown id", "truncated body"],
)
def test_undecodable_messages_raise_a_decode_error_with_a_reason(
    data: bytes, error: type[Exception], fragment: str
) -> None:
    with pytest.raises(error) as caught:
        codec.decode(data)
    assert fragment in str(caught.value)
    assert caught.value.reason in {"bad_magic_byte", "unknown_schema_id", "corrupt_body"}  # type: ignore[attr-defined]


def test_trailing_bytes_are_corruption() -> None:
    good = codec.encode("tax", SAMPLES["tax"])
    with pytest.raises(CorruptBody, match="trailing bytes"):
        codec.decode(good + b"\x00")


def test_a_record_that_does_not_fit_is_an_encode_error() -> None:
    with pytest.raises(EncodeError, match="TaxEvent"):
        codec.encode("tax", {**SAMPLES["tax"], "grade": "E"})


@pytest.mark.parametrize("entry", ManifestRegistry.load().entries(), ids=lambda e: e.file)
def test_a_framed_encoder_is_encode_framed_bound_to_its_schema(entry) -> None:  # type: ignore[no-untyped-def]
    encode = codec.framed_encoder(entry)
    assert encode(SAMPLES[entry.subject]) == codec.encode_framed(entry, SAMPLES[entry.subject])
    with pytest.raises(EncodeError) as bound:
        encode({})
    with pytest.raises(EncodeError) as unbound:
        codec.encode_framed(entry, {})
    assert str(bound.value) == str(unbound.value)
