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

import sympy as sp
from sympy.polys.matrices import DomainMatrix

from ..errors import AnalysisError, SpecError, require_system
from ._common import (
    budgeted,
    free_parameters,
)
from ._invariant_kernel import _degree, _nullspace_rows
from ._invariant_setting import _exponents, _grevlex_key, _Setting

__all__ = ["invariants", "Invariants", "functional_rank", "generators_of"]


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
    require_system(system, "invariants: system")
    if isinstance(degree, bool) or not isinstance(degree, int) or degree < 1:
        raise SpecError(f"degree must be a positive integer, got {degree!r}")
    _check_search_size(system.size, degree)
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


#: the most monomials a search may range over (state components choose degree); a search of
#: 2,700 monomials (72 components, degree 2) already takes minutes
MAX_MONOMIALS = 20_000


def _check_search_size(n: int, degree: int) -> None:
    """Refuse, before any work, a search over more than :data:`MAX_MONOMIALS` monomials."""
    import math

    count = math.comb(n + degree, degree) - 1 if degree <= 64 else math.inf
    if count > MAX_MONOMIALS:
        fit = 0
        while fit < n and math.comb(fit + 1 + degree, degree) - 1 <= MAX_MONOMIALS:
            fit += 1
        raise AnalysisError(f"an invariant search of degree {degree} in {n:,} state "
                            f"components ranges over more than {MAX_MONOMIALS:,} monomials; "
                            f"at degree {degree}, at most {fit} components fit (check a "
                            "candidate with verify_invariant instead)")


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
