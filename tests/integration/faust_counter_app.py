"""A one-agent, one-Table Faust app used by test_faust_engine.py (run as a subprocess).

It counts records per key in a Table (backed by its changelog topic) and sends each new
count to an output topic, all under ``processing_guarantee="exactly_once"``: reading
the output with read_committed must show every count exactly once.

Configured by environment: BROKER, APP_ID, IN_TOPIC, OUT_TOPIC, DATA_DIR, PARTITIONS.
"""

import os

import faust

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
    os.environ["IN_TOPIC"], key_serializer="raw", value_serializer="raw", internal=False
)
output = app.topic(os.environ["OUT_TOPIC"], key_serializer="raw", value_serializer="raw")
counts = app.Table("counts", default=int, partitions=int(os.environ["PARTITIONS"]))


@app.agent(source)
async def count(stream):  # type: ignore[no-untyped-def]
    async for key, _value in stream.items():
        name = key.decode()
        counts[name] += 1
        await output.send(key=key, value=str(counts[name]).encode())


if __name__ == "__main__":
    app.main()
