"""Nothing a record holds stops the sink (issue 13): real Kafka, real PostgreSQL, a Sink
running in this process.

- records the sink cannot use (garbage, a tombstone, a frame of another subject, a
  blacklist listing whose 4,000-character decision_no no index takes) each become one
  dead letter (stage ``sink``, their reason and offset), the sink keeps running, and the
  next good profile of the same enterprise lands, in the same batch or a later one; the
  same when it writes as ``sink rebuild`` does (profiles copied straight in);
- a letter is sent once per record: recorded with the offset, sent after the commit,
  not again when the sink stops before sending and then replays every offset; and a
  sink that dies while sending leaves its letters ``in_doubt``, never sent twice.
"""

from __future__ import annotations

import asyncio
import random
import string
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from kafka import KafkaProducer
from prometheus_client import CollectorRegistry

from base.settings import Settings
from sink.deadletters import Outbox
from sink.metrics import SinkMetrics
from sink.service import Sink, SinkOptions
from tests.samples import SAMPLES
from tests.workers import CommittedTopic, codec, create_project_topics

A = SAMPLES["profiles"]["uscc"]
B = SAMPLES["enterprise"]["uscc"]
# Random letters, so PostgreSQL cannot compress the key below btree's 2,704-byte limit.
_RANDOM = random.Random(13)  # noqa: S311 - test data, not a secret
LONG = "".join(_RANDOM.choices(string.ascii_letters + string.digits, k=4000))
GARBAGE = b"\xde\xad\xbe\xef not avro"


def profile(uscc: str, version: int, decision_no: str | None = None) -> bytes:
    listing = [] if decision_no is None else [{
        "sector": "court_defaulter", "decision_no": decision_no, "department": "SPC",
        "listed_on": SAMPLES["penalties"]["listed_on"], "planned_end_on": None, "reason": None,
    }]  # fmt: skip
    p = {**SAMPLES["profiles"], "uscc": uscc, "version": version, "blacklist": listing}
    return codec.encode("profiles", p)


WRONG_SUBJECT = codec.encode("enterprise", {**SAMPLES["enterprise"], "uscc": A})


class Run:
    """A prefix's topics, a database and the in-process sinks writing it."""

    def __init__(self, bootstrap_servers: str, prefix: str, database_url: str) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.prefix = prefix
        self.database_url = database_url
        self.producer = KafkaProducer(bootstrap_servers=bootstrap_servers, acks="all")
        self.letters = CommittedTopic(bootstrap_servers, f"{prefix}.deadletters")

    def sink(self, *, bulk: bool = False) -> tuple[Sink, CollectorRegistry]:
        """An in-process sink; ``bulk``: writing as ``sink rebuild`` does."""
        registry = CollectorRegistry()
        options = SinkOptions(self.bootstrap_servers, self.database_url, self.prefix,
                              group=f"{self.prefix}.sink", roles=("profiles", "penalties"),
                              bulk=bulk)  # fmt: skip
        return Sink(options, metrics=SinkMetrics(registry)), registry

    async def send(self, role: str, records: list[tuple[str, bytes | None]]) -> list[int]:
        """Send ``(key, value)`` records to partition 0 of ``role``; their offsets."""

        def send() -> list[int]:
            return [
                self.producer.send(f"{self.prefix}.{role}", key=k.encode(), value=v,
                                   partition=0).get(timeout=30).offset
                for k, v in records
            ]  # fmt: skip

        return await asyncio.to_thread(send)

    async def read_letters(self) -> list[dict[str, Any]]:
        await asyncio.to_thread(self.letters.read)
        return [codec.decode(x.value)[0] for x in self.letters.records]

    async def sql(self, query: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.database_url)
        try:
            return list(await conn.fetch(query, *args))
        finally:
            await conn.close()

    async def versions(self) -> dict[str, int]:
        rows = await self.sql("select uscc, version from credit.enterprise")
        return {r["uscc"]: r["version"] for r in rows}

    def close(self) -> None:
        self.producer.close()
        self.letters.close()


@pytest.fixture
def run(
    bootstrap_servers: str,
    settings: Settings,
    unique_name: Callable[[str], str],
    database_url: str,
) -> Any:
    prefix = unique_name("letters")
    create_project_topics(bootstrap_servers, settings, prefix)
    r = Run(bootstrap_servers, prefix, database_url)
    yield r
    r.close()


async def until(condition: Callable[[], Awaitable[bool]], task: asyncio.Task[Any],
                seconds: float = 90) -> None:  # fmt: skip
    """Wait for ``condition`` while the sink ``task`` runs; fail if it ends first."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not await condition():
        if task.done():
            task.result()  # its exception, if any
            raise AssertionError("the sink stopped")
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.2)


@pytest.mark.parametrize("bulk", [False, True], ids=["sink", "rebuild"])
async def test_unusable_records_are_dead_lettered_and_the_next_good_profile_lands(
    run: Run, bulk: bool
) -> None:
    # One batch (sent before the sink starts): bad records around good profiles of A and
    # B, and B's newest profile is one PostgreSQL refuses (class 54, listing_pkey).
    first = await run.send("profiles", [
        (A, profile(A, 1)), (A, GARBAGE), (A, None), (A, WRONG_SUBJECT), (A, profile(A, 2)),
        (B, profile(B, 1)), (B, profile(B, 2, decision_no=LONG)),
    ])  # fmt: skip
    notices = await run.send("penalties", [
        (B, codec.encode("penalties", {**SAMPLES["penalties"], "uscc": B,
                                       "notice_id": f"imposed:{LONG}", "decision_no": LONG})),
        (B, codec.encode("penalties", SAMPLES["penalties"])),
    ])  # fmt: skip
    sink, registry = run.sink(bulk=bulk)
    task = asyncio.create_task(sink.run())
    try:

        async def first_batch_done() -> bool:
            return len(await run.read_letters()) == 5 and await run.versions() == {A: 2, B: 1}

        await until(first_batch_done, task)
        # A later batch: garbage again, then good profiles of both.
        later = await run.send("profiles", [(A, GARBAGE), (A, profile(A, 3)), (B, profile(B, 3))])

        async def later_batch_done() -> bool:
            return len(await run.read_letters()) == 6 and await run.versions() == {A: 3, B: 3}

        await until(later_batch_done, task)
        assert not task.done(), "the sink must still be running"
    finally:
        sink.stop()
        await task

    letters = await run.read_letters()
    got = sorted((x["source_topic"], x["offset"], x["reason"], x["stage"]) for x in letters)
    p, n = f"{run.prefix}.profiles", f"{run.prefix}.penalties"
    assert got == sorted([
        (p, first[1], "bad_magic_byte", "sink"), (p, first[2], "tombstone", "sink"),
        (p, first[3], "wrong_subject", "sink"), (p, first[6], "refused_54000", "sink"),
        (n, notices[0], "refused_54000", "sink"), (p, later[0], "bad_magic_byte", "sink"),
    ])  # fmt: skip
    by_offset = {(x["source_topic"], x["offset"]): x for x in letters}
    refused = by_offset[(p, first[6])]
    assert "index row size" in refused["message"], refused["message"]
    assert refused["key"] == B.encode()
    assert refused["value"] == profile(B, 2, decision_no=LONG)
    assert by_offset[(p, first[2])]["value"] is None
    assert "'enterprise'" in by_offset[(p, first[3])]["message"]
    assert {x["partition"] for x in letters} == {0}
    # The good rows: A and B at their newest, the good notice, B's listing-free profile.
    assert await run.versions() == {A: 3, B: 3}
    stored = await run.sql("select notice_id from credit.notice")
    assert [r["notice_id"] for r in stored] == [SAMPLES["penalties"]["notice_id"]]
    offsets = await run.sql(
        'select topic, next_offset from credit.sink_offset where "partition" = 0'
    )
    assert {r["topic"]: r["next_offset"] for r in offsets} == {p: later[-1] + 1, n: notices[-1] + 1}
    ledger = await run.sql("select state, count(*) from credit.dead_letter group by state")
    assert [tuple(r) for r in ledger] == [("sent", 6)]
    for reason, count in [("bad_magic_byte", 2), ("tombstone", 1), ("wrong_subject", 1),
                          ("refused_54000", 2)]:  # fmt: skip
        value = registry.get_sample_value("zjcredit_sink_dead_letters_total", {"reason": reason})
        assert value == count, reason
    assert sink.totals.dead_letters == 6


async def _forget_offsets(run: Run) -> None:
    """A replay of everything: the next sink starts every partition at offset 0."""
    await run.sql("delete from credit.sink_offset")


async def test_a_letter_is_sent_once_though_the_sink_stops_before_sending_and_replays(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = await run.send("profiles", [(A, GARBAGE), (A, None), (B, profile(B, 2, LONG))])
    await run.send("profiles", [(A, profile(A, 1))])

    # 1. A sink that stops after its batch committed, before it sends the letters.
    sink, _ = run.sink()

    async def stop_instead(self: Sink) -> None:
        if self.totals.batches:  # after a batch; not the (empty) publish at start
            self.stop()

    with monkeypatch.context() as m:
        m.setattr(Sink, "_publish_letters", stop_instead)
        task = asyncio.create_task(sink.run())
        await task
    recorded = await run.sql("select state, count(*) from credit.dead_letter group by state")
    assert [tuple(r) for r in recorded] == [("recorded", 3)]
    assert await run.read_letters() == []

    # 2. A sink that replays every offset: it sends the recorded letters once, and
    # records nothing again for the records it replays; 3. once more, the same.
    for _ in range(2):
        await _forget_offsets(run)
        sink, _ = run.sink()
        task = asyncio.create_task(sink.run())
        try:

            async def caught_up() -> bool:
                stored = await run.sql("select next_offset from credit.sink_offset")
                return [r[0] for r in stored] == [bad[-1] + 2]

            await until(caught_up, task)
        finally:
            sink.stop()
            await task
    letters = await run.read_letters()
    assert sorted((x["offset"], x["reason"]) for x in letters) == [
        (bad[0], "bad_magic_byte"), (bad[1], "tombstone"), (bad[2], "refused_54000"),
    ]  # fmt: skip
    assert await run.versions() == {A: 1}


async def test_a_sink_that_dies_while_sending_leaves_its_letters_in_doubt_never_twice(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = await run.send("profiles", [(A, GARBAGE), (A, profile(A, 1))])

    async def die(self: Outbox, claimed: Any) -> None:
        raise RuntimeError("killed while sending")

    sink, _ = run.sink()
    with monkeypatch.context() as m:
        m.setattr(Outbox, "_send", die)
        with pytest.raises(RuntimeError, match="killed while sending"):
            await sink.run()
    claimed = await run.sql("select state, claimed_by from credit.dead_letter")
    assert [r["state"] for r in claimed] == ["sending"]

    async def claimer_gone() -> bool:
        alive = await run.sql("select 1 from pg_stat_activity where pid = $1",
                              claimed[0]["claimed_by"])  # fmt: skip
        return not alive

    for _ in range(50):
        if await claimer_gone():
            break
        await asyncio.sleep(0.1)

    await _forget_offsets(run)  # and a replay of the record, for good measure
    sink, registry = run.sink()
    sink.letters_every = 1.0
    task = asyncio.create_task(sink.run())
    try:

        async def in_doubt() -> bool:
            rows = await run.sql("select state from credit.dead_letter")
            stored = await run.sql("select next_offset from credit.sink_offset")
            return [r[0] for r in rows] == ["in_doubt"] and [r[0] for r in stored] == [bad[-1] + 1]

        await until(in_doubt, task)
        assert await run.read_letters() == []
        assert (
            registry.get_sample_value(
                "zjcredit_sink_dead_letters_in_doubt_total", {"reason": "bad_magic_byte"}
            )
            == 1
        )
        # The operator checked the topic and re-queues it: it is sent, once, at the
        # sink's next check; and the sink goes on writing.
        await run.sql("update credit.dead_letter set state = 'recorded' where state = 'in_doubt'")
        await run.send("profiles", [(A, profile(A, 2))])

        async def sent() -> bool:
            return len(await run.read_letters()) == 1 and await run.versions() == {A: 2}

        await until(sent, task)
    finally:
        sink.stop()
        await task
    letters = await run.read_letters()
    assert [(x["offset"], x["reason"]) for x in letters] == [(bad[0], "bad_magic_byte")]
