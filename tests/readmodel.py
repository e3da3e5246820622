"""The sink's PostgreSQL read model against the pure fold, and ``zjcredit sink`` processes.

- :class:`Expected` is what the read model must hold for a set of produced events: the
  oracle's profiles and notices (tests/outputs.py ``oracle``) and the accepted events;
- :func:`differences` lists, briefly, how the ``credit`` tables differ from it (empty
  when equal): every enterprise row and profile jsonb field for field, the child rows,
  every notice (an ``IMPOSED`` one ``lifted`` when its listing's ``LIFTED`` notice
  exists), every event, and the counts; :func:`tables_equal_oracle` folds and compares;
- :func:`snapshot` reads every read-model table (without ``committed_at``) to compare a
  rebuild with the incremental result;
- :class:`Sinks` runs ``zjcredit sink`` as real subprocesses, as :class:`tests.workers.Workers`
  runs workers (stop with SIGTERM, kill with SIGKILL, log tails).

Used by tests/integration/test_sink.py.
"""

from __future__ import annotations

import asyncio
import http.client
import itertools
import json
import subprocess
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from readmodel import rows as r
from streams.core import SourceEvent
from tests.outputs import oracle
from tests.workers import ZJCREDIT, Workers

__all__ = [
    "TABLES",
    "Expected",
    "Sinks",
    "counts",
    "create_database",
    "differences",
    "drop_database",
    "fetch",
    "metric",
    "snapshot",
    "tables_equal_oracle",
    "wait_until_equal",
]

# The read model's tables and their primary keys (readmodel/migrations/0001_read_model.sql),
# without the sink's own bookkeeping (sink_offset, schema_migration).
TABLES: dict[str, tuple[str, ...]] = {
    "enterprise": ("uscc",),
    "listing": ("uscc", "sector", "decision_no"),
    "penalty_measure": ("uscc", "sector", "decision_no", "measure_code", "department"),
    "tax_grade": ("uscc", "year"),
    "trademark": ("uscc", "registration_no"),
    "notice": ("notice_id",),
    "notice_measure": ("notice_id", "measure_code", "department"),
    "event": ("event_id",),
}
_CHILDREN = {
    "listing": r.LISTING,
    "penalty_measure": r.PENALTY_MEASURE,
    "tax_grade": r.TAX_GRADE,
    "trademark": r.TRADEMARK,
}
_SHOWN = 3  # examples per kind of difference
_COUNTS = "select " + ", ".join(f"(select count(*) from credit.{t}) as {t}" for t in TABLES)  # noqa: S608


def _cols(columns: Iterable[str]) -> str:
    return ", ".join(f'"{c}"' for c in columns)


async def _select(conn: asyncpg.Connection, table: str, columns: Iterable[str],
                  order: Iterable[str] = ()) -> list[asyncpg.Record]:  # fmt: skip
    """Rows of ``credit.<table>`` (names are this module's constants, never data)."""
    sql = f"select {_cols(columns)} from credit.{table}"  # noqa: S608
    return await conn.fetch(f"{sql} order by {_cols(order)}" if order else sql)  # type: ignore[no-any-return]


def _run(database_url: str, work: Callable[[asyncpg.Connection], Any]) -> Any:
    async def go() -> Any:
        conn = await asyncpg.connect(database_url, timeout=10)
        try:
            return await work(conn)
        finally:
            await conn.close()

    return asyncio.run(go())


def fetch(database_url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    """The rows of one query (a connection of its own)."""
    return _run(database_url, lambda conn: conn.fetch(sql, *args))  # type: ignore[no-any-return]


def create_database(server_url: str, name: str) -> str:
    """Create the empty database ``name`` on the server of ``server_url``; its URL."""
    _run(server_url, lambda conn: conn.execute(f'create database "{name}"'))
    return f"{server_url.rpartition('/')[0]}/{name}"


def drop_database(server_url: str, name: str) -> None:
    _run(server_url, lambda conn: conn.execute(f'drop database if exists "{name}" with (force)'))


@dataclass(frozen=True)
class Expected:
    """What the read model must hold after the sink has written ``events``' outputs.

    Attributes:
        profiles: the oracle's rendered profiles by credit code, as decoded from Avro.
        notices: the oracle's notices, as decoded from Avro.
        events: every accepted input event by event id: ``(source, decoded event)``.
    """

    profiles: dict[str, dict[str, Any]]
    notices: list[dict[str, Any]]
    events: dict[str, tuple[str, Mapping[str, Any]]]

    @classmethod
    def of(cls, events: Mapping[str, Sequence[SourceEvent]], as_of: Any) -> Expected:
        everything = list(itertools.chain(*events.values()))
        profiles, notices = oracle(everything, as_of)
        by_id = {str(e.event["event_id"]): (e.source, e.event) for e in everything}
        assert len(by_id) == len(everything), "the produced events' ids are not unique"
        return cls(profiles, notices, by_id)

    def counts(self) -> dict[str, int]:
        """Rows per table when the read model is complete."""
        rows = [r.profile_rows(p) for p in self.profiles.values()]
        return {
            "enterprise": len(self.profiles),
            "listing": sum(len(x.listings) for x in rows),
            "penalty_measure": sum(len(x.measures) for x in rows),
            "tax_grade": sum(len(x.tax_grades) for x in rows),
            "trademark": sum(len(x.trademarks) for x in rows),
            "notice": len(self.notices),
            "notice_measure": sum(len(r.notice_rows(n)[1]) for n in self.notices),
            "event": len(self.events),
        }

    def notice_rows(self) -> dict[str, r.Row]:
        """The expected ``notice`` rows: an IMPOSED notice is 'lifted' (at the LIFTED
        notice's effective time) when a LIFTED notice of the same listing exists."""
        lifted = {
            (n["uscc"], n["sector"], n["decision_no"], n.get("listed_on")): n["effective_at"]
            for n in self.notices
            if n["kind"] == "LIFTED"
        }
        out = {}
        for n in self.notices:
            row = list(r.notice_rows(n)[0])
            listing = (n["uscc"], n["sector"], n["decision_no"], n.get("listed_on"))
            if n["kind"] == "IMPOSED" and listing in lifted:
                row[r.NOTICE.index("status")] = "lifted"
                row[r.NOTICE.index("lifted_at")] = lifted[listing]
            out[n["notice_id"]] = tuple(row)
        return out


def tables_equal_oracle(database_url: str, events: Mapping[str, Sequence[SourceEvent]],
                        as_of: Any) -> list[str]:  # fmt: skip
    """How the read model differs from the pure fold of ``events`` (empty: equal)."""
    return differences(database_url, Expected.of(events, as_of))


def _set_diff(what: str, got: Iterable[Any], want: Iterable[Any]) -> list[str]:
    g, w = Counter(got), Counter(want)
    missing, extra = list((w - g).elements()), list((g - w).elements())
    if not missing and not extra:
        return []
    return [
        f"{what}: {len(missing)} missing, {len(extra)} unexpected; "
        f"missing e.g. {[str(m)[:200] for m in missing[:_SHOWN]]}, "
        f"unexpected e.g. {[str(x)[:200] for x in extra[:_SHOWN]]}"
    ]


def _fields_diff(what: str, key: str, names: Sequence[str], got: Sequence[Any],
                 want: Sequence[Any]) -> list[str]:  # fmt: skip
    return [
        f"{what} {key}.{name}: got {str(g)[:200]} want {str(w)[:200]}"
        for name, g, w in zip(names, got, want, strict=True)
        if g != w
    ]


async def _differences(conn: asyncpg.Connection, expected: Expected) -> list[str]:
    out: list[str] = []
    # Counts first: a duplicate or a missing row shows here even if the sets look alike.
    got_counts = await _counts(conn)
    want_counts = expected.counts()
    out += [
        f"{table}: {got_counts[table]} rows, expected {want_counts[table]}"
        for table in TABLES
        if got_counts[table] != want_counts[table]
    ]

    # Enterprises: every column, and the whole profile as jsonb, field for field.
    stored = {row["uscc"]: row for row in await _select(conn, "enterprise", r.ENTERPRISE)}
    out += _set_diff("enterprise uscc", list(stored), list(expected.profiles))
    differ = []
    for uscc in sorted(set(stored) & set(expected.profiles)):
        want_profile = expected.profiles[uscc]
        want = r.profile_rows(want_profile).enterprise
        got_profile = json.loads(stored[uscc]["profile"])
        lines = _fields_diff("enterprise", uscc, r.ENTERPRISE[:-1], tuple(stored[uscc])[:-1],
                             want[:-1])  # fmt: skip
        canonical = json.loads(r.to_json(want_profile))
        lines += [
            f"enterprise {uscc}.profile.{name}: got {str(got_profile.get(name))[:200]} "
            f"want {str(canonical[name])[:200]}"
            for name in canonical
            if got_profile.get(name) != canonical[name]
        ]
        lines += [f"enterprise {uscc}.profile.{name}: unexpected" for name in
                  set(got_profile) - set(canonical)]  # fmt: skip
        if lines:
            differ.append(lines)
    if differ:
        out.append(f"{len(differ)} enterprises differ from the oracle's profiles, e.g.:")
        out += [line for lines in differ[:_SHOWN] for line in lines[:5]]

    # Child rows: exactly the profile's (readmodel/rows.py), and as many as its jsonb lists.
    wanted = [r.profile_rows(p) for p in expected.profiles.values()]
    want_children = {
        "listing": [x for p in wanted for x in p.listings],
        "penalty_measure": [x for p in wanted for x in p.measures],
        "tax_grade": [x for p in wanted for x in p.tax_grades],
        "trademark": [x for p in wanted for x in p.trademarks],
    }
    for table, columns in _CHILDREN.items():
        got = [tuple(x) for x in await _select(conn, table, columns)]
        out += _set_diff(f"{table} rows", got, want_children[table])
    mismatched = await conn.fetch(_CHILDREN_VS_JSONB)
    if mismatched:
        out.append(
            f"{len(mismatched)} enterprises whose child rows do not match their profile "
            f"jsonb (uscc, rows vs jsonb: listing, measure, tax_grade, trademark), e.g. "
            f"{[tuple(x) for x in mismatched[:_SHOWN]]}"
        )

    # Notices: every column; measures as jsonb and as notice_measure rows.
    want_notices = expected.notice_rows()
    got_notices = {x["notice_id"]: x for x in await _select(conn, "notice", r.NOTICE)}
    out += _set_diff("notice ids", list(got_notices), list(want_notices))
    for notice_id in sorted(set(got_notices) & set(want_notices)):
        got_row, want_row = list(got_notices[notice_id]), list(want_notices[notice_id])
        got_row[-1], want_row[-1] = json.loads(got_row[-1]), json.loads(want_row[-1])
        out += _fields_diff("notice", notice_id, r.NOTICE, got_row, want_row)[:5]
    want_measures = [m for n in expected.notices for m in r.notice_rows(n)[1]]
    got_measures = [tuple(x) for x in await _select(conn, "notice_measure", r.NOTICE_MEASURE)]
    out += _set_diff("notice_measure rows", got_measures, want_measures)

    # Events: one row per accepted event, its payload the decoded event; no coordinate twice.
    got_events = await _select(conn, "event", r.EVENT)
    by_id = {str(x["event_id"]): x for x in got_events}
    out += _set_diff("event ids", [str(x["event_id"]) for x in got_events], list(expected.events))
    wrong = []
    for event_id in sorted(set(by_id) & set(expected.events)):
        source, event = expected.events[event_id]
        want_event = r.event_row(source, event, "", 0, 0)
        got = by_id[event_id]
        if (
            tuple(got)[1:6] != want_event[1:6]
            or json.loads(got["payload"]) != json.loads(want_event[6])
            or not got["topic"].endswith(f".{source}")
        ):
            wrong.append(event_id)
    if wrong:
        out.append(f"{len(wrong)} event rows differ from the produced events, e.g. {wrong[:3]}")
    coordinates = Counter((x["topic"], x["partition"], x["offset"]) for x in got_events)
    twice = [c for c, n in coordinates.items() if n > 1]
    if twice:
        out.append(f"{len(twice)} topic/partition/offset stored twice in event, e.g. {twice[:3]}")
    return out


_CHILDREN_VS_JSONB = """
select e.uscc,
       (select count(*) from credit.listing x where x.uscc = e.uscc) as listings,
       jsonb_array_length(e.profile->'blacklist')
         + jsonb_array_length(e.profile->'blacklist_history') as listings_json,
       (select count(*) from credit.penalty_measure x where x.uscc = e.uscc) as measures,
       jsonb_array_length(e.profile->'penalties') as measures_json,
       (select count(*) from credit.tax_grade x where x.uscc = e.uscc) as tax_grades,
       jsonb_array_length(e.profile->'tax_grades') as tax_grades_json,
       (select count(*) from credit.trademark x where x.uscc = e.uscc) as trademarks,
       jsonb_array_length(e.profile->'trademarks') as trademarks_json
from credit.enterprise e
where (select count(*) from credit.listing x where x.uscc = e.uscc)
        <> jsonb_array_length(e.profile->'blacklist')
           + jsonb_array_length(e.profile->'blacklist_history')
   or (select count(*) from credit.penalty_measure x where x.uscc = e.uscc)
        <> jsonb_array_length(e.profile->'penalties')
   or (select count(*) from credit.tax_grade x where x.uscc = e.uscc)
        <> jsonb_array_length(e.profile->'tax_grades')
   or (select count(*) from credit.trademark x where x.uscc = e.uscc)
        <> jsonb_array_length(e.profile->'trademarks')
order by e.uscc
"""


async def _counts(conn: asyncpg.Connection) -> dict[str, int]:
    if not await conn.fetchval("select to_regclass('credit.event') is not null"):
        return dict.fromkeys(TABLES, 0)  # the sink has not migrated yet
    return dict(await conn.fetchrow(_COUNTS))


def differences(database_url: str, expected: Expected) -> list[str]:
    """How the read model at ``database_url`` differs from ``expected`` (empty: equal)."""
    left: list[str] = _run(database_url, lambda conn: _differences(conn, expected))
    return left


def counts(database_url: str) -> dict[str, int]:
    """Rows per read-model table (zeros before the sink's first migration)."""
    rows: dict[str, int] = _run(database_url, _counts)
    return rows


async def _snapshot(conn: asyncpg.Connection) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    for table, key in TABLES.items():
        columns = [
            c
            for (c,) in await conn.fetch(
                "select column_name from information_schema.columns "
                "where table_schema = 'credit' and table_name = $1 and column_name <> "
                "'committed_at' order by ordinal_position",
                table,
            )
        ]
        out[table] = [tuple(x) for x in await _select(conn, table, columns, key)]
    return out


def snapshot(database_url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every read-model table's rows in key order, without ``committed_at``."""
    tables: dict[str, list[tuple[Any, ...]]] = _run(database_url, _snapshot)
    return tables


def wait_until_equal(database_url: str, expected: Expected, timeout: float,
                     alive: Callable[[], None] = lambda: None) -> list[str]:  # fmt: skip
    """Poll until the read model equals ``expected``; the differences left at the deadline.

    Compares in full only once the row counts are right (cheap to poll); ``alive`` is
    called every round and raises if a process the result depends on has died.
    """
    want = expected.counts()
    deadline = time.monotonic() + timeout
    while True:
        alive()
        if counts(database_url) == want:
            left = differences(database_url, expected)
            if not left:
                return []
        if time.monotonic() > deadline:
            return differences(database_url, expected)
        time.sleep(1.0)


def metric(port: int, name: str) -> float | None:
    """The sum over labels of metric ``name`` at ``127.0.0.1:port``; None if not served."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            text = response.read().decode()
    except (OSError, http.client.HTTPException):  # down, or killed while it answered
        return None
    values = [
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith((f"{name}{{", f"{name} "))
    ]
    return sum(values) if values else None


class Sinks(Workers):
    """``zjcredit sink`` processes for one topic prefix and database, a log file each."""

    def __init__(self, bootstrap_servers: str, prefix: str, partitions: int, run_dir: Path,
                 database_url: str, **command: Any) -> None:  # fmt: skip
        super().__init__(bootstrap_servers, prefix, partitions, run_dir, extra_env={
            "DATABASE_URL": database_url, "ZJCREDIT_DATABASE_URL": database_url,
        }, **command)  # fmt: skip
        self.database_url = database_url

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        """``zjcredit sink ARGS``, in a new session (so its whole group can be killed)."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        log = self.run_dir / f"sink-{len(self.started)}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [*self.command, "sink", *args],
                env=self.env,
                cwd=self.cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started.append((proc, log))
        return proc

    def rebuild(self, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        """``zjcredit sink rebuild`` to its end; its exit status and output."""
        return subprocess.run(
            [ZJCREDIT, "sink", "rebuild"], env=self.env, capture_output=True, text=True,
            timeout=timeout, check=False,
        )  # fmt: skip

    def alive(self, proc: subprocess.Popen[bytes]) -> Callable[[], None]:
        """A check for :func:`wait_until_equal`: raise with the logs if ``proc`` exited."""

        def check() -> None:
            if proc.poll() is not None:
                raise AssertionError(f"the sink exited with {proc.returncode}\n{self.logs()}")

        return check
