"""``derive`` + ``numeric`` for a depth-64 scalar chain and a 256-wide matrix network, in
seconds, against a naive ``sympy.lambdify`` of the expanded component form.

Naive means: build the component form (``system.rhs``), ``sympy.expand`` every equation and
``lambdify`` the list without common sub-expression elimination. For the 256-wide network
the component form alone has 131,072 equations of ~65,000 terms each, far out of reach; the
naive route is timed at small widths and the growth is fitted and extrapolated (said so in
the output)."""

from __future__ import annotations

import time

import numpy as np
import sympy as sp
from _common import best_of, machine

import symdyn as sd
from symdyn.derive import _derive


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def chain(depth: int = 64) -> None:
    arch = "-".join(["1"] * (depth + 1))
    values = {"alpha": 1.0, "beta": 1.0, **{f"c{h}": 0.9 for h in range(1, depth)}}
    _derive.cache_clear()
    t_derive, system = timed(lambda: sd.derive(arch, "rbp"))
    t_comp, _ = timed(lambda: system.rhs)  # the component form (cached on the system)
    t_num, f = timed(lambda: system.numeric(values))  # default: component form + cse
    t_mat, fm = timed(lambda: system.numeric(values, form="matrix"))
    rng = np.random.default_rng(0)
    Y = 1.0 + 0.1 * rng.normal(size=(1000, system.size))
    y = Y[0]
    ev = {name: (best_of(lambda g=g: g(0, y), 20), best_of(lambda g=g: g(0, Y), 5))
          for name, g in (("component", f), ("matrix", fm))}
    # naive: expanded component form, lambdified without cse
    t_expand, expanded = timed(lambda: [sp.expand(e) for e in system.rhs])
    syms = (*system.state, *system.parameters)
    t_lamb, naive = timed(lambda: sp.lambdify(syms, expanded, "numpy"))
    pvals = [values[str(p)] for p in system.parameters]
    ev_naive = (best_of(lambda: naive(*y, *pvals), 20),
                best_of(lambda: naive(*Y.T, *pvals), 5))
    assert np.allclose(np.array(naive(*y, *pvals)), f(0, y), rtol=1e-9)
    print(f"depth-{depth} RBP chain ({system.size} state variables):")
    print(f"  derive {t_derive:.2f} s; component form {t_comp:.2f} s; then numeric "
          f"(lambdify with cse, the default for scalar chains) {t_num:.2f} s; "
          f"numeric(form='matrix') {t_mat:.2f} s")
    for name, (a, b) in ev.items():
        print(f"  {name} code: {a * 1e6:.0f} us per state, {b * 1e3:.2f} ms per batch of 1000")
    print(f"  naive: expand {t_expand:.2f} s + lambdify {t_lamb:.2f} s; "
          f"{ev_naive[0] * 1e6:.0f} us per state, {ev_naive[1] * 1e3:.2f} ms per batch of 1000")
    ours = t_derive + t_comp + t_num
    print(f"  derive + numeric: {ours:.2f} s (matrix code: {t_derive + t_mat:.2f} s) vs derive + "
          f"component form + naive lambdify: {t_derive + t_comp + t_expand + t_lamb:.2f} s; "
          f"evaluation on a batch of 1000: {ev_naive[1] / ev['component'][1]:.0f}x faster "
          "than the naive code")


def wide(n: int = 256, small=(2, 3, 4, 5)) -> None:
    rng = np.random.default_rng(0)
    _derive.cache_clear()
    t_derive, system = timed(lambda: sd.derive(f"{n}-{n}-{n}", "rbp"))
    values = {"C1": rng.normal(size=(n, n)) / np.sqrt(n), "Sigma_II": np.eye(n),
              "Sigma_TI": rng.normal(size=(n, n)) / np.sqrt(n)}
    t_num, f = timed(lambda: system.numeric(values))
    y = rng.normal(size=system.size) / np.sqrt(n)
    ev = best_of(lambda: f(0, y), 5)
    print(f"{n}-{n}-{n} RBP network ({system.size} state variables):")
    print(f"  derive {t_derive:.3f} s; numeric (matrix code) {t_num:.3f} s; {ev * 1e3:.2f} ms "
          "per evaluation")
    widths, costs = [], []
    for w in small:
        _derive.cache_clear()
        s = sd.derive(f"{w}-{w}-{w}", "rbp")
        t_comp, rhs = timed(lambda s=s: s.rhs)
        t_expand, expanded = timed(lambda rhs=rhs: [sp.expand(e) for e in rhs])
        t_lamb, _ = timed(lambda s=s, e=expanded: sp.lambdify((*s.state, *s.parameters), e,
                                                              "numpy"))
        t_matrix, _ = timed(lambda s=s, w=w: s.numeric({"C1": np.ones((w, w)),
                                                         "Sigma_II": np.eye(w),
                                                         "Sigma_TI": np.ones((w, w))}))
        total = t_comp + t_expand + t_lamb
        widths.append(w)
        costs.append(total)
        print(f"  naive at width {w}: component form {t_comp:.2f} s + expand {t_expand:.2f} s "
              f"+ lambdify {t_lamb:.2f} s = {total:.2f} s (matrix numeric: {t_matrix:.3f} s)")
    slope, icpt = np.polyfit(np.log(widths), np.log(costs), 1)
    guess = np.exp(icpt) * n ** slope
    terms = 2 * n**5  # 2 n^2 equations, each a sum of ~n^3 monomials once expanded
    print(f"  naive cost grows like width^{slope:.1f} over widths {widths}; extrapolated to "
          f"{n}: ~{guess:.1e} s (~{guess / 86400:.0f} days), not attempted; the expanded form "
          f"would hold ~{terms:.1e} monomials (2 n^5), beyond memory anyway")


if __name__ == "__main__":
    print(machine())
    chain()
    wide()
