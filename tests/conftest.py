"""Session-wide fixtures: ONE real Kafka broker and ONE real PostgreSQL per test session.

With ``KAFKA_BOOTSTRAP_SERVERS`` / ``DATABASE_URL`` (or the ``ZJCREDIT_`` names) set, the
tests use those servers; otherwise they start the embedded ones, on free ports so a
developer's running ``zjcredit stack up`` is left alone. Servers start only when a test
asks for them, so ``pytest tests/unit`` starts nothing. A server that does not come up
stops the whole run with its log tail (there is no point in 40 identical failures).

Factory fixtures hand every test its own topic, consumer group and database names.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from pathlib import Path

import asyncpg
import pytest
from kafka import KafkaAdminClient

from base.endpoints import Endpoints
from base.errors import StackError
from base.settings import Settings
from zjcredit.stack import LocalStack

_TIERS = ("unit", "property", "integration", "e2e", "faults")

# The suites run with 4 partitions, not the production default of 12: every partition is
# a transactional producer and a store in each worker the tests start, and four are
# enough to exercise the assignment; tests that need a count set their own.
os.environ.setdefault("ZJCREDIT_PARTITIONS", "4")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with its tier, from the folder it lives in."""
    for item in items:
        parts = Path(str(item.path)).parts
        for tier in _TIERS:
            if tier in parts:
                item.add_marker(getattr(pytest.mark, tier))


@pytest.fixture(scope="session")
def settings() -> Settings:
    """The environment's settings, with embedded servers on free ports."""
    return replace(Settings.from_env(), kafka_port=0, postgres_port=0)


@pytest.fixture(scope="session")
def stack(settings: Settings) -> Iterator[Endpoints]:
    """Kafka + PostgreSQL for the whole session (configured, or embedded and started here)."""
    local = LocalStack(settings)
    try:
        endpoints = local.start()
    except StackError as error:
        pytest.exit(f"the test stack did not come up: {error}", returncode=3)
    yield endpoints
    local.stop()


@pytest.fixture(scope="session")
def bootstrap_servers(stack: Endpoints) -> str:
    return stack.bootstrap_servers


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> Callable[[str], str]:
    """``unique_name("orders")`` -> ``orders-<test>-<8 hex>``: no two tests share a name."""
    test = "".join(c if c.isalnum() else "-" for c in request.node.name)[:40]

    def make(prefix: str) -> str:
        return f"{prefix}-{test}-{uuid.uuid4().hex[:8]}"

    return make


@pytest.fixture
def new_topic(bootstrap_servers: str, unique_name: Callable[[str], str]) -> Callable[..., str]:
    """Create a fresh topic (default 3 partitions) and return its name."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers)

    def make(prefix: str = "t", partitions: int = 3, config: dict[str, str] | None = None) -> str:
        name = unique_name(prefix)
        admin.create_topics(
            {name: {"num_partitions": partitions, "replication_factor": 1,
                    "configs": config or {}}},
            wait_for_metadata=True,
        )  # fmt: skip
        return name

    yield make
    admin.close()


@pytest.fixture
async def database_url(stack: Endpoints, unique_name: Callable[[str], str]) -> AsyncIterator[str]:
    """A fresh, empty database on the session's server; dropped afterwards."""
    name = unique_name("db").replace("-", "_").lower()[:63]
    admin = await asyncpg.connect(stack.database_url)
    try:
        await admin.execute(f'create database "{name}"')
        base, _, _ = stack.database_url.rpartition("/")
        yield f"{base}/{name}"
        await admin.execute(f'drop database if exists "{name}" with (force)')
    finally:
        await admin.close()


@pytest.fixture
def open_tmp_path() -> Iterator[Path]:
    """A temporary folder others may pass through (pytest's are 0700 under root, and the
    embedded PostgreSQL runs as an unprivileged user when the tests run as root)."""
    path = Path(tempfile.mkdtemp(prefix="zjcredit-test-"))
    path.chmod(0o755)
    yield path
    if not os.environ.get("ZJCREDIT_KEEP_TEST_DIRS"):  # kept: to read a failed run's logs
        shutil.rmtree(path, ignore_errors=True)
