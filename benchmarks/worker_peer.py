"""The benchmark's peer: a naive Faust agent, one decode and one Table write per event.

``zjcredit bench worker`` runs it as a subprocess over the same pre-filled topics as the
real worker, with the same guarantee (``exactly_once``) and store (memory), to show what
batching and one write per enterprise per batch buy. It keeps, per enterprise, a count of
events by source: the cheapest Table update that still reads every event.

Configured by environment: BENCH_BROKER, BENCH_APP_ID, BENCH_TOPICS (comma-separated),
BENCH_PARTITIONS, BENCH_DATA_DIR, BENCH_METRICS_PORT.
"""

from __future__ import annotations

import os
from typing import Any

import faust
from prometheus_client import Counter, start_http_server

from schemas.codec import Codec
from schemas.errors import ContractError
from schemas.registry import ManifestRegistry

EVENTS = Counter("zjcredit_bench_peer_events_total", "Events the naive agent processed")


def build() -> faust.App:
    partitions = int(os.environ["BENCH_PARTITIONS"])
    app = faust.App(
        os.environ["BENCH_APP_ID"],
        broker=f"kafka://{os.environ['BENCH_BROKER']}",
        store="memory://",
        processing_guarantee="exactly_once",
        topic_partitions=partitions,
        topic_allow_declare=True,
        web_enabled=False,
        datadir=os.environ["BENCH_DATA_DIR"],
        consumer_auto_offset_reset="earliest",
    )
    topics = app.topic(
        *os.environ["BENCH_TOPICS"].split(","),
        key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw",
    )  # fmt: skip
    counts = app.Table("counts", default=dict, partitions=partitions)
    codec = Codec(ManifestRegistry.load())

    @app.agent(topics)
    async def count(stream: Any) -> None:
        async for key, value in stream.items():
            try:
                _, writer = codec.decode(value)
            except ContractError:
                EVENTS.inc()
                continue
            entry = dict(counts[key.decode()])
            entry[writer.subject] = entry.get(writer.subject, 0) + 1
            counts[key.decode()] = entry
            EVENTS.inc()

    return app


if __name__ == "__main__":
    start_http_server(int(os.environ["BENCH_METRICS_PORT"]))
    build().main()
