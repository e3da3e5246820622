"""A department's own producer, Confluent's stock ``AvroSerializer`` with
``auto.register.schemas=False``, sends to the real topics of a running ``zjcredit demo``:
it finds our schema ids through the registry paths of the query service, the worker folds
its events, and the read model shows them. Registration from a client is refused."""

from __future__ import annotations

import datetime as dt
import json
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import SerializingProducer
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import StringSerializer

from base.endpoints import Endpoints
from schemas.codec import Codec
from schemas.registry import ManifestRegistry
from schemas.uscc import make_code
from tests.demo import running_demo, wait_for
from tests.outputs import read_topic

NEW_FIRM = make_code("91", "330106", "DEPT0001")


FAILED_DELIVERIES: list[Any] = []


def _failed(error: Any, _message: Any) -> None:
    if error is not None:
        FAILED_DELIVERIES.append(error)


def _profile(api: str, uscc: str) -> dict[str, Any] | None:
    try:
        url = f"{api}/v1/enterprises/{uscc}"
        with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 - our http URL
            return dict(json.load(answer))
    except OSError:  # 404 until the sink has written it, or not up yet
        return None


@pytest.fixture
def demo_api(stack: Endpoints, database_url: str, open_tmp_path: Path) -> Iterator[str]:
    with running_demo(stack, database_url, open_tmp_path, enterprises=20, rate=5,
                      prefix="stock") as url:  # fmt: skip
        yield url


def _seen_record(bootstrap_servers: str, topic: str, codec: Codec,
                 want: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:  # fmt: skip
    """One record the demo's own producer wrote to ``topic``, decoded, that ``want`` accepts."""
    for _, value in read_topic(bootstrap_servers, topic):
        record, _ = codec.decode(value)
        if want(record):
            return record
    raise AssertionError(f"no such record on {topic}")


def test_a_stock_avro_serializer_finds_our_ids_and_its_events_are_folded(
    demo_api: str, stack: Endpoints, open_tmp_path: Path
) -> None:
    client = SchemaRegistryClient({"url": demo_api})
    tax_subject = next(s for s in client.get_subjects() if s.endswith(".tax-value"))
    prefix = tax_subject.removesuffix(".tax-value")
    codec = Codec(ManifestRegistry.load())
    log = open_tmp_path / "demo.log"
    # The demo's producer has written its province before "is running:".
    firm = _seen_record(stack.bootstrap_servers, f"{prefix}.enterprise", codec,
                        lambda r: r["event_type"] == "REGISTERED")  # fmt: skip
    grade = _seen_record(stack.bootstrap_servers, f"{prefix}.tax", codec,
                         lambda r: r["event_type"] == "GRADE_ASSESSED")  # fmt: skip

    # The department holds the schemas as text, as published by GET .../versions/latest.
    def serializer(role: str) -> AvroSerializer:
        text = client.get_latest_version(f"{prefix}.{role}-value").schema.schema_str
        made: AvroSerializer = AvroSerializer(client, text, conf={"auto.register.schemas": False})
        return made

    # Registering is refused with Confluent's 403 body.
    with pytest.raises(SchemaRegistryError) as refused:
        client.register_schema(f"{prefix}.tax-value", Schema('"string"', "AVRO"))
    assert (refused.value.http_status_code, refused.value.error_code) == (403, 40301)

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    registered = {**firm, "event_id": str(uuid.uuid4()), "uscc": NEW_FIRM,
                  "name": "杭州标准客户端测试有限公司", "occurred_at": now, "reported_at": now}  # fmt: skip
    assessed = {**grade, "event_id": str(uuid.uuid4()), "uscc": NEW_FIRM,
                "occurred_at": now, "reported_at": now}  # fmt: skip
    for role, record in (("enterprise", registered), ("tax", assessed)):
        producer = SerializingProducer({
            "bootstrap.servers": stack.bootstrap_servers,
            "enable.idempotence": True,
            "acks": "all",
            "key.serializer": StringSerializer("utf_8"),
            "value.serializer": serializer(role),
        })  # fmt: skip
        producer.produce(f"{prefix}.{role}", key=NEW_FIRM, value=record, on_delivery=_failed)
        assert producer.flush(30) == 0
    assert FAILED_DELIVERIES == []

    # The stock client wrote our framing and ids: our own decoder reads back the same record.
    for role, record in (("enterprise", registered), ("tax", assessed)):
        topic = f"{prefix}.{role}"
        mine = [codec.decode(v) for k, v in read_topic(stack.bootstrap_servers, topic)
                if k == NEW_FIRM.encode()]  # fmt: skip
        assert len(mine) == 1
        decoded, writer = mine[0]
        assert writer.id == ManifestRegistry.load().latest(role).id
        assert str(decoded["event_id"]) == record["event_id"]

    profile = wait_for(lambda: (p := _profile(demo_api, NEW_FIRM)) and p.get("tax_grade") and p,
                    120, "the stock client's firm in the read model", log)  # fmt: skip
    assert profile["name"] == "杭州标准客户端测试有限公司"
    assert profile["tax_grade"] == grade["grade"]
