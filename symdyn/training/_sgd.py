r"""Stochastic training: the real per-sample learning rule of a spec, run step by step, and
its comparison with the averaged ODE.

**Semantics.** ``system.update`` (:math:`\Delta y`) is the per-sample rule and already
contains the rule's own rate :math:`\eta` (``rate``, 1 by default). One SGD step with
learning rate ``lr`` on a mini-batch :math:`\mathcal B` of size :math:`b` is

.. math:: y_{k+1} = y_k + \mathrm{lr}\cdot\frac1b \sum_{s\in\mathcal B} \Delta y(y_k; I_s, T_s),

and the averaged ODE :math:`\dot y = E[\Delta y]` (``system.rhs`` derived with the same data)
is followed in the time :math:`t = \mathrm{lr}\cdot k`. The mean over the mini-batch is
computed in one pass: code is generated from ``system.matrix.update`` with the sample columns
:math:`I, T` replaced by the mini-batch matrices (:math:`n_0\times b`, :math:`n_L\times b`);
every term that involves the sample becomes a sum over the columns and is divided by
:math:`b`, the other terms (weight decay) are not.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import sympy as sp

from ..errors import DataError, SpecError, require_system
from ..numerics import IntegrationResult, _codegen, bind_values, integrate
from ..numerics._rhs import cached_kernel
from ..spec import Dataset
from . import _fast

if TYPE_CHECKING:  # pragma: no cover
    from ..system import LearningSystem

__all__ = ["simulate", "compare", "update_function", "SimulationResult", "Comparison",
           "MAX_STEPS"]


# -- the per-sample rule as code ----------------------------------------------------------------


def _terms(expr) -> list:
    """Additive terms of a matrix expression, scalar coefficients distributed."""
    if isinstance(expr, sp.MatAdd):
        return [t for a in expr.args for t in _terms(a)]
    if isinstance(expr, sp.MatMul):
        coeff, mats = _codegen._matmul_parts(expr)
        if len(mats) == 1 and isinstance(mats[0], sp.MatAdd):
            return [_codegen._mul(coeff, [t]) for t in _terms(mats[0])]
    return [expr]


def _batched_update(system: LearningSystem, b: int):
    """``system.matrix.update`` on a mini-batch of ``b`` columns, as a mean."""
    I, T = system.matrix.sample
    Ib = sp.MatrixSymbol("I", I.rows, b)
    Tb = sp.MatrixSymbol("T", T.rows, b)
    out = []
    for u in system.matrix.update:
        parts = []
        for term in _terms(u):
            if term.has(I) or term.has(T):
                term = term.xreplace({I: Ib, T: Tb})
                term = term if b == 1 else sp.MatMul(sp.Rational(1, b), term)
            parts.append(term)
        out.append(parts[0] if len(parts) == 1 else sp.MatAdd(*parts))
    return out, Ib, Tb


def _update_params(system: LearningSystem) -> list:
    def build():
        found = set()
        for u in system.matrix.update:
            found |= u.free_symbols
        return [p for p in system.matrix.parameters
                if p in found and p not in system.matrix.values]

    return list(cached_kernel(system, ("sgd", "params"), build))  # once per system


def _data_names(system: LearningSystem) -> set:
    """Names (matrices and components) that describe data, refused in ``values``."""
    def build():
        names = set()
        for p in system.matrix.parameters:
            if isinstance(p, sp.MatrixSymbol) and p.name in ("Sigma_II", "Sigma_TI", "X", "Y"):
                names.add(p.name)
                if p not in system.matrix.values:
                    names |= {str(s) for s in system.components(p)}
        return frozenset(names)

    return cached_kernel(system, ("sgd", "data names"), build)


def _update_kernel(system: LearningSystem, b: int) -> _codegen.Kernel:
    def build():
        exprs, Ib, Tb = _batched_update(system, b)
        return _codegen.matrix_kernel(system.matrix.state, exprs,
                                      (*_update_params(system), Ib, Tb), "update")

    return cached_kernel(system, ("update", b), build)


def _bound_update_args(system: LearningSystem, values: Mapping | None) -> tuple:
    values = dict(values or {})
    data_names = _data_names(system)
    clash = sorted(k for k in values if k in data_names)
    if clash:
        raise SpecError(f"{clash[0]} describes data; stochastic training draws its samples "
                        "from X, Y instead, so leave it out of values")
    params = _update_params(system)
    bound, batch = bind_values(system, values, params)
    if batch is not None:
        raise SpecError("stochastic training runs one network: give parameter values without a "
                        "batch axis")
    return tuple(bound[p] if isinstance(p, sp.MatrixSymbol) else float(bound[p])
                 for p in params)


def update_function(system: LearningSystem, values: Mapping | None = None,
                    batch_size: int = 1) -> Callable[[np.ndarray, np.ndarray, np.ndarray],
                                                     np.ndarray]:
    r"""The per-sample rule as numpy code: ``g(y, I, T)`` with ``I`` (n0, b) and ``T``
    (nL, b) the samples as columns returns :math:`\frac1b\sum_s \Delta y(y; I_s, T_s)` in
    ``system.state`` order (``y`` of shape (n,) or (batch, n))."""
    b = _positive_int("batch_size", batch_size)
    kernel = _update_kernel(system, b)
    args = _bound_update_args(system, values)
    n0, nl = system.network.sizes[0], system.network.sizes[-1]

    def g(y, I, T):  # noqa: E741
        I, T = np.asarray(I, dtype=float), np.asarray(T, dtype=float)  # noqa: E741
        if I.shape != (n0, b) or T.shape != (nl, b):
            raise SpecError(f"samples must be columns: I ({n0}, {b}) and T ({nl}, {b}), got "
                            f"{I.shape} and {T.shape}")
        return kernel.function(np.asarray(y, dtype=float), *args, I, T)

    g.source = kernel.source
    return g


#: The most steps one :func:`simulate` runs: at a few microseconds a step at best, 1e8 steps
#: are already minutes to hours; more is refused up front.
MAX_STEPS = 100_000_000


def _positive_int(name: str, value, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise SpecError(f"{name} must be a positive integer, got {value!r}")
    if high is not None and value > high:
        raise SpecError(f"{name}={value:,} is too many: at most {high:,} (at ~10 us a step, "
                        f"{value:,} steps would take about {value * 1e-5 / 3600:.3g} hours)")
    return int(value)


def _seed(value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise SpecError(f"seed must be a non-negative integer, got {value!r}")
    return int(value)


# -- results ------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SimulationResult:
    r"""A run of stochastic training. ``steps`` (k,) the recorded step numbers, ``t`` (k,)
    :math:`= \mathrm{lr}\cdot` step, ``y`` (k, n) the weights there, in ``state`` order;
    ``status``: ``"completed"`` or ``"diverged"`` (non-finite or above ``max_norm``; the
    record stops there); ``message``; the settings ``lr``, ``batch_size``, ``seed``,
    ``sampling``."""

    t: np.ndarray
    steps: np.ndarray
    y: np.ndarray
    status: str
    message: str
    lr: float
    batch_size: int
    seed: int
    sampling: str
    state: tuple[sp.Symbol, ...]

    @property
    def y_final(self) -> np.ndarray:
        return self.y[-1]

    @property
    def t_final(self) -> float:
        return float(self.t[-1])

    def __repr__(self) -> str:
        return (f"<SimulationResult {self.status}: {int(self.steps[-1])} steps of lr="
                f"{self.lr:g}, batch {self.batch_size}, t={self.t_final:g}>")


@dataclass(frozen=True, eq=False)
class Comparison:
    r"""Stochastic training beside the averaged ODE at the same times :math:`t =
    \mathrm{lr}\cdot` step: ``distance`` (k,) is :math:`\|y_{SGD} - y_{ODE}\|_\infty` at
    each recorded time, ``max_distance`` its maximum; ``sgd`` and ``ode`` the two runs."""

    t: np.ndarray
    sgd: SimulationResult
    ode: IntegrationResult
    distance: np.ndarray
    max_distance: float
    status: str
    message: str

    def __repr__(self) -> str:
        return f"<Comparison max distance {self.max_distance:.3g} over t <= {self.t[-1]:g}>"


# -- training ----------------------------------------------------------------------------------


def _dataset(system: LearningSystem, X, Y) -> Dataset:
    require_system(system, "simulate: system")
    data = X if isinstance(X, Dataset) and Y is None else Dataset(X=X, Y=Y)
    data.check(system.network)
    return data


class _Sampler:
    """Mini-batch indices from ``numpy.random.default_rng(seed)``: ``"iid"`` draws each
    sample uniformly with replacement; ``"shuffle"`` walks through random permutations
    (epochs), so ``batch_size = N`` is full-batch gradient descent."""

    def __init__(self, n: int, b: int, seed: int, sampling: str, chunk: int = 4096):
        self.cap = max(1, (1 << 22) // max(b, 1))  # at most ~32 MB of indices
        chunk = min(chunk, self.cap)
        self.n, self.b, self.sampling, self.chunk = n, b, sampling, chunk
        self.rng = np.random.default_rng(seed)
        self._buf = np.empty((0, b), dtype=np.int64)
        self._pos = 0
        self._perm = np.empty(0, dtype=np.int64)

    def _refill(self, rows: int = 0):
        rows = max(rows, self.chunk)
        if self.sampling == "iid":
            self._buf = self.rng.integers(0, self.n, size=(rows, self.b))
        else:
            need = rows * self.b
            parts = [self._perm]
            have = len(self._perm)
            while have < need:
                p = self.rng.permutation(self.n)
                parts.append(p)
                have += len(p)
            flat = np.concatenate(parts)
            self._buf = flat[:need].reshape(rows, self.b)
            self._perm = flat[need:]
        self._pos = 0

    def next(self) -> np.ndarray:
        if self._pos >= len(self._buf):
            self._refill()
        out = self._buf[self._pos]
        self._pos += 1
        return out

    def take(self, k: int) -> np.ndarray:
        """The next ``k`` mini-batches (k, b): the same draws as ``k`` calls of :meth:`next`
        (the generator's streams do not depend on how draws are split into calls: one call
        for ``k`` rows costs less than ``k / chunk`` calls)."""
        out = np.empty((k, self.b), dtype=np.int64)
        got = 0
        while got < k:
            if self._pos >= len(self._buf):
                self._refill(min(k - got, self.cap))
            m = min(k - got, len(self._buf) - self._pos)
            out[got:got + m] = self._buf[self._pos:self._pos + m]
            self._pos += m
            got += m
        return out


def simulate(
    system: LearningSystem,
    X,
    Y,
    *,
    lr: float,
    steps: int,
    y0,
    values: Mapping | None = None,
    seed: int = 0,
    batch_size: int = 1,
    record_every: int | None = None,
    sampling: str = "iid",
    max_norm: float = 1e8,
    backend: str = "auto",
    progress: Callable[[float], None] | None = None,
) -> SimulationResult:
    r"""Train the network of ``system`` by its own per-sample rule on the data ``X`` (N, n0),
    ``Y`` (N, nL) (or a :class:`~symdyn.Dataset` as ``X`` with ``Y=None``): ``steps`` steps
    :math:`y \leftarrow y + \mathrm{lr}\cdot\overline{\Delta y}` from ``y0``, mini-batches of
    ``batch_size`` drawn by ``numpy.random.default_rng(seed)`` (``sampling``: ``"iid"`` or
    ``"shuffle"``, see :class:`_Sampler`). ``values``: fixed channels and scalar symbols
    (see :func:`~symdyn.numerics.numeric`). Records every ``record_every`` steps (default:
    about 1000 records) and the last step. Deterministic for a given seed.

    ``backend``: ``"numpy"`` (matrix code of the mini-batch mean, in place), ``"numba"`` (the
    component form's per-sample update in a numba loop; the ``fast`` extra) or ``"auto"``
    (component code for scalar chains, compiled when numba is installed and the run has at
    least 20,000 steps, else plain Python; matrix code otherwise); results equal to rounding.

    >>> import numpy as np
    >>> from symdyn import derive
    >>> X = np.array([[1.0], [-1.0], [2.0]]); Y = 0.5 * X
    >>> r = simulate(derive("1-1-1", "rbp"), X, Y, lr=0.05, steps=2000, y0=[0.1, 0.1],
    ...              values={"c1": 1.0})
    >>> round(float(r.y_final[0] * r.y_final[1]), 3)
    0.5
    """
    data = _dataset(system, X, Y)  # checks system too
    lr = float(lr) if isinstance(lr, int | float | np.number) and not isinstance(lr, bool) \
        else math.nan
    if not (np.isfinite(lr) and lr > 0):
        raise SpecError(f"lr must be a positive number, got {lr!r}")
    steps = _positive_int("steps", steps, MAX_STEPS)
    b = _positive_int("batch_size", batch_size)
    if b > data.size:
        raise DataError(f"batch_size={b:,} is larger than the data set ({data.size:,} "
                        f"samples); use at most {data.size:,} (full batch)")
    seed = _seed(seed)
    if sampling not in ("iid", "shuffle"):
        raise SpecError(f"sampling must be 'iid' or 'shuffle', got {sampling!r}")
    if record_every is None:
        record_every = max(1, steps // 1000)
    record_every = _positive_int("record_every", record_every)
    y = np.array(y0, dtype=float)
    if y.shape != (system.size,):
        raise SpecError(f"y0 must have {system.size} entries ({', '.join(map(str, system.state))}"
                        f"), got shape {y.shape}")
    if not np.all(np.isfinite(y)):
        raise SpecError("y0 has non-finite entries")
    args = _bound_update_args(system, values)
    sampler = _Sampler(data.size, b, int(seed), sampling)
    code = _fast.choose_code(backend, system, steps)
    if code == "matrix":
        rec_steps, rec_y, blew_up = _run_matrix(system, args, y, data, sampler, steps, lr,
                                                record_every, max_norm, progress)
    else:
        program = _fast.component_program(system, _update_params(system), code == "numba")
        rec_steps, rec_y, blew_up = _fast.run_components(
            program, code == "numba", y, _fast.component_parameters(args), data.X, data.Y,
            sampler, steps, lr, record_every, max_norm, progress)
    status, message = "completed", f"{steps} steps completed"
    if blew_up:
        status = "diverged"
        message = (f"the weights blew up (non-finite or above {max_norm:g}) by step "
                   f"{int(rec_steps[-1])}; lower lr")
    steps_arr = np.asarray(rec_steps)
    return SimulationResult(t=lr * steps_arr, steps=steps_arr, y=np.asarray(rec_y), status=status,
                            message=message, lr=lr, batch_size=b, seed=int(seed),
                            sampling=sampling, state=system.state)


def _run_matrix(system, args, y, data, sampler, steps, lr, record_every, max_norm, progress):
    """The matrix code of the mini-batch mean, one call per step: the samples are gathered
    into preallocated columns and the weights updated in place."""
    fn = _update_kernel(system, sampler.b).function
    Xr, Yr = np.ascontiguousarray(data.X), np.ascontiguousarray(data.Y)
    # samples gathered as contiguous rows, passed as their transposes (columns)
    Ir, Tr = np.empty((sampler.b, Xr.shape[1])), np.empty((sampler.b, Yr.shape[1]))
    Ib, Tb = Ir.T, Tr.T
    rec_steps, rec_y = [0], [y.copy()]
    tick = max(1, steps // 200)
    for k in range(1, steps + 1):
        idx = sampler.next()
        # mode="clip": the indices are in range, and with "raise" numpy buffers ``out``
        Xr.take(idx, axis=0, out=Ir, mode="clip")
        Yr.take(idx, axis=0, out=Tr, mode="clip")
        du = fn(y, *args, Ib, Tb)
        du *= lr
        y += du
        if k % record_every == 0 or k == steps:
            rec_steps.append(k)
            rec_y.append(y.copy())
            if not np.all(np.isfinite(y)) or np.max(np.abs(y)) > max_norm:
                return rec_steps, rec_y, True
        if progress is not None and k % tick == 0:
            progress(k / steps)
    return rec_steps, rec_y, False


def compare(
    system: LearningSystem,
    X,
    Y,
    *,
    lr: float,
    steps: int,
    y0,
    values: Mapping | None = None,
    seed: int = 0,
    batch_size: int = 1,
    record_every: int | None = None,
    sampling: str = "iid",
    rtol: float = 1e-8,
    atol: float = 1e-10,
    progress: Callable[[float], None] | None = None,
) -> Comparison:
    r"""Run :func:`simulate` and, beside it, the averaged ODE of the same network and rule
    derived for the same data (``derive(..., data=Dataset(X, Y))``: exact moments for a
    linear network, the exact mean over the samples otherwise), integrated from the same
    ``y0`` and read at the same times :math:`t = \mathrm{lr}\cdot` step.

    For small ``lr`` the distance is :math:`O(\sqrt{\mathrm{lr}})` (fluctuations of SGD
    around the ODE, diffusion approximation) plus :math:`O(\mathrm{lr})` (the Euler bias);
    full-batch gradient descent (``sampling="shuffle"``, ``batch_size = N``) is exactly the
    Euler scheme of the ODE, so the distance is :math:`O(\mathrm{lr})`."""
    require_system(system, "compare: system")
    from ..derive import _derive

    data = _dataset(system, X, Y)
    sgd = simulate(system, data, None, lr=lr, steps=steps, y0=y0, values=values, seed=seed,
                   batch_size=batch_size, record_every=record_every, sampling=sampling,
                   progress=progress)
    ode_system = _derive(system.network, system.rule, data)
    ode = integrate(ode_system, y0, (0.0, sgd.t[-1]), values, t_eval=sgd.t,
                    stop_on_convergence=False, rtol=rtol, atol=atol)
    k = min(len(ode.t), len(sgd.t))
    distance = np.max(np.abs(sgd.y[:k] - ode.y[:k]), axis=1) if k else np.zeros(0)
    max_distance = float(np.max(distance)) if k else float("nan")
    status = "compared" if sgd.status == "completed" and ode.success else "incomplete"
    message = (f"max |SGD - ODE| = {max_distance:.3g} over t in [0, {sgd.t[k - 1]:g}]"
               + ("" if status == "compared" else f"; SGD: {sgd.message}; ODE: {ode.message}"))
    return Comparison(t=sgd.t[:k], sgd=sgd, ode=ode, distance=distance,
                      max_distance=max_distance, status=status, message=message)
