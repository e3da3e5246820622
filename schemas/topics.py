"""The project's Kafka topics and their idempotent creation.

Every topic is keyed by the enterprise's unified social credit code and has the same
partition count, so the source topics and the outputs are co-partitioned: one
worker owns an enterprise and sees all its events in order (BRIEF principle 3).

Kafka is the source of truth (principle 6): source topics keep their records forever,
and the profile topic is compacted to the latest profile per enterprise.

Replication: every topic gets the settings' replication factor and
``min.insync.replicas``, or by default as many replicas as the cluster has brokers, up to
3, and one fewer in sync for a write (:func:`replication_for`). On three brokers a write
acknowledged by acks=all is on at least two of them, and any one broker may fail (or be
restarted) without refusing writes or losing an acknowledged record.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import Enum

from base.errors import TopicMismatchError, TopicsError
from base.settings import Settings
from schemas.events import SOURCES

__all__ = [
    "SOURCES",
    "Replication",
    "TopicOutcome",
    "TopicSpec",
    "TopicsError",
    "create_topics",
    "ensure_topics",
    "project_topics",
    "replication_for",
]


_KEEP_FOREVER = {"retention.ms": "-1", "retention.bytes": "-1"}
_WEEK = {"retention.ms": str(7 * 24 * 3600 * 1000)}
# A source record is stamped by the broker when appended, not by whoever sent it: the
# worker checks an event's reported_at against that stamp (schemas/bounds.py), and the
# sink, reading the same stamp, keeps exactly the events the worker folded.
_SOURCE = {**_KEEP_FOREVER, "message.timestamp.type": "LogAppendTime"}


@dataclass(frozen=True)
class Replication:
    """How many copies of a topic's partitions, and how many an acknowledged write needs."""

    factor: int
    min_insync: int


def replication_for(
    brokers: int, factor: int | None = None, min_insync: int | None = None
) -> Replication:
    """The replication of a topic on a cluster of ``brokers``: the given numbers, else
    ``min(3, brokers)`` copies and one fewer in sync (at least 1, at most 2).

    TopicsError if ``min_insync`` exceeds the factor (no write could ever be acknowledged).
    """
    factor = factor if factor is not None else max(1, min(3, brokers))
    min_insync = min_insync if min_insync is not None else max(1, min(2, factor - 1))
    if min_insync > factor:
        raise TopicsError(
            f"min.insync.replicas={min_insync} is more than the replication factor {factor}: "
            "no acks=all write could ever succeed (ZJCREDIT_MIN_INSYNC_REPLICAS)"
        )
    return Replication(factor, min_insync)


@dataclass(frozen=True)
class TopicSpec:
    """One topic the project needs: its name, shape and why it exists.

    ``replication_factor`` / ``min_insync_replicas`` None: decided by :func:`create_topics`
    from the cluster's size (:func:`replication_for`).
    """

    name: str
    partitions: int
    replication_factor: int | None
    purpose: str
    config: dict[str, str] = field(default_factory=dict)
    min_insync_replicas: int | None = None


def project_topics(settings: Settings) -> list[TopicSpec]:
    """Every topic of the pipeline, named ``<prefix>.<role>``."""

    def spec(role: str, purpose: str, config: dict[str, str]) -> TopicSpec:
        return TopicSpec(
            name=f"{settings.topic_prefix}.{role}",
            partitions=settings.partitions,
            replication_factor=settings.replication_factor,
            purpose=purpose,
            config=config,
            min_insync_replicas=settings.min_insync_replicas,
        )

    sources = [spec(s, f"{s} events from departments (source)", _SOURCE) for s in SOURCES]
    return [
        *sources,
        spec(
            "profiles",
            "latest credit profile per enterprise",
            {"cleanup.policy": "compact", "min.compaction.lag.ms": "60000"},
        ),
        spec("penalties", "joint-penalty notices", _KEEP_FOREVER),
        spec("deadletters", "messages that could not be decoded or validated", _KEEP_FOREVER),
        # The worker's clock, in band: a tick per partition drives the expiry sweep inside
        # the same transactions as the events (see streams/app.py). Old ticks are useless.
        spec("ticks", "clock ticks for the worker's expiry sweep (internal)", _WEEK),
    ]


class TopicOutcome(Enum):
    CREATED = "created"
    FOUND = "found"
    MISMATCH = "differs"  # exists with another partition count


def create_topics(
    bootstrap_servers: str, specs: Iterable[TopicSpec]
) -> list[tuple[TopicSpec, TopicOutcome, int]]:
    """Create the missing topics; report each as created, found, or found-but-different.

    Returns ``(spec, outcome, actual_partition_count)`` per topic, the spec with its
    replication decided (:func:`replication_for` on the cluster's broker count). A topic
    that exists with another partition count is reported, never changed: repartitioning
    breaks the key-to-partition mapping that co-partitioning relies on, so a person decides.
    """
    from kafka import KafkaAdminClient  # noqa: PLC0415 - keep `import zjcredit` light

    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="zjcredit-topics")
    try:
        brokers = len(admin.describe_cluster()["brokers"])
        specs = [_replicated(s, brokers) for s in specs]
        existing = _partition_counts(admin, [s.name for s in specs])
        missing = [s for s in specs if s.name not in existing]
        created = _create(admin, missing) if missing else set()
        # Lost a race with another creator: what it made is what we report.
        existing.update(
            _partition_counts(admin, [s.name for s in missing if s.name not in created])
        )
        results = []
        for s in specs:
            if s.name in created:
                results.append((s, TopicOutcome.CREATED, s.partitions))
            elif existing[s.name] != s.partitions:
                results.append((s, TopicOutcome.MISMATCH, existing[s.name]))
            else:
                results.append((s, TopicOutcome.FOUND, existing[s.name]))
        return results
    finally:
        admin.close()


def _replicated(spec: TopicSpec, brokers: int) -> TopicSpec:
    decided = replication_for(brokers, spec.replication_factor, spec.min_insync_replicas)
    return replace(
        spec,
        replication_factor=decided.factor,
        min_insync_replicas=decided.min_insync,
        config={"min.insync.replicas": str(decided.min_insync), **spec.config},
    )


def _create(admin: object, specs: list[TopicSpec]) -> set[str]:
    """Create ``specs``; return the names created. TopicAlreadyExists is not an error here."""
    from kafka.errors import TopicAlreadyExistsError, for_code  # noqa: PLC0415

    response = admin.create_topics(  # type: ignore[attr-defined]
        {
            s.name: {
                "num_partitions": s.partitions,
                "replication_factor": s.replication_factor,
                "configs": s.config,
            }
            for s in specs
        },
        timeout_ms=30_000,
        raise_errors=False,
        wait_for_metadata=True,
    )
    created = set()
    for result in response["topics"]:
        error = for_code(result["error_code"]) if result["error_code"] else None
        if error is None:
            created.add(result["name"])
        elif error is not TopicAlreadyExistsError:
            raise TopicsError(f"cannot create topic {result['name']}: {result['error_message']}")
    return created


def _partition_counts(admin: object, names: list[str]) -> dict[str, int]:
    present = set(admin.list_topics())  # type: ignore[attr-defined]
    wanted = [n for n in names if n in present]
    if not wanted:
        return {}
    described = admin.describe_topics(wanted)  # type: ignore[attr-defined]
    return {d["name"]: len(d["partitions"]) for d in described}


def ensure_topics(bootstrap_servers: str, specs: list[TopicSpec]) -> list[TopicSpec]:
    """Create what is missing; TopicMismatchError if one exists with another count.

    Returns the specs with their replication decided, in the order given.
    """
    results = create_topics(bootstrap_servers, specs)
    for spec, outcome, actual in results:
        if outcome is TopicOutcome.MISMATCH:
            raise TopicMismatchError(
                f"topic {spec.name} has {actual} partitions, expected {spec.partitions}: "
                "the sources and outputs must be co-partitioned"
            )
    return [spec for spec, _, _ in results]
