"""How much a grid asks for, checked before any training: weight-sample updates of its runs
against :data:`MAX_SUITE_WORK` (:func:`check_suite_work`, refused in one line naming the
largest grid that fits) and whether its architectures fit the data (:func:`check_fits`).
Nothing here imports sympy, so the command line sizes a suite before paying for it."""

from __future__ import annotations

import re
from collections.abc import Mapping

from ..errors import SpecError
from ._suite import Run, Suite, applies

__all__ = ["MAX_SUITE_WORK", "suite_work", "suite_runs", "check_suite_work", "WorkLimitError",
           "check_fits"]

#: the most work a suite may ask for, in weight-sample updates: the sum over its runs of
#: epochs x training samples x weights (forward and channel). The default suite
#: (Fashion-MNIST, 784-256-128-10, 75 runs of 10 epochs) is about 2.1e13.
MAX_SUITE_WORK = 1e14


def _sizes(arch: str) -> list[int]:
    """Layer sizes of ``arch``: a plain ``N-N-...-N`` is read here (no sympy); anything
    else goes through :meth:`~symdyn.spec.Network.parse`, which says what is wrong."""
    if isinstance(arch, str) and re.fullmatch(r"[0-9]{1,9}(-[0-9]{1,9})+", arch.strip()):
        return [int(s) for s in arch.strip().split("-")]
    from ..spec import Network

    return list(Network.parse(arch).sizes)


def _weights(arch: str) -> int:
    sizes = _sizes(arch)
    return sum(a * b for a, b in zip(sizes, sizes[1:]))


def check_fits(runs, n_inputs: int, n_classes: int, name: str) -> None:
    """Refuse, before any run trains, an architecture whose input and output sizes are not
    the data's (``runs``: a :class:`Suite` or runs)."""
    for arch in sorted({runs.arch} if isinstance(runs, Suite) else {r.arch for r in runs}):
        sizes = _sizes(arch)
        if sizes[0] != n_inputs or sizes[-1] != n_classes:
            raise SpecError(f"architecture {arch} does not fit data {name}: it has "
                            f"{n_inputs} inputs and {n_classes} classes")


def _samples(n_train: int | Mapping[str, int], data: str) -> int:
    return n_train if isinstance(n_train, int) else n_train[data]


def suite_work(runs: list[Run], n_train: int | Mapping[str, int]) -> float:
    """Weight-sample updates of ``runs`` (see :data:`MAX_SUITE_WORK`): epochs x training
    samples x (forward + channel weights), summed; ``n_train``: the training samples of
    every run's data, or a mapping data name -> samples."""
    return sum(float(r.epochs) * _samples(n_train, r.data) * 2 * _weights(r.arch)
               for r in runs)


def suite_runs(suite: Suite) -> int:
    """How many runs ``suite`` makes, counted from its settings (no :class:`Run` built;
    an upper bound: runs with identical settings are merged when built)."""
    trained = sum(applies(r, v) for r in suite.rules for v in suite.variants)
    return (len(suite.baselines) + trained) * suite.seeds + \
        ("arbp" in suite.rules) * len(suite.symmetry_scales) * suite.symmetry_seeds


def _most_epochs(groups: list[tuple[int, int, float]], limit: float) -> int:
    """The largest cap F on every run's epochs with sum(count x min(epochs, F) x per-epoch
    work) within ``limit`` (``groups``: (count, epochs, work of one epoch of one run))."""
    lo, hi = 0, max(e for _, e, _ in groups)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if sum(c * min(e, mid) * w for c, e, w in groups) <= limit:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _most_runs(groups: list[tuple[int, int, float]], limit: float) -> int:
    """How many runs, at their own epochs and cheapest first, fit within ``limit``."""
    fit = 0
    for count, epochs, w in sorted(groups, key=lambda g: g[1] * g[2]):
        k = count if epochs * w == 0 else min(count, int(limit // (epochs * w)))
        fit, limit = fit + k, limit - k * epochs * w
        if k < count:
            break
    return fit


class WorkLimitError(SpecError):
    """A grid larger than its work limit (the message names the largest that fits)."""

    def cli_message(self) -> str:
        return str(self).replace("(max_work)", "(--max-work)")


def check_suite_work(runs: list[Run] | Suite, n_train: int | Mapping[str, int],
                     limit: float | None = None) -> None:
    """Refuse, before any training, a grid beyond ``limit`` weight-sample updates (default
    :data:`MAX_SUITE_WORK`), in one line saying the largest request that fits: the most
    epochs for these runs, or the most runs of these epochs. A :class:`Suite` is estimated
    from its settings (:func:`suite_runs`), without building its runs. The one check of a
    grid's size: the command line calls it before loading data, :func:`run_suite` always."""
    limit = MAX_SUITE_WORK if limit is None else limit
    if isinstance(limit, bool) or not isinstance(limit, int | float) or not limit > 0:
        raise SpecError(f"max_work must be a positive number, got {limit!r}")
    if isinstance(runs, Suite):
        count = suite_runs(runs)
        one = 2.0 * _samples(n_train, runs.data) * _weights(runs.arch)
        groups = [(count, runs.epochs, one)] if count and runs.epochs else []
    else:
        per: dict = {}
        for r in runs:
            key = (r.epochs, 2.0 * _samples(n_train, r.data) * _weights(r.arch))
            per[key] = per.get(key, 0) + 1
        groups = [(c, e, w) for (e, w), c in per.items()]
    work = sum(c * e * w for c, e, w in groups)
    if work <= limit:
        return
    count = sum(c for c, _, _ in groups)
    epochs = sorted({e for _, e, _ in groups})
    samples = sorted({_samples(n_train, r.data) for r in ([runs] if isinstance(runs, Suite)
                                                          else runs)})
    ep = f"{epochs[0]:,}" if len(epochs) == 1 else f"{epochs[0]:,}-{epochs[-1]:,}"
    sa = f"{samples[0]:,}" if len(samples) == 1 else f"{samples[0]:,}-{samples[-1]:,}"
    fits = []
    if (f := _most_epochs(groups, limit)) >= 1:
        fits.append(f"these {count:,} runs of at most {f:,} epochs")
    if (k := _most_runs(groups, limit)) >= 1:
        fits.append(f"{k:,} runs of {ep} epochs (fewer seeds, rules or variants)"
                    if len(epochs) == 1 else f"{k:,} of these runs at their own epochs")
    fit = " or ".join(fits) if fits else "not one run of one epoch (a smaller architecture " \
        "or data set, or a larger limit)"
    raise WorkLimitError(f"the grid asks for {count:,} runs x {ep} epochs x {sa} samples = "
                    f"{work:.3g} weight-sample updates, above the limit of {limit:.3g} "
                    f"(max_work); the largest that fits: {fit}")
