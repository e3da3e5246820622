"""What the benchmarks share: a child process run for the length of a block, a scratch
database. Raw I/O only, no stage: each bench composes the stages it measures.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg

from base.errors import ZjcreditError

__all__ = ["BenchError", "run_process", "scratch_database"]


class BenchError(ZjcreditError):
    """A benchmark could not measure what it measures (the message says what failed)."""


@contextlib.contextmanager
def run_process(argv: list[str], env: dict[str, str], log: Path) -> Iterator[float]:
    """Run ``argv`` in its own session, logging to ``log``; yield its start time; stop it
    after (SIGTERM, then SIGKILL); print the log's tail if the body failed."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield time.monotonic()
        except Exception:
            sys.stderr.write(log.read_text(errors="replace")[-3000:])
            raise
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextlib.contextmanager
def scratch_database(database_url: str) -> Iterator[str]:
    """A database created for the run on the same server, dropped after (both benches)."""
    name = f"zjcredit_bench_{uuid.uuid4().hex[:8]}"
    base, _, _ = database_url.rpartition("/")

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'create database "{name}"'))
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(admin(f'drop database if exists "{name}" with (force)'))
