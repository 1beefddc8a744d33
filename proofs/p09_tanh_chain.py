"""Theorem (4) of the companion paper's abstract: non-linear chains converge to fixed points
when the derivative of the activation is kept. Proved here for the 1-1-1 tanh chain on a finite
data set, under BP and RBP, from the starts below the loss at infinity; the rest is evidence."""

from __future__ import annotations

import numpy as np
import sympy as sp
from _common import N, a1, a2, c1, fprime, k

import symdyn as sd
from symdyn.numerics import integrate_batch
from symdyn.report import Math
from symdyn.verify import proof, sentence

I_, T_ = sp.IndexedBase("I"), sp.IndexedBase("T")
LOSS, L_INF, L_0 = sp.Symbol("L"), sp.Symbol("L_infinity"), sp.Symbol("L_0")
LOSS_DEF = Math(r"L = \frac{1}{2N} \sum_k \left(T_k - a_2 \tanh(a_1 I_k)\right)^2",
                "L = sum_k (T_k - a2 tanh(a1 I_k))^2 / (2N)")
L_INF_DEF = Math(r"L_\infty = \tfrac12 \min\Bigl(\overline{T^2} - \overline{T \operatorname{sgn}"
                 r" I}^{\,2},\ \overline{T^2} - \overline{T I}^{\,2} / \overline{I^2}\Bigr)",
                 "L_inf = min(mean T^2 - (mean T sgn I)^2, mean T^2 - (mean T I)^2 / mean I^2)/2")


def data_set(seed: int):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(8, 1))
    return X, 0.8 * np.tanh(1.5 * X) + 0.1 * rng.normal(size=(8, 1))


def loss_terms(X, Y):
    """(L as a numpy function of rows (a1, a2), L at infinity, L on the line a2 = 0)."""
    I, T = X[:, 0], Y[:, 0]

    def L(y):
        y = np.atleast_2d(y)
        return 0.5 * np.mean((T[None] - y[:, 1:2] * np.tanh(y[:, :1] * I[None])) ** 2, axis=1)

    sat = 0.5 * (np.mean(T**2) - np.mean(T * np.sign(I)) ** 2)
    lin = 0.5 * (np.mean(T**2) - np.mean(T * I) ** 2 / np.mean(I**2))
    return L, min(sat, lin), 0.5 * np.mean(T**2)


@proof("tanh-chain-theorem", title=sentence("Theorem 4: the 1-1-1 tanh chain with {fp} kept "
                                            "converges to critical points of the loss",
                                            fp=fprime),
       hypotheses=sentence("1-1-1 chain, tanh hidden unit, linear output, {fp} kept; a finite "
                           "data set of {N} samples with every {nz}; loss {L}; RBP with a fixed "
                           "{c}.", fp=fprime, N=N, nz=sp.Ne(I_[k], 0), L=LOSS_DEF,
                           c=sp.Ne(c1, 0)),
       claim=sentence(
           "(a) The fixed points of BP are exactly the critical points of {L}; those of RBP "
           "are the critical points with {a2} non-zero, plus those on {line} where also the "
           "first component vanishes (the origin is critical but not fixed when the data "
           "correlate). (b) Along BP {L} never increases; along RBP it never increases while "
           "{half}. (c) With {Linf} (below {L0}, the loss on {line}): every BP start with "
           "{below}, and every RBP start with {below} and {half}, stays in a compact sublevel "
           "set (RBP: inside {half}) and converges to a single fixed point, a critical point "
           "of {L}. Other starts: numerical evidence only (some creep into saturation, where "
           "{a1} grows without bound).", L=LOSS, a2=a2, line=sp.Eq(a2, 0),
           half=c1 * a2 > 0, Linf=L_INF_DEF, L0=L_0, below=LOSS < L_INF, a1=a1))
def tanh_theorem(ctx):
    identities(ctx)
    fixed_points(ctx)
    ctx.note(sentence(
        "Proof of (c). As the weights leave every compact set, the lower limit of {L} is at "
        "least {Linf}: either {a1} grows without bound (saturation: {L} tends to a loss of "
        "the signs of the inputs, at least the first term), or {a1} tends to 0 with the "
        "product bounded (the linear limit: at least the second), or {L} grows without bound. "
        "So every sublevel set below {Linf} is compact. BP decreases {L}; so does RBP while "
        "{half}, and it cannot reach {line}, where {L} equals {L0}, at least {Linf}: the "
        "trajectory stays in a compact set inside {half}, where RBP is the gradient flow of "
        "{L} for the metric with weights the inverse of {c1a2} and 1, bounded and uniformly "
        "positive. {L} is analytic, so by Lojasiewicz's theorem for such flows (cited, not "
        "checked here) the trajectory converges to a single point, a critical point of {L} "
        "with {a2} non-zero: a fixed point by (a).", L=LOSS, Linf=L_INF, a1=a1,
        half=c1 * a2 > 0, line=sp.Eq(a2, 0), L0=L_0, c1a2=c1 / a2, a2=a2))
    evidence(ctx)


def identities(ctx):
    ok = {}
    for rule in ("bp", "rbp"):
        s = sd.derive("1-1-1", rule, activation="tanh", data=sd.Dataset(X=[[1.0]], Y=[[1.0]]))
        x, y = s.state
        I, T = s.sample
        ell = (T - y * sp.tanh(x * I)) ** 2 / 2
        d1, d2 = s.update
        if rule == "bp":
            ok[rule] = sp.expand(d1 + sp.diff(ell, x)) == 0 and sp.expand(d2 + sp.diff(ell, y)) == 0
        else:
            c = s.parameters[0]
            ok[rule] = (sp.expand(y * d1 + c * sp.diff(ell, x)) == 0
                        and sp.expand(d2 + sp.diff(ell, y)) == 0)
    ctx.symbolic(sentence("per sample, the BP update is minus the gradient of the sample's "
                          "loss, so on any finite data set {bp}", bp=Math(
                              r"\dot a = -\nabla L", "da/dt = -grad L")), ok["bp"],
                 proof="identity", covers="1-1-1 tanh, every finite data set",
                 part="fixed points and critical points")
    ctx.symbolic(sentence("per sample, RBP satisfies {r1} and {r2}; averaged, {rate}: "
                          "so RBP is a gradient flow of {L} wherever {half}",
                          r1=Math(r"a_2 \dot a_1 = -c_1 \partial L / \partial a_1",
                                  "a2 da1/dt = -c1 dL/da1"),
                          r2=Math(r"\dot a_2 = -\partial L / \partial a_2", "da2/dt = -dL/da2"),
                          L=LOSS,
                          rate=Math(r"\dot L = -\frac{c_1}{a_2} \Bigl(\frac{\partial L}"
                                    r"{\partial a_1}\Bigr)^2 - \Bigl(\frac{\partial L}"
                                    r"{\partial a_2}\Bigr)^2",
                                    "dL/dt = -(c1/a2) (dL/da1)^2 - (dL/da2)^2"),
                          half=c1 * a2 > 0), ok["rbp"],
                 proof="lyapunov", covers="1-1-1 tanh, every finite data set",
                 part="the loss as Lyapunov function")


def fixed_points(ctx):
    X, Y = np.array([[1.0], [-2.0], [0.5]]), np.array([[0.5], [-1.5], [0.25]])
    s = sd.derive("1-1-1", "rbp", activation="tanh", data=sd.Dataset(X=X, Y=Y))
    x, y = s.state
    at0 = [sp.nsimplify(e.subs({x: 0, y: 0})) for e in s.rhs]
    L = sum((float(t) - y * sp.tanh(x * float(i))) ** 2 for i, t in zip(X[:, 0], Y[:, 0])) / 6
    grad0 = [sp.nsimplify(sp.diff(L, v).subs({x: 0, y: 0})) for v in (x, y)]
    alpha = sp.nsimplify(float(np.mean(X * Y)))
    ok = grad0 == [0, 0] and at0[1] == 0 and sp.simplify(at0[0] - s.parameters[0] * alpha) == 0
    ctx.symbolic(sentence("on a 3-sample data set with {al}: the origin is a critical point of "
                          "{L} ({g0}) while RBP moves it ({f0}): a critical point that is not a "
                          "fixed point, on {line}", al=sp.Eq(sp.Symbol("alpha"), alpha),
                          L=LOSS, g0=Math(r"\nabla L(0, 0) = 0", "grad L(0,0) = 0"),
                          f0=Math(r"\dot a_1 = c_1 \alpha", "da1/dt = c1 alpha"),
                          line=sp.Eq(a2, 0)), ok,
                 proof="exact classification", covers="1-1-1 tanh",
                 part="fixed points and critical points")
    ctx.symbolic(sentence("on {line} the loss equals {L0} whatever {a1}, and {Linf} is at most "
                          "{L0} (each term subtracts a square)", line=sp.Eq(a2, 0),
                          L0=Math(r"L_0 = \overline{T^2} / 2", "L_0 = mean(T^2)/2"), a1=a1,
                          Linf=L_INF),
                 sp.simplify(L.subs(y, 0) - sum(float(t) ** 2 for t in Y[:, 0]) / 6) == 0,
                 proof="identity", covers="1-1-1 tanh",
                 part="convergence below the loss at infinity")


def _outcomes(ctx, X, Y, y0, rule):
    s = sd.derive("1-1-1", rule, activation="tanh", data=sd.Dataset(X=X, Y=Y))
    values = {"c1": 1.0} if rule == "rbp" else {}
    r = integrate_batch(s, y0, 3e4, values, tol=1e-7)
    return s, values, r


def evidence(ctx):
    X, Y = data_set(0)
    s = sd.derive("1-1-1", "rbp", activation="tanh", data=sd.Dataset(X=X, Y=Y))
    ctx.oracle_ode(s, {"c1": 1.0}, X, Y)
    ctx.oracle_fixed_point(s, {"c1": 1.0}, np.random.default_rng(1).normal(size=(6, 2)) + [0, 1],
                           3e4, tol=1e-7)
    inside, converged, outside, out_conv, far = 0, 0, 0, 0, 0
    sets = ctx.cases(1, 8)
    starts = ctx.cases(60, 200)
    for seed in range(sets):
        X, Y = data_set(seed)
        L, Linf, L0 = loss_terms(X, Y)
        angles = np.linspace(0, 2 * np.pi, 721)
        circle = 60.0 * np.c_[np.cos(angles), np.sin(angles)]
        far += bool(L(circle).min() >= Linf - 1e-2)
        rng = np.random.default_rng(100 + seed)
        y0 = rng.normal(size=(starts, 2)) * [2.0, 1.0]
        for rule in ("bp", "rbp"):
            cond = L(y0) < Linf
            if rule == "rbp":
                cond &= y0[:, 1] > 0
            # quick: only the starts the theorem covers (the others creep, and cost)
            rows = np.ones(len(y0), bool) if not ctx.quick else cond
            _, _, r = _outcomes(ctx, X, Y, y0[rows], rule)
            conv = np.zeros(len(y0), bool)
            conv[rows] = r.converged
            inside += int(cond.sum())
            converged += int((cond & conv).sum())
            if not ctx.quick:
                outside += int((~cond).sum())
                out_conv += int((~cond & conv).sum())
    ctx.numeric(sentence("the starts covered by (c) ({below}, and for RBP {half}), on random "
                         "data sets of 8 samples with targets {T}, {c1}, starts {st}: all "
                         "converge by {t}", below=LOSS < L_INF, half=c1 * a2 > 0, c1=sp.Eq(c1, 1),
                         T=sp.Eq(T_[k], 0.8 * sp.tanh(1.5 * I_[k]) + 0.1 * sp.Symbol("epsilon")),
                         st=Math(r"a_1 \sim \mathcal{N}(0, 4),\ a_2 \sim \mathcal{N}(0, 1)",
                                 "a1 ~ N(0, 4), a2 ~ N(0, 1)"), t=sp.Eq(sp.Symbol("t"), 30000)),
                converged, inside, part="convergence below the loss at infinity")
    ctx.numeric(sentence("the loss on the circle of radius 60 is at least {Linf} less 0.01 "
                         "(the lower limit at infinity, sampled)", Linf=L_INF), far, sets,
                part="convergence below the loss at infinity")
    if ctx.quick:
        return
    ctx.note(sentence(f"outside (c): {out_conv} of {outside} starts (BP and RBP together) "
                      "converged by {t}; the others had not (evidence only; slow minima or "
                      "saturation)", t=sp.Eq(sp.Symbol("t"), 30000)))
