"""Local infrastructure: an embedded Apache Kafka broker and PostgreSQL server."""

from zjcredit.stack.kafka import KafkaBroker, ensure_jars, kafka_version
from zjcredit.stack.local import (
    Endpoints,
    LocalStack,
    forget_running_stack,
    record_running_stack,
    resolve_endpoints,
)
from zjcredit.stack.postgres import EmbeddedPostgres

__all__ = [
    "EmbeddedPostgres",
    "Endpoints",
    "KafkaBroker",
    "LocalStack",
    "ensure_jars",
    "forget_running_stack",
    "kafka_version",
    "record_running_stack",
    "resolve_endpoints",
]
