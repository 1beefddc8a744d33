"""Experiments: a :class:`~symdyn.training._suite.Run` trained on real data and measured per
epoch (:func:`run_one`, :func:`measure`); the runs, suites, variants and baselines are in
:mod:`symdyn.training._suite`."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager

import numpy as np

from ..errors import SpecError
from ._data import ClassificationData
from ._network import DeepNetwork
from ._suite import (
    BASELINES,
    Run,
    architecture_of,
)

__all__ = ["run_one", "measure"]


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

