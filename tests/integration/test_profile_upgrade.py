"""The profile's v1 -> v2 upgrade done as operators will do it, on the real pipeline.

The release before the patent fold (``OLD``, this repository's own history) runs first:
its worker folds a province and its sink writes the read model, v1 profiles on the topic,
while the intellectual-property office's patent events already wait on their topic
unread. Then, as docs/operations.md "Upgrading schemas" says, the readers first: the new
sink on the same database (its migration upgrades the stored rows, nothing is rebuilt),
then the new worker on the same topics, consumer group and disk (it loads the states the
old worker stored and reads the patent topic from its start), then more patent events.
Every record on the profiles topic still decodes, and the read model ends equal to the
pure fold of every event.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from base.endpoints import Endpoints, free_port
from base.settings import Settings
from schemas.codec import unframe
from streams.core import SourceEvent
from tests.province import AS_OF, province
from tests.readmodel import (
    Expected,
    Sinks,
    create_database,
    drop_database,
    fetch,
    wait_until_equal,
)
from tests.workers import (
    CommittedTopic,
    Workers,
    codec,
    create_project_topics,
    metric_total,
    send_events,
)

# The last commit of main before the patent fold (profile v1, four folded sources).
OLD = "f4eca259edc11da394e04a1ea17bc52b27d379f7"
FIRMS = 300
DEADLINE = 240.0  # s for each stage to reach its expected read model
V1, V2 = 5, 11  # the manifest's ids of credit_profile v1 and v2
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def old_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``OLD``'s files, from this clone's history (``git archive``)."""
    found = subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", f"{OLD}^{{commit}}"],
                           capture_output=True, check=False)  # fmt: skip
    if found.returncode != 0:
        pytest.fail(f"the upgrade test runs the release before v2 from this clone's history, "
                    f"and commit {OLD} is not in it (a shallow clone or an export?): "
                    f"clone the repository with its history")  # fmt: skip
    folder = tmp_path_factory.mktemp("old-release")
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", OLD], capture_output=True,
                             check=True).stdout  # fmt: skip
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def _old(old_release: Path) -> dict[str, Any]:
    """Run ``zjcredit`` from the old release's files with this environment's packages."""
    return {"command": [sys.executable, "-c", "from zjcredit.cli import main; main()"],
            "cwd": old_release}  # fmt: skip


def _in_order(events: list[SourceEvent], half: int) -> tuple[list[SourceEvent], ...]:
    """The patent events split in two, each firm's in order: the first ``half`` firms'
    and the rest, so the later batch holds whole new histories and the first ones too."""
    firms = sorted({e.event["uscc"] for e in events})
    first = set(firms[:half])
    return ([e for e in events if e.event["uscc"] in first],
            [e for e in events if e.event["uscc"] not in first])  # fmt: skip


def _expected(events: dict[str, list[SourceEvent]], history: list[SourceEvent]) -> Expected:
    """The oracle of ``events``, with ``history`` as the event history the sink keeps."""
    folded = Expected.of(events, AS_OF)
    by_id = {str(e.event["event_id"]): (e.source, e.event) for e in history}
    return Expected(folded.profiles, folded.notices, by_id)


def _v1(expected: Expected) -> Expected:
    """``expected`` as a sink from before v2 stores it: the v1 fields only."""
    fields = {f["name"] for f in codec.registry.by_id(V1).schema["fields"]}
    profiles = {u: {k: v for k, v in p.items() if k in fields}
                for u, p in expected.profiles.items()}  # fmt: skip
    return Expected(profiles, expected.notices, expected.events)


@pytest.fixture
def upgrade(
    bootstrap_servers: str, settings: Settings, stack: Endpoints, tmp_path: Path,
    old_release: Path,
) -> Iterator[dict[str, Any]]:  # fmt: skip
    prefix = f"upgrade-{uuid.uuid4().hex[:8]}"
    name = f"upgrade_{uuid.uuid4().hex[:12]}"
    create_project_topics(bootstrap_servers, settings, prefix)
    database_url = create_database(stack.database_url, name)
    runners: list[Workers] = []

    def runner(kind: type[Workers], folder: str, **more: Any) -> Any:
        made = kind(bootstrap_servers, prefix, settings.partitions, tmp_path / folder, **more)
        runners.append(made)
        return made

    try:
        yield {"prefix": prefix, "database_url": database_url, "runner": runner}
    finally:
        for made in runners:
            made.close()
        drop_database(stack.database_url, name)


def test_v1_worker_and_sink_then_the_new_sink_then_the_new_worker_then_patents(
    bootstrap_servers: str, settings: Settings, upgrade: dict[str, Any], old_release: Path,
    tmp_path: Path,
) -> None:  # fmt: skip
    prefix, database_url, runner = upgrade["prefix"], upgrade["database_url"], upgrade["runner"]
    events = province(tmp_path / "province", FIRMS, seed=29)
    patents = events.pop("patent")
    waiting, later = _in_order(patents, len({e.event["uscc"] for e in patents}) // 2)
    assert waiting, "the province has too few patent holders"
    assert later, "the province has too few patent holders"
    before = list(itertools.chain(*events.values()))
    send_events(bootstrap_servers, prefix, {**events, "patent": waiting})
    worker_dir = "worker"  # one disk for both releases' worker: the same member's store
    args = ("--as-of", AS_OF.isoformat(), "--tick-interval", "2")

    # 1. The old release: four sources folded, v1 profiles, patents waiting unread.
    old_workers = runner(Workers, worker_dir, **_old(old_release))
    old_sinks = runner(Sinks, "old-sink", database_url=database_url, **_old(old_release))
    old_worker, old_sink = old_workers.start(*args), old_sinks.start()
    v1_model = _v1(_expected(events, before))
    left = wait_until_equal(database_url, v1_model, DEADLINE, lambda: None)
    assert left == [], "\n".join([*left, old_workers.logs(30), old_sinks.logs(30)])
    assert old_workers.stop(old_worker) == 0, old_workers.logs()
    assert old_sinks.stop(old_sink) == 0, old_sinks.logs()
    profiles_topic = CommittedTopic(bootstrap_servers, f"{prefix}.profiles")
    try:
        assert {unframe(x.value)[0] for x in profiles_topic.read()} == {V1}
        committed = {row["uscc"]: row["committed_at"] for row in
                     fetch(database_url, "select uscc, committed_at from credit.enterprise")}  # fmt: skip

        # 2. The new sink on the same database: the stored rows migrate forward, in place.
        sinks = runner(Sinks, "sink", database_url=database_url)
        sink = sinks.start()
        migrated = _expected(events, [*before, *waiting])  # it reads the patent topic too
        left = wait_until_equal(database_url, migrated, DEADLINE, lambda: None)
        assert left == [], "\n".join([*left, sinks.logs(30)])
        after = {row["uscc"]: row["committed_at"] for row in
                 fetch(database_url, "select uscc, committed_at from credit.enterprise")}  # fmt: skip
        assert after == committed, "the new sink rewrote rows: the upgrade was a rebuild"

        # 3. The new worker: same group, same disk; the waiting patents, then new ones.
        workers = runner(Workers, worker_dir)
        port = free_port()
        worker = workers.start(*args, "--metrics-port", str(port))
        send_events(bootstrap_servers, prefix, {"patent": later})
        final = _expected({**events, "patent": patents}, [*before, *patents])
        assert any(p["patents"] for p in final.profiles.values())

        def alive() -> None:
            for proc, who in ((worker, workers), (sink, sinks)):
                if proc.poll() is not None:
                    raise AssertionError(f"{proc.args!r} exited early\n{who.logs()}")

        left = wait_until_equal(database_url, final, DEADLINE, alive)
        assert left == [], "\n".join([*left, workers.logs(30), sinks.logs(30)])
        # It loaded the old worker's stored states (no patents field) from its own disk.
        caught_up = metric_total(port, "zjcredit_worker_store_restores_total", kind="caught_up")
        rebuilt = metric_total(port, "zjcredit_worker_store_restores_total", kind="rebuilt")
        assert (caught_up, rebuilt) == (settings.partitions, 0), workers.logs()

        # Every record on the profiles topic decodes: v1 where nothing changed, v2 after.
        records = profiles_topic.read()
        assert {unframe(x.value)[0] for x in records} == {V2}
        for record in profiles_topic.records:
            codec.decode(record.value)
        holders = {p["uscc"] for p in final.profiles.values() if p["patents"]}
        assert {x.key.decode() for x in records} >= holders
    finally:
        profiles_topic.close()
