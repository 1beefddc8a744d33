"""The rings of an invariant search: parameters, state and activation-region indicators;
the ansatz of monomials and the right-hand side as ring elements."""

from __future__ import annotations

import itertools

import sympy as sp
from sympy.polys.matrices import DomainMatrix
from sympy.polys.rings import ring

from ..errors import AnalysisError
from ._common import (
    free_parameters,
    rationalize,
)


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
