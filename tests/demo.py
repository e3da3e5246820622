"""``zjcredit demo`` as a subprocess in the e2e tests, on the session's Kafka and a database."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from base.endpoints import Endpoints, free_port

T = TypeVar("T")

ZJCREDIT = str(Path(sys.executable).with_name("zjcredit"))


def start_demo(stack: Endpoints, database_url: str, work: Path, *, enterprises: int,
               rate: int, api_port: int, metrics_port: int,
               prefix: str) -> subprocess.Popen[bytes]:  # fmt: skip
    """The demo in its own session, logging to ``work/demo.log``, its run dir ``work/run``,
    its topics ``<prefix>-<random>.*``: nothing of the session's servers is shared but them."""
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap_servers,
        "DATABASE_URL": database_url,
        "ZJCREDIT_TOPIC_PREFIX": f"{prefix}-{uuid.uuid4().hex[:8]}",
        "ZJCREDIT_RUN_DIR": str(work / "run"),
    }
    for name in ("ZJCREDIT_KAFKA_BOOTSTRAP_SERVERS", "ZJCREDIT_DATABASE_URL"):
        env.pop(name, None)
    argv = [ZJCREDIT, "demo", "--enterprises", str(enterprises), "--rate", str(rate),
            "--api-port", str(api_port), "--metrics-port", str(metrics_port)]  # fmt: skip
    with (work / "demo.log").open("wb") as out:
        return subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip


def wait_for(check: Callable[[], T | None], seconds: float, what: str, log: Path) -> T:
    """``check()``'s first truthy answer, asked every half second; after ``seconds``, an
    AssertionError saying ``what`` did not happen, with the demo's log tail."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"{what} within {seconds} s; the demo's log:\n"
                         f"{log.read_text(errors='replace')[-3000:]}")  # fmt: skip


@contextlib.contextmanager
def running_demo(stack: Endpoints, database_url: str, work: Path, *, enterprises: int,
                 rate: int, prefix: str) -> Iterator[str]:  # fmt: skip
    """A started demo, once it says it is running; yields its query service's URL."""
    port = free_port()
    proc = start_demo(stack, database_url, work, enterprises=enterprises, rate=rate,
                      api_port=port, metrics_port=free_port(), prefix=prefix)  # fmt: skip
    log = work / "demo.log"
    try:
        wait_for(lambda: "is running:" in log.read_text(errors="replace"), 180,
                 "the demo was not running", log)  # fmt: skip
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait()
