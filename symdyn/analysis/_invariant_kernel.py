"""The linear algebra of the invariant search: the coefficients of the invariants of degree
<= d as the kernel of a linear map, solved exactly at random parameter points and then over
the field of rational functions of the parameters, with a certificate of completeness."""

from __future__ import annotations

import random
import re

import sympy as sp
from sympy.polys.matrices import DomainMatrix

from ..errors import AnalysisError
from ._invariant_setting import _Setting


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
