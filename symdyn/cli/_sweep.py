"""``symdyn sweep``: run a sweep into a store (resuming it), print its table, draw it."""

from __future__ import annotations

import argparse
import os

from ._common import UsageError, integer

__all__ = ["COMMANDS", "spec_from_options"]


def _setup_sweep(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", nargs="?", metavar="SPEC.toml",
                   help="the sweep spec (TOML); or give it with --set")
    p.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=V[,V]",
                   help="a setting (one value: fixed; several: an axis), e.g. --set rule=arbp "
                        "--set depth=3,4,5 --set scale=0.1,1; repeatable, overrides SPEC")
    p.add_argument("--store", metavar="DIR", help="results directory (resumed if it exists)")
    p.add_argument("--scheduler", metavar="ADDRESS", default=None,
                   help="address of an existing Dask scheduler (default $SYMDYN_SCHEDULER; "
                        "'sync' runs in this process); otherwise a local cluster is started")
    p.add_argument("--workers", type=integer(1, 4096), default=None,
                   help="workers of the local cluster (default: one per CPU)")
    p.add_argument("--threads", action="store_true",
                   help="local cluster of threads instead of processes")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--summary", metavar="DIR", default=None,
                   help="print the table of the store DIR and exit")
    p.add_argument("--plot", metavar="FILE", default=None,
                   help="draw the phase diagram of the store into FILE (png, pdf, svg)")
    p.add_argument("--x", default=None, help="phase diagram: the axis across")
    p.add_argument("--y", default=None, help="phase diagram: the axis up")


def _parse_setting(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise UsageError(f"--set: expected KEY=VALUE[,VALUE...], got {text!r}")
    items = [v.strip() for v in value.split(",")]
    if not all(items):
        raise UsageError(f"--set {key}: empty value in {value!r}")
    parsed = []
    for v in items:
        if v.lower() in ("true", "false"):
            parsed.append(v.lower() == "true")
            continue
        try:
            parsed.append(float(v))  # numbers by float(); names are checked by the spec
        except ValueError:
            parsed.append(v)
    return key, parsed if len(parsed) > 1 else parsed[0]


def spec_from_options(spec_path: str | None, settings: list[str]) -> dict:
    """The raw spec: the TOML file (if any) with the ``--set`` settings on top."""
    raw: dict = {}
    if spec_path:
        from ..sweep._spec import load_spec

        raw = {**load_spec(spec_path).fixed, **load_spec(spec_path).axes}
        rnd = load_spec(spec_path).random
        if rnd:
            raw["random"] = rnd
    for text in settings:
        key, value = _parse_setting(text)
        raw[key] = value
    return raw


def _run_sweep(args: argparse.Namespace) -> int:
    from ..sweep import load_sweep, sweep, sweep_summary

    if args.summary:
        print(sweep_summary(args.summary))
        if args.plot:
            _plot(load_sweep(args.summary), args)
        return 0
    if not args.spec and not args.settings:
        raise UsageError("sweep: give a SPEC.toml, --set options, or --summary DIR")
    if not args.store:
        raise UsageError("sweep: --store DIR is required to run a sweep")
    raw = spec_from_options(args.spec, args.settings)
    scheduler = args.scheduler if args.scheduler is not None else \
        os.environ.get("SYMDYN_SCHEDULER")  # a blank --scheduler is refused, not ignored
    run = sweep(raw, args.store, scheduler=scheduler, workers=args.workers,
                processes=not args.threads, progress=not args.no_progress)
    print(f"sweep {run.identity}: {run.computed} chunks computed, {run.already_done} already "
          f"done, of {run.chunks} ({run.seconds:.1f} s, {run.cpu_seconds:.1f} CPU-s in the "
          f"tasks); store {run.store}")
    print(sweep_summary(args.store))
    if args.plot:
        _plot(load_sweep(args.store), args)
    return 0


def _plot(ds, args) -> None:
    from ..sweep._plots import phase_diagram

    try:
        fig = phase_diagram(ds, x=args.x, y=args.y)
        fig.savefig(args.plot, dpi=120, bbox_inches="tight")
    except OSError as exc:
        raise UsageError(f"cannot write {args.plot}: {exc.strerror}") from None
    print(f"phase diagram written to {args.plot}")


COMMANDS = {
    "sweep": ("run a sweep of end states over specs and parameters on Dask, resumable; "
              "--summary DIR prints its table", _setup_sweep, _run_sweep),
}
