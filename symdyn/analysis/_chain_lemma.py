r"""The chain lemma for every depth: RBP and SRBP linear chains of any depth :math:`d \ge 2`
converge from every start (non-zero channel weights, :math:`\beta > 0`) to an equilibrium
with :math:`P = \alpha/\beta`. Each step of the induction is an identity checked by computer
algebra with symbolic depth and symbolic layer index; the form of the equations it starts
from is checked against the derivation engine for concrete depths, and the lemma's
prediction (degree :math:`2^d - 1`, the leading coefficient) against :func:`chain_reduction`
at concrete depths."""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .._typeset import Math, sentence
from ._certificate import ProofCertificate
from ._chains import _chain, _rule, chain_reduction

__all__ = ["chain_induction", "ChainLemma"]


@dataclass(frozen=True, kw_only=True)
class ChainLemma(ProofCertificate):
    """The result of :func:`chain_induction`: ``checks``, each step of the induction as
    ``(statement, holds)`` (every one an identity checked by computer algebra);
    ``depths_checked``: the concrete depths compared with the derivation engine and with
    :func:`chain_reduction`."""

    rule: str
    checks: tuple[tuple[object, bool], ...]
    depths_checked: tuple[int, ...]


def _sym(name, **kw):
    return sp.Symbol(name, **kw)


def _form_checks(rule, depths):
    """The derived equations have the lemma's form at each concrete depth."""
    ok = True
    for d in depths:
        s, a, c, alpha, beta = _chain(rule, d)
        E = alpha - beta * sp.Mul(*a)
        for h in range(d):
            M = (sp.Mul(*c[h:]) if rule == "rbp" else (c[h] if h < d - 1 else 1))
            ok &= sp.expand(s.rhs[h] - M * sp.Mul(*a[:h]) * E) == 0
    return ok


def _form_step(rule, depths):
    """The equations the induction starts from, against the derivation engine."""
    return (
        sentence(f"The averaged {rule.upper()} equations of a chain have the form "
                   + ("{rbp} with {M} (empty product 1)" if rule == "rbp" else
                      "{srbp} (with {cd})")
                   + "; the derivation engine agrees at depths "
                   + f"{', '.join(map(str, depths))}.",
                   rbp=Math(r"\dot a_h = M_h\, a_{h-1}\cdots a_1\, E",
                            "da_h/dt = M_h a_(h-1)...a_1 E"),
                   M=Math(r"M_h = c_h \cdots c_{d-1}", "M_h = c_h ... c_(d-1)"),
                   srbp=Math(r"\dot a_h = c_h\, a_{h-1}\cdots a_1\, E",
                             "da_h/dt = c_h a_(h-1)...a_1 E"),
                   cd=sp.Eq(sp.Symbol("c_d"), 1)),
            _form_checks(rule, depths))


def _layer_steps(rule, checks):
    """One layer to the next: first integral, elimination, degree, sign (symbolic index)."""
    def check(statement, holds):
        checks.append((statement, bool(holds)))

    d = _sym("d", integer=True, positive=True)
    h = _sym("h", integer=True, positive=True)
    ah, ah1, A, M, E, K, x, n = sp.symbols("a_h a_h+1 A M E K x n")
    ch, ch1 = _sym("c_h", real=True, nonzero=True), _sym("c_h+1", real=True, nonzero=True)
    lc = _sym("l", real=True, nonzero=True)  # the leading coefficient of p_h
    r = sp.Symbol("r")  # p_h - l x^n: lower terms, of degree < n
    if rule == "rbp":
        H = ah**2 - 2 * ch * ah1
        dot_h, dot_h1 = ch * M * A * E, M * A * ah * E  # M = M_{h+1}, A = a_{h-1}...a_1
        new_lc = lc**2 / (2 * ch)
        ratio = ch * new_lc  # R_{h+1} / R_h, R_h = c_1...c_{h-1} lc(p_1)...lc(p_h)
        R1, R_name = sp.Integer(1), Math(r"R_h = c_1\cdots c_{h-1}\,\ell_1\cdots\ell_h",
                                         "R_h = c_1...c_(h-1) l_1...l_h")
        solved = (ah**2 - K) / (2 * ch)
    else:
        H = ch1 * ah**2 / 2 - ch * ah1
        dot_h, dot_h1 = ch * A * E, ch1 * A * ah * E
        new_lc = ch1 * lc**2 / (2 * ch)
        ratio = ch1 / ch * new_lc  # R_h = c_1 c_h lc(p_1)...lc(p_h)
        R1, R_name = _sym("c_1", real=True, nonzero=True)**2, Math(
            r"R_h = c_1 c_h\,\ell_1\cdots\ell_h", "R_h = c_1 c_h l_1...l_h")
        solved = (ch1 * ah**2 / 2 - K) / ch
    check(sentence("For every layer {h}, {H} is a first integral: its derivative "
                   "vanishes identically.", h=h, H=H),
          sp.expand(sp.diff(H, ah) * dot_h + sp.diff(H, ah1) * dot_h1) == 0)
    check(sentence("On its level set {K}, {sol}: each weight is a polynomial in the previous "
                   "one, so by induction every weight is a polynomial {p} in {a1}.",
                   K=sp.Eq(H, K), sol=sp.Eq(ah1, solved), p=Math("p_h(a_1)", "p_h(a1)"),
                   a1=sp.Symbol("a1")),
          sp.solve(sp.Eq(H, K), ah1) == [solved])
    p = lc * x**n + r
    q = solved.subs({ah: p})
    rest = ((2 * lc * x**n * r + r**2 - K) / (2 * ch) if rule == "rbp" else
            ch1 * (2 * lc * x**n * r + r**2) / (2 * ch) - K / ch)
    check(sentence("If {p} with {r} of degree below {n}, then {q}, and the last terms have "
                   "degree below {n2}: {p1} has degree {n2} and leading coefficient {l1}.",
                   p=sp.Eq(sp.Symbol("p_h"), p), r=r, n=n,
                   q=sp.Eq(sp.Symbol("p_h+1"), new_lc * x**(2 * n) + rest), n2=2 * n,
                   p1=sp.Symbol("p_h+1"), l1=new_lc),
          sp.expand(q - new_lc * x**(2 * n) - rest) == 0)
    total = sp.summation(2**(h - 1), (h, 1, d))
    check(sentence("So {p} has degree {deg}, and the product {P} has degree {tot}, which is "
                   "odd.", p=sp.Symbol("p_h"), deg=2**(h - 1), P=sp.Symbol("P"),
                   tot=sp.Eq(sp.Sum(2**(h - 1), (h, 1, d)), 2**d - 1)),
          sp.simplify(total - (2**d - 1)) == 0 and sp.Mod(2**d - 1, 2) == 1)
    check(sentence("With {R}, {R1} and {ratio}: the signs telescope, {R} is positive for "
                   "every layer.", R=R_name, R1=sp.Eq(sp.Symbol("R_1"), R1),
                   ratio=sp.Eq(sp.Symbol("R_h+1") / sp.Symbol("R_h"), sp.factor(ratio))),
          R1.is_positive and sp.factor(ratio).is_positive)


def _closing_steps(rule, depths, checks):
    """The reduced equation's leading coefficient, and the cross-check at concrete depths."""
    def check(statement, holds):
        checks.append((statement, bool(holds)))

    M1 = Math(r"M_1 = c_1 \cdots c_{d-1}", "M_1 = c_1...c_(d-1)") if rule == "rbp" else \
        Math("M_1 = c_1", "M_1 = c_1")
    beta = sp.Symbol("beta", positive=True)
    Rd = sp.Symbol("R_d", positive=True)
    check(sentence("The reduced equation is {ode}, with {M1}; its leading coefficient is "
                   "{lead}, negative.", ode=Math(r"\dot a_1 = M_1 (\alpha - \beta P(a_1))",
                                                "da1/dt = M_1 (alpha - beta P(a1))"),
                   M1=M1, lead=Math(r"-\beta R_d < 0", "-beta R_d < 0")),
          (-beta * Rd).is_negative)
    agree = True
    for depth in depths:
        red = chain_reduction(rule, depth)
        predicted = _predicted_lc(rule, depth)
        agree &= (red.proved and red.sign.degree == 2**depth - 1
                  and sp.simplify(red.sign.leading_coefficient - predicted) == 0)
    check(sentence("At depths " + ", ".join(map(str, depths)) + ", the reduction computed "
                   "in full has the predicted degree and leading coefficient."), agree)


def chain_induction(rule, depths=(2, 3, 4)) -> ChainLemma:
    r"""Prove, for every depth :math:`d \ge 2`, that the scalar RBP or SRBP chain converges
    from every start to an equilibrium with :math:`P = \alpha/\beta` (:math:`\beta > 0`,
    non-zero channel weights): the first integrals, the elimination, the degree
    :math:`2^d - 1` and the sign of the leading coefficient, each step an identity checked
    with symbolic depth. ``depths``: concrete depths at which the equations' form (against
    :func:`~symdyn.derive`) and the predicted leading coefficient (against
    :func:`chain_reduction`) are cross-checked.

    >>> chain_induction("rbp", depths=(2, 3)).status
    'proved'
    """
    rule = _rule(rule)
    depths = tuple(int(d) for d in depths)
    checks = [_form_step(rule, depths)]
    _layer_steps(rule, checks)
    _closing_steps(rule, depths, checks)
    d = _sym("d", integer=True, positive=True)
    ok = all(holds for _, holds in checks)
    claim = sentence(f"For every depth {{d}}, every solution of the {rule.upper()} chain "
                     "converges, from every start, to an equilibrium with {opt}.",
                     d=sp.Ge(d, 2),
                     opt=sp.Eq(sp.Symbol("P"), sp.Symbol("alpha") / sp.Symbol("beta")))
    tail = sentence("A scalar equation with a polynomial right-hand side of odd degree and "
                    "negative leading coefficient has bounded monotone solutions, which "
                    "converge to a root; at a root, since {M}, {opt}, where every equation "
                    "of the chain vanishes.", M=sp.Ne(sp.Symbol("M_1"), 0),
                    opt=sp.Eq(sp.Symbol("P"), sp.Symbol("alpha") / sp.Symbol("beta")))
    return ChainLemma(
        status="proved" if ok else "inconclusive", kind="reduction+sign", statement=claim,
        assumptions=(sp.Symbol("beta") > 0, sp.Ne(sp.Symbol("c_h"), 0)),
        sketch=(*(s for s, _ in checks), tail),
        rule=rule, checks=tuple(checks), depths_checked=depths,
        message=(f"{rule.upper()} chains of every depth: proved by induction" if ok else
                 "not proved: " + "; ".join(str(s) for s, holds in checks if not holds)))


def _predicted_lc(rule: str, depth: int) -> sp.Expr:
    """-beta R_d from the recurrence of the leading coefficients."""
    _, a, c, alpha, beta = _chain(rule, depth)
    lcs = [sp.Integer(1)]
    cc = [*c, sp.Integer(1)]
    for k in range(depth - 1):
        lcs.append(lcs[-1]**2 / (2 * c[k]) if rule == "rbp"
                   else cc[k + 1] * lcs[-1]**2 / (2 * cc[k]))
    M1 = sp.Mul(*c) if rule == "rbp" else c[0]
    return -beta * M1 * sp.Mul(*lcs)
