r"""The plan of a sweep: its size checked against stated limits before any work, the
estimate of rows, memory and time, the chunks of every cell and the backend of every system.

:func:`check_limits` reads only the spec (no derivation, no cell list): a grid of a million
cells, ``starts = 10**12``, ``t_final = 1e308`` or ``depth = 200`` are refused in one line,
with the estimate, in well under a second. :func:`make_plan` then derives each distinct
system once, checks its parameter values, and picks its backend: compiled (numba, when
installed and the system compiles: compiled here, once, so that workers only load the
cached machine code) or numpy. A chunk's rows are a function of the spec alone (never of the
backend), so a store reads back the same on any machine."""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import SpecError
from ._spec import DERIVE_KEYS, RUN_DEFAULTS, SweepSpec

__all__ = ["LIMITS", "Plan", "check_limits", "make_plan", "chunk_rows", "system_key",
           "cell_values", "estimate_seconds"]

#: The stated limits of a sweep (a spec past any of them is refused before any work).
LIMITS: dict[str, float] = {
    "cells": 100_000,            # cells of the grid (times random cells)
    "axis_values": 10_000,       # values of one axis
    "rows": 1_000_000_000,       # starts x cells
    "starts": 100_000_000,       # starts per cell
    "horizon": 1e6,              # t_final and tail, in time units
    "depth": 16,                 # weight layers of a depth-given chain
    "weights": 4096,             # weights of an architecture (the state is at most twice)
    "samples": 100_000,          # samples, fine
    "certify": 10_000,
    "chunk": 1_000_000,
    "chunks": 10_000_000,        # chunk files of a sweep (rows / chunk when chunk is given)
    "task_bytes": 2 * 1024**3,   # working memory of one task
}
#: rows per chunk when the spec does not say (per-chunk costs, like certifying, amortise)
DEFAULT_CHUNK = 1000
#: CPU seconds per row, per state variable and per time unit integrated (t_final plus the
#: tail's two passes), measured on ARBP chains of depth 3-6 (benchmarks/bench_sweep.py):
#: an upper estimate (most rows converge early)
SECONDS_PER_UNIT = {"numba": 6e-8, "numpy": 3.5e-6}


def _positive(name: str, value: float, top: float | None = None) -> None:
    if not value > 0:
        raise SpecError(f"sweep: {name} must be positive, got {value:g}")
    if top is not None and value > top:
        raise SpecError(f"sweep: {name} = {value:g} is above the limit of {top:g}")


def _values(spec: SweepSpec, key: str) -> list:
    base = {**RUN_DEFAULTS, **spec.fixed}
    if key in spec.axes:
        return list(spec.axes[key])
    if key in spec.random:
        return list(spec.random[key][:2])
    return [base[key]] if key in base else []


def _weights(arch: str) -> int:
    sizes = [int(s) for s in arch.split("-")]
    return sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=False))


def _state_bound(spec: SweepSpec) -> int:
    """An upper bound on the state size of the cells (weights, and as many channel entries
    for rules whose channel learns) without deriving anything."""
    archs = [_weights(a) for a in _values(spec, "arch")] or \
        [int(d) for d in _values(spec, "depth")]
    return 2 * max(archs or [1])


def estimate_seconds(rows: int, n: int, cell: Mapping, backend: str) -> float:
    """CPU seconds of ``rows`` rows of ``n`` state variables (see :data:`SECONDS_PER_UNIT`)."""
    units = float(cell["t_final"]) + 5 * float(cell["tail"])
    return rows * n * units * SECONDS_PER_UNIT[backend]


def row_bytes(cell: Mapping, n: int) -> int:
    """Working memory per row of a task: the stages and state of the integrators and the
    samples of the tail's first pass (the second pass runs in parts of bounded memory)."""
    return 8 * max(n, 1) * (int(cell["samples"]) + 40) + 64


def store_bytes_per_row(n: int) -> int:
    """Bytes a row takes in the store (two states, numbers, the reason text)."""
    return 16 * n + 8 * 5 + 9 * 4 + 8 * 4 + 200 * 4


def _gib(b: float) -> str:
    return f"{b / 1024**3:.3g} GiB" if b >= 1024**3 else f"{b / 1024**2:.3g} MiB"


def _duration(s: float) -> str:
    return f"{s / 3600:.3g} CPU-hours" if s >= 3600 else f"{s:.3g} CPU-s"


def check_limits(spec: SweepSpec) -> None:
    """Refuse a spec past :data:`LIMITS` (one :class:`~symdyn.errors.SpecError` with the
    estimate), reading only the spec: nothing is derived or allocated."""
    for key, values in spec.axes.items():
        if len(values) > LIMITS["axis_values"]:
            raise SpecError(f"sweep: axis {key} has {len(values):,} values, above the limit of "
                            f"{LIMITS['axis_values']:,.0f}")
    cells = math.prod(len(v) for v in spec.axes.values()) * int(spec.random.get("cells", 1))
    if cells > LIMITS["cells"]:
        raise SpecError(f"sweep: {cells:,} cells, above the limit of {LIMITS['cells']:,.0f}; "
                        "sweep a coarser grid, or a [random] sample of cells")
    for d in _values(spec, "depth"):
        if not 1 <= int(d) <= LIMITS["depth"]:
            raise SpecError(f"sweep: depth must be between 1 and {LIMITS['depth']:.0f}, got {d}")
    for a in _values(spec, "arch"):
        if _weights(a) > LIMITS["weights"]:
            raise SpecError(f"sweep: arch {a} has {_weights(a):,} weights, above the limit of "
                            f"{LIMITS['weights']:,.0f}")
    for key in ("t_final", "tail"):
        for v in _values(spec, key):
            _positive(key, float(v), LIMITS["horizon"])
    for key in ("tol", "rtol", "atol", "scale"):
        for v in _values(spec, key):
            _positive(key, float(v), 1.0 if key != "scale" else 1e6)
    for key in ("samples", "fine"):
        for v in _values(spec, key):
            if not 10 <= int(v) <= LIMITS["samples"]:
                raise SpecError(f"sweep: {key} must be between 10 and "
                                f"{LIMITS['samples']:,.0f}, got {v}")
    for key in ("certify", "chunk"):
        for v in _values(spec, key):
            if int(v) > LIMITS[key]:
                raise SpecError(f"sweep: {key} = {v} is above the limit of "
                                f"{LIMITS[key]:,.0f}")
    starts = max(int(s) for s in _values(spec, "starts"))
    rows = cells * starts
    n = _state_bound(spec)
    worst = {**RUN_DEFAULTS, **spec.fixed,
             **{k: max(_values(spec, k)) for k in ("t_final", "tail", "samples")}}
    if starts > LIMITS["starts"] or rows > LIMITS["rows"]:
        which = (f"{LIMITS['rows']:,.0f} rows" if rows > LIMITS["rows"] else
                 f"{LIMITS['starts']:,.0f} starts per cell")
        raise SpecError(
            f"sweep: {cells:,} cells x {starts:,} starts = {rows:,} rows, above the limit of "
            f"{which}: about "
            f"{_duration(estimate_seconds(rows, n, worst, 'numba'))} compiled and "
            f"{_gib(rows * store_bytes_per_row(n))} of results")
    chunk = min((int(c) for c in _values(spec, "chunk") if int(c)), default=0)
    if chunk and cells * math.ceil(starts / chunk) > LIMITS["chunks"]:
        raise SpecError(f"sweep: {rows:,} rows in chunks of {chunk:,} make "
                        f"{cells * math.ceil(starts / chunk):,} chunk files, above the limit of "
                        f"{LIMITS['chunks']:,.0f}; chunk = "
                        f"{math.ceil(rows / LIMITS['chunks']):,} or more (or 0: chosen)")
    if row_bytes(worst, n) > LIMITS["task_bytes"]:
        raise SpecError(f"sweep: one row of {n} state variables with samples = "
                        f"{worst['samples']} needs {_gib(row_bytes(worst, n))}, above the "
                        f"limit of {_gib(LIMITS['task_bytes'])} per task")


def chunk_rows(cell: Mapping, n_state: int) -> int:
    """Rows per task: ``chunk`` if given, else :data:`DEFAULT_CHUNK` (at most ``starts``),
    fewer if a task's working memory (:func:`row_bytes`) would pass a quarter of
    ``LIMITS["task_bytes"]``."""
    if cell.get("chunk"):
        return int(cell["chunk"])
    fit = int(LIMITS["task_bytes"] // 4 // row_bytes(cell, n_state))
    return int(max(1, min(DEFAULT_CHUNK, int(cell["starts"]), fit)))


def system_key(cell: Mapping) -> tuple:
    """What identifies a cell's system: its derive options."""
    return tuple((k, cell[k]) for k in DERIVE_KEYS if k in cell)


def cell_values(cell: Mapping) -> dict:
    """The parameter values of a cell: every key that is neither a derive option nor a
    run setting."""
    return {k: v for k, v in cell.items() if k not in DERIVE_KEYS and k not in RUN_DEFAULTS}


@dataclass(frozen=True)
class Plan:
    """The tasks of a sweep ``(cell, cell index, chunk index, rows)``, the backend of each
    system (by :func:`system_key`), and the estimate: rows, CPU seconds, the largest task's
    working memory and the store's size in bytes."""

    tasks: list
    backends: dict
    rows: int
    cpu_seconds: float
    task_bytes: int
    store_bytes: int

    def describe(self, cells: int) -> str:
        kinds = sorted(set(self.backends.values()))
        return (f"{cells:,} cells, {self.rows:,} rows in {len(self.tasks):,} chunks "
                f"({'/'.join(kinds)}): about {_duration(self.cpu_seconds)}, "
                f"{_gib(self.task_bytes)} per task, {_gib(self.store_bytes)} of results")


def _backend(system, values: dict) -> str:
    """``"numba"`` when numba is installed and the system's compiled loop builds (announced
    on stderr when it compiles), else ``"numpy"``."""
    from ..numerics import _compiled
    from ..numerics._rhs import rhs_kernel

    if (_compiled.numba_module() is None or not 0 < system.size <= _compiled.MAX_COMPILED_SIZE
            or rhs_kernel(system, "auto").form != "component"):
        return "numpy"
    try:
        _compiled.rk_program(system)
    except _compiled.Unsupported:
        return "numpy"
    return "numba"


def make_plan(spec: SweepSpec, cell_system, backend: str = "auto") -> Plan:
    """Check the limits, derive and check each distinct system (``cell_system(cell)``) once,
    choose its backend (``backend="auto"``: :func:`_backend`) and list the tasks."""
    from ..numerics import numeric

    check_limits(spec)
    tasks, backends, checked = [], {}, set()
    seconds = 0.0
    task_bytes = store = 0
    for ci, cell in enumerate(spec.cells):
        system = cell_system(cell)
        key = system_key(cell)
        values = cell_values(cell)
        if (key, tuple(sorted(values))) not in checked:
            numeric(system, values)
            checked.add((key, tuple(sorted(values))))
        if key not in backends:
            backends[key] = _backend(system, values) if backend == "auto" else backend
        size = chunk_rows(cell, system.size)
        starts = int(cell["starts"])
        for k, lo in enumerate(range(0, starts, size)):
            tasks.append((cell, ci, k, min(size, starts - lo)))
        seconds += estimate_seconds(starts, system.size, cell, backends[key])
        task_bytes = max(task_bytes, size * row_bytes(cell, system.size) + 64 * 2**20)
        store += starts * store_bytes_per_row(system.size)
    if task_bytes > LIMITS["task_bytes"]:
        raise SpecError(f"sweep: a chunk needs about {_gib(task_bytes)} of working memory, "
                        f"above the limit of {_gib(LIMITS['task_bytes'])}; give a smaller "
                        "chunk")
    return Plan(tasks=tasks, backends=backends, rows=sum(t[3] for t in tasks),
                cpu_seconds=seconds, task_bytes=task_bytes, store_bytes=store)


def announce(text: str) -> None:
    """One line on stderr (what a long step is about to do)."""
    print(f"symdyn: {text}", file=sys.stderr, flush=True)
