"""The sink's one decision per record (sink/convert.py): rows, skipped, or a dead letter."""

from __future__ import annotations

from typing import Any

import pytest

from readmodel import rows as r
from schemas.codec import Codec, frame
from schemas.registry import ManifestRegistry
from sink.convert import convert
from sink.deadletters import letter_row, refused
from tests.samples import SAMPLES

codec = Codec(ManifestRegistry.load())
PROFILE = SAMPLES["profiles"]
KEY = PROFILE["uscc"].encode()


NOW_MS = 1_800_000_000_000  # the broker's append time of every record here (2027)


def stamped(records: list[tuple[int, bytes | None, bytes | None]]) -> list[Any]:
    """``(offset, key, value)`` with the append time a consumed record carries."""
    return [(*record, NOW_MS) for record in records]


def profile(version: int) -> bytes:
    return codec.encode("profiles", {**PROFILE, "version": version})


def letters(records: list[tuple[int, bytes | None, bytes | None]], role: str = "profiles"
            ) -> list[tuple[int, str, str]]:  # fmt: skip
    batch, _ = convert(role, f"p.{role}", 0, stamped(records))
    return [(x[2], x[3], x[4]) for x in batch.letters]


@pytest.mark.parametrize(
    ("value", "reason", "says"),
    [
        (None, "tombstone", "tombstone"),
        (b"\xff\xfegarbage", "bad_magic_byte", "byte 0"),
        (b"", "bad_magic_byte", "too short"),
        (frame(99_999, b"x"), "unknown_schema_id", "99999"),
        (frame(5, b"\xff\xff\xff"), "corrupt_body", "schema id 5"),
        (codec.encode("enterprise", SAMPLES["enterprise"]), "wrong_subject", "'enterprise'"),
    ],
)
def test_an_unusable_profile_record_is_a_letter_and_the_rest_of_the_batch_stays(
    value: bytes | None, reason: str, says: str
) -> None:
    batch, skipped = convert("profiles", "p.profiles", 3, stamped([(10, KEY, profile(1)),
                             (11, KEY, value), (12, KEY, profile(2))]))  # fmt: skip

    assert [p.enterprise[16] for p in batch.profiles] == [1, 2]
    assert skipped == 0
    assert len(batch.letters) == 1
    topic, partition, offset, got, message, key, raw, _ = batch.letters[0]
    assert (topic, partition, offset, got, key, raw) == ("p.profiles", 3, 11, reason, KEY, value)
    assert says in message
    assert batch.next_offset == 13


def test_a_tombstone_or_wrong_subject_on_penalties_is_a_letter_too() -> None:
    notice = codec.encode("penalties", SAMPLES["penalties"])
    got = letters([(0, KEY, None), (1, KEY, profile(1)), (2, KEY, notice)], "penalties")
    assert [(o, reason) for o, reason, _ in got] == [(0, "tombstone"), (1, "wrong_subject")]


def test_bad_input_events_on_a_source_topic_are_skipped_not_lettered() -> None:
    tax = SAMPLES["tax"]
    good = codec.encode("tax", tax)
    batch, skipped = convert("tax", "p.tax", 0, stamped([
        (0, None, None), (1, b"k", b"garbage"), (2, tax["uscc"].encode(), good),
        (3, tax["uscc"].encode(), codec.encode("enterprise", SAMPLES["enterprise"])),
    ]))  # fmt: skip
    assert batch.letters == []
    assert skipped == 3
    assert [e[9] for e in batch.events] == [2]


def test_a_row_that_cannot_be_built_is_a_bad_row_letter(monkeypatch: pytest.MonkeyPatch) -> None:
    real = r.profile_rows

    def picky(p: Any) -> r.ProfileRows:
        if p["version"] == 2:
            raise KeyError("zjtx")
        return real(p)

    monkeypatch.setattr(r, "profile_rows", picky)
    batch, _ = convert(
        "profiles", "p.profiles", 0, stamped([(0, KEY, profile(2)), (1, KEY, profile(3))])
    )
    assert [p.enterprise[16] for p in batch.profiles] == [3]
    assert [(x[2], x[3]) for x in batch.letters] == [(0, "bad_row")]
    assert "KeyError" in batch.letters[0][4]
    assert "zjtx" in batch.letters[0][4]


def test_a_letters_message_is_text_postgresql_takes() -> None:
    row = letter_row("t", 0, 1, key=None, value=b"\x00", reason="x", message="a\x00b\ud800" * 2000)
    assert "\x00" not in row[4]
    assert row[4].startswith("a\\x00b\\ud800")
    row[4].encode()  # valid UTF-8
    assert len(row[4]) <= 2000
    assert row[4].endswith("(8000 chars)")
    assert row[6] == b"\x00"  # the original bytes untouched


def test_a_refusal_is_named_by_its_sqlstate() -> None:
    class RefusalError(Exception):
        sqlstate = "54000"

    assert refused(RefusalError()) == "refused_54000"
    assert refused(ValueError()) == "refused_unknown"
