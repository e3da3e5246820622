"""The compose file's Kafka nodes set only settings a real Kafka broker has.

The apache/kafka image turns each ``KAFKA_*`` variable into a broker setting (``KAFKA_``
dropped, lower case, ``___`` -> ``-``, ``__`` -> ``_``, ``_`` -> ``.``: the image's
docker/examples/README.md) and passes a few to its start script instead (the heap, JVM
options). The broker the tests run, from the same Kafka version as the image, lists
every setting it has (DescribeConfigs): each variable must name one of them, so a typo
or a setting Kafka removed fails here instead of being ignored with a warning in a
container nobody watches.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType

from zjcredit.stack import kafka_version

COMPOSE = Path(__file__).resolve().parents[2] / "deploy" / "docker-compose.yml"
# Read by the image's scripts, not by the broker (its kafka-propertiesSpec.json, and
# kafka-run-class.sh / kafka-server-start.sh for the JVM).
START_SCRIPT = {"CLUSTER_ID", "KAFKA_HEAP_OPTS", "KAFKA_OPTS", "KAFKA_JVM_PERFORMANCE_OPTS",
                "KAFKA_GC_LOG_OPTS", "KAFKA_JMX_OPTS", "KAFKA_LOG4J_OPTS"}  # fmt: skip


def _setting(variable: str) -> str:
    name = variable.removeprefix("KAFKA_").lower()
    return name.replace("___", "\0").replace("__", "\1").replace("_", ".").replace(
        "\0", "-").replace("\1", "_")  # fmt: skip


def test_every_kafka_variable_of_the_compose_file_is_a_real_broker_setting(
    bootstrap_servers: str,
) -> None:
    services = yaml.safe_load(COMPOSE.read_text("utf-8"))["services"]
    nodes = {n: s for n, s in services.items() if s.get("image", "").startswith("apache/kafka:")}
    assert {s["image"] for s in nodes.values()} == {f"apache/kafka:{kafka_version()}"}
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers)
    try:
        broker = admin.describe_cluster()["brokers"][0]["broker_id"]
        described = admin.describe_configs(
            [ConfigResource(ConfigResourceType.BROKER, str(broker))], config_filter="all"
        )
    finally:
        admin.close()
    real = set(next(iter(described["broker"].values())))
    assert {"node.id", "process.roles", "controller.quorum.voters"} <= real, sorted(real)[:20]
    for name, service in nodes.items():
        unknown = {v: _setting(v) for v in service["environment"]
                   if v not in START_SCRIPT and _setting(v) not in real}  # fmt: skip
        assert unknown == {}, f"{name} sets what no Kafka {kafka_version()} broker has: {unknown}"
