r"""Which of the six symmetries of docs/science.md section 1 a rule's channel removes, measured
on a network and a batch rather than declared (:func:`measure_symmetries`).

For each symmetry a quantity, and the verdict drawn from it:

1. **architecture**: every hidden layer h receives its error through a matrix of the shape of
   :math:`W_{h+1}^T` reading level h+1, with no read-out (counted from the channel's
   matrices); removed when not;
2. **weights**: the mean angle between the channel's matrix into h and :math:`W_{h+1}^T` over
   the layers where one has that shape (for ``bp`` and ``sign`` the matrix is read off the
   rule by probing its feedback with the identity); removed above 1 degree, or when no matrix
   has that shape;
3. **neurons**: the channel's own neurons (a +/- pair counts two); removed when there are any;
4. **derivatives**: :math:`\|B_h' - B_h\| / \|B_h\|`, :math:`B_h'` the backward signal with
   the derivatives of the layers above h (not h's own) replaced by 1, averaged over
   :math:`h \le L-2`; removed when below 1e-9 (no downstream derivative reaches h); needs two
   hidden layers;
5. **processing**: the channel's non-linearity :math:`\|B_h(-2E) + 2B_h(E)\| /
   \|2B_h(E)\|` (the output signal scaled by -2, the forward pass kept), averaged over h;
   removed above 1e-9 (the factor -2 catches odd units such as tanh and positively
   homogeneous ones such as unpaired ReLU, which a factor 2 alone would miss);
6. **learning rules** (docs/science.md section 1: the channel learns by the forward
   network's own local rule): one step is taken on a copy; kept when the channel is the
   forward weights (``bp``, ``sign``) or its own weights move (the adaptive rules' local
   product, reported with the lock-step residual :math:`\|\Delta C_h - \Delta
   W_{h+1}^T\| / \|\Delta W_{h+1}^T\|`, 0 for ARBP at rate ratio 1 without decay);
   removed when the channel has weights of its own that do not learn (fixed).

The papers count RBP as removing 3; as wires into the forward neurons ``rbp`` has no neurons
of its own, so 3 is removed only by the channel networks (``twin``, ``distinct``), which
compute the same thing as ``rbp``, ``srbp`` with linear units at the forward widths."""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace

import numpy as np

from ..rules import Signals
from ._network import DeepNetwork

__all__ = ["SymmetryProfile", "SYMMETRIES", "measure_symmetries", "format_symmetries",
           "suite_symmetries"]

#: The six symmetries, docs/science.md section 1.
SYMMETRIES = {1: "architecture", 2: "weights", 3: "neurons", 4: "derivatives",
              5: "processing", 6: "learning rules"}
_TINY = 1e-9


@dataclass(frozen=True)
class SymmetryProfile:
    """The measured symmetries of one rule's channel (see the module's docstring)."""

    label: str
    mirrors: bool
    weight_angle: float
    own_units: int
    downstream_derivative: float
    nonlinearity: float
    own_weights: bool
    channel_learns: bool
    lockstep_residual: float
    local_derivative: bool
    status: str = "measured"
    message: str = ""

    @property
    def removed(self) -> tuple[int, ...]:
        """The symmetries the measurements show removed."""
        out = []
        if not self.mirrors:
            out.append(1)
        if np.isnan(self.weight_angle) or self.weight_angle > 1.0:
            out.append(2)
        if self.own_units > 0:
            out.append(3)
        if self.downstream_derivative < _TINY:  # NaN (one hidden layer) compares False
            out.append(4)
        if self.nonlinearity > _TINY:
            out.append(5)
        if self.own_weights and not self.channel_learns:
            out.append(6)
        return tuple(out)


def _angle(a, b) -> float:
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        return float("nan")
    return float(np.degrees(np.arccos(np.clip(np.vdot(a, b) / (na * nb), -1.0, 1.0))))


def _rel(a, b) -> float:
    nb = np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / nb) if nb > 0 else float("nan")


def _mean(values) -> float:
    return float(np.mean(values)) if values else float("nan")


def _backward(net: DeepNetwork, s: Signals, factor: float = 1.0, flat_above: int | None = None
              ) -> Signals:
    """The backward pass on ``s``'s forward signals with the output signal times
    ``factor`` and, with ``flat_above = h``, the derivatives of layers h+1..L-1 set to 1."""
    L = net.network.depth
    t = Signals(net.network, net.W, net.C, S=s.S, O=s.O, B={L: factor * s.B[L]},
                E=factor * s.E)
    if flat_above is None:
        return net.backward(t)
    other = copy.copy(net)
    other.acts = {k: replace(a, derivative=lambda S, O: 1.0, is_identity=False)
                  if flat_above < k < L else a for k, a in net.acts.items()}
    return other.backward(t)


def _matrix(net: DeepNetwork, s: Signals, h: int):
    """The channel's matrix into layer ``h`` when it has :math:`W_{h+1}^T`'s shape: ``C_h``,
    or for a rule without matrices its feedback probed with the identity."""
    shape = net.W[h + 1].T.shape
    if net.C:
        C = net.C.get(h)
        return C if C is not None and C.shape == shape else None
    probe = Signals(net.network, net.W, net.C, S=s.S, O=s.O, E=s.E,
                    B={h + 1: np.eye(shape[1], dtype=net.dtype)})
    M = np.asarray(net.rule.feedback(probe, h))
    return M if M.shape == shape else None


def _one_step(net: DeepNetwork, X, T, lr: float) -> tuple[bool, float]:
    """Whether one step moves the channel's own weights, and :math:`\\|\\Delta C -
    \\Delta W^T\\| / \\|\\Delta W^T\\|` over the layers whose channel has
    :math:`W_{h+1}^T`'s shape (NaN if none)."""
    after = copy.deepcopy(net)
    after.step(X, T, lr)
    moves = any(not np.array_equal(after.C[k], c) for k, c in net.C.items())
    s0, s1 = net.forward(X), after.forward(X)
    out = []
    for h in range(1, net.network.depth):
        m0, m1 = _matrix(net, s0, h), _matrix(after, s1, h)
        if m0 is not None and m1 is not None:
            out.append(_rel(m1 - m0, (after.W[h + 1] - net.W[h + 1]).T))
    return moves, _mean(out)


def measure_symmetries(net: DeepNetwork, X: np.ndarray, T: np.ndarray, label: str = "",
                       lr: float = 0.05) -> SymmetryProfile:
    """The six symmetries of ``net``'s channel measured on the columns of ``X, T`` at its
    current weights (the module's docstring says how); ``net`` is not changed."""
    L = net.network.depth
    s = net.forward(X)
    net.output_error(s, T)
    base = _backward(net, s)
    hidden = range(1, L)
    scaled = _backward(net, s, -2.0)
    nonlin = _mean([_rel(scaled.B[h], -2.0 * base.B[h]) for h in hidden])
    down = _mean([_rel(_backward(net, s, flat_above=h).B[h], base.B[h])
                  for h in range(1, L - 1)])
    mats = {h: _matrix(net, s, h) for h in hidden}
    mirrors = all(m is not None for m in mats.values()) and all(isinstance(k, int)
                                                                for k in net.C)
    angles = [_angle(m, net.W[h + 1].T) for h, m in mats.items() if m is not None]
    count = getattr(net.rule, "unit_count", None)
    learns, residual = _one_step(net, X, T, lr)
    return SymmetryProfile(
        label=label or str(net.rule), mirrors=mirrors, weight_angle=_mean(angles),
        own_units=count(net.network) if count else 0, downstream_derivative=down,
        nonlinearity=nonlin, own_weights=bool(net.C), channel_learns=learns,
        lockstep_residual=residual,
        local_derivative=net.rule.derivative,
        message=f"measured on {X.shape[1]} samples at the current weights")


def _num(x: float, fmt: str) -> str:
    return "-" if np.isnan(x) else format(x, fmt)


def _learning(p: SymmetryProfile) -> str:
    if not p.own_weights:
        return "as W"
    if not p.channel_learns:
        return "fixed"
    return "local, lock " + _num(p.lockstep_residual, ".2f")


def format_symmetries(profiles: list[SymmetryProfile]) -> str:
    """A plain-text table: one row per profile, the measured quantities and the symmetries
    removed."""
    head = ("rule / variant", "1 mirror", "2 C~W^T deg", "3 units", "4 f' above",
            "5 nonlin", "6 channel learns", "removed")
    rows = [head]
    for p in profiles:
        rows.append((p.label, "yes" if p.mirrors else "no", _num(p.weight_angle, ".1f"),
                     str(p.own_units), _num(p.downstream_derivative, ".3f"),
                     _num(p.nonlinearity, ".3f"),
                     _learning(p),
                     ",".join(map(str, p.removed)) or "none"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


def suite_symmetries(runs, data, samples: int = 256) -> list[SymmetryProfile]:
    """The profile of every (rule, variant) of ``runs`` (baselines left out), each built as
    its first run (its seed) and measured at its initial weights on the first ``samples``
    training images of ``data``, with the run's learning rate for the step of symmetry 6."""
    from ._suite import BASELINES

    X = np.ascontiguousarray(data.X_train[:samples].T)
    T = np.ascontiguousarray(data.Y_train[:samples].T)
    seen, out = set(), []
    for run in runs:
        if run.rule in BASELINES or (run.rule, run.variant) in seen:
            continue
        seen.add((run.rule, run.variant))
        net = run.build()
        out.append(measure_symmetries(net, X.astype(net.dtype), T.astype(net.dtype),
                                      f"{run.rule} {run.variant}", lr=run.lr))
    return out
