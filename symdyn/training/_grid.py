"""Experiment grids: every run of a suite a task, in this process or on Dask workers, each
finished run written atomically to ``out/runs/<key>.json`` and skipped when the grid runs
again, so a killed grid resumes where it stopped. A run's rows depend only on its settings and
seed (BLAS on one thread), so 1 and 2 workers give the same table."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..errors import SpecError
from ._data import ClassificationData, load_data
from ._experiments import run_one
from ._headers import train_count
from ._suite import Run, Suite
from ._table import ResultsTable
from ._work import check_fits, check_suite_work

__all__ = ["run_suite", "plan_suite", "Plan"]

_LOADED: dict[str, ClassificationData] = {}  # data sets already loaded by this process


def _data(name: str, data: ClassificationData | None) -> ClassificationData:
    if data is not None:
        return data
    if name not in _LOADED:
        _LOADED[name] = load_data(name)
    return _LOADED[name]


def _train_counts(runs, data: ClassificationData | None) -> dict[str, int]:
    """data name -> training samples of every run's data: ``data``'s when given, else from
    the files' headers (:func:`~symdyn.training._headers.train_count`), else loaded (CIFAR-10,
    downloads: the load this process would do anyway, cached)."""
    if data is not None:
        return {run.data: len(data.X_train) for run in runs}
    counts = {}
    for name in {run.data for run in runs}:
        n = train_count(name)
        counts[name] = n if n is not None else len(_data(name, None).X_train)
    return counts


def _write_atomic(path: Path, payload) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(payload))
    os.replace(tmp, path)


def _clean(r: dict) -> dict:
    return {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in r.items()}


def _load_finished(path: Path, run: Run) -> list[dict] | None:
    try:
        payload = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(payload, dict) or payload.get("run") != asdict(run) \
            or payload.get("status") not in ("finished", "diverged") \
            or not isinstance(payload.get("rows"), list):
        return None
    return ResultsTable.load_rows(payload["rows"])


def _save(store: Path | None, run: Run, rows: list[dict]) -> None:
    if store is not None:
        _write_atomic(store / f"{run.key}.json", {"run": asdict(run),
                                                  "status": rows[-1]["status"],
                                                  "rows": [_clean(r) for r in rows]})


def _task(run: Run, data: ClassificationData | None, store: str | None) -> list[dict]:
    """One run, trained and written (a Dask task; also run in-process)."""
    rows, _ = run_one(run, _data(run.data, data))
    _save(Path(store) if store else None, run, rows)
    return rows


@dataclass(frozen=True)
class Plan:
    """What a grid will do: ``done`` runs found finished in the store (key -> rows), the
    runs ``to_train`` (one per :attr:`Run.identity`), and ``copies``: runs that train the
    same network as another run and take its rows under their own labels."""

    runs: tuple[Run, ...]
    done: dict
    to_train: tuple[Run, ...]
    copies: tuple[Run, ...]

    def describe(self, out) -> str:
        return (f"{len(self.runs)} runs: {len(self.done)} finished earlier (read from "
                f"{Path(out) / 'runs'}), {len(self.to_train)} to train, {len(self.copies)} "
                "the same network as another run under a second label")


def plan_suite(runs: list[Run] | Suite, out: str | Path | None = None) -> Plan:
    """The runs of a grid split into finished (in ``out/runs``), to train and copies."""
    if not isinstance(runs, Suite | list | tuple) or (not isinstance(runs, Suite) and not all(
            isinstance(r, Run) for r in runs)):
        raise SpecError(f"runs must be a Suite or a list of Run, got {type(runs).__name__}")
    runs = tuple(runs.runs() if isinstance(runs, Suite) else runs)
    store = Path(out) / "runs" if out is not None else None
    done, train, copies = {}, [], []
    for run in runs:
        path = store / f"{run.key}.json" if store is not None else None
        rows = _load_finished(path, run) if path is not None and path.exists() else None
        if rows is not None:
            done[run.key] = rows
    seen = {run.identity for run in runs if run.key in done}
    for run in runs:
        if run.key in done:
            continue
        if run.identity in seen:
            copies.append(run)
        else:
            seen.add(run.identity)
            train.append(run)
    return Plan(runs, done, tuple(train), tuple(copies))


def _client(scheduler: str | None, workers: int | None):
    import logging

    from dask.distributed import Client, LocalCluster

    if scheduler and scheduler != "local":
        try:
            return Client(scheduler, timeout="20s"), None
        except OSError as exc:
            raise SpecError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
    n = int(workers or os.cpu_count() or 1)
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                           dashboard_address=":0", silence_logs=logging.ERROR)
    return Client(cluster), cluster


def _train_all(todo, data, store, scheduler, workers, progress) -> dict:
    """key -> rows of every run in ``todo``."""
    out = {}
    if scheduler in (None, "sync"):
        for run in todo:
            tick = None if progress is None else (lambda e, r=run: progress(r, e))
            rows, _ = run_one(run, _data(run.data, data), progress=tick)
            _save(store, run, rows)
            out[run.key] = rows
        return out
    from dask.distributed import as_completed

    client, cluster = _client(scheduler, workers)
    try:
        shared = client.scatter(data, broadcast=True) if data is not None else None
        futures = {client.submit(_task, run, shared, str(store) if store else None,
                                 pure=False, key=f"symdyn-run-{run.key}"): run for run in todo}
        for fut in as_completed(futures):
            run = futures[fut]
            out[run.key] = fut.result()
            if progress is not None:
                progress(run, -2)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return out


def run_suite(runs: list[Run] | Suite, *, data: ClassificationData | None = None,
              out: str | Path | None = None,
              progress: Callable[[Run, int], None] | None = None,
              scheduler: str | None = None, workers: int | None = None,
              max_work: float | None = None) -> ResultsTable:
    """Run a grid (data loaded once per process and data name unless ``data`` is given).
    With ``out``, each finished run is written to ``out/runs/<key>.json`` (atomically: a
    temporary file, then ``os.replace``) and read back instead of trained when the grid runs
    again. A run that trains exactly what another trains (:attr:`Run.identity`) is trained
    once and its rows copied under its own labels.

    ``scheduler``: ``None``/``"sync"`` trains in this process; ``"local"`` starts a local
    Dask cluster of ``workers`` processes (default one per CPU); otherwise the address of an
    existing Dask scheduler. ``progress(run, epoch)``: after every epoch in-process, with
    ``epoch = -1`` for a run read back or copied and ``-2`` for a run a worker finished.

    Before anything is trained, the grid's work is checked against ``max_work`` (default
    :data:`~symdyn.training._work.MAX_SUITE_WORK` weight-sample updates): a larger grid is
    a :class:`~symdyn.SpecError` naming the largest that fits."""
    plan = plan_suite(runs, out)
    check_suite_work(plan.runs, _train_counts(plan.runs, data), max_work)
    if data is not None:
        check_fits(plan.to_train, data.n_inputs, data.n_classes, data.name)
    store = None
    if out is not None:
        store = Path(out) / "runs"
        store.mkdir(parents=True, exist_ok=True)
    for run in plan.runs:
        if run.key in plan.done and progress is not None:
            progress(run, -1)
    trained = _train_all(plan.to_train, data, store, scheduler, workers, progress)
    by_identity = {r.identity: trained[r.key] for r in plan.to_train}
    by_identity.update({r.identity: plan.done[r.key] for r in plan.runs if r.key in plan.done})
    parts = []
    for run in plan.runs:
        rows = plan.done.get(run.key) or trained.get(run.key)
        if rows is None:  # a copy: the same network under other labels
            labels = {"run": run.key, "rule": run.rule, "variant": run.variant}
            rows = [{**r, **labels} for r in by_identity[run.identity]]
            _save(store, run, rows)
            if progress is not None:
                progress(run, -1)
        parts.append(rows)
    return ResultsTable.concat(parts)
