"""``zjcredit demo`` as a subprocess in the e2e tests, on the session's Kafka and a database."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

from base.endpoints import Endpoints

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
