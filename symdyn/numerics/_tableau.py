"""Explicit embedded Runge-Kutta pairs applied row by row (coefficients from scipy)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.integrate import DOP853, RK45

__all__ = ["Tableau", "TABLEAUS", "combine", "rms", "error_norm", "dense_factors", "dense_at",
           "initial_step"]


@dataclass(frozen=True, eq=False)
class Tableau:
    """An explicit embedded Runge-Kutta pair, coefficients from scipy's ``_ivp/rk.py``."""

    name: str
    A: np.ndarray
    B: np.ndarray
    C: np.ndarray
    n_stages: int
    error_order: int
    stiff_threshold: float


#: The pairs :func:`~symdyn.integrate_batch` offers, by name.
TABLEAUS: dict[str, Tableau] = {
    "RK45": Tableau("RK45", RK45.A, RK45.B, RK45.C, RK45.n_stages, 4, 3.25),
    "DOP853": Tableau("DOP853", DOP853.A, DOP853.B, DOP853.C, DOP853.n_stages, 7, 6.1),
}


def combine(coeffs: np.ndarray, K: np.ndarray) -> np.ndarray:
    r""":math:`\sum_s a_s K_s` for stages ``K`` (S, rows, n): one BLAS matrix-vector
    product on the flattened stages."""
    s = len(coeffs)
    return (coeffs @ K[:s].reshape(s, -1)).reshape(K.shape[1:])


def rms(x: np.ndarray) -> np.ndarray:
    """Root mean square over the last axis, without overflow for entries near 1e308 (the
    squares are of ``x / max|x|``)."""
    if not x.shape[-1]:
        return np.zeros(x.shape[:-1])
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        big = np.max(np.abs(x), axis=-1)
        safe = np.where(np.isfinite(big) & (big > 0), big, 1.0)
        out = safe * np.sqrt(np.mean((x / safe[..., None]) ** 2, axis=-1))
    return np.where(np.isfinite(big), np.where(big > 0, out, 0.0), np.inf)


def error_norm(tab: Tableau, K: np.ndarray, h: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Per-row error norm of an attempted step (scipy's formulas, row by row)."""
    if tab.name == "RK45":
        err = combine(RK45.E, K) * h[:, None]
        return rms(err / scale)
    e5 = combine(DOP853.E5, K) / scale
    e3 = combine(DOP853.E3, K) / scale
    n5, n3 = np.sum(e5 * e5, axis=1), np.sum(e3 * e3, axis=1)
    denom = n5 + 0.01 * n3
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.abs(h) * n5 / np.sqrt(denom * K.shape[-1])
    return np.where((n5 == 0) & (n3 == 0), 0.0, out)


def dense_factors(tab: Tableau, fun, y_old, y_new, K, h) -> np.ndarray:
    """The factors of the solver's own dense output polynomial on each row's step (for
    DOP853 three extra stages, one call of ``fun`` each): computed once per step, evaluated
    at any number of points by :func:`dense_at`."""
    if tab.name == "RK45":
        return h[None, :, None] * np.tensordot(RK45.P, K, axes=(0, 0))  # (4, rows, n)
    m, n = y_old.shape
    Kx = np.empty((16, m, n))
    Kx[:13] = K
    for s, a in enumerate(DOP853.A_EXTRA, start=13):
        Kx[s] = fun(y_old + h[:, None] * combine(a[:s], Kx))
    dy = y_new - y_old
    F = np.empty((7, m, n))
    F[0] = dy
    F[1] = h[:, None] * K[0] - dy
    F[2] = 2 * dy - h[:, None] * (K[12] + K[0])
    F[3:] = h[None, :, None] * np.tensordot(DOP853.D, Kx, axes=(1, 0))
    return F


def dense_at(tab: Tableau, F: np.ndarray, y_old: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The dense output with factors ``F`` (k, rows, n) at fractions ``x`` (rows,) of the
    step (scipy's ``RkDenseOutput`` and ``Dop853DenseOutput``, row by row)."""
    xx = x[:, None]
    if tab.name == "RK45":
        y = np.zeros_like(y_old)
        power = np.ones_like(xx)
        for f in F:  # sum_k F_k x^(k+1)
            power = power * xx
            y += f * power
        return y + y_old
    y = np.zeros_like(y_old)
    for i, f in enumerate(F[::-1]):
        y += f
        y *= xx if i % 2 == 0 else 1 - xx
    return y + y_old


def initial_step(fun, y0, f0, interval, order, rtol, atol) -> np.ndarray:
    """scipy's ``select_initial_step``, row by row (one evaluation of ``fun``)."""
    scale = atol + np.abs(y0) * rtol
    d0, d1 = rms(y0 / scale), rms(f0 / scale)
    with np.errstate(divide="ignore", invalid="ignore"):
        h0 = np.where((d0 < 1e-5) | (d1 < 1e-5), 1e-6, 0.01 * d0 / d1)
    h0 = np.minimum(h0, interval)
    f1 = fun(y0 + h0[:, None] * f0)
    d2 = rms((f1 - f0) / scale) / h0
    with np.errstate(divide="ignore", invalid="ignore"):
        h1 = np.where((d1 <= 1e-15) & (d2 <= 1e-15), np.maximum(1e-6, h0 * 1e-3),
                      (0.01 / np.maximum(d1, d2)) ** (1 / (order + 1)))
    return np.minimum(np.minimum(100 * h0, h1), interval)


