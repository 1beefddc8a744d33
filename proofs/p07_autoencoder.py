"""Theorem (2) of the companion paper's abstract: the linear autoencoder with decorrelated
data (Sigma_II = Sigma_TI = I, n0 = n2 = n, hidden width m <= n) under BP and RBP: its fixed
points classified exactly, their stability, and convergence where the proof closes."""

from __future__ import annotations

import numpy as np
import sympy as sp
from _theorems import (
    A1m,
    A2m,
    Cm,
    K,
    Pm,
    autoencoder,
    blocks,
    channel,
    g,
    lie,
    m_,
    n_,
    p,
    q,
    r,
    s,
    sizes_text,
    sq,
    w,
    zero,
)

from symdyn.analysis import lyapunov_check
from symdyn.numerics import integrate_batch
from symdyn.report import Math, dot
from symdyn.verify import proof, sentence

#: the orthogonal projection onto the row space of C
PI_C = Cm.T * (Cm * Cm.T).I * Cm
H = sp.MatrixSymbol("H", m_, m_)
LOSS = sp.Symbol("L")


@proof("autoencoder-theorem", title="Theorem 2: the linear autoencoder with decorrelated data",
       hypotheses=sentence("Linear network with sizes {sizes}, {m}, data with {sii} and "
                           "{sti} (targets equal inputs, decorrelated); loss {L}; RBP with a "
                           "fixed channel {C} of rank {m}.", sizes=Math("n-m-n", "n-m-n"),
                           m=m_ <= n_, sii=Math(r"\Sigma_{II} = I", "Sigma_II = I"),
                           sti=Math(r"\Sigma_{TI} = I", "Sigma_TI = I"),
                           L=Math(r"L = \tfrac12 \lVert I - P \rVert^2", "L = ||I - P||^2 / 2"),
                           C=Cm),
       claim=sentence(
           "(a) Every fixed point of BP has {P} an orthogonal projection ({proj}), of some rank "
           "at most {m}; BP decreases {L}, every trajectory is bounded and converges to one "
           "fixed point, and from every start with {below} the limit has rank {m}, a global "
           "minimum. (b) For every {mn}, the fixed points of RBP are exactly {fam} with {H} "
           "invertible; all have {pc}, the orthogonal projection onto the row space of {C}, "
           "so every RBP fixed point is a global minimum of {L}. (c) For {m1} (sizes {n1n}) "
           "every RBP trajectory converges to a fixed point; from every start whose first "
           "weights are not parallel to the channel the limit is one of the stable fixed "
           "points ({spos}); the others ({sneg}) are unstable for {n2}. Larger hidden widths: "
           "numerical evidence only.",
           P=Pm, proj=sp.Eq(Pm, Pm.T * Pm), m=m_, L=LOSS,
           below=LOSS < (n_ - m_ + 1) / 2, mn=m_ <= n_,
           fam=Math(r"A_1 = H C,\ A_2 = C^T (C C^T)^{-1} H^{-1}",
                    "A1 = H C, A2 = C^T (C C^T)^-1 H^-1"),
           H=H, pc=sp.Eq(Pm, PI_C), C=Cm, m1=sp.Eq(m_, 1), n1n=Math("n-1-n", "n-1-n"),
           spos=s > 0, sneg=s < 0, n2=n_ >= 2))
def autoencoder_theorem(ctx):
    sizes = [(2, 1), (3, 1), (2, 2)] if ctx.quick else [(2, 1), (3, 1), (4, 1), (2, 2), (3, 2)]
    bp_fixed_points(ctx, sizes)
    bp_stability(ctx, sizes)
    bp_convergence(ctx)
    rbp_classification(ctx, sizes)
    rbp_stability(ctx, [n for n, m in sizes if m == 1])
    rbp_reduction(ctx, [n for n, m in sizes if m == 1])
    evidence(ctx)


def bp_fixed_points(ctx, sizes):
    ok = True
    for n, m in sizes:
        A1, A2, D1, _ = blocks(autoencoder(n, m, "bp"), n, m, n)
        P = A2 * A1
        ok &= zero(P - P.T * P - D1.T * A1)
    ctx.symbolic(sentence("BP: {id} along the equations, so at a fixed point {proj}: {P} is "
                          "symmetric and idempotent, an orthogonal projection, and {L} equals "
                          "half the dimension of its kernel (entry by entry for sizes "
                          f"{sizes_text((n, m, n) for n, m in sizes)}; a matrix identity)",
                          id=Math(r"P - P^T P = \dot A_1^T A_1", "P - P^T P = (dA1/dt)^T A1"),
                          proj=sp.Eq(Pm, Pm.T * Pm), P=Pm, L=LOSS), ok,
                 proof="exact classification", covers="every n-m-n (matrix identity)",
                 part="BP fixed points")


def bp_stability(ctx, sizes):
    ok = True
    for n, m in sizes:
        s = autoencoder(n, m, "bp")
        J = sp.Matrix(s.rhs).jacobian(s.state).subs({x: 0 for x in s.state})
        ok &= set(J.eigenvals()) == {-1, 1}
    s = autoencoder(2, 2, "bp")
    rank1 = dict(zip(s.state, (1, 0, 0, 0, 1, 0, 0, 0)))
    J = sp.Matrix(s.rhs).jacobian(s.state).subs(rank1)
    ok &= all(e.subs(rank1) == 0 for e in s.rhs) and J.eigenvals() == {-2: 2, 0: 4, -1: 1, 1: 1}
    ctx.symbolic(sentence("BP: the origin is a saddle, its Jacobian has eigenvalues {ev} (sizes "
                          f"{sizes_text((n, m, n) for n, m in sizes)}; the linearisation there "
                          "swaps the two weight matrices, for every size); the rank-1 "
                          "projection {pt} of 2-2-2 is a saddle too (eigenvalue 1); the fixed "
                          "points of rank {m} are the global minima of {L}. Other fixed points "
                          "of rank below {m}: not classified here", m=m_, ev=sp.FiniteSet(-1, 1),
                          pt=Math(r"A_1 = A_2 = \operatorname{diag}(1, 0)",
                                  "A1 = A2 = diag(1, 0)"), L=LOSS), ok,
                 proof="exact classification", covers="origin: every n-m-n; rank 1: 2-2-2",
                 part="BP fixed points")


def bp_convergence(ctx):
    for n, m in ((2, 1), (2, 2)):
        sys_ = autoencoder(n, m, "bp")
        A1, A2, _, _ = blocks(sys_, n, m, n)
        L = sq(sp.eye(n) - A2 * A1) / 2
        res = lyapunov_check(sys_, L, lasalle=False)
        ctx.symbolic(sentence(f"BP {n}-{m}-{n}: {{L}} is a Lyapunov function, {{d}} (a sum of "
                              "squares: the flow is the gradient flow of the loss)",
                              L=LOSS, d=Math(r"\dot L = -\lVert \nabla L \rVert^2 \le 0",
                                             "dL/dt = -|grad L|^2 <= 0")),
                     res.proved, proof="lyapunov", covers=f"{n}-{m}-{n}",
                     part="BP convergence")
    R, Kb = sp.MatrixSymbol("R", m_, m_), sp.MatrixSymbol("K", m_, m_)
    n, m = 2, 2
    A1, A2, _, _ = blocks(autoencoder(n, m, "bp"), n, m, n)
    Rv = A1 * A1.T
    Kv = Rv - A2.T * A2
    ok = zero((Rv * Rv).trace() - sq(A2 * A1) - (Kv * Rv).trace())
    ctx.symbolic(sentence("the bound: with {R} and the first integral {K}, {id}; since {L} "
                          "does not increase, the norm of {P} stays bounded, hence so do {R} "
                          "and both weight matrices, uniformly in time (checked entry by entry "
                          "for 2-2-2)", R=sp.Eq(R, A1m * A1m.T),
                          K=sp.Eq(Kb, A1m * A1m.T - A2m.T * A2m),
                          id=Math(r"\lVert R \rVert^2 = \lVert P \rVert^2 + "
                                  r"\operatorname{tr}(K R)",
                                  "||R||^2 = ||P||^2 + tr(K R)"), L=LOSS, P=Pm), ok,
                 proof="a-priori bound", covers="every n-m-n (matrix identity)",
                 part="BP convergence")
    ctx.note(sentence("So every BP trajectory is bounded; the loss is a polynomial, hence "
                      "analytic, and a bounded trajectory of an analytic gradient flow "
                      "converges to a single critical point (Lojasiewicz; cited, not checked "
                      "here). The limit is a fixed point with {val}, where {rk} is its rank; "
                      "as {L} never increases, a start with {below} ends with rank {m}.",
                      val=sp.Eq(LOSS, (n_ - sp.Symbol("k")) / 2), rk=sp.Symbol("k"), L=LOSS,
                      below=LOSS < (n_ - m_ + 1) / 2, m=m_))


def rbp_classification(ctx, sizes):
    ok_id, ok_family = True, True
    for n, m in sizes:
        sys_ = autoencoder(n, m, "rbp")
        A1, A2, D1, D2 = blocks(sys_, n, m, n)
        C = channel(sys_, m, n)
        Q, R, U = C * A2, A1 * A1.T, A1 * C.T
        ok_id &= zero(D1 - (C - Q * A1)) and zero(D2 - (A1.T - A2 * R))
        ok_id &= zero(lie(sys_, U) - (C * C.T - Q * U))
        Hs = sp.Matrix(m, m, lambda i, j: sp.Symbol(f"h{i}{j}"))
        fam = {**dict(zip(A1, Hs * C)),
               **dict(zip(A2, C.T * (C * C.T).inv() * Hs.inv()))}
        ok_family &= all(sp.simplify(e.xreplace(fam)) == 0 for e in sys_.rhs)
    sz = sizes_text((n, m, n) for n, m in sizes)
    Q, U = sp.MatrixSymbol("Q", m_, m_), sp.MatrixSymbol("U", m_, m_)
    ctx.symbolic(sentence("RBP: with {Q} and {U}, the equations read {d1}, {d2} and {du} "
                          f"(entry by entry for sizes {sz}; matrix identities)",
                          Q=sp.Eq(Q, Cm * A2m), U=sp.Eq(U, A1m * Cm.T),
                          d1=Math(r"\dot A_1 = C - Q A_1", "dA1/dt = C - Q A1"),
                          d2=Math(r"\dot A_2 = A_1^T - A_2 A_1 A_1^T",
                                  "dA2/dt = A1^T - A2 A1 A1^T"),
                          du=Math(r"\dot U = C C^T - Q U", "dU/dt = C C^T - Q U")),
                 ok_id, proof="identity", covers="every n-m-n", part="RBP fixed points")
    ctx.symbolic(sentence("every point of the family {fam} is a fixed point, with {P} (by "
                          f"substitution, {{H}} and {{C}} symbolic, sizes {sz})",
                          fam=Math(r"A_1 = H C,\ A_2 = C^T (C C^T)^{-1} H^{-1}",
                                   "A1 = H C, A2 = C^T (C C^T)^-1 H^-1"),
                          P=sp.Eq(Pm, PI_C), H=H, C=Cm), ok_family,
                 proof="exact classification", covers=sz, part="RBP fixed points")
    sys_ = autoencoder(2, 1, "rbp")
    wrong = {**dict(zip(sys_.state, (1, 0, 1, 0)))}  # BP's projection onto the first axis
    moved = [e.xreplace(wrong).xreplace({sys_.parameters[0]: 1, sys_.parameters[1]: 1})
             for e in sys_.rhs]
    ctx.control(sentence("negative control: a BP fixed point whose row space is not that of "
                         "{C} (projection onto the first axis, {c}) is refuted as an RBP fixed "
                         "point", C=Cm, c=Math("c = (1, 1)", "c = (1, 1)")),
                any(v != 0 for v in moved))
    ctx.note(sentence("Conversely, at a fixed point {qu} with {cc} invertible, so {Q} and {U} "
                      "are invertible; the part of {A1} orthogonal to the row space of {C} "
                      "obeys {perp}, so it vanishes, and {A1} has the form {HC}; then the "
                      "second equation gives {A2}. This closes the classification for every "
                      "{mn}: every RBP fixed point has {P}, with loss {val}, the minimum over "
                      "maps of rank at most {m} (Eckart-Young with identity moments).",
                      qu=sp.Eq(Q * U, Cm * Cm.T), cc=Cm * Cm.T, Q=Q, U=U, A1=A1m, C=Cm,
                      perp=Math(r"\dot A_1^{\perp} = -Q A_1^{\perp}", "dA1perp/dt = -Q A1perp"),
                      HC=sp.Eq(A1m, H * Cm), A2=sp.Eq(A2m, Cm.T * U.I), mn=m_ <= n_,
                      P=sp.Eq(Pm, PI_C), val=sp.Eq(LOSS, (n_ - m_) / 2), m=m_))


def rbp_stability(ctx, ns):
    lam = sp.Symbol("mu")
    named = ", ".join(f"{n}-1-{n}" for n in ns)
    ok = True
    for n in ns:
        sys_ = autoencoder(n, 1, "rbp")
        C = channel(sys_, 1, n)
        gv = sq(C)
        fp = dict(zip(sys_.state, [*(s * C), *(C.T / (s * gv))]))
        J = sp.Matrix(sys_.rhs).jacobian(sys_.state).xreplace(fp)
        qv, rv = 1 / s, gv * s**2
        expected = lam * (lam + qv) ** (n - 1) * (lam + rv) ** (n - 1) * (lam + rv + qv)
        ok &= sp.simplify(J.charpoly(lam).as_expr() - sp.expand(expected)) == 0
    ctx.symbolic(sentence("RBP, {m1}: the fixed points are {fam}; the eigenvalues of the "
                          "Jacobian there are {ev} with {qr}: all non-zero ones negative iff "
                          "{spos}, and {neg} is an unstable eigenvalue when {sneg} and {n2} "
                          f"(characteristic polynomial, sizes {named})",
                          m1=sp.Eq(m_, 1),
                          fam=Math(r"A_1 = s\,c^T,\ A_2 = c / (s\,g)", "A1 = s c^T, A2 = c/(s g)"),
                          ev=Math(r"0,\ -q\ (n-1\text{ times}),\ -r\ (n-1\text{ times}),\ "
                                  r"-(q + r)", "0, -q (n-1 times), -r (n-1 times), -(q+r)"),
                          qr=[sp.Eq(q, 1 / s), sp.Eq(r, g * s**2), sp.Eq(g, sp.Symbol("|c|")**2)],
                          spos=s > 0, neg=-q, sneg=s < 0, n2=n_ >= 2), ok,
                 proof="exact classification", covers=named, part="RBP stability, width 1")


def rbp_reduction(ctx, ns):
    ok = True
    for n in ns:
        sys_ = autoencoder(n, 1, "rbp")
        A1, A2, _, _ = blocks(sys_, n, 1, n)
        C = channel(sys_, 1, n)
        gv, pv, qv, rv = sq(C), (A1 * C.T)[0], (C * A2)[0], sq(A1)
        wv = gv * rv - pv**2  # g w, kept polynomial
        ok &= zero(lie(sys_, pv) - (gv - pv * qv)) and zero(lie(sys_, qv) - (pv - qv * rv))
        ok &= zero(lie(sys_, rv - 2 * qv)) and zero(lie(sys_, wv) + 2 * qv * wv)
    planar = {p: g - p * q, q: p - q * (K + 2 * q)}
    ctx.symbolic(sentence("RBP, {m1}: with {defs}, the first integral {Kdef} and {wdef} "
                          "(non-negative, zero exactly when the weights are parallel to {c}), "
                          "the dynamics reduces to the planar system {sys} and {wdot} "
                          f"(checked for {', '.join(f'{n}-1-{n}' for n in ns)})",
                          m1=sp.Eq(m_, 1), defs=[sp.Eq(p, sp.Symbol("c.u")),
                                                 sp.Eq(q, sp.Symbol("c.v"))],
                          Kdef=sp.Eq(K, r - 2 * q), wdef=sp.Eq(w, r - p**2 / g),
                          c=sp.Symbol("c"), sys=[dot(p, planar[p]), dot(q, planar[q])],
                          wdot=dot(w, -2 * q * w)), ok,
                 proof="reduction+sign", covers="n-1-n, every n (matrix identities)",
                 part="RBP convergence, width 1")
    cubic = 2 * q**3 + K * q**2 - g
    J = sp.Matrix([planar[p], planar[q]]).jacobian([p, q])
    at = {p: g / q, K: g / q**2 - 2 * q}
    tr, det = sp.simplify(J.trace().subs(at)), sp.simplify(J.det().subs(at))
    qpos = sp.Symbol("q", positive=True)
    gpos = sp.Symbol("g", positive=True)
    signs = (tr.subs({q: qpos, g: gpos}).is_negative and det.subs({q: qpos, g: gpos}).is_positive)
    one_root = (cubic.subs(q, 0) == -g and sp.diff(cubic, q) == 6 * q**2 + 2 * K * q)
    ctx.symbolic(sentence("the equilibria of the planar system are the roots of {cubic} with "
                          "{pq}; it has exactly one positive root (negative at 0, and on the "
                          "positive axis monotone or decreasing then increasing); there the "
                          "trace {tr} is negative and the determinant {det} positive: a "
                          "hyperbolic sink", cubic=cubic, pq=sp.Eq(p, g / q), tr=tr, det=det),
                 bool(signs and one_root), proof="reduction+sign", covers="n-1-n, every n",
                 part="RBP convergence, width 1")
    ctx.symbolic(sentence("a-priori bound: {rdot} and {pr} (as {wpos}), so {r} decreases once "
                          "it is large: every trajectory is bounded",
                          rdot=dot(r, 2 * p - (r - K) * r),
                          pr=p**2 <= g * r, wpos=w >= 0, r=r),
                 sp.expand(2 * planar[q] - (2 * p - (r - K) * r).subs(r, K + 2 * q)) == 0,
                 proof="a-priori bound", covers="n-1-n, every n",
                 part="RBP convergence, width 1")
    ctx.note(sentence(
        "Proof of (c), every start: the planar orbit is bounded, so by Poincare-Bendixson its "
        "limit set holds an equilibrium. All equilibria lie on the invariant curve {w0}; a "
        "closed orbit in the convex region {wpos} would enclose one, so none exists. If the "
        "limit set held an orbit inside {wpos}, that orbit would end at an equilibrium "
        "approached with {w} decreasing, which needs {qpos}: the unique sink, whose basin "
        "then holds the trajectory. Otherwise the limit set lies on {w0} where, between "
        "equilibria with {qneg}, also {qneg} (convexity), and {wdot} makes {w} grow: "
        "impossible. So a start with {wpos} converges to the sink, and {w} tends to 0; a start "
        "with {w0} is the 1-1-1 chain along {c}, which converges (theorem 1). Then {v} obeys a "
        "linear equation with a positive limit rate and converges too.",
        w0=sp.Eq(w, 0), wpos=w > 0, w=w, qpos=q > 0, qneg=q < 0, wdot=dot(w, -2 * q * w),
        c=sp.Symbol("c"), v=sp.Symbol("v")))


def _converged_to(sys_, n, m, C, rows, tol):
    """Rows that converged with P equal to the projection onto the row space of C."""
    Pi = C.T @ np.linalg.inv(C @ C.T) @ C
    ok = []
    for y in rows:
        A1, A2 = y[:m * n].reshape(m, n), y[m * n:].reshape(n, m)
        ok.append(bool(np.abs(A2 @ A1 - Pi).max() < tol))
    return np.array(ok)


def evidence(ctx):
    rng = np.random.default_rng(ctx.seed)
    s313 = autoencoder(3, 1, "rbp")
    C = rng.normal(size=(1, 3))
    ctx.oracle_rhs(s313, {"C1": C})
    ctx.oracle_fixed_point(autoencoder(3, 2, "rbp"), {"C1": rng.normal(size=(2, 3))},
                           rng.normal(size=(3, 12)), 2e4, tol=1e-11)
    sizes = [(3, 1), (2, 2)] if ctx.quick else \
        [(2, 1), (3, 1), (4, 1), (2, 2), (3, 2), (3, 3), (4, 2)]
    per = ctx.cases(6, 40)
    for n, m in sizes:
        sys_ = autoencoder(n, m, "rbp")
        passed, total, positive = 0, 0, True
        for _k in range(ctx.cases(1, 4)):
            C = rng.normal(size=(m, n))
            y0 = rng.normal(size=(per, sys_.size))
            res = integrate_batch(sys_, y0, 2e4, {"C1": C}, tol=1e-9)
            good = res.converged & _converged_to(sys_, n, m, C, res.y, 1e-6)
            passed, total = passed + int(good.sum()), total + per
            if m == 1:  # the limit is a stable fixed point: s > 0, that is c . u > 0
                positive &= bool(np.all(res.y[:, :n] @ C[0] > 0))
        kind = "proved above" if m == 1 else "evidence only"
        ok = passed if positive else 0
        ctx.numeric(sentence(f"RBP {n}-{m}-{n} ({kind}): random channels and starts converge "
                             "to {P}" + (" with {spos}" if m == 1 else ""),
                             P=sp.Eq(Pm, PI_C), spos=s > 0), ok, total,
                    part="RBP convergence, width 1" if m == 1 else
                    "RBP, width above 1")
    for n, m in ((2, 1),) if ctx.quick else ((2, 1), (3, 2)):
        sys_ = autoencoder(n, m, "bp")
        y0 = rng.normal(size=(per, sys_.size))
        res = integrate_batch(sys_, y0, 2e4, {}, tol=1e-9)
        good = 0
        for y, c in zip(res.y, res.converged, strict=True):
            P = y[m * n:].reshape(n, m) @ y[:m * n].reshape(m, n)
            good += bool(c and np.allclose(P, P.T, atol=1e-6) and np.allclose(P @ P, P, atol=1e-6)
                         and round(float(np.trace(P))) == m)
        ctx.numeric(sentence(f"BP {n}-{m}-{n}: random starts converge to an orthogonal "
                             "projection {P} of rank {m}", P=sp.Eq(Pm, Pm.T * Pm), m=m_),
                    good, per, part="BP convergence")
