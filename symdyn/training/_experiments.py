r"""Experiments: deep networks trained on real data by every rule and variant, measured per
epoch, collected in a tidy :class:`~symdyn.training._table.ResultsTable`.

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
:func:`~symdyn.training._symmetries.measure_symmetries`."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from ..errors import SpecError
from ..rules import CHANNEL_NETWORKS, RULES, as_rule
from ..rules._networks import ONE_SIDED
from ._data import ClassificationData
from ._network import DTYPES, DeepNetwork

__all__ = ["Run", "Suite", "SUITES", "VARIANTS", "UNIT_VARIANTS", "BASELINES", "ARCHITECTURES",
           "KP_DECAY", "run_one", "parse_variant", "measure", "architecture_of", "applies"]

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
    if rule in CHANNEL_NETWORKS:
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
        elif token == "tanh-channel" and rule in CHANNEL_NETWORKS:
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
    return rule, options, net


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
        (``rbp`` + ``adaptive`` is ``arbp`` + ``adaptive``; ``scale=1`` is the default)."""
        rule, options, net = parse_variant(self.variant, self.rule, self.activation)
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


def _angle(a: np.ndarray, b: np.ndarray) -> float:
    """The angle in degrees between two arrays (as vectors); NaN if either is zero."""
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0 or not (np.isfinite(na) and np.isfinite(nb)):
        return float("nan")
    return float(np.degrees(np.arccos(np.clip(np.vdot(a, b) / (na * nb), -1.0, 1.0))))


def _accuracy(S: np.ndarray, T: np.ndarray) -> float:
    return float(np.mean(np.argmax(S, axis=0) == np.argmax(T, axis=0)))


def measure(net: DeepNetwork, X: np.ndarray, T: np.ndarray, Xt: np.ndarray, Tt: np.ndarray
            ) -> dict:
    """Loss and accuracy on train (``X, T``: the training images measured, maybe a fixed
    sample of them) and test (``Xt, Tt``) (samples as columns); for every hidden layer h the
    angle between the rule's update of W_h and BP's at the same weights
    (``update_angle_h``), the angle between the rule's feedback F_h and BP's
    (``feedback_angle_h``), and when C_h has the shape of W_{h+1}^T the angle and relative
    distance ||C_h - W_{h+1}^T|| / ||C_h|| (``channel_angle_h``, ``channel_dist_h``). The one
    place where a run is measured (every epoch)."""
    L = net.network.depth
    s = net.signals(X, T)
    out = {"train_loss": net.loss_value(X, T, s), "train_acc": _accuracy(s.S[L], T)}
    st = net.forward(Xt)
    out["test_loss"] = net.loss_value(Xt, Tt, st)
    out["test_acc"] = _accuracy(st.S[L], Tt)
    if net.fixed_hidden or L == 1:
        return out
    rule_p = net.products(s)[0]
    bp_p, bp = net.bp_products(s)
    for h in range(1, L):
        out[f"update_angle_h{h}"] = _angle(rule_p[h], bp_p[h])
        if h in net.C or net.rule.name != "bp":
            out[f"feedback_angle_h{h}"] = _angle(net.rule.feedback(s, h),
                                                 net.W[h + 1].T @ bp.B[h + 1])
        if h in net.C and net.C[h].shape == net.W[h + 1].T.shape:
            Wt = net.W[h + 1].T
            out[f"channel_angle_h{h}"] = _angle(net.C[h], Wt)
            nc = np.linalg.norm(net.C[h])
            out[f"channel_dist_h{h}"] = (float(np.linalg.norm(net.C[h] - Wt) / nc)
                                         if nc > 0 else float("nan"))
    return out


@contextmanager
def _one_blas_thread():
    """BLAS limited to one thread: the matrices are small, and on a shared machine threads
    only contend (measured: 30x slower measurements with two threads under load)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - comes with scikit-learn
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def run_one(run: Run, data: ClassificationData, *,
            progress: Callable[[int], None] | None = None,
            measure_every: int = 1) -> tuple[list[dict], str]:
    """Train ``run`` on ``data``; rows for epochs 0 (the initial weights) to ``run.epochs``
    and the status: ``"finished"`` or ``"diverged"`` (non-finite loss or weights; the rows
    stop there). ``progress(epoch)`` is called after each epoch. ``measure_every = k``:
    rows only for every k-th epoch (and epochs 0 and last; weights are checked every epoch):
    on digits one :func:`measure` costs about an epoch of steps (benchmarks/bench_phase.py),
    so k = 7 keeps measuring under 20% of the training."""
    if isinstance(measure_every, bool) or not isinstance(measure_every, int) or \
            measure_every < 1:
        raise SpecError(f"measure_every must be a positive integer, got {measure_every!r}")
    with _one_blas_thread():
        return _train(run, data, progress, measure_every)


def measured_sample(n: int, size: int) -> np.ndarray:
    """The training images measured every epoch: all if ``n <= size``, else a fixed sample
    of ``size`` (the same for every run, so rules are compared on the same images)."""
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(0).choice(n, size=size, replace=False))


def _train(run: Run, data: ClassificationData, progress,
           every: int = 1) -> tuple[list[dict], str]:
    net = run.build()
    sizes = net.network.sizes
    if sizes[0] != data.n_inputs or sizes[-1] != data.n_classes:
        raise SpecError(f"architecture {run.arch} does not fit data {data.name}: it has "
                        f"{data.n_inputs} inputs and {data.n_classes} classes")
    dt = net.dtype
    X, T = (np.ascontiguousarray(a.T, dtype=dt) for a in (data.X_train, data.Y_train))
    Xt, Tt = (np.ascontiguousarray(a.T, dtype=dt) for a in (data.X_test, data.Y_test))
    m = measured_sample(X.shape[1], run.train_sample)
    Xm, Tm = (X, T) if len(m) == X.shape[1] else (X[:, m], T[:, m])
    base = {"run": run.key, "rule": run.rule, "variant": run.variant,
            "architecture": "baseline" if run.rule in BASELINES else
            architecture_of(net.rule.name), "init_scale": net.scale, "seed": run.seed}
    if net.bits_per_sample is not None:
        base["channel_bits"] = net.bits_per_sample
    rows = [{**base, "epoch": 0, **measure(net, Xm, Tm, Xt, Tt)}]
    rng = np.random.default_rng([run.seed, 1])
    n, b = X.shape[1], run.batch_size
    status = "finished"
    for epoch in range(1, run.epochs + 1):
        order = rng.permutation(n)
        with np.errstate(over="ignore", invalid="ignore"):
            for start in range(0, n, b):
                idx = order[start:start + b]
                net.step(X[:, idx], T[:, idx], run.lr)
            weights_ok = all(np.all(np.isfinite(w)) for w in net.parameters().values())
            if epoch % every and epoch != run.epochs and weights_ok:
                if progress is not None:
                    progress(epoch)
                continue
            row = {**base, "epoch": epoch, **measure(net, Xm, Tm, Xt, Tt)}
        if not (weights_ok and np.isfinite(row["train_loss"])):
            status = "diverged"
            rows.append({**row, "status": status})
            break
        rows.append(row)
        if progress is not None:
            progress(epoch)
    for r in rows:
        r["status"] = status
    return rows, status


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


#: the most work a suite may ask for, in weight-sample updates: the sum over its runs of
#: epochs x training samples x weights (forward and channel). The default suite
#: (Fashion-MNIST, 784-256-128-10, 75 runs of 10 epochs) is about 2.1e13.
MAX_SUITE_WORK = 1e14


def suite_work(runs: list[Run], n_train: int) -> float:
    """Weight-sample updates of ``runs`` on ``n_train`` training samples (see
    :data:`MAX_SUITE_WORK`): epochs x samples x (forward + channel weights), summed."""
    from ..spec import Network

    total = 0.0
    for run in runs:
        sizes = Network.parse(run.arch).sizes
        weights = sum(a * b for a, b in zip(sizes, sizes[1:]))
        total += float(run.epochs) * n_train * 2 * weights
    return total


def check_suite_work(runs: list[Run] | Suite, n_train: int, limit: float | None = None
                     ) -> None:
    """Refuse, before any training, a suite beyond ``limit`` (default
    :data:`MAX_SUITE_WORK`), saying the most epochs (or runs) that fit. A :class:`Suite` is
    estimated from its settings (an upper bound: runs before duplicates are merged), without
    building its runs."""
    limit = MAX_SUITE_WORK if limit is None else limit
    if isinstance(runs, Suite):
        count = len(runs.rules) * len(runs.variants) * runs.seeds + \
            len(runs.symmetry_scales) * runs.symmetry_seeds
        one = Run(rule="bp", data=runs.data, arch=runs.arch, epochs=runs.epochs)
        work, epochs = suite_work([one], n_train) * count, runs.epochs
        per_epoch = work / epochs
    else:
        count = len(runs)
        if not count:
            return
        work, epochs = suite_work(runs, n_train), max(r.epochs for r in runs)
        per_epoch = work / sum(r.epochs for r in runs) * count  # one epoch of every run
    if work <= limit or not count:
        return
    fit_epochs = int(limit // per_epoch)
    fit_runs = int(limit // (work / count))
    raise SpecError(f"the suite asks for {count:,} runs x {epochs:,} epochs x "
                    f"{n_train:,} samples = {work:.3g} weight-sample updates, above the limit "
                    f"of {limit:.3g}; what fits: at most {fit_epochs:,} epochs with these "
                    f"runs, or {fit_runs:,} runs of {epochs:,} epochs (fewer seeds, rules or "
                    "variants)")


def with_settings(suite: Suite, **changes) -> Suite:
    """``suite`` with some settings changed (``None`` values are ignored)."""
    return replace(suite, **{k: v for k, v in changes.items() if v is not None})
