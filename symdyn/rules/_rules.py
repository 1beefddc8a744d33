"""The rules of docs/science.md section 2 and sign symmetry, each final: options are fields,
not subclasses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, final

import numpy as np
import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from ..spec import Network, as_scalar
from ._base import LearningRule, Signals

__all__ = ["BP", "RBP", "SRBP", "ARBP", "ASRBP", "SignSymmetry"]


@final
@dataclass(frozen=True, kw_only=True)
class BP(LearningRule):
    r"""Backpropagation: :math:`F_h = W_{h+1}^T B_{h+1}`."""

    name: ClassVar[str] = "bp"

    def feedback(self, s: Signals, h: int) -> sp.MatrixExpr:
        return s.A[h + 1].T @ s.B[h + 1]


_X = sp.Symbol("x")
_SIGN = sp.Lambda(_X, sp.sign(_X))


def elementwise_sign(m):
    r""":math:`\mathrm{sign}` entry by entry, of a numpy array or a sympy matrix expression
    (kept unevaluated: sympy's own constructor would call ``sign`` on a 1x1 matrix)."""
    if isinstance(m, np.ndarray):
        return np.sign(m)
    return sp.MatrixExpr.__new__(ElementwiseApplyFunction, _SIGN, m)


@final
@dataclass(frozen=True, kw_only=True)
class SignSymmetry(LearningRule):
    r"""Sign symmetry (Liao, Leibo and Poggio 2016): :math:`F_h = \mathrm{sign}(W_{h+1})^T
    B_{h+1}`: the channel has the signs of the forward weights and magnitudes fixed at 1, so
    it needs no matrix of its own. Its averaged ODE holds on each region of constant signs
    (there it is RBP with :math:`C_h = \mathrm{sign}(W_{h+1})^T`); ``sign`` is not
    polynomial, and the derivative of :math:`\mathrm{sign}` is zero off the hyperplanes
    :math:`w = 0`."""

    name: ClassVar[str] = "sign"

    def feedback(self, s: Signals, h: int) -> sp.MatrixExpr:
        return elementwise_sign(s.A[h + 1].T) @ s.B[h + 1]


def _layered(network: Network, h: int) -> tuple[int, int]:
    return network.sizes[h], network.sizes[h + 1]


def _skip(network: Network, h: int) -> tuple[int, int]:
    return network.sizes[h], network.sizes[-1]


@final
@dataclass(frozen=True, kw_only=True)
class RBP(LearningRule):
    r"""Random backpropagation: :math:`F_h = C_h B_{h+1}`, :math:`C_h` fixed
    (:math:`n_h \times n_{h+1}`)."""

    name: ClassVar[str] = "rbp"

    def channel_shape(self, network: Network, h: int) -> tuple[int, int]:
        return _layered(network, h)

    def feedback(self, s: Signals, h: int) -> sp.MatrixExpr:
        return s.C[h] @ s.B[h + 1]


@final
@dataclass(frozen=True, kw_only=True)
class SRBP(LearningRule):
    r"""Skip random backpropagation: :math:`F_h = C_h E`, :math:`C_h` fixed
    (:math:`n_h \times n_L`), straight from the output error."""

    name: ClassVar[str] = "srbp"

    def channel_shape(self, network: Network, h: int) -> tuple[int, int]:
        return _skip(network, h)

    def feedback(self, s: Signals, h: int) -> sp.MatrixExpr:
        return s.C[h] @ s.E


@dataclass(frozen=True, kw_only=True)
class _AdaptiveChannel(LearningRule):
    r"""A channel that learns by the local product, at ``rate_ratio`` :math:`\lambda =
    \eta_C/\eta` times the forward rate."""

    rate_ratio: sp.Expr | float | str = 1
    adaptive: ClassVar[bool] = True

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "rate_ratio", as_scalar("rate_ratio", self.rate_ratio))


@final
@dataclass(frozen=True, kw_only=True)
class ARBP(_AdaptiveChannel):
    r"""Adaptive RBP: feedback as RBP, and :math:`\Delta C_h = \eta\lambda\, O_h B_{h+1}^T`
    (:math:`= \lambda\,\Delta W_{h+1}^T` without decay)."""

    name: ClassVar[str] = "arbp"

    def channel_shape(self, network: Network, h: int) -> tuple[int, int]:
        return _layered(network, h)

    def feedback(self, s: Signals, h: int) -> sp.MatrixExpr:
        return s.C[h] @ s.B[h + 1]

    def channel_update(self, s: Signals, h: int) -> sp.MatrixExpr:
        return s.O[h] @ s.B[h + 1].T


@final
@dataclass(frozen=True, kw_only=True)
class ASRBP(_AdaptiveChannel):
    r"""Adaptive skip RBP: feedback as SRBP, and :math:`\Delta C_h = \eta\lambda\, O_h E^T`."""

    name: ClassVar[str] = "asrbp"

    def channel_shape(self, network: Network, h: int) -> tuple[int, int]:
        return _skip(network, h)

    def feedback(self, s: Signals, h: int) -> sp.MatrixExpr:
        return s.C[h] @ s.E

    def channel_update(self, s: Signals, h: int) -> sp.MatrixExpr:
        return s.O[h] @ s.E.T
