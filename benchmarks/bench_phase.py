"""Phase diagrams in minutes (issue 22), every figure in one run, as CPU time (the machine is
shared) and ratios measured in this run:

1. Sweep rows: CPU-s per row of ``compute_chunk`` (integration to ``t_final``, the tail's two
   sampled passes, section returns, certification) on the ARBP depth-3 spec (alpha = beta =
   1, scale 0.5, t_final 2000, tail 1000, certify 2), numpy vs compiled on the same rows,
   then the compiled median over ``--chunks`` chunks of 1,000 rows (target <= 2 ms).
2. 10-10-10 RBP, 1,000 starts, t = 50: numpy path vs the compiled matrix loops (the lane
   loop, and the per-row loop it replaced) vs one stacked ``solve_ivp`` DOP853 call (target:
   compiled >= 3x numpy).
3. ``simulate`` 1-1-1 RBP, 100,000 steps vs a hand-written numba loop (bench_compiled job 3).
4. An epoch of ``run_one`` on digits: the training steps vs the two measuring passes.
5. A sweep on 1 and 2 local workers (compiled): rows per wall-second, efficiency, CPU-s per
   row on each.
6. The level-curve route (issue 21): the rows a phase-diagram cell's trajectories leave
   undecided (depth 5, scale 0.05, rate ratio 1), classified by the vectorised
   ``follow_level_curves`` (all rows at once) and by ``follow_level_curve`` row by row on a
   sample: CPU-ms per row each, and the same verdicts row by row.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import resource  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from _common import machine, median  # noqa: E402
from scipy.integrate import solve_ivp  # noqa: E402

import symdyn as sd  # noqa: E402
from symdyn.sweep._run import compute_chunk  # noqa: E402
from symdyn.sweep._spec import SweepSpec  # noqa: E402

try:
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
except ImportError:  # pragma: no cover - the environment variables above pin it too
    pass

SPEC = {"rule": "arbp", "depth": 3, "scale": 0.5, "alpha": 1, "beta": 1, "t_final": 2000,
        "tail": 1000, "certify": 2}


def cpu(fn):
    """(CPU seconds of this process, value)."""
    t0 = time.process_time()
    out = fn()
    return time.process_time() - t0, out


def job_sweep_rows(numpy_rows: int, chunks: int) -> None:
    spec = SweepSpec.from_mapping({**SPEC, "starts": 1000 * chunks})
    cell = spec.cells[0]
    compute_chunk(cell, spec.identity, 0, 99, 4, "numba")  # load the program, the laws
    compute_chunk(cell, spec.identity, 0, 98, 4, "numpy")
    t_np, a = cpu(lambda: compute_chunk(cell, spec.identity, 0, 0, numpy_rows, "numpy"))
    t_nb, b = cpu(lambda: compute_chunk(cell, spec.identity, 0, 0, numpy_rows, "numba"))
    same = bool(np.array_equal(a["end"], b["end"]))
    ends = dict(zip(*np.unique(a["end"], return_counts=True)))
    print(f"1. sweep rows, ARBP depth 3 (t_final 2000, tail 1000, certify 2), the same "
          f"{numpy_rows} rows: numpy {t_np / numpy_rows * 1e3:.1f} ms/row, compiled "
          f"{t_nb / numpy_rows * 1e3:.2f} ms/row: {t_np / t_nb:.0f}x; same classes row by "
          f"row: {same} {ends}")
    per = []
    for k in range(chunks):
        t, out = cpu(lambda k=k: compute_chunk(cell, spec.identity, 0, k, 1000, "numba"))
        per.append(t / 1000)
        ends = dict(zip(*np.unique(out["end"], return_counts=True)))
        print(f"   compiled chunk {k}: 1,000 rows, {t:.2f} CPU-s = {per[-1] * 1e3:.2f} ms/row "
              f"{ends}, {int(out['certified'].sum())} certified")
    print(f"   compiled median {median(per) * 1e3:.2f} ms/row (target <= 2 ms)")


def job_wide(rows: int, T: float = 50.0, rounds: int = 3) -> None:
    """10-10-10 RBP: numpy path vs the compiled matrix loops vs one stacked ``solve_ivp``,
    CPU time, rounds interleaved (medians); every row to t_final."""
    n = 10
    system = sd.derive("10-10-10", "rbp")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, n))
    S_II, S_TI = 0.2 * X @ X.T / n + np.eye(n), rng.normal(size=(n, n)) / 3.2
    C1 = rng.normal(size=(n, n)) / 3.2
    vals = {"Sigma_II": S_II, "Sigma_TI": S_TI, "C1": C1}
    Y0 = rng.normal(scale=0.3, size=(rows, system.size))
    sd.integrate_batch(system, Y0[:5], 1.0, vals, backend="numpy")
    t_load, _ = cpu(lambda: sd.integrate_batch(system, Y0[:2], 1.0, vals, backend="numba"))

    def f(t, y):
        A = y.reshape(rows, 2, n, n)
        A1, A2 = A[:, 0], A[:, 1]
        D = S_TI - A2 @ A1 @ S_II
        return np.concatenate([C1 @ D, D @ np.swapaxes(A1, 1, 2)], axis=1).ravel()

    runs = {"numpy": lambda: sd.integrate_batch(system, Y0, T, vals, backend="numpy",
                                                stop_on_convergence=False),
            "compiled": lambda: sd.integrate_batch(system, Y0, T, vals, backend="numba",
                                                   stop_on_convergence=False),
            "per row": lambda: _per_row(lambda: sd.integrate_batch(
                system, Y0, T, vals, backend="numba", stop_on_convergence=False)),
            "solve_ivp": lambda: solve_ivp(f, (0, T), Y0.ravel(), method="DOP853", rtol=1e-8,
                                           atol=1e-10)}
    times: dict = {k: [] for k in runs}
    out: dict = {}
    for _ in range(rounds):
        for k, fn in runs.items():
            t, out[k] = cpu(fn)
            times[k].append(t)
    med = {k: median(v) for k, v in times.items()}
    a, b = out["numpy"], out["compiled"]
    units = np.abs(a.y - b.y) / (1e-10 + 1e-8 * np.maximum(np.abs(a.y), np.abs(b.y)))
    gap = np.max(np.abs(out["solve_ivp"].y[:, -1].reshape(rows, -1) - a.y))
    print(f"2. 10-10-10 RBP, {rows} starts, t = {T:g}, every row to t_final, medians of "
          f"{rounds} interleaved rounds (CPU-s): numpy {med['numpy']:.2f}, compiled "
          f"{med['compiled']:.2f} (lanes; the per-row loop {med['per row']:.2f}, the same "
          f"bits: {bool(np.array_equal(out['per row'].y, out['compiled'].y))}), stacked "
          f"solve_ivp {med['solve_ivp']:.2f}")
    print(f"   numpy / compiled = {med['numpy'] / med['compiled']:.2f}x (target >= 3); "
          f"solve_ivp / numpy = {med['solve_ivp'] / med['numpy']:.2f}; evaluations "
          f"{int(a.nfev.sum()):,} vs {int(b.nfev.sum()):,}: numpy "
          f"{med['numpy'] / a.nfev.sum() * 1e6:.2f} us, compiled "
          f"{med['compiled'] / b.nfev.sum() * 1e6:.2f} us per row-evaluation")
    print(f"   compiled vs numpy, final states: max {units.max():.1f}, median "
          f"{np.median(units):.1e} tolerance units; same status: "
          f"{bool(np.array_equal(a.status, b.status))}; stacked solve_ivp vs numpy max |diff| "
          f"{gap:.1e}; loading the compiled loop in this process {t_load:.2f} CPU-s")


def _per_row(fn):
    """``fn()`` with the compiled per-row loop instead of the lane loop."""
    from symdyn.numerics import _compiled

    _compiled.LANE_LOOP = False
    try:
        return fn()
    finally:
        _compiled.LANE_LOOP = True


def job_simulate(rounds: int) -> None:
    import bench_compiled

    bench_compiled.job_sgd_scalar(rounds)


def job_epoch() -> None:
    from symdyn.training import Run, load_digits, measure

    data = load_digits()
    run = Run(rule="arbp", seed=0, epochs=1)
    net = run.build()
    X, T = np.ascontiguousarray(data.X_train.T), np.ascontiguousarray(data.Y_train.T)
    Xt, Tt = np.ascontiguousarray(data.X_test.T), np.ascontiguousarray(data.Y_test.T)
    order = np.random.default_rng(0).permutation(X.shape[1])

    def epoch():
        for s in range(0, X.shape[1], run.batch_size):
            idx = order[s:s + run.batch_size]
            net.step(X[:, idx], T[:, idx], run.lr)

    t_steps = median([cpu(epoch)[0] for _ in range(3)])
    t_meas = median([cpu(lambda: measure(net, X, T, Xt, Tt))[0] for _ in range(3)])
    print(f"4. digits {run.arch} ARBP, one epoch ({X.shape[1]} samples, batch "
          f"{run.batch_size}): training steps {t_steps * 1e3:.0f} CPU-ms, measuring "
          f"{t_meas * 1e3:.0f} CPU-ms = {t_meas / t_steps:.0%} of the steps")


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def job_workers(chunks: int, rows: int) -> None:
    import logging

    from dask.distributed import LocalCluster

    spec = {**SPEC, "starts": chunks * rows, "chunk": rows, "seed": 5}
    tmp = Path(tempfile.mkdtemp(prefix="bench-phase-"))
    rates, cpus = {}, {}
    for n in (1, 2):
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                               dashboard_address=":0", silence_logs=logging.ERROR)
        try:
            sd.sweep({**spec, "starts": 2 * n, "chunk": 1, "seed": 99}, tmp / f"warm{n}",
                     scheduler=cluster.scheduler_address, progress=False)
            run = sd.sweep(spec, tmp / f"w{n}", scheduler=cluster.scheduler_address,
                           progress=False)
        finally:
            cluster.close()
        rates[n], cpus[n] = run.rows / run.seconds, run.cpu_seconds / run.rows
        print(f"5. {n} worker(s): {run.rows} rows in {run.seconds:.1f} s wall = "
              f"{rates[n]:.0f} rows/s; {cpus[n] * 1e3:.2f} CPU-ms per row in the tasks")
    a, b = sd.load_sweep(tmp / "w1"), sd.load_sweep(tmp / "w2")
    same = all(np.array_equal(a[k].values, b[k].values, equal_nan=a[k].dtype.kind == "f")
               for k in a.data_vars)
    print(f"   efficiency 1 -> 2 workers {rates[2] / (2 * rates[1]):.2f} (wall; the machine "
          f"is shared), CPU per row 2 vs 1: {cpus[2] / cpus[1]:.2f}; stores equal: {same}")


def job_level_curves(rows: int, sample: int) -> None:
    from symdyn.numerics import follow_level_curve
    from symdyn.numerics._level_batch import follow_level_curves
    from symdyn.sweep._run import _laws, cell_system

    cell = {"rule": "arbp", "depth": 5, "rate_ratio": 1.0}
    s, laws, vals = cell_system(cell), _laws(cell), {"alpha": 1.0, "beta": 1.0}
    Y0 = 0.05 * np.random.default_rng(22).normal(size=(rows, s.size))
    t_b, batch = cpu(lambda: follow_level_curves(s, Y0, vals, laws=laws, rtol=1e-8,
                                                 atol=1e-10))
    t_r, ref = cpu(lambda: [follow_level_curve(s, y, vals, laws=laws, rtol=1e-8, atol=1e-10,
                                               speed_tol=1e-20) for y in Y0[:sample]])
    same = sum(b.outcome == r.outcome and (
        abs(b.period - r.period) <= 1e-4 * r.period if r.outcome == "periodic" else
        float(np.max(np.abs(b.point - r.point))) <= 1e-5) for b, r in zip(batch, ref))
    kinds = {k: sum(b.outcome == k for b in batch) for k in ("periodic", "converges")}
    print(f"6. level-curve route, ARBP depth 5, scale 0.05, {rows} rows at once: "
          f"{t_b / rows * 1e3:.1f} ms/row {kinds}; row by row ({sample} rows, speed_tol "
          f"1e-20): {t_r / sample * 1e3:.0f} ms/row: {t_r / sample / (t_b / rows):.0f}x; "
          f"same verdict: {same}/{sample}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--numpy-rows", type=int, default=40)
    ap.add_argument("--chunks", type=int, default=5)
    ap.add_argument("--wide-rows", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--level-rows", type=int, default=1000)
    ap.add_argument("--only", default="123456")
    args = ap.parse_args()
    print(machine())
    print(f"load average at start: {os.getloadavg()}")
    if "1" in args.only:
        job_sweep_rows(args.numpy_rows, args.chunks)
    if "2" in args.only:
        job_wide(args.wide_rows, rounds=args.rounds)
    if "3" in args.only:
        job_simulate(args.rounds)
    if "4" in args.only:
        job_epoch()
    if "5" in args.only:
        job_workers(8, 1000)
    if "6" in args.only:
        job_level_curves(args.level_rows, 20)
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
