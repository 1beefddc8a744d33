r"""Numerics: generated numpy code for :math:`\dot y = f(y)`, and its integration.

* :func:`numeric` (also ``LearningSystem.numeric``) binds parameter values to code generated
  from the matrix form (matrix products on reshaped blocks; :mod:`symdyn._codegen`) or, for
  scalar chains, from the component form (``lambdify`` with common sub-expressions).
* :func:`integrate` follows one trajectory with scipy's solvers (the steppers behind
  ``solve_ivp``), :func:`integrate_batch` thousands at once with a vectorised embedded
  Runge-Kutta pair with per-row step sizes. Both stop a row early when it has converged,
  detect blow-up, and report per row in a frozen result instead of raising.

**Convergence test** (both integrators). A trajectory is *converged* at an accepted step
:math:`t_k` when

.. math:: \|f(y_k)\|_\infty \le \mathrm{tol} \quad\text{and}\quad
          \frac{\|f(y_k)\|_\infty}{\lambda_k} \le \mathrm{xtol},\qquad
          \lambda_k = \frac{\ln(\|f(y_a)\|_\infty / \|f(y_k)\|_\infty)}{t_k - t_a},

where :math:`t_a` is the first time :math:`\|f\|_\infty` fell below :math:`10^{m+2}`,
:math:`10^m \le \min_{j \le k}\|f(y_j)\|_\infty < 10^{m+1}`: the speed is small *and* it
has decayed fast enough, over at least the last decade, that the distance still to travel,
:math:`\int_{t_k}^\infty \|f\| \approx \|f\|/\lambda` under exponential decay, is below
``xtol`` (:math:`\|f\| = 0` exactly is converged at once). The second condition is the
accuracy criterion: ``xtol`` defaults to ten local error tolerances,
:math:`10(\mathrm{atol} + \mathrm{rtol}\|y\|_\infty)`, since a remaining distance the error
control does not resolve cannot be observed. ``tol`` (default :math:`10^{-6}`, the
threshold of the papers' simulations) only keeps a fast-moving state from being called
converged; it should not be set below the noise floor of the integration,
:math:`\|f\| \approx \lambda_{\max}(\mathrm{atol} + \mathrm{rtol}\|y\|)`, where an explicit
method near an attracting point wanders at the stability limit of its step size.

Near a hyperbolic (or normally hyperbolic) attracting set :math:`\lambda_k` is the contraction
rate and the test passes soon after the speed is small; a trajectory creeping in saturation
or towards a degenerate fixed point has a speed that decays like a power of :math:`t`, so
:math:`\lambda_k \sim 1/t` and the projected distance :math:`\sim \|f\|\,t` stays large: it is
reported ``"running"``, not converged. Averaging over a decade (not one step) keeps the test
from being fooled by one lucky step, and lets it pass at the noise floor (where
:math:`\|f\|` wanders instead of decaying). No finite-time test is safe from a mode slower
than anything seen so far (a slow manifold reached after a fast transient, with a speed
already below ``tol``); integrate longer with ``stop_on_convergence=False`` to rule it out.

**Blow-up**: a row is ``"diverged"`` when its state or speed is non-finite or
:math:`\|y\|_\infty` exceeds ``max_norm``, or when the step size collapses (below ten ulps of
:math:`t`) after the state grew a hundredfold (a finite-time singularity); other step-size
collapses and exhausted step budgets are ``"failed"``.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import sympy as sp

from . import _codegen
from .errors import DataError, SpecError

if TYPE_CHECKING:  # pragma: no cover
    from .system import LearningSystem

__all__ = [
    "NumericRHS",
    "numeric",
    "integrate",
    "integrate_batch",
    "IntegrationResult",
    "BatchResult",
    "STATUSES",
]

#: Per-row statuses of an integration, in the order of precedence used in summaries.
STATUSES = ("converged", "running", "diverged", "failed")

# -- binding values -------------------------------------------------------------------------


def _as_array(name: str, value) -> np.ndarray:
    try:
        arr = np.array(value, dtype=float)
    except (TypeError, ValueError):
        raise SpecError(f"value of {name} must be a number or numeric array, got {value!r}") \
            from None
    if not np.all(np.isfinite(arr)):
        raise SpecError(f"value of {name} has non-finite entries: {value!r}")
    return arr


def _matrix_value(system: LearningSystem, m: sp.MatrixSymbol, values: Mapping,
                  used: set) -> np.ndarray | None:
    """The value of a matrix parameter, by its name (``C1``) or by its components
    (``C1_1_2`` or, in scalar chains, ``c1``); ``None`` if not given at all."""
    r, c = m.shape
    if (r, c) == (1, 1):
        comp_names = [[str(system.components(m)[0, 0])]]
    elif any(k.startswith(f"{m.name}_") for k in values):
        comps = system.components(m)
        comp_names = [[str(comps[i, j]) for j in range(c)] for i in range(r)]
    else:
        comp_names = []
    given = {n for row in comp_names for n in row if n in values and n != m.name}
    if m.name in values:
        if given:
            raise SpecError(f"give {m.name} either as a matrix or by its components "
                            f"({', '.join(sorted(given))}), not both")
        used.add(m.name)
        arr = _as_array(m.name, values[m.name])
        if arr.shape[-2:] == (r, c) and arr.ndim in (2, 3):
            return arr
        if arr.ndim <= 2 and arr.size == r * c and 1 in (r, c):
            return arr.reshape(r, c)
        if (r, c) == (1, 1) and arr.ndim == 1:
            return arr.reshape(-1, 1, 1)
        raise SpecError(f"value of {m.name} has shape {arr.shape}; expected ({r}, {c}) or "
                        f"(batch, {r}, {c})")
    if not given:
        return None
    entries, missing = {}, []
    for i in range(r):
        for j in range(c):
            name = comp_names[i][j]
            if name in values:
                used.add(name)
                entries[i, j] = _as_array(name, values[name])
            else:
                missing.append(name)
    if missing:
        raise SpecError(f"{m.name} is given by components but {', '.join(missing)} "
                        f"{'is' if len(missing) == 1 else 'are'} missing")
    shapes = {v.shape for v in entries.values()}
    if len(shapes) != 1 or len(next(iter(shapes))) > 1:
        raise SpecError(f"components of {m.name} must all be numbers or all be 1-d arrays of "
                        f"one length (one per row of a batch), got shapes {sorted(shapes)}")
    lead = next(iter(shapes))
    arr = np.empty(lead + (r, c))
    for (i, j), v in entries.items():
        arr[..., i, j] = v
    return arr


def bind_values(system: LearningSystem, values: Mapping | None,
                params: Sequence[sp.Basic]) -> tuple[dict, int | None]:
    """Numeric values for ``params`` (matrix symbols as ``(r, c)`` or per-row ``(B, r, c)``
    arrays, scalar symbols as floats or per-row ``(B,)``), from ``values`` by name and, for
    data matrices, from ``system.matrix.values``. Returns the values and the batch size of
    per-row values (``None`` if there are none)."""
    values = dict(values or {})
    for k in values:
        if not isinstance(k, str):
            raise SpecError(f"values are keyed by parameter name (a string), got {k!r}")
    used: set = set()
    out: dict = {}
    missing: list[str] = []
    fixed = system.matrix.values
    for p in params:
        if isinstance(p, sp.MatrixSymbol):
            if p in fixed:
                arr = np.asarray(fixed[p], dtype=float)
            else:
                arr = _matrix_value(system, p, values, used)
                if arr is None:
                    missing.append(", ".join(str(s) for s in dict.fromkeys(system.components(p)))
                                   if p.shape == (1, 1) else p.name)
                    continue
                if p.name == "Sigma_II" and not np.allclose(arr, np.swapaxes(arr, -1, -2)):
                    raise DataError(f"Sigma_II must be symmetric, got {arr.tolist()}")
            out[p] = arr
        else:
            name = str(p)
            if name not in values:
                missing.append(name)
                continue
            used.add(name)
            arr = _as_array(name, values[name])
            if arr.ndim > 1:
                raise SpecError(f"value of scalar {name} must be a number or a 1-d array (one "
                                f"per row of a batch), got shape {arr.shape}")
            out[p] = arr
    if missing:
        raise SpecError(
            f"missing value for parameter {', '.join(missing)}; pass it in values, e.g. "
            f"values={{{missing[0].split(',')[0]!r}: ...}} (parameters of this system: "
            f"{_parameter_names(system)})"
        )
    unknown = sorted(set(values) - used)
    if unknown:
        k = unknown[0]
        state = {str(s) for s in system.state} | {m.name for m in system.matrix.state}
        fixed_names = {m.name for m in fixed}
        if k in state:
            raise SpecError(f"{k} is a state variable of this system, not a parameter; give "
                            "it in the initial state y0")
        if k in fixed_names or any(k.startswith(f + "_") for f in fixed_names):
            raise SpecError(f"{k} is fixed by the system's numeric data; derive the system "
                            "with other data instead")
        raise SpecError(f"unknown parameter {k!r}; parameters of this system: "
                        f"{_parameter_names(system)}")
    batch = {a.shape[0] for p, a in out.items()
             if a.ndim == (3 if isinstance(p, sp.MatrixSymbol) else 1)}
    if len(batch) > 1:
        raise SpecError(f"per-row parameter values have different lengths {sorted(batch)}")
    return out, (batch.pop() if batch else None)


def _parameter_names(system: LearningSystem) -> str:
    names = []
    for p in system.matrix.parameters:
        if p in system.matrix.values:
            continue
        if isinstance(p, sp.MatrixSymbol) and p.shape == (1, 1):
            names.append(str(system.components(p)[0, 0]))
        else:
            names.append(str(getattr(p, "name", p)))
    return ", ".join(names) or "(none)"


# -- generated code, cached per system ------------------------------------------------------

_KERNELS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _cached(system: LearningSystem, key, build: Callable[[], _codegen.Kernel]):
    table = _KERNELS.setdefault(system, {})
    if key not in table:
        table[key] = build()
    return table[key]


def _default_form(system: LearningSystem) -> str:
    """Scalar chains with moments (a few terms per equation) run fastest as component code;
    everything else as matrix code."""
    from .spec import Moments

    if system.network.is_scalar_chain and isinstance(system.data, Moments):
        return "component"
    return "matrix"


def rhs_kernel(system: LearningSystem, form: str = "auto") -> _codegen.Kernel:
    """The generated code of :math:`f` for ``system`` (cached)."""
    if form not in ("auto", "matrix", "component"):
        raise SpecError(f"form must be 'auto', 'matrix' or 'component', got {form!r}")
    if form == "auto":
        form = _default_form(system)
    mf = system.matrix
    if form == "matrix":
        try:
            return _cached(system, ("rhs", "matrix"), lambda: _codegen.matrix_kernel(
                mf.state, mf.rhs, mf.parameters, "rhs"))
        except _codegen.Unsupported:
            form = "component"  # fall back: the component form always prints
    return _cached(system, ("rhs", "component"), lambda: _codegen.component_kernel(
        system.state, system.rhs, system.parameters))


class NumericRHS:
    r"""The right-hand side :math:`f(t, y)` of a learning system with numbers bound to its
    parameters. ``y`` is in ``system.state`` order, shape ``(n,)`` or ``(batch, n)``; the
    result has the same shape. Parameters given per row (a leading batch axis) need ``y``
    of shape ``(batch, n)``; :meth:`rows` selects rows of them."""

    def __init__(self, system: LearningSystem, kernel: _codegen.Kernel, args: tuple,
                 per_row: tuple[bool, ...], batch: int | None, values: dict):
        self.system = system
        self.kernel = kernel
        self.batch = batch
        self.values = values
        self._args = args
        self._per_row = per_row
        self._fn = kernel.function
        self.size = system.size

    @property
    def form(self) -> str:
        """``"matrix"`` or ``"component"``: the code that runs."""
        return self.kernel.form

    @property
    def source(self) -> str:
        """The generated Python source."""
        return self.kernel.source

    def __call__(self, t, y) -> np.ndarray:
        y = np.asarray(y, dtype=float)
        if y.ndim not in (1, 2) or y.shape[-1] != self.size:
            raise SpecError(f"state must have shape ({self.size},) or (batch, {self.size}), "
                            f"got {y.shape}")
        if self.batch is not None and (y.ndim != 2 or y.shape[0] != self.batch):
            raise SpecError(f"parameters are given per row for a batch of {self.batch}; the "
                            f"state must have shape ({self.batch}, {self.size}), got {y.shape}")
        return self._fn(y, *self._args)

    def rows(self, index) -> NumericRHS:
        """The same right-hand side restricted to some rows of per-row parameters."""
        if self.batch is None:
            return self
        index = np.asarray(index)
        args = tuple(a[index] if r else a for a, r in zip(self._args, self._per_row,
                                                          strict=True))
        n = int(index.sum()) if index.dtype == bool else index.size
        return NumericRHS(self.system, self.kernel, args, self._per_row, n, self.values)

    def row(self, i: int) -> NumericRHS:
        """One row of per-row parameters, as an unbatched right-hand side."""
        if self.batch is None:
            return self
        args = tuple(a[i] if r else a for a, r in zip(self._args, self._per_row, strict=True))
        return NumericRHS(self.system, self.kernel, args, (False,) * len(args), None,
                          self.values)

    def __repr__(self) -> str:
        per_row = f", {self.batch} rows of parameters" if self.batch is not None else ""
        return f"<NumericRHS of {self.system.title}; {self.form} code{per_row}>"


def numeric(system: LearningSystem, values: Mapping | None = None, *,
            form: str = "auto") -> NumericRHS:
    r"""Numeric :math:`f(t, y)` of ``system`` with parameter ``values`` bound.

    ``values`` maps names to numbers or arrays: scalars by component name (``alpha``,
    ``c1``, ``eta``), matrices by name (``C1``, ``Sigma_II``) or by components
    (``C1_1_2``). Data matrices already numeric in the system come from
    ``system.matrix.values``. A value with an extra leading axis is per row of a batch.
    ``form``: ``"matrix"`` (matrix products on reshaped blocks), ``"component"``
    (``lambdify`` with common sub-expressions) or ``"auto"`` (component code for scalar
    chains with moments, matrix code otherwise).

    >>> from symdyn import derive
    >>> f = derive("1-1-1", "rbp").numeric({"alpha": 1, "beta": 1, "c1": 0.5})
    >>> f(0.0, [1.0, 2.0])
    array([-0.5, -1. ])
    """
    kernel = rhs_kernel(system, form)
    args, per_row = [], []
    if kernel.form == "matrix":
        bound, batch = bind_values(system, values, kernel.params)
        for p in kernel.params:
            a = bound[p]
            if isinstance(p, sp.MatrixSymbol):
                args.append(a)
                per_row.append(a.ndim == 3)
            elif a.ndim == 1:
                args.append(a.reshape(-1, 1, 1))
                per_row.append(True)
            else:
                args.append(float(a))
                per_row.append(False)
    else:
        mats = [p for p in system.matrix.parameters if p not in system.matrix.values]
        bound, batch = bind_values(system, values, mats)
        comp = {}
        for p, a in bound.items():
            if isinstance(p, sp.MatrixSymbol):
                syms = system.components(p)
                for i in range(p.rows):
                    for j in range(p.cols):
                        comp[syms[i, j]] = a[..., i, j]
            else:
                comp[p] = a
        for s in kernel.params:
            a = np.asarray(comp[s])
            args.append(a if a.ndim == 1 else float(a))
            per_row.append(a.ndim == 1)
    return NumericRHS(system, kernel, tuple(args), tuple(per_row), batch, bound)


# -- results --------------------------------------------------------------------------------


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


def _summary(status: np.ndarray, t_final: float) -> str:
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


# -- the convergence test (shared by both integrators) ---------------------------------------

_DECADES = 24  # decades of |f| followed below 100 tol


class _Convergence:
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


def _check_common(system, y0, tol, xtol, rtol, atol, max_norm):
    y0 = np.array(y0, dtype=float)
    for name, v in (("rtol", rtol), ("atol", atol), ("tol", tol), ("max_norm", max_norm)):
        if not (isinstance(v, (int, float, np.floating)) and v > 0):
            raise SpecError(f"{name} must be a positive number, got {v!r}")
    if xtol is not None and not (isinstance(xtol, (int, float, np.floating)) and xtol > 0):
        raise SpecError(f"xtol must be a positive number or None, got {xtol!r}")
    return y0, xtol


def _xtol(xtol, atol, rtol, y):
    r"""``xtol``, or by default ten local error tolerances
    :math:`10(\mathrm{atol} + \mathrm{rtol}\,\|y\|_\infty)` (a remaining distance the
    error control does not resolve cannot be observed)."""
    if xtol is not None:
        return xtol
    ynorm = np.max(np.abs(y), axis=-1) if y.shape[-1] else np.zeros(y.shape[:-1])
    return 10 * (atol + rtol * ynorm)


# -- one trajectory ---------------------------------------------------------------------------

_SOLVERS = ("auto", "RK45", "DOP853", "RK23", "LSODA", "Radau", "BDF")
_STIFF_THRESHOLD = {"RK45": 3.25, "DOP853": 6.1}  # Hairer's h*lambda bounds (DOPRI5, DOP853)


def _stiffness_ratio(solver) -> float:
    r"""Hairer's stiffness estimate :math:`h\lambda` after an accepted explicit step:
    :math:`|h|\,\|f(y_{n+1}) - f(g_s)\| / \|y_{n+1} - g_s\|` with :math:`g_s` the argument
    of the last stage (:math:`c_s = 1`)."""
    K, h = solver.K, solver.h_previous
    s = solver.n_stages - 1
    g = solver.y_old + h * (K[:s].T @ solver.A[s, :s])
    den = np.linalg.norm(solver.y - g)
    if den == 0:
        return 0.0
    return abs(h) * np.linalg.norm(K[-1] - K[s]) / den


def _solve_one(rhs: NumericRHS, t0: float, y0: np.ndarray, t1: float, *, method: str,
               rtol: float, atol: float, tol: float, xtol: float | None, max_norm: float,
               t_eval: np.ndarray | None, stop: bool, max_steps: int,
               progress: Callable[[float], None] | None) -> dict:
    """Step scipy's solvers, with the convergence, blow-up and stiffness checks."""
    import scipy.integrate as si

    def fun(t, y):
        return rhs(t, y.T).T if y.ndim == 2 else rhs(t, y)

    record_t, record_y = [], []
    nfev = nsteps = 0
    y0_norm = float(np.max(np.abs(y0))) if y0.size else 0.0

    def done(status, message, t, y, methods):
        ts, ys = np.array(record_t, dtype=float), np.array(record_y).reshape(-1, y0.size)
        return dict(t=ts, y=ys, t_final=float(t), y_final=np.array(y, dtype=float),
                    status=status, message=message, method=" then ".join(methods),
                    nfev=nfev, nsteps=nsteps)

    def record(t, y, dense=None, t_prev=None):
        if t_eval is None:
            record_t.append(t)
            record_y.append(np.array(y))
            return
        if t_prev is None:
            sel = t_eval == t
        else:
            sel = (t_eval > t_prev) & (t_eval <= t)
        if np.any(sel):
            pts = t_eval[sel]
            record_t.extend(pts)
            vals = dense(pts).T if dense is not None else np.tile(y, (len(pts), 1))
            record_y.extend(vals)

    y = y0
    if not np.all(np.isfinite(y)):
        return done("diverged", "the initial state has non-finite entries", t0, y, [method])
    f = rhs(t0, y)
    nfev += 1
    record(t0, y)
    if not np.all(np.isfinite(f)):
        return done("diverged", "f is non-finite at the initial state", t0, y, [method])
    fn = float(np.max(np.abs(f))) if f.size else 0.0
    monitor = _Convergence(1, np.array([t0]), np.array([fn]), tol)
    if stop and fn == 0:
        return done("converged", "the initial state is a fixed point (f = 0)", t0, y, [method])

    current = "DOP853" if method == "auto" else method
    methods = [current]
    t = t0
    while True:
        cls = getattr(si, current)
        kwargs = dict(rtol=rtol, atol=atol)
        if current in ("Radau", "BDF"):
            kwargs["vectorized"] = True
        solver = cls(fun, t, y, t1, **kwargs)
        switch = False
        iasti = nonsti = 0
        while solver.status == "running":
            t_prev = solver.t
            message = solver.step()
            if solver.status == "failed":
                nfev += solver.nfev
                grew = np.max(np.abs(solver.y)) > 100 * max(1.0, y0_norm)
                return done("diverged" if grew else "failed",
                            f"{current} failed at t={solver.t:.6g}: {message}"
                            + (" (the state grew a hundredfold: a finite-time singularity?)"
                               if grew else "; try another method"),
                            solver.t, solver.y, methods)
            nsteps += 1
            t, y = solver.t, solver.y
            if t_eval is not None:
                record(t, y, solver.dense_output(), t_prev)
            else:
                record(t, y)
            if progress is not None:
                progress((t - t0) / (t1 - t0) if t1 != t0 else 1.0)
            if not np.all(np.isfinite(y)) or np.max(np.abs(y)) > max_norm:
                nfev += solver.nfev
                return done("diverged", f"|y| exceeded {max_norm:g} (or became non-finite) at "
                            f"t={t:.6g}: the trajectory blows up", t, y, methods)
            if current in _STIFF_THRESHOLD:
                f_new = solver.f
            else:
                f_new = rhs(t, y)
                nfev += 1
            if not np.all(np.isfinite(f_new)):
                nfev += solver.nfev
                return done("diverged", f"f became non-finite at t={t:.6g}", t, y, methods)
            fn_new = float(np.max(np.abs(f_new)))
            if stop and monitor.test(np.array([0]), np.array([t_prev]), np.array([fn]),
                                     np.array([t]), np.array([fn_new]), tol,
                                     _xtol(xtol, atol, rtol, y))[0]:
                nfev += solver.nfev
                return done("converged", f"converged at t={t:.6g}: |f| = {fn_new:.3g} <= tol "
                            "and decaying", t, y, methods)
            fn = fn_new
            if nsteps >= max_steps:
                nfev += solver.nfev
                return done("failed", f"max_steps={max_steps} reached at t={t:.6g}; raise "
                            "max_steps" + (" or use a stiff method" if current in
                                           _STIFF_THRESHOLD else ""), t, y, methods)
            if method == "auto" and current in _STIFF_THRESHOLD:
                if _stiffness_ratio(solver) > _STIFF_THRESHOLD[current]:
                    nonsti, iasti = 0, iasti + 1
                    if iasti >= 15:
                        switch = True
                        break
                else:
                    nonsti += 1
                    if nonsti >= 6:
                        iasti = 0
        nfev += solver.nfev
        if not switch:
            break
        current = "LSODA"
        methods.append(f"LSODA from t={t:.6g} (stiffness detected)")
    hint = ("; |f| is below tol but not decaying: creeping (saturation, a degenerate fixed "
            "point), or an explicit method held at its stability limit (try method='auto' or "
            "'LSODA')") if fn <= tol else "; integrate longer"
    return done("running", f"reached t={t1:g} without converging (|f| = {fn:.3g}){hint}",
                t, y, methods)


def _time_span(t_span) -> tuple[float, float]:
    if np.ndim(t_span) == 0:
        t0, t1 = 0.0, float(t_span)
    else:
        try:
            t0, t1 = (float(v) for v in t_span)
        except (TypeError, ValueError):
            raise SpecError(f"t_span must be a final time or a pair (t0, t1), got {t_span!r}") \
                from None
    if not (np.isfinite(t0) and np.isfinite(t1)) or t1 <= t0:
        raise SpecError(f"t_span must run forward in finite time, got {t_span!r}")
    return t0, t1


def integrate(
    system: LearningSystem,
    y0,
    t_span,
    values: Mapping | None = None,
    *,
    method: str = "auto",
    rtol: float = 1e-8,
    atol: float = 1e-10,
    tol: float = 1e-6,
    xtol: float | None = None,
    max_norm: float = 1e8,
    t_eval=None,
    stop_on_convergence: bool = True,
    max_steps: int = 1_000_000,
    form: str = "auto",
    progress: Callable[[float], None] | None = None,
) -> IntegrationResult:
    r"""Integrate one trajectory of ``system`` from ``y0`` over ``t_span`` (a final time, or
    ``(t0, t1)``) with ``values`` bound to its parameters (see :func:`numeric`).

    ``method``: ``"auto"`` (DOP853, an explicit 8th-order pair, with Hairer's stiffness test;
    after 15 stiff-looking steps it switches to LSODA, which handles stiff and non-stiff
    phases) or any scipy solver name (``"RK45"``, ``"DOP853"``, ``"LSODA"``, ``"Radau"``,
    ``"BDF"``, ``"RK23"``). ``rtol, atol``: local error tolerances. Stops early when
    converged (speed below ``tol`` and projected remaining distance below ``xtol``, by
    default :math:`10(\mathrm{atol} + \mathrm{rtol}\|y\|_\infty)`; see the module docstring)
    unless ``stop_on_convergence`` is false; reports ``"diverged"`` when
    :math:`\|y\|_\infty` exceeds ``max_norm`` or a value is non-finite.
    ``t_eval``: record the trajectory at these times (dense output) instead of at every step.
    ``progress``: called with the fraction of the time span done. Never raises for what
    happens along the trajectory; bad arguments raise :class:`~symdyn.SpecError`.

    >>> from symdyn import derive
    >>> r = integrate(derive("1-1-1", "rbp"), [0.1, 0.2], 100,
    ...               {"alpha": 1, "beta": 1, "c1": 0.5})
    >>> r.status, round(float(r.y_final[0] * r.y_final[1]), 6)
    ('converged', 1.0)
    """
    if method not in _SOLVERS:
        raise SpecError(f"unknown method {method!r}; choose one of {', '.join(_SOLVERS)}")
    y0, xtol = _check_common(system, y0, tol, xtol, rtol, atol, max_norm)
    if y0.shape != (system.size,):
        raise SpecError(f"y0 must have {system.size} entries ({', '.join(map(str, system.state))}"
                        f"), got shape {y0.shape}")
    t0, t1 = _time_span(t_span)
    if t_eval is not None:
        t_eval = np.asarray(t_eval, dtype=float)
        if t_eval.ndim != 1 or np.any(np.diff(t_eval) <= 0) or (
                t_eval.size and (t_eval[0] < t0 or t_eval[-1] > t1)):
            raise SpecError("t_eval must be increasing and inside t_span")
    rhs = numeric(system, values, form=form)
    if rhs.batch is not None:
        raise SpecError("integrate() takes one trajectory: give parameter values without a "
                        "batch axis (integrate_batch() takes per-row values)")
    out = _solve_one(rhs, t0, y0, t1, method=method, rtol=rtol, atol=atol, tol=tol, xtol=xtol,
                     max_norm=max_norm, t_eval=t_eval, stop=stop_on_convergence,
                     max_steps=int(max_steps), progress=progress)
    return IntegrationResult(state=system.state, **out)


# -- many trajectories at once ----------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Tableau:
    """An explicit embedded Runge-Kutta pair, coefficients from scipy's ``_ivp/rk.py``."""

    name: str
    A: np.ndarray
    B: np.ndarray
    C: np.ndarray
    n_stages: int
    error_order: int
    stiff_threshold: float


def _tableaus() -> dict[str, _Tableau]:
    from scipy.integrate import DOP853, RK45

    return {
        "RK45": _Tableau("RK45", RK45.A, RK45.B, RK45.C, RK45.n_stages, 4, 3.25),
        "DOP853": _Tableau("DOP853", DOP853.A, DOP853.B, DOP853.C, DOP853.n_stages, 7, 6.1),
    }


_SAFETY, _MIN_FACTOR, _MAX_FACTOR = 0.9, 0.2, 10.0  # as scipy's RungeKutta
# A stiff row goes to the implicit solver alone only if more explicit steps than this remain:
# in the batch a row-step costs about a microsecond, an implicit solve of one row ~50 ms.
_STIFF_HANDOFF_STEPS = 20_000
_RUN, _CONV, _END, _DIV, _FAIL, _STIFF = range(6)
_NAMES = np.array(["running", "converged", "running", "diverged", "failed", "running"])


def _combine(coeffs: np.ndarray, K: np.ndarray) -> np.ndarray:
    r""":math:`\sum_s a_s K_s` for stages ``K`` (S, rows, n): one BLAS matrix-vector
    product on the flattened stages."""
    s = len(coeffs)
    return (coeffs @ K[:s].reshape(s, -1)).reshape(K.shape[1:])


def _rms(x: np.ndarray) -> np.ndarray:
    return np.sqrt(np.mean(x * x, axis=-1)) if x.shape[-1] else np.zeros(x.shape[:-1])


def _error_norm(tab: _Tableau, K: np.ndarray, h: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Per-row error norm of an attempted step (scipy's formulas, row by row)."""
    from scipy.integrate import DOP853, RK45

    if tab.name == "RK45":
        err = _combine(RK45.E, K) * h[:, None]
        return _rms(err / scale)
    e5 = _combine(DOP853.E5, K) / scale
    e3 = _combine(DOP853.E3, K) / scale
    n5, n3 = np.sum(e5 * e5, axis=1), np.sum(e3 * e3, axis=1)
    denom = n5 + 0.01 * n3
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.abs(h) * n5 / np.sqrt(denom * K.shape[-1])
    return np.where((n5 == 0) & (n3 == 0), 0.0, out)


def _dense(tab: _Tableau, fun, y_old, y_new, K, h, x) -> np.ndarray:
    """The solver's own dense output on each row at fractions ``x`` (rows,) of its step."""
    from scipy.integrate import DOP853, RK45

    if tab.name == "RK45":
        Q = np.tensordot(K, RK45.P, axes=(0, 0))  # (rows, n, 4)
        p = np.cumprod(np.repeat(x[:, None], RK45.P.shape[1], axis=1), axis=1)
        return y_old + h[:, None] * np.einsum("rnk,rk->rn", Q, p)
    # DOP853: three extra stages, then scipy's Dop853DenseOutput
    m, n = y_old.shape
    Kx = np.empty((16, m, n))
    Kx[:13] = K
    for s, a in enumerate(DOP853.A_EXTRA, start=13):
        Kx[s] = fun(y_old + h[:, None] * _combine(a[:s], Kx))
    dy = y_new - y_old
    F = np.empty((7, m, n))
    F[0] = dy
    F[1] = h[:, None] * K[0] - dy
    F[2] = 2 * dy - h[:, None] * (K[12] + K[0])
    F[3:] = h[None, :, None] * np.tensordot(DOP853.D, Kx, axes=(1, 0))
    xx = x[:, None]
    y = np.zeros((m, n))
    for i, f in enumerate(F[::-1]):
        y += f
        y *= xx if i % 2 == 0 else 1 - xx
    return y + y_old


def _initial_step(fun, y0, f0, interval, order, rtol, atol) -> np.ndarray:
    """scipy's ``select_initial_step``, row by row (one evaluation of ``fun``)."""
    scale = atol + np.abs(y0) * rtol
    d0, d1 = _rms(y0 / scale), _rms(f0 / scale)
    with np.errstate(divide="ignore", invalid="ignore"):
        h0 = np.where((d0 < 1e-5) | (d1 < 1e-5), 1e-6, 0.01 * d0 / d1)
    h0 = np.minimum(h0, interval)
    f1 = fun(y0 + h0[:, None] * f0)
    d2 = _rms((f1 - f0) / scale) / h0
    with np.errstate(divide="ignore", invalid="ignore"):
        h1 = np.where((d1 <= 1e-15) & (d2 <= 1e-15), np.maximum(1e-6, h0 * 1e-3),
                      (0.01 / np.maximum(d1, d2)) ** (1 / (order + 1)))
    return np.minimum(np.minimum(100 * h0, h1), interval)


def integrate_batch(
    system: LearningSystem,
    Y0,
    t_final: float,
    values: Mapping | None = None,
    *,
    method: str = "DOP853",
    rtol: float = 1e-8,
    atol: float = 1e-10,
    tol: float = 1e-6,
    xtol: float | None = None,
    max_norm: float = 1e8,
    t_eval=None,
    stop_on_convergence: bool = True,
    max_steps: int = 100_000,
    stiff: str = "LSODA",
    form: str = "auto",
    progress: Callable[[float], None] | None = None,
) -> BatchResult:
    r"""Integrate many initial conditions ``Y0`` (B, n) of ``system`` from ``t = 0`` to
    ``t_final`` at once.

    A vectorised embedded Runge-Kutta pair (``method``: ``"DOP853"``, Dormand-Prince 8(5,3),
    or ``"RK45"``, Dormand-Prince 5(4); coefficients from scipy) where every row has its own
    step size and its own error control, exactly as scipy's solver would give it alone (the
    system is autonomous, so rows need not share times). Each stage is one call of the
    generated code on all rows still running. Rows stop independently when converged (the
    test of the module docstring), diverged or failed; a row for which Hairer's stiffness
    test fires 15 times, with more than 20,000 steps of the current size still to go or with
    the row near rest (speed below ``tol``, or a step moving it by less than 100 local
    tolerances: held at the stability limit near a fixed point, an explicit pair may
    oscillate at the size of the tolerance without settling), is finished by scipy's
    ``stiff`` solver (LSODA) alone, and flagged in ``stiff``.
    ``values`` may give a parameter per row (a leading axis of length B).
    ``t_eval``: also record every row at these times (``y_eval``, shape (k, B, n)).
    ``progress`` is called with the fraction of the work done.

    >>> import numpy as np
    >>> from symdyn import derive
    >>> Y0 = np.random.default_rng(0).normal(size=(1000, 2))
    >>> r = integrate_batch(derive("1-1-1", "rbp"), Y0, 500, {"alpha": 1, "beta": 2, "c1": 1})
    >>> r.counts, bool(np.allclose(r.y[:, 0] * r.y[:, 1], 0.5, atol=1e-7))
    ({'converged': 1000}, True)
    """
    tabs = _tableaus()
    if method not in tabs:
        raise SpecError(f"integrate_batch method must be one of {', '.join(tabs)}, got "
                        f"{method!r}; for implicit methods use integrate() row by row")
    if stiff not in ("LSODA", "Radau", "BDF", "none"):
        raise SpecError(f"stiff must be 'LSODA', 'Radau', 'BDF' or 'none', got {stiff!r}")
    tab = tabs[method]
    Y0, xtol = _check_common(system, Y0, tol, xtol, rtol, atol, max_norm)
    n = system.size
    if Y0.ndim != 2 or Y0.shape[1] != n:
        raise SpecError(f"Y0 must have shape (batch, {n}), got {Y0.shape}")
    t_final = float(t_final)
    if not np.isfinite(t_final) or t_final <= 0:
        raise SpecError(f"t_final must be a positive number, got {t_final!r}")
    if t_eval is not None:
        t_eval = np.asarray(t_eval, dtype=float)
        if t_eval.ndim != 1 or np.any(np.diff(t_eval) <= 0) or (
                t_eval.size and (t_eval[0] < 0 or t_eval[-1] > t_final)):
            raise SpecError("t_eval must be increasing and inside [0, t_final]")
    rhs = numeric(system, values, form=form)
    B = Y0.shape[0]
    if rhs.batch is not None and rhs.batch != B:
        raise SpecError(f"per-row parameter values have {rhs.batch} rows but Y0 has {B}")

    def fun_rows(rows):
        sub = rhs.rows(rows)
        return lambda y: sub(0.0, y)

    code = np.full(B, _RUN)
    t = np.zeros(B)
    y = Y0.copy()
    nfev = np.zeros(B, dtype=np.int64)
    nsteps = np.zeros(B, dtype=np.int64)
    messages: dict[int, str] = {}
    y_eval = None
    if t_eval is not None:
        y_eval = np.full((len(t_eval), B, n), np.nan)
        at0 = t_eval == 0
        y_eval[at0] = Y0
        next_eval = np.full(B, int(np.sum(at0)))

    with np.errstate(over="ignore", invalid="ignore"):
        finite = np.all(np.isfinite(Y0), axis=1)
        code[~finite] = _DIV
        f = np.zeros_like(y)
        live = np.flatnonzero(finite)
        if live.size:
            f[live] = fun_rows(live)(y[live])
            nfev[live] += 1
        bad = finite & ~np.all(np.isfinite(f), axis=1)
        code[bad] = _DIV
        fn = np.max(np.abs(f), axis=1) if n else np.zeros(B)
        monitor = _Convergence(B, np.zeros(B), np.where(np.isfinite(fn), fn, np.inf), tol)
        if stop_on_convergence:
            code[(code == _RUN) & (fn == 0)] = _CONV
        y0_norm = np.max(np.abs(Y0), axis=1) if n else np.zeros(B)
        h = np.zeros(B)
        live = np.flatnonzero(code == _RUN)
        if live.size:
            h[live] = _initial_step(fun_rows(live), y[live], f[live], t_final, tab.error_order,
                                    rtol, atol)
            nfev[live] += 1
    rejected = np.zeros(B, dtype=bool)
    iasti = np.zeros(B, dtype=np.int64)
    nonsti = np.zeros(B, dtype=np.int64)
    exponent = -1.0 / (tab.error_order + 1)
    s_last = tab.n_stages - 1

    while True:
        idx = np.flatnonzero(code == _RUN)
        if progress is not None:
            progress(float(np.mean(np.where(code == _RUN, t / t_final, 1.0))))
        if idx.size == 0:
            break
        fun = fun_rows(idx)
        yi, fi, ti = y[idx], f[idx], t[idx]
        hi = np.minimum(h[idx], t_final - ti)
        min_step = 10 * np.spacing(ti)
        collapsed = hi < min_step
        if np.any(collapsed):
            rows = idx[collapsed]
            grew = np.max(np.abs(y[rows]), axis=1) > 100 * np.maximum(1.0, y0_norm[rows])
            code[rows] = np.where(grew, _DIV, _FAIL)
            for r, g in zip(rows, grew, strict=True):
                messages[r] = ("step size collapsed" + (" as the state grew (blow-up)" if g
                                                        else ""))
            keep = ~collapsed
            idx, yi, fi, ti, hi = idx[keep], yi[keep], fi[keep], ti[keep], hi[keep]
            if idx.size == 0:
                continue
            fun = fun_rows(idx)
        m = idx.size
        hc = hi[:, None]
        K = np.empty((tab.n_stages + 1, m, n))
        K[0] = fi
        with np.errstate(over="ignore", invalid="ignore"):
            for s in range(1, tab.n_stages):
                K[s] = fun(yi + hc * _combine(tab.A[s, :s], K))
            y_new = yi + hc * _combine(tab.B, K)
            K[-1] = fun(y_new)
            nfev[idx] += tab.n_stages
            scale = atol + np.maximum(np.abs(yi), np.abs(y_new)) * rtol
            err = _error_norm(tab, K, hi, scale)
            ok = np.isfinite(err) & (err < 1) & np.all(np.isfinite(K[-1]), axis=1)
            factor = np.where(err == 0, _MAX_FACTOR,
                              np.minimum(_MAX_FACTOR, _SAFETY * err ** exponent))
            factor = np.where(ok & rejected[idx], np.minimum(1.0, factor), factor)
            shrink = np.where(np.isfinite(err), np.maximum(_MIN_FACTOR, _SAFETY * err ** exponent),
                              _MIN_FACTOR)
        h[idx] = hi * np.where(ok, factor, shrink)
        rejected[idx] = ~ok
        if not np.any(ok):
            continue

        # accepted rows
        acc = idx[ok]
        y_old = yi[ok]
        t_old = ti[ok]
        Kok = K[:, ok]
        y_acc, f_acc = y_new[ok], Kok[-1]
        h_acc = hi[ok]
        t_new = np.where(t_final - (t_old + h_acc) <= 0, t_final, t_old + h_acc)
        y[acc], f[acc], t[acc] = y_acc, f_acc, t_new
        nsteps[acc] += 1
        fn_old = fn[acc]
        fn_new = np.max(np.abs(f_acc), axis=1) if n else np.zeros(acc.size)
        fn[acc] = fn_new

        if y_eval is not None:
            self_rows = np.arange(acc.size)
            while True:
                pending = next_eval[acc] < len(t_eval)
                te = t_eval[np.minimum(next_eval[acc], len(t_eval) - 1)]
                due = self_rows[pending & (te <= t_new)]
                if due.size == 0:
                    break
                x = (te[due] - t_old[due]) / h_acc[due]
                with np.errstate(over="ignore", invalid="ignore"):
                    vals = _dense(tab, fun_rows(acc[due]), y_old[due], y_acc[due],
                                  Kok[:, due], h_acc[due], x)
                if tab.name == "DOP853":
                    nfev[acc[due]] += 3
                y_eval[next_eval[acc[due]], acc[due]] = vals
                next_eval[acc[due]] += 1

        big = (np.max(np.abs(y_acc), axis=1) > max_norm) if n else np.zeros(acc.size, bool)
        code[acc[big]] = _DIV
        for r in acc[big]:
            messages[r] = f"|y| exceeded {max_norm:g}"
        live = ~big
        if stop_on_convergence:
            conv = live & monitor.test(acc, t_old, fn_old, t_new, fn_new, tol,
                                       _xtol(xtol, atol, rtol, y_acc))
            code[acc[conv]] = _CONV
            live &= ~conv
        end = live & (t_new >= t_final)
        code[acc[end]] = _END
        live &= ~end
        over = live & (nsteps[acc] >= max_steps)
        code[acc[over]] = _FAIL
        for r in acc[over]:
            messages[r] = f"max_steps={max_steps} reached"
        live &= ~over
        if stiff != "none":
            g = y_old + hc[ok] * _combine(tab.A[s_last, :s_last],
                                                       np.ascontiguousarray(Kok))
            den = np.linalg.norm(y_acc - g, axis=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                hlamb = np.where(den > 0, h_acc * np.linalg.norm(f_acc - Kok[s_last], axis=1)
                                 / den, 0.0)
            hit = hlamb > tab.stiff_threshold
            iasti[acc] = np.where(hit, iasti[acc] + 1, np.where(nonsti[acc] + 1 >= 6, 0,
                                                                 iasti[acc]))
            nonsti[acc] = np.where(hit, 0, nonsti[acc] + 1)
            # hand a row over when stepping on explicitly would still be long (thousands of
            # remaining steps are cheaper in the batch than an implicit solve alone), or when
            # it sits near a fixed point at the stability limit of the step size: there an
            # explicit pair can settle into an oscillation of the size of the tolerance that
            # never decays, which the implicit solver damps
            remaining_steps = (t_final - t_new) / np.maximum(h[acc], 1e-300)
            ynorm = np.max(np.abs(y_acc), axis=1) if n else np.zeros(acc.size)
            stalled = stop_on_convergence & (
                (fn_new <= tol) | (fn_new * h_acc <= 100 * (atol + rtol * ynorm)))
            flagged = live & (iasti[acc] >= 15) & (
                (remaining_steps > _STIFF_HANDOFF_STEPS) | stalled)
            code[acc[flagged]] = _STIFF

    # stiff rows: finish each alone with an implicit solver
    stiff_rows = np.flatnonzero(code == _STIFF)
    for r in stiff_rows:
        t_rest = None
        if y_eval is not None:
            t_rest = t_eval[t_eval > t[r]]
        out = _solve_one(rhs.row(int(r)), float(t[r]), y[r].copy(), t_final, method=stiff,
                         rtol=rtol, atol=atol, tol=tol, xtol=xtol, max_norm=max_norm,
                         t_eval=t_rest, stop=stop_on_convergence, max_steps=max_steps,
                         progress=None)
        if y_eval is not None and len(out["t"]):
            k0 = int(np.searchsorted(t_eval, out["t"][0]))
            y_eval[k0:k0 + len(out["t"]), r] = out["y"]
            next_eval[r] = k0 + len(out["t"])
        t[r], y[r] = out["t_final"], out["y_final"]
        nfev[r] += out["nfev"]
        nsteps[r] += out["nsteps"]
        code[r] = {"converged": _CONV, "running": _END, "diverged": _DIV}.get(out["status"],
                                                                           _FAIL)
        messages[int(r)] = f"stiff: {out['message']}"
    if y_eval is not None:
        for r in np.flatnonzero(code == _CONV):
            y_eval[next_eval[r]:, r] = y[r]
    status = _NAMES[code]
    t_out = t.copy()
    stiff_mask = np.zeros(B, dtype=bool)
    stiff_mask[stiff_rows] = True
    name = method + (f" (stiff rows: {stiff})" if stiff_mask.any() else "")
    return BatchResult(t=t_out, y=y, status=status, message=_summary(status, t_final),
                       method=name, nfev=nfev, nsteps=nsteps, stiff=stiff_mask,
                       t_eval=t_eval, y_eval=y_eval, state=system.state)
