"""PAPER.md section 4, first integrals: found by the invariant search, proved by Lie
derivatives, and conserved along integrated trajectories."""

from __future__ import annotations

import numpy as np
import sympy as sp
from _common import chain, conserved, invariant_steps, parameter_examples, random_values, seeds
from hypothesis import strategies as st

import symdyn as sd
from symdyn.analysis import invariants, verify_invariant
from symdyn.verify import proof

TOL = 1e-7  # relative drift allowed of a conserved quantity at rtol 1e-10


def _spanned(found, expected, state) -> bool:
    """Every expected polynomial is a linear combination (over the parameters) of found."""
    found = [sp.Poly(sp.expand(f), *state) for f in found]
    monos = sorted({m for f in found for m in f.monoms()} |
                   {m for e in expected for m in sp.Poly(sp.expand(e), *state).monoms()})
    M = sp.Matrix([[f.coeff_monomial(m) for m in monos] for f in found])
    for e in expected:
        pe = sp.Poly(sp.expand(e), *state)
        row = sp.Matrix([[pe.coeff_monomial(m) for m in monos]])
        if M.col_join(row).rank(simplify=True) != M.rank(simplify=True):
            return False
    return True


def _search_step(ctx, system, expected, label):
    found = invariants(system, degree=2)
    ctx.symbolic(f"{label}: the degree-2 invariant search finds {len(found)} first "
                 f"integrals whose span contains {', '.join(map(str, expected))}",
                 _spanned(found, expected, system.state))


def _conservation(ctx, system, Hs, label, n):
    """Random parameters and starts drawn by hypothesis: every H drifts < TOL."""

    def check(example):
        params, seed = example
        values = random_values(system, params)
        y0 = np.random.default_rng(seed).normal(scale=0.7, size=(4, system.size))
        return all(np.all(conserved(system, H, values, y0) < TOL) for H in Hs)

    ctx.sample(f"{label}: conserved to {TOL:g} (relative) for t in [0, 20], 4 starts per "
               "case", st.tuples(parameter_examples(system), seeds), check, n)


@proof("bp-111-invariant", title="1-1-1 BP conserves a1^2 - a2^2",
       claim=r"For the 1-1-1 linear chain trained by BP, $a_1^2 - a_2^2$ is a first "
             r"integral: $\frac{d}{dt}(a_1^2 - a_2^2) = 0$.")
def bp_111(ctx):
    s = sd.derive("1-1-1", "bp")
    a1, a2 = s.state
    invariant_steps(ctx, s, [a1**2 - a2**2], "1-1-1 BP")
    _search_step(ctx, s, [a1**2 - a2**2], "1-1-1 BP")
    _conservation(ctx, s, [a1**2 - a2**2], "1-1-1 BP", ctx.cases(4, 30))


@proof("rbp-chain-invariants", title="RBP chains conserve a_h^2 - 2 c_h a_{h+1}",
       claim=r"For the linear chain of any depth $L$ trained by RBP, "
             r"$a_h^2 - 2 c_h a_{h+1}$ is a first integral for $h = 1, \dots, L-1$ "
             r"(checked for $L = 2, \dots, 5$).")
def rbp_chain(ctx):
    def integrals(s, depth):
        a, c = s.state, s.parameters[: depth - 1]
        return [a[h] ** 2 - 2 * c[h] * a[h + 1] for h in range(depth - 1)]

    for depth in range(2, 6):
        s = chain(depth, "rbp")
        invariant_steps(ctx, s, integrals(s, depth), f"RBP depth {depth}")
        _search_step(ctx, s, integrals(s, depth), f"RBP depth {depth}")
    s = chain(3, "rbp")
    _conservation(ctx, s, integrals(s, 3), "RBP depth 3", ctx.cases(4, 30))


@proof("srbp-chain-invariants", title="SRBP chains conserve c_{h+1} a_h^2/2 - c_h a_{h+1}",
       claim=r"For the linear chain of depth $L$ trained by SRBP, "
             r"$c_{h+1} a_h^2/2 - c_h a_{h+1}$ ($h + 1 < L$) and "
             r"$a_{L-1}^2/2 - c_{L-1} a_L$ are first integrals (checked for "
             r"$L = 2, \dots, 5$).")
def srbp_chain(ctx):
    for depth in range(2, 6):
        s = chain(depth, "srbp")
        a, c = s.state, s.parameters[: depth - 1]
        Hs = [c[h + 1] * a[h] ** 2 / 2 - c[h] * a[h + 1] for h in range(depth - 2)]
        Hs.append(a[depth - 2] ** 2 / 2 - c[depth - 2] * a[depth - 1])
        invariant_steps(ctx, s, Hs, f"SRBP depth {depth}")
        _search_step(ctx, s, Hs, f"SRBP depth {depth}")


@proof("arbp-111-invariants", title="1-1-1 ARBP: two first integrals and a saddle",
       claim=r"For 1-1-1 ARBP with rate ratio $\lambda$, $c_1 - \lambda a_2$ and "
             r"$a_1^2 - c_1^2/\lambda$ are first integrals. The fixed points are the surface "
             r"$a_1 a_2 = \alpha/\beta$ and the line $a_1 = c_1 = 0$ ($a_2$ free; one point "
             r"on each level set of $c_1 - a_2$), where the Jacobian has eigenvalues "
             r"$\{\alpha, -\alpha, 0\}$: a saddle.")
def arbp_111(ctx):
    from symdyn.analysis import fixed_points, jacobian

    lam = sp.Symbol("lamda")
    s = sd.derive("1-1-1", "arbp", rate_ratio="lamda")
    a1, a2, c1 = s.state
    invariant_steps(ctx, s, [c1 - lam * a2, a1**2 - c1**2 / lam], "1-1-1 ARBP")
    s1 = sd.derive("1-1-1", "arbp")
    alpha, beta = sp.symbols("alpha beta")
    fps = fixed_points(s1)
    surface = [p for p in fps if p.dimension == 2]
    line = [p for p in fps if p.dimension == 1 and p.solution.get(a1) == 0
            and p.solution.get(c1) == 0]
    ctx.symbolic("the fixed points include the surface a1*a2 = alpha/beta (dimension 2)",
                 any(sp.simplify(a1 * a2 - alpha / beta).subs(p.solution) == 0
                     for p in surface))
    J = sp.Matrix(jacobian(s1)).subs({a1: 0, c1: 0})
    eig = set(J.eigenvals())
    ctx.symbolic(f"on a1 = c1 = 0 the Jacobian has eigenvalues {sorted(eig, key=str)}",
                 eig == {alpha, -alpha, 0} and bool(line),
                 latex=r"\operatorname{spec} J|_{a_1 = c_1 = 0} = \{\alpha, -\alpha, 0\}")
    ctx.symbolic("classified as a saddle", bool(line) and line[0].stability == "saddle")


@proof("linear-matrix-invariants", title="Matrix first integrals of the linear n0-n1-n2 "
       "network", claim=r"For the linear network with one hidden layer (forward $A_1, A_2$, "
       r"channel $C$), BP conserves $A_1 A_1^T - A_2^T A_2$, RBP conserves "
       r"$A_1 A_1^T - C A_2 - A_2^T C^T$ and ARBP conserves $C - \lambda A_2^T$, as matrix "
       r"identities for all sizes.")
def matrix_invariants(ctx):
    lam = sp.Symbol("lamda")
    for rule, H in [
        ("bp", lambda A1, A2, C: A1 * A1.T - A2.T * A2),
        ("rbp", lambda A1, A2, C: A1 * A1.T - C * A2 - A2.T * C.T),
        ("arbp", lambda A1, A2, C: C - lam * A2.T),
    ]:
        s = sd.derive("5-4-3", rule, **({"rate_ratio": "lamda"} if rule == "arbp" else {}))
        mats = {m.name: m for m in (*s.matrix.state, *s.matrix.parameters)
                if isinstance(m, sp.MatrixSymbol)}
        expr = H(mats["A1"], mats["A2"], mats.get("C1"))
        check = verify_invariant(s, expr)
        ctx.symbolic(f"{rule.upper()}: d/dt ({expr}) = 0 ({check.method})", check.holds,
                     latex=rf"\frac{{d}}{{dt}}\left({sp.latex(expr)}\right) = 0")
