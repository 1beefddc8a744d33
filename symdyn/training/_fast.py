r"""Component code for SGD on small systems (scalar chains): the per-sample update
:math:`\Delta y(y; I, T)` printed as scalar code from ``system.update`` and run inside the
loop of :mod:`~symdyn.training._sgd_loop`, compiled by numba when it is installed (and the
run is long enough to repay compiling), plain Python on lists otherwise. Either way one SGD
step costs a few scalar operations instead of a dozen numpy calls on 1x1 matrices."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from types import ModuleType

import numpy as np
import sympy as sp

from ..errors import SpecError
from ..numerics import _compiled
from ..numerics._rhs import cached_kernel
from . import _sgd_loop

__all__ = ["component_program", "component_parameters", "run_components", "choose_code",
           "MIN_COMPILED_STEPS"]

#: ``backend="auto"`` compiles the SGD loop of a system not yet compiled in this process for
#: runs of at least this many steps (compiling takes seconds once per machine).
MIN_COMPILED_STEPS = 20_000
_TEMPLATE = inspect.getsource(_sgd_loop)
_CHUNK = 4096


def _flat_parameters(system, params) -> list[sp.Symbol]:
    out = []
    for p in params:
        if isinstance(p, sp.MatrixSymbol):
            out.extend(system.components(p))  # row-major, as the values are flattened
        else:
            out.append(p)
    return out


def component_program(system, params, jit: bool) -> ModuleType:
    """The SGD loop with ``system.update`` printed in (cached per system and ``jit``)."""
    def build():
        n0 = system.network.sizes[0]
        I, T = system.sample[:n0], system.sample[n0:]  # noqa: E741
        pattern = "{}[row, {{}}]" if jit else "{}[row][{{}}]"  # arrays / lists of lists
        src = _compiled.scalar_function(
            "update", ["y", "p", "X", "Y", "row", "out"],
            [("y[{}]", system.state), ("p[{}]", _flat_parameters(system, params)),
             (pattern.format("X"), I), (pattern.format("Y"), T)], system.update)
        return _compiled.load_program(_TEMPLATE, src, jit=jit)

    return cached_kernel(system, ("sgd", "numba" if jit else "python"), build)


def component_parameters(args: tuple) -> list[float]:
    """Bound update parameters (matrices and scalars) as one flat list of floats."""
    flat: list[float] = []
    for a in args:
        flat.extend(np.asarray(a, dtype=float).ravel().tolist())
    return flat


def choose_code(backend: str, system, steps: int) -> str:
    """``"matrix"``, ``"python"`` (component code, plain Python) or ``"numba"``."""
    if backend not in _compiled.BACKENDS:
        raise SpecError(f"backend must be one of {', '.join(map(repr, _compiled.BACKENDS))}, "
                        f"got {backend!r}")
    if backend == "numpy":
        return "matrix"
    has_numba = _compiled.numba_module() is not None
    if backend == "numba":
        if not has_numba:
            raise SpecError("backend='numba' needs numba, which is not installed: pip install "
                            "'symdyn[fast]', or use backend='numpy'")
        return "numba"
    if not system.network.is_scalar_chain:
        return "matrix"
    if has_numba and (steps >= MIN_COMPILED_STEPS
                      or _compiled._has_kernel(system, ("sgd", "numba"))):
        return "numba"
    return "python"


def run_components(program: ModuleType, jit: bool, y: np.ndarray, p: list[float],
                   X: np.ndarray, Y: np.ndarray, sampler, steps: int, lr: float,
                   record_every: int, max_norm: float,
                   progress: Callable[[float], None] | None):
    """Run ``steps`` SGD steps from ``y``; returns the recorded steps, the records and
    whether the run blew up."""
    n = len(y)
    rec_y = np.empty((steps // record_every + 2, n))
    rec_k = np.zeros(len(rec_y), dtype=np.int64)
    rec_y[0] = y
    if jit:
        state, pv = y.copy(), np.asarray(p, dtype=float)
        Xs, Ys = np.ascontiguousarray(X, dtype=float), np.ascontiguousarray(Y, dtype=float)
        buf, acc, out_y, out_k = np.empty(n), np.empty(n), rec_y, rec_k
    else:  # CPython is fastest on lists of floats
        state, pv, Xs, Ys = y.tolist(), list(p), X.tolist(), Y.tolist()
        buf, acc = [0.0] * n, [0.0] * n
        out_y, out_k = [[0.0] * n for _ in range(len(rec_y))], [0] * len(rec_y)
    nrec, diverged, done = 1, False, 0
    while done < steps and not diverged:
        # large chunks (one draw of indices, one compiled call); smaller ones to report
        m = min(_CHUNK if progress is not None else sampler.cap, steps - done)
        idx = sampler.take(m).ravel()
        nrec, diverged = program.sgd_chunk(state, pv, Xs, Ys, idx if jit else idx.tolist(),
                                           sampler.b, lr, done, steps, record_every, max_norm,
                                           out_y, out_k, nrec, buf, acc)
        done += m
        if progress is not None:
            progress(done / steps)
    if not jit:
        rec_y[1:nrec] = np.array(out_y[1:nrec]).reshape(-1, n)
        rec_k[1:nrec] = out_k[1:nrec]
    return rec_k[:nrec], rec_y[:nrec], diverged
