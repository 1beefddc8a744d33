"""Controls: results that check the verification machinery itself.

Negative controls have a correct outcome of *failure*: a false first integral must be
refuted with a counterexample (checked again by substitution), a wrong fixed point must be
rejected, a stability label must agree with what perturbed starts do. If one is not
refuted, the machinery is broken and verify says so. The last result puts every option of
the rules (decay, rate, rate ratio, derivative, channel activation) into evidence that
would change if the option were implemented wrongly."""

from __future__ import annotations

import numpy as np
import sympy as sp
from scipy.integrate import solve_ivp

import symdyn as sd
from symdyn._oracles import sympy_rhs
from symdyn.analysis import fixed_points, verify_fixed_point, verify_invariant
from symdyn.numerics import integrate_batch
from symdyn.verify import proof


def _recomputed(system, H, cx) -> sp.Expr:
    """dH/dt at the counterexample, recomputed from the equations by substitution."""
    point = {sp.Symbol(k): sp.nsimplify(v) for k, v in cx.items()
             if k not in ("dH/dt", "entry")}
    return sp.simplify(sum(sp.diff(H, x) * f for x, f in system.equations.items())
                       .subs(point))


@proof("control-false-invariant", title="Control: a false first integral is refuted",
       claim=r"BP's law $a_1^2 - a_2^2$ is not a first integral of 1-1-1 RBP, nor RBP's law "
             r"$a_1^2 - 2 c_1 a_2$ of 1-1-1-1 SRBP: the invariant check must refute both "
             r"with a counterexample where $\dot H \neq 0$ (recomputed by substitution), and "
             r"prove the true laws.")
def false_invariant(ctx):
    rbp, srbp = sd.derive("1-1-1", "rbp"), sd.derive("1-1-1-1", "srbp")
    c1 = sp.Symbol("c1")
    for label, s, false, true in [
        ("RBP 1-1-1", rbp, rbp.state[0] ** 2 - rbp.state[1] ** 2,
         rbp.state[0] ** 2 - 2 * c1 * rbp.state[1]),
        ("SRBP 1-1-1-1", srbp, srbp.state[0] ** 2 - 2 * c1 * srbp.state[1],
         srbp.state[1] ** 2 / 2 - sp.Symbol("c2") * srbp.state[2]),
    ]:
        check = verify_invariant(s, false)
        cx = check.counterexample
        value = _recomputed(s, false, cx) if cx else sp.Integer(0)
        ctx.control(f"{label}: the false law d/dt ({false}) = 0 is refuted, dH/dt = {value} "
                    "at the counterexample (recomputed)",
                    not check.holds and cx is not None and value != 0, counterexample=cx)
        ctx.symbolic(f"{label}: the true law d/dt ({true}) = 0 is proved (positive control)",
                     verify_invariant(s, true).holds, check="control")


@proof("control-wrong-fixed-point", title="Control: a wrong fixed point is rejected",
       claim=r"For 1-1-1 RBP ($\alpha = \beta = c_1 = 1$) the point $(a_1, a_2) = (1, 2)$ is "
             r"not a fixed point and $(1, 1)$ is; for 1-1-1 BP with decay $d = 1/10$ the "
             r"points $(\pm 1, \pm 1)$ of the decay-free problem are not fixed points, "
             r"$(\pm 3/\sqrt{10}, \pm 3/\sqrt{10})$ are.")
def wrong_fixed_point(ctx):
    rbp = sd.derive("1-1-1", "rbp")
    one = {"alpha": 1, "beta": 1, "c1": 1}
    ctx.control("RBP: (a1, a2) = (1, 2) is rejected",
                not verify_fixed_point(rbp, {"a1": 1, "a2": 2}, one))
    ctx.symbolic("RBP: (a1, a2) = (1, 1) is accepted (positive control)",
                 verify_fixed_point(rbp, {"a1": 1, "a2": 1}, one), check="control")
    bp = sd.derive("1-1-1", "bp", decay=sp.Rational(1, 10))
    r = 3 / sp.sqrt(10)
    ctx.control("BP with decay 1/10: (1, 1) (the decay-free optimum) is rejected",
                not verify_fixed_point(bp, {"a1": 1, "a2": 1}, {"alpha": 1, "beta": 1}))
    ctx.symbolic("BP with decay 1/10: (3/sqrt(10), 3/sqrt(10)) is accepted (positive "
                 "control)", verify_fixed_point(bp, {"a1": r, "a2": r},
                                                {"alpha": 1, "beta": 1}), check="control")


def _perturbed(system, values, point, n=4, eps=1e-4, t=100.0, seed=0):
    """Distance to ``point`` at ``t`` over distance at 0, for ``n`` perturbed starts,
    integrated by scipy on sympy's right-hand side (independent of symdyn's numerics)."""
    f = sympy_rhs(system, values)
    rng = np.random.default_rng(seed)
    ratios = []
    for _ in range(n):
        d = rng.normal(size=system.size)
        y0 = point + eps * d / np.linalg.norm(d)
        sol = solve_ivp(lambda _t, y: f(y), (0, t), y0, method="DOP853", rtol=1e-10,
                        atol=1e-13)
        ratios.append(float(np.linalg.norm(sol.y[:, -1] - point) / eps))
    return ratios


@proof("control-stability-labels", title="Control: stability labels agree with perturbed "
       "starts", claim=r"For 1-1-1 BP with decay $d = 1/10$ and $\beta = 1$, with $\alpha = 1$ "
       r"(the origin a saddle, two optima) and $\alpha = 1/20 < d$ (the origin the only fixed "
       r"point), every isolated fixed point labelled stable attracts perturbed starts "
       r"(distance shrinks over 10-fold by $t = 100$) and every point labelled unstable or "
       r"saddle repels some (grows over 10-fold); both kinds occur.")
def stability_labels(ctx):
    seen = set()
    s = sd.derive("1-1-1", "bp", decay=sp.Rational(1, 10))
    for alpha in (1.0, 0.05):
        values = {"alpha": alpha, "beta": 1.0}
        for p in fixed_points(s, values):
            label = str(p.stability)
            if p.dimension != 0 or label not in ("stable", "unstable", "saddle"):
                continue
            point = np.array([float(sp.N(p.solution[x])) for x in s.state])
            ratios = _perturbed(s, values, point)
            agrees = (max(ratios) < 0.1) if label == "stable" else (max(ratios) > 10)
            seen.add(label == "stable")
            ctx.numeric(f"alpha = {alpha:g}: the point {np.round(point, 4).tolist()} "
                        f"labelled {label}: perturbations of 1e-4 end at "
                        f"{', '.join(f'{r:.1e}' for r in ratios)} times their size",
                        int(agrees), 1, check="control")
    ctx.numeric("labels of both kinds (stable and not stable) were checked",
                int(seen == {True, False}), 1, check="control")


def _asymmetry_system():
    return sd.derive("1-1-1", "arbp", decay="d", rate="eta", rate_ratio="lamda")


@proof("rule-options", title="Every rule option changes the evidence: decay (Kolen-Pollack), "
       "rate, rate ratio, derivative, channel activation",
       hypotheses=r"ARBP on the linear 3-2-2 network (symbolic $\eta, \lambda, d$); numerical "
                  r"cases with $\eta = 1$, $\lambda = 1/2$, $d = 3/10$; 2-3-1 networks with "
                  r"$\tanh$ hidden units on 6 random samples.",
       claim=r"With weight decay the channel of ARBP tracks the forward weights "
             r"(Kolen-Pollack): $\frac{d}{dt}(C_1 - \lambda A_2^T) = -\eta d\,(C_1 - \lambda "
             r"A_2^T)$, entry by entry, so the asymmetry decays as $e^{-\eta d t}$; and the "
             r"derived ODE of every option combination equals the mean over the samples of "
             r"the rule computed directly in numpy.")
def rule_options(ctx):
    eta, lam, d = sp.symbols("eta lamda d")
    s = sd.derive("3-2-2", "arbp", decay=d, rate=eta, rate_ratio=lam)
    C, A2 = (s.components(m) for m in s.matrix.state[2:0:-1])
    rhs = s.equations
    ok = all(sp.expand(rhs[C[i, j]] - lam * rhs[A2[j, i]]
                       + eta * d * (C[i, j] - lam * A2[j, i])) == 0
             for i in range(C.rows) for j in range(C.cols))
    ctx.symbolic("3-2-2 ARBP: d/dt (C1 - lamda A2^T) = -eta d (C1 - lamda A2^T), every entry",
                 ok, latex=r"\frac{d}{dt}\left(C_1 - \lambda A_2^T\right) = "
                           r"-\eta d \left(C_1 - \lambda A_2^T\right)")
    one = _asymmetry_system()
    values = {"alpha": 1.0, "beta": 1.0, "eta": 1.0, "lamda": 0.5, "d": 0.3}
    ctx.oracle_rhs(one, values)
    y0 = np.random.default_rng(1).normal(size=(8, 3))
    r = integrate_batch(one, y0, 4.0, values, rtol=1e-11, atol=1e-13,
                        stop_on_convergence=False)
    k0, k1 = y0[:, 2] - 0.5 * y0[:, 1], r.y[:, 2] - 0.5 * r.y[:, 1]
    err = np.abs(k1 - k0 * np.exp(-0.3 * 4.0)) / (1e-12 + np.abs(k0))
    ctx.numeric("1-1-1 ARBP, eta = 1, lamda = 1/2, d = 3/10: the asymmetry c1 - a2/2 at "
                f"t = 4 equals its start times exp(-1.2) (worst relative error {err.max():.1e})",
                int(np.sum(err < 1e-7)), len(err))
    rng = np.random.default_rng(2)
    X = rng.normal(size=(6, 2))
    Y = np.tanh(X @ rng.normal(size=(2, 1)))
    data = sd.Dataset(X=X, Y=Y)
    for rule, opts, vals in [
        ("rbp", dict(derivative=False, channel_activation="tanh"), {"C1": [[0.7], [-1.1], [0.4]]}),
        ("arbp", dict(channel_activation="tanh", decay=0.1), {}),
        ("asrbp", dict(decay=0.2, rate=0.5, rate_ratio=2.0), {}),  # checked further below
    ]:
        net = sd.derive("2-3-1", rule, activation="tanh", data=data, **opts)
        ctx.oracle_ode(net, vals, X, Y)
    ctx.oracle_trajectories(net, {}, 2, t=3.0)
    ctx.oracle_sgd(net, X, Y, {}, 0.5 * rng.normal(size=net.size), lr=0.05, steps=10)
