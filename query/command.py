"""``zjcredit serve``, ``zjcredit query`` and ``zjcredit keys``.

Example::

    $ zjcredit serve                                   # the API on ZJCREDIT_API_PORT (8000)
    $ zjcredit keys create --role bank --name "宁波银行 credit desk"
    $ ZJCREDIT_API_KEY=zjc_... zjcredit query 91330100716105852F
    $ zjcredit query --name 美兴 --json
    $ zjcredit query --file codes.txt                 # exit status 1 if a code is not found
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from base.endpoints import resolve_endpoints
from base.settings import Settings, redact_url
from query.render import lookup_lines, profile_lines, search_lines

__all__ = ["SERVERS", "app_from_env", "granian_app", "keys_group", "query_command", "serve_command"]

T = TypeVar("T")


SERVERS = ("uvicorn", "granian")


def app_from_env() -> Any:
    """The service's app from the environment's settings: what ``zjcredit serve`` runs,
    and granian's factory target (its worker process builds its own app)."""
    from query.app import create_app  # noqa: PLC0415

    settings = Settings.from_env()
    endpoints = resolve_endpoints(settings, need_kafka=False, need_database=True)
    return create_app(endpoints.database_url, topic_prefix=settings.topic_prefix,
                      query_timeout=settings.query_timeout,
                      rate_per_key=settings.key_rate_limit, rate_per_address=settings.rate_limit,
                      cors_origins=settings.cors_origins,
                      bootstrap_servers=endpoints.bootstrap_servers or None,
                      ingest_max_bytes=settings.ingest_max_mib * 1024 * 1024,
                      export_rows=settings.export_rows)  # fmt: skip


def granian_app() -> Any:
    """:func:`app_from_env` as granian serves it: ``X-Forwarded-For`` from a proxy on this
    host (127.0.0.1) names the client, as uvicorn does by default (the per-address rate
    limit counts clients, not the proxy)."""
    from granian.utils.proxies import wrap_asgi_with_proxy_headers  # noqa: PLC0415

    return wrap_asgi_with_proxy_headers(app_from_env(), trusted_hosts="127.0.0.1")


@click.command("serve")
@click.option("--port", type=int, default=None, help="Port (default: ZJCREDIT_API_PORT, 8000).")
@click.option("--host", default=None, help="Address (default: ZJCREDIT_API_HOST, 127.0.0.1).")
@click.option("--server", type=click.Choice(SERVERS), default="uvicorn", show_default=True,
              help="The ASGI server: uvicorn (uvloop, httptools) or granian (Rust, "
              "one worker process).")  # fmt: skip
@click.pass_obj
def serve_command(settings: Settings, port: int | None, host: str | None, server: str) -> None:
    """Run the query service (HTTP API, registry paths, web page) until Ctrl-C."""
    endpoints = resolve_endpoints(settings, need_kafka=False, need_database=True)
    host = host or settings.api_host
    port = settings.api_port if port is None else port
    click.echo(f"query service http://{host}:{port}/ (API /docs, metrics /metrics, {server}) "
               f"postgres={redact_url(endpoints.database_url)}", err=True)  # fmt: skip
    if server == "granian":
        _granian(host, port)
    else:
        _uvicorn(app_from_env(), host, port)
    click.echo("query service stopped", err=True)


def _uvicorn(app: Any, host: str, port: int) -> None:
    import uvicorn  # noqa: PLC0415

    # uvicorn shuts down gracefully on SIGINT/SIGTERM, then raises the signal again with
    # the handler it found: make that handler a clean exit, so a stop is exit status 0.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _exit_cleanly)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False,
                loop="uvloop", http="httptools")  # fmt: skip


def _granian(host: str, port: int) -> None:
    from granian import Granian  # noqa: PLC0415
    from granian.constants import Interfaces, Loops  # noqa: PLC0415

    Granian("query.command:granian_app", address=host, port=port, interface=Interfaces.ASGI,
            factory=True, workers=1, loop=Loops.uvloop, log_enabled=False).serve()  # fmt: skip


def _exit_cleanly(signum: int, frame: object) -> NoReturn:
    raise SystemExit(0)


@click.command("query")
@click.argument("uscc", required=False)
@click.option("--name", "name", default=None, help="Search by a part of the Chinese name.")
@click.option("--file", "codes_file",
              type=click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=Path),
              default=None, help="Look up every credit code in a file (- for stdin), one a "
              "line (UTF-8; blank lines and # comments skipped).")  # fmt: skip
@click.option("--history", is_flag=True, help="The event history (department and admin keys).")
@click.option("--page", type=click.IntRange(1), default=1, show_default=True)
@click.option("--size", type=click.IntRange(1, 100), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON, for scripts.")
@click.pass_obj
def query_command(settings: Settings, uscc: str | None, *, name: str | None,
                  codes_file: Path | None, history: bool, page: int, size: int,
                  as_json: bool) -> None:  # fmt: skip
    """Look up an enterprise by credit code USCC, search with --name, or look up the codes
    of a file with --file (exit status 1 if one is not found or malformed).

    Talks to the query service at ZJCREDIT_API_URL with the key in ZJCREDIT_API_KEY (none:
    the public role). An error answer ends with its message and exit status 2.
    """
    from query.client import ApiClient  # noqa: PLC0415

    if sum(x is not None for x in (uscc, name, codes_file)) != 1:
        raise click.UsageError("give a credit code, --name TEXT or --file PATH (one of them)")
    missing = False
    with ApiClient(settings.api_url, settings.api_key) as client:
        if codes_file is not None:
            body = client.lookup(_codes_of(codes_file))
            lines = lookup_lines(body)
            missing = bool(body["not_found"] or body["malformed"])
        elif name is not None:
            body = client.search(name, page=page, size=size)
            lines = search_lines(body)
        elif history:
            assert uscc is not None
            body = client.history(uscc, page=page, size=size)
            lines = _history_lines(body)
        else:
            assert uscc is not None
            body = client.enterprise(uscc)
            lines = profile_lines(body)
    if as_json:
        click.echo(json.dumps(body, ensure_ascii=False, indent=2))
    else:
        click.echo("\n".join(lines))
    if missing:
        raise SystemExit(1)


def _codes_of(path: Path) -> list[str]:
    from base.errors import ZjcreditError  # noqa: PLC0415
    from query.lookup import codes_from_text  # noqa: PLC0415

    try:
        raw = click.get_binary_stream("stdin").read() if str(path) == "-" else path.read_bytes()
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ZjcreditError(f"{path}: not UTF-8 (byte {error.start}); save it as UTF-8") from None
    return codes_from_text(text)


def _history_lines(page: dict[str, Any]) -> list[str]:
    from query.render import table  # noqa: PLC0415

    lines = [f"事件 {page['total']} events (page {page['page']}, newest first)"]
    return lines + table(
        ["发生 Occurred", "来源 Source", "类型 Type", "部门 Dept"],
        [[e["occurred_at"], e["source"], e["event_type"], e.get("department") or "—"]
         for e in page["items"]],
    )  # fmt: skip


@click.group("keys")
def keys_group() -> None:
    """API keys of the query service (stored hashed in PostgreSQL)."""


def _with_database(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    import asyncpg  # noqa: PLC0415

    from query.db import migrate_all  # noqa: PLC0415

    url = resolve_endpoints(settings, need_kafka=False, need_database=True).database_url

    async def run() -> T:
        conn = await asyncpg.connect(url, timeout=10)
        try:
            await migrate_all(conn, read_model=False)
            return await work(conn)
        finally:
            await conn.close()

    return asyncio.run(run())


@keys_group.command("create")
@click.option("--role", type=click.Choice(["bank", "department", "admin"]), required=True)
@click.option("--name", required=True, help="Who holds the key, e.g. a bank's credit desk.")
@click.option("--department", default=None, metavar="CODE",
              help="A department key's department (SAT, SAMR, ...: the catalog's codes); "
                   "only then may it send data over HTTP.")  # fmt: skip
@click.pass_obj
def keys_create(settings: Settings, role: str, name: str, department: str | None) -> None:
    """Make a key; it is printed once, here, and only its sha256 is stored."""
    from query.keys import create_key  # noqa: PLC0415
    from query.roles import Role  # noqa: PLC0415
    from schemas.sectors import load_catalog  # noqa: PLC0415

    if department is not None:
        known = load_catalog().departments
        if role != "department":
            raise click.UsageError("--department is for --role department")
        if department not in known:
            raise click.UsageError(f"unknown department {department!r}; known: {', '.join(known)}")
    key_id, key = _with_database(
        settings, lambda conn: create_key(conn, name, Role(role), department)
    )
    click.echo(key)
    held = f"{role} {department}" if department else role
    click.echo(f"key {key_id} for {held} ({name}): keep it now, it cannot be shown again; "
               f"use it as ZJCREDIT_API_KEY or the X-API-Key header", err=True)  # fmt: skip
    if role == "department" and department is None:
        click.echo("it names no department (--department), so it cannot send data over HTTP",
                   err=True)  # fmt: skip


@keys_group.command("list")
@click.pass_obj
def keys_list(settings: Settings) -> None:
    """Every key: id, role, holder, created, revoked (never the key itself)."""
    from query.keys import list_keys  # noqa: PLC0415
    from query.render import table  # noqa: PLC0415

    keys = _with_database(settings, list_keys)
    rows = [[k.key_id, k.role.value, k.department or "—", k.name,
             k.created_at.strftime("%Y-%m-%d %H:%M"),
             k.revoked_at.strftime("%Y-%m-%d %H:%M") if k.revoked_at else "—"]
            for k in keys]  # fmt: skip
    header = ["id", "role", "department", "name", "created", "revoked"]
    click.echo("\n".join(table(header, rows, indent="")))


@keys_group.command("audit")
@click.option("--key", "key_id", default=None, help="Only this key id.")
@click.option("--uscc", default=None, help="Only reads of this enterprise.")
@click.option(
    "--since",
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
    default=None,
    help="Only reads since then (UTC).",
)
@click.option("--limit", type=click.IntRange(1, 100_000), default=100, show_default=True)
@click.pass_obj
def keys_audit(settings: Settings, key_id: str | None, uscc: str | None, since: Any,
               limit: int) -> None:  # fmt: skip
    """Who read what the public does not see: the newest reads by bank, department and
    admin keys (kept 365 days)."""
    import datetime as dt  # noqa: PLC0415

    from query.audit import audit_rows  # noqa: PLC0415
    from schemas.uscc import normalize  # noqa: PLC0415

    after = since.replace(tzinfo=dt.UTC) if since is not None else None
    code = normalize(uscc) if uscc is not None else None
    rows = _with_database(settings, lambda conn: audit_rows(
        conn, key_id=key_id, uscc=code, since=after, limit=limit))  # fmt: skip
    for row in rows:
        click.echo(f"{row['at']:%Y-%m-%d %H:%M:%S}  {row['key_id']:<8}  {row['role']:<10}  "
                   f"{row['uscc'] or '-':<18}  {row['route']}")  # fmt: skip
    click.echo(f"{len(rows)} read(s)", err=True)


@keys_group.command("revoke")
@click.argument("key_id")
@click.pass_obj
def keys_revoke(settings: Settings, key_id: str) -> None:
    """Revoke the key KEY_ID (as `keys list` shows it); the service refuses it within 10 s."""
    from base.errors import ZjcreditError  # noqa: PLC0415
    from query.keys import revoke_key  # noqa: PLC0415

    if not _with_database(settings, lambda conn: revoke_key(conn, key_id)):
        raise ZjcreditError(f"no key {key_id!r} in force (see `zjcredit keys list`)")
    click.echo(f"revoked {key_id}", err=True)
