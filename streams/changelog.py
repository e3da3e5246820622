"""The state changelog topic: the source of truth for the worker's states.

One compacted topic per worker group, ``<group>.state``, with the input topics' partition
count: partition ``p`` holds the states of the enterprises of input partition ``p``.
Each transaction of partition ``p`` writes to it:

- one record per enterprise whose state changed: key = the credit code, value = the
  stored state (streams/state_codec.py);
- last, one *inputs* record (key :data:`INPUTS_KEY`, which no credit code can be): the
  next input offset per source topic that the states reflect, i.e. the offsets the same
  transaction commits for the group.

So a store rebuilt from the changelog knows which input offsets it stands at, even if
the group's committed offsets are gone or the changelog was recreated: what it lacks is
read again from the inputs (whose outputs were already committed, so they are not sent
again).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from schemas.topics import TopicSpec
from streams.errors import StoreError

__all__ = ["INPUTS_KEY", "changelog_spec", "changelog_topic", "decode_inputs", "encode_inputs"]

INPUTS_KEY = b"\x00inputs"


def changelog_topic(group: str) -> str:
    """The state changelog of worker group ``group``."""
    return f"{group}.state"


def changelog_spec(
    group: str, partitions: int, replication_factor: int | None, min_insync: int | None = None
) -> TopicSpec:
    """The changelog's spec; replication None: as the cluster's size decides
    (schemas.topics.replication_for)."""
    return TopicSpec(
        name=changelog_topic(group),
        partitions=partitions,
        replication_factor=replication_factor,
        min_insync_replicas=min_insync,
        purpose="the stream worker's enterprise states (compacted; internal)",
        # States can be large (many trademarks and listings); compaction keeps the last
        # per enterprise, and the store rebuild reads it all.
        config={"cleanup.policy": "compact", "min.compaction.lag.ms": "60000"},
    )


def encode_inputs(positions: Mapping[str, int]) -> bytes:
    return json.dumps(dict(sorted(positions.items()))).encode()


def decode_inputs(value: bytes | None) -> dict[str, int]:
    try:
        raw = json.loads(value or b"")
        return {str(role): int(offset) for role, offset in raw.items()}
    except (ValueError, TypeError, AttributeError) as error:
        raise StoreError(f"a changelog inputs record is corrupt: {error}") from error
