"""The worker's batch step without Kafka: decode, dead-letter, fold once per enterprise."""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import replace
from typing import Any

import pytest

from schemas.codec import Codec
from schemas.registry import ManifestRegistry
from streams.batch import BatchProcessor, Message
from streams.core import Profile, load_rules
from tests.samples import SAMPLES

codec = Codec(ManifestRegistry.load())
NOW = dt.datetime(2018, 7, 1, tzinfo=dt.UTC)
AS_OF = dt.date(2018, 6, 30)


def message(role: str, value: bytes, key: bytes | None, offset: int = 0) -> Message:
    return Message(role, f"t.{role}", 1, offset, key, value)


def good(role: str, **changes: Any) -> Message:
    event = {**copy.deepcopy(SAMPLES[role]), **changes}
    return message(role, codec.encode(role, event), event["uscc"].encode())


def run(messages: list[Message], store: dict[bytes, Profile] | None = None) -> Any:
    processor = BatchProcessor(codec, load_rules())
    states = store or {}
    results = processor.process(messages, lambda _partition, key: states.get(key), AS_OF, NOW)
    return results[1]


def decoded(result: Any, role: str) -> list[dict[str, Any]]:
    return [codec.decode(o.value)[0] for o in result.outputs if o.role == role]


def test_several_events_of_one_enterprise_give_one_state_and_one_profile() -> None:
    """Two facts of one firm in a batch: folded in order, published once."""
    first = good("tax")
    second = good("tax", event_id="2c1d7e3f-9a4b-5c6d-8e7f-0a1b2c3d4e60", tax_year=2017, grade="B")

    result = run([first, second])

    assert list(result.states) == [b"91330100716105852F"]
    (profile,) = decoded(result, "profiles")
    assert [g["grade"] for g in profile["tax_grades"]] == ["A", "B"]
    assert profile["tax_grade"] == "B"
    assert profile["version"] == 2
    assert result.events == {
        "tax": [pytest.approx((NOW - SAMPLES["tax"]["reported_at"]).total_seconds())] * 2
    }


def test_a_replayed_batch_publishes_nothing() -> None:
    """Events already in the stored state change nothing, so nothing is sent again."""
    batch = [good("tax"), good("blacklist")]
    first = run(batch)
    store = dict(first.states)

    again = run(batch, store)

    assert again.outputs == []
    assert again.states == {}


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b'{"not": "avro"}', "bad_magic_byte"),
        (b"\x00\x00\x00\x03\xe7" + b"\x02", "unknown_schema_id"),
        (b"\x00\x00\x00\x00\x02" + b"\x48garbage", "corrupt_body"),
        (b"", "bad_magic_byte"),
    ],
)
def test_undecodable_messages_become_dead_letters(value: bytes, reason: str) -> None:
    result = run([message("tax", value, b"k", offset=41), good("tax")])

    (letter,) = decoded(result, "deadletters")
    assert letter["reason"] == reason
    assert (letter["source_topic"], letter["partition"], letter["offset"]) == ("t.tax", 1, 41)
    assert (letter["key"], letter["value"]) == (b"k", value)
    assert letter["stage"] == "worker"
    assert result.dead_letters == [reason]
    assert len(decoded(result, "profiles")) == 1  # the good event after it is folded


def test_invalid_events_and_misplaced_ones_become_dead_letters() -> None:
    bad_code = {**SAMPLES["tax"], "uscc": "91330100716105852G"}
    bad_sector = {**SAMPLES["blacklist"], "sector": "moon_landing"}
    tax_on_blacklist = codec.encode("tax", SAMPLES["tax"])
    messages = [
        message("tax", codec.encode("tax", bad_code), b"91330100716105852G"),
        message("blacklist", codec.encode("blacklist", bad_sector), bad_sector["uscc"].encode()),
        message("blacklist", tax_on_blacklist, SAMPLES["tax"]["uscc"].encode()),
        message("tax", codec.encode("tax", SAMPLES["tax"]), b"91330000733796106P"),
        message("tax", None, b"k"),  # type: ignore[arg-type]
    ]

    result = run(messages)

    assert [d["reason"] for d in decoded(result, "deadletters")] == [
        "invalid_credit_code",
        "unknown_sector",
        "wrong_subject",
        "key_mismatch",
        "empty_value",
    ]
    assert result.states == {}


def test_a_listing_publishes_its_notice_with_the_profile() -> None:
    result = run([good("blacklist")])

    (notice,) = decoded(result, "penalties")
    assert notice["kind"] == "IMPOSED"
    assert notice["sector"] == SAMPLES["blacklist"]["sector"]
    assert result.notices == {"IMPOSED": 1}
    (profile,) = decoded(result, "profiles")
    assert profile["grade"] == "POOR"


def test_sweep_lifts_a_listing_whose_planned_end_came() -> None:
    listing = good("blacklist", planned_end_on=dt.date(2018, 8, 1))
    store = dict(run([listing]).states)
    processor = BatchProcessor(codec, load_rules())

    early = processor.sweep(store.items(), dt.date(2018, 7, 31))
    late = processor.sweep(store.items(), dt.date(2018, 8, 1))

    assert early.outputs == []
    (notice,) = decoded(late, "penalties")
    assert notice["kind"] == "LIFTED"
    assert "PLANNED_END_REACHED" in notice["reason"]


def test_replayed_messages_rebuild_the_state_and_send_nothing() -> None:
    """Inputs read again to rebuild a lost state: their outputs were committed before."""
    listing, bad = good("blacklist"), message("tax", b"\x07junk", b"91330100716105852F")
    replayed = [replace(listing, replayed=True), replace(bad, replayed=True, offset=1)]

    result = run(replayed)

    assert list(result.states) == [listing.key]
    assert result.outputs == []
    assert result.dead_letters == []
    assert result.events == {}
    # The same listing live: the profile and the IMPOSED notice go out.
    live = run([listing])
    assert sorted(o.role for o in live.outputs) == ["penalties", "profiles"]
    assert live.states == result.states


OTHER = "91330000733796106P"  # a second enterprise (SAMPLES' firms are 91330100716105852F)


def test_a_fold_that_raises_is_dead_lettered_and_the_rest_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bug the fold meets on one event costs that event, never the batch."""
    from streams import batch  # noqa: PLC0415

    real = batch.apply

    def apply(state: Profile, event: Any, *args: Any) -> Any:
        if event.event.get("tax_year") == 2015:
            raise ZeroDivisionError("a bug the fold meets on this event")
        return real(state, event, *args)

    monkeypatch.setattr(batch, "apply", apply)
    bad = good("tax", tax_year=2015, event_id="2c1d7e3f-9a4b-5c6d-8e7f-0a1b2c3d4e61")
    bad = replace(bad, offset=7)
    result = run([bad, good("tax"), good("blacklist", uscc=OTHER)])

    (letter,) = decoded(result, "deadletters")
    assert (letter["reason"], letter["stage"], letter["offset"]) == ("fold_failed", "worker", 7)
    assert "ZeroDivisionError" in letter["message"]
    assert letter["value"] == bad.value
    assert sorted(p["uscc"] for p in decoded(result, "profiles")) == sorted(
        [SAMPLES["tax"]["uscc"], OTHER]
    )


def test_a_profile_that_cannot_be_rendered_is_dead_lettered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The state keeps its events; the other enterprise's profile still goes out."""
    from streams import batch  # noqa: PLC0415

    real = batch.render

    def render(state: Profile, *args: Any) -> Any:
        if state.uscc == OTHER:
            raise ValueError("cannot render this one")
        return real(state, *args)

    monkeypatch.setattr(batch, "render", render)
    hostile = replace(good("blacklist", uscc=OTHER), offset=3)
    result = run([good("tax"), hostile])

    (letter,) = decoded(result, "deadletters")
    assert (letter["reason"], letter["offset"]) == ("render_failed", 3)
    assert [p["uscc"] for p in decoded(result, "profiles")] == [SAMPLES["tax"]["uscc"]]
    assert decoded(result, "penalties") == []  # its notice went with its profile
    assert set(result.states) == {SAMPLES["tax"]["uscc"].encode(), OTHER.encode()}


def test_an_output_larger_than_the_broker_takes_is_dead_lettered() -> None:
    processor = BatchProcessor(codec, load_rules(), max_output_bytes=600)
    messages = [good("tax"), good("blacklist", uscc=OTHER)]  # a listing's profile is longer
    results = processor.process(messages, lambda _p, _k: None, AS_OF, NOW)

    letters = decoded(results[1], "deadletters")
    assert [x["reason"] for x in letters] == ["output_too_large"]
    assert "bytes" in letters[0]["message"]
    assert len(decoded(results[1], "profiles")) == 1


def test_garbage_the_decoder_chokes_on_is_a_dead_letter_not_a_crash() -> None:
    """Whatever a decoder raises on hostile bytes, the message meets the same door."""
    framed = b"\x00" + (1).to_bytes(4, "big") + b"\xff" * 64  # huge lengths, truncated body
    result = run([message("tax", framed, b"k"), good("tax")])

    (letter,) = decoded(result, "deadletters")
    assert letter["reason"] in {"corrupt_body", "unknown_schema_id"}
    assert len(decoded(result, "profiles")) == 1


def test_a_dead_letter_always_fits_the_broker() -> None:
    """A huge hostile key is cut, a huge value left out: the letter itself cannot fail."""
    huge = b"\x00" * 2_000_000
    result = run([message("tax", huge, b"k" * 100_000)])

    (output,) = result.outputs
    assert len(output.value) < 10_000
    letter = codec.decode(output.value)[0]
    assert letter["value"] is None
    assert len(letter["key"]) == 2000
    assert "its offset" in letter["message"]


def test_a_message_stamped_before_its_report_is_from_the_future() -> None:
    """The worker reads reported_at against the broker's append time of the message."""
    event = good("tax")
    stamp = SAMPLES["tax"]["reported_at"] - dt.timedelta(hours=1)
    stamped = replace(event, timestamp_ms=int(stamp.timestamp() * 1000))

    (letter,) = decoded(run([stamped]), "deadletters")
    assert letter["reason"] == "from_the_future"
