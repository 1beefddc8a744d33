"""The default time budget of a result, apart from the proofs' machinery, so that the command
line can print it in ``symdyn verify --help`` (and refuse bad options) without importing
sympy, numpy or the proofs."""

from __future__ import annotations

__all__ = ["BUDGETS"]

#: Default budget per result, in CPU seconds of its worker, by profile (a job that uses no
#: CPU is ended after ``WALL_FACTOR`` times as many wall-clock seconds).
BUDGETS = {"quick": 60.0, "full": 900.0}
