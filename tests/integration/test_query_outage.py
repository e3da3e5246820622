"""The query service without PostgreSQL: 503 in the one JSON error shape, then recovery.

``zjcredit serve`` is pointed at a PostgreSQL of its own on a port reserved for it, before
that server runs: every route that needs the database answers 503 (never a trace),
``/healthz`` too, while the registry paths keep working. Then the server starts on that
port and the service recovers by itself (migrations applied on first connection); then
the server stops under it and it answers 503 again (but for ``/v1/stats``, whose kept
counts it serves for their 30 s).

Also: API keys live outside the read model, so a rebuild (``readmodel.migrate.drop``) keeps them.
"""

from __future__ import annotations

import time
from pathlib import Path

import asyncpg
import httpx

from base.endpoints import free_port
from query.db import migrate_all
from query.keys import create_key, role_of_key
from query.roles import Role
from readmodel.migrate import MIGRATIONS, drop
from tests.queryservice import QueryService
from zjcredit.stack import EmbeddedPostgres

ROUTES = ("/healthz", "/v1/stats", "/v1/enterprises/91330100716105852F", "/v1/blacklist",
          "/v1/enterprises?q=杭州市")  # fmt: skip


def _all_503(url: str, routes: tuple[str, ...] = ROUTES) -> None:
    for path in routes:
        response = httpx.get(f"{url}{path}", timeout=30)
        assert response.status_code == 503, (path, response.text)
        body = response.json()
        assert body["error"] == "database_unavailable", body
        assert set(body) == {"status", "error", "error_code", "message", "details"}
        assert "Traceback" not in response.text
        assert response.headers["retry-after"] == "5"


def _wait_healthy(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while httpx.get(f"{url}/healthz", timeout=30).status_code != 200:
        assert time.monotonic() < deadline, "the service did not recover"
        time.sleep(0.5)


def test_postgresql_down_is_503_and_the_service_recovers(open_tmp_path: Path) -> None:
    port = free_port()
    pg = EmbeddedPostgres(work_dir=open_tmp_path / "pg", port=port)
    url = f"postgresql://postgres@127.0.0.1:{port}/zjcredit"
    service = QueryService(url, "zjcredit", open_tmp_path / "serve.log", migrate=False)
    try:
        _all_503(service.url)
        assert httpx.get(f"{service.url}/subjects").status_code == 200  # no database needed
        metrics = httpx.get(f"{service.url}/metrics").text
        assert "zjcredit_query_database_up 0.0" in metrics

        assert pg.start() == url, "PostgreSQL started on another port than reserved"
        # Up but not migrated: the service has no DDL rights to need, it says what to run.
        _all_503(service.url)
        behind = httpx.get(f"{service.url}/healthz", timeout=30).json()
        assert "zjcredit migrate" in behind["message"], behind
        assert "applied  0001_read_model" in service.migrate()
        assert "up to date" in service.migrate()
        _wait_healthy(service.url)
        stats = httpx.get(f"{service.url}/v1/stats").json()
        assert stats["enterprises"] == 0

        pg.stop()
        _all_503(service.url, tuple(r for r in ROUTES if r != "/v1/stats"))
        # The stats are counts kept for up to 30 s (query/cache.py), not a read per call.
        assert httpx.get(f"{service.url}/v1/stats", timeout=30).json() == stats
        assert service.proc.poll() is None, service.logs()
    finally:
        assert service.stop() == 0, service.logs()
        pg.stop()
    assert "Traceback" not in service.logs()


async def test_api_keys_survive_a_rebuild_of_the_read_model(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        assert "0001_api_keys" in await migrate_all(conn)
        _, key = await create_key(conn, "某银行", Role.BANK)

        await drop(conn)  # what `zjcredit sink rebuild` does first

        assert await role_of_key(conn, key) is Role.BANK
        assert await conn.fetchval("select count(*) from access.audit") == 0  # kept, empty
        # The read model's migrations again, only them: the access schema was not dropped.
        assert await migrate_all(conn) == sorted(p.stem for p in MIGRATIONS.glob("*.sql"))
    finally:
        await conn.close()
