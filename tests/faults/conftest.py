"""The fault tests' servers: a fresh three-node Kafka cluster per test, one PostgreSQL.

Every test here kills, pauses or isolates something, so each gets its own cluster (about
10 s to start): no test inherits a broker another one left behind or a partition still
catching up. They always run embedded brokers (a configured cluster is not ours to
kill); PostgreSQL is the configured one (``DATABASE_URL``) or an embedded one for the
session, each test in its own database.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from base.errors import StackError
from base.settings import Settings
from zjcredit.stack import EmbeddedPostgres, ensure_jars
from zjcredit.stack.cluster import KafkaCluster

# Three brokers, workers, a sink and PostgreSQL share 2 cores and other developers'
# servers: a bounded heap each, smaller than the single node's.
NODE_HEAP = "384m"


@pytest.fixture(scope="session")
def server_url(settings: Settings) -> Iterator[str]:
    """A PostgreSQL server's URL: the configured one, else an embedded one."""
    if settings.database_url:
        yield settings.database_url
        return
    # Not pytest's folders (0700 under root): the server runs as an unprivileged user.
    folder = Path(tempfile.mkdtemp(prefix="zjcredit-faults-pg-"))
    folder.chmod(0o755)
    server = EmbeddedPostgres(work_dir=folder / "pg", port=0)
    try:
        url = server.start()
    except StackError as error:
        pytest.exit(f"PostgreSQL did not come up: {error}", returncode=3)
    yield url
    server.stop()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def cluster(settings: Settings, open_tmp_path: Path) -> Iterator[KafkaCluster]:
    """Three Kafka nodes (broker + controller each), started; stopped after the test."""
    nodes = KafkaCluster(jars_dir=ensure_jars(settings.cache_dir), work_dir=open_tmp_path / "kafka",
                         brokers=3, heap=NODE_HEAP)  # fmt: skip
    try:
        nodes.start()
    except StackError as error:
        pytest.fail(f"the three-node cluster did not come up: {error}")
    yield nodes
    nodes.stop()
