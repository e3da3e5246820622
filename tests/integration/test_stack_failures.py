"""How the embedded servers fail: loudly, with the reason, and without leftovers."""

from __future__ import annotations

import socket
from pathlib import Path

import asyncpg
import psutil
import pytest

from base.errors import ServerStartError
from base.settings import Settings
from zjcredit.stack import EmbeddedPostgres, KafkaBroker, ensure_jars


def test_a_broker_that_dies_while_starting_shows_its_log(
    settings: Settings, tmp_path: Path
) -> None:
    # A 1 KiB heap makes the JVM refuse to start: a real broker process exiting early.
    broker = KafkaBroker(jars_dir=ensure_jars(settings.cache_dir), work_dir=tmp_path, heap="1k")

    with pytest.raises(ServerStartError) as caught:
        broker.start(timeout=60)

    message = str(caught.value)
    assert "exited with status" in message
    assert "last lines of the log" in message
    assert "heap" in message.lower()
    assert broker.pid is None


async def test_postgres_moves_off_a_busy_port_and_stops_cleanly(open_tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        server = EmbeddedPostgres(work_dir=open_tmp_path / "pg", port=taken)
        with server:
            assert server.port != taken
            pid = server.pid
            assert pid is not None
            conn = await asyncpg.connect(server.database_url)
            assert await conn.fetchval("select current_database()") == "zjcredit"
            await conn.close()
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
