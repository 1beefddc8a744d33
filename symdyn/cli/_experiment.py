"""``symdyn experiment``: deep networks trained on real data by every rule and variant."""

from __future__ import annotations

import argparse
import sys

from ._common import UsageError, integer, real

__all__ = ["COMMANDS"]

_EPILOG = """\
channel architectures (docs/science.md section 1) and the rules that build each:
  Bidirectional  bp, sign   the forward weights (or their signs) carry the error back
  Conjoined      arbp       a backward weight paired with each forward one, same local rule
  Twin           twin       a backward network of neurons of its own, layered like the
                            forward one (rbp: its wires without neurons)
  Distinct       distinct   a population of neurons per hidden layer fed from the output
                            error (srbp, asrbp: skip wires without neurons)
  which symmetries each removes is measured, not declared: --symmetries prints the table
  (1 shapes mirror W^T; 2 angle(C, W^T); 3 the channel's own neurons; 4 effect of the
  derivatives of the layers above; 5 non-linearity of the channel; 6 whether the channel
  learns by the forward rule: as W, local (with one step's |dC - dW^T| / |dW^T|) or fixed),
  also printed after a run
variants (join with +, e.g. adaptive+bits=4), on top of any rule:
  derivative     the rule as it is (f' kept)
  no-derivative  f' dropped in the hidden layers             removes symmetry 4
  tanh-channel   channel activation g = the forward one      removes symmetry 5
  adaptive       the channel learns (rbp->arbp, srbp->asrbp)
                 with Kolen-Pollack decay on both channels   removes symmetry 6
  bits=K  (K bits per error line and sample, on a range fixed in advance)
  density=P  (every unit keeps round(P x lines) error lines)  scale=S  decay=D  rate_ratio=R
  (channel variants run only for rules with a channel: not for bp)
  twin and distinct: tanh-channel (units = the forward activation, paired if one-sided),
  relu-pairs, logistic-pairs (one-sided units in +/- pairs), width=R (R x forward widths)
rules: bp rbp srbp arbp asrbp, sign (sign symmetry: the channel is sign(W_(h+1))^T),
  twin, distinct (channel networks)
baselines in every table: linear (no hidden layer) and random-features (hidden layers fixed
at their random initial weights, only the read-out learns): a rule learns in its hidden
layers when it beats random-features by more than the spread over seeds.
suites: default (Fashion-MNIST, 784-256-128-10, tanh, 6 rules x 4 variants x 3 seeds x 10
epochs + baselines + ARBP from initial scales 1, 0.1, 0.01), deep (784-256-256-256-10), relu,
digits (64-100-100-10, 30 epochs), quick (digits, 1 seed, 5 epochs), channels, symmetry.
"""


def _csv(text: str) -> tuple[str, ...]:
    items = tuple(t.strip() for t in text.split(",") if t.strip())
    if not items:
        raise argparse.ArgumentTypeError(f"expected a comma-separated list, got {text!r}")
    return items


def _csv_or_none(text: str) -> tuple[str, ...]:
    return () if text.strip().lower() == "none" else _csv(text)


def _floats(text: str) -> tuple[float, ...]:
    if text.strip().lower() == "none":
        return ()
    parse = real(positive=True)
    return tuple(parse(t) for t in _csv(text))


def _setup(p: argparse.ArgumentParser) -> None:
    from ..training._suite import SUITES

    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = _EPILOG
    p.add_argument("--suite", default="default", choices=list(SUITES),
                   help="named suite whose settings the options below change (default: "
                        "default)")
    p.add_argument("--data", default=None,
                   help="fashion-mnist[:DIR] (Debian's dataset-fashion-mnist, $SYMDYN_DATA or "
                        "DIR), digits (offline), mnist[:DIR], cifar10[:DIR] or FILE.npz")
    p.add_argument("--download", action="store_true",
                   help="fetch mnist/cifar10 from OpenML (cached) when no DIR is given")
    p.add_argument("--arch", default=None, help="layer sizes, e.g. 64-100-100-10")
    p.add_argument("--activation", default=None, help="hidden activation (default tanh)")
    p.add_argument("--rules", type=_csv, default=None,
                   help="e.g. bp,rbp,srbp,arbp,asrbp,sign")
    p.add_argument("--baselines", type=_csv_or_none, default=None,
                   help="linear,random-features (default) or 'none'")
    p.add_argument("--variants", type=_csv, default=None,
                   help="e.g. derivative,no-derivative,tanh-channel,adaptive")
    p.add_argument("--seeds", type=integer(1, 10_000), default=None,
                   help="seeds per rule and variant")
    p.add_argument("--epochs", type=integer(1, 100_000), default=None)
    p.add_argument("--lr", type=real(positive=True), default=None,
                   help="learning rate (default 0.05)")
    p.add_argument("--batch-size", type=integer(1), default=None,
                   help="mini-batch size (default 32)")
    p.add_argument("--loss", choices=("softmax", "squared"), default=None)
    p.add_argument("--init", choices=("normal", "uniform"), default=None)
    p.add_argument("--scale", type=real(positive=True), default=None,
                   help="initial scale (default 1)")
    p.add_argument("--dtype", choices=("float32", "float64"), default=None,
                   help="weights and signals (default float32)")
    p.add_argument("--train-sample", type=integer(1), default=None,
                   help="training images measured every epoch (default 10000; the test set "
                        "is measured whole)")
    p.add_argument("--scheduler", metavar="ADDRESS", default=None,
                   help="'local' (a Dask cluster here), or the address of an existing Dask "
                        "scheduler (default $SYMDYN_SCHEDULER; none: in this process)")
    p.add_argument("--workers", type=integer(1, 1024), default=None,
                   help="workers of the local Dask cluster (default: one per CPU)")
    p.add_argument("--symmetry-scales", type=_floats, default=None,
                   help="ARBP runs from these initial scales (e.g. 1,0.1,0.01); 'none' to skip")
    p.add_argument("--out", default="symdyn-experiment", metavar="DIR",
                   help="results, runs and figures go here; runs already finished in DIR are "
                        "skipped (default ./symdyn-experiment)")
    p.add_argument("--no-figures", action="store_true", help="do not draw figures")
    p.add_argument("--symmetries", action="store_true",
                   help="only print which symmetries each rule and variant removes, measured "
                        "at its initial weights on 256 training images (no training)")
    p.add_argument("--max-work", type=real(positive=True), default=None, metavar="UPDATES",
                   help="refuse a suite of more weight-sample updates (runs x epochs x "
                        "samples x weights) than this (default 1e14)")


def _suite(args):
    """The suite asked for, its size checked from the data files' headers when they tell
    (no data read, no sympy or engine imported), so an oversized request is refused at
    once."""
    from ..training._headers import train_count
    from ..training._suite import SUITES, with_settings
    from ..training._work import check_suite_work

    sym = args.symmetry_scales
    changes = dict(data=args.data, arch=args.arch, activation=args.activation,
                   rules=args.rules, variants=args.variants, seeds=args.seeds,
                   epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, loss=args.loss,
                   init=args.init, scale=args.scale, symmetry_scales=sym,
                   baselines=args.baselines, dtype=args.dtype, train_sample=args.train_sample)
    suite = with_settings(SUITES[args.suite], **changes)
    n_train = train_count(suite.data)  # None: no header says (CIFAR-10, a download)
    if n_train is not None:
        check_suite_work(suite, n_train, args.max_work)
    return suite


def _runs(args, suite):
    """The data (loaded) and the runs of ``suite``, its size checked again on the data."""
    from ..training._data import load_data
    from ..training._work import check_fits, check_suite_work

    data = load_data(suite.data, download=args.download)
    check_suite_work(suite, len(data.X_train), args.max_work)  # before building the runs
    runs = suite.runs()  # unknown rules and bad variants refused here, then the sizes
    check_fits(suite, data.n_inputs, data.n_classes, data.name)
    if not runs:
        raise UsageError("symdyn experiment: the grid is empty (no rules, variants or "
                         "symmetry scales)")
    return runs, data


def _symmetry_table(runs, data) -> str:
    from ..training import format_symmetries, suite_symmetries

    profiles = suite_symmetries(runs, data)
    return (f"symmetries removed, measured at the initial weights on the first "
            f"{min(256, len(data.X_train))} training images (docs/science.md section 1; "
            f"symdyn experiment --help):\n" + format_symmetries(profiles))


def _run(args: argparse.Namespace) -> int:
    import os
    from pathlib import Path

    suite = _suite(args)  # refusals first: before the data, tqdm, Dask or the engine load
    if args.symmetries:
        runs, data = _runs(args, suite)
        print(_symmetry_table(runs, data))
        return 0
    out = Path(args.out)
    try:
        (out / "runs").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"experiment: cannot write to --out {str(out)!r}: "
                         f"{exc.strerror or exc}") from None
    runs, data = _runs(args, suite)

    from tqdm import tqdm

    from ..training import plan_suite, run_suite, save_figures

    plan = plan_suite(runs, out)
    print(plan.describe(out), file=sys.stderr)
    scheduler = args.scheduler or os.environ.get("SYMDYN_SCHEDULER") or None
    if args.workers and not scheduler:
        scheduler = "local"
    todo = plan.to_train
    bar = tqdm(total=sum(r.epochs for r in todo), unit="epoch", file=sys.stderr,
               desc=f"{len(todo)} runs to train", disable=None)

    def progress(run, epoch):
        if epoch == -2:  # a worker finished a whole run
            bar.update(run.epochs)
        elif epoch > 0:
            bar.update(1)
        bar.set_postfix_str(f"{run.rule} {run.variant} seed {run.seed}", refresh=False)

    try:
        table = run_suite(runs, data=data if scheduler is None else None, out=out,
                          progress=progress, scheduler=scheduler, workers=args.workers,
                          max_work=args.max_work)
    finally:
        bar.close()
    csv_path = table.save(out / "results.csv")
    table.save(out / "results.json")
    print(f"{data!r}; {suite.arch}, {suite.activation} hidden units, {suite.epochs} epochs, "
          f"lr {suite.lr:g}, batch {suite.batch_size}, {suite.dtype}; {len(runs)} runs "
          f"({len(plan.done)} read back from {out / 'runs'})")
    print(table.format_summary())
    print("\n" + _symmetry_table(runs, data))
    print(f"\ntidy table: {csv_path} (and results.json); one file per run in {out / 'runs'}")
    if not args.no_figures:
        for path in save_figures(table, out / "figures"):
            print(f"figure: {path}")
    return 0


COMMANDS = {
    "experiment": ("train deep networks on real data by every rule and variant (docs/science.md "
                   "claim 7 and the channel architectures)", _setup, _run),
}
