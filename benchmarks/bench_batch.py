"""``integrate_batch`` of 10,000 initial conditions of 1-1-1 RBP vs a Python loop of
``scipy.integrate.solve_ivp`` (target: >= 50x faster at the same tolerances and the same
final accuracy).

Every start draws (a1, a2) ~ N(0, 1) and its own channel c1 ~ N(0, 1) (|c1| >= 0.01);
alpha = 1, beta = 2, t_final = 1000, DOP853 at rtol = 1e-8, atol = 1e-10 on both sides. The
loop gets the cheapest right-hand side there is, a plain Python function of (t, y). It is
timed on a random subset of the starts and extrapolated to all of them (said so in the
output). Accuracy: the distance of the final point to the hyperbola a1 a2 = alpha/beta, and
to the landing point predicted by the invariant a1^2 - 2 c1 a2 (docs/science.md section 4), in
tolerance units atol + rtol |y|_inf.

Two comparisons: both sides stopping early (integrate_batch's convergence test; solve_ivp
with a terminal event when the speed |f| falls to 1e-6), and both integrating every start to
t_final. Near the attracting hyperbola an explicit method takes stability-bounded steps, so
the second costs far more on both sides."""

from __future__ import annotations

import time

import numpy as np
from _common import machine, median
from scipy.integrate import solve_ivp

import symdyn as sd

ALPHA, BETA, T, RTOL, ATOL = 1.0, 2.0, 1000.0, 1e-8, 1e-10


def landing(a1, a2, c1):
    K = a1**2 - 2 * c1 * a2
    roots = np.roots([BETA, 0.0, -BETA * K, -2 * ALPHA * c1])
    real = np.sort(roots[np.abs(roots.imag) < 1e-9].real)
    p0 = BETA * a1**3 - BETA * K * a1 - 2 * ALPHA * c1
    root = real[real > a1].min() if p0 < 0 else real[real < a1].max()
    return np.array([root, ALPHA / (BETA * root)])


def accuracy(Y, Y0, c1):
    hyper = np.abs(Y[:, 0] * Y[:, 1] - ALPHA / BETA)
    land = np.array([landing(*Y0[i], c1[i]) for i in range(len(Y0))])
    size = np.max(np.abs(land), axis=1, keepdims=True)
    units = np.max(np.abs(Y - land) / (ATOL + RTOL * size), axis=1)
    return hyper, units


def describe(name, hyper, units):
    print(f"  {name}: |a1 a2 - alpha/beta| max {hyper.max():.2e}, median {median(hyper):.2e};"
          f" distance to the predicted landing point in tolerance units: max "
          f"{units.max():.2f}, median {median(units):.3f}")


def main(n: int = 10_000, subset: int = 500, repeats: int = 3) -> None:
    print(machine())
    rng = np.random.default_rng(0)
    Y0 = rng.normal(size=(n, 2))
    c1 = rng.normal(size=n)
    c1 = np.where(np.abs(c1) < 1e-2, np.copysign(1e-2, c1), c1)
    system = sd.derive("1-1-1", "rbp")
    values = {"alpha": ALPHA, "beta": BETA, "c1": c1}
    sd.integrate_batch(system, Y0[:10], T, {**values, "c1": c1[:10]})  # warm up (codegen)

    runs = {}
    for stop in (True, False):
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            res = sd.integrate_batch(system, Y0, T, values, rtol=RTOL, atol=ATOL,
                                     stop_on_convergence=stop)
            times.append(time.perf_counter() - t0)
        runs[stop] = (median(times), res)
    (tb, rb), (tb_full, rb_full) = runs[True], runs[False]

    pick = rng.choice(n, size=subset, replace=False)

    def loop(early: bool):
        """solve_ivp start by start; ``early``: with a terminal event at |f| = 1e-6 (the
        speed threshold of integrate_batch without its remaining-distance check), the
        nearest equivalent of stopping at convergence."""
        times, ys = [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            ys = []
            for i in pick:
                c = c1[i]

                def f(t, y, c=c):
                    r = ALPHA - BETA * y[0] * y[1]
                    return np.array([c * r, y[0] * r])

                def slow(t, y, c=c):
                    r = ALPHA - BETA * y[0] * y[1]
                    return max(abs(c * r), abs(y[0] * r)) - 1e-6

                slow.terminal, slow.direction = True, -1
                sol = solve_ivp(f, (0.0, T), Y0[i], method="DOP853", rtol=RTOL, atol=ATOL,
                                events=slow if early else None)
                ys.append(sol.y[:, -1])
            times.append(time.perf_counter() - t0)
        return median(times) / subset, np.array(ys)

    per, loop_y = loop(False)
    per_early, loop_y_early = loop(True)
    loop_total, loop_early_total = per * n, per_early * n

    print(f"1-1-1 RBP, {n} starts, t_final = {T:g}, DOP853, rtol = {RTOL:g}, atol = {ATOL:g}")
    print(f"  integrate_batch (stops each row at convergence): {tb:.3f} s (median of "
          f"{repeats}); {rb.counts}; {int(rb.nfev.sum())} row-evaluations")
    print(f"  integrate_batch to t_final (no early stop): {tb_full:.3f} s; {rb_full.counts}")
    print(f"  loop of solve_ivp to t_final: {per * 1e3:.2f} ms per start, timed on {subset} "
          f"random starts (median of {repeats}), extrapolated to {n}: {loop_total:.1f} s")
    print(f"  loop of solve_ivp with a terminal event at |f| = 1e-6: {per_early * 1e3:.2f} ms "
          f"per start, extrapolated the same way: {loop_early_total:.1f} s")
    print(f"  speed-up, both stopping early: {loop_early_total / tb:.0f}x; both integrating "
          f"to t_final: {loop_total / tb_full:.0f}x (target >= 50x)")
    describe("integrate_batch (early stop)", *accuracy(rb.y, Y0, c1))
    describe("integrate_batch (to t_final)", *accuracy(rb_full.y, Y0, c1))
    describe(f"solve_ivp loop to t_final ({subset} starts)",
             *accuracy(loop_y, Y0[pick], c1[pick]))
    describe(f"solve_ivp loop with event ({subset} starts)",
             *accuracy(loop_y_early, Y0[pick], c1[pick]))
    same = np.abs(rb_full.y[pick] - loop_y).max()
    print(f"  max |integrate_batch(to t_final) - solve_ivp| on the subset: {same:.2e} (the "
          "same algorithm row by row; rounding differences drift along the neutral hyperbola)")


if __name__ == "__main__":
    main()
