"""Sweeps on Dask: rows per second on 1 vs 2 workers (scaling efficiency), and the
overhead of the Dask path over computing one chunk directly.

The workload: ARBP chains of depth 3 from initial scale 0.5 (most rows converge, some run on
periodic orbits and are followed and classified), alpha = beta = 1, t_final = 2000,
tail = 1000, certify = 1; ``--chunks`` chunks of ``--rows`` rows.

1. Scaling: the same sweep into fresh stores on a local cluster of 1 and of 2 worker
   processes already running (cluster start-up is timed apart); rows/s each and the
   efficiency (rate on 2) / (2 x rate on 1). The stores are compared: they must be equal.
2. Overhead: one chunk computed by ``compute_chunk`` in this process (integrate_batch +
   classify, what a task does) vs the same chunk as a one-task sweep on the running
   1-worker cluster (task shipping, worker-side derivation cache warm, store write).

The ARBP phase diagram is timed with the CLI (see README, "Sweeps")."""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import machine

import symdyn as sd
from symdyn.sweep._run import compute_chunk
from symdyn.sweep._spec import SweepSpec

SPEC = {"rule": "arbp", "depth": 3, "scale": 0.5, "alpha": 1, "beta": 1, "t_final": 2000,
        "tail": 1000, "certify": 1}


def _cluster(n: int):
    from dask.distributed import LocalCluster

    t0 = time.perf_counter()
    c = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                     dashboard_address=":0", silence_logs=logging.ERROR)
    return c, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chunks", type=int, default=8)
    ap.add_argument("--rows", type=int, default=50)
    args = ap.parse_args()
    spec = {**SPEC, "starts": args.chunks * args.rows, "chunk": args.rows}
    print(machine())
    print(f"workload: {spec}")
    tmp = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    rates, stores = {}, {}
    for n in (1, 2):
        cluster, start = _cluster(n)
        try:
            # warm the workers (derivation and code generation cached per worker)
            sd.sweep({**spec, "starts": n, "chunk": 1, "seed": 99}, tmp / f"warm{n}",
                     scheduler=cluster.scheduler_address, progress=False)
            run = sd.sweep(spec, tmp / f"w{n}", scheduler=cluster.scheduler_address,
                           progress=False)
            rates[n] = run.rows / run.seconds
            stores[n] = tmp / f"w{n}"
            print(f"{n} worker(s): cluster start {start:.1f} s; {run.rows} rows in "
                  f"{run.seconds:.1f} s = {rates[n]:.1f} rows/s")
            if n == 1:
                one = {**spec, "starts": args.rows, "seed": 7}
                t0 = time.perf_counter()
                run1 = sd.sweep(one, tmp / "one", scheduler=cluster.scheduler_address,
                                progress=False)
                dask_s = time.perf_counter() - t0
        finally:
            cluster.close()
    one_spec = SweepSpec.from_mapping({**spec, "starts": args.rows, "seed": 7})
    cell = one_spec.cells[0]
    compute_chunk(cell, one_spec.identity, 0, 0, args.rows)  # warm this process
    t0 = time.perf_counter()
    compute_chunk(cell, one_spec.identity, 0, 0, args.rows)
    direct_s = time.perf_counter() - t0
    a, b = sd.load_sweep(stores[1]), sd.load_sweep(stores[2])
    same = all(np.array_equal(a[k].values, b[k].values, equal_nan=a[k].dtype.kind == "f")
               for k in a.data_vars)
    print(f"scaling efficiency 2 vs 1 worker: {rates[2] / (2 * rates[1]):.2f} "
          f"(speed-up {rates[2] / rates[1]:.2f}x); stores equal: {same}")
    print(f"one chunk of {args.rows} rows: direct {direct_s:.2f} s, as a Dask task on a "
          f"running cluster {dask_s:.2f} s (computed {run1.computed}); overhead "
          f"{dask_s - direct_s:+.2f} s ({dask_s / direct_s:.2f}x)")


if __name__ == "__main__":
    main()
