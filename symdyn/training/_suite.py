r"""Runs and suites of experiments: deep networks trained on real data by every rule and
variant (:class:`Run`, :class:`Suite`, :data:`SUITES`); the estimate of a suite's work
checked before any training is in :mod:`~symdyn.training._work`.

**Variants** modify a rule (docs/science.md section 1, one symmetry each); a variant string joins
named variants and ``key=value`` settings with ``+`` (``adaptive+bits=4``):

* ``derivative``: the rule as it is (f' kept);
* ``no-derivative``: f' dropped in the hidden layers (symmetry 4);
* ``tanh-channel``: channel activation g = the hidden layers' own activation (symmetry 5);
* ``adaptive``: the channel learns by the local rule (rbp -> arbp, srbp -> asrbp) with
  Kolen-Pollack decay :data:`KP_DECAY` on both channels (symmetry 6); bp gets the same weight
  decay, as the control;
* ``bits=K`` (K-bit channel), ``density=P`` (sparse channel), ``scale=S`` (initial scale),
  ``decay=D``, ``rate_ratio=R``.

**Baselines** (:data:`BASELINES`), trained by the same engine, data, epochs and seeds:
``linear`` (a softmax read-out of the inputs, no hidden layer) and ``random-features`` (the
hidden layers stay at their random initial weights, only the read-out learns). A rule learns
in its hidden layers only if it beats ``random-features`` by more than the spread over seeds.

**The four channel architectures** of docs/science.md section 1 (:data:`ARCHITECTURES`):
Bidirectional (``bp``), Conjoined (``arbp``: a backward weight per forward one), and the
channel networks with neurons of their own, **Twin** (``twin``, layered like the forward net)
and **Distinct** (``distinct``, a population per hidden layer fed from the output error);
``rbp`` and ``srbp`` are their wires without neurons. The variants of a channel network:
``tanh-channel`` (units = the forward activation, in pairs if one-sided), ``relu-pairs``,
``logistic-pairs`` (one-sided units in +/- pairs) and ``width=R`` (channel widths R times the
forward ones). Which symmetries each removes is measured, not declared:
:func:`~symdyn.training._symmetries.measure_symmetries`.

Nothing here imports sympy or the engine (they are imported when a run is validated or
built), so the command line can check a suite's size before paying for them."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from ..errors import SpecError

if TYPE_CHECKING:
    from ._network import DeepNetwork

__all__ = ["Run", "Suite", "SUITES", "VARIANTS", "UNIT_VARIANTS", "BASELINES", "ARCHITECTURES",
           "KP_DECAY", "parse_variant", "architecture_of", "applies", "with_settings"]

#: Kolen-Pollack decay of the ``adaptive`` variant.
KP_DECAY = 1e-2
#: The named variants (settings are written ``key=value``).
VARIANTS = ("derivative", "no-derivative", "tanh-channel", "adaptive")
#: Variants of the channel networks only (twin, distinct): one-sided units in pairs.
UNIT_VARIANTS = {"relu-pairs": "relu", "logistic-pairs": "logistic"}
_SETTINGS = {"bits": int, "density": float, "scale": float, "decay": float,
             "rate_ratio": float, "width": float}
_ADAPTIVE = {"rbp": "arbp", "srbp": "asrbp"}
#: Controls run beside the rules: no hidden layer; fixed random hidden layers.
BASELINES = ("linear", "random-features")
_CHANNELED = ("rbp", "srbp", "arbp", "asrbp")  # rules with a channel matrix of their own

#: the channel networks of :data:`symdyn.rules.CHANNEL_NETWORKS` and the one-sided units of
#: ``rules._networks.ONE_SIDED``, named here so that a suite is checked without importing
#: sympy (tests/hostile/test_cli.py checks that they agree)
CHANNEL_NETWORK_NAMES = ("twin", "distinct")
ONE_SIDED = ("relu", "logistic")

#: architecture -> (rules, what carries the error back), docs/science.md section 1; which
#: symmetries each removes is measured (``symdyn experiment --symmetries``).
ARCHITECTURES = {
    "Bidirectional": (("bp", "sign"), "the forward weights (or their signs), used in reverse"),
    "Conjoined": (("arbp",), "a backward weight paired with each forward one, learning by "
                  "the same local rule"),
    "Twin": (("twin", "rbp"), "twin: a backward network of neurons of its own, layered like "
             "the forward one (rbp: its wires, no neurons)"),
    "Distinct": (("distinct", "srbp", "asrbp"), "distinct: a population of neurons per "
                 "hidden layer, fed from the output error (srbp, asrbp: skip wires)"),
}


def applies(rule: str, variant: str) -> bool:
    """Whether ``variant`` means something for ``rule``: baselines run as they are; the
    channel variants (``tanh-channel``, ``adaptive``, ``density``) need a channel, which bp
    has not (nor, for ``adaptive`` and ``density``, sign symmetry: its channel is the signs
    of the forward weights)."""
    tokens = {t.strip().partition("=")[0] for t in variant.lower().split("+")}
    if rule in BASELINES:
        return tokens <= {"derivative"}
    if rule in CHANNEL_NETWORK_NAMES:
        return not tokens & {"adaptive", "density", "bits"}
    if tokens & {*UNIT_VARIANTS, "width"}:
        return False
    if tokens & {"adaptive", "density"}:
        return rule in _CHANNELED
    if "tanh-channel" in tokens:
        return rule != "bp"
    return True


def architecture_of(rule: str) -> str:
    for name, (rules, _) in ARCHITECTURES.items():
        if rule in rules:
            return name
    return ""


def parse_variant(text: str, rule: str, activation: str) -> tuple[str, dict, dict]:
    """``(rule name, rule options, network options)`` of a variant string for ``rule``
    (whitelist parser: named variants and ``key=number``)."""
    if not isinstance(text, str) or not text.strip():
        raise SpecError(f"a variant is a non-empty string, got {text!r}")
    options: dict = {}
    net: dict = {}
    for token in text.split("+"):
        token = token.strip().lower()
        key, sep, value = token.partition("=")
        if sep:
            if key not in _SETTINGS:
                raise SpecError(f"unknown variant setting {key!r} in {text!r}; settings: "
                                f"{', '.join(_SETTINGS)}")
            if not re.fullmatch(r"[0-9.eE+-]+", value.strip()):
                raise SpecError(f"variant setting {key} must be a number, got {value!r}")
            try:
                v = _SETTINGS[key](value.strip())
            except ValueError:
                raise SpecError(f"variant setting {key} must be a number, got {value!r}") \
                    from None
            (options if key in ("decay", "rate_ratio", "width") else net)[key] = v
        elif token == "derivative":
            pass
        elif token == "no-derivative":
            options["derivative"] = False
        elif token == "tanh-channel" and rule in CHANNEL_NETWORK_NAMES:
            options.update(units=activation, paired=activation in ONE_SIDED)
        elif token in UNIT_VARIANTS:
            options.update(units=UNIT_VARIANTS[token], paired=True)
        elif token == "tanh-channel":
            options["channel_activation"] = activation
        elif token == "adaptive":
            rule = _ADAPTIVE.get(rule, rule)
            options.setdefault("decay", KP_DECAY)
        else:
            raise SpecError(f"unknown variant {token!r}; choose from "
                            f"{', '.join([*VARIANTS, *UNIT_VARIANTS])} or "
                            f"{', '.join(k + '=...' for k in _SETTINGS)}")
    if "rate_ratio" in options and rule not in ("arbp", "asrbp"):
        raise SpecError(f"rate_ratio applies to adaptive rules only, not {rule} ({text!r})")
    _check_settings(text, options, net)
    return rule, options, net


#: the rule whose wires a channel network's neurons replace (docs/science.md section 1)
_WIRES = {"twin": "rbp", "distinct": "srbp"}


def _wires(rule: str, options: dict, net: dict) -> tuple[str, dict, dict]:
    r"""A channel network at the forward widths as the rule of its wires: twin is rbp,
    distinct is srbp, unpaired units the channel activation (linear when not given) and ReLU
    pairs linear (:math:`\max(x, 0) - \max(-x, 0) = x` in floating point too). They draw the
    same matrices and compute the same updates, so they train the same network bit for bit
    (tests/test_channel_networks.py); anything else is returned as is."""
    paired, units = options.get("paired", False), options.get("units", "linear")
    if rule not in _WIRES or options.get("width", 1.0) != 1.0 or (paired and units != "relu"):
        return rule, options, net
    options = {k: v for k, v in options.items() if k not in ("units", "paired", "width")}
    if not paired and units != "linear":
        options["channel_activation"] = units
    return _WIRES[rule], options, net


def _check_settings(text: str, options: dict, net: dict) -> None:
    """The ranges :class:`~symdyn.training.DeepNetwork` and the rules accept, checked when a
    run is made (not when its network is built, maybe after other runs have trained)."""
    for key, v in {**options, **net}.items():
        if isinstance(v, float) and not np.isfinite(v):
            raise SpecError(f"variant setting {key} must be finite, got {v!r} in {text!r}")
    if "density" in net and not 0.0 < net["density"] <= 1.0:
        raise SpecError(f"density must be in (0, 1], got {net['density']!r} in {text!r}")
    if "bits" in net and not 1 <= net["bits"] <= 52:
        raise SpecError(f"bits must be an integer from 1 to 52, got {net['bits']!r} in "
                        f"{text!r}")
    if net.get("scale", 0.0) < 0:
        raise SpecError(f"scale must be a non-negative number, got {net['scale']!r} in "
                        f"{text!r}")


@dataclass(frozen=True, kw_only=True)
class Run:
    """One training run: a rule and variant, a seed, and every setting that changes it."""

    rule: str
    variant: str = "derivative"
    seed: int = 0
    data: str = "digits"
    arch: str = "64-100-100-10"
    activation: str = "tanh"
    epochs: int = 30
    lr: float = 0.05
    batch_size: int = 32
    loss: str = "softmax"
    init: str = "normal"
    scale: float = 1.0
    bias: bool = True
    dtype: str = "float32"
    train_sample: int = 10_000

    def __post_init__(self) -> None:
        from ..rules import CHANNEL_NETWORKS, RULES  # sympy: when a run is made, not sized
        from ._network import DTYPES

        if not isinstance(self.rule, str) or self.rule not in (*RULES, *CHANNEL_NETWORKS,
                                                                *BASELINES):
            raise SpecError(f"unknown rule {self.rule!r}; choose one of "
                            f"{', '.join([*RULES, *CHANNEL_NETWORKS, *BASELINES])}")
        if self.dtype not in DTYPES:
            raise SpecError(f"dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        if isinstance(self.train_sample, bool) or not isinstance(self.train_sample, int) \
                or self.train_sample < 1:
            raise SpecError(f"train_sample must be a positive integer, got "
                            f"{self.train_sample!r}")
        for name in ("epochs", "batch_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise SpecError(f"{name} must be a positive integer, got {v!r}")
        if not (isinstance(self.lr, (int, float)) and np.isfinite(self.lr) and self.lr > 0):
            raise SpecError(f"lr must be a positive number, got {self.lr!r}")
        parse_variant(self.variant, self.rule, self.activation)
        if not applies(self.rule, self.variant):
            raise SpecError(f"variant {self.variant!r} does not apply to {self.rule} (it "
                            "changes a channel, which it has not)")

    @property
    def key(self) -> str:
        """A file-safe name, unique for the settings."""
        digest = hashlib.sha1(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()
        v = re.sub(r"[^a-z0-9.=-]+", "_", self.variant)
        return f"{self.rule}__{v}__s{self.seed}__{digest[:10]}"

    @property
    def identity(self) -> str:
        """Equal for runs that train the same network in the same way under different labels
        (``rbp`` + ``adaptive`` is ``arbp`` + ``adaptive``; ``scale=1`` is the default; a
        channel network at the forward widths that trains as its wires is them, :func:`_wires`)."""
        rule, options, net = _wires(*parse_variant(self.variant, self.rule, self.activation))
        d = asdict(self)
        del d["rule"], d["variant"]
        d.update(scale=float(net.pop("scale", self.scale)), resolved=rule,
                 options=sorted((k, str(v)) for k, v in options.items()),
                 network=sorted(net.items()))
        return hashlib.sha1(json.dumps(d, sort_keys=True).encode()).hexdigest()

    def build(self) -> DeepNetwork:
        """The network of this run, initialised from its seed (a baseline: ``linear`` has
        the input and output sizes of ``arch`` and no hidden layer; ``random-features`` has
        ``arch`` with its hidden layers fixed)."""
        from ..rules import CHANNEL_NETWORKS, as_rule
        from ._network import DeepNetwork

        rule, options, net = parse_variant(self.variant, self.rule, self.activation)
        scale = net.pop("scale", self.scale)
        arch, fixed = self.arch, False
        if rule in BASELINES:
            sizes = arch.split("-")
            arch, fixed = (f"{sizes[0]}-{sizes[-1]}", False) if rule == "linear" else (arch,
                                                                                     True)
            rule = "bp"
        rule = CHANNEL_NETWORKS[rule](**options) if rule in CHANNEL_NETWORKS else \
            as_rule(rule, **options)
        return DeepNetwork(arch, rule, activation=self.activation,
                           loss=self.loss, bias=self.bias, init=self.init, scale=scale,
                           seed=self.seed, dtype=self.dtype, fixed_hidden=fixed, **net)



@dataclass(frozen=True, kw_only=True)
class Suite:
    """A grid of runs: every rule x variant x seed where the variant applies
    (:func:`applies`), the :data:`BASELINES` x seed, and when ``arbp`` is among the rules
    ``symmetry_scales`` (ARBP from several initial scales, seeds 0..``symmetry_seeds``-1),
    all with the same settings."""

    data: str = "fashion-mnist"
    arch: str = "784-256-128-10"
    activation: str = "tanh"
    rules: tuple[str, ...] = ("bp", "rbp", "srbp", "arbp", "asrbp", "sign")
    variants: tuple[str, ...] = VARIANTS
    baselines: tuple[str, ...] = BASELINES
    seeds: int = 3
    epochs: int = 10
    lr: float = 0.05
    batch_size: int = 32
    loss: str = "softmax"
    init: str = "normal"
    scale: float = 1.0
    dtype: str = "float32"
    train_sample: int = 10_000
    symmetry_scales: tuple[float, ...] = (1.0, 0.1, 0.01)
    symmetry_seeds: int = 1
    extra: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        for name in ("rules", "variants", "symmetry_scales"):
            v = getattr(self, name)
            if isinstance(v, str) or not isinstance(v, tuple | list):
                raise SpecError(f"Suite: {name} must be a tuple, got {type(v).__name__}")
        for name in ("seeds", "symmetry_seeds", "epochs"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise SpecError(f"Suite: {name} must be a non-negative integer, got {v!r}")
        if not all(isinstance(s, int | float) and not isinstance(s, bool) and np.isfinite(s)
                   and s > 0 for s in self.symmetry_scales):
            raise SpecError(f"Suite: symmetry_scales must be positive numbers, got "
                            f"{self.symmetry_scales!r}")
        bad = [v for v in self.variants if not isinstance(v, str) or not v.strip()]
        if bad:
            raise SpecError(f"Suite: a variant is a non-empty string, got {bad[0]!r}")
        for rule in self.rules:  # every variant's settings, before any data is read
            for variant in self.variants:
                if isinstance(rule, str) and applies(rule, variant):
                    parse_variant(variant, rule, self.activation)

    def runs(self) -> list[Run]:
        common = dict(data=self.data, arch=self.arch, activation=self.activation,
                      epochs=self.epochs, lr=self.lr, batch_size=self.batch_size,
                      loss=self.loss, init=self.init, scale=self.scale, dtype=self.dtype,
                      train_sample=self.train_sample)
        out = [Run(rule=r, seed=s, **common) for r in self.baselines
               for s in range(self.seeds)]
        out += [Run(rule=r, variant=v, seed=s, **common)
                for r in self.rules for v in self.variants for s in range(self.seeds)
                if applies(r, v)]
        if "arbp" in self.rules:
            out += [Run(rule="arbp", variant=f"scale={sc:g}", seed=s, **common)
                    for sc in self.symmetry_scales for s in range(self.symmetry_seeds)]
        seen, unique = set(), []
        for r in out:
            if r.key not in seen:
                seen.add(r.key)
                unique.append(r)
        return unique


_DIGITS = dict(data="digits", arch="64-100-100-10", epochs=30)
#: Named suites. ``default``: claim 7 on Fashion-MNIST (784-256-128-10, tanh; 6 rules x 4
#: variants where they apply, 2 baselines, 3 seeds, 10 epochs, ARBP from initial scales 1,
#: 0.1, 0.01); ``deep``: the same on 784-256-256-256-10; ``relu``: ReLU hidden units (the
#: ``tanh-channel`` variant then has a ReLU channel); ``digits``: the grid on scikit-learn's
#: digits (64-100-100-10, 30 epochs); ``quick``: digits, 1 seed, 5 epochs; ``channels``:
#: k-bit and sparse channels (digits); ``symmetry``: ARBP from five scales (digits).
SUITES: dict[str, Suite] = {
    "default": Suite(),
    "deep": Suite(arch="784-256-256-256-10"),
    "relu": Suite(activation="relu"),
    "digits": Suite(**_DIGITS),
    "quick": Suite(**{**_DIGITS, "epochs": 5}, seeds=1),
    "channels": Suite(**_DIGITS, rules=("bp", "rbp", "srbp"),
                      variants=("derivative", "bits=1", "bits=2", "bits=4", "bits=8",
                                "density=0.5", "density=0.1"),
                      symmetry_scales=()),
    "symmetry": Suite(**_DIGITS, rules=("arbp",), variants=(), baselines=(),
                      symmetry_scales=(1.0, 0.3, 0.1, 0.03, 0.01), symmetry_seeds=3),
}




def with_settings(suite: Suite, **changes) -> Suite:
    """``suite`` with some settings changed (``None`` values are ignored)."""
    return replace(suite, **{k: v for k, v in changes.items() if v is not None})
