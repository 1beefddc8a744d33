r"""Independent oracles: each re-computes a piece of symdyn's numerical evidence by a route
that shares none of the machinery it judges, so that ``symdyn verify`` checks itself.

* :func:`rhs_agreement`: the generated right-hand side (``system.numeric``) against sympy's
  own evaluation of the component equations ``system.rhs`` (``lambdify`` with the plain
  ``math`` module, point by point: no generated numpy code);
* :func:`trajectory_agreement`: rows of :func:`~symdyn.numerics.integrate_batch` against
  :func:`scipy.integrate.solve_ivp` (scipy's own DOP853 tableau) on that sympy right-hand
  side, at tight tolerances;
* :func:`fixed_point_agreement`: rows reported converged against the equations: the
  residual :math:`\|f(y)\|_\infty` at the end state and the distance to the nearest root
  of :math:`f` found by Levenberg-Marquardt from it (never the integrator's flag);
* :func:`rule_update`, :func:`ode_agreement`, :func:`sgd_agreement`: the learning rule
  written as a plain numpy loop from the rule classes (forward pass, backward signals by
  ``rule.feedback``, local products, rate, rate ratio, decay): its mean over a data set
  against the derived averaged ODE, and its SGD iteration against
  :func:`~symdyn.training.simulate` (whose code is generated from ``system.update``).

Every function returns ``(passed, cases, worst)``: how many of the checked items agree,
how many were checked, and a one-line description of the worst disagreement."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np
import sympy as sp

from ..numerics import bind_values, integrate_batch
from ..numerics._binding import component_values

__all__ = ["sympy_rhs", "rhs_agreement", "trajectory_agreement", "fixed_point_agreement",
           "rule_update", "ode_agreement", "sgd_agreement", "moment_values", "OracleSteps"]

Outcome = tuple[int, int, str]


def sympy_rhs(system, values: Mapping | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """:math:`f(y)` evaluated by sympy's ``lambdify`` on the plain ``math`` module, one point
    at a time, from the component equations ``system.rhs``."""
    numbers = {k: sp.Float(v, 17) for k, v in component_values(system, values).items()}
    exprs = [e.xreplace(numbers) for e in system.rhs]
    fn = sp.lambdify([list(system.state)], exprs, modules="math")

    def f(y) -> np.ndarray:
        return np.array(fn([float(v) for v in y]), dtype=float)

    return f


def rhs_agreement(system, values: Mapping | None, points: np.ndarray,
                  rel: float = 1e-9) -> Outcome:
    """Generated code against sympy at each point: ``|f_gen - f_sympy| <= rel (1 + |f|)``."""
    points = np.atleast_2d(np.asarray(points, dtype=float))
    f = sympy_rhs(system, values)
    generated = np.asarray(system.numeric(values)(0.0, points), dtype=float)
    worst, passed = (0.0, None), 0
    for y, g in zip(points, generated, strict=True):
        exact = f(y)
        err = float(np.max(np.abs(g - exact)) / (1 + np.max(np.abs(exact)))) if y.size else 0.0
        passed += err <= rel
        if not err <= rel and (worst[1] is None or err > worst[0]):
            worst = (err, y)
    msg = "" if worst[1] is None else (f"generated f differs from sympy's by {worst[0]:.2e} "
                                       f"(relative) at y = {np.round(worst[1], 4).tolist()}")
    return passed, len(points), msg


def trajectory_agreement(system, values: Mapping | None, Y0: np.ndarray, t: float, *,
                         rtol: float = 1e-10, atol: float = 1e-12,
                         rel: float = 1e-6) -> Outcome:
    """Rows of ``integrate_batch`` (at ``rtol``, ``atol``, no early stop) against
    ``solve_ivp(DOP853)`` at ``rtol / 100`` on the sympy right-hand side, compared at ``t``:
    ``|y_batch - y_scipy| <= rel (1 + |y|)``; and the batch takes at most about twice the
    steps scipy's DOP853 takes at the same tolerances (the same pair, the same control)."""
    from scipy.integrate import solve_ivp

    Y0 = np.atleast_2d(np.asarray(Y0, dtype=float))
    r = integrate_batch(system, Y0, t, values, rtol=rtol, atol=atol, stop_on_convergence=False)
    f = sympy_rhs(system, values)
    passed, worst = 0, ""
    for k, y0 in enumerate(Y0):
        sol = solve_ivp(lambda _t, y: f(y), (0.0, t), y0, method="DOP853", rtol=rtol / 100,
                        atol=atol / 100)
        if r.status[k] not in ("running", "converged") or not sol.success:
            worst = f"row {k}: batch {r.status[k]} ({r.message}), scipy {sol.message}"
            continue
        ref = sol.y[:, -1]
        err = float(np.max(np.abs(r.y[k] - ref)) / (1 + np.max(np.abs(ref))))
        # the same pair with the same error control takes the same steps: a wrong tableau
        # can stay accurate by taking many more (a lower order), which is a bug too
        same = solve_ivp(lambda _t, y: f(y), (0.0, t), y0, method="DOP853", rtol=rtol,
                         atol=atol)
        steps = len(same.t) - 1
        if err <= rel and r.nsteps[k] <= 2 * steps + 5:
            passed += 1
        else:
            worst = (f"row {k} from {np.round(y0, 4).tolist()}: batch and scipy differ by "
                     f"{err:.2e} (relative) at t = {t:g}, in {r.nsteps[k]} and {steps} "
                     "steps")
    return passed, len(Y0), worst


def fixed_point_agreement(system, values: Mapping | None, Y: np.ndarray, tol: float, *,
                          distance: float = 1e-5) -> Outcome:
    r"""Each row of ``Y`` (end states reported converged at tolerance ``tol``) is checked
    against the equations: :math:`\|f(y)\|_\infty \le 10\,\mathrm{tol}` by sympy, and a root
    :math:`y^*` of :math:`f` (``|f(y*)| < 1e-11``) found by Levenberg-Marquardt from
    :math:`y` lies within ``distance`` :math:`(1 + \|y\|)`."""
    from scipy.optimize import least_squares

    Y = np.atleast_2d(np.asarray(Y, dtype=float))
    f = sympy_rhs(system, values)
    numbers = {k: sp.Float(v, 17) for k, v in component_values(system, values).items()}
    J = sp.Matrix(system.rhs).jacobian(list(system.state)).xreplace(numbers)
    jac = sp.lambdify([list(system.state)], J.tolist(), modules="math")
    passed, worst = 0, ""
    for y in Y:
        res = float(np.max(np.abs(f(y)))) if y.size else 0.0
        sol = least_squares(f, y, jac=lambda x: np.array(jac([float(v) for v in x]), float),
                            method="lm", xtol=1e-15, ftol=1e-15, gtol=1e-15)
        root_res = float(np.max(np.abs(f(sol.x)))) if y.size else 0.0
        dist = float(np.max(np.abs(sol.x - y))) if y.size else 0.0
        bound = distance * (1 + float(np.max(np.abs(y))))
        if res <= 10 * tol and root_res < 1e-11 and dist <= bound:
            passed += 1
        else:
            worst = (f"end state {np.round(y, 6).tolist()}: |f| = {res:.1e} (tol {tol:g}), "
                     f"nearest root found at distance {dist:.1e} (|f| there {root_res:.1e}; "
                     f"allowed {bound:.1e})")
    return passed, len(Y), worst


# -- the rule as a plain numpy loop -------------------------------------------------------------


def _elementwise(act, which: str) -> Callable[[np.ndarray], np.ndarray]:
    if act.is_linear:
        k = float(act.slope if act.slope is not None else 1)
        return (lambda x: k * x) if which == "function" else (lambda x: k * np.ones_like(x))
    lam = getattr(act, which)
    x = sp.Symbol("x")
    fn = sp.lambdify(x, lam(x), modules="math")
    return np.vectorize(lambda v: float(fn(float(v))), otypes=[float])


def moment_values(system, X: np.ndarray, Y: np.ndarray) -> dict:
    """Values of the moment parameters ``Sigma_II``, ``Sigma_TI`` of a system derived with
    symbolic moments, for the data ``X`` (N, n0), ``Y`` (N, nL); empty otherwise."""
    out = {}
    data = {"Sigma_II": X.T @ X / len(X), "Sigma_TI": Y.T @ X / len(X)}
    for p in system.matrix.parameters:
        if isinstance(p, sp.MatrixSymbol) and p.name in data and p not in system.matrix.values:
            if p.shape == (1, 1):
                out[str(system.components(p)[0, 0])] = float(data[p.name][0, 0])
            else:
                out[p.name] = data[p.name]
    return out


def rule_update(system, values: Mapping | None = None) -> Callable:
    r"""The per-sample update :math:`\Delta y(y; I, T)` computed in numpy from the rule
    object (``feedback``, ``channel_update`` on arrays) and the network, without any code
    generated from the derivation: :math:`\Delta A_h = \eta(B_h O_{h-1}^T - d A_h)`,
    :math:`\Delta C_h = \eta(\lambda U_h - d C_h)`."""
    from ..rules import Signals

    net, rule = system.network, system.rule
    numbers = {str(k): v for k, v in component_values(system, values).items()}

    def scalar(e) -> float:
        return float(sp.sympify(e).xreplace({s: numbers[str(s)] for s in
                                             sp.sympify(e).free_symbols}))

    eta, d = scalar(rule.rate), scalar(rule.decay)
    lam = scalar(getattr(rule, "rate_ratio", 1))
    f = [_elementwise(a, "function") for a in net.activations]
    fp = [_elementwise(a, "derivative") for a in net.activations]
    g = _elementwise(rule.channel_activation, "function")
    bound, _ = bind_values(system, values, system.matrix.parameters)
    fixed = {int(p.name[1:]): np.asarray(a, float) for p, a in bound.items()
             if isinstance(p, sp.MatrixSymbol) and p.name[0] == "C" and p.name[1:].isdigit()}
    shapes = [(m.name, m.shape) for m in system.matrix.state]
    L = net.depth

    def update(y, I, T):  # noqa: E741
        y = np.asarray(y, float)
        mats, k = {}, 0
        for name, (r, c) in shapes:
            mats[name] = y[k:k + r * c].reshape(r, c)
            k += r * c
        A = {h: mats[f"A{h}"] for h in range(1, L + 1)}
        C = {h: mats.get(f"C{h}", fixed.get(h)) for h in range(1, L)}
        C = {h: c for h, c in C.items() if c is not None}
        s = Signals(net, A, C, O={0: np.reshape(I, (-1, 1))})
        for h in range(1, L + 1):
            s.S[h] = A[h] @ s.O[h - 1]
            s.O[h] = f[h - 1](s.S[h])
        s.E = np.reshape(T, (-1, 1)) - s.O[L]
        s.B[L] = fp[L - 1](s.S[L]) * s.E
        for h in range(L - 1, 0, -1):
            signal = g(rule.feedback(s, h))
            s.B[h] = fp[h - 1](s.S[h]) * signal if rule.derivative else signal
        out = [eta * (s.B[h] @ s.O[h - 1].T - d * A[h]) for h in range(1, L + 1)]
        if rule.adaptive:
            out += [eta * (lam * rule.channel_update(s, h) - d * C[h]) for h in sorted(C)]
        return np.concatenate([o.ravel() for o in out])

    return update


def ode_agreement(system, values: Mapping | None, X: np.ndarray, Y: np.ndarray,
                  points: np.ndarray, rel: float = 1e-9) -> Outcome:
    """The derived averaged ODE (sympy's evaluation of ``system.rhs``) against the mean of
    the numpy rule over the samples ``X``, ``Y``, at each point."""
    values = {**dict(values or {}), **moment_values(system, X, Y)}
    f = sympy_rhs(system, values)
    u = rule_update(system, values)
    passed, worst = 0, ""
    for y in np.atleast_2d(points):
        mean = np.mean([u(y, i, t) for i, t in zip(X, Y, strict=True)], axis=0)
        exact = f(y)
        err = float(np.max(np.abs(mean - exact)) / (1 + np.max(np.abs(mean))))
        if err <= rel:
            passed += 1
        else:
            worst = (f"at y = {np.round(y, 4).tolist()} the derived ODE and the mean of the "
                     f"rule differ by {err:.2e} (relative)")
    return passed, len(np.atleast_2d(points)), worst


def sgd_agreement(system, values: Mapping | None, X: np.ndarray, Y: np.ndarray, y0,
                  lr: float, steps: int, rel: float = 1e-9) -> Outcome:
    """Full-batch SGD by :func:`~symdyn.training.simulate` (generated code) against the
    plain loop :math:`y \\leftarrow y + \\mathrm{lr}\\cdot\\mathrm{mean}_k\\,\\Delta y(y;
    I_k, T_k)` of :func:`rule_update`; every step compared."""
    from ..training import simulate

    u = rule_update(system, {**dict(values or {}), **moment_values(system, X, Y)})
    r = simulate(system, X, Y, lr=lr, steps=steps, y0=y0, values=values, batch_size=len(X),
                 sampling="shuffle", record_every=1)
    y = np.array(y0, dtype=float)
    passed, worst = 0, ""
    for k in range(1, steps + 1):
        y = y + lr * np.mean([u(y, i, t) for i, t in zip(X, Y, strict=True)], axis=0)
        err = float(np.max(np.abs(r.y[k] - y)) / (1 + np.max(np.abs(y))))
        if err <= rel and math.isfinite(err):
            passed += 1
        elif not worst:
            worst = f"step {k}: simulate and the numpy rule differ by {err:.2e} (relative)"
    return passed, steps, worst


# -- as steps of a proof ------------------------------------------------------------------------


def _label(system) -> str:
    """The network and rule in words (option names, no formulas)."""
    opts = [k.replace("_", " ") for k in system.rule.options]
    return ("-".join(map(str, system.network.sizes)) + f" {system.rule.name.upper()}"
            + (f" with {', '.join(opts)}" if opts else ""))


def _amended(statement, text: str):
    """``statement`` (a string or a :class:`~symdyn.verify.Sentence`) with ``text`` added."""
    if isinstance(statement, str) or not text:
        return statement + text if text else statement
    out = type(statement)()
    out.parts = [*statement.parts, text]
    return out


class OracleSteps:
    """The oracle and control steps of :class:`~symdyn.verify.ProofContext` (mixed in: it
    supplies ``numeric``, ``symbolic``, ``_guard`` and ``seed``). Each records one step
    tagged ``check="oracle"`` or ``"control"``; a failed one stops the result's numerical
    steps."""

    def control(self, statement: str, refuted: bool, *, counterexample=None,
                kind: str = "symbolic") -> bool:
        """A negative control: a check whose correct outcome is a refutation (a false claim
        refuted, a wrong answer rejected). If it is not refuted, the machinery itself is
        broken, and the step says so."""
        if not refuted:
            statement = _amended(statement, " -- NOT refuted: the verification machinery "
                                            "itself is broken")
        if kind == "numeric":
            return self.numeric(statement, int(refuted), 1, counterexample=counterexample,
                                check="control")
        return self.symbolic(statement, refuted, counterexample=counterexample,
                             check="control")

    def _oracle(self, statement: str, outcome: Outcome, **math) -> bool:
        from .._typeset import sentence

        passed, cases, worst = outcome
        return self.numeric(_amended(sentence(statement, **math), f"; {worst}" if worst else
                                     ""), passed, cases, check="oracle")

    def _points(self, system, points, scale: float) -> np.ndarray:
        if isinstance(points, int):
            rng = np.random.default_rng(self.seed)
            return rng.normal(scale=scale, size=(points, system.size))
        return np.atleast_2d(np.asarray(points, dtype=float))

    def oracle_rhs(self, system, values: Mapping | None = None, points=4,
                   scale: float = 1.0) -> bool:
        """The generated right-hand side against sympy's evaluation of the equations at
        ``points`` (an array, or how many to draw)."""
        self._guard()
        Y = self._points(system, points, scale)
        return self._oracle(f"{_label(system)}: generated f equals sympy's evaluation of the "
                            f"equations at {len(Y)} points",
                            rhs_agreement(system, values, Y))

    def oracle_trajectories(self, system, values: Mapping | None, y0=2, t: float = 5.0,
                            scale: float = 0.7) -> bool:
        """Batched trajectories against scipy's solve_ivp on the sympy right-hand side."""
        self._guard()
        Y0 = self._points(system, y0, scale)
        return self._oracle(f"{_label(system)}: {len(Y0)} batched trajectories equal "
                            "scipy's DOP853 at tight tolerances at {t}, in as many steps",
                            trajectory_agreement(system, values, Y0, t),
                            t=sp.Eq(sp.Symbol("t"), sp.nsimplify(t)))

    def oracle_fixed_point(self, system, values: Mapping | None, y0, t_final: float,
                           tol: float, **options) -> bool:
        """Integrate ``y0`` as a proof does (``integrate_batch`` with ``tol`` and
        ``options``) and check every row reported converged against the equations."""
        self._guard()
        r = integrate_batch(system, np.atleast_2d(y0), t_final, values, tol=tol, **options)
        rows = r.y[r.converged]
        passed, cases, worst = fixed_point_agreement(system, values, rows, tol)
        if cases == 0:
            worst = f"no row converged to check ({r.message})"
        return self._oracle(f"{_label(system)}: the {cases} rows reported converged are "
                            f"fixed points of the equations (residual and distance to a "
                            f"root, not the integrator's flag)", (passed, cases, worst))

    def oracle_ode(self, system, values: Mapping | None, X, Y, points=3,
                   scale: float = 0.7) -> bool:
        """The derived averaged ODE against the mean of the rule written in numpy."""
        self._guard()
        P = self._points(system, points, scale)
        return self._oracle(f"{_label(system)}: the derived ODE equals the mean over "
                            f"{len(X)} samples of the rule computed in numpy, at {len(P)} "
                            "points", ode_agreement(system, values, np.asarray(X, float),
                                                    np.asarray(Y, float), P))

    def oracle_sgd(self, system, X, Y, values: Mapping | None, y0, lr: float = 0.05,
                   steps: int = 20) -> bool:
        """Full-batch SGD by ``simulate`` against a plain numpy loop of the rule."""
        self._guard()
        return self._oracle(f"{_label(system)}: {steps} full-batch SGD steps of simulate "
                            "equal a plain numpy loop of the rule",
                            sgd_agreement(system, values, np.asarray(X, float),
                                          np.asarray(Y, float), y0, lr, steps))
