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
from sympy.printing.pycode import PythonCodePrinter

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
_CHUNK, _BIG = 4096, 1 << 20


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
        if jit:
            src += "\n\n" + steps_source(system, _flat_parameters(system, params), I, T)
        return _compiled.load_program(_TEMPLATE, src, jit=jit)

    return cached_kernel(system, ("sgd", "numba" if jit else "python"), build)


def steps_source(system, params: list, I, T) -> str:  # noqa: E741
    r"""``sgd_steps1``: :func:`~symdyn.training._sgd_loop.sgd_chunk` for mini-batches of one
    sample, with the update printed into the loop and the state in local variables (through
    memory every step cost 1.7x the update itself on 1-1-1); the same arithmetic,
    :math:`y_i + \mathrm{lr}\,\Delta y_i`, so the same results."""
    n = system.size
    S = [sp.Symbol(f"_s{i}") for i in range(n)]
    rename = dict(zip(system.state, S))
    rename.update({q: sp.Symbol(f"_p{j}") for j, q in enumerate(params)})
    rename.update({q: sp.Symbol(f"_x{j}") for j, q in enumerate(I)})
    rename.update({q: sp.Symbol(f"_t{j}") for j, q in enumerate(T)})
    exprs = [sp.sympify(e, strict=True).xreplace(rename) for e in system.update]
    leftover = set().union(*(e.free_symbols for e in exprs)) - set(rename.values())
    if leftover:
        raise _compiled.Unsupported(f"symbols without a value: {sorted(map(str, leftover))}")
    temps, reduced = sp.cse(exprs, symbols=sp.numbered_symbols("_c"), optimizations="basic")
    printer = PythonCodePrinter({"fully_qualified_modules": True, "standard": "python3"})
    body = [f"{v} = {printer.doprint(e)}" for v, e in temps]
    body += [f"_d{i} = {printer.doprint(e)}" for i, e in enumerate(reduced)]
    if printer._not_supported:
        raise _compiled.Unsupported(f"no plain Python code for {printer._not_supported}")
    store = [f"y[{i}] = _s{i}" for i in range(n)]
    record = []
    for i in range(n):
        record += [f"rec_y[nrec][{i}] = _s{i}", f"if not abs(_s{i}) <= max_norm:",
                   "    big = True"]
    lines = (["def sgd_steps1(y, p, X, Y, idx, lr, k0, steps, record_every, max_norm, rec_y, "
              "rec_k, nrec):"]
             + [f"    _s{i} = y[{i}]" for i in range(n)]
             + [f"    _p{j} = p[{j}]" for j in range(len(params))]
             + ["    next_record = (k0 // record_every + 1) * record_every",
                "    for j in range(len(idx)):", "        row = idx[j]"]
             + [f"        _x{j} = X[row, {j}]" for j in range(len(I))]
             + [f"        _t{j} = Y[row, {j}]" for j in range(len(T))]
             + ["        " + x for x in body]
             + [f"        _s{i} = _s{i} + lr * _d{i}" for i in range(n)]
             + ["        k = k0 + j + 1", "        if k == next_record or k == steps:",
                "            if k == next_record:", "                next_record += record_every",
                "            big = False"]
             + ["            " + x for x in record]
             + ["            rec_k[nrec] = k", "            nrec += 1", "            if big:"]
             + ["                " + x for x in store] + ["                return nrec, True"]
             + ["    " + x for x in store] + ["    return nrec, False"])
    return "\n".join(lines) + "\n"


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
        # compiled and silent: chunks of 2^20 samples (one draw of indices, one call, 16 MB);
        # plain Python (indices as lists) or reporting progress: 4,096 steps
        m = min(max(1, _BIG // sampler.b) if jit and progress is None else _CHUNK, steps - done)
        idx = sampler.take(m).ravel()
        if jit and sampler.b == 1:
            nrec, diverged = program.sgd_steps1(state, pv, Xs, Ys, idx, lr, done, steps,
                                                record_every, max_norm, out_y, out_k, nrec)
        else:
            nrec, diverged = program.sgd_chunk(state, pv, Xs, Ys,
                                               idx if jit else idx.tolist(), sampler.b, lr,
                                               done, steps, record_every, max_norm, out_y,
                                               out_k, nrec, buf, acc)
        done += m
        if progress is not None:
            progress(done / steps)
    if not jit:
        rec_y[1:nrec] = np.array(out_y[1:nrec]).reshape(-1, n)
        rec_k[1:nrec] = out_k[1:nrec]
    return rec_k[:nrec], rec_y[:nrec], diverged
