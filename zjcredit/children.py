"""The ``zjcredit`` child processes of ``zjcredit demo``: start, watch, stop, no orphans.

Each child is a :class:`~zjcredit.stack.process.ServerProcess`: its own session and
process group (a terminal's Ctrl-C reaches only the parent, which stops the children in
order) and a parent-death signal (a SIGKILLed parent still takes them down). Stopping
sends SIGTERM, waits, then SIGKILLs the child's whole process group, so nothing it
started outlives it either.

Example::

    children = Children(log_dir, env)
    worker = children.start("worker", ["worker", "--metrics-port", "9101"])
    children.check()          # raises ChildExitedError with the log tail if one has died
    children.stop()           # last started, first stopped
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from zjcredit.errors import ZjcreditError
from zjcredit.stack.process import ServerProcess, log_tail

__all__ = ["ZJCREDIT", "ChildExitedError", "Children"]

ZJCREDIT = str(Path(sys.executable).with_name("zjcredit"))


class ChildExitedError(ZjcreditError):
    """A child process exited while it should be running; the message has its log tail."""


class Children:
    """Named ``zjcredit`` sub-commands running as children, logging to ``log_dir``.

    Args:
        log_dir: each child logs to ``<log_dir>/<name>.log``.
        env: the children's environment.
        say: called with one human line per stop.
    """

    def __init__(
        self, log_dir: Path, env: Mapping[str, str], say: Callable[[str], None] = lambda _: None
    ) -> None:
        self.log_dir = log_dir
        self.env = dict(env)
        self.say = say
        self.running: dict[str, ServerProcess] = {}

    def start(self, name: str, args: Sequence[str]) -> ServerProcess:
        """Start ``zjcredit ARGS`` as child ``name`` (SIGTERM stops it cleanly)."""
        log = self.log_dir / f"{name}.log"
        log.unlink(missing_ok=True)
        child = ServerProcess([ZJCREDIT, *args], log_path=log, env=self.env)
        self.running[name] = child
        return child

    def log(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def check(self) -> None:
        """Raise :class:`ChildExitedError` if any child has exited."""
        for name, child in self.running.items():
            code = child.exit_code()
            if code is not None:
                tail = log_tail(child.log_path, 25)
                raise ChildExitedError(
                    f"the {name} exited with status {code} ({child.log_path}):\n{tail}"
                )

    def wait_for_log(self, name: str, text: str, timeout: float) -> None:
        """Wait until ``text`` appears in the child's log; ChildExitedError if it dies first."""
        deadline = time.monotonic() + timeout
        while text not in self.log(name).read_text("utf-8", errors="replace"):
            self.check()
            if time.monotonic() > deadline:
                raise ChildExitedError(
                    f"the {name} did not log {text!r} within {timeout:.0f} s:\n"
                    + log_tail(self.log(name), 25)
                )
            time.sleep(0.2)

    def stop(self, timeout: float = 30.0) -> dict[str, int]:
        """Stop every child, last started first; return their exit statuses."""
        codes: dict[str, int] = {}
        for name in reversed(list(self.running)):
            child = self.running.pop(name)
            self.say(f"stopping the {name} ...")
            codes[name] = child.stop(timeout)
            # Whatever the child itself started is in its process group: take it down too.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(child.pid, signal.SIGKILL)
        return codes
