r"""Sweeps: where trajectories end over a grid (or a random sample) of specs and
parameters, run as Dask tasks and stored chunk by chunk.

``sweep(spec, store)`` expands the spec (:mod:`symdyn.sweep._spec`) into cells; each cell is
a batch of ``starts`` random initial weights (i.i.d. :math:`\mathcal N(0, s^2)`), split into
chunks of rows. A chunk is one task: derive the cell's system (cached per worker), draw its
starts from ``SeedSequence(spec hash, (cell, chunk))`` (so results do not depend on how many
workers there are or in which order chunks run), integrate them with
:func:`~symdyn.integrate_batch`, classify every row (:func:`~symdyn.numerics.classify`:
converged / periodic / diverged / undecided, certifying up to ``certify`` periodic rows with
the system's first integrals) and write the chunk atomically to the store
(:mod:`symdyn.sweep._store`). Re-running the same spec on the same store computes only the
chunks whose files are missing.

Execution: a local Dask cluster sized to the machine (``workers`` processes, one thread
each), started and closed here; or the existing cluster at ``scheduler`` (or
``$SYMDYN_SCHEDULER``); or ``scheduler="sync"``: in this process, without Dask."""

from __future__ import annotations

import os
import sys
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import SpecError
from . import _store as store_
from ._plan import announce, cell_values, check_limits, chunk_rows, make_plan, system_key
from ._spec import RUN_DEFAULTS, SweepSpec, load_spec

__all__ = ["sweep", "load_sweep", "sweep_summary", "SweepRun", "phase_shares"]

_SYSTEMS: dict = {}
_LAWS: dict = {}


@dataclass(frozen=True)
class SweepRun:
    """What one call of :func:`sweep` did: the store, the spec's identity, chunks in all,
    chunks found done, chunks computed now, wall time in seconds, rows computed now, CPU
    seconds of the tasks (summed over workers)."""

    store: Path
    identity: str
    chunks: int
    already_done: int
    computed: int
    seconds: float
    rows: int
    cpu_seconds: float = 0.0

    def __repr__(self) -> str:
        return (f"<SweepRun {self.identity} at {self.store}: {self.computed} of "
                f"{self.chunks} chunks computed ({self.already_done} already done), "
                f"{self.rows} rows in {self.seconds:.1f} s, {self.cpu_seconds:.1f} CPU-s>")


# -- one cell, one chunk ----------------------------------------------------------------------


def cell_system(cell: Mapping):
    """The learning system of a cell (cached per process)."""
    key = system_key(cell)
    if key not in _SYSTEMS:
        from ..derive import derive

        arch = cell.get("arch") or "-".join(["1"] * (int(cell["depth"]) + 1))
        opts = {k: cell[k] for k in ("rate_ratio", "decay", "activation",
                                     "channel_activation", "derivative") if k in cell}
        _SYSTEMS[key] = derive(arch, cell["rule"], **opts)
    return _SYSTEMS[key]


def _laws(cell: Mapping):
    key = system_key(cell)
    if key not in _LAWS:
        from ..analysis import invariants

        system = cell_system(cell)
        # no ``timeout``: it runs the search in a child process, which a Dask worker (a
        # daemon process) may not start; chains take well under a second
        try:
            _LAWS[key] = invariants(system, generators=True) if system.size <= 24 else ()
        except Exception:  # noqa: BLE001 - no laws (e.g. not polynomial): certify nothing
            _LAWS[key] = ()
    return _LAWS[key]


def _chunks_of(cell: Mapping, n_state: int) -> list[tuple[int, int]]:
    """``(first row, rows)`` of each chunk of a cell."""
    size = chunk_rows(cell, n_state)
    starts = int(cell["starts"])
    return [(lo, min(size, starts - lo)) for lo in range(0, starts, size)]


def compute_chunk(cell: Mapping, identity: str, cell_i: int, chunk_i: int, rows: int,
                  backend: str = "auto") -> dict:
    """The classified rows of one chunk (see the module docstring); ``backend`` of every
    integration (:func:`~symdyn.integrate_batch`)."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        # a row that overflows is classified (diverged), not reported as a numpy warning
        warnings.simplefilter("ignore", RuntimeWarning)
        return _compute_chunk(cell, identity, cell_i, chunk_i, rows, backend)


def _compute_chunk(cell, identity, cell_i, chunk_i, rows, backend) -> dict:
    from ..numerics import integrate_batch
    from ..numerics._classify import classify

    system = cell_system(cell)
    values = cell_values(cell)
    seq = np.random.SeedSequence(int(identity, 16), spawn_key=(cell_i, chunk_i))
    Y0 = float(cell["scale"]) * np.random.default_rng(seq).normal(size=(rows, system.size))
    r = integrate_batch(system, Y0, float(cell["t_final"]), values, tol=float(cell["tol"]),
                        rtol=float(cell["rtol"]), atol=float(cell["atol"]), backend=backend)
    certify = int(cell["certify"])
    laws = _laws(cell) if certify and np.any(np.isin(r.status, ("running", "failed"))) else None
    c = classify(system, r, values, tail=float(cell["tail"]), samples=int(cell["samples"]),
                 fine=int(cell["fine"]),
                 rtol=float(cell["rtol"]), atol=float(cell["atol"]), laws=laws,
                 certify=certify, backend=backend)
    return {"end": c.end.astype("U9"), "endpoint": c.endpoint.astype("U8"), "loss": c.loss,
            "t_end": c.t_end, "period": c.period, "amplitude": c.amplitude,
            "certified": c.certified, "reason": c.reason.astype("U200"), "y0": Y0,
            "y_end": c.y_end, "route": c.route.astype("U11")}


def _run_task(cell: dict, identity: str, cell_i: int, chunk_i: int, rows: int,
              store: str, backend: str = "auto") -> tuple[int, float]:
    """Compute and write one chunk: its rows and the CPU seconds it took."""
    cpu = time.process_time()
    if store_.chunk_path(store, cell_i, chunk_i).exists():
        return 0, 0.0  # written meanwhile by another sweep on the same store
    store_.write_chunk(store, cell_i, chunk_i, identity,
                       compute_chunk(cell, identity, cell_i, chunk_i, rows, backend))
    return rows, time.process_time() - cpu


# -- the driver -------------------------------------------------------------------------------


#: seconds to reach a scheduler, and to wait for its first worker
CONNECT_SECONDS = 5
WORKER_WAIT_SECONDS = 30.0


def _check_address(scheduler: str) -> None:
    """Refuse an address Dask cannot parse, and a TCP address nobody listens at, at once;
    other schemes (``inproc://``: a scheduler in this process) by connecting a client, so
    that nothing is derived or compiled for a scheduler that is not there."""
    import socket

    from distributed.comm import parse_address
    from distributed.comm.addressing import parse_host_port
    from distributed.comm.registry import backends

    try:
        scheme, loc = parse_address(scheduler)
        if scheme not in backends:
            raise ValueError(f"unknown scheme {scheme!r}; known: {', '.join(sorted(backends))}")
        if scheme not in ("tcp", "tls", "ws", "wss"):
            _connect(scheduler).close()
            return
        host, port = parse_host_port(loc)
    except (ValueError, TypeError) as exc:
        raise SpecError(f"--scheduler {scheduler!r} is not a Dask address such as "
                        f"tcp://HOST:PORT ({exc}); or give 'sync'") from None
    try:
        socket.create_connection((host, port), timeout=CONNECT_SECONDS).close()
    except (OSError, ValueError, OverflowError) as exc:
        why = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise SpecError(f"cannot reach the Dask scheduler at {scheduler!r}: {why}") from None


def _connect(scheduler: str):
    """A Dask client of the scheduler at ``scheduler``, or a one-line error."""
    from dask.distributed import Client

    try:
        return Client(scheduler, timeout=f"{CONNECT_SECONDS}s")
    except Exception as exc:  # noqa: BLE001 - whatever answers there is not a scheduler
        why = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise SpecError(f"cannot reach a Dask scheduler at {scheduler!r}: {why}") from None


def _client(scheduler: str | None, workers: int | None, processes: bool):
    import logging

    from dask.distributed import Client, LocalCluster

    if scheduler:
        _check_address(scheduler)
        client = _connect(scheduler)
        try:  # a scheduler without workers would leave every task waiting for ever
            client.wait_for_workers(1, timeout=WORKER_WAIT_SECONDS)
        except (TimeoutError, OSError):
            client.close()
            raise SpecError(f"the Dask scheduler at {scheduler!r} has no workers (waited "
                            f"{WORKER_WAIT_SECONDS:g} s): start some, or use --scheduler sync "
                            "or a local cluster") from None
        return client, None
    n = int(workers or os.cpu_count() or 1)
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=processes,
                           dashboard_address=":0", silence_logs=logging.ERROR)
    return Client(cluster), cluster


def _unguarded_script_line() -> int | None:
    """The line of the ``__main__`` script that leads to this call, if that line runs at
    import time (not under ``if __name__ == "__main__":``), else ``None``.

    Dask starts its worker processes by *spawn*: each re-imports the script, and a script that
    calls :func:`sweep` at import time makes every worker start a cluster of its own, which
    fails in ~500 lines of Dask's logs ("bootstrapping phase", "Nanny failed to start")."""
    import ast

    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or not path or not os.path.isfile(path):
        return None  # an interactive session, a notebook, python -c: nothing is re-imported
    frame, line = sys._getframe(1), None
    while frame is not None:  # the outermost frame of the script's own top-level code
        if frame.f_globals is main.__dict__ and frame.f_code.co_name == "<module>":
            line = frame.f_lineno
        frame = frame.f_back
    if line is None:
        return None
    try:
        tree = ast.parse(open(path, encoding="utf-8").read())  # noqa: SIM115
    except (OSError, SyntaxError, ValueError):
        return None
    for node in tree.body:
        if (isinstance(node, ast.If) and "__main__" in ast.unparse(node.test)
                and "__name__" in ast.unparse(node.test)
                and node.lineno <= line <= (node.end_lineno or node.lineno)):
            return None
    return line


def _check_spawn_safe(processes: bool) -> None:
    """Refuse, in one line, a local cluster of worker processes started from a script's
    import-time code (see :func:`_unguarded_script_line`)."""
    import dask

    method = dask.config.get("distributed.worker.multiprocessing-method", "spawn")
    if not processes or method == "fork":
        return
    line = _unguarded_script_line()
    if line is not None:
        script = os.path.basename(sys.modules["__main__"].__file__)
        raise SpecError(
            f"sweep() called at import time of the script {script} (line {line}): its "
            "worker processes re-import the script; put the call under "
            "`if __name__ == \"__main__\":` (or pass scheduler=\"sync\")")


def sweep(spec, store, *, scheduler: str | None = None, workers: int | None = None,
          processes: bool = True, progress: bool = True, backend: str = "auto") -> SweepRun:
    """Run the sweep ``spec`` (a :class:`SweepSpec`, a mapping or a TOML path) into the
    directory ``store``, computing only the chunks not already there.

    ``scheduler``: address of an existing Dask scheduler (default ``$SYMDYN_SCHEDULER``;
    ``"sync"`` runs in this process); otherwise a local cluster of ``workers`` (default: one
    per CPU) worker processes (threads if ``processes`` is false) is started and closed.
    ``progress``: the plan's estimate and a tqdm bar of chunks done, with an ETA, on stderr.
    ``backend``: of every integration; ``"auto"`` compiles each system that can be compiled
    (here, once: workers load the cached machine code), see :mod:`symdyn.sweep._plan`."""
    from tqdm import tqdm

    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                or not 1 <= workers <= 4096):
        raise SpecError(f"workers must be an integer from 1 to 4096 (or None: one per CPU), "
                        f"got {workers!r}")
    if scheduler is not None and (not isinstance(scheduler, str) or not scheduler.strip()):
        raise SpecError(f"scheduler must be an address such as tcp://HOST:PORT or 'sync' "
                        f"(None: a local cluster), got {scheduler!r}")
    store_.require_path(store, "sweep: store")
    scheduler = scheduler or os.environ.get("SYMDYN_SCHEDULER") or None
    if scheduler and scheduler != "sync":
        _check_address(scheduler)  # before any work
    spec = load_spec(spec)
    scheduler = scheduler or os.environ.get("SYMDYN_SCHEDULER") or None
    if scheduler is None:
        _check_spawn_safe(processes)
    identity = spec.identity
    check_limits(spec)  # refuses past the limits, before any work
    store = store_.open_store(store, spec.canonical(), identity)
    plan = make_plan(spec, cell_system, backend)  # derives, checks values, compiles
    if progress:
        announce(f"sweep {identity}: {plan.describe(len(spec.cells))}")
    tasks = [(*t, plan.backends[system_key(t[0])]) for t in plan.tasks]
    done = store_.done_chunks(store)
    # first chunks first, cells in a low-discrepancy order: a partial run (killed, or still
    # going) already covers the whole grid coarsely
    todo = sorted((t for t in tasks if (t[1], t[2]) not in done),
                  key=lambda t: (t[2], (t[1] * 0.6180339887498949) % 1.0))
    start = time.perf_counter()
    bar = tqdm(total=len(tasks), initial=len(tasks) - len(todo), unit="chunk",
               desc=f"sweep {identity}", disable=not progress, file=sys.stderr,
               dynamic_ncols=True)
    rows, cpu = 0, 0.0
    try:
        if scheduler == "sync" or not todo:
            for task in todo:
                n, c = _run_task(task[0], identity, *task[1:4], str(store), task[4])
                rows, cpu = rows + n, cpu + c
                bar.update(1)
        else:
            rows, cpu = _run_dask(todo, identity, store, scheduler, workers, processes, bar)
    finally:
        bar.close()
    return SweepRun(store=Path(store), identity=identity, chunks=len(tasks),
                    already_done=len(tasks) - len(todo), computed=len(todo),
                    seconds=time.perf_counter() - start, rows=rows, cpu_seconds=cpu)


def _run_dask(todo, identity, store, scheduler, workers, processes, bar) -> int:
    from dask.distributed import as_completed

    client, cluster = _client(scheduler, workers, processes)
    rows = 0
    try:
        futures = [client.submit(_run_task, cell, identity, ci, k, n, str(store), backend,
                                 pure=False, key=f"symdyn-sweep-{identity}-{ci}-{k}")
                   for cell, ci, k, n, backend in todo]
        cpu = 0.0
        for fut in as_completed(futures):
            n, c = fut.result()
            rows, cpu = rows + n, cpu + c
            bar.update(1)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return rows, cpu


# -- reading results back ---------------------------------------------------------------------


def load_sweep(store):
    """The results of a store as an :class:`xarray.Dataset` with dimensions ``cell``,
    ``start`` (and ``component`` for ``y0``/``y_end``, NaN-padded to the largest state);
    each swept key is a coordinate along ``cell``; ``done`` (cell, start) marks rows whose
    chunk is present. The spec is in ``attrs["spec"]`` (JSON)."""
    store_.require_path(store, "load_sweep: store")
    import json

    meta = store_.read_spec(store)
    try:
        spec = SweepSpec.from_mapping({**meta["spec"]["fixed"], **meta["spec"]["axes"],
                                       **({"random": meta["spec"]["random"]}
                                          if meta["spec"]["random"] else {})})
    except SpecError as exc:
        raise store_.DataError(f"sweep store {store} is corrupted: spec.json: {exc}") from None
    if spec.identity != meta["identity"]:
        raise store_.DataError(f"sweep store {store} is corrupted: spec.json does not match "
                               "its identity")
    # the table's size from the spec alone, before its cells are listed
    C = int(np.prod([len(v) for v in spec.axes.values()], dtype=object)) * \
        int(spec.random.get("cells", 1) if spec.random else 1)
    S = max(spec.axes.get("starts", [spec.fixed.get("starts", RUN_DEFAULTS["starts"])]))
    _check_table_size(store, C, S)
    done_set = store_.done_chunks(store)  # a damaged directory refused before any derivation
    cells = spec.cells
    sizes = [cell_system(c).size for c in cells]
    N = max(sizes)
    _check_table_size(store, C, S, N)
    out = {k: np.full((C, S), np.nan) for k in ("loss", "t_end", "period", "amplitude")}
    out.update(end=np.full((C, S), "", dtype="U9"), endpoint=np.full((C, S), "", dtype="U8"),
               reason=np.full((C, S), "", dtype="U200"), route=np.full((C, S), "", dtype="U11"),
               certified=np.zeros((C, S), bool),
               done=np.zeros((C, S), bool), y0=np.full((C, S, N), np.nan),
               y_end=np.full((C, S, N), np.nan))
    for ci, cell in enumerate(cells):
        for k, (lo, n) in enumerate(_chunks_of(cell, sizes[ci])):
            if (ci, k) not in done_set:
                continue
            arr = store_.read_chunk(store, ci, k, meta["identity"], rows=n,
                                    n_state=sizes[ci])
            for name in ("loss", "t_end", "period", "amplitude", "end", "endpoint", "reason",
                         "certified", "route"):
                out[name][ci, lo:lo + n] = arr[name]
            out["y0"][ci, lo:lo + n, :sizes[ci]] = arr["y0"]
            out["y_end"][ci, lo:lo + n, :sizes[ci]] = arr["y_end"]
            out["done"][ci, lo:lo + n] = True
    data = {k: (("cell", "start", "component") if v.ndim == 3 else ("cell", "start"), v)
            for k, v in out.items()}
    coords = {name: ("cell", [c[name] for c in cells]) for name in spec.axis_names}
    coords["state_size"] = ("cell", sizes)
    import xarray as xr  # a second of imports: only once the store has been read whole

    return xr.Dataset(data, coords=coords,
                      attrs={"identity": meta["identity"], "spec": json.dumps(meta["spec"])})


#: the largest table :func:`load_sweep` builds in memory, in bytes
TABLE_BYTES = 8 * 2**30


def _check_table_size(store, cells: int, starts: int, n_state: int = 1) -> None:
    """Refuse, before allocating it, a results table larger than :data:`TABLE_BYTES` (a
    row: four floats, three short strings, a 200-character reason, flags and two states)."""
    per_row = 4 * 8 + 4 * (9 + 8 + 200 + 11) + 2 + 2 * 8 * n_state
    need = float(cells) * float(starts) * per_row
    if need > TABLE_BYTES:
        fit = max(int(TABLE_BYTES // (per_row * max(cells, 1))), 0)
        raise store_.DataError(
            f"sweep store {store}: its table of {cells:,} cells x {starts:,} starts would "
            f"need {need / 2**30:,.1f} GiB in memory; at most {TABLE_BYTES / 2**30:g} GiB "
            f"(at most {fit:,} starts per cell at this size)")


def phase_shares(ds) -> dict[str, np.ndarray]:
    """Per cell: rows done, and the share of each end state among them (NaN if none)."""
    from ..numerics._classify import CLASSES

    done = ds["done"].values
    n = done.sum(axis=1)
    out = {"rows": n}
    with np.errstate(invalid="ignore", divide="ignore"):
        for c in CLASSES:
            out[c] = ((ds["end"].values == c) & done).sum(axis=1) / n
        out["certified"] = (ds["certified"].values & done).sum(axis=1)
    out["median_period"] = np.array([np.nanmedian(p) if np.isfinite(p).any() else np.nan
                                     for p in ds["period"].values])
    return out


def sweep_summary(store) -> str:
    """A text table: one line per cell with its swept values, rows done and the share of
    each end state (certified periodic rows counted)."""
    store_.require_path(store, "sweep_summary: store")
    ds = load_sweep(store)
    sh = phase_shares(ds)
    axes = [a for a in ds.coords if a not in ("state_size",) and ds[a].dims == ("cell",)]
    head = [*axes, "rows", "converged", "periodic", "certified", "diverged", "undecided",
            "period~"]
    lines = []
    for i in range(ds.sizes["cell"]):
        row = [f"{ds[a].values[i]:.4g}" if isinstance(ds[a].values[i], float | np.floating)
               else str(ds[a].values[i]) for a in axes]
        row += [f"{sh['rows'][i]}/{int(ds['done'].shape[1])}"]
        row += [f"{sh[c][i]:.3f}" if np.isfinite(sh[c][i]) else "-" for c in
                ("converged", "periodic")]
        row += [str(sh["certified"][i])]
        row += [f"{sh[c][i]:.3f}" if np.isfinite(sh[c][i]) else "-" for c in
                ("diverged", "undecided")]
        mp = sh["median_period"][i]
        row += [f"{mp:.4g}" if np.isfinite(mp) else "-"]
        lines.append(row)
    widths = [max(len(h), *(len(r[j]) for r in lines)) if lines else len(h)
              for j, h in enumerate(head)]
    fmt = "  ".join(f"{{:>{w}}}" for w in widths)
    title = f"sweep {ds.attrs['identity']}: {int(ds['done'].sum())} rows done"
    return "\n".join([title, fmt.format(*head), *(fmt.format(*r) for r in lines),
                      *_totals(ds)])


def _totals(ds) -> list[str]:
    """Rows per end state, per route that decided them (``route``; stores written before it
    count as "not recorded") and the range of periods, over the whole store."""
    from ..numerics._classify import CLASSES, ROUTES

    done = ds["done"].values
    end, route = ds["end"].values[done], ds["route"].values[done]
    ends = ", ".join(f"{c} {int(np.sum(end == c)):,}" for c in CLASSES)
    cert = int(np.sum(ds["certified"].values[done]))
    decided = end != "undecided"
    routes = ", ".join(f"{r} {int(np.sum(decided & (route == r))):,}" for r in ROUTES)
    unknown = int(np.sum(decided & (route == "")))
    periods = ds["period"].values[done]
    periods = periods[np.isfinite(periods)]
    out = [f"total: {ends} (certified {cert:,})",
           f"decided by: {routes}" + (f", not recorded {unknown:,}" if unknown else "")]
    if periods.size:
        q = np.percentile(periods, [0, 50, 90, 100])
        out.append("periods: min {:.4g}, median {:.4g}, 90% {:.4g}, max {:.4g}".format(*q))
    return out
