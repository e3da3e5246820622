"""Child-process plumbing shared by the embedded broker and database.

Why not plain ``subprocess.Popen``: a server we start must never outlive us. The child
gets its own session (so a terminal's Ctrl-C reaches only us, and we stop the children
in order) and a parent-death signal (so even a SIGKILLed parent takes its servers with it).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from base.errors import ServerStartError

__all__ = ["ManagedServer", "ServerProcess", "log_tail"]

_PR_SET_PDEATHSIG = 1


def log_tail(path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of a log file, or a note that there is none."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])


def _child_setup(uid: int | None, gid: int | None, death_signal: int) -> Callable[[], None]:
    # Loaded before the fork: dlopen in the child of a threaded parent (the demo restarts
    # children from a thread) could wait forever on a lock another thread held.
    libc = ctypes.CDLL(None, use_errno=True)

    def setup() -> None:
        if gid is not None:
            os.setgid(gid)
        if uid is not None:
            os.setuid(uid)
        # Set after setuid: a credential change clears the parent-death signal.
        libc.prctl(_PR_SET_PDEATHSIG, death_signal, 0, 0, 0)

    return setup


class ServerProcess:
    """A long-running server child with its output in a log file.

    ``stop_signal`` is the server's own "shut down cleanly" signal (SIGTERM for the JVM,
    SIGINT = fast shutdown for PostgreSQL); it is also what the child receives if we die.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        log_path: Path,
        stop_signal: int = signal.SIGTERM,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        uid: int | None = None,
        gid: int | None = None,
    ) -> None:
        self.log_path = log_path
        self.stop_signal = stop_signal
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=cwd,
                start_new_session=True,
                preexec_fn=_child_setup(uid, gid, stop_signal),  # noqa: PLW1509 - needs fork
            )

    @property
    def pid(self) -> int:
        return self._proc.pid

    def exit_code(self) -> int | None:
        """``None`` while running, else the exit status."""
        return self._proc.poll()

    def stop(self, timeout: float = 30.0) -> int:
        """Ask the server to stop; kill it after ``timeout`` seconds. Returns its status."""
        if self._proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.send_signal(self.stop_signal)
            try:
                return self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        return self._proc.wait()

    def kill(self) -> int:
        """SIGKILL the server (no clean shutdown: a crash) and reap it; its status."""
        with contextlib.suppress(ProcessLookupError):
            self._proc.kill()
        return self._proc.wait()


class ManagedServer:
    """Common life cycle of the embedded servers: start, watch, stop, context manager.

    Subclasses implement :meth:`start` (set ``self._process``, wait until ready, return
    the address) and set ``log_path``.
    """

    log_path: Path
    _process: ServerProcess | None = None

    def start(self, timeout: float = 120.0) -> str:
        raise NotImplementedError

    def _wait_until(
        self, ready: Callable[[], bool], name: str, timeout: float, poll: float = 0.2
    ) -> None:
        """Poll ``ready`` until true; a server that exits or never gets ready is a
        ServerStartError carrying the tail of its log."""
        assert self._process is not None
        deadline = time.monotonic() + timeout
        while True:
            code = self._process.exit_code()
            if code is not None:
                raise ServerStartError(
                    f"{name} exited with status {code} while starting (log: {self.log_path})",
                    log_tail(self.log_path),
                )
            if ready():
                return
            if time.monotonic() > deadline:
                raise ServerStartError(
                    f"{name} did not get ready within {timeout:.0f} s (log: {self.log_path})",
                    log_tail(self.log_path),
                )
            time.sleep(poll)

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the server to stop cleanly; kill it after ``timeout`` seconds."""
        if self._process is not None:
            self._process.stop(timeout)
            self._process = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def exit_code(self) -> int | None:
        """``None`` while running (or never started), else the exit status."""
        return self._process.exit_code() if self._process else None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
