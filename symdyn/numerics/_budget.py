"""Wall-clock budgets that can end a computation but never change its result.

A caller that runs code it does not control under a time budget (``symdyn verify``) sets the
context's :data:`DEADLINE`, a time of :func:`clock`: the CPU time of this process, so that a
busy machine slows a computation down but does not end it sooner. Past it, the long computations of
symdyn (batch integration, budgeted analyses, sampling) raise :class:`BudgetExhausted`
instead of returning what they had reached: a truncated integration is no evidence either
way, so the caller must report the result as a timeout, never as a verdict."""

from __future__ import annotations

import time
from contextvars import ContextVar

__all__ = ["DEADLINE", "BUDGET_MESSAGE", "BudgetExhausted", "check_deadline",
           "context_remaining", "clock", "WALL_FACTOR"]

#: A deadline in :func:`clock` time for calls that pass none: set by a caller that runs code
#: it does not control under a time budget (``symdyn verify``).
DEADLINE: ContextVar[float | None] = ContextVar("symdyn_batch_deadline", default=None)
BUDGET_MESSAGE = "time budget exhausted"
#: the clock of :data:`DEADLINE`: CPU seconds of this process (all its threads)
clock = time.process_time
#: work that uses no CPU of this process (asleep, blocked, in a child process) is given this
#: many times its CPU budget in wall-clock time
WALL_FACTOR = 10.0


class BudgetExhausted(BaseException):  # noqa: N818 - named for what happened, as TimeoutError
    """The context's wall-clock :data:`DEADLINE` passed during a computation, which was
    abandoned. A ``BaseException`` (as ``KeyboardInterrupt``), so that no ``except
    Exception`` on the way turns a truncated computation into a negative result."""


def context_remaining() -> float:
    """Seconds left before the context's :data:`DEADLINE` (infinite when none is set)."""
    deadline = DEADLINE.get()
    return float("inf") if deadline is None else deadline - clock()


def check_deadline(what: str) -> None:
    """Raise :class:`BudgetExhausted` (naming ``what`` was running) once the context's
    :data:`DEADLINE` has passed."""
    if context_remaining() <= 0:
        raise BudgetExhausted(f"{BUDGET_MESSAGE} during {what}")
