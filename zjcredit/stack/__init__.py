"""Local infrastructure: an embedded Apache Kafka broker and PostgreSQL server."""

from zjcredit.stack.kafka import KafkaBroker, ensure_jars, kafka_version
from zjcredit.stack.local import LocalStack
from zjcredit.stack.postgres import EmbeddedPostgres

__all__ = ["EmbeddedPostgres", "KafkaBroker", "LocalStack", "ensure_jars", "kafka_version"]
