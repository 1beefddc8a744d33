r"""The convergence test shared by both integrators (see :mod:`symdyn.numerics`)."""

from __future__ import annotations

import numpy as np

from ..errors import SpecError, require_system

__all__ = ["Convergence", "check_common", "xtol_for"]

_DECADES = 24  # decades of |f| followed below 100 tol


class Convergence:
    r"""The convergence test of the module docstring, for many rows at once.

    For each row it remembers when (and at what speed) :math:`\|f\|_\infty` first fell
    below each decade :math:`10^j`; the decay rate is averaged from the first crossing of
    the decade two above the running minimum, so it spans at least one decade of decay and
    is not fooled by the integrator's noise floor (where :math:`\|f\|` wanders at the
    level the error control allows) nor by one lucky step. Only the decades from
    :math:`100\,\mathrm{tol}` down matter (the test needs :math:`\|f\| \le \mathrm{tol}`),
    and 24 of them are kept."""

    def __init__(self, rows: int, t0: np.ndarray, f0: np.ndarray, tol: float):
        self.top = int(np.floor(np.log10(tol))) + 2
        self.t_first = np.full((rows, _DECADES), np.nan)
        self.f_first = np.full((rows, _DECADES), np.nan)
        self.f_min = np.full(rows, np.inf)
        self._record(np.arange(rows), np.broadcast_to(t0, (rows,)), f0)

    def _record(self, rows, t, fn):
        with np.errstate(divide="ignore", invalid="ignore"):
            new = np.floor(np.log10(fn))      # fn in [10^new, 10^(new+1)): below 10^(new+1)
            old = np.floor(np.log10(self.f_min[rows]))
        # columns of the decades first crossed now: 10^j for new < j <= old (j <= top);
        # column c is the decade 10^(top - c)
        top = self.top
        hi = np.clip(top - np.nan_to_num(old, posinf=top + 1.0), 0, None)
        lo = np.clip(top - np.nan_to_num(new, neginf=top - _DECADES) - 1, None, _DECADES - 1)
        lo = np.where(np.isnan(fn), -1, lo)
        todo = np.flatnonzero(lo >= hi)
        col = hi[todo].astype(int)
        last = lo[todo].astype(int)
        while todo.size:
            self.t_first[rows[todo], col] = t[todo]
            self.f_first[rows[todo], col] = fn[todo]
            more = col < last
            todo, col, last = todo[more], col[more] + 1, last[more]
        self.f_min[rows] = np.fmin(self.f_min[rows], fn)

    def test(self, rows, t_old, fn_old, t_new, fn_new, tol: float, xtol: float) -> np.ndarray:
        """Record an accepted step of ``rows`` and say which rows have converged."""
        self._record(rows, t_new, fn_new)
        with np.errstate(divide="ignore", invalid="ignore"):
            level = np.floor(np.log10(self.f_min[rows])) + 2
            col = np.clip(self.top - np.nan_to_num(level, neginf=-1e9, posinf=1e9), 0,
                          _DECADES - 1).astype(int)
            t_a = self.t_first[rows, col]
            f_a = self.f_first[rows, col]
            step = ~(t_a < t_new)  # the anchor is this very step: use the step itself
            t_a = np.where(step, t_old, t_a)
            f_a = np.where(step, fn_old, f_a)
            rate = np.log(f_a / fn_new) / (t_new - t_a)
            remaining = np.where(rate > 0, fn_new / rate, np.inf)
        return (fn_new == 0) | ((fn_new <= tol) & (remaining <= xtol))


def check_common(system, y0, tol, xtol, rtol, atol, max_norm):
    require_system(system, "integrate: system")  # values are checked by numeric()
    try:
        y0 = np.array(y0, dtype=float)
    except (TypeError, ValueError) as exc:
        raise SpecError(f"the initial state must be an array of numbers, got "
                        f"{type(y0).__name__} ({str(exc)[:80]})") from None
    for name, v in (("rtol", rtol), ("atol", atol), ("tol", tol), ("max_norm", max_norm)):
        if not (isinstance(v, (int, float, np.floating)) and v > 0):
            raise SpecError(f"{name} must be a positive number, got {v!r}")
    if xtol is not None and not (isinstance(xtol, (int, float, np.floating)) and xtol > 0):
        raise SpecError(f"xtol must be a positive number or None, got {xtol!r}")
    return y0, xtol


def xtol_for(xtol, atol, rtol, y):
    r"""``xtol``, or by default ten local error tolerances
    :math:`10(\mathrm{atol} + \mathrm{rtol}\,\|y\|_\infty)` (a remaining distance the
    error control does not resolve cannot be observed)."""
    if xtol is not None:
        return xtol
    ynorm = np.max(np.abs(y), axis=-1) if y.shape[-1] else np.zeros(y.shape[:-1])
    return 10 * (atol + rtol * ynorm)


