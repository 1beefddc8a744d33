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
from symdyn.analysis import (
    apriori_bound,
    fixed_points,
    lyapunov_check,
    sign_analysis,
    verify_fixed_point,
    verify_invariant,
)
from symdyn.numerics import integrate_batch
from symdyn.report import Math, dot
from symdyn.verify import ddt, proof, sentence
from symdyn.verify._oracles import sympy_rhs

a1, a2, a3, c1, c2 = sp.symbols("a1 a2 a3 c1 c2")
alpha, beta, eta, lam, d, t = sp.symbols("alpha beta eta lamda d t")
_C, _A2 = sp.MatrixSymbol("C1", 2, 2), sp.MatrixSymbol("A2", 2, 2)


def _recomputed(system, H, cx) -> sp.Expr:
    """dH/dt at the counterexample, recomputed from the equations by substitution."""
    point = {sp.Symbol(k): sp.nsimplify(v) for k, v in cx.items()
             if k not in ("dH/dt", "entry")}
    return sp.simplify(sum(sp.diff(H, x) * f for x, f in system.equations.items())
                       .subs(point))


@proof("control-false-invariant", title="Control: a false first integral is refuted",
       claim=sentence("BP's law {bp} is not a first integral of 1-1-1 RBP, nor RBP's law {rbp} "
                      "of 1-1-1-1 SRBP: the invariant check must refute both with a "
                      "counterexample where the derivative is not zero (recomputed by "
                      "substitution), and prove the true laws.",
                      bp=a1**2 - a2**2, rbp=a1**2 - 2 * c1 * a2))
def false_invariant(ctx):
    rbp, srbp = sd.derive("1-1-1", "rbp"), sd.derive("1-1-1-1", "srbp")
    for label, s, false, true in [
        ("1-1-1 RBP", rbp, a1**2 - a2**2, a1**2 - 2 * c1 * a2),
        ("1-1-1-1 SRBP", srbp, a1**2 - 2 * c1 * a2, a2**2 / 2 - c2 * a3),
    ]:
        check = verify_invariant(s, false)
        cx = check.counterexample
        value = _recomputed(s, false, cx) if cx else sp.Integer(0)
        ctx.control(sentence(label + ": the false law {law} is refuted; at the counterexample "
                             "the derivative is {v} (recomputed)", law=ddt(false, 0), v=value),
                    not check.holds and cx is not None and value != 0, counterexample=cx)
        ctx.symbolic(sentence(label + ": the true law {law} is proved (positive control)",
                              law=ddt(true, 0)), verify_invariant(s, true).holds,
                     check="control")


@proof("control-wrong-fixed-point", title="Control: a wrong fixed point is rejected",
       claim=sentence("For 1-1-1 RBP with {v} the point {p} is not a fixed point and {q} is; "
                      "for 1-1-1 BP with decay {dd} the optimum {q} of the problem without "
                      "decay is not a fixed point, {r} is.",
                      v=[sp.Eq(alpha, 1), sp.Eq(beta, 1), sp.Eq(c1, 1)], p=sp.Tuple(1, 2),
                      q=sp.Tuple(1, 1), dd=sp.Eq(d, sp.Rational(1, 10)),
                      r=sp.Tuple(3 / sp.sqrt(10), 3 / sp.sqrt(10))))
def wrong_fixed_point(ctx):
    rbp = sd.derive("1-1-1", "rbp")
    one = {"alpha": 1, "beta": 1, "c1": 1}
    ctx.control(sentence("RBP: the point {p} is rejected", p=sp.Tuple(1, 2)),
                not verify_fixed_point(rbp, {"a1": 1, "a2": 2}, one))
    ctx.symbolic(sentence("RBP: the point {p} is accepted (positive control)", p=sp.Tuple(1, 1)),
                 verify_fixed_point(rbp, {"a1": 1, "a2": 1}, one), check="control")
    bp = sd.derive("1-1-1", "bp", decay=sp.Rational(1, 10))
    r = 3 / sp.sqrt(10)
    ctx.control(sentence("BP with decay: the optimum without decay {p} is rejected",
                         p=sp.Tuple(1, 1)),
                not verify_fixed_point(bp, {"a1": 1, "a2": 1}, {"alpha": 1, "beta": 1}))
    ctx.symbolic(sentence("BP with decay: the point {p} is accepted (positive control)",
                          p=sp.Tuple(r, r)),
                 verify_fixed_point(bp, {"a1": r, "a2": r}, {"alpha": 1, "beta": 1}),
                 check="control")


def _perturbed(system, values, point, n=4, eps=1e-4, t_end=100.0, seed=0):
    """Distance to ``point`` at ``t_end`` over distance at 0, for ``n`` perturbed starts,
    integrated by scipy on sympy's right-hand side (independent of symdyn's numerics)."""
    f = sympy_rhs(system, values)
    rng = np.random.default_rng(seed)
    ratios = []
    for _ in range(n):
        v = rng.normal(size=system.size)
        y0 = point + eps * v / np.linalg.norm(v)
        sol = solve_ivp(lambda _t, y: f(y), (0, t_end), y0, method="DOP853", rtol=1e-10,
                        atol=1e-13)
        ratios.append(float(np.linalg.norm(sol.y[:, -1] - point) / eps))
    return ratios


@proof("control-stability-labels", title="Control: stability labels agree with perturbed "
       "starts",
       claim=sentence("For 1-1-1 BP with decay {dd} and {b}, with {a1v} (the origin a saddle, "
                      "two optima) and {a2v} (the origin the only fixed point), every isolated "
                      "fixed point labelled stable attracts perturbed starts (their distance "
                      "shrinks over 10-fold by {te}) and every point labelled unstable or "
                      "saddle repels some (grows over 10-fold); both kinds occur.",
                      dd=sp.Eq(d, sp.Rational(1, 10)), b=sp.Eq(beta, 1), a1v=sp.Eq(alpha, 1),
                      a2v=sp.Eq(alpha, sp.Rational(1, 20)), te=sp.Eq(t, 100)))
def stability_labels(ctx):
    seen = set()
    s = sd.derive("1-1-1", "bp", decay=sp.Rational(1, 10))
    for alpha_value in (1.0, 0.05):
        values = {"alpha": alpha_value, "beta": 1.0}
        for p in fixed_points(s, values):
            label = str(p.stability)
            if p.dimension != 0 or label not in ("stable", "unstable", "saddle"):
                continue
            point = np.array([float(sp.N(p.solution[x])) for x in s.state])
            ratios = _perturbed(s, values, point)
            agrees = (max(ratios) < 0.1) if label == "stable" else (max(ratios) > 10)
            seen.add(label == "stable")
            ctx.numeric(sentence("with {av}, the point {pt} labelled " + label + ": "
                                 "perturbations end at {r} times their size",
                                 av=sp.Eq(alpha, sp.nsimplify(alpha_value)),
                                 pt=sp.Tuple(*[sp.Float(x, 4) for x in point]),
                                 r=[sp.Float(x, 2) for x in ratios]),
                        int(agrees), 1, check="control")
    ctx.numeric("labels of both kinds (stable and not stable) were checked",
                int(seen == {True, False}), 1, check="control")


ASYM = _C - lam * _A2.T


@proof("rule-options", title="Every rule option changes the evidence: decay (Kolen-Pollack), "
       "rate, rate ratio, derivative, channel activation",
       hypotheses=sentence("ARBP on the linear 3-2-2 network with symbolic {p}; numerical "
                           "cases with {v}; 2-3-1 networks with tanh hidden units on 6 random "
                           "samples.", p=[eta, lam, d],
                           v=[sp.Eq(eta, 1), sp.Eq(lam, sp.Rational(1, 2)),
                              sp.Eq(d, sp.Rational(3, 10))]),
       claim=sentence("With weight decay the channel of ARBP tracks the forward weights "
                      "(Kolen-Pollack): {kp}, entry by entry, so the asymmetry decays as {e}; "
                      "and the derived differential equation of every option combination "
                      "equals the mean over the samples of the rule computed directly in "
                      "numpy.", kp=ddt(ASYM, -eta * d * ASYM), e=sp.exp(-eta * d * t)))
def rule_options(ctx):
    s = sd.derive("3-2-2", "arbp", decay=d, rate=eta, rate_ratio=lam)
    C, A2 = (s.components(m) for m in s.matrix.state[2:0:-1])
    rhs = s.equations
    ok = all(sp.expand(rhs[C[i, j]] - lam * rhs[A2[j, i]]
                       + eta * d * (C[i, j] - lam * A2[j, i])) == 0
             for i in range(C.rows) for j in range(C.cols))
    ctx.symbolic(sentence("3-2-2 ARBP: {kp}, every entry", kp=ddt(ASYM, -eta * d * ASYM)),
                 ok, latex=ddt(ASYM, -eta * d * ASYM), covers="3-2-2")
    one = sd.derive("1-1-1", "arbp", decay="d", rate="eta", rate_ratio="lamda")
    values = {"alpha": 1.0, "beta": 1.0, "eta": 1.0, "lamda": 0.5, "d": 0.3}
    ctx.oracle_rhs(one, values)
    y0 = np.random.default_rng(1).normal(size=(8, 3))
    r = integrate_batch(one, y0, 4.0, values, rtol=1e-11, atol=1e-13,
                        stop_on_convergence=False)
    k0, k1 = y0[:, 2] - 0.5 * y0[:, 1], r.y[:, 2] - 0.5 * r.y[:, 1]
    err = np.abs(k1 - k0 * np.exp(-0.3 * 4.0)) / (1e-12 + np.abs(k0))
    half = sp.Rational(1, 2)
    ctx.numeric(sentence("1-1-1 ARBP with {v}: the asymmetry {k} at {te} equals its start "
                         "times {e} (worst relative error {w:.1e})",
                         v=[sp.Eq(eta, 1), sp.Eq(lam, half), sp.Eq(d, sp.Rational(3, 10))],
                         k=c1 - half * a2, te=sp.Eq(t, 4), e=sp.exp(-sp.Rational(6, 5)),
                         w=float(err.max())),
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


x = sp.Symbol("x")
_RBP_LOSS = (alpha - beta * a1 * a2) ** 2 / (2 * beta)


@proof("control-proof-kinds", title="Control: the new proof kinds refute what is false",
       claim=sentence(
           "The sign analysis refutes convergence for {up} (positive leading coefficient) and "
           "for the 1-1-1 RBP cubic with its sign flipped, and proves it for {down}; the "
           "Lyapunov check refutes {V1} for {f1} and the loss {V2} of 1-1-1 RBP (which is not "
           "a gradient flow), each at a point where the derivative, recomputed by "
           "substitution, is positive, and proves {V3} for {f3}; the a-priori bound refutes "
           "{b1} for {f4} (which blows up in finite time) and proves one for a rotation.",
           up=dot(x, x**3 - x), down=dot(x, x - x**3), V1=x**2, f1=dot(x, x - x**3),
           V2=_RBP_LOSS, V3=x**2, f3=dot(x, -x),
           b1=Math(rf"{ddt(x**2).latex} \le x^{{2}} + 1", "d/dt (x**2) <= x**2 + 1"),
           f4=dot(x, x**2)))
def proof_kinds(ctx):
    # sign analysis: a vector field with a positive leading coefficient must fail
    up = sign_analysis(x**3 - x, x)
    start = up.counterexample["x"] if up.counterexample else None
    ctx.control(sentence("{f}: refuted, from {x0} the field points away from every root",
                         f=dot(x, x**3 - x), x0=sp.Eq(x, start if start is not None else 0)),
                up.status == "refuted" and start is not None
                and (start**3 - start) > 0 and all(start > r.value for r in up.roots))
    K = sp.Symbol("K")
    flipped = -(alpha * c1 - beta / 2 * a1 * (a1**2 - K))
    ctx.control(sentence("the 1-1-1 RBP cubic with its sign flipped, {f}: refuted",
                         f=dot(a1, flipped)),
                sign_analysis(flipped, a1, [beta > 0, sp.Ne(c1, 0)]).status == "refuted")
    down = sign_analysis(x - x**3, x)
    ctx.symbolic(sentence("{f}: proved, roots {r} stable, unstable, stable (positive control)",
                          f=dot(x, x - x**3), r=[rt.value for rt in down.roots or ()]),
                 down.proved and [rt.stability for rt in down.roots] ==
                 ["stable", "unstable", "stable"], check="control", proof="reduction+sign")
    # Lyapunov: a V that increases somewhere must fail, at a point re-checked by substitution
    for V, field, what in [(x**2, {x: x - x**3}, dot(x, x - x**3)),
                           (_RBP_LOSS, sd.derive("1-1-1", "rbp"), "1-1-1 RBP")]:
        r = lyapunov_check(field, V, assumptions=[beta > 0])
        value = _lie_at(field, V, r.counterexample) if r.counterexample else sp.Integer(0)
        ctx.control(sentence("{V} along {f}: refuted, at the counterexample the derivative "
                             "is {d} (recomputed)", V=V, f=what, d=value),
                    r.status == "refuted" and value > 0, counterexample=r.counterexample)
    ok = lyapunov_check({x: -x}, x**2)
    ctx.symbolic(sentence("{V} along {f}: proved (positive control)", V=x**2, f=dot(x, -x)),
                 ok.proved and ok.equilibria_only, check="control", proof="lyapunov")
    # a-priori bound: a quantity that blows up must fail
    blow = apriori_bound({x: x**2}, x**2, a=1, b=1)
    cx = blow.counterexample
    ctx.control(sentence("{f}: the bound {b} is refuted", f=dot(x, x**2),
                         b=Math(rf"{ddt(x**2).latex} \le x^{{2}} + 1",
                                "d/dt (x**2) <= x**2 + 1")),
                blow.status == "refuted" and cx is not None
                and 2 * cx["x"] ** 3 > cx["x"] ** 2 + 1)
    rot = apriori_bound({a1: a2, a2: -a1}, a1**2 + a2**2)
    ctx.symbolic(sentence("a rotation: {Q} bounded, global existence (positive control)",
                          Q=a1**2 + a2**2), rot.proved and rot.global_existence,
                 check="control", proof="a-priori bound")


def _lie_at(field, V, cx) -> sp.Expr:
    """dV/dt at a counterexample, recomputed by substitution into the equations."""
    eqs = field if isinstance(field, dict) else field.equations
    lie = sp.expand(sum(sp.diff(V, y) * f for y, f in eqs.items()))
    return lie.subs({s: sp.Rational(cx[str(s)]) for s in lie.free_symbols if str(s) in cx})
