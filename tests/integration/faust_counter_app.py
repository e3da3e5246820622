"""A one-agent, one-Table Faust app used by test_faust_engine.py (run as a subprocess).

It counts records per key in a Table (backed by its changelog topic) and sends each new
count to an output topic, all under ``processing_guarantee="exactly_once"``: reading
the output with read_committed must show every count exactly once, and a restart must
continue from the counts restored from the changelog.

It works the way the stream worker does, with the worker's own parts:

- the changelog record and the output go in the input partition's transaction together
  (``streams/transactions.py``): Faust's own path (``table[key] += 1`` + ``topic.send``)
  sends the output outside any transaction (faust-streaming#177) and can put the
  buffered changelog record in the next transaction;
- the new count is pending until that transaction commits (``streams/pending.py``): a
  rebalance that aborts it must not leave the count in memory;
- every input offset is counted once (``streams/continuity.py``): Faust can deliver a
  record again after a restart or a rebalance, or skip one.

Configured by environment: BROKER, APP_ID, IN_TOPIC, OUT_TOPIC, DATA_DIR, PARTITIONS.
"""

import os

import faust

from streams.continuity import Continuity
from streams.faust_fixes import patch_commit_runs, patch_recovery_highwaters, settle_repairs
from streams.pending import PendingStates
from streams.transactions import TransactionalSender

patch_recovery_highwaters()  # as the worker does
patch_commit_runs()
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
pending = PendingStates(counts.data)
sender = TransactionalSender(app, pending)
continuity = Continuity(os.environ["BROKER"], os.environ["APP_ID"])


@app.on_rebalance_complete.connect
def rebalanced(sender, /, *args, signal, **kwargs):  # type: ignore[no-untyped-def]
    continuity.reset()


@app.agent(source)
async def count(stream):  # type: ignore[no-untyped-def]
    sender.install()
    await continuity.start()
    changelog = counts.changelog_topic.get_topic_name()
    async for event in stream.events():
        m = event.message
        admission = await continuity.admit([(m.topic, m.partition, m.offset, m.key, m.value)])
        for topic, partition, _, key, _ in admission.messages:
            value = str(int(pending.get(key) or b"0") + 1).encode()
            records = [
                (changelog, key, value, partition),
                (os.environ["OUT_TOPIC"], key, value, None),
            ]
            delivery = await sender.send(topic, partition, records, {key: value})
            await sender.settle([delivery] if delivery else [])
        settle_repairs(app.consumer, admission)  # as the worker does


if __name__ == "__main__":
    app.main()
