"""The compiled path beside its peers, in one run (issue 14).

One BLAS thread is pinned for every figure (environment variables set before numpy is
imported, and threadpoolctl when installed): OpenBLAS with two threads on a loaded 2-core
machine makes long dot products orders of magnitude slower, which distorts BLAS-bound
figures. Each time is the median of ``--rounds`` rounds; ratios are of medians in this run.

1. 10,000 starts of 1-1-1 RBP (own c1 per start, alpha = 1, beta = 2), DOP853, rtol 1e-8,
   atol 1e-10, to t = 60: ``integrate_batch`` (numba and numpy backends) vs numbalsoda's
   dop853 called from a numba loop over the starts (if installed) vs one ``solve_ivp``
   DOP853 call on the stacked 20,000-dim system; final states compared in tolerance units.
2. 1,000 starts of 10-10-10 RBP, numpy path, this checkout vs ``--main PATH`` (a checkout of
   the main branch, e.g. ``git worktree add /tmp/main-bench main``), rounds interleaved,
   each in a fresh subprocess.
3. ``simulate`` 1-1-1 RBP, 100,000 steps of batch 1, vs a hand-written numba loop (the same
   update, indices drawn by the same generator in one call) and a hand-written numpy loop;
   symdyn vs the hand numba loop also in CPU time of this process (target: within 1.5x).
4. ``simulate`` 64-100-10 tanh BP, batch 32, vs a hand-written numpy loop of the same update.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from _common import machine, median  # noqa: E402
from scipy.integrate import solve_ivp  # noqa: E402

import symdyn as sd  # noqa: E402

try:
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    PINNED = "1 BLAS thread (env vars + threadpoolctl)"
except ImportError:  # pragma: no cover
    PINNED = "1 BLAS thread (env vars)"

import numba  # noqa: E402

RTOL, ATOL = 1e-8, 1e-10


def interleaved(fns, rounds, keep=None, clock=time.perf_counter):
    """Median seconds of each function, the functions alternating within every round (so
    that load from other processes falls on all of them alike), and their last results;
    ``keep`` (a dict) receives every round's times; ``clock``: wall time by default,
    ``time.process_time`` for CPU time."""
    times: list[list[float]] = [[] for _ in fns]
    outs = [None] * len(fns)
    for _ in range(rounds):
        for k, fn in enumerate(fns):
            t0 = clock()
            outs[k] = fn()
            times[k].append(clock() - t0)
    if keep is not None:
        keep["times"] = times
    return [(median(t), o) for t, o in zip(times, outs)]


def timed(fn, rounds):
    times, out = [], None
    for _ in range(rounds):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return median(times), out


def units(a, b):
    return np.max(np.abs(a - b) / (ATOL + RTOL * np.maximum(np.abs(a), np.abs(b))), axis=-1)


# -- 1. 10,000 starts of 1-1-1 RBP ---------------------------------------------------------


def numbalsoda_runner():
    try:
        import numbalsoda
    except ImportError:
        return None
    from numba import cfunc

    @cfunc(numbalsoda.lsoda_sig)
    def rhs(t, u, du, p):
        r = 1.0 - 2.0 * u[0] * u[1]
        du[0] = p[0] * r
        du[1] = u[0] * r

    ptr = rhs.address

    @numba.njit
    def run(Y0, c1, T):
        out = np.empty_like(Y0)
        t_eval = np.array([0.0, T])
        p = np.empty(1)
        ok = 0
        for i in range(Y0.shape[0]):
            p[0] = c1[i]
            usol, success = numbalsoda.dop853(ptr, Y0[i].copy(), t_eval, p, RTOL, ATOL,
                                              10**7)
            out[i] = usol[-1]
            ok += success
        return out, ok

    return run


def job_batch(rounds):
    n, T = 10_000, 60.0
    rng = np.random.default_rng(0)
    Y0 = rng.normal(size=(n, 2))
    c1 = rng.normal(size=n)
    c1 = np.where(np.abs(c1) < 1e-2, np.copysign(1e-2, c1), c1)
    system = sd.derive("1-1-1", "rbp")
    values = {"alpha": 1.0, "beta": 2.0, "c1": c1}
    t0 = time.perf_counter()
    sd.integrate_batch(system, Y0[:10], T, {**values, "c1": c1[:10]}, backend="numba")
    print(f"  (numba program of 1-1-1 RBP loaded/compiled in {time.perf_counter() - t0:.1f} s;"
          " cached on disk after the first run on a machine)")

    def ours(backend, stop):
        return lambda: sd.integrate_batch(system, Y0, T, values, rtol=RTOL, atol=ATOL,
                                          backend=backend, stop_on_convergence=stop)

    res = {}
    for name, fn in (("symdyn numba, to t_final", ours("numba", False)),
                     ("symdyn numba, stop at convergence", ours("numba", True)),
                     ("symdyn numpy, to t_final", ours("numpy", False)),
                     ("symdyn numpy, stop at convergence", ours("numpy", True))):
        res[name] = timed(fn, rounds)

    def stacked():
        def f(t, y):
            a1, a2 = y[:n], y[n:]
            r = 1.0 - 2.0 * a1 * a2
            return np.concatenate([c1 * r, a1 * r])
        sol = solve_ivp(f, (0, T), Y0.T.ravel(), method="DOP853", rtol=RTOL, atol=ATOL)
        return sol.y[:, -1].reshape(2, n).T

    res["one solve_ivp DOP853 call, stacked 20,000-dim"] = timed(stacked, rounds)
    run = numbalsoda_runner()
    if run is not None:
        run(Y0[:2], c1[:2], T)  # compile
        res["numbalsoda dop853 in a numba loop"] = timed(lambda: run(Y0, c1, T)[0], rounds)
    else:
        print("  numbalsoda is not installed: skipped")
    base = res["symdyn numba, to t_final"][0]
    ref = res["symdyn numba, to t_final"][1].y
    print(f"1. 1-1-1 RBP, {n} starts, DOP853, rtol {RTOL:g}, atol {ATOL:g}, t = {T:g}")
    for name, (t, out) in res.items():
        y = out.y if hasattr(out, "y") else out
        agree = ""
        if "stop at" not in name:
            u = units(y, ref)
            agree = f"; vs symdyn numba: max {u.max():.2f}, median {median(u):.3f} tol units"
        counts = f" {out.counts}" if hasattr(out, "counts") else ""
        print(f"  {name}: {t:.3f} s (peer / symdyn-numba-to-t_final = {t / base:.2f}){counts}"
              f"{agree}")


# -- 2. 10-10-10 RBP, numpy path, before/after ----------------------------------------------

_CHILD = """
import os, sys, time, json
for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[v] = "1"
import numpy as np
import symdyn as sd
n = 10
s = sd.derive("10-10-10", "rbp")
rng = np.random.default_rng(0)
X = rng.normal(size=(n, n))
vals = {"Sigma_II": 0.2 * X @ X.T / n + np.eye(n), "Sigma_TI": rng.normal(size=(n, n)) / 3.2,
        "C1": rng.normal(size=(n, n)) / 3.2}
Y0 = rng.normal(scale=0.3, size=(1000, s.size))
kw = {"backend": "numpy"} if "backend" in sd.integrate_batch.__code__.co_varnames else {}
sd.integrate_batch(s, Y0[:5], 1.0, vals, **kw)
t0 = time.perf_counter()
r = sd.integrate_batch(s, Y0, 20.0, vals, **kw)
dt = time.perf_counter() - t0
print(json.dumps({"t": dt, "y": float(np.abs(r.y).sum()), "counts": r.counts}))
"""


def job_wide(rounds, main_path):
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if not main_path:
        print("2. skipped (pass --main PATH, a checkout of main)")
        return
    rev = subprocess.run(["git", "-C", main_path, "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True).stdout.strip()
    times = {"main": [], "this": []}
    outs = {}
    for _ in range(rounds):
        for name, path in (("main", main_path), ("this", here)):
            env = {**os.environ, "PYTHONPATH": path}
            p = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True,
                               env=env, cwd="/")
            d = json.loads(p.stdout.strip().splitlines()[-1])
            times[name].append(d["t"])
            outs[name] = d
    a, b = median(times["main"]), median(times["this"])
    print(f"2. 10-10-10 RBP, 1,000 starts, t = 20, numpy path: main ({rev}) {a:.2f} s, this "
          f"branch {b:.2f} s, after / before = {b / a:.2f} ({(1 - b / a) * 100:.0f}% faster);"
          f" rounds main {[round(x, 2) for x in times['main']]}, this "
          f"{[round(x, 2) for x in times['this']]}; results identical: "
          f"{outs['main']['y'] == outs['this']['y']} {outs['this']['counts']}")


# -- 3. and 4. SGD --------------------------------------------------------------------------


@numba.njit
def _sgd_111(y, X, Y, idx, lr, c1):
    a1, a2 = y[0], y[1]
    for k in range(idx.shape[0]):
        i = idx[k]
        e = Y[i] - a2 * a1 * X[i]
        a1, a2 = a1 + lr * c1 * e * X[i], a2 + lr * e * a1 * X[i]
    return np.array([a1, a2])


def job_sgd_scalar(rounds):
    steps, N, lr, c1 = 100_000, 1000, 0.01, 1.0
    rng = np.random.default_rng(1)
    X = rng.normal(size=(N, 1))
    Y = 0.7 * X + 0.1 * rng.normal(size=(N, 1))
    system = sd.derive("1-1-1", "rbp")
    kw = dict(lr=lr, steps=steps, y0=[0.1, 0.2], values={"c1": c1}, seed=0)
    sd.simulate(system, X, Y, **kw)  # compile / load

    def hand_numba():
        idx = np.random.default_rng(0).integers(0, N, size=(steps, 1))[:, 0]
        return _sgd_111(np.array([0.1, 0.2]), X[:, 0], Y[:, 0], idx, lr, c1)

    def hand_numpy():
        idx = np.random.default_rng(0).integers(0, N, size=(steps, 1))[:, 0]
        y = np.array([0.1, 0.2])
        for i in idx:
            e = Y[i] - y[1] * y[0] * X[i]
            y = y + lr * np.array([c1 * e[0] * X[i, 0], e[0] * y[0] * X[i, 0]])
        return y

    def python_component():
        saved = sys.modules.get("numba")
        sys.modules["numba"] = None  # as on a machine without numba
        try:
            return sd.simulate(system, X, Y, **kw)
        finally:
            sys.modules["numba"] = saved

    hand_numba()
    fast = 10 * rounds  # millisecond runs: more rounds, interleaved, against load spikes
    keep: dict = {}
    cpu_res = interleaved([lambda: sd.simulate(system, X, Y, **kw), hand_numba], fast, keep,
                          clock=time.process_time)
    mins = [min(t) for t in keep["times"]]
    print(f"  CPU time of this process, {fast} interleaved rounds: symdyn median "
          f"{cpu_res[0][0] * 1e3:.2f} ms, hand numba {cpu_res[1][0] * 1e3:.2f} ms: ratio "
          f"{cpu_res[0][0] / cpu_res[1][0]:.2f} (target <= 1.5); fastest {mins[0] * 1e3:.2f} vs "
          f"{mins[1] * 1e3:.2f} ms: ratio {mins[0] / mins[1]:.2f}")
    res = dict(zip(["symdyn simulate (auto: numba component code)", "hand-written numba loop"],
                   interleaved([lambda: sd.simulate(system, X, Y, **kw), hand_numba], fast)))
    print("  wall time (a run of a few ms is often descheduled on a loaded machine):")
    res["symdyn simulate, plain-Python component code (numba absent)"] = timed(
        python_component, rounds)
    res["symdyn simulate, backend='numpy' (matrix code)"] = timed(
        lambda: sd.simulate(system, X, Y, backend="numpy", **kw), max(1, rounds // 2))
    res["hand-written numpy loop"] = timed(hand_numpy, max(1, rounds // 2))
    base = res["hand-written numba loop"]
    print(f"3. simulate 1-1-1 RBP, {steps:,} steps, batch 1")
    for name, (t, out) in res.items():
        y = out.y_final if hasattr(out, "y_final") else out
        print(f"  {name}: {t * 1e3:.1f} ms (/ hand numba = {t / base[0]:.2f}); |y - hand numba|"
              f" = {np.abs(y - base[1]).max():.1e}")


def job_sgd_wide(rounds):
    sizes, N, b, steps, lr = (64, 100, 10), 2000, 32, 2000, 0.01
    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(N, sizes[0])), rng.normal(size=(N, sizes[2]))
    system = sd.derive("-".join(map(str, sizes)), "bp", activation="tanh",
                       data=sd.Dataset(X=X, Y=Y))
    A1 = rng.normal(scale=1 / 8, size=(sizes[1], sizes[0]))
    A2 = rng.normal(scale=1 / 10, size=(sizes[2], sizes[1]))
    y0 = np.concatenate([A1.ravel(), A2.ravel()])
    kw = dict(lr=lr, steps=steps, y0=y0, batch_size=b, seed=0, record_every=steps)
    sd.simulate(system, X, Y, **kw)

    def hand():
        W1, W2 = A1.copy(), A2.copy()
        XT, YT = X.T.copy(), Y.T.copy()
        draws = np.random.default_rng(0).integers(0, N, size=(4096, b))
        for k in range(steps):
            i = draws[k]
            Ii, Ti = XT[:, i], YT[:, i]
            h = np.tanh(W1 @ Ii)
            e = Ti - W2 @ h
            d1 = ((W2.T @ e) * (1 - h * h)) @ Ii.T
            d2 = e @ h.T
            W1 += (lr / b) * d1
            W2 += (lr / b) * d2
        return np.concatenate([W1.ravel(), W2.ravel()])

    (t_ours, r), (t_hand, yh) = interleaved([lambda: sd.simulate(system, X, Y, **kw), hand],
                                            rounds)
    print(f"4. simulate 64-100-10 tanh BP, batch {b}, {steps} steps: symdyn {t_ours:.3f} s, "
          f"hand-written numpy {t_hand:.3f} s, symdyn / hand = {t_ours / t_hand:.2f}; "
          f"|y - hand| = {np.abs(r.y_final - yh).max():.1e}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--main", default="", help="a checkout of main for the before/after")
    ap.add_argument("--jobs", default="1234")
    a = ap.parse_args()
    print(machine())
    print(f"{PINNED}; numba {numba.__version__}; medians of {a.rounds} rounds")
    if "1" in a.jobs:
        job_batch(a.rounds)
    if "2" in a.jobs:
        job_wide(a.rounds, a.main)
    if "3" in a.jobs:
        job_sgd_scalar(a.rounds)
    if "4" in a.jobs:
        job_sgd_wide(a.rounds)


if __name__ == "__main__":
    main()
