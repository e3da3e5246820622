"""The ``zjcredit`` child processes of ``zjcredit demo``: start, restart, stop, no orphans.

Each child is a :class:`~zjcredit.stack.process.ServerProcess`: its own session and
process group (a terminal's Ctrl-C reaches only the parent, which stops the children in
order) and a parent-death signal (a SIGKILLed parent still takes them down). Stopping
sends SIGTERM, waits, then SIGKILLs the child's whole process group, so nothing it
started outlives it either.

A child that exits is restarted by a supervisor thread, after a delay that
:class:`RestartPolicy` sets (1 s, doubling to 60 s, back to 1 s once a child has run
60 s). Before the restart its log ``<name>.log`` is moved to ``<name>.log.1``, so the
crash's log is kept, and one line is said::

    restarting the worker in 2 s (restart 2): it exited with status -9; its log: .../worker.log.1

Example::

    children = Children(log_dir, env, say, on_restart=metrics.on_child_restart)
    children.start("worker", ["worker", "--metrics-port", "9101"])
    children.supervise()      # from now on an exited child is restarted
    children.stop()           # last started, first stopped; no restart after this
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from base.errors import ZjcreditError
from zjcredit.stack.process import ServerProcess, log_tail

__all__ = ["ZJCREDIT", "ChildNotReadyError", "Children", "RestartPolicy"]

ZJCREDIT = str(Path(sys.executable).with_name("zjcredit"))


class ChildNotReadyError(ZjcreditError):
    """A child did not get where it should within its time; the message has its log tail."""


@dataclass(frozen=True)
class RestartPolicy:
    """When to restart an exited child: exponential backoff, reset by a stable run.

    Args:
        first_s: the delay before the first restart (1 s).
        cap_s: the longest delay (60 s).
        stable_s: a child that ran this long before it exited starts over at ``first_s``.

    Example::

        >>> policy = RestartPolicy()
        >>> [policy.delay(n) for n in (1, 2, 3, 7, 8)]
        [1.0, 2.0, 4.0, 60.0, 60.0]
        >>> policy.next_attempt(5, ran_s=3.0), policy.next_attempt(5, ran_s=600.0)
        (6, 1)
    """

    first_s: float = 1.0
    cap_s: float = 60.0
    stable_s: float = 60.0

    def next_attempt(self, attempt: int, ran_s: float) -> int:
        """The restart number after a child on restart ``attempt`` (0: never restarted)
        exited having run ``ran_s`` seconds."""
        return 1 if ran_s >= self.stable_s else attempt + 1

    def delay(self, attempt: int) -> float:
        """Seconds to wait before restart number ``attempt`` (1, 2, ...)."""
        return min(self.cap_s, self.first_s * 2.0 ** min(max(attempt - 1, 0), 64))


@dataclass
class _Child:
    args: list[str]
    process: ServerProcess
    started: float
    attempt: int = 0
    restart_at: float | None = None  # set while it is down, waiting for its restart


class Children:
    """Named ``zjcredit`` sub-commands running as children, logging to ``log_dir``.

    Args:
        log_dir: each child logs to ``<log_dir>/<name>.log``.
        env: the children's environment.
        say: called with one human line per restart and per stop (from any thread).
        policy: the restart delays.
        on_restart: called with a child's name each time it is restarted.
        program: the executable the arguments are given to (``zjcredit``).
        clock: monotonic seconds (tests pass their own).
    """

    def __init__(
        self,
        log_dir: Path,
        env: Mapping[str, str],
        say: Callable[[str], None] = lambda _: None,
        *,
        policy: RestartPolicy = RestartPolicy(),
        on_restart: Callable[[str], None] = lambda _: None,
        program: Sequence[str] = (ZJCREDIT,),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.log_dir = log_dir
        self.env = dict(env)
        self.say = say
        self.policy = policy
        self.on_restart = on_restart
        self.program = list(program)
        self.clock = clock
        self._children: dict[str, _Child] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, name: str, args: Sequence[str]) -> ServerProcess:
        """Start ``zjcredit ARGS`` as child ``name`` (SIGTERM stops it cleanly)."""
        self.log(name).unlink(missing_ok=True)
        with self._lock:
            child = _Child(list(args), self._spawn(name, args), self.clock())
            self._children[name] = child
            return child.process

    def _spawn(self, name: str, args: Sequence[str]) -> ServerProcess:
        return ServerProcess([*self.program, *args], log_path=self.log(name), env=self.env)

    def log(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def pid(self, name: str) -> int | None:
        """The running child's pid; ``None`` while it waits for its restart."""
        with self._lock:
            child = self._children[name]
            return None if child.restart_at is not None else child.process.pid

    def supervise(self, interval: float = 0.2) -> None:
        """From now on, restart an exited child (in a thread, until :meth:`stop`)."""
        self._thread = threading.Thread(
            target=self._supervise, args=(interval,), name="zjcredit-children", daemon=True
        )
        self._thread.start()

    def _supervise(self, interval: float) -> None:
        while not self._stopping.wait(interval):
            try:
                self.watch()
            except Exception as error:  # noqa: BLE001 - this thread must outlive any one failure
                # Its exit would also send the children it started their parent-death signal.
                self.say(f"supervising the children failed: {error!r}; trying again")

    def watch(self) -> None:
        """One supervision pass: schedule the restart of a child that has exited (keep its
        log, say so), and restart those whose delay is over."""
        now = self.clock()
        with self._lock:
            if self._stopping.is_set():
                return
            for name, child in self._children.items():
                if child.restart_at is None:
                    code = child.process.exit_code()
                    if code is not None:
                        kept = self.log(name).with_name(f"{name}.log.1")
                        with contextlib.suppress(FileNotFoundError):
                            self.log(name).replace(kept)
                        why = f"it exited with status {code}; its log: {kept}"
                        self._schedule(name, child, why, now - child.started, now)
                elif now >= child.restart_at:
                    try:
                        child.process = self._spawn(name, child.args)
                    except OSError as error:  # e.g. out of processes: try again, later
                        self._schedule(name, child, f"it could not start: {error}", 0.0, now)
                        continue
                    child.started, child.restart_at = now, None
                    self.on_restart(name)

    def _schedule(self, name: str, child: _Child, why: str, ran_s: float, now: float) -> None:
        child.attempt = self.policy.next_attempt(child.attempt, ran_s)
        delay = self.policy.delay(child.attempt)
        child.restart_at = now + delay
        self.say(f"restarting the {name} in {delay:g} s (restart {child.attempt}): {why}")

    def wait_for_log(self, name: str, text: str, timeout: float) -> None:
        """Wait until ``text`` appears in the child's (current) log."""
        deadline = time.monotonic() + timeout
        while text not in _read(self.log(name)):
            if time.monotonic() > deadline:
                raise ChildNotReadyError(
                    f"the {name} did not log {text!r} within {timeout:.0f} s:\n"
                    + log_tail(self.log(name), 25)
                )
            time.sleep(0.2)

    def stop(self, timeout: float = 30.0) -> dict[str, int]:
        """Stop every child, last started first (no restart after this); return their exit
        statuses (a child waiting for its restart: the status it exited with)."""
        codes: dict[str, int] = {}
        with self._lock:
            self._stopping.set()
            for name in reversed(list(self._children)):
                child = self._children.pop(name)
                if child.restart_at is None:
                    self.say(f"stopping the {name} ...")
                codes[name] = child.process.stop(timeout)
                # Whatever the child itself started is in its process group: take it down too.
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(child.process.pid, signal.SIGKILL)
        # Joined only now: a restarted child's parent-death signal fires when the thread
        # that started it ends, and each child must be stopped in its turn, not all at once.
        if self._thread is not None:
            self._thread.join()
        return codes


def _read(path: Path) -> str:
    try:
        return path.read_text("utf-8", errors="replace")
    except FileNotFoundError:  # moved to .log.1, the restart not yet there
        return ""
