"""Non-linear channels and networks, and stochastic training against the averaged ODE."""

from __future__ import annotations

import numpy as np
import sympy as sp
from _common import seeds
from hypothesis import strategies as st

import symdyn as sd
from symdyn.numerics import integrate_batch
from symdyn.training import compare
from symdyn.verify import proof


@proof("tanh-channel", title="A tanh channel keeps the fixed points only for realizable data",
       hypotheses=r"1-1-1 linear chain, RBP with channel activation $g = \tanh$, a finite "
                  r"data set of $N$ samples $(I_k, T_k)$; realizable means $T_k = w I_k$ for "
                  r"all $k$.",
       claim=r"PAPER.md claim 4 holds exactly for realizable data: the fixed-point set stays "
             r"$a_1 a_2 = w$, and random starts converge to it. For non-realizable data it is "
             r"false: on the hyperbola $a_1 a_2 = \alpha/\beta$, "
             r"$\dot a_1 = \frac{1}{N}\sum_k \tanh\big(c_1 (T_k - \tfrac{\alpha}{\beta} I_k)"
             r"\big) I_k \neq 0$ in general. Fixed points need "
             r"$\dot a_2 = a_1(\alpha - \beta a_1 a_2) = 0$, i.e. $a_1 = 0$ or the hyperbola, "
             r"and on each $\dot a_1$ is a constant "
             r"(independent of the free coordinate); when both constants are non-zero there is "
             r"no fixed point, so (Poincar\'e--Bendixson, in the plane) every trajectory is "
             r"unbounded.")
def tanh_channel(ctx):
    w = sp.Symbol("w")
    one = sd.derive("1-1-1", "rbp", channel_activation="tanh",
                    data=sd.Dataset(X=[[1.0]], Y=[[1.0]]))
    a1, a2 = one.state
    I, T = one.sample
    zero = all(sp.simplify(u.subs({T: w * I, a2: w / a1})) == 0 for u in one.update)
    ctx.symbolic("per sample, with T = w I and a1 a2 = w, the update vanishes (tanh(0) = 0): "
                 "the hyperbola is fixed for any realizable data set", zero,
                 latex=r"\Delta a_1 = I \tanh\big(c_1 (T - a_2 a_1 I)\big) = 0 "
                       r"\text{ when } T = a_1 a_2 I")

    def realizable(seed):
        rng = np.random.default_rng(seed)
        X = rng.normal(size=(8, 1))
        wv = rng.uniform(0.3, 2.0) * rng.choice([-1, 1])
        s = sd.derive("1-1-1", "rbp", channel_activation="tanh",
                      data=sd.Dataset(X=X, Y=wv * X))
        r = integrate_batch(s, rng.normal(size=(10, 2)), 5000.0,
                            {"c1": rng.choice([-1, 1]) * rng.uniform(0.3, 2.0)}, tol=1e-8)
        return bool(np.all(r.converged & (np.abs(r.y[:, 0] * r.y[:, 1] - wv) < 1e-6)))

    ctx.sample("realizable data (8 samples, random w, c1): 10 random starts per case "
               "converge to a1 a2 = w", seeds, realizable, ctx.cases(3, 30))

    def not_fixed(seed):
        rng = np.random.default_rng(seed)
        X = rng.normal(size=(8, 1))
        Y = 0.8 * X + 0.5 * rng.normal(size=(8, 1))
        s = sd.derive("1-1-1", "rbp", channel_activation="tanh", data=sd.Dataset(X=X, Y=Y))
        P = float((Y * X).mean() / (X * X).mean())
        c1, k = sp.Symbol("c1"), sp.Symbol("k")
        # da1/dt on each branch of {da2/dt = 0}, as a function of the free coordinate k
        on_hyperbola = s.rhs[0].subs({a1: k, a2: P / k, c1: 1.0})
        on_axis = s.rhs[0].subs({a1: 0, a2: k, c1: 1.0})
        constant = all(abs(float(e.subs(k, v) - e.subs(k, 1.0))) < 1e-12
                       for e in (on_hyperbola, on_axis) for v in (0.3, 2.0, -5.0))
        nonzero = min(abs(float(on_hyperbola.subs(k, 1.0))), abs(float(on_axis.subs(k, 1.0))))
        r = integrate_batch(s, np.array([[0.1, 0.2]]), 2000.0, {"c1": 1.0}, tol=1e-8)
        return constant and nonzero > 1e-9 and r.status[0] == "running"

    ctx.sample("counterexamples to the general claim: noisy data (T = 0.8 I + noise), "
               "c1 = 1: da1/dt is a non-zero constant on a1 = 0 and on a1 a2 = alpha/beta, so "
               "there is no fixed point; the trajectory from (0.1, 0.2) has not converged by "
               "t = 2000",
               seeds, not_fixed, ctx.cases(2, 10))


@proof("tanh-chain-derivative", title="Non-linear chains converge more often with f' kept",
       hypotheses=r"1-1-1 chain, tanh hidden unit, linear output, RBP with $c_1 = 1$; 8 samples "
                  r"$I_k \sim \mathcal{N}(0, 1)$, $T_k = 0.8 \tanh(1.5 I_k) + 0.1\,\epsilon_k$; "
                  r"random starts $\mathcal{N}(0, 1)$; converged means $|f| < 10^{-6}$ by "
                  r"$t = 3000$.",
       claim=r"Keeping the derivative $f'$ never makes convergence rarer than dropping it (on "
             r"every data set drawn), and over all data sets most starts converge with $f'$ "
             r"kept (at least 60\%) and few with $f'$ dropped (at most 20\%); PAPER.md: 82 vs 4 "
             r"of 100 on its data. On some data sets most starts are still creeping in "
             r"saturation at $t = 3000$; they are reported as running, never as converged.")
def tanh_chain(ctx):
    def count(seed):
        rng = np.random.default_rng(seed)
        X = rng.normal(size=(8, 1))
        Y = 0.8 * np.tanh(1.5 * X) + 0.1 * rng.normal(size=(8, 1))
        y0 = rng.normal(size=(ctx.cases(40, 100), 2))
        out = {}
        for keep in (True, False):
            s = sd.derive("1-1-1", "rbp", activation="tanh", derivative=keep,
                          data=sd.Dataset(X=X, Y=Y))
            r = integrate_batch(s, y0, 3000.0, {"c1": 1.0}, tol=1e-6)
            f = s.numeric({"c1": 1.0})
            fake = np.any(r.converged & (np.abs(f(0, r.y)).max(axis=1) >= 1e-6))
            out[keep] = (int(r.converged.sum()), bool(fake))
        return out

    counts: dict[int, dict] = {}

    n = ctx.cases(40, 100)

    def check(seed):
        counts[seed] = c = count(seed)
        return c[True][0] >= c[False][0] and not c[True][1] and not c[False][1]

    ctx.sample(f"random data sets, {n} starts each: at least as many converge with f' kept as "
               "dropped; every row reported converged has |f| < 1e-6", seeds, check,
               ctx.cases(2, 10))
    total = n * len(counts)
    kept = sum(c[True][0] for c in counts.values())
    dropped = sum(c[False][0] for c in counts.values())
    ctx.numeric(f"over all {len(counts)} data sets: {kept} of {total} starts converge with f' "
                f"kept (>= 60% required), {dropped} with f' dropped (<= 20% required)",
                int(kept >= 0.6 * total and dropped <= 0.2 * total), 1)
    ctx.note("converged with f' kept / dropped, per data set: " + "; ".join(
        f"{c[True][0]} / {c[False][0]}" for c in counts.values()) + f" (of {n} starts)")


@proof("sgd-tracks-ode", title="Stochastic training with a small rate tracks the ODE",
       hypotheses=r"1-1-1 RBP and a 2-3-1 tanh network under BP, 16 samples, online SGD "
                  r"with learning rate $\eta$, time $t = \eta \cdot \text{step}$, $t \le 20$.",
       claim=r"The distance between the SGD weights and the averaged ODE at equal $t$ is "
             r"within the $O(\sqrt{\eta})$ scale of SGD fluctuations (below $2\sqrt{\eta}$ in "
             r"every case) and, on average over the cases, shrinks as $\eta$ decreases from "
             r"$0.02$ to $0.005$ (a single noisy run need not be monotone).")
def sgd(ctx):
    def check(example):
        seed, which = example
        rng = np.random.default_rng(seed)
        if which == "rbp":
            X = rng.normal(size=(16, 1))
            Y = 0.7 * X + 0.1 * rng.normal(size=(16, 1))
            s, values, y0 = sd.derive("1-1-1", "rbp"), {"c1": 1.0}, [0.3, 0.2]
        else:
            X = rng.normal(size=(16, 2))
            Y = np.tanh(X @ rng.normal(size=(2, 1)))
            s = sd.derive("2-3-1", "bp", activation="tanh", data=sd.Dataset(X=X, Y=Y))
            values, y0 = {}, 0.5 * rng.normal(size=9)
        d, rates = [], (0.02, 0.005)
        for lr in rates:
            c = compare(s, X, Y, lr=lr, steps=int(20 / lr), y0=y0, values=values, seed=seed)
            d.append(float(c.max_distance))
        distances[example] = d
        return all(di < 2 * np.sqrt(lr) for di, lr in zip(d, rates))

    distances: dict = {}
    ctx.sample("max distance < 2 sqrt(lr) at lr 0.02 and at lr 0.005",
               st.tuples(seeds, st.sampled_from(["rbp", "tanh"])), check, ctx.cases(2, 10))
    d = np.array(list(distances.values()))
    ratio = float(d[:, 1].mean() / d[:, 0].mean())
    ctx.numeric(f"mean distance falls from {d[:, 0].mean():.4f} (lr 0.02) to "
                f"{d[:, 1].mean():.4f} (lr 0.005): ratio {ratio:.2f} < 0.8 (sqrt scaling "
                "predicts 0.5)", int(ratio < 0.8), 1)
