"""The stored form of a state: a header with the sweep date, then a restricted pickle."""

from __future__ import annotations

import datetime as dt
import pickle
from pathlib import Path
from typing import Any

import pytest

from streams import state_codec
from streams.core import Profile, SourceEvent, apply, load_rules, next_due
from streams.errors import StateDecodeError
from tests.samples import SAMPLES

AS_OF = dt.date(2018, 6, 30)


def listed(planned_end_on: dt.date | None) -> Profile:
    event = {**SAMPLES["blacklist"], "planned_end_on": planned_end_on}
    state, _ = apply(Profile(event["uscc"]), SourceEvent("blacklist", event), AS_OF,
                     load_rules().catalog)  # fmt: skip
    return state


def test_a_state_round_trips_and_its_header_carries_the_sweep_date() -> None:
    state = listed(dt.date(2019, 1, 31))
    data = state_codec.dumps(state)

    assert state_codec.loads(data) == state
    assert state_codec.due_of(data) == next_due(state) == dt.date(2019, 1, 31)
    assert state_codec.due_of(state_codec.dumps(Profile("91330100716105852F"))) is None


def test_foreign_classes_and_foreign_bytes_are_refused() -> None:
    class Evil:
        def __reduce__(self) -> tuple[Any, ...]:
            return (print, ("pwned",))

    header = b"\x01\x00\x00\x00\x00"
    with pytest.raises(StateDecodeError, match=r"builtins\.print"):
        state_codec.loads(header + pickle.dumps(Evil()))
    with pytest.raises(StateDecodeError, match="expected a Profile"):
        state_codec.loads(header + pickle.dumps({"a": 1}))
    with pytest.raises(StateDecodeError, match="format 1"):
        state_codec.loads(pickle.dumps(Profile("91330100716105852F")))  # no header
    with pytest.raises(StateDecodeError, match="does not load"):
        state_codec.loads(header + b"\x80\x05garbage")


GOLDEN = Path(__file__).with_name("golden")


def test_a_state_stored_before_patents_loads_and_folds_a_patent() -> None:
    """A state written by the code before the patent fold (four sources, no patents
    fields) loads with empty patents and takes a grant: no rebuild on upgrade."""
    old = state_codec.loads(bytes.fromhex((GOLDEN / "state.before_patents.hex").read_text()))
    assert old.patents == {}
    assert old.patent_pledges == {}
    assert sorted(old.last) == ["blacklist", "enterprise", "tax", "trademark"]
    grant = {**SAMPLES["patent"], "uscc": old.uscc, "event_type": "GRANTED", "pledge_no": None}
    new, _ = apply(old, SourceEvent("patent", grant), AS_OF, load_rules().catalog)
    assert set(new.patents) == {"201310699744.2"}
    assert new.version == old.version + 1
    assert state_codec.loads(state_codec.dumps(new)) == new


def test_a_state_from_newer_code_is_refused_not_truncated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state = listed(None)
    more = [*Profile.__getstate__(state), "a field this code does not know"]
    monkeypatch.setattr(Profile, "__getstate__", lambda self: more)
    data = state_codec.dumps(state)
    monkeypatch.undo()
    with pytest.raises(StateDecodeError, match="newer than this code"):
        state_codec.loads(data)
