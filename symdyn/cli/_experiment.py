"""``symdyn experiment``: deep networks trained on real data by every rule and variant."""

from __future__ import annotations

import argparse
import sys

from ._common import UsageError, integer, real

__all__ = ["COMMANDS"]

_EPILOG = """\
channel architectures (docs/science.md section 1) and the rule that realises each:
  Bidirectional  bp     removes no symmetry (the forward weights carry the error back)
  Conjoined      arbp   removes 2 (weights) and 6 (learning rules): a backward weight
                        paired with each forward one, learning by the same local rule
  Twin           rbp    removes 2 (weights) and 3 (neurons): a separate layered channel
  Distinct       srbp   removes 1 (architecture), 2, 3 and 4 (derivatives): skips from
                 asrbp  the output error to every layer (asrbp: the skips learn)
variants (join with +, e.g. adaptive+bits=4), on top of any rule:
  derivative     the rule as it is (f' kept)
  no-derivative  f' dropped in the hidden layers             removes symmetry 4
  tanh-channel   channel activation g = the forward one      removes symmetry 5
  adaptive       the channel learns (rbp->arbp, srbp->asrbp)
                 with Kolen-Pollack decay on both channels   removes symmetry 6
  bits=K  density=P  scale=S  decay=D  rate_ratio=R
the default suite runs all four architectures: 5 rules x 4 variants x 3 seeds x 30 epochs
on digits, plus ARBP from initial scales 1, 0.1, 0.01 (channel symmetry over training).
"""


def _csv(text: str) -> tuple[str, ...]:
    items = tuple(t.strip() for t in text.split(",") if t.strip())
    if not items:
        raise argparse.ArgumentTypeError(f"expected a comma-separated list, got {text!r}")
    return items


def _floats(text: str) -> tuple[float, ...]:
    if text.strip().lower() == "none":
        return ()
    parse = real(positive=True)
    return tuple(parse(t) for t in _csv(text))


def _setup(p: argparse.ArgumentParser) -> None:
    from ..training import SUITES

    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = _EPILOG
    p.add_argument("--suite", default="default", choices=list(SUITES),
                   help="named suite whose settings the options below change (default: "
                        "default)")
    p.add_argument("--data", default=None,
                   help="digits (offline), mnist[:DIR], cifar10[:DIR] or FILE.npz")
    p.add_argument("--download", action="store_true",
                   help="fetch mnist/cifar10 from OpenML (cached) when no DIR is given")
    p.add_argument("--arch", default=None, help="layer sizes, e.g. 64-100-100-10")
    p.add_argument("--activation", default=None, help="hidden activation (default tanh)")
    p.add_argument("--rules", type=_csv, default=None, help="e.g. bp,rbp,srbp,arbp,asrbp")
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
    p.add_argument("--symmetry-scales", type=_floats, default=None,
                   help="ARBP runs from these initial scales (e.g. 1,0.1,0.01); 'none' to skip")
    p.add_argument("--out", default="symdyn-experiment", metavar="DIR",
                   help="results, runs and figures go here; runs already finished in DIR are "
                        "skipped (default ./symdyn-experiment)")
    p.add_argument("--no-figures", action="store_true", help="do not draw figures")


def _suite(args):
    from ..training import SUITES, load_data
    from ..training._experiments import with_settings

    sym = args.symmetry_scales
    changes = dict(data=args.data, arch=args.arch, activation=args.activation,
                   rules=args.rules, variants=args.variants, seeds=args.seeds,
                   epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, loss=args.loss,
                   init=args.init, scale=args.scale, symmetry_scales=sym)
    suite = with_settings(SUITES[args.suite], **changes)
    runs = suite.runs()
    if not runs:
        raise UsageError("symdyn experiment: the grid is empty (no rules, variants or "
                         "symmetry scales)")
    data = load_data(suite.data, download=args.download)
    return suite, runs, data


def _run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from tqdm import tqdm

    from ..training import run_suite, save_figures

    suite, runs, data = _suite(args)
    out = Path(args.out)
    total = sum(r.epochs for r in runs)
    bar = tqdm(total=total, unit="epoch", file=sys.stderr, desc=f"{len(runs)} runs",
               disable=None)

    def progress(run, epoch):
        bar.update(run.epochs if epoch < 0 else 1)
        bar.set_postfix_str(f"{run.rule} {run.variant} seed {run.seed}", refresh=False)

    try:
        table = run_suite(runs, data=data, out=out, progress=progress)
    finally:
        bar.close()
    csv_path = table.save(out / "results.csv")
    table.save(out / "results.json")
    print(f"{data!r}; {suite.arch}, {suite.activation} hidden units, {len(runs)} runs")
    print(table.format_summary())
    print(f"\ntidy table: {csv_path} (and results.json); one file per run in {out / 'runs'}")
    if not args.no_figures:
        for path in save_figures(table, out / "figures"):
            print(f"figure: {path}")
    return 0


COMMANDS = {
    "experiment": ("train deep networks on real data by every rule and variant (docs/science.md "
                   "claim 7 and the channel architectures)", _setup, _run),
}
