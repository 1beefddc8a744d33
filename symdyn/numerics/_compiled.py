r"""The compiled backend: scalar code printed from sympy, compiled by numba.

For a scalar chain the component form :math:`\dot y_i = f_i(y; p)` is printed as straight-line
scalar Python (``PythonCodePrinter`` after ``cse``); a system whose numpy code is its matrix
form (10-10-10 RBP) as per-row loops (:mod:`~symdyn.numerics._loopgen`). Either is appended to
a template algorithm (:mod:`~symdyn.numerics._rk_loop`), written to a cache directory
(``$SYMDYN_CACHE``, default ``~/.cache/symdyn``), imported, and every function compiled with
``numba.njit(cache=True)``, once per machine. numba is optional (``pip install
"symdyn[fast]"``): without it the numpy path runs, and :func:`select_backend` says so when
numba is asked for by name. Only sympy objects are printed, never user text."""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import os
import re
import sys
import tempfile
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from pathlib import Path
from types import ModuleType

import numpy as np
import sympy as sp
from sympy.printing.pycode import PythonCodePrinter

from ..errors import SpecError
from . import _codegen, _lane_loop, _loopgen, _rk_loop, _rkgen
from ._codegen import Unsupported
from ._loopgen import (
    matrix_parameter_table,
    matrix_rhs_source,
    parameter_layout,
)
from ._rhs import _KERNELS, NumericRHS, cached_kernel, rhs_kernel
from ._rkgen import dense_shape, lane_source, tableau_source
from ._tableau import TABLEAUS

__all__ = ["BACKENDS", "numba_module", "select_backend", "scalar_function", "load_program",
           "rk_program", "tableau_source", "compiled_advance",
           "advance_function", "MAX_COMPILED_SIZE", "on_disk", "check_compilable",
           "expected_numpy_seconds"]

#: The backends of :func:`~symdyn.integrate_batch`.
BACKENDS = ("auto", "numpy", "numba")
#: What ``backend="auto"`` of a batch integration resolves to when set: ``symdyn verify``
#: sets ``"numpy"`` for its proofs, so that their evidence depends on the seeds and the profile
#: only, not on whether numba is installed or on what the disk cache holds
#: (:func:`auto_backend`; SGD's code choice is its own: plain Python or numba, equal to 1e-12).
AUTO_BACKEND: ContextVar[str | None] = ContextVar("symdyn_auto_backend", default=None)
#: ``backend="auto"`` compiles the component form of systems of at most this many variables.
MAX_COMPILED_SIZE = 64
_CHUNK = 4096  # rows per call of the compiled loop (progress is reported between calls)


def numba_module() -> ModuleType | None:
    """The numba module, or ``None`` when it is not installed."""
    try:
        import numba
    except ImportError:
        return None
    return numba


def scalar_function(name: str, args: Sequence[str],
                    inputs: Sequence[tuple[str, Sequence[sp.Symbol]]],
                    outputs: Sequence[sp.Expr], out: str = "out[{}]") -> str:
    """Python source of ``def name(*args)`` assigning ``outputs[i]`` to ``out.format(i)``;
    each input is an access pattern (``"y[{}]"``, ``"X[row, {}]"``) whose entries ``0, 1,
    ...`` are the given symbols. Raises :class:`~symdyn.numerics._codegen.Unsupported` for
    an expression the printer cannot write as plain Python."""
    rename: dict = {}
    lines = []
    for k, (access, symbols) in enumerate(inputs):
        for i, s in enumerate(symbols):
            if s in rename:
                continue
            rename[s] = sp.Symbol(f"_{'abcdefgh'[k]}{i}")
            lines.append(f"    {rename[s]} = {access.format(i)}")
    exprs = [sp.sympify(e, strict=True).xreplace(rename) for e in outputs]
    temps, reduced = sp.cse(exprs, symbols=sp.numbered_symbols("_x"), optimizations="basic")
    printer = PythonCodePrinter({"fully_qualified_modules": True, "standard": "python3"})
    body = [f"    {s} = {printer.doprint(e)}" for s, e in temps]
    body += [f"    {out.format(i)} = {printer.doprint(e)}" for i, e in enumerate(reduced)]
    if printer._not_supported:
        raise Unsupported(f"no plain Python code for {sorted(map(str, printer._not_supported))}")
    leftover = set().union(*(e.free_symbols for e in exprs)) - set(rename.values())
    if leftover:
        raise Unsupported(f"symbols without a value: {sorted(map(str, leftover))}")
    return f"def {name}({', '.join(args)}):\n" + "\n".join(lines + body) + "\n"


def _cache_dir() -> Path:
    base = os.environ.get("SYMDYN_CACHE") or os.path.join(Path.home(), ".cache", "symdyn")
    path = Path(base) / "compiled"
    try:
        path.mkdir(parents=True, exist_ok=True)
        return path
    except OSError:
        path = Path(tempfile.gettempdir()) / "symdyn-compiled"
        path.mkdir(parents=True, exist_ok=True)
        return path


def load_program(template: str, generated: str, jit: bool, contract: bool = False) -> ModuleType:
    """Import ``template + generated`` as a module from the cache directory; with ``jit``
    every top-level function is wrapped in ``numba.njit(cache=True, error_model="numpy")``
    (IEEE results, no exceptions for 0/0), without it the module is plain Python.
    ``contract`` lets LLVM fuse ``a * b + c`` into one FMA (``fastmath={'contract'}``: no
    reassociation; the loops of matrix code run 20% faster)."""
    numba = numba_module() if jit else None
    flags = ", fastmath={'contract'}" if contract else ""
    header = ("import math\nimport numpy as np\n"
              + (f"import numba\n_jit = numba.njit(cache=True, error_model='numpy'{flags})\n"
                 if jit else "def _jit(f):\n    return f\n"))
    text = header + re.sub(r"^def ", "@_jit\ndef ", template + "\n\n" + generated,
                           flags=re.MULTILINE)
    tag = f"{text}|{numba.__version__ if numba else ''}|{sys.version}"
    digest = hashlib.sha1(tag.encode()).hexdigest()[:20]
    name = f"symdyn_compiled_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    path = _cache_dir() / f"{name}.py"
    if not path.exists() or path.read_text() != text:
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules[name] = module
    return module


_RK_TEMPLATE = inspect.getsource(_rk_loop)
#: The lane loop, appended to the per-row loop for matrix code (without its imports, which
#: name the per-row loop's functions for the reader and linters).
_LANE_TEMPLATE = "LANE_WORK" + inspect.getsource(_lane_loop).split("\nLANE_WORK", 1)[1]
_GENERATORS = hashlib.sha1("".join(
    [_RK_TEMPLATE, _LANE_TEMPLATE] + [inspect.getsource(m) for m in (_codegen, _loopgen, _rkgen)]
).encode()).hexdigest()
#: Whether matrix code with parameters shared by the rows runs in the lane loop (the tests
#: compare it with the per-row loop).
LANE_LOOP = True


def _tab_key(tab) -> tuple[str, str]:
    """The pair's name and a digest of its coefficients (a program per tableau, not per
    name: the mutation tests swap a tableau's coefficients under the same name)."""
    coeffs = b"".join(np.ascontiguousarray(a, dtype=float).tobytes()
                      for a in (tab.A, tab.B, tab.C))
    return tab.name, hashlib.sha1(coeffs).hexdigest()[:12]


def _fingerprint(system, tab, form: str = "component") -> str:
    """A stable name of the compiled loop of ``system`` and ``tab`` across processes (the
    equations, state and parameters of the compiled form as sympy's ``srepr``; numba and
    Python versions; the templates and code generators, so that a changed generator is
    announced as a compile)."""
    numba = numba_module()
    if form == "matrix":
        mf = system.matrix
        eqs = [form, sp.srepr(list(mf.rhs)), sp.srepr(list(mf.state)),
               sp.srepr(list(mf.parameters))]
    else:
        eqs = [sp.srepr(list(system.rhs)), sp.srepr(list(system.state)),
               sp.srepr(list(system.parameters))]
    text = "|".join([*eqs, *_tab_key(tab), getattr(numba, "__version__", ""), sys.version,
                     _GENERATORS])
    return hashlib.sha1(text.encode()).hexdigest()[:20]


def _index_path(system, tab, form: str = "component") -> Path:
    return _cache_dir() / "index" / _fingerprint(system, tab, form)


def on_disk(system, tab=None, form: str = "component") -> bool:
    """Whether the machine code of the compiled loop of ``system`` (its ``form``) is in the
    disk cache (loading it takes about a second; compiling it, 10-30 s)."""
    tab = tab or TABLEAUS["DOP853"]
    try:
        name = _index_path(system, tab, form).read_text().strip()
    except OSError:
        return False
    return bool(re.fullmatch(r"symdyn_compiled_[0-9a-f]+", name)) and any(
        (_cache_dir() / "__pycache__").glob(f"{name}.run_rows-*.nbi"))


def check_compilable(system, form: str) -> None:
    """Refuse at once, before any code is printed or compiled, what the compiled loop does
    not run: no numba, or a bad ``form`` (every system runs: the form compiled is
    :func:`compiled_form`; what its printer cannot write is refused by
    :func:`select_backend` before compiling)."""
    if numba_module() is None:
        raise SpecError("backend='numba' needs numba, which is not installed: pip install "
                        "'symdyn[fast]', or use backend='numpy'")
    compiled_form(system, form)


def compiled_form(system, form: str) -> str:
    """``"matrix"`` or ``"component"``: the form the compiled loop runs, the one the numpy
    path would run (:func:`~symdyn.numerics._rhs.rhs_kernel`): a wide network's matrix
    expressions are printed as loops (:mod:`~symdyn.numerics._loopgen`), not its hundreds of
    component equations."""
    return rhs_kernel(system, form).form


def _rhs_source(system, form: str) -> tuple[str, int]:
    """The generated ``rhs(y, p, K, s)`` of the form and the length of its parameter row
    (matrix code: with its scratch space)."""
    if form == "matrix":
        mf = system.matrix
        layout = parameter_layout(mf.parameters)
        src = matrix_rhs_source(mf.state, mf.rhs, mf.parameters)
        work = int(re.search(r"^WORK = (\d+)$", src, flags=re.MULTILINE).group(1))
        return src, sum(size for _, _, size in layout) + work
    src = scalar_function("rhs", ["y", "p", "K", "s"],
                          [("y[{}]", system.state), ("p[{}]", system.parameters)],
                          system.rhs, out="K[s, {}]")
    return src, len(system.parameters)


def program_text(system, tab, form: str, rhs_source=None) -> tuple[str, str, int]:
    """``(template, generated, m)`` of the Runge-Kutta loop of ``system`` in ``form``
    (:func:`load_program`'s arguments) and the length ``m`` of its parameter row; matrix
    code adds the lane loop. ``rhs_source``: :func:`_rhs_source`'s result, if at hand."""
    src, m = rhs_source or _rhs_source(system, form)
    generated = src + "\n\n" + tableau_source(tab, compact=form == "matrix")
    template = _RK_TEMPLATE
    if form == "matrix":
        template += "\n\n" + _LANE_TEMPLATE
        generated += "\n\n" + lane_source(tab, system.size)
    return template, generated, m


def rk_program(system, tab=None, form: str = "component") -> ModuleType:
    """The compiled Runge-Kutta loop of ``system`` (its ``form``: ``"component"`` or
    ``"matrix"``) for the pair ``tab`` (default DOP853; cached per system, form and pair, in
    this process and on disk). A compile that is not in the disk cache is announced on
    stderr, with the time it takes."""
    tab = tab or TABLEAUS["DOP853"]

    def build():
        cached = on_disk(system, tab, form)
        # matrix loops print in milliseconds (and refuse before any announcement); the cse of
        # a component form can take minutes, so it comes after the announcement
        early = _rhs_source(system, form) if form == "matrix" else None
        if not cached:
            print(f"symdyn: compiling the {tab.name} loop of a system of {system.size} "
                  f"equations ({form} form) with numba (about {_compile_guess(system, form)}"
                  f", once per machine; cached in {_cache_dir()})", file=sys.stderr,
                  flush=True)
        template, generated, m = program_text(system, tab, form, early)
        program = load_program(template, generated, jit=True, contract=form == "matrix")
        program.rhs(np.full(system.size, 0.5), np.full(m, 0.5), np.empty((1, system.size)),
                    0)  # compile now
        _warm(program, tab, system.size, m)
        if not cached:
            _write_index(system, tab, program.__name__, form)
        return program

    return cached_kernel(system, ("numba", "rk", *_tab_key(tab)) + (("matrix",) if form ==
                                                                    "matrix" else ()), build)


def _compile_guess(system, form: str = "component") -> str:
    """The compile time measured here (benchmarks/bench_compiled.py): 7-16 s for chains of
    2-11 equations, growing with the size of the equations; 20-22 CPU-s for 10-10-10 RBP's
    matrix loops (per row and in lanes)."""
    return "10-30 s" if system.size <= 16 or form == "matrix" else "a minute or more"


def _warm(program, tab, n: int, m: int) -> None:
    """Compile (or load) ``run_rows`` (and the lane loop of matrix code) now, on a finished
    row, so that the first real call does not pay for it and the disk cache holds it."""
    extra, n_f = dense_shape(tab)
    one = np.zeros(1, dtype=np.int64)
    args = (np.zeros(1, dtype=np.int64), np.zeros((1, m)), np.zeros((1, n)), np.zeros((1, n)),
            np.zeros(1), np.ones(1), np.full(1, _rk_loop.END), one.copy(), one.copy(),
            one.copy(), np.zeros(1, dtype=bool), one.copy(), one.copy(), np.zeros(1),
            np.zeros(1), np.zeros((1, _rk_loop.DECADES)), np.zeros((1, _rk_loop.DECADES)),
            np.zeros(1), one.copy(), tab.n_stages, tab.error_order, tab.stiff_threshold, 1.0,
            1e-8, 1e-10, 1e-8, -1.0, 1e8, True, 10, True, 0, np.empty(0),
            np.empty((0, 1, n)), one.copy(), extra, n_f)
    program.run_rows(*args)
    if hasattr(program, "run_lanes"):
        program.run_lanes(*args)


def _write_index(system, tab, name: str, form: str = "component") -> None:
    path = _index_path(system, tab, form)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            fh.write(name)
        os.replace(tmp, path)
    except OSError:  # a read-only cache: the next process compiles (or loads) again
        pass


#: What ``backend="auto"`` weighs (measured here, benchmarks/bench_compiled.py and
#: bench_sweep.py): the numpy path costs about ``NUMPY_SECONDS`` per row, state variable and
#: time unit integrated (long horizons: steps are bounded by stability, not accuracy); loading
#: a cached program costs ``LOAD_SECONDS``, compiling one ``COMPILE_SECONDS``.
NUMPY_SECONDS = 3e-6
#: The same for matrix code (10-10-10 RBP, t = 50: 2.8 CPU-s for 1,000 rows idle, 4.2-4.8
#: under load) and how much faster its compiled lane loop runs there (3.2-3.6x measured,
#: benchmarks/bench_phase.py job 2; a little under the smaller figure).
NUMPY_MATRIX_SECONDS, MATRIX_SPEEDUP = 4.5e-7, 3.0
LOAD_SECONDS = 1.0  # 10-10-10 RBP's matrix loops: 0.4 CPU-s
COMPILE_SECONDS = 25.0  # 10-10-10 RBP's matrix loops with the lane loop: 20-22 CPU-s


def expected_numpy_seconds(rows: int, n: int, t_final: float,
                           form: str = "component") -> float:
    """The numpy path's expected CPU seconds (an upper estimate: rows that converge early
    stop early)."""
    per = NUMPY_MATRIX_SECONDS if form == "matrix" else NUMPY_SECONDS
    return rows * n * min(float(t_final), 1e6) * per


def select_backend(backend: str, system, form: str, t_eval, rows: int, tab=None,
                   t_final: float = 1.0) -> str:
    """``"numpy"`` or ``"numba"`` for :func:`~symdyn.integrate_batch`. ``"numba"`` is
    checked (:func:`check_compilable`) before anything is compiled. ``"auto"`` compiles when
    numba is installed, the state has at most :data:`MAX_COMPILED_SIZE` variables and the
    component form is the code the numpy path would run (scalar chains with moments, or
    ``form="component"``), and the expected numpy time of ``rows`` rows to ``t_final``
    (:func:`expected_numpy_seconds`) exceeds the cost of getting the compiled loop: nothing
    if this process has it, :data:`LOAD_SECONDS` if the disk cache has it,
    :data:`COMPILE_SECONDS` otherwise. ``t_eval`` is recorded by both."""
    if backend not in BACKENDS:
        raise SpecError(f"backend must be one of {', '.join(map(repr, BACKENDS))}, got "
                        f"{backend!r}")
    backend = auto_backend(backend)
    tab = tab or TABLEAUS["DOP853"]
    if backend == "numpy":
        return "numpy"
    if backend == "numba":
        check_compilable(system, form)
        try:
            rk_program(system, tab, compiled_form(system, form))
        except Unsupported as exc:
            raise SpecError(f"backend='numba' cannot compile this system: {exc}; use "
                            "backend='numpy'") from None
        return "numba"
    if numba_module() is None or system.size <= 0:
        return "numpy"
    kind = compiled_form(system, form)
    if kind == "component" and system.size > MAX_COMPILED_SIZE:
        return "numpy"
    key = ("numba", "rk", *_tab_key(tab)) + (("matrix",) if kind == "matrix" else ())
    if not _has_kernel(system, key):
        cost = LOAD_SECONDS if on_disk(system, tab, kind) else COMPILE_SECONDS
        saved = expected_numpy_seconds(rows, system.size, t_final, kind)
        if kind == "matrix":  # the compiled loop still costs 1 / MATRIX_SPEEDUP of it
            saved *= 1.0 - 1.0 / MATRIX_SPEEDUP
        if saved < cost:
            return "numpy"
    try:
        rk_program(system, tab, kind)
    except Unsupported:
        return "numpy"
    return "numba"


def auto_backend(backend: str) -> str:
    """``backend``, with ``"auto"`` replaced by :data:`AUTO_BACKEND` where that is set."""
    return (AUTO_BACKEND.get() or backend) if backend == "auto" else backend


def _has_kernel(system, key) -> bool:
    try:
        return key in _KERNELS.get(system, {})
    except TypeError:
        return False


def _parameter_table(rhs: NumericRHS, work: int = 0) -> np.ndarray:
    """Parameter values as rows ``(B, m)`` (or one row ``(1, m)`` when none is per row),
    in ``system.parameters`` order (matrix code: flattened, in the kernel's order, then
    ``work`` entries of the program's scratch space)."""
    args = rhs._args
    if rhs.kernel.form == "matrix":
        return matrix_parameter_table(rhs.kernel.params, args, rhs.batch, work)
    if rhs.kernel.params != tuple(rhs.system.parameters):
        raise SpecError("the compiled backend needs the component form of the system")
    rows = rhs.batch or 1
    P = np.empty((rows, len(args)))
    for j, a in enumerate(args):
        P[:, j] = a
    return P


def advance_function(backend: str, system, form: str, stepper) -> Callable[[], bool]:
    """What :func:`~symdyn.integrate_batch` calls until it returns ``False``:
    ``stepper.step`` (numpy) or :func:`compiled_advance` (numba), by
    :func:`select_backend`."""
    chosen = select_backend(backend, system, form, stepper.t_eval,
                            int(np.sum(stepper.code == _rk_loop.RUN)), stepper.tab,
                            t_final=stepper.t_final)
    if chosen == "numpy":
        return stepper.step
    return compiled_advance(stepper, rk_program(system, stepper.tab,
                                                stepper.rhs.kernel.form))


_MESSAGES = {1: "step size collapsed", 2: "step size collapsed as the state or its speed grew "
                                           "(blow-up)"}


def compiled_advance(stepper, program: ModuleType) -> Callable[[], bool]:
    """A ``step`` for ``stepper`` (a :class:`~symdyn.numerics._batch.BatchStepper` after its
    first evaluation) that runs every running row to its end in compiled code, a chunk of
    rows per call; ``False`` once every row is done. Matrix code with parameters shared by
    the rows runs in the lane loop (:mod:`~symdyn.numerics._lane_loop`,
    :data:`~symdyn.numerics._rkgen.LANES` rows side by side; :data:`LANE_LOOP`)."""
    tab = stepper.tab
    P = _parameter_table(stepper.rhs, int(getattr(program, "WORK", 0)))
    mon = stepper.monitor
    msg = np.zeros(len(stepper.code), dtype=np.int64)
    todo = np.flatnonzero(stepper.code == _rk_loop.RUN)
    xtol = -1.0 if stepper.xtol is None else float(stepper.xtol)
    state = {"pos": 0}
    # rows side by side where the matrix code's parameters are shared by the rows
    lanes = LANE_LOOP and hasattr(program, "run_lanes") and P.shape[0] == 1
    extra, n_f = dense_shape(tab)
    if stepper.t_eval is None:
        t_eval, y_eval = np.empty(0), np.empty((0, 1, stepper.n))
        next_eval = np.zeros(len(stepper.code), dtype=np.int64)
    else:
        t_eval, y_eval = stepper.t_eval, stepper.y_eval
        next_eval = stepper.next_eval = stepper.next_eval.astype(np.int64)

    def advance() -> bool:
        pos = state["pos"]
        if pos >= todo.size:
            return False
        rows = todo[pos:pos + _CHUNK]
        state["pos"] = pos + _CHUNK
        s = stepper
        args = (rows, P, s.y, s.f, s.t, s.h, s.code, s.nfev, s.nsteps, s.attempts, s.rejected,
                s.iasti, s.nonsti, s.fn, s.y0_norm, mon.t_first, mon.f_first, mon.f_min, msg,
                tab.n_stages, tab.error_order, tab.stiff_threshold, s.t_final, s.rtol, s.atol,
                s.tol, xtol, s.max_norm, bool(s.stop), int(s.max_steps), s.stiff != "none",
                int(mon.top), t_eval, y_eval, next_eval, extra, n_f)
        if lanes:
            program.run_lanes(*args)
        else:
            program.run_rows(*args)
        texts = {**_MESSAGES, 3: f"|y| exceeded {s.max_norm:g}",
                 4: f"max_steps={s.max_steps} reached"}
        for r in rows[msg[rows] > 0]:
            s.messages[int(r)] = texts[int(msg[r])]
        return True

    return advance
