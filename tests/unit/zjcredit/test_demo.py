"""Pieces of ``zjcredit demo`` that need no servers: the new firms' rows and the ports."""

from __future__ import annotations

import itertools
import socket
from pathlib import Path

from producers.generator import firm_rows, generate
from producers.readers import read_rows
from schemas.events import SOURCES
from zjcredit.demo import DemoPorts, _new_firm_events


def test_firm_rows_are_the_generated_files_rows_and_continue_past_them(tmp_path: Path) -> None:
    report = generate(40, seed=3, out_dir=tmp_path)
    firms = firm_rows(3)
    streamed: dict[str, list[dict[str, str]]] = {source: [] for source in SOURCES}
    for firm in itertools.islice(firms, 40):
        for source, rows in firm.items():
            streamed[source] += rows
    for source in SOURCES:
        from_file = [row.fields for row in read_rows(report.paths[source])]
        assert streamed[source] == from_file, source
    # The demo's new firms start where the loaded province ends: none of its codes again.
    loaded = {row["uscc"] for rows in streamed.values() for row in rows}
    later = next(firm_rows(3, start=40))
    assert later["enterprise"][0]["uscc"] not in loaded


def test_new_firm_events_are_valid_each_firm_registered_first() -> None:
    events = list(itertools.islice(_new_firm_events(seed=5, start=10), 200))
    first_seen: dict[str, str] = {}
    for source, event in events:
        first_seen.setdefault(event["uscc"], f"{source}:{event['event_type']}")
        assert event["reported_at"] is not None
        assert event["event_id"]
    assert set(first_seen.values()) == {"enterprise:REGISTERED"}
    # The demo streams every source the worker folds, patents included.
    assert {source for source, _ in events} == set(SOURCES)


def test_ports_fall_back_to_free_ones_when_taken() -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))  # as the metrics servers bind
        taken.listen()
        port = taken.getsockname()[1]
        warnings: list[str] = []
        ports = DemoPorts.choose(0, port, "127.0.0.1", warnings.append)
    assert ports.demo != port
    assert len({ports.api, ports.demo, ports.worker, ports.sink}) == 4
    assert any(str(port) in w for w in warnings)
