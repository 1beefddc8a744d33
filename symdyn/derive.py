r"""Derivation: Network + Rule + Data -> :class:`~symdyn.system.LearningSystem`.

One engine, on sympy matrix expressions of any size. It runs the forward pass
:math:`S_h = W_h O_{h-1},\ O_h = f_h(S_h)` and the rule's backward signals, then forms the
local products. The averaged ODE is exact:

* linear network and channel, moments: the error is kept as a formal vector :math:`E` and
  each product is contracted with :math:`E[I I^T] = \Sigma_{II}` and
  :math:`E[E I^T] = D = \Sigma_{TI} - P\,\Sigma_{II}`;
* anything non-linear, a finite data set: the samples are the columns of :math:`X, Y` and
  the product :math:`B_h O_{h-1}^T / N` is the mean over them.

The component form is the same expression with every matrix replaced by its entries."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from .errors import DerivationError, SpecError
from .rules import LearningRule, Signals, as_rule
from .spec import Activation, Data, Dataset, Moments, Network, as_data, as_network

__all__ = ["derive", "Signals"]


class Elementwise(ElementwiseApplyFunction):
    """:math:`f` applied entry by entry. sympy's own constructor calls ``f`` on a 1x1
    matrix as if it were a scalar (which fails for the logistic or relu); this never does."""

    def __new__(cls, function: sp.Lambda, expr: sp.MatrixExpr):
        return sp.MatrixExpr.__new__(cls, function, sp.sympify(expr, strict=True))


def _apply(f: Activation, m: sp.MatrixExpr) -> sp.MatrixExpr:
    """:math:`f` element-wise; a linear :math:`f(x) = kx` stays a matrix product."""
    if f.is_linear:
        return m if f.slope == 1 else f.slope * m
    return Elementwise(f.function, m)


def _times_derivative(f: Activation, s: sp.MatrixExpr, m: sp.MatrixExpr) -> sp.MatrixExpr:
    """:math:`f'(S) \\circ M`."""
    if f.is_linear:
        return m if f.slope == 1 else f.slope * m
    return sp.hadamard_product(m, Elementwise(f.derivative, s))


def _propagate(network: Network, rule: LearningRule, s: Signals, target=None) -> Signals:
    """Fill ``s`` with the forward pass and the rule's backward signals. With ``target``
    the error is ``target - O_L``; otherwise ``s.E`` is already set (a formal error)."""
    L = network.depth
    for h in range(1, L + 1):
        s.S[h] = s.A[h] * s.O[h - 1]
        s.O[h] = _apply(network.activations[h - 1], s.S[h])
    if target is not None:
        s.E = target - s.O[L]
    s.B[L] = _times_derivative(network.activations[L - 1], s.S[L], s.E)
    g = rule.channel_activation
    for h in range(L - 1, 0, -1):
        signal = _apply(g, rule.feedback(s, h))
        if rule.derivative:
            signal = _times_derivative(network.activations[h - 1], s.S[h], signal)
        s.B[h] = signal
    return s


def _local_products(network: Network, rule: LearningRule, s: Signals):
    """The products that drive forward weights and (adaptive rules) channel weights."""
    forward = [s.B[h] * s.O[h - 1].T for h in range(1, network.depth + 1)]
    channel = [rule.channel_update(s, h) for h in sorted(s.C)] if rule.adaptive else []
    return forward, channel


# -- exact averages over moments --------------------------------------------------------------


def _contract(expr: sp.MatrixExpr, table: dict) -> sp.MatrixExpr:
    """Replace the adjacent pair ``u v^T`` (u, v in {I, E}) of a product by its expectation
    from ``table``. A linear network gives exactly one such pair, and no other occurrence of
    the sample, in every product; anything else is not an average over moments."""
    sample = {m for pair in table for m in pair if isinstance(m, sp.MatrixSymbol)}
    coeff, factors = expr.as_coeff_matrices() if isinstance(expr, sp.MatMul) else (1, [expr])
    for k in range(len(factors) - 1):
        if (factors[k], factors[k + 1]) in table:
            rest = factors[:k] + [table[factors[k], factors[k + 1]]] + factors[k + 2 :]
            if not any(f.has(m) for f in factors[:k] + factors[k + 2 :] for m in sample):
                return coeff * sp.MatMul(*rest) if len(rest) > 1 else coeff * rest[0]
    raise DerivationError(
        "cannot average this update with second moments alone (it is not bilinear in the "
        "sample); pass a finite data set (data=Dataset(X=..., Y=...)) instead"
    )


# -- the system -------------------------------------------------------------------------------


@lru_cache(maxsize=256)
def _derive(network: Network, rule: LearningRule, data: Data):
    from .system import LearningSystem, MatrixForm

    sizes, L = network.sizes, network.depth
    A = {h: sp.MatrixSymbol(f"A{h}", sizes[h], sizes[h - 1]) for h in range(1, L + 1)}
    C = {}
    for h in range(1, L):
        shape = rule.channel_shape(network, h)
        if shape is not None:
            C[h] = sp.MatrixSymbol(f"C{h}", *shape)
    I = sp.MatrixSymbol("I", sizes[0], 1)  # noqa: E741  (docs/science.md's name for the input)
    T = sp.MatrixSymbol("T", sizes[-1], 1)
    eta, d, lam = rule.rate, rule.decay, getattr(rule, "rate_ratio", sp.Integer(1))

    def assemble(forward, channel):
        rhs = [eta * (p - d * A[h]) if d != 0 else eta * p for h, p in zip(A, forward)]
        rhs += [eta * (lam * p - d * C[h]) if d != 0 else eta * lam * p
                for h, p in zip(C, channel)]
        return tuple(rhs)

    # per-sample rule
    s = _propagate(network, rule, Signals(network, A, C, O={0: I}), target=T)
    update = assemble(*_local_products(network, rule, s))

    # averaged ODE
    data.check(network)
    linear = network.is_linear and rule.channel_activation.is_linear
    if isinstance(data, Dataset) and linear:
        data = data.moments()  # exact for a linear network, and far more compact
    if isinstance(data, Moments):
        if not linear:
            what = "network" if not network.is_linear else "channel activation"
            raise DerivationError(
                f"a non-linear {what} has no closed-form average over moments; pass a finite "
                "data set instead (data=Dataset(X=..., Y=...), or --data FILE.npz)"
            )
        Sii = sp.MatrixSymbol("Sigma_II", sizes[0], sizes[0])
        Sti = sp.MatrixSymbol("Sigma_TI", sizes[-1], sizes[0])
        E = sp.MatrixSymbol("E", sizes[-1], 1)
        s = _propagate(network, rule, Signals(network, A, C, O={0: I}, E=E))
        D = Sti - _contract(s.O[L] * I.T, {(I, I.T): Sii})
        # Sigma_II is symmetric: write its transpose as itself
        table = {(I, I.T): Sii, (E, I.T): D, (I, E.T): D.T.xreplace({Sii.T: Sii})}
        forward, channel = _local_products(network, rule, s)
        rhs = assemble([_contract(p, table) for p in forward],
                       [_contract(p, table) for p in channel])
        data_symbols = (Sti, Sii)
        data_values = {} if data.is_symbolic else {Sii: data.Sigma_II, Sti: data.Sigma_TI}
    else:
        N = data.size
        X = sp.MatrixSymbol("X", sizes[0], N)
        Y = sp.MatrixSymbol("Y", sizes[-1], N)
        s = _propagate(network, rule, Signals(network, A, C, O={0: X}), target=Y)
        forward, channel = _local_products(network, rule, s)
        rhs = assemble([p / N for p in forward], [p / N for p in channel])
        data_symbols = (X, Y)
        data_values = {X: data.X.T, Y: data.Y.T}

    _check_option_names(network, rule, (*A.values(), *C.values(), I, T, *data_symbols))
    state = tuple(A.values()) + (tuple(C.values()) if rule.adaptive else ())
    fixed_channels = () if rule.adaptive else tuple(C.values())
    declared = [x for v in (eta, lam, d) for x in sorted(v.free_symbols, key=str)]
    matrix = MatrixForm(
        state=state,
        parameters=fixed_channels + data_symbols + tuple(_free_scalars(rhs, declared)),
        rhs=rhs,
        update=update,
        sample=(I, T),
        values=data_values,
    )
    return LearningSystem(network=network, rule=rule, data=data, matrix=matrix)


def _check_option_names(network: Network, rule: LearningRule, matrices) -> None:
    """A rate, decay or rate ratio named like a weight, channel or datum (``rate="a1"``)
    would silently change the equations: refuse it."""
    from .system import names_entry_of

    options = {"rate": rule.rate, "decay": rule.decay,
               "rate_ratio": getattr(rule, "rate_ratio", sp.Integer(1))}
    for option, value in options.items():
        for x in sorted(value.free_symbols, key=str):
            for m in matrices:
                if names_entry_of(m, x.name, network.is_scalar_chain):
                    raise SpecError(
                        f"{option} symbol {x.name!r} is already a name of this system (an "
                        f"entry of {m.name}); choose another name, e.g. eta"
                    )


def _free_scalars(rhs: Sequence[sp.MatrixExpr], declared: list[sp.Symbol]) -> list[sp.Symbol]:
    """Scalar parameters: the declared ones (rate, ratio, decay) first, then any other free
    scalar symbol (e.g. of a user activation), by name."""
    found = set()
    for r in rhs:
        found |= {x for x in r.free_symbols if not isinstance(x, sp.MatrixSymbol)}
    out = [x for x in declared if x in found]
    return out + sorted(found - set(out), key=str)


#: the most weight layers :func:`derive` takes (see the message of its refusal)
MAX_DEPTH = 32


def derive(
    arch: Network | str | Sequence[int],
    rule: LearningRule | str,
    *,
    rate=1,
    activation=None,
    channel_activation=None,
    derivative: bool = True,
    decay=0,
    rate_ratio=1,
    data=None,
):
    r"""Derive the learning system of a network trained by a rule.

    ``arch`` is a :class:`~symdyn.Network` or a shorthand such as ``"1-1-1"``;
    ``activation`` applies to the hidden layers (the output stays linear) unless a
    sequence, one per layer, is given. ``rule`` is a :class:`~symdyn.LearningRule` or one of
    ``bp, rbp, srbp, arbp, asrbp``, built with the options ``rate`` (:math:`\eta`),
    ``channel_activation`` (:math:`g`), ``derivative``, ``decay`` and ``rate_ratio``
    (:math:`\lambda`, adaptive rules). ``data`` is ``None`` (symbolic moments), a
    :class:`~symdyn.Moments`, a :class:`~symdyn.Dataset`, or a path to an ``.npz``.

    >>> sys = derive("1-1-1", "rbp")
    >>> sys.state
    (a1, a2)
    >>> sys.rhs
    (c1*(-a1*a2*beta + alpha), a1*(-a1*a2*beta + alpha))
    """
    network = as_network(arch, activation)
    if network.depth > MAX_DEPTH:
        raise SpecError(f"network {network.arch} has {network.depth} weight layers; symdyn "
                        f"derives at most {MAX_DEPTH} symbolically (the cost grows faster than "
                        "the square of the depth: an ARBP chain of depth 30 takes about 20 "
                        f"CPU-seconds to derive and print here); the deepest that fits is "
                        f"{MAX_DEPTH}; train deeper networks numerically (symdyn experiment)")
    rule = as_rule(rule, rate=rate, channel_activation=channel_activation,
                   derivative=derivative, decay=decay, rate_ratio=rate_ratio)
    if rule.numeric_only:
        raise SpecError(f"the {rule.name} channel is a network of neurons, trained numerically "
                        "(DeepNetwork, symdyn experiment); derive has no averaged ODE of it")
    return _derive(network, rule, as_data(data))
