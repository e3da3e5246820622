"""Process settings: one frozen object, built once in ``main()`` from the environment.

Every field names the environment variable that sets it. Where the world already has a
common name (``KAFKA_BOOTSTRAP_SERVERS``, ``DATABASE_URL``) the project's prefixed name
wins if both are set, so one shell can hold settings for two projects.

Nothing here runs at import time: call :meth:`Settings.from_env`.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from base.errors import ConfigError

__all__ = ["Settings"]

# Kafka topic names: legal characters only, and short enough for the longest suffix we add.
_TOPIC_PREFIX_RE = re.compile(r"^[A-Za-z0-9._-]{1,100}$")


@dataclass(frozen=True)
class Settings:
    """Typed settings for one zjcredit process.

    Attributes (environment variable in brackets):
        kafka_bootstrap_servers: an existing Kafka cluster, ``host:port[,host:port]``
            [``ZJCREDIT_KAFKA_BOOTSTRAP_SERVERS`` or ``KAFKA_BOOTSTRAP_SERVERS``]. ``None``:
            the project starts its own embedded broker.
        database_url: an existing PostgreSQL, ``postgresql://user:pw@host:port/db``
            [``ZJCREDIT_DATABASE_URL`` or ``DATABASE_URL``]. ``None``: embedded server.
        topic_prefix: prefix of every topic name [``ZJCREDIT_TOPIC_PREFIX``, ``zjcredit``].
        partitions: partitions of every project topic; bounds worker parallelism
            [``ZJCREDIT_PARTITIONS``, 12; why: docs/operations.md].
        replication_factor: replicas of every project topic [``ZJCREDIT_REPLICATION_FACTOR``];
            ``None``: the cluster's broker count, at most 3 (one broker: 1, three: 3).
        min_insync_replicas: replicas an acknowledged write needs, the topics'
            ``min.insync.replicas`` [``ZJCREDIT_MIN_INSYNC_REPLICAS``]; ``None``: the
            replication factor minus one, at least 1, at most 2 (factor 3: 2, so one broker
            may fail without refusing a write or losing an acknowledged one).
        cache_dir: downloaded Kafka jars live here [``ZJCREDIT_CACHE_DIR``,
            ``$XDG_CACHE_HOME/zjcredit`` or ``~/.cache/zjcredit``].
        run_dir: ``zjcredit stack up`` records its addresses here, so other commands in other
            terminals find the running stack [``ZJCREDIT_RUN_DIR``, ``<cache_dir>/run``].
        data_dir: embedded servers keep their data here across runs
            [``ZJCREDIT_DATA_DIR``]; ``None``: a temporary folder removed on stop.
        kafka_port: preferred port of the embedded broker; taken if free, else any free
            port [``ZJCREDIT_KAFKA_PORT``, 9092; 0 = any].
        postgres_port: preferred port of the embedded PostgreSQL [``ZJCREDIT_POSTGRES_PORT``,
            5432; 0 = any].
        kafka_heap: maximum Java heap of each embedded broker [``ZJCREDIT_KAFKA_HEAP``, ``512m``].
        kafka_brokers: nodes of the embedded Kafka cluster, each broker and controller
            [``ZJCREDIT_KAFKA_BROKERS``, 1; ``zjcredit stack up --brokers 3``].
        api_port: port of the query service [``ZJCREDIT_API_PORT``, 8000].
        api_host: address ``zjcredit serve`` listens on [``ZJCREDIT_API_HOST``,
            ``127.0.0.1``; ``0.0.0.0`` for every interface].
        api_url: the query service ``zjcredit query`` talks to [``ZJCREDIT_API_URL``,
            ``http://127.0.0.1:<api_port>``].
        api_key: the API key ``zjcredit query`` sends [``ZJCREDIT_API_KEY``]; ``None``:
            the public role. Never printed.
        query_timeout: seconds a statement of the query service may run before
            PostgreSQL cancels it (a 503 ``query_timeout``) [``ZJCREDIT_QUERY_TIMEOUT``, 2].
        rate_limit: ``/v1`` requests a minute per client address, for callers without a
            valid key [``ZJCREDIT_RATE_LIMIT``, 600; 0 = none]; over it: 429.
        key_rate_limit: ``/v1`` requests a minute per valid API key
            [``ZJCREDIT_KEY_RATE_LIMIT``, 6000; 0 = none].
        ingest_max_mib: the largest upload to ``POST /v1/ingest/{source}``, in MiB
            [``ZJCREDIT_INGEST_MAX_MIB``, 64]; over it: 413.
        export_rows: the most rows one export (``format=csv|jsonl``) of the query service
            may have [``ZJCREDIT_EXPORT_ROWS``, 100000]; over it: 422 ``export_too_large``.
        cors_origins: web origins whose pages may call the query service from a browser,
            ``scheme://host[:port]`` each [``ZJCREDIT_CORS_ORIGINS``, comma-separated];
            empty: CORS is off (only pages the service serves itself may call it).
        as_of: fixes the stream worker's clock at this date, for replays of old data
            [``ZJCREDIT_AS_OF``, ``YYYY-MM-DD``]; ``None``: today in Beijing.
        worker_fault: **for tests only**: the stream worker kills itself (SIGKILL) at a
            step of its exactly-once protocol, ``sent:N`` (the N-th transaction is open,
            its records sent), ``committed:N`` (committed, its states not yet on disk) or
            ``rebuild:N`` (N changelog records copied into rebuilt stores), or SIGSTOPs
            itself at ``pause:N`` (as ``sent:N``; SIGCONT wakes a zombie)
            [``ZJCREDIT_WORKER_FAULT``]; ``None``: never.
    """

    kafka_bootstrap_servers: str | None = None
    database_url: str | None = field(default=None, repr=False)
    topic_prefix: str = "zjcredit"
    partitions: int = 12
    replication_factor: int | None = None
    min_insync_replicas: int | None = None
    cache_dir: Path = Path.home() / ".cache" / "zjcredit"
    run_dir: Path = Path.home() / ".cache" / "zjcredit" / "run"
    data_dir: Path | None = None
    kafka_port: int = 9092
    postgres_port: int = 5432
    kafka_heap: str = "512m"
    kafka_brokers: int = 1
    api_port: int = 8000
    api_host: str = "127.0.0.1"
    api_url: str = "http://127.0.0.1:8000"
    api_key: str | None = field(default=None, repr=False)
    query_timeout: float = 2.0
    rate_limit: int = 600
    key_rate_limit: int = 6000
    cors_origins: tuple[str, ...] = ()
    ingest_max_mib: int = 64
    export_rows: int = 100_000
    as_of: dt.date | None = None
    worker_fault: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``environ`` (default ``os.environ``); raise ConfigError."""
        env = os.environ if environ is None else environ
        prefix = _first(env, "ZJCREDIT_TOPIC_PREFIX") or "zjcredit"
        if not _TOPIC_PREFIX_RE.match(prefix):
            raise ConfigError(
                f"ZJCREDIT_TOPIC_PREFIX={prefix!r}: use 1-100 characters of A-Z a-z 0-9 . _ -"
            )
        heap = _first(env, "ZJCREDIT_KAFKA_HEAP") or "512m"
        if not re.fullmatch(r"[1-9][0-9]*[kKmMgG]", heap):
            raise ConfigError(f"ZJCREDIT_KAFKA_HEAP={heap!r}: expected a Java size like 512m or 1g")
        cache = _first(env, "ZJCREDIT_CACHE_DIR")
        xdg = _first(env, "XDG_CACHE_HOME")
        data = _first(env, "ZJCREDIT_DATA_DIR")
        cache_dir = _cache_dir(cache, xdg)
        run = _first(env, "ZJCREDIT_RUN_DIR")
        api_port = _int(env, "ZJCREDIT_API_PORT", 8000, low=0, high=65535)
        api_url = (_first(env, "ZJCREDIT_API_URL") or f"http://127.0.0.1:{api_port}").rstrip("/")
        if urlsplit(api_url).scheme not in ("http", "https"):
            raise ConfigError(f"ZJCREDIT_API_URL={api_url!r}: expected http://host:port")
        return cls(
            kafka_bootstrap_servers=_first(
                env, "ZJCREDIT_KAFKA_BOOTSTRAP_SERVERS", "KAFKA_BOOTSTRAP_SERVERS"
            ),
            database_url=_first(env, "ZJCREDIT_DATABASE_URL", "DATABASE_URL"),
            topic_prefix=prefix,
            partitions=_int(env, "ZJCREDIT_PARTITIONS", 12, low=1, high=1000),
            replication_factor=_optional_int(env, "ZJCREDIT_REPLICATION_FACTOR", low=1, high=10),
            min_insync_replicas=_optional_int(env, "ZJCREDIT_MIN_INSYNC_REPLICAS", low=1, high=10),
            cache_dir=cache_dir,
            run_dir=Path(run) if run else cache_dir / "run",
            data_dir=Path(data) if data else None,
            kafka_port=_int(env, "ZJCREDIT_KAFKA_PORT", 9092, low=0, high=65535),
            postgres_port=_int(env, "ZJCREDIT_POSTGRES_PORT", 5432, low=0, high=65535),
            kafka_heap=heap,
            kafka_brokers=_int(env, "ZJCREDIT_KAFKA_BROKERS", 1, low=1, high=9),
            api_port=api_port,
            api_host=_first(env, "ZJCREDIT_API_HOST") or "127.0.0.1",
            api_url=api_url,
            api_key=_first(env, "ZJCREDIT_API_KEY"),
            query_timeout=_seconds(env, "ZJCREDIT_QUERY_TIMEOUT", 2.0, low=0.1, high=600),
            rate_limit=_int(env, "ZJCREDIT_RATE_LIMIT", 600, low=0, high=10_000_000),
            key_rate_limit=_int(env, "ZJCREDIT_KEY_RATE_LIMIT", 6000, low=0, high=10_000_000),
            cors_origins=_origins(env, "ZJCREDIT_CORS_ORIGINS"),
            ingest_max_mib=_int(env, "ZJCREDIT_INGEST_MAX_MIB", 64, low=1, high=4096),
            export_rows=_int(env, "ZJCREDIT_EXPORT_ROWS", 100_000, low=1, high=100_000_000),
            as_of=_date(env, "ZJCREDIT_AS_OF"),
            worker_fault=_fault(env, "ZJCREDIT_WORKER_FAULT"),
        )

    def redacted_database_url(self) -> str | None:
        """The database URL with any password replaced by ``***``, safe to print."""
        return redact_url(self.database_url) if self.database_url else None


def redact_url(url: str) -> str:
    """``postgresql://u:secret@h/db`` -> ``postgresql://u:***@h/db``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _cache_dir(explicit: str | None, xdg_cache_home: str | None) -> Path:
    if explicit:
        return Path(explicit)
    base = Path(xdg_cache_home) if xdg_cache_home else Path.home() / ".cache"
    return base / "zjcredit"


def _first(env: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        value = env.get(name, "").strip()
        if value:
            return value
    return None


def _int(env: Mapping[str, str], name: str, default: int, *, low: int, high: int) -> int:
    raw = _first(env, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r}: expected a whole number") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}={value}: expected {low}..{high}")
    return value


def _optional_int(env: Mapping[str, str], name: str, *, low: int, high: int) -> int | None:
    return None if _first(env, name) is None else _int(env, name, 0, low=low, high=high)


def _seconds(env: Mapping[str, str], name: str, default: float, *, low: float,
             high: float) -> float:  # fmt: skip
    raw = _first(env, name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r}: expected seconds, e.g. 2 or 0.5") from None
    if not low <= value <= high:  # also refuses nan
        raise ConfigError(f"{name}={value:g}: expected {low:g}..{high:g} seconds")
    return value


def _date(env: Mapping[str, str], name: str) -> dt.date | None:
    raw = _first(env, name)
    if raw is None:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a date (YYYY-MM-DD)") from None


def _origins(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    raw = _first(env, name)
    origins = [o.strip().rstrip("/").lower() for o in (raw or "").split(",") if o.strip()]
    for origin in origins:
        # An origin is exactly scheme://host[:port]: no path, no wildcard.
        if not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?", origin):
            raise ConfigError(
                f"{name}: {origin!r} is not an origin; expected comma-separated "
                "https://host[:port] (no path, no *)"
            )
    return tuple(origins)


def _fault(env: Mapping[str, str], name: str) -> str | None:
    raw = _first(env, name)
    if raw is not None and not re.fullmatch(r"(sent|committed|rebuild|pause):[1-9][0-9]*", raw):
        raise ConfigError(
            f"{name}={raw!r}: expected sent:N, committed:N, rebuild:N or pause:N (N >= 1)"
        )
    return raw
