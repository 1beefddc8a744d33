"""Running jobs under a CPU-time budget in a forked child that streams its progress.

A hang in C code (numpy, scipy, a sympy routine stuck in a tight loop) cannot be interrupted
inside the process that runs it; a child process can be killed. :class:`Worker` forks once
(so that it inherits the parent's imports and caches, and anything a test patched), runs
jobs one at a time on request and streams each job's messages back through a pipe as they
are produced; when a job overruns its budget the worker is killed and the next job gets a
fresh one. The budget is the child's CPU time (read from ``/proc``; where there is none, wall
time), so that a busy machine slows a job down without ending it sooner; a job that uses no
CPU (blocked, asleep) is ended after :data:`WALL_FACTOR` times its budget in wall-clock time.
Nothing here knows about proofs: :mod:`symdyn.verify` hands it callables."""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..numerics._budget import WALL_FACTOR

__all__ = ["Worker", "JobOutcome", "Progress", "picklable", "cpu_seconds", "WALL_FACTOR"]


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) used so far by process ``pid`` and its waited-for children,
    from ``/proc/<pid>/stat``; ``None`` where that cannot be read."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None

#: A job: called in the child as ``job(send, argument)``; returns a picklable value.
Job = Callable[[Callable[[Any], None]], Any]


@dataclass(frozen=True)
class Progress:
    """A message a job may send between its results: ``done`` of ``planned`` ``what``
    (e.g. 3 of 24 "cells")."""

    done: int
    planned: int
    what: str = "cases"

    def __str__(self) -> str:
        return f"{self.done}/{self.planned} {self.what}"


class JobOutcome:
    """How a job ended: ``state`` is "done" (``value`` set), "timeout" or "crashed"
    (``reason`` says why); ``messages`` are those received before the end."""

    def __init__(self, state: str, value: Any = None, reason: str = "",
                 messages: Sequence[Any] = ()):
        self.state, self.value, self.reason, self.messages = state, value, reason, list(messages)


def _serve(jobs: Sequence[Job], conn) -> None:  # pragma: no cover  (runs in the child)
    os.setpgrp()  # its own process group: a kill takes the processes a job started too

    def send(message) -> None:
        conn.send(("message", message))

    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        if request is None:
            return
        index, argument = request
        try:
            value = jobs[index](send, argument)
            conn.send(("done", value))
        except BaseException as exc:  # noqa: BLE001  (a job must never take the worker down)
            try:
                conn.send(("error", f"{type(exc).__name__}: {exc}"))
            except (pickle.PicklingError, OSError):
                return


class Worker:
    """A forked child that runs ``jobs[i]`` on request, one at a time."""

    def __init__(self, jobs: Sequence[Job]):
        self.jobs = list(jobs)
        self._proc = None
        self._conn = None

    def _start(self) -> None:
        ctx = mp.get_context("fork")
        self._conn, child = ctx.Pipe(duplex=True)
        # not a daemon: a proof may start processes of its own (the fixed-point search does)
        self._proc = ctx.Process(target=_serve, args=(self.jobs, child))
        self._proc.start()
        child.close()

    def run(self, index: int, budget: float, argument: Any = None,
            on_message: Callable[[Any], None] | None = None,
            on_wait: Callable[[], None] | None = None) -> JobOutcome:
        """Run ``jobs[index](send, argument)`` in the child for at most ``budget`` CPU
        seconds (module docstring); ``on_message`` gets each message as it arrives,
        ``on_wait`` is called about four times a second while the job runs (for a sign of
        life)."""
        if self._proc is None or not self._proc.is_alive():
            self._start()
        cpu0 = cpu_seconds(self._proc.pid)
        self._conn.send((index, argument))
        deadline = time.monotonic() + (budget if cpu0 is None else WALL_FACTOR * budget)
        messages: list = []
        while True:
            left = deadline - time.monotonic()
            cpu = None if cpu0 is None else cpu_seconds(self._proc.pid)
            if left <= 0 or (cpu is not None and cpu - cpu0 > budget):
                self.kill()
                what = ("CPU-time budget" if cpu is not None and cpu - cpu0 > budget else
                        "time budget" if cpu0 is None else
                        f"wall-clock limit ({WALL_FACTOR:g} x the budget) of the")
                return JobOutcome("timeout", reason=f"{what} of {budget:g} s exhausted",
                                  messages=messages)
            if on_wait is not None:
                on_wait()
            try:
                ready = self._conn.poll(min(left, 0.25))
                if ready:
                    kind, payload = self._conn.recv()
            except (EOFError, OSError):
                ready, kind = True, "eof"
            if ready and kind == "message":
                messages.append(payload)
                if on_message is not None:
                    on_message(payload)
            elif ready and kind == "done":
                return JobOutcome("done", value=payload, messages=messages)
            elif ready and kind == "error":
                return JobOutcome("crashed", reason=payload, messages=messages)
            elif (ready and kind == "eof") or not self._proc.is_alive():
                code = self._proc.exitcode
                self.kill()
                return JobOutcome("crashed", reason=f"the worker process died (exit code "
                                  f"{code})", messages=messages)

    def kill(self) -> None:
        """End the child (it is restarted by the next :meth:`run`)."""
        if self._proc is not None:
            if self._proc.is_alive():
                try:
                    os.killpg(self._proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    self._proc.kill()
            self._proc.join(5)
            self._conn.close()
        self._proc = self._conn = None

    def close(self) -> None:
        """Ask the child to stop, and make sure it does."""
        if self._proc is not None and self._proc.is_alive():
            try:
                self._conn.send(None)
                self._proc.join(2)
            except OSError:
                pass
        self.kill()

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def picklable(obj, fallback: Callable[[Any], Any]):
    """``obj`` if it pickles, else ``fallback(obj)`` (e.g. with an exotic field in plain
    form), so that a worker can always send it."""
    try:
        pickle.dumps(obj)
        return obj
    except Exception:  # noqa: BLE001  (any pickling failure)
        return fallback(obj)
