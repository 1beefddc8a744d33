r"""First integrals: the polynomial invariants of a system, and a check of any candidate.

A first integral :math:`H` of :math:`\dot y = f(y; p)` has a vanishing Lie derivative
:math:`\dot H = \sum_i \partial_{y_i} H\, f_i \equiv 0`. For a polynomial system the
polynomial invariants of degree at most :math:`d` form a vector space over the field
:math:`\mathbb{Q}(p)` of rational functions of the parameters: with the ansatz
:math:`H = \sum_m k_m\, y^m` over the monomials :math:`1 \le |m| \le d`, :math:`\dot H \equiv 0`
is a linear system in the :math:`k_m`, solved exactly over :math:`\mathbb{Q}(p)` (on the
support found at a random parameter point, with a certificate of completeness: see
:func:`_nullspace_rows`)."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass

import sympy as sp
from sympy.polys.matrices import DomainMatrix
from sympy.polys.rings import ring

from ..errors import AnalysisError, SpecError
from ._common import (
    as_expression,
    budgeted,
    free_parameters,
    namespace,
    positive_parameters,
    rationalize,
    require_polynomial,
)

__all__ = ["invariants", "verify_invariant", "InvariantCheck", "lie_derivative",
           "generators_of"]


# -- the search -------------------------------------------------------------------------------


def _exponents(n: int, degree: int) -> list[tuple[int, ...]]:
    """Exponent vectors of the monomials of degree 1..degree in n variables, highest first in
    graded reverse lexicographic order (so echelon forms pivot on the leading monomials)."""
    out = []
    for d in range(1, degree + 1):
        for combo in itertools.combinations_with_replacement(range(n), d):
            e = [0] * n
            for i in combo:
                e[i] += 1
            out.append(tuple(e))
    return sorted(out, key=_grevlex_key, reverse=True)


def _grevlex_key(e: tuple[int, ...]):
    return (sum(e), tuple(-x for x in reversed(e)))


class _Setting:
    """The rings of one search: :math:`K_0 = \\mathbb{Q}[p]`, its fraction field :math:`K`,
    and :math:`R = K_0[y]`, with the right-hand side in :math:`R`."""

    def __init__(self, system):
        require_polynomial(system, "a polynomial invariant search")
        self.state = tuple(system.state)
        self.params = free_parameters(system)
        self.K0 = sp.QQ[self.params] if self.params else sp.QQ
        self.K = self.K0.get_field() if self.params else sp.QQ
        self.R, *self.gens = ring(self.state, self.K0, order="grevlex")
        try:
            self.f = [self.R(sp.expand(rationalize(e))) for e in system.rhs]
        except (ValueError, sp.polys.polyerrors.CoercionFailed):
            raise AnalysisError(
                "the right-hand side has irrational constants; the invariant search works over "
                "the rationals: give rational data or symbolic moments"
            ) from None

    def lie(self, h):
        """The Lie derivative of a polynomial of :math:`R`."""
        out = self.R.zero
        for g, fi in zip(self.gens, self.f, strict=True):
            dh = h.diff(g)
            if dh:
                out += dh * fi
        return out

    def to_field(self, c):
        return self.K.convert_from(c, self.K0) if self.params else c

    def matrix(self, polys, monomials) -> DomainMatrix:
        """Rows: the polynomials as coefficient vectors over ``monomials``."""
        index = {m: j for j, m in enumerate(monomials)}
        rows = [[self.K.zero] * len(monomials) for _ in polys]
        for i, p in enumerate(polys):
            for m, c in p.items():
                rows[i][index[m]] = self.to_field(c)
        return DomainMatrix(rows, (len(polys), len(monomials)), self.K)


def _nullspace_rows(setting: _Setting, monomials) -> list[list]:
    r"""The invariant space as the rows of a reduced echelon form over :math:`K`.

    The linear system :math:`M k = 0` (rows: monomials of :math:`\dot H`) is first solved at
    a random rational parameter point, which gives the dimension :math:`k_0` of the solution
    space there and its support; the exact solution over :math:`K` is then computed on that
    support only, from :math:`|S| - k_0` rows independent at the point. Every vector found is
    checked exactly against all of :math:`M`; finding :math:`k_0` of them proves the basis
    complete, since the generic dimension cannot exceed the dimension at a point. (If the
    point was unlucky the search retries, and at last solves the whole system over
    :math:`K`.)"""
    lies = [setting.lie(setting.R({e: setting.K0.one})) for e in monomials]
    keys = sorted({k for p in lies for k in p})
    n = len(monomials)
    if not keys:  # every monomial is invariant: the system is at rest
        return [[setting.K.one if i == j else setting.K.zero for j in range(n)]
                for i in range(n)]
    index = {k: i for i, k in enumerate(keys)}
    entries: dict[int, dict[int, object]] = {}
    for j, p in enumerate(lies):
        for k, c in p.items():
            entries.setdefault(index[k], {})[j] = c
    rng = random.Random(20240601)
    for _ in range(3):
        rows = _solve_on_support(setting, entries, len(keys), n, lies, rng)
        if rows is not None:
            return rows
    full = DomainMatrix({i: {j: setting.to_field(c) for j, c in row.items()}
                         for i, row in entries.items()}, (len(keys), n), setting.K)
    null = full.nullspace()
    if null.shape[0] == 0:
        return []
    return [r for r in null.rref()[0].to_list() if any(r)]


def _solve_on_support(setting, entries, m, n, lies, rng) -> list[list] | None:
    """One attempt of the search described in :func:`_nullspace_rows`; ``None`` if the
    random point turned out special."""
    QQ = sp.QQ
    if setting.params:
        point = [QQ(rng.choice((-1, 1)) * rng.randint(2, 2**30)) for _ in setting.params]

        def at(c):
            total = QQ.zero
            for monom, coeff in c.items():
                term = QQ.convert(coeff, setting.K0.domain)
                for v, e in zip(point, monom, strict=True):
                    if e:
                        term *= v**e
                total += term
            return total
    else:
        def at(c):
            return QQ.convert(c)
    values = {i: {j: at(c) for j, c in row.items()} for i, row in entries.items()}
    Mp = DomainMatrix({i: {j: v for j, v in row.items() if v} for i, row in values.items()},
                      (m, n), QQ)
    null = Mp.nullspace()
    k0 = null.shape[0]
    if k0 == 0:
        return []  # rank n at a point: no invariant for generic parameters either
    null_rows = null.to_sdm()
    support = sorted({j for row in null_rows.values() for j in row})
    sub = Mp.extract(list(range(m)), support)
    _, independent = sub.transpose().rref()
    if len(independent) != len(support) - k0:
        return None
    exact = [{b: setting.to_field(entries[i][j]) for b, j in enumerate(support)
              if j in entries[i]} for i in independent]
    kernel = _kernel(setting.K, exact, len(support))
    if len(kernel) != k0:
        return None
    reduced = DomainMatrix(dict(enumerate(kernel)), (k0, len(support)),
                           setting.K).rref()[0].to_list()
    out = []
    for vec in reduced:
        row = [setting.K.zero] * n
        for b, j in enumerate(support):
            row[j] = vec[b]
        if not _annihilates(setting, row, lies):
            return None
        out.append(row)
    return out


def _cost(K, v) -> int:
    if K.is_FractionField:
        return len(K.numer(v)) + len(K.denom(v))
    return 1


def _kernel(K, rows: list[dict], ncols: int) -> list[dict]:
    """The kernel of linearly independent sparse rows over the field ``K``, by Gauss-Jordan
    elimination that pivots on the simplest entry first (so that rational functions stay
    small)."""
    remaining = [dict(r) for r in rows if r]
    pivots: dict[int, dict] = {}
    while remaining:
        counts: dict[int, int] = {}
        for r in remaining:
            for c in r:
                counts[c] = counts.get(c, 0) + 1
        _, _, ri, c = min((_cost(K, v), (len(r) - 1) * (counts[c] - 1), ri, c)
                          for ri, r in enumerate(remaining) for c, v in r.items())
        row = remaining.pop(ri)
        inv = K.one / row[c]
        row = {j: v * inv for j, v in row.items()}
        for other in (*remaining, *pivots.values()):
            f = other.get(c)
            if f:
                for j, v in row.items():
                    w = other.get(j, K.zero) - f * v
                    if w:
                        other[j] = w
                    else:
                        other.pop(j, None)
        remaining = [r for r in remaining if r]
        pivots[c] = row
    out = []
    for f in range(ncols):
        if f in pivots:
            continue
        vec = {f: K.one}
        for c, row in pivots.items():
            if f in row:
                vec[c] = -row[f]
        out.append(vec)
    return out


def _annihilates(setting, row, lies) -> bool:
    r"""Whether :math:`\sum_j k_j \mathcal{L}(y^{m_j}) = 0` exactly (denominators cleared)."""
    K, K0 = setting.K, setting.K0
    if setting.params:
        den = K0.one
        for c in row:
            if c:
                den = K0.lcm(den, K.denom(c))
        coeffs = [K0.exquo(K.numer(c) * den, K.denom(c)) if c else K0.zero for c in row]
    else:
        coeffs = row
    total = setting.R.zero
    for c, p in zip(coeffs, lies, strict=True):
        if c:
            total += p.mul_ground(c)
    return not total


def _monomial(state, e) -> sp.Expr:
    return sp.Mul(*[x**k for x, k in zip(state, e, strict=True)])


def _cleared(setting: _Setting, row, monomials) -> sp.Expr:
    """One echelon row as a polynomial: denominators cleared, content removed, leading
    coefficient's leading term positive."""
    expr = sp.Add(*[setting.K.to_sympy(c) * _monomial(setting.state, e)
                    for c, e in zip(row, monomials, strict=True) if c])
    num, _ = sp.fraction(sp.together(expr))
    poly = sp.Poly(sp.expand(num), *setting.state)
    _, poly = poly.primitive()
    lc = sp.sympify(poly.coeffs(order="grevlex")[0])
    lead = sp.Poly(lc, *setting.params).LC() if setting.params and lc.free_symbols else lc
    if lead < 0:
        poly = -poly
    return sp.expand(poly.as_expr())


def _degree(expr: sp.Expr, state) -> int:
    return sp.Poly(expr, *state).total_degree()


def invariants(system, degree: int = 2, *, generators: bool = False,
               timeout: float | None = None) -> tuple[sp.Expr, ...]:
    r"""Every polynomial first integral of ``system`` of degree at most ``degree``.

    The result is a basis, over the rational functions of the parameters, of the space of
    polynomial invariants without constant term: every such invariant is a combination
    :math:`\sum_i k_i(p) H_i` of the returned :math:`H_i`. It is the reduced echelon basis in
    graded reverse lexicographic order (in the order of ``system.state``), each element with
    denominators cleared, content removed and a positive leading coefficient; sorted by
    degree, then leading monomial. Products of invariants are invariants, so a basis of degree
    ``d`` contains e.g. :math:`(c_1 - a_2)^2` beside :math:`c_1 - a_2`; with
    ``generators=True`` only the elements not spanned by such products are returned.

    The search is over the field of rational functions, so it holds for generic parameter
    values; at special values (e.g. :math:`c_1 = 0`) there may be more invariants. Each
    returned invariant has polynomial coefficients and is an identity for every value; the
    basis is complete (see :func:`_nullspace_rows` for the certificate).

    Chains of any depth take well under a second at degree 2. Matrix networks with many
    parameters can take long, notably when a hidden layer is wider than the output (RBP then
    conserves :math:`u^T A_1` for :math:`u^T C_1 = 0`, with coefficients of high degree in
    the parameters); ``timeout`` (seconds) runs the search in a separate process and raises
    :class:`~symdyn.AnalysisError` when it is spent.

    >>> from symdyn import derive
    >>> invariants(derive("1-1-1", "rbp"))
    (a1**2 - 2*a2*c1,)
    >>> invariants(derive("1-1-1", "arbp"), generators=True)
    (a2 - c1, a1**2 - c1**2)
    """
    if isinstance(degree, bool) or not isinstance(degree, int) or degree < 1:
        raise SpecError(f"degree must be a positive integer, got {degree!r}")
    if timeout is not None:
        require_polynomial(system, "a polynomial invariant search")
        msgs, end = budgeted(_search_job, (system, degree, generators), timeout)
        if end == "done" and msgs:
            return msgs[0][1]
        if end == "timeout":
            raise AnalysisError(
                f"the invariant search did not finish within {timeout:g} s ({system.size} "
                f"state components, {len(free_parameters(system))} parameters); allow more "
                "time, lower the degree, or check a candidate with verify_invariant")
        raise AnalysisError(f"the invariant search failed ({end})")
    setting = _Setting(system)
    monomials = _exponents(len(setting.state), degree)
    rows = _nullspace_rows(setting, monomials)
    basis = [_cleared(setting, r, monomials) for r in rows]
    # rows pivot on decreasing leading monomials; present them by degree, then that order
    order = sorted(range(len(basis)),
                   key=lambda i: (_degree(basis[i], setting.state), i))
    basis = [basis[i] for i in order]
    if generators:
        basis = _generators(setting, basis, degree)
    return tuple(basis)


def generators_of(system, basis, degree: int) -> tuple[sp.Expr, ...]:
    """The elements of an invariant ``basis`` (from :func:`invariants`) not spanned by
    products of others: what ``generators=True`` returns."""
    return tuple(_generators(_Setting(system), list(basis), degree))


def _search_job(system, degree, generators):
    yield ("result", invariants(system, degree, generators=generators))


def _generators(setting: _Setting, basis: list[sp.Expr], degree: int) -> list[sp.Expr]:
    """The elements of ``basis`` that products of two or more basis elements do not span."""
    degrees = [_degree(h, setting.state) for h in basis]
    polys = [setting.R(h) for h in basis]
    products = []
    for k in range(2, degree + 1):
        for combo in itertools.combinations_with_replacement(range(len(basis)), k):
            if sum(degrees[i] for i in combo) <= degree:
                p = setting.R.one
                for i in combo:
                    p *= polys[i]
                products.append(p)
    monomials = sorted({m for p in (*products, *polys) for m in p}, key=_grevlex_key)
    span = list(products)
    rank = setting.matrix(span, monomials).rank() if span else 0
    out = []
    for h, p in zip(basis, polys, strict=True):
        new = setting.matrix([*span, p], monomials).rank()
        if new > rank:
            out.append(h)
            span.append(p)
            rank = new
    return out


# -- checking a candidate ---------------------------------------------------------------------


@dataclass(frozen=True)
class InvariantCheck:
    r"""Whether a candidate :math:`H` is a first integral.

    ``status``: ``"proved"`` (:math:`\dot H \equiv 0` shown symbolically), ``"refuted"``
    (:math:`\dot H \not\equiv 0`; ``counterexample`` is a point, state and parameters by name,
    with the value of :math:`\dot H` there under ``"dH/dt"``) or ``"unknown"`` (not decided:
    see ``message``). ``holds`` is true exactly when proved. ``method`` says how:
    ``"components"``, ``"matrix"`` (a matrix identity, for every size) or
    ``"components (sizes ...)"`` (a matrix candidate checked entry-wise for this system's
    sizes). ``derivative`` is the simplified :math:`\dot H`."""

    expression: sp.Basic
    holds: bool
    status: str
    method: str
    derivative: sp.Basic
    counterexample: dict[str, sp.Expr] | None
    message: str


def lie_derivative(system, H: sp.Expr) -> sp.Expr:
    r""":math:`\dot H = \sum_i \partial_{y_i} H\, f_i(y)` in component form (not simplified)."""
    return sp.Add(*[sp.diff(H, x) * f for x, f in zip(system.state, system.rhs, strict=True)])


def verify_invariant(system, H) -> InvariantCheck:
    r"""Check whether ``H`` is a first integral of ``system``: :math:`\dot H \equiv 0`.

    ``H`` is a sympy expression or a string in the component symbols (``"a1**2 - 2*c1*a2"``)
    or, for any network, in the matrix symbols (``"A1*A1.T - C1*A2 - A2.T*C1.T"``). A matrix
    candidate is first checked as a matrix identity (product rule, then the non-commutative
    words cancel: true for every size), else entry by entry for this system's sizes.

    >>> from symdyn import derive
    >>> verify_invariant(derive("1-1-1", "rbp"), "a1**2 - 2*c1*a2").holds
    True
    >>> verify_invariant(derive("1-1-1", "rbp"), "a1**2 - a2**2").status
    'refuted'
    """
    H = as_expression(system, H, "an invariant candidate")
    if H.has(sp.MatrixSymbol) or isinstance(H, sp.MatrixExpr):
        return _check_matrix(system, H)
    known = set(system.state) | set(free_parameters(system))
    unknown = sorted(str(s) for s in H.free_symbols - known)
    if unknown:
        raise SpecError(f"{H} uses {', '.join(unknown)}, which this system does not have; its "
                        f"state is {', '.join(map(str, system.state))}")
    return _check_scalar(system, H, lie_derivative(system, H), method="components")


def _check_scalar(system, H, derivative: sp.Expr, *, method: str,
                  entry: str | None = None) -> InvariantCheck:
    """Decide whether the component expression ``derivative`` vanishes identically."""
    gens = (*system.state, *free_parameters(system))
    derivative = rationalize(derivative)
    if derivative.is_polynomial(*gens):
        d = sp.expand(derivative)
        if d == 0:
            return InvariantCheck(H, True, "proved", method, sp.Integer(0), None,
                                  "dH/dt expands to 0: a polynomial identity")
        point = _counterexample(system, d, exact=True)
        shown = sp.factor(d) if len(d.args) <= 40 else d
        if point is None:  # not met in practice: random points find a non-zero polynomial
            return InvariantCheck(H, False, "refuted", method, shown, None,
                                  "dH/dt is a non-zero polynomial (no point was tried where "
                                  "it is non-zero)")
        return InvariantCheck(H, False, "refuted", method, shown,
                              _with_entry(point, entry),
                              f"dH/dt is not identically 0: it is {point['dH/dt']} at the "
                              "point given")
    # not polynomial (e.g. tanh): look for a counterexample first, then try to simplify
    point = _counterexample(system, derivative, exact=False)
    if point is not None:
        return InvariantCheck(H, False, "refuted", method, derivative,
                              _with_entry(point, entry),
                              f"dH/dt is {point['dH/dt']} at the point given (evaluated to "
                              "30 digits; the point itself is exact)")
    simplified = sp.simplify(derivative)
    if simplified == 0:
        return InvariantCheck(H, True, "proved", method, sp.Integer(0), None,
                              "dH/dt simplifies to 0")
    return InvariantCheck(H, False, "unknown", method, simplified, None,
                          "dH/dt vanished at every point tried but sympy could not simplify "
                          "it to 0: not decided")


def _with_entry(point: dict, entry: str | None) -> dict:
    return {"entry": entry, **point} if entry else point


def _counterexample(system, d: sp.Expr, *, exact: bool, tries: int = 300) -> dict | None:
    """A point (small integers first) where ``d`` is non-zero: parameters generic (non-zero,
    positive where they must be), the state anywhere."""
    params = free_parameters(system)
    positive = positive_parameters(system)
    n0 = system.network.sizes[0]
    rng = random.Random(0)
    symbols = [s for s in (*system.state, *params) if s in d.free_symbols]
    for t in range(tries):
        bound = 2 if t < 60 else 5 if t < 150 else 20
        point = {}
        for s in (*system.state, *params):
            if s.name.startswith("Sigma_II_"):  # diagonally dominant: a valid second moment
                i, j = s.name.split("_")[-2:]
                v = rng.randint(n0, n0 + bound) if i == j else rng.choice([-1, 0, 1])
            elif s in positive:
                v = rng.randint(1, bound)
            elif s in params:
                v = rng.choice([k for k in range(-bound, bound + 1) if k != 0])
            else:
                v = rng.randint(-bound, bound)
            point[s] = sp.Integer(v)
        value = d.xreplace({s: point[s] for s in symbols})
        if not exact:
            value = sp.N(value, 30)
            if not value.is_number or abs(value) < sp.Float("1e-20"):
                continue
        elif value == 0:
            continue
        out = {str(s): v for s, v in point.items()}
        out["dH/dt"] = value
        return out
    return None


# -- matrix candidates ------------------------------------------------------------------------


class _Unsupported(Exception):
    """A matrix expression outside the word algebra (e.g. an inverse, a Hadamard product)."""


Words = dict[tuple, sp.Expr]


def _transpose_factor(f, symmetric):
    if isinstance(f, sp.Transpose):
        return f.arg
    return f if f in symmetric else sp.Transpose(f)


def _transpose_words(w: Words, symmetric) -> Words:
    return {tuple(_transpose_factor(f, symmetric) for f in reversed(k)): c for k, c in w.items()}


def _add(*ws: Words) -> Words:
    out: Words = {}
    for w in ws:
        for k, c in w.items():
            out[k] = out.get(k, 0) + c
    return out


def _mul(a: Words, b: Words) -> Words:
    out: Words = {}
    for ka, ca in a.items():
        for kb, cb in b.items():
            k = ka + kb
            out[k] = out.get(k, 0) + ca * cb
    return out


def _words(e, symmetric, state_scalars) -> Words:
    r"""A matrix expression as a combination of words in the matrix symbols and their
    transposes (transposes pushed onto the symbols; :math:`\Sigma_{II}^T = \Sigma_{II}`)."""
    if isinstance(e, sp.MatrixSymbol):
        return {(e,): sp.Integer(1)}
    if isinstance(e, sp.ZeroMatrix):
        return {}
    if isinstance(e, sp.Identity):
        return {(): sp.Integer(1)}
    if isinstance(e, sp.Transpose):
        return _transpose_words(_words(e.arg, symmetric, state_scalars), symmetric)
    if isinstance(e, sp.MatAdd):
        return _add(*[_words(a, symmetric, state_scalars) for a in e.args])
    if isinstance(e, sp.MatMul):
        out: Words = {(): sp.Integer(1)}
        for a in e.args:
            if a.is_Matrix:
                out = _mul(out, _words(a, symmetric, state_scalars))
            else:
                if a.free_symbols & state_scalars:
                    raise _Unsupported("a scalar factor depends on the state")
                out = {k: a * c for k, c in out.items()}
        return out
    if isinstance(e, sp.MatPow) and e.exp.is_Integer and e.exp > 0:
        base = _words(e.base, symmetric, state_scalars)
        out = {(): sp.Integer(1)}
        for _ in range(int(e.exp)):
            out = _mul(out, base)
        return out
    raise _Unsupported(type(e).__name__)


def _word_expr(w: Words, shape) -> sp.MatrixExpr:
    terms = [c * sp.MatMul(*k) if len(k) > 1 else c * k[0] for k, c in w.items() if k]
    if not terms:
        return sp.ZeroMatrix(*shape)
    return sp.MatAdd(*terms) if len(terms) > 1 else terms[0]


def _matrix_derivative(system, H) -> Words:
    """The time derivative of ``H`` by the product rule, as cancelled words."""
    m = system.matrix
    symmetric = {s for s in m.parameters
                 if isinstance(s, sp.MatrixSymbol) and s.name == "Sigma_II"}
    scalars = set(system.state)
    rates = {s: _words(r, symmetric, scalars) for s, r in zip(m.state, m.rhs, strict=True)}
    out: Words = {}
    for word, c in _words(H, symmetric, scalars).items():
        for i, f in enumerate(word):
            if isinstance(f, sp.Transpose) and f.arg in rates:
                df = _transpose_words(rates[f.arg], symmetric)
            elif f in rates:
                df = rates[f]
            else:
                continue
            term = _mul(_mul({word[:i]: c}, df), {word[i + 1:]: sp.Integer(1)})
            out = _add(out, term)
    expanded = {k: sp.expand(v) for k, v in out.items()}
    return {k: v for k, v in expanded.items() if v != 0}


def _check_matrix(system, H) -> InvariantCheck:
    """A matrix candidate: as a word identity first, else entry by entry."""
    names = set(namespace(system).values())
    unknown = sorted(str(s) for s in H.free_symbols if s not in names)
    if unknown:
        raise SpecError(f"{H} uses {', '.join(unknown)}, which this system does not have; its "
                        f"matrices are {', '.join(map(str, system.matrix.state))}")
    reason = ""
    try:
        remainder = _matrix_derivative(system, H)
    except _Unsupported as exc:
        remainder, reason = None, f"the matrix form is not a word identity ({exc}); "
    if remainder == {}:
        return InvariantCheck(H, True, "proved", "matrix", sp.ZeroMatrix(*H.shape), None,
                              "dH/dt = 0 as a matrix identity (product rule; the words cancel), "
                              "so it holds for every layer size")
    if remainder is not None:
        left = _word_expr(remainder, H.shape)
        reason = f"the words of dH/dt do not cancel formally (left: {left}); "
    sizes = system.network.arch
    method = f"components (sizes {sizes})"
    entries = system.explicit(H)
    for i in range(entries.rows):
        for j in range(entries.cols):
            check = _check_scalar(system, entries[i, j], lie_derivative(system, entries[i, j]),
                                  method=method, entry=f"H[{i + 1},{j + 1}]")
            if check.status != "proved":
                if remainder is not None:
                    derivative = _word_expr(remainder, H.shape)
                else:
                    derivative = sp.ImmutableMatrix(
                        entries.rows, entries.cols,
                        lambda a, b: sp.expand(lie_derivative(system, entries[a, b])))
                return InvariantCheck(H, False, check.status, method, derivative,
                                      check.counterexample,
                                      reason + f"entry ({i + 1},{j + 1}): " + check.message)
    return InvariantCheck(H, True, "proved", method, sp.ZeroMatrix(*H.shape), None,
                          reason + f"every entry of dH/dt is 0 for sizes {sizes} (not shown for "
                          "other sizes)")
