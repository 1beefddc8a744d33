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
import re
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
)

__all__ = ["invariants", "Invariants", "functional_rank", "verify_invariant",
           "InvariantCheck", "lie_derivative", "generators_of"]


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
    r"""The rings of one search: :math:`K_0 = \mathbb{Q}[p]`, its fraction field :math:`K`,
    and :math:`R = K_0[y, \sigma]`, with the right-hand side in :math:`R`.

    A piecewise-polynomial right-hand side (relu: ``Max(0, s)`` and ``Heaviside(s)``) is
    written on its activation regions: each distinct argument :math:`s` gets an indicator
    :math:`\sigma_s \in \{0, 1\}` (``Max(0, s) = sigma_s s``, ``Heaviside(s) = sigma_s``),
    a generator of :math:`R` beside the state; since :math:`\sigma^2 = \sigma`, polynomials
    are kept multilinear in the indicators. A polynomial in :math:`y, \sigma` that is
    multilinear in :math:`\sigma` vanishes on every region exactly when it is 0."""

    def __init__(self, system=None, *, state=None, params=None, rhs=None, f=None,
                 regions=None):
        if f is not None:  # from specialise: the right-hand side already in the ring
            self._rings(state, params, regions)
            self.label, self.rhs = "the system", ()
            self.f = f(self)
            return
        if system is not None:
            state, params = tuple(system.state), free_parameters(system)
            rhs = [rationalize(e, exact=True) for e in system.exact_rhs]
            self.label = f"{system.network} trained by {system.rule}"
        else:
            self.label = "the system"
        self.state, self.params = tuple(state), tuple(params)
        self.rhs = tuple(rhs)
        polys, self.regions = _on_regions(self.rhs)
        gens = (*self.state, *self.regions.values())
        if not all(e.is_polynomial(*gens, *self.params) for e in polys):
            bad = sorted({type(f).__name__ for e in polys for f in e.atoms(sp.Function)
                          if not isinstance(f, (sp.Max, sp.Heaviside))})
            raise AnalysisError(
                f"a polynomial invariant search needs a polynomial or piecewise-polynomial "
                f"(relu) system, and {self.label} has {', '.join(bad) or 'non-polynomial terms'}; "
                "use a linear or relu network, or check a candidate with verify_invariant, "
                "which handles any system")
        self._rings(self.state, self.params, self.regions)
        try:
            self.f = [self.multilinear(self.R(e)) for e in polys]
        except (ValueError, sp.polys.polyerrors.CoercionFailed):
            raise AnalysisError(
                "the right-hand side has irrational constants; the invariant search works over "
                "the rationals: give rational data or symbolic moments"
            ) from None

    def _rings(self, state, params, regions) -> None:
        self.state, self.params, self.regions = tuple(state), tuple(params), regions
        gens = (*self.state, *self.regions.values())
        self.n = len(self.state)
        self.K0 = sp.QQ[self.params] if self.params else sp.QQ
        self.K = self.K0.get_field() if self.params else sp.QQ
        self.R, *self.gens = ring(gens, self.K0, order="grevlex")
        self.RQ = ring(gens, sp.QQ, order="grevlex")[0] if self.params else self.R

    @property
    def piecewise(self) -> bool:
        return bool(self.regions)

    def multilinear(self, p):
        r"""``p`` with every power of an indicator lowered to 1 (:math:`\sigma^2 = \sigma`)."""
        if not self.regions or not p:
            return p
        n, out = self.n, {}
        for m, c in p.items():
            k = m[:n] + tuple(min(e, 1) for e in m[n:])
            out[k] = out.get(k, p.ring.domain.zero) + c
        return p.ring({k: c for k, c in out.items() if c})

    def lie(self, h):
        """The Lie derivative of a polynomial of :math:`R` (state generators only)."""
        out = self.R.zero
        for g, fi in zip(self.gens[:self.n], self.f, strict=True):
            dh = h.diff(g)
            if dh:
                out += dh * fi
        return self.multilinear(out)

    def to_field(self, c):
        return self.K.convert_from(c, self.K0) if self.params else c

    def point(self, rng) -> list:
        """A random parameter point: non-zero integers of up to 30 bits."""
        return [sp.QQ(rng.choice((-1, 1)) * rng.randint(2, 2**30)) for _ in self.params]

    def at(self, c, point):
        """A coefficient of :math:`K_0` at a parameter point, in :math:`\\mathbb{Q}`."""
        if not self.params:
            return c
        total = sp.QQ.zero
        for monom, coeff in c.items():
            term = coeff
            for v, e in zip(point, monom):
                if e:
                    term *= v if e == 1 else v**e
            total += term
        return total

    def rhs_at(self, point) -> list:
        """The right-hand side at a parameter point, over :math:`\\mathbb{Q}`."""
        if not self.params:
            return self.f
        return [self.RQ({m: v for m, c in fi.items() if (v := self.at(c, point))})
                for fi in self.f]

    def lie_at(self, e, f_at) -> dict:
        r"""The Lie derivative of the monomial :math:`y^e` with the right-hand side ``f_at``
        (over :math:`\mathbb{Q}`), as a dict monomial -> coefficient (shifts of the terms of
        ``f_at``, without general polynomial products)."""
        out: dict = {}
        width = len(self.gens)
        for i, k in enumerate(e[:self.n]):
            if not k:
                continue
            low = list(e[:self.n]) + [0] * (width - self.n)
            low[i] -= 1
            shift = [(j, d) for j, d in enumerate(low) if d]
            for m, c in f_at[i].items():
                key = list(m)
                for j, d in shift:
                    key[j] += d
                if self.regions:
                    key[self.n:] = [min(x, 1) for x in key[self.n:]]
                key = tuple(key)
                out[key] = out.get(key, sp.QQ.zero) + k * c
        return {m: c for m, c in out.items() if c}

    def specialise(self, values: dict) -> _Setting:
        """The same system with the parameters in ``values`` (rational numbers) fixed."""
        keep = [i for i, p in enumerate(self.params) if p not in values]
        fixed = [(i, sp.QQ(int(sp.Rational(values[p]).p), int(sp.Rational(values[p]).q)))
                 for i, p in enumerate(self.params) if p in values]

        def convert(new):
            def coeff(c):
                terms: dict = {}
                for m, v in c.items():
                    for i, x in fixed:
                        if m[i]:
                            v *= x ** m[i]
                    k = tuple(m[i] for i in keep)
                    terms[k] = terms.get(k, sp.QQ.zero) + v
                if not keep:
                    return terms.get((), sp.QQ.zero)
                return new.K0.ring.from_dict({k: v for k, v in terms.items() if v})
            return [new.R({m: v for m, c in fi.items() if (v := coeff(c))}) for fi in self.f]

        return _Setting(state=self.state, params=[self.params[i] for i in keep],
                        regions=self.regions, f=convert)

    def matrix(self, polys, monomials) -> DomainMatrix:
        """Rows: the polynomials as coefficient vectors over ``monomials``."""
        index = {m: j for j, m in enumerate(monomials)}
        rows = [[self.K.zero] * len(monomials) for _ in polys]
        for i, p in enumerate(polys):
            for m, c in p.items():
                rows[i][index[m]] = self.to_field(c)
        return DomainMatrix(rows, (len(polys), len(monomials)), self.K)


def _on_regions(exprs) -> tuple[list, dict]:
    """``exprs`` with ``Max(0, s)`` -> ``sigma_s * s`` and ``Heaviside(s)`` -> ``sigma_s``,
    innermost first; the indicators by argument."""
    regions: dict[sp.Expr, sp.Symbol] = {}
    cache: dict = {}

    def indicator(arg):
        arg = sp.expand(arg)
        if arg not in regions:
            regions[arg] = sp.Symbol(f"_region_{len(regions) + 1}")
        return regions[arg]

    def walk(e):
        if e in cache:
            return cache[e]
        if not e.args or not e.has(sp.Max, sp.Heaviside):
            out = e
        else:
            args = [walk(a) for a in e.args]
            if isinstance(e, sp.Max) and len(args) == 2 and 0 in args:
                arg = args[1] if args[0] == 0 else args[0]
                out = indicator(arg) * arg
            elif isinstance(e, sp.Heaviside):
                out = indicator(args[0])
            else:
                out = e.func(*args)
        cache[e] = out
        return out

    return [walk(e) for e in exprs], regions


def _null_at(setting: _Setting, point, monomials) -> DomainMatrix:
    r"""The invariants at one parameter point, exactly: the reduced echelon basis (rows) of
    the kernel of :math:`k \mapsto \mathcal{L}(\sum_j k_j y^{m_j})` over :math:`\mathbb{Q}`,
    a sparse system (rows: the monomials of :math:`\dot H`)."""
    f_at = setting.rhs_at(point)
    index: dict = {}
    rows: dict[int, dict[int, object]] = {}
    for j, e in enumerate(monomials):
        for k, c in setting.lie_at(e, f_at).items():
            rows.setdefault(index.setdefault(k, len(index)), {})[j] = c
    n = len(monomials)
    if not index:
        return DomainMatrix.eye(n, sp.QQ)
    null = DomainMatrix(rows, (len(index), n), sp.QQ).nullspace()
    return null.rref()[0] if null.shape[0] else null


def _groups(params) -> list[list]:
    """Parameters grouped by the matrix they are entries of (``C1_2_3`` -> ``C1``)."""
    out: dict[str, list] = {}
    for p in params:
        key = re.sub(r"(_\d+)+$", "", p.name)
        out.setdefault(key, []).append(p)
    return list(out.values())


def _nullspace_rows(setting: _Setting, monomials) -> list[sp.Expr]:
    r"""The invariant space as cleared polynomials, in reduced echelon order over :math:`K`.

    1. The kernel at a random rational parameter point :math:`p_0`, exactly over
       :math:`\mathbb{Q}` (sparse): its dimension :math:`k_0` bounds the generic dimension
       from above, since a rank can only drop at special points.
    2. The parameters the reduced echelon basis depends on: a group of parameters (one
       matrix, e.g. the data moments) whose re-drawing leaves the basis unchanged is fixed at
       :math:`p_0`. With linear networks the data moments are fixed this way, so that only
       the channel entries stay symbolic (or nothing: BP, whose laws have rational
       coefficients).
    3. The exact basis over the rational functions of the remaining parameters, on the
       support of the kernel only (:func:`_solve_on_support`).
    4. The certificate: every law found is checked exactly against the full system (all
       parameters symbolic), and :math:`k_0` of them, linearly independent, prove the basis
       complete. Step 2 is only a guess, so when a check fails the search repeats step 3
       with every parameter symbolic."""
    rng = random.Random(20240601)
    p0 = setting.point(rng)
    N0 = _null_at(setting, p0, monomials)
    k0 = N0.shape[0]
    if k0 == 0:
        return []
    if not setting.params:
        return [_cleared(setting, r, monomials) for r in N0.to_list()]
    fixed = {}
    for group in _groups(setting.params):
        p1 = list(p0)
        for i, p in enumerate(setting.params):
            if p in group:
                p1[i] = sp.QQ(rng.choice((-1, 1)) * rng.randint(2, 2**30))
        if _null_at(setting, p1, monomials) == N0:
            fixed.update({p: sp.Rational(int(p0[i].numerator), int(p0[i].denominator))
                          for i, p in enumerate(setting.params) if p in group})
    if len(fixed) == len(setting.params):  # the basis at p0 is the generic one
        plain = setting.specialise(fixed)
        laws = [_cleared(plain, r, monomials) for r in N0.to_list()]
        if all(_holds(setting, h) for h in laws):
            return laws
    affine = _affine_rows(setting, monomials, p0, N0, fixed)
    if affine is not None:
        plain = _Setting(state=setting.state, params=setting.params, regions=setting.regions,
                         f=lambda new: setting.f)
        laws = [_cleared(plain, r, monomials) for r in affine]
        if all(_holds(setting, h) for h in laws):
            return laws
    attempts = [fixed, {}] if fixed else [{}]
    for values in attempts:
        sub = setting.specialise(values) if values else setting
        point = [v for p, v in zip(setting.params, p0, strict=True) if p not in values]
        for attempt in range(3):
            if attempt:
                point = sub.point(rng)
            rows = _solve_on_support(sub, monomials, point, rng)
            if rows is None:
                continue
            laws = [_cleared(sub, r, monomials) for r in rows]
            if len(laws) == k0 and all(_holds(setting, h) for h in laws):
                return laws
            break
    raise AnalysisError(  # not met in practice: the full symbolic solve is exact
        f"the invariant search found {k0} invariants at a random parameter point of "
        f"{setting.label} but could not establish them for generic parameters")


def _affine_rows(setting, monomials, p0, N0, fixed) -> list[list] | None:
    r"""The reduced echelon basis over :math:`K` when its entries are affine in the
    parameters not ``fixed`` (e.g. the matrix laws of RBP, linear in the channel), by
    interpolation: the basis at :math:`p_0` and at :math:`p_0 + e_i` for each such parameter
    give the affine map, which must then predict the basis at a further random point; else
    ``None``. What it returns is only a candidate: the caller checks it exactly."""
    free = [i for i, p in enumerate(setting.params) if p not in fixed]
    if not free:
        return None
    base = N0.to_list()
    slopes = {}
    for i in free:
        p1 = list(p0)
        p1[i] += 1
        N1 = _null_at(setting, p1, monomials)
        if N1.shape != N0.shape:
            return None
        slopes[i] = [[b - a for a, b in zip(r0, r1, strict=True)]
                     for r0, r1 in zip(base, N1.to_list(), strict=True)]
    rng = random.Random(11)
    p2 = list(p0)
    for i in free:
        p2[i] = sp.QQ(rng.choice((-1, 1)) * rng.randint(2, 2**30))

    def predict(point):
        return [[a + sum((slopes[i][r][c] * (point[i] - p0[i]) for i in free), sp.QQ.zero)
                 for c, a in enumerate(row)] for r, row in enumerate(base)]

    if _null_at(setting, p2, monomials).to_list() != predict(p2):
        return None
    K0, K = setting.K0, setting.K
    gens = K0.gens
    out = []
    for r, row in enumerate(base):
        vec = []
        for c, a in enumerate(row):
            value = K0.convert(a - sum((slopes[i][r][c] * p0[i] for i in free), sp.QQ.zero))
            for i in free:
                if slopes[i][r][c]:
                    value += K0.convert(slopes[i][r][c]) * gens[i]
            vec.append(K.convert_from(value, K0))
        out.append(vec)
    return out


def _holds(setting: _Setting, h: sp.Expr) -> bool:
    """Whether the polynomial ``h`` (state and parameters) is exactly invariant."""
    num = sp.fraction(sp.together(h))[0]
    return not setting.lie(setting.R(sp.expand(num)))


def _solve_on_support(setting, monomials, point, rng) -> list[list] | None:
    """The exact kernel over :math:`K` on the support of the kernel at ``point``; ``None``
    if the point turned out special.

    The kernel at the point splits into blocks of rows with disjoint supports (e.g. one per
    entry of a matrix law); each block is the kernel of the columns of its support alone, so
    the blocks are solved separately (far smaller eliminations over :math:`K`), and their
    reduced echelon rows together are the reduced echelon basis."""
    null = _null_at(setting, point, monomials)
    if null.shape[0] == 0:
        return []
    rows = list(null.to_sdm().values())
    parent = list(range(len(rows)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[int, int] = {}
    for i, row in enumerate(rows):
        for j in row:
            if j in owner:
                parent[find(i)] = find(owner[j])
            else:
                owner[j] = i
    blocks: dict[int, list[int]] = {}
    for i in range(len(rows)):
        blocks.setdefault(find(i), []).append(i)
    out = []
    for members in blocks.values():
        support = sorted({j for i in members for j in rows[i]})
        block = _solve_block(setting, monomials, point, support, len(members))
        if block is None:
            return None
        out += block
    out.sort(key=lambda r: next(j for j, v in enumerate(r) if v))
    return out


def _solve_block(setting, monomials, point, support, k0) -> list[list] | None:
    """The exact kernel over :math:`K` of the columns ``support``, of dimension ``k0`` at
    ``point``; ``None`` if the point turned out special."""
    QQ = sp.QQ
    lies = {j: setting.lie(setting.R({monomials[j]: setting.K0.one})) for j in support}
    keys = sorted({k for p in lies.values() for k in p})
    if not keys:
        return None
    index = {k: i for i, k in enumerate(keys)}
    entries: dict[int, dict[int, object]] = {}
    for b, j in enumerate(support):
        for k, c in lies[j].items():
            entries.setdefault(index[k], {})[b] = c
    values = {i: {b: v for b, c in row.items() if (v := setting.at(c, point))}
              for i, row in entries.items()}
    sub = DomainMatrix(values, (len(keys), len(support)), QQ)
    _, independent = sub.transpose().rref()
    if len(independent) != len(support) - k0:
        return None
    exact = [{b: setting.to_field(c) for b, c in entries[i].items()} for i in independent]
    kernel = _kernel(setting.K, exact, len(support))
    if len(kernel) != k0:
        return None
    reduced = DomainMatrix(dict(enumerate(kernel)), (k0, len(support)),
                           setting.K).rref()[0].to_list()
    out = []
    for vec in reduced:
        row = [setting.K.zero] * len(monomials)
        for b, j in enumerate(support):
            row[j] = vec[b]
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


def _monomial(state, e) -> sp.Expr:
    return sp.Mul(*[x**k for x, k in zip(state, e[:len(state)], strict=True)])


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
               independent: bool = False, timeout: float | None = None) -> Invariants:
    r"""Every polynomial first integral of ``system`` of degree at most ``degree``.

    The result is a basis, over the rational functions of the parameters, of the space of
    polynomial invariants without constant term: every such invariant is a combination
    :math:`\sum_i k_i(p) H_i` of the returned :math:`H_i`. It is the reduced echelon basis in
    graded reverse lexicographic order (in the order of ``system.state``), each element with
    denominators cleared, content removed and a positive leading coefficient; sorted by
    degree, then leading monomial. Products of invariants are invariants, so a basis of degree
    ``d`` contains e.g. :math:`(c_1 - a_2)^2` beside :math:`c_1 - a_2`; with
    ``generators=True`` only the elements not spanned by such products are returned.

    The result is an :class:`Invariants` (a tuple of the laws, as before) that also carries
    ``rank``, the number of *functionally* independent laws (the rank of their gradients at
    random exact points; products and functions of other laws do not count), and
    ``independent``, a functionally independent subset of that size; ``independent=True``
    returns that subset as the laws.

    A relu network (any piecewise-polynomial system) is searched on its activation regions:
    a law is returned when it is conserved on every region, i.e. for every sign pattern of
    the pre-activations (each pattern taken as possible, which is sufficient).

    The search is over the field of rational functions, so it holds for generic parameter
    values; at special values (e.g. :math:`c_1 = 0`) there may be more invariants. Each
    returned invariant has polynomial coefficients and is an identity for every value; the
    basis is complete (see :func:`_nullspace_rows` for the certificate).

    The linear system is solved exactly at random rational parameter points and only the
    parameters the laws depend on are kept symbolic (see :func:`_nullspace_rows`): degree 2
    on linear networks up to 4-4-4 takes seconds to a minute for every rule (see
    ``benchmarks/bench_invariants.py``); laws whose coefficients are polynomials of high
    degree in many parameters (RBP with a hidden layer much wider than the output) take
    longer. ``timeout`` (seconds) runs the search in a separate process and raises
    :class:`~symdyn.AnalysisError` when it is spent.

    >>> from symdyn import derive
    >>> invariants(derive("1-1-1", "rbp"))
    (a1**2 - 2*a2*c1,)
    >>> invariants(derive("1-1-1", "arbp"), generators=True)
    (a2 - c1, a1**2 - c1**2)
    >>> invariants(derive("1-2-1", "bp")).rank  # 4 laws, 3 functionally independent
    3
    """
    if isinstance(degree, bool) or not isinstance(degree, int) or degree < 1:
        raise SpecError(f"degree must be a positive integer, got {degree!r}")
    if timeout is not None:
        _Setting(system)  # refuse a system the search cannot handle before forking
        msgs, end = budgeted(_search_job, (system, degree, generators, independent), timeout)
        if end == "done" and msgs:
            return msgs[0][1]
        if end == "timeout":
            raise AnalysisError(
                f"the invariant search did not finish within {timeout:g} s ({system.size} "
                f"state components, {len(free_parameters(system))} parameters); allow more "
                "time, lower the degree, or check a candidate with verify_invariant")
        raise AnalysisError(f"the invariant search failed ({end})")
    setting = _Setting(system)
    pad = (0,) * len(setting.regions)
    monomials = [(*e, *pad) for e in _exponents(len(setting.state), degree)]
    basis = _nullspace_rows(setting, monomials)
    # rows pivot on decreasing leading monomials; present them by degree, then that order
    order = sorted(range(len(basis)),
                   key=lambda i: (_degree(basis[i], setting.state), i))
    basis = [basis[i] for i in order]
    if generators:
        basis = _generators(setting, basis, degree)
    # the independent subset prefers short laws: the greedy choice goes by number of terms
    by_size = sorted(range(len(basis)), key=lambda i: (_degree(basis[i], setting.state),
                                                       len(sp.Add.make_args(basis[i])), i))
    rank, chosen = functional_rank(system, [basis[i] for i in by_size], setting=setting)
    subset = tuple(basis[i] for i in sorted(by_size[k] for k in chosen))
    laws = subset if independent else tuple(basis)
    return Invariants(laws, basis=tuple(basis), rank=rank, independent=subset,
                      regions=setting.piecewise)


class Invariants(tuple):
    r"""The laws :func:`invariants` found: a tuple of sympy expressions, with

    - ``basis``: the whole linear basis (the laws themselves unless ``independent=True``);
    - ``rank``: the number of functionally independent laws, the generic rank of the
      Jacobian :math:`\partial H_i / \partial y_j` (see :func:`functional_rank`);
    - ``independent``: ``rank`` laws of the basis whose gradients are independent;
    - ``regions``: whether the system is piecewise polynomial (relu), each law holding on
      every activation region."""

    basis: tuple
    rank: int
    independent: tuple
    regions: bool

    def __new__(cls, laws=(), *, basis=None, rank=None, independent=None, regions=False):
        obj = super().__new__(cls, laws)
        obj.basis = tuple(laws) if basis is None else tuple(basis)
        obj.rank = len(obj.basis) if rank is None else rank
        obj.independent = obj.basis if independent is None else tuple(independent)
        obj.regions = regions
        return obj

    def __reduce__(self):
        return (_rebuild, (tuple(self), self.basis, self.rank, self.independent, self.regions))

    @property
    def message(self) -> str:
        n = len(self.basis)
        where = " on every activation region" if self.regions else ""
        return (f"{n} law{'s' * (n != 1)} in the basis{where}, {self.rank} functionally "
                "independent")


def _rebuild(laws, basis, rank, independent, regions):
    return Invariants(laws, basis=basis, rank=rank, independent=independent, regions=regions)


def functional_rank(system, laws, *, sets: int = 2, setting=None) -> tuple[int, list[int]]:
    r"""The number of functionally independent ``laws`` and the indices of such a subset.

    The rank of the Jacobian :math:`J_{ij} = \partial H_i/\partial y_j` as functions is its
    rank at a generic point. It is computed exactly at ``sets`` random rational points
    (state and parameters, entries up to :math:`2^{20}`); the rank at a point never exceeds
    the generic rank, and falls short of it only on the zero set of a non-zero minor, which a
    random point of that size misses with probability at least
    :math:`1 - \deg/2^{20}` (Schwartz-Zippel), so the largest rank seen is the rank. The
    subset is the first laws, in order, whose gradients are independent there (:func:`invariants`
    orders them by degree and then number of terms, so that short laws are preferred)."""
    laws = list(laws)
    if not laws:
        return 0, []
    setting = setting or _Setting(system)
    polys = [setting.R(sp.expand(h)) for h in laws]
    rng = random.Random(7)
    best = (-1, [])
    for _ in range(sets):
        y = [sp.QQ(rng.choice((-1, 1)) * rng.randint(1, 2**20), rng.randint(1, 2**10))
             for _ in setting.state]
        p = [sp.QQ(rng.choice((-1, 1)) * rng.randint(1, 2**20), rng.randint(1, 2**10))
             for _ in setting.params]
        rows = []
        for h in polys:
            grad = [sp.QQ.zero] * setting.n
            for m, c in h.items():
                value = setting.at(c, p)
                for v, e in zip(y, m):
                    if e:
                        value *= v**e
                for i, e in enumerate(m[:setting.n]):
                    if e:
                        grad[i] += e * value / y[i]
            rows.append(grad)
        J = DomainMatrix(rows, (len(laws), setting.n), sp.QQ)
        _, pivots = J.transpose().rref()
        if len(pivots) > best[0]:
            best = (len(pivots), list(pivots))
    return best


def generators_of(system, basis, degree: int) -> tuple[sp.Expr, ...]:
    """The elements of an invariant ``basis`` (from :func:`invariants`) not spanned by
    products of others: what ``generators=True`` returns."""
    return tuple(_generators(_Setting(system), list(basis), degree))


def _search_job(system, degree, generators, independent):
    yield ("result", invariants(system, degree, generators=generators,
                                independent=independent))


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


NUMERIC_BOUND = 1e-10
r"""The least :math:`|\dot H|` that refutes a candidate on a non-polynomial, non-relu system
(evaluated to 30 significant digits at an exact point with exact data, so the evaluation
error is below :math:`10^{-25}` relative to the terms)."""


def lie_derivative(system, H: sp.Expr) -> sp.Expr:
    r""":math:`\dot H = \sum_i \partial_{y_i} H\, f_i(y)` in component form (not simplified)."""
    return sp.Add(*[sp.diff(H, x) * f for x, f in zip(system.state, system.rhs, strict=True)])


def _exact_lie(system, H: sp.Expr) -> sp.Expr:
    """:func:`lie_derivative` with the data as exact rationals (no float rounding)."""
    H = rationalize(H, exact=True)
    return sp.Add(*[sp.diff(H, x) * f
                    for x, f in zip(system.state, system.exact_rhs, strict=True)])


def verify_invariant(system, H) -> InvariantCheck:
    r"""Check whether ``H`` is a first integral of ``system``: :math:`\dot H \equiv 0`.

    ``H`` is a sympy expression or a string in the component symbols (``"a1**2 - 2*c1*a2"``)
    or, for any network, in the matrix symbols (``"A1*A1.T - C1*A2 - A2.T*C1.T"``). A matrix
    candidate is first checked as a matrix identity (product rule, then the non-commutative
    words cancel: true for every size), else entry by entry for this system's sizes.

    Verdicts are sound. Numeric data enter as exact rationals (each float's exact binary
    value, the number the user's arrays hold), so a polynomial :math:`\dot H` is decided
    exactly, and a counterexample carries an exact non-zero value. A relu network is decided
    on its activation regions: proved when :math:`\dot H = 0` on every sign pattern, refuted
    by an exact point off the region boundaries. Any other function (tanh) is evaluated to 30
    digits and refutes only when :math:`|\dot H|` exceeds :data:`NUMERIC_BOUND`, far above
    the evaluation error; otherwise the verdict is ``"unknown"``, and the message says why.

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
    return _check_scalar(system, H, _exact_lie(system, H), method="components")


def _check_scalar(system, H, derivative: sp.Expr, *, method: str,
                  entry: str | None = None) -> InvariantCheck:
    """Decide whether the component expression ``derivative`` vanishes identically."""
    gens = (*system.state, *free_parameters(system))
    derivative = rationalize(derivative, exact=True)
    if derivative.is_polynomial(*gens):
        d = sp.expand(derivative)
        if d == 0:
            return InvariantCheck(H, True, "proved", method, sp.Integer(0), None,
                                  "dH/dt expands to 0: a polynomial identity (exact)")
        point = _counterexample(system, d)
        shown = sp.factor(d) if len(d.args) <= 40 else d
        if point is None:  # not met in practice: random points find a non-zero polynomial
            return InvariantCheck(H, False, "refuted", method, shown, None,
                                  "dH/dt is a non-zero polynomial (exact; no point was tried "
                                  "where it is non-zero)")
        return InvariantCheck(H, False, "refuted", method, shown,
                              _with_entry(point, entry),
                              f"dH/dt is not identically 0: it is exactly {point['dH/dt']} at "
                              "the point given (exact rational arithmetic, data as exact "
                              "rationals)")
    (on_regions,), regions = _on_regions([derivative])
    sigmas = tuple(regions.values())
    if regions and on_regions.is_polynomial(*gens, *sigmas):
        d = _multilinear(sp.expand(on_regions), sigmas)
        if d == 0:
            return InvariantCheck(H, True, "proved", method, sp.Integer(0), None,
                                  f"dH/dt = 0 on every activation region (all "
                                  f"{2 ** len(sigmas)} sign patterns of the {len(sigmas)} "
                                  "relu arguments): a polynomial identity on each (exact)")
        point = _counterexample(system, derivative, avoid=tuple(regions))
        if point is not None:
            return InvariantCheck(H, False, "refuted", method, derivative,
                                  _with_entry(point, entry),
                                  f"dH/dt is exactly {point['dH/dt']} at the point given, "
                                  "inside an activation region (exact rational arithmetic, "
                                  "data as exact rationals)")
        return InvariantCheck(H, False, "unknown", method, derivative, None,
                              "dH/dt is not 0 on some sign patterns of the relu arguments, "
                              "but vanished at every point tried; those patterns may never "
                              "occur: not decided")
    # not polynomial (e.g. tanh): an exact point, 30 digits, judged against NUMERIC_BOUND
    point = _counterexample(system, derivative, numeric=True)
    if point is not None:
        return InvariantCheck(H, False, "refuted", method, derivative,
                              _with_entry(point, entry),
                              f"dH/dt is {point['dH/dt']} at the point given (exact point and "
                              "data; evaluated to 30 significant digits, so the value is "
                              f"numerical, but its size is far above the bound {NUMERIC_BOUND:g} "
                              "used to refute)")
    simplified = sp.simplify(derivative)
    if simplified == 0:
        return InvariantCheck(H, True, "proved", method, sp.Integer(0), None,
                              "dH/dt simplifies to 0")
    return InvariantCheck(H, False, "unknown", method, simplified, None,
                          f"|dH/dt| stayed below {NUMERIC_BOUND:g} at every point tried "
                          "(evaluated to 30 digits) and sympy could not simplify it to 0: "
                          "not decided")


def _multilinear(d: sp.Expr, sigmas) -> sp.Expr:
    r"""An expanded polynomial with every power of an indicator lowered (:math:`\sigma^2 =
    \sigma`)."""
    if not sigmas or d == 0:
        return d
    out: dict = {}
    for m, c in sp.Poly(d, *sigmas).terms():
        k = tuple(min(e, 1) for e in m)
        out[k] = out.get(k, 0) + c
    return sp.expand(sp.Add(*[c * sp.Mul(*[x for x, e in zip(sigmas, k, strict=True) if e])
                              for k, c in out.items()]))


def _with_entry(point: dict, entry: str | None) -> dict:
    return {"entry": entry, **point} if entry else point


def _counterexample(system, d: sp.Expr, *, numeric: bool = False, avoid=(),
                    tries: int = 300) -> dict | None:
    """A point (small integers first) where ``d`` is non-zero: parameters generic (non-zero,
    positive where they must be), the state anywhere, and none of ``avoid`` zero (relu
    arguments: a region boundary). Exact, unless ``numeric`` (then 30 digits, and the value
    must exceed :data:`NUMERIC_BOUND`)."""
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
        if any(a.xreplace(point) == 0 for a in avoid):
            continue
        value = d.xreplace({s: point[s] for s in symbols})
        if numeric:
            value = sp.N(value, 30)
            if not value.is_number or abs(value) <= NUMERIC_BOUND:
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
            check = _check_scalar(system, entries[i, j], _exact_lie(system, entries[i, j]),
                                  method=method, entry=f"H[{i + 1},{j + 1}]")
            if check.status != "proved":
                if remainder is not None:
                    derivative = _word_expr(remainder, H.shape)
                else:
                    derivative = sp.ImmutableMatrix(
                        entries.rows, entries.cols,
                        lambda a, b: sp.expand(_exact_lie(system, entries[a, b])))
                return InvariantCheck(H, False, check.status, method, derivative,
                                      check.counterexample,
                                      reason + f"entry ({i + 1},{j + 1}): " + check.message)
    return InvariantCheck(H, True, "proved", method, sp.ZeroMatrix(*H.shape), None,
                          reason + f"every entry of dH/dt is 0 for sizes {sizes} (not shown for "
                          "other sizes)")
