"""Hypothesis strategies for hostile input: schema-valid events a department might send.

Built from the Avro schemas (``schemas/avro/*.avsc``, through the registry): every field
of every source, given a value at or past its bound: extreme lengths, control, format
and combining characters, edge decimals, dates and timestamps; and whole messages that
are wrong in other ways: mismatched keys and subjects, oversized values, tombstones,
raw garbage; and records a foreign producer might write to the worker's output topics,
for the sink. Used by the fuzz test on the real pipeline (tests/integration/test_fuzz.py)
and by the producer's (rows through ``zjcredit produce``).

A :class:`Hostile` message is what goes to a topic: its role, key and value bytes. Which
ones the contract accepts is not decided here: the test asks the contract, so a hostile
value that turns out to be fine (a name of exactly 200 characters) must be folded.
"""

from __future__ import annotations

import datetime as dt
import decimal
import random
import string
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from schemas.bounds import MAX_LENGTH
from schemas.codec import Codec
from schemas.errors import ContractError
from schemas.events import SOURCES
from schemas.registry import ManifestRegistry
from tests.samples import SAMPLES
from tests.strategies import avro_values

registry = ManifestRegistry.load()
codec = Codec(registry)
SCHEMAS = {source: registry.latest(source) for source in SOURCES}

# Lengths at and around every bound, and far past them.
_LENGTHS = sorted({0, 1, 17, 18, 19, 64, 65, 2000, 2001, 4000, 20_000}
                  | {n + d for n in MAX_LENGTH.values() for d in (0, 1)})  # fmt: skip
_NASTY = [
    "\x00", "\x07", "\x1b", "\x7f", "\t", "\n", "\r\n", "\u0085", "\u200b", "\u200d",
    "\u202e", "\u2066", "\ufeff", "\u3000", "\ue000", "\U0010fffd", "\u0301", "\u0300" * 40,
    "😀", "👨‍👩‍👧", "𠀀", "　", "\\", "'", '"', "%s", "${jndi:ldap://x}", "<script>",
    "NULL", "", " ",
]  # fmt: skip
_PIECES = st.one_of(st.sampled_from(_NASTY), st.text(max_size=8), st.just("浙"), st.just("a"))


@st.composite
def hostile_text(draw: st.DrawFn) -> str:
    """Text at or past a bound: a run of one piece to a bound's length, or a nasty mix."""
    if draw(st.booleans()):
        piece = draw(st.sampled_from(["浙", "a", " ", "\u3000", "e\u0301", "\x00", "9"]))
        return piece * draw(st.sampled_from(_LENGTHS))
    text = "".join(draw(st.lists(_PIECES, min_size=1, max_size=6)))
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")  # Avro is UTF-8


_EDGE_AMOUNTS = [
    "0", "0.00", "0.01", "-0.01", "-1", "9999999999999999.99", "-9999999999999999.99",
    "1234567890123456.78", "0.99", "100", "100.01",
]  # fmt: skip
_EDGE_DATES = [
    dt.date(1, 1, 1), dt.date(1899, 12, 31), dt.date(1900, 1, 1), dt.date(1970, 1, 1),
    dt.date(1999, 12, 31), dt.date(2018, 6, 30), dt.date(2100, 12, 31), dt.date(2101, 1, 1),
    dt.date(2107, 3, 1), dt.date(9999, 12, 31),
]  # fmt: skip
_EDGE_INTS = [-(2**31), -1, 0, 1, 45, 46, 1989, 1990, 2018, 2100, 2101, 2**31 - 1]


def _edge_timestamps() -> st.SearchStrategy[dt.datetime]:
    # Relative to now (the broker's append time is the moment read): 5 minutes ahead is
    # inside the stated skew, a day ahead is not; far margins, so no test races the clock.
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    fixed = [dt.datetime.combine(d, dt.time(), dt.UTC) for d in _EDGE_DATES if d.year > 1]
    return st.sampled_from([*fixed, now + dt.timedelta(minutes=5), now + dt.timedelta(days=1)])


def _branches(field_type: Any) -> list[Any]:
    return field_type if isinstance(field_type, list) else [field_type]


def _hostile_value(field_type: Any) -> st.SearchStrategy[Any]:
    """A value at a bound for a field of this Avro type (a union: one of its branches)."""
    options = []
    for branch in _branches(field_type):
        logical = branch.get("logicalType") if isinstance(branch, dict) else None
        kind = branch.get("type") if isinstance(branch, dict) else branch
        if logical == "decimal":
            scale = branch["scale"]
            options.append(st.sampled_from(_EDGE_AMOUNTS).map(
                lambda a, s=scale: decimal.Decimal(a).quantize(decimal.Decimal(1).scaleb(-s))))  # fmt: skip
        elif logical == "date":
            options.append(st.sampled_from(_EDGE_DATES))
        elif logical == "timestamp-millis":
            options.append(_edge_timestamps())
        elif kind == "string":
            options.append(hostile_text())
        elif kind == "int":
            options.append(st.sampled_from(_EDGE_INTS))
        elif kind == "null":
            options.append(st.none())
    return st.one_of(options) if options else st.nothing()


# Per source, the fields a hostile value exists for (an enum's symbols are all fine).
_TARGETS = {
    source: [(f["name"], _hostile_value(f["type"])) for f in entry.schema["fields"]
             if f["name"] != "event_id" and not _hostile_value(f["type"]).is_empty]
    for source, entry in SCHEMAS.items()
}  # fmt: skip


@dataclass(frozen=True)
class Hostile:
    """A message for a source topic (or another ``role``): what it is, for failures."""

    role: str
    key: bytes | None
    value: bytes | None
    what: str


Good = tuple[str, Mapping[str, Any]]  # (source, decoded event) of the province


def _encoded(source: str, event: Mapping[str, Any]) -> bytes | None:
    try:
        return codec.encode(source, event)
    except (ContractError, ValueError, TypeError, OverflowError):
        return None  # not schema-valid after all (a decimal past its precision): skipped


@st.composite
def mutated(draw: st.DrawFn, good: Sequence[Good]) -> Hostile | None:
    """A province event with one field at a bound (and a fresh id, so if the contract
    accepts it, it is a new fact, not a different version of a folded one)."""
    source, event = draw(st.sampled_from(good))
    field, values = draw(st.sampled_from(_TARGETS[source]))
    value = draw(values)
    changed = {**event, field: value, "event_id": str(uuid.uuid4())}
    data = _encoded(source, changed)
    if data is None:
        return None
    key = str(changed["uscc"]).encode("utf-8", "replace")
    return Hostile(source, key, data, f"{source}.{field}={str(value)[:40]!r}")


@st.composite
def misplaced(draw: st.DrawFn, good: Sequence[Good]) -> Hostile:
    """A good event keyed by another code (or none), or on another source's topic."""
    source, event = draw(st.sampled_from(good))
    data = codec.encode(source, {**event, "event_id": str(uuid.uuid4())})
    if draw(st.booleans()):
        other = draw(st.sampled_from([s for s in SOURCES if s != source]))
        return Hostile(other, str(event["uscc"]).encode(), data, f"a {source} event on {other}")
    key = draw(st.sampled_from([None, b"", b"x" * 10_000, b"\xff\xfe",
                                str(event["uscc"]).lower().encode(),
                                str(draw(st.sampled_from(good))[1]["uscc"]).encode()]))  # fmt: skip
    return Hostile(source, key, data, f"a {source} event keyed {key[:20] if key else key!r}")


@st.composite
def random_event(draw: st.DrawFn) -> Hostile | None:
    """Any value the schema allows, in every field (almost never a valid credit code)."""
    source = draw(st.sampled_from(SOURCES))
    event = draw(avro_values(SCHEMAS[source].schema))
    data = _encoded(source, event)
    if data is None:
        return None
    return Hostile(source, str(event["uscc"]).encode("utf-8", "replace"), data,
                   f"random {source} event")  # fmt: skip


@st.composite
def garbage(draw: st.DrawFn) -> Hostile:
    """Bytes that are not an event: random, a known schema id over a random body, none."""
    source = draw(st.sampled_from(SOURCES))
    body = draw(st.binary(max_size=300))
    choice = draw(st.sampled_from(["raw", "framed", "tombstone", "ticks"]))
    if choice == "tombstone":
        return Hostile(source, b"k", None, "a tombstone")
    if choice == "ticks":
        tick = codec.encode("ticks", {"as_of": dt.date(2018, 7, 1),
                                      "sent_at": dt.datetime.now(dt.UTC)})  # fmt: skip
        return Hostile(source, b"k", tick, "a tick on a source topic")
    if choice == "framed":
        schema_id = draw(st.sampled_from([SCHEMAS[source].id, 0, 2**31 - 1]))
        return Hostile(source, b"k", b"\x00" + schema_id.to_bytes(4, "big") + body,
                       f"schema id {schema_id} over {len(body)} random bytes")  # fmt: skip
    return Hostile(source, None, body, f"{len(body)} random bytes")


def oversized(good: Sequence[Good], index: int) -> Hostile:
    """A good event whose name (or reason) is 900,000 characters: near Kafka's limit."""
    source, event = good[index % len(good)]
    field = {"enterprise": "name", "blacklist": "reason", "trademark": "mark_name",
             "tax": "evaluating_office"}[source]  # fmt: skip
    changed = {**event, field: "a" * 900_000, "event_id": str(uuid.uuid4())}
    return Hostile(source, str(event["uscc"]).encode(), codec.encode(source, changed),
                   f"{source}.{field} of 900,000 characters")  # fmt: skip


def for_the_sink(foreign: str, draw: random.Random) -> list[tuple[Hostile, str]]:
    """Records only a foreign producer would write to the worker's output topics, each with
    the reason the sink must dead-letter it: ``foreign`` is a code not in the province."""
    long_decision = "".join(draw.choices(string.ascii_letters + string.digits, k=4000))
    listing = {"sector": "court_defaulter", "decision_no": long_decision, "department": "SPC",
               "listed_on": dt.date(2018, 1, 2), "planned_end_on": None, "reason": None}  # fmt: skip
    profile = {**SAMPLES["profiles"], "uscc": foreign, "blacklist": [listing]}
    key = foreign.encode()
    event = codec.encode("enterprise", {**SAMPLES["enterprise"], "uscc": foreign})
    return [
        (Hostile("profiles", key, None, "a tombstone on profiles"), "tombstone"),
        (Hostile("profiles", key, b"\xde\xad not avro", "garbage on profiles"), "bad_magic_byte"),
        (Hostile("profiles", key, event, "an enterprise event on profiles"), "wrong_subject"),
        (Hostile("profiles", key, codec.encode("profiles", profile),
                 "a profile with a 4,000-character decision_no"), "refused_54000"),
        (Hostile("penalties", key, None, "a tombstone on penalties"), "tombstone"),
        (Hostile("penalties", key, codec.encode("profiles", SAMPLES["profiles"]),
                 "a profile on penalties"), "wrong_subject"),
    ]  # fmt: skip


def hostile_messages(good: Sequence[Good]) -> st.SearchStrategy[Hostile | None]:
    """One hostile message (None: a draw the schema could not encode, to be skipped)."""
    return st.one_of(mutated(good), mutated(good), mutated(good), mutated(good),
                     misplaced(good), random_event(), garbage())  # fmt: skip
