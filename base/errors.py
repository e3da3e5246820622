"""The project's error tree.

Every error the project raises on purpose derives from ``ZjcreditError``, so a caller
(the CLI, a worker loop) can tell "ours, with a message meant for a person" from a bug::

    ZjcreditError
    ├── ConfigError            a setting (environment variable or option) is malformed
    └── StackError             the local infrastructure could not be provided
        ├── ToolMissingError   java / mvn / the PostgreSQL binaries are not installed
        └── ServerStartError   a server exited or never became ready (carries its log tail)

Later packages (schemas, producers, streams, sink, query) hang their own documented
subclasses under ``ZjcreditError``.
"""

from __future__ import annotations

__all__ = ["ConfigError", "ServerStartError", "StackError", "ToolMissingError", "ZjcreditError"]


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
