r"""A deep network trained numerically by a rule object: the same ``feedback`` and
``channel_update`` that :func:`~symdyn.derive` applies to sympy matrices, applied to numpy
arrays (samples as columns).

**One pass** on a mini-batch :math:`X` (:math:`n_0 \times b`), targets :math:`T`:

.. math:: S_h = W_h O_{h-1} + b_h,\quad O_h = f_h(S_h),\quad O_0 = X;

the output signal is :math:`B_L = E \circ f_L'(S_L)`, :math:`E = T - O_L` (squared error) or
:math:`B_L = E = T - \mathrm{softmax}(S_L)` (softmax and cross-entropy, linear output); then,
for :math:`h = L-1, \dots, 1`, :math:`B_h = f_h'(S_h) \circ g(F_h)` with the derivative kept
(``rule.derivative``) or :math:`B_h = g(F_h)` dropped, where :math:`F_h` is ``rule.feedback``
of the signals as the channel transmits them: exact, or with ``bits`` :math:`K` each
transmitted error (:math:`B_{h+1}` or :math:`E`, whatever the rule reads) quantised to
:math:`K` bits per line and sample on a scale fixed in advance (:func:`quantize`).

**One step** with learning rate ``lr`` (the convention of :func:`~symdyn.simulate`:
``rule.rate`` :math:`\eta` multiplies it, so the step follows the averaged ODE of ``derive`` in
the time :math:`t = \mathrm{lr}\cdot k`):

.. math::
   W_h \mathrel{+}= \mathrm{lr}\,\eta\,\big(\tfrac1b B_h O_{h-1}^T - d\,W_h\big),\quad
   b_h \mathrel{+}= \mathrm{lr}\,\eta\,\tfrac1b B_h \mathbf 1,\quad
   C_h \mathrel{+}= \mathrm{lr}\,\eta\,\big(\lambda\,\tfrac1b\,U_h - d\,C_h\big)\circ M_h,

:math:`U_h` the rule's ``channel_update`` (adaptive rules only), :math:`M_h` the sparsity
mask of the channel (all ones at ``density=1``; else every receiving unit keeps the same number
:math:`k = \max(1, \mathrm{round}(p\, n_{\mathrm{in}}))` of error lines, drawn at random).
Biases learn by the same local product with the constant input 1 and no decay."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..errors import SpecError
from ..numerics._codegen import numpy_function
from ..rules import BP, LearningRule, Signals, as_rule
from ..spec import Activation, Network, as_network

__all__ = ["DeepNetwork", "NumericActivation", "numeric_activation", "quantize", "unit_mask",
           "INITS", "LOSSES", "DTYPES"]

#: Floating-point types of the weights and signals (float32: about twice as fast).
DTYPES = ("float64", "float32")
#: Losses: squared error :math:`\frac12\|T - O_L\|^2` and softmax with cross-entropy.
LOSSES = ("squared", "softmax")


@dataclass(frozen=True)
class NumericActivation:
    """:math:`f` and :math:`f'` on numpy arrays; ``derivative(S, O)`` may use the output
    :math:`O = f(S)` when that is cheaper (``1 - O**2`` for tanh)."""

    name: str
    function: Callable[[np.ndarray], np.ndarray]
    derivative: Callable[[np.ndarray, np.ndarray], np.ndarray]
    is_identity: bool = False


def _logistic(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


# Closed forms of the built-in activations, checked against the sympy ones in the tests.
_FAST = {
    "tanh": (np.tanh, lambda s, o: 1.0 - o * o),
    "logistic": (_logistic, lambda s, o: o * (1.0 - o)),
    "relu": (lambda x: np.maximum(x, 0.0),
             lambda s, o: np.heaviside(s, np.asarray(0.5, dtype=s.dtype))),
    "softplus": (lambda x: np.logaddexp(0.0, x), lambda s, o: _logistic(s)),
}


@lru_cache(maxsize=64)
def numeric_activation(f: Activation) -> NumericActivation:
    """The numpy version of a sympy :class:`~symdyn.Activation`: a closed form for the
    built-in names, otherwise generated numpy code of :math:`f` and :math:`f'`."""
    if f.is_linear:
        k = float(f.slope)
        if k == 1.0:
            return NumericActivation(f.name, lambda x: x, lambda s, o: 1.0, True)
        return NumericActivation(f.name, lambda x: k * x, lambda s, o: k)
    from ..spec import ACTIVATIONS

    if f.name in _FAST and ACTIVATIONS.get(f.name) == f:
        fn, df = _FAST[f.name]
        return NumericActivation(f.name, fn, df)
    (v,) = f.function.variables
    fn = numpy_function(v, f.function.expr, cse=False)
    dfn = numpy_function(v, f.derivative.expr, cse=False)
    return NumericActivation(f.name, lambda x: fn(x) + 0.0 * x, lambda s, o: dfn(s) + 0.0 * s)


def quantize(x: np.ndarray, bits: int, scale: float) -> np.ndarray:
    r"""``x`` sent through a ``bits``-bit line per entry, on the range :math:`[-m, m]` fixed
    in advance (``scale`` :math:`m`; larger values saturate): for :math:`K \ge 2` bits the
    :math:`2^K - 1` levels :math:`j\,m/(2^{K-1} - 1)`, :math:`|j| \le 2^{K-1} - 1` (zero
    included), nearest taken, so the error inside the range is at most :math:`m/(2^K - 2)`;
    for one bit the two levels :math:`\pm m/2` (the sign). Every value sent is one of at most
    :math:`2^K` levels, so it is :math:`K` bits."""
    m = float(scale)
    if bits == 1:
        return np.where(x >= 0, 0.5 * m, -0.5 * m).astype(x.dtype, copy=False)
    if m <= 0:
        return np.zeros_like(x)
    step = m / (2 ** (bits - 1) - 1)
    return (np.round(np.clip(x, -m, m) / step) * step).astype(x.dtype, copy=False)


def unit_mask(rng, shape: tuple[int, int], density: float) -> np.ndarray:
    r"""A channel mask that gives every receiving unit (row) the same number
    :math:`k = \max(1, \mathrm{round}(p\,n))` of the :math:`n` error lines (columns), drawn
    without replacement row by row: no unit is left out."""
    rows, cols = shape
    k = max(1, int(round(density * cols)))
    mask = np.zeros(shape)
    for i in range(rows):
        mask[i, rng.choice(cols, size=k, replace=False)] = 1.0
    return mask


def _normal(rng, shape, fan_in, scale):
    return rng.normal(0.0, scale / np.sqrt(fan_in), size=shape)


def _uniform(rng, shape, fan_in, scale):
    a = scale * np.sqrt(3.0 / fan_in)
    return rng.uniform(-a, a, size=shape)


#: Initialisations: entries of variance ``scale**2 / fan_in`` (fan-in of W_h is n_{h-1}, of a
#: channel C_h the size of the signal it carries), normal or uniform.
INITS: dict[str, Callable] = {"normal": _normal, "uniform": _uniform}


def _float(name: str, value) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise SpecError(f"{name} must be a number to train numerically, got {value!r}") from None
    return out


class DeepNetwork:
    """A multilayer network with weights ``W[h]``, biases ``b[h]`` (``h = 1..L``) and
    channels ``C[h]`` (``h = 1..L-1``, rules with a channel; every matrix the rule's
    ``channel_matrices`` lists, so a channel network's read-outs ``C["R1"]``, ... too),
    trained by ``rule``.

    ``loss``: ``"softmax"`` (cross-entropy; needs a linear output layer) or ``"squared"``;
    ``bias``: learn biases; ``density``: fraction of each receiving unit's error lines kept
    (:func:`unit_mask`, kept while an adaptive channel learns); ``bits``: the transmitted
    errors quantised to that many bits per line and sample (:func:`quantize`; ``None``:
    exact); ``fixed_hidden``: the hidden layers stay at their initial weights and only the
    output layer learns (the random-features control); ``init`` (:data:`INITS`) and
    ``scale``: the initial weights, drawn by ``numpy.random.default_rng(seed)`` (in float64,
    then cast to ``dtype``, so both types start from the same weights)."""

    def __init__(self, network: Network | str, rule: LearningRule | str, *,
                 activation=None, loss: str = "softmax", bias: bool = True,
                 density: float = 1.0, bits: int | None = None, init: str = "normal",
                 scale: float = 1.0, seed: int = 0, dtype: str = "float64",
                 fixed_hidden: bool = False):
        self.network = net = as_network(network, activation)
        self.rule = rule = as_rule(rule)
        if loss not in LOSSES:
            raise SpecError(f"loss must be one of {', '.join(LOSSES)}, got {loss!r}")
        if loss == "softmax" and not net.activations[-1].is_linear:
            raise SpecError(f"the softmax loss needs a linear output layer, got "
                            f"{net.activations[-1].name}")
        density = _float("density", density)
        if not 0.0 < density <= 1.0:
            raise SpecError(f"density must be in (0, 1], got {density!r}")
        if density < 1.0 and rule.channel_shape(net, 1) is None:
            raise SpecError(f"density applies to rules with a channel (rbp, srbp, arbp, "
                            f"asrbp), not {rule.name}")
        if rule.numeric_only and (density < 1.0 or bits is not None or rule.adaptive):
            raise SpecError(f"the {rule.name} channel network takes no density or bits (its "
                            "neurons are the channel)")
        if bits is not None and (isinstance(bits, bool) or not isinstance(bits, int)
                                 or not 1 <= bits <= 52):
            raise SpecError(f"bits must be an integer from 1 to 52 or None, got {bits!r}")
        if init not in INITS:
            raise SpecError(f"unknown initialisation {init!r}; choose one of {', '.join(INITS)}")
        if dtype not in DTYPES:
            raise SpecError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
        scale = _float("scale", scale)
        if not (np.isfinite(scale) and scale >= 0):
            raise SpecError(f"scale must be a non-negative number, got {scale!r}")
        self.eta, self.decay = _float("rate", rule.rate), _float("decay", rule.decay)
        self.ratio = _float("rate_ratio", getattr(rule, "rate_ratio", 1))
        self.loss, self.bias, self.density, self.bits = loss, bool(bias), density, bits
        self.init, self.scale, self.seed = init, scale, int(seed)
        self.dtype, self.fixed_hidden = np.dtype(dtype), bool(fixed_hidden)
        self.acts = {h: numeric_activation(a) for h, a in enumerate(net.activations, 1)}
        self.g = numeric_activation(rule.channel_activation)
        #: the range of each quantised line, fixed at the first pass (``"E"`` or ``h``)
        self.line_scale: dict = {"E": 1.0} if loss == "softmax" else {}
        self._initialise()

    def _initialise(self) -> None:
        rng = np.random.default_rng(self.seed)
        sizes, L, draw = self.network.sizes, self.network.depth, INITS[self.init]
        self.W = {h: draw(rng, (sizes[h], sizes[h - 1]), sizes[h - 1], self.scale
                          ).astype(self.dtype) for h in range(1, L + 1)}
        self.b = {h: np.zeros((sizes[h], 1), dtype=self.dtype) for h in range(1, L + 1)}
        self.C, self.mask = {}, {}
        for h, shape in self.rule.channel_matrices(self.network).items():
            C = draw(rng, shape, shape[1], self.scale)
            if self.density < 1.0:
                self.mask[h] = unit_mask(rng, shape, self.density).astype(self.dtype)
                C *= self.mask[h]
            self.C[h] = C.astype(self.dtype)

    @property
    def bits_per_sample(self) -> int | None:
        """Bits the channels transmit per training sample with ``bits`` set: :math:`K` times
        the number of error lines sent into the hidden layers (one value per line)."""
        if self.bits is None or self.fixed_hidden:
            return None
        return self.bits * sum(self._sent_lines(h) for h in range(1, self.network.depth))

    def _sent_lines(self, h: int) -> int:
        shape = self.rule.channel_shape(self.network, h)
        return shape[1] if shape is not None else self.network.sizes[h + 1]

    # -- the pass -----------------------------------------------------------------------------
    def forward(self, X: np.ndarray) -> Signals:
        """Forward signals for inputs ``X`` (:math:`n_0 \\times b`)."""
        s = Signals(self.network, self.W, self.C, O={0: X})
        for h in range(1, self.network.depth + 1):
            S = self.W[h] @ s.O[h - 1]
            if self.bias:
                S += self.b[h]
            s.S[h] = S
            s.O[h] = self.acts[h].function(S)
        return s

    def output_error(self, s: Signals, T: np.ndarray) -> None:
        """Set :math:`E` and :math:`B_L` from the targets."""
        L = self.network.depth
        if self.loss == "softmax":
            s.E = T - softmax(s.S[L])
            s.B[L] = s.E
        else:
            s.E = T - s.O[L]
            f = self.acts[L]
            s.B[L] = s.E if f.is_identity else s.E * f.derivative(s.S[L], s.O[L])

    def _sent(self, s: Signals, h: int, bits: int) -> Signals:
        """The signals as a ``bits``-bit channel into layer ``h`` delivers them: the errors
        it reads (:math:`E`, :math:`B_{h+1}`) quantised on their fixed ranges."""
        B = dict(s.B)
        for key, value in (("E", s.E), (h + 1, s.B[h + 1])):
            if key not in self.line_scale:  # fixed once, from the first pass
                self.line_scale[key] = float(np.abs(value).max()) or 1.0
        B[h + 1] = quantize(s.B[h + 1], bits, self.line_scale[h + 1])
        E = quantize(s.E, bits, self.line_scale["E"])
        if h + 1 == self.network.depth and self.loss == "softmax":
            B[h + 1] = E
        return Signals(s.network, s.A, s.C, S=s.S, O=s.O, B=B, E=E, Z=s.Z)

    def backward(self, s: Signals, rule: LearningRule | None = None,
                 bits: int | None = None) -> Signals:
        """Fill the backward signals :math:`B_h` by ``rule`` (default: this network's),
        mirroring ``derive``'s ``_propagate``; ``s.E`` and ``s.B[L]`` must be set."""
        rule = self.rule if rule is None else rule
        g = self.g if rule is self.rule else numeric_activation(rule.channel_activation)
        for h in range(self.network.depth - 1, 0, -1):
            F = rule.feedback(s if bits is None else self._sent(s, h, bits), h)
            signal = g.function(F)
            if rule.derivative:
                f = self.acts[h]
                if not f.is_identity:
                    signal = signal * f.derivative(s.S[h], s.O[h])
            s.B[h] = signal
        return s

    def signals(self, X: np.ndarray, T: np.ndarray) -> Signals:
        """The forward pass and the rule's backward signals for the columns of ``X, T``."""
        if X.ndim != 2 or X.shape[1] == 0 or T.shape != (self.network.sizes[-1], X.shape[1]):
            raise SpecError(f"samples are columns: X ({self.network.sizes[0]}, b) and T "
                            f"({self.network.sizes[-1]}, b) with b >= 1, got {X.shape} and "
                            f"{T.shape}")
        s = self.forward(X)
        self.output_error(s, T)
        if self.fixed_hidden:
            return s
        return self.backward(s, bits=self.bits)

    def products(self, s: Signals) -> tuple[dict, dict, dict]:
        r"""Mean local products over the columns: :math:`B_h O_{h-1}^T / b`, :math:`B_h\mathbf
        1/b` and (adaptive rules) ``channel_update`` :math:`/ b`; only the output layer's with
        ``fixed_hidden``."""
        n = s.O[0].shape[1]
        layers = [self.network.depth] if self.fixed_hidden else list(self.W)
        forward = {h: s.B[h] @ s.O[h - 1].T / n for h in layers}
        bias = {h: s.B[h].sum(axis=1, keepdims=True) / n for h in layers} if self.bias else {}
        channel = ({h: self.rule.channel_update(s, h) / n for h in self.C}
                   if self.rule.adaptive and not self.fixed_hidden else {})
        return forward, bias, channel

    def update(self, X: np.ndarray, T: np.ndarray) -> tuple[dict, dict, dict]:
        r"""The rule's update :math:`(\Delta W, \Delta b, \Delta C)` on the columns of ``X, T``
        (mean over them, rate and decay included; one step adds ``lr`` times it)."""
        forward, bias, channel = self.products(self.signals(X, T))
        eta, d, lam = self.eta, self.decay, self.ratio
        dW = {h: eta * (p - d * self.W[h]) if d else eta * p for h, p in forward.items()}
        db = {h: eta * p for h, p in bias.items()}
        dC = {h: eta * (lam * p - d * self.C[h]) if d else eta * lam * p
              for h, p in channel.items()}
        for h, m in self.mask.items():
            if h in dC:
                dC[h] = dC[h] * m
        return dW, db, dC

    def step(self, X: np.ndarray, T: np.ndarray, lr: float) -> None:
        """One step of the rule on a mini-batch (columns): ``lr`` times :meth:`update`,
        computed in place (one product per matrix, scaled once)."""
        s = self.signals(X, T)
        n = X.shape[1]
        k = lr * self.eta / n
        L = self.network.depth
        for h in ([L] if self.fixed_hidden else self.W):
            G = s.B[h] @ s.O[h - 1].T
            if self.decay:
                G -= (n * self.decay) * self.W[h]
            G *= k
            self.W[h] += G
            if self.bias:
                self.b[h] += k * s.B[h].sum(axis=1, keepdims=True)
        if self.rule.adaptive and not self.fixed_hidden:
            for h in self.C:
                G = self.rule.channel_update(s, h)
                G *= self.ratio
                if self.decay:
                    G -= (n * self.decay) * self.C[h]
                G *= k
                if h in self.mask:
                    G *= self.mask[h]
                self.C[h] += G

    # -- evaluation ---------------------------------------------------------------------------
    def loss_value(self, X: np.ndarray, T: np.ndarray, s: Signals | None = None) -> float:
        """Mean loss over the columns."""
        s = self.forward(X) if s is None else s
        S = s.S[self.network.depth]
        if self.loss == "softmax":
            z = S - S.max(axis=0, keepdims=True)
            logp = z - np.log(np.exp(z).sum(axis=0, keepdims=True))
            return float(-(T * logp).sum() / X.shape[1])
        return float(0.5 * ((T - s.O[self.network.depth]) ** 2).sum() / X.shape[1])

    def bp_products(self, s: Signals) -> tuple[dict, Signals]:
        """:math:`B_h O_{h-1}^T / b` of backpropagation at the same weights and forward pass
        (the negative gradient of the loss), by ``BP()``'s own ``feedback``; and BP's signals."""
        t = Signals(self.network, self.W, self.C, S=s.S, O=s.O, B={}, E=s.E)
        t.B[self.network.depth] = s.B[self.network.depth]
        self.backward(t, rule=_BP)
        n = s.O[0].shape[1]
        return {h: t.B[h] @ t.O[h - 1].T / n for h in self.W}, t

    def parameters(self) -> dict[str, np.ndarray]:
        out = {f"W{h}": w for h, w in self.W.items()}
        out.update({f"b{h}": v for h, v in self.b.items()} if self.bias else {})
        out.update({h if isinstance(h, str) else f"C{h}": c for h, c in self.C.items()})
        return out


_BP = BP()


def softmax(S: np.ndarray) -> np.ndarray:
    """Softmax over each column."""
    z = np.exp(S - S.max(axis=0, keepdims=True))
    return z / z.sum(axis=0, keepdims=True)
