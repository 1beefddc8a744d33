"""The learning-rule interface: a rule is data plus the few methods the engine asks of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import sympy as sp

from ..errors import SpecError
from ..spec import Activation, Network, as_activation, as_scalar

__all__ = ["LearningRule", "Signals"]


@dataclass
class Signals:
    """The forward and backward signals of one pass, handed to the rule's methods.

    The entries are sympy matrix expressions when :func:`~symdyn.derive` runs and numpy
    arrays when a network is trained numerically: rules use only ``@`` and ``.T``, which
    both understand, so one rule serves both.

    ``A[h]`` forward weights, ``C[h]`` channel weights, ``S[h]``/``O[h]`` pre-/post-
    activations (``O[0]`` the input), ``E`` the output error, ``B[h]`` backward signals,
    ``Z[h]`` the activities of a channel's own neurons (channel networks only)."""

    network: Network
    A: dict[int, sp.MatrixExpr]
    C: dict[int, sp.MatrixExpr]
    S: dict[int, sp.MatrixExpr] = field(default_factory=dict)
    O: dict[int, sp.MatrixExpr] = field(default_factory=dict)  # noqa: E741
    B: dict[int, sp.MatrixExpr] = field(default_factory=dict)
    E: sp.MatrixExpr | None = None
    Z: dict = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class LearningRule:
    r"""Base of every learning rule. Every rule updates forward weights by the local product
    :math:`\Delta W_h = \eta\,(B_h O_{h-1}^T - d\, W_h)`; rules differ in the backward signal

    .. math:: B_L = E \circ f_L'(S_L), \qquad B_h = f_h'(S_h) \circ g(F_h), \quad h < L,

    where the feedback :math:`F_h` is what :meth:`feedback` returns.

    Options (fields): ``derivative`` keeps :math:`f_h'(S_h)` in hidden layers (symmetry 4;
    the output's own :math:`f_L'` is local and always kept); ``channel_activation`` is
    :math:`g` (default linear); ``rate`` is :math:`\eta`; ``decay`` is :math:`d`, weight decay
    on the forward weights and, for adaptive rules, on the channel too (Kolen-Pollack form).
    """

    derivative: bool = True
    channel_activation: Activation | str | None = None
    rate: sp.Expr | float | str = 1
    decay: sp.Expr | float | str = 0

    #: Short name used on the command line and in :data:`RULES`.
    name: ClassVar[str] = ""
    #: Whether the channel matrices :math:`C_h` learn (are state) or are fixed parameters.
    adaptive: ClassVar[bool] = False
    #: Whether the rule runs on numpy arrays only (channel networks: no averaged ODE).
    numeric_only: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if not isinstance(self.derivative, bool):
            raise SpecError(f"derivative must be True or False, got {self.derivative!r}")
        object.__setattr__(self, "channel_activation", as_activation(self.channel_activation))
        object.__setattr__(self, "rate", as_scalar("rate", self.rate, allow_zero=False))
        object.__setattr__(self, "decay", as_scalar("decay", self.decay))

    # -- what the engine asks -------------------------------------------------------------
    def channel_shape(self, network: Network, h: int) -> tuple[int, int] | None:
        """Shape of :math:`C_h` (the channel into layer ``h``), or ``None`` if the rule has
        no separate channel."""
        return None

    def channel_matrices(self, network: Network) -> dict:
        """Every matrix of the channel, by key, with its shape (drawn in this order, with the
        fan-in of its columns): :math:`C_h` under key ``h`` for every hidden layer that has
        one; channel networks add their read-outs."""
        out = {}
        for h in range(1, network.depth):
            shape = self.channel_shape(network, h)
            if shape is not None:
                out[h] = shape
        return out

    def feedback(self, s: Signals, h: int) -> sp.MatrixExpr:
        """:math:`F_h`, the signal the channel delivers to hidden layer ``h``."""
        raise NotImplementedError

    def channel_update(self, s: Signals, h: int) -> sp.MatrixExpr | None:
        r"""The local product that drives :math:`C_h` (before the rate ratio), or ``None``."""
        return None

    # -- presentation ---------------------------------------------------------------------
    @property
    def options(self) -> dict[str, object]:
        """The options that differ from their defaults, for display."""
        out: dict[str, object] = {}
        if not self.derivative:
            out["derivative"] = "dropped"
        if not self.channel_activation.is_linear or self.channel_activation.slope != 1:
            out["channel_activation"] = self.channel_activation.name
        if self.rate != 1:
            out["rate"] = self.rate
        if self.decay != 0:
            out["decay"] = self.decay
        ratio = getattr(self, "rate_ratio", 1)
        if ratio != 1:
            out["rate_ratio"] = ratio
        return out

    def __str__(self) -> str:
        opts = ", ".join(f"{k}={v}" for k, v in self.options.items())
        return self.name.upper() + (f" ({opts})" if opts else "")
