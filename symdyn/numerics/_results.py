"""Result objects of integration: one trajectory, or a batch of rows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

__all__ = ["STATUSES", "IntegrationResult", "BatchResult", "summary"]

#: Per-row statuses of an integration, in the order of precedence used in summaries.
STATUSES = ("converged", "running", "diverged", "failed")

@dataclass(frozen=True, eq=False)
class IntegrationResult:
    r"""One trajectory. ``t`` (k,) and ``y`` (k, n): the recorded points (every accepted
    step, or the requested ``t_eval`` reached before stopping); ``t_final``, ``y_final``:
    where integration stopped; ``status``: one of :data:`STATUSES`; ``message`` says why
    and what to try; ``method``: the solver(s) used; ``nfev``, ``nsteps``: cost."""

    t: np.ndarray
    y: np.ndarray
    t_final: float
    y_final: np.ndarray
    status: str
    message: str
    method: str
    nfev: int
    nsteps: int
    state: tuple[sp.Symbol, ...]

    @property
    def converged(self) -> bool:
        return self.status == "converged"

    @property
    def success(self) -> bool:
        """Converged, or reached the end of the time span."""
        return self.status in ("converged", "running")

    def __repr__(self) -> str:
        return (f"<IntegrationResult {self.status} at t={self.t_final:.6g} ({self.method}, "
                f"{self.nsteps} steps, {self.nfev} evaluations): {self.message}>")


@dataclass(frozen=True, eq=False)
class BatchResult:
    r"""Many trajectories of one system. ``t`` (B,) and ``y`` (B, n): where each row
    stopped; ``status`` (B,): one of :data:`STATUSES` per row; ``converged`` (B,) bool;
    ``message``: a summary; ``nfev``, ``nsteps`` (B,): cost per row; ``stiff`` (B,): rows
    handed to LSODA after stiffness was detected; ``t_eval`` (k,) and ``y_eval`` (k, B, n)
    when a trajectory was asked for (a converged row is held at its final state after it
    stops, a diverged or failed row is NaN)."""

    t: np.ndarray
    y: np.ndarray
    status: np.ndarray
    message: str
    method: str
    nfev: np.ndarray
    nsteps: np.ndarray
    stiff: np.ndarray
    t_eval: np.ndarray | None
    y_eval: np.ndarray | None
    state: tuple[sp.Symbol, ...]

    @property
    def converged(self) -> np.ndarray:
        return self.status == "converged"

    @property
    def counts(self) -> dict[str, int]:
        """Number of rows per status."""
        return {s: int(np.sum(self.status == s)) for s in STATUSES if np.any(self.status == s)}

    def __len__(self) -> int:
        return len(self.t)

    def __repr__(self) -> str:
        return f"<BatchResult {len(self)} rows ({self.method}): {self.message}>"


def summary(status: np.ndarray, t_final: float) -> str:
    n = len(status)
    parts = [f"{c} {s}" for s, c in ((s, int(np.sum(status == s))) for s in STATUSES) if c]
    msg = f"{n} rows: " + ", ".join(parts)
    hints = []
    if np.any(status == "running"):
        hints.append(f"'running' rows reached t={t_final:g} without converging: integrate "
                     "longer, or they may be creeping (saturation, degenerate fixed points)")
    if np.any(status == "diverged"):
        hints.append("'diverged' rows blew up (non-finite or above max_norm)")
    if np.any(status == "failed"):
        hints.append("'failed' rows exhausted max_steps or their step size collapsed; try "
                     "method='LSODA' via integrate() for them")
    return msg + (". " + "; ".join(hints) if hints else "")


