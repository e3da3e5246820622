"""A one-agent, one-Table Faust app used by test_faust_engine.py (run as a subprocess).

It counts records per key in a Table (backed by its changelog topic) and sends each new
count to an output topic, all under ``processing_guarantee="exactly_once"``: reading
the output with read_committed must show every count exactly once, and a restart must
continue from the counts restored from the changelog.

It works the way the stream worker does: the changelog record and the output go in the
input partition's transaction together (``streams/transactions.py``), and the state is
keyed by the facts it has seen (here: each record's partition and offset), so a record
processed again after a restart changes nothing. Neither alone is enough, as this test
found: Faust's own path (``table[key] += 1`` + ``topic.send``) sends the output outside
any transaction (faust-streaming#177) and can put the buffered changelog record in the
next transaction; and since an event is acked only after its transaction may already
have committed, a plain counter counts a record twice across a restart (26).

Configured by environment: BROKER, APP_ID, IN_TOPIC, OUT_TOPIC, DATA_DIR, PARTITIONS.
"""

import asyncio
import os

import faust

from streams.transactions import TransactionalSender

app = faust.App(
    os.environ["APP_ID"],
    broker=f"kafka://{os.environ['BROKER']}",
    store="memory://",
    datadir=os.environ["DATA_DIR"],
    processing_guarantee="exactly_once",
    topic_partitions=int(os.environ["PARTITIONS"]),
    topic_allow_declare=True,
    web_enabled=False,
)
source = app.topic(
    os.environ["IN_TOPIC"], key_type=bytes, value_type=bytes, key_serializer="raw",
    value_serializer="raw", internal=False,
)  # fmt: skip
counts = app.Table(
    "counts", default=None, partitions=int(os.environ["PARTITIONS"]),
    key_type=bytes, value_type=bytes,
)  # fmt: skip
sender = TransactionalSender(app)


@app.agent(source)
async def count(stream):  # type: ignore[no-untyped-def]
    changelog = counts.changelog_topic.get_topic_name()
    async for event in stream.events():
        m = event.message
        value = str(int(counts.data.get(m.key) or b"0") + 1).encode()
        records = [
            (changelog, m.key, value, m.partition),
            (os.environ["OUT_TOPIC"], m.key, value, None),
        ]
        deliveries = await sender.send(m.topic, m.partition, records)
        counts.data[m.key] = value
        await asyncio.gather(*deliveries)


if __name__ == "__main__":
    app.main()
