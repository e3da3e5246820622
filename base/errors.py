"""The project's error tree, drawn whole in one place.

Every error the project raises on purpose derives from ``ZjcreditError``, so a caller
(the CLI, a worker loop) can tell "ours, with a message meant for a person" from a bug.
The ground's own classes are defined here; each room defines its subtree in its own
``errors`` module (named on the right), and tests/unit/base/test_errors.py checks that every
class is drawn here::

    ZjcreditError
    ├── ConfigError                a setting (variable or option) is malformed
    ├── StackError                 the local infrastructure could not be provided
    │   ├── ToolMissingError       java / mvn / the PostgreSQL binaries are not installed
    │   └── ServerStartError       a server exited or never became ready (its log tail)
    ├── TopicsError                the broker refused to create a topic
    │   └── TopicMismatchError     a topic exists with another partition count
    ├── ContractError              schemas/errors.py: a message breaks the Kafka contract
    │   ├── InvalidCreditCode      a credit code broke a rule of GB 32100-2015
    │   ├── InvalidPatentNumber    a patent application number broke a rule (schemas/patent_no.py)
    │   ├── UnknownSector          a sector code not in the key-sector catalog
    │   ├── InvalidEvent           an event breaks a rule or a bound of its source
    │   ├── SchemaRegistryError    a schema id or subject the registry lacks
    │   ├── EncodeError            a record does not fit its schema
    │   └── DecodeError            a message is not a valid Confluent-framed Avro
    │       ├── BadMagicByte
    │       ├── UnknownSchemaId
    │       └── CorruptBody
    ├── MigrationError             readmodel/errors.py: a migrations folder is malformed
    ├── SchemaVersionError         readmodel/errors.py: the database lacks migrations
    ├── PublishError               producers/errors.py: Kafka unreachable or not acknowledging
    ├── UnreadableFileError        producers/errors.py: a file that cannot be read as its format
    ├── WorkerError                streams/errors.py: the worker cannot go on as configured
    │   ├── FaustUnsupportedError  the installed Faust/aiokafka lack a name it relies on
    │   ├── AssignmentError        an assignment that is not co-partitioned
    │   │   └── StaleAssignmentError  one made before the worker's subscription
    │   ├── RulesError             streams/core/rules.json is malformed
    │   ├── StoreError             the local state store cannot be opened or used
    │   │   ├── StoreInUseError    another worker process has the store open
    │   │   ├── CorruptStoreError  a store read failed: wiped and rebuilt
    │   │   └── StateDecodeError   a stored state is not one
    │   └── TransactionLost        a partition's transaction was fenced (a state, not a fault)
    ├── SinkError                  sink/errors.py: the sink cannot go on as asked
    │   └── SinkRunningError       a sink is running against the database (rebuild refused)
    ├── QueryError                 query/errors.py: an answer of the query service (status)
    │   ├── Unauthorized           401
    │   ├── Forbidden              403
    │   ├── NotFound               404
    │   ├── InvalidParameter       422
    │   ├── PayloadTooLarge        413: an upload over the ingest's size limit
    │   ├── UnsupportedMediaType   415: an upload that is neither CSV nor JSON Lines
    │   ├── TooManyRequests        429: over a key's or an address's rate limit
    │   ├── DatabaseUnavailable    503
    │   ├── QueryTimeout           503: a statement ran past the pool's statement timeout
    │   ├── DatabaseBusy           503: every pooled connection stayed in use
    │   ├── PublishingFailed       503: an upload's rows did not all reach Kafka
    │   └── ApiClientError         the service answered an error, or nothing (the client)
    ├── BenchError                 benchmarks/harness.py: a benchmark could not measure
    └── ChildNotReadyError         zjcredit/children.py: a demo child did not get ready

A record a stage refuses is not an error of this tree: it is a verdict (a reject, a dead
letter), met at the stage's one decision point.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "ServerStartError",
    "StackError",
    "ToolMissingError",
    "TopicMismatchError",
    "TopicsError",
    "ZjcreditError",
]


class ZjcreditError(Exception):
    """Root of every error the project raises deliberately."""


class ConfigError(ZjcreditError, ValueError):
    """A setting is malformed; the message names the variable and the rule."""


class StackError(ZjcreditError):
    """The local Kafka broker or PostgreSQL server could not be provided."""


class ToolMissingError(StackError):
    """A program the embedded stack needs (java, mvn, postgres) is not installed."""


class ServerStartError(StackError):
    """A server exited during start or never became ready.

    ``log_tail`` holds the last lines of the server's log, which is where the real
    reason almost always is; ``str()`` includes it.
    """

    def __init__(self, message: str, log_tail: str = "") -> None:
        self.log_tail = log_tail
        full = f"{message}\n--- last lines of the log ---\n{log_tail}" if log_tail else message
        super().__init__(full)


class TopicsError(ZjcreditError):
    """The broker refused to create a topic (the message carries its reason)."""


class TopicMismatchError(TopicsError):
    """A project topic exists with another partition count: co-partitioning is broken."""
