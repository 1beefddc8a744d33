r"""Channels that are networks with neurons of their own (docs/science.md section 1): the
**Twin** channel, a backward network layered like the forward one, and the **Distinct**
channel, a backward network of another shape (a population per hidden layer fed straight from
the output error). Each is a small rule class of data: the engine asks it for its matrices
(:meth:`channel_matrices`) and its feedback, as for any rule. Numeric only (numpy arrays):
:func:`~symdyn.derive` refuses them.

**Units.** The channel's neurons respond :math:`v = u(x)` to their input :math:`x` with
``units`` :math:`u` in :data:`UNITS`; one-sided units (``relu``, ``logistic``) cannot carry
a signed error alone, so with ``paired=True`` every signed signal is carried by a pair of
units, one for each sign, read as :math:`u(x) - u(-x)` (:math:`\mathrm{relu}(x) -
\mathrm{relu}(-x) = x`; :math:`\sigma(x) - \sigma(-x) = \tanh(x/2)`). Unpaired one-sided
units lose one sign (a negative control).

**Widths.** Hidden level :math:`h` of the channel has :math:`m_h = \max(1,
\mathrm{round}(w\,n_h))` signed signals (``width`` :math:`w`; twice as many units when
paired). At :math:`m_h = n_h` channel neuron :math:`i` is the twin of forward neuron
:math:`i` and delivers to it one-to-one; otherwise a fixed random read-out :math:`R_h`
(:math:`n_h \times m_h`) delivers :math:`F_h = R_h V_h`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, final

import numpy as np

from ..errors import SpecError
from ..spec import Network
from ._base import LearningRule, Signals

__all__ = ["ChannelNetwork", "TwinChannel", "DistinctChannel", "UNITS", "ONE_SIDED",
           "CHANNEL_NETWORKS", "unit_response"]


def _logistic(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


#: The channel neurons' responses (numpy).
UNITS = {"linear": lambda x: x, "tanh": np.tanh,
         "relu": lambda x: np.maximum(x, 0.0), "logistic": _logistic}
#: Units whose response has one sign: they carry signed errors only in pairs.
ONE_SIDED = ("relu", "logistic")


def unit_response(units: str, paired: bool, x: np.ndarray) -> np.ndarray:
    """What a level of channel neurons sends for inputs ``x``: :math:`u(x)`, or
    :math:`u(x) - u(-x)` for pairs."""
    u = UNITS[units]
    return u(x) - u(-x) if paired else u(x)


@dataclass(frozen=True, kw_only=True)
class ChannelNetwork(LearningRule):
    """A channel made of neurons: ``units`` (:data:`UNITS`), ``paired`` (one-sided units
    in +/- pairs), ``width`` (channel widths / forward widths at every hidden level). The
    non-linearity lives in the units, so ``channel_activation`` stays linear."""

    units: str = "linear"
    paired: bool = False
    width: float = 1.0

    numeric_only: ClassVar[bool] = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.units not in UNITS:
            raise SpecError(f"channel units must be one of {', '.join(UNITS)}, got "
                            f"{self.units!r}")
        if not isinstance(self.paired, bool):
            raise SpecError(f"paired must be True or False, got {self.paired!r}")
        if self.paired and self.units not in ONE_SIDED:
            raise SpecError(f"paired units are for one-sided units ({', '.join(ONE_SIDED)}); "
                            f"{self.units} units carry signed errors alone")
        w = self.width
        if isinstance(w, bool) or not isinstance(w, int | float) or not np.isfinite(w) \
                or not 0 < w <= 64:
            raise SpecError(f"width must be a number in (0, 64], got {w!r}")
        if not self.channel_activation.is_linear or self.channel_activation.slope != 1:
            raise SpecError(f"a {self.name} channel's non-linearity is its units (units=...), "
                            "not channel_activation")

    def level_width(self, network: Network, h: int) -> int:
        """:math:`m_h`, the signed signals of the channel's level ``h`` (the output level
        ``L`` is the output error itself)."""
        n = network.sizes[h]
        return n if h == network.depth else max(1, int(round(self.width * n)))

    def twinned(self, network: Network, h: int) -> bool:
        """Whether channel level ``h`` has one neuron per forward neuron of layer ``h``."""
        return self.level_width(network, h) == network.sizes[h]

    def unit_count(self, network: Network) -> int:
        """The channel's own neurons (a pair counts two)."""
        m = sum(self.level_width(network, h) for h in range(1, network.depth))
        return 2 * m if self.paired else m

    def channel_matrices(self, network: Network) -> dict:
        out = {h: self.channel_shape(network, h) for h in range(1, network.depth)}
        for h in range(1, network.depth):
            if not self.twinned(network, h):
                out[f"R{h}"] = (network.sizes[h], self.level_width(network, h))
        return out

    def _deliver(self, s: Signals, h: int, x: np.ndarray) -> np.ndarray:
        if not isinstance(x, np.ndarray):
            raise SpecError(f"a {self.name} channel is numeric only: train it (symdyn "
                            "experiment), it has no symbolic form")
        v = unit_response(self.units, self.paired, x)
        s.Z[h] = v
        return v if self.twinned(s.network, h) else s.C[f"R{h}"] @ v

    @property
    def options(self) -> dict[str, object]:
        out = super().options
        if self.units != "linear":
            out["units"] = self.units
        if self.paired:
            out["paired"] = True
        if self.width != 1:
            out["width"] = self.width
        return out


@final
@dataclass(frozen=True, kw_only=True)
class TwinChannel(ChannelNetwork):
    r"""The **Twin** channel: a backward network layered like the forward one. Level
    :math:`h` (:math:`m_h` signals) reads level :math:`h+1` through :math:`C_h` (:math:`m_h
    \times m_{h+1}`, fixed, random): :math:`V_h = u(C_h Z_{h+1})`, :math:`Z_L = B_L`. A
    twinned level (:math:`m_h = n_h`) is gated by its forward twin's derivative, :math:`Z_h =
    B_h = f_h'(S_h) \circ V_h` (with the derivative kept); another width has no twin to gate
    it, :math:`Z_h = V_h`. Linear units at the forward widths give RBP; with :math:`C_h =
    W_{h+1}^T`, BP."""

    name: ClassVar[str] = "twin"

    def channel_shape(self, network: Network, h: int) -> tuple[int, int]:
        return self.level_width(network, h), self.level_width(network, h + 1)

    def feedback(self, s: Signals, h: int):
        up = h + 1
        z = s.B[up] if self.twinned(s.network, up) else s.Z[up]
        return self._deliver(s, h, s.C[h] @ z)


@final
@dataclass(frozen=True, kw_only=True)
class DistinctChannel(ChannelNetwork):
    r"""The **Distinct** channel: for every hidden layer :math:`h` a population of
    :math:`m_h` neurons fed straight from the output error through :math:`C_h`
    (:math:`m_h \times n_L`, fixed, random): :math:`V_h = u(C_h E)`. Linear units at the
    forward widths give SRBP."""

    name: ClassVar[str] = "distinct"

    def channel_shape(self, network: Network, h: int) -> tuple[int, int]:
        return self.level_width(network, h), network.sizes[-1]

    def feedback(self, s: Signals, h: int):
        return self._deliver(s, h, s.C[h] @ s.E)


#: The channel networks by name (numeric only: not in :data:`~symdyn.rules.RULES`, which
#: ``derive`` and sweeps use).
CHANNEL_NETWORKS: dict[str, type[ChannelNetwork]] = {"twin": TwinChannel,
                                                    "distinct": DistinctChannel}
