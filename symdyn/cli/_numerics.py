"""``symdyn integrate | simulate``: trajectories of the averaged ODE, and SGD against it."""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING

from ._common import (
    UsageError,
    add_format_argument,
    add_spec_arguments,
    emit_json,
    integer,
    parse_values,
    real,
    system_from_args,
)

if TYPE_CHECKING:
    import numpy as np

# numpy, sympy and the numerics are imported inside the functions that use them, so that
# `symdyn --help` does not import them (tests/test_cli_startup.py)

__all__ = ["COMMANDS"]

#: --generate draws at most this many samples (a data set beyond it: --data FILE.npz).
MAX_GENERATE = 10_000_000


# -- shared helpers ---------------------------------------------------------------------------


@contextmanager
def _progress(args, desc: str):
    """A tqdm bar on stderr (only on a terminal, and not with --quiet); yields the
    callback the library calls with the fraction done."""
    from tqdm import tqdm

    bar = tqdm(total=1000, desc=desc, file=sys.stderr, leave=False,
               disable=args.quiet or not sys.stderr.isatty(), bar_format="{l_bar}{bar}| "
               "{elapsed}<{remaining}")

    def update(fraction: float) -> None:
        target = int(1000 * min(max(fraction, 0.0), 1.0))
        if target > bar.n:
            bar.update(target - bar.n)

    try:
        yield update
    finally:
        bar.close()


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--values", default=None, metavar="K=V,...",
                   help="parameter values, e.g. alpha=1,beta=1,c1=0.5 (matrices by "
                        "components: C1_1_2=0.3)")
    p.add_argument("--random-channels", action="store_true",
                   help="draw fixed channel matrices C_h not given in --values from "
                        "N(0, 1/cols) with --seed")
    p.add_argument("--y0", default=None, metavar="V,... | NAME=V,...",
                   help="initial state in state order, or by name; default: random "
                        "N(0, scale^2) from --seed")
    p.add_argument("--scale", type=real(non_negative=True), default=1.0,
                   help="standard deviation of random initial states (default 1)")
    p.add_argument("--seed", type=integer(0, 2**63 - 1), default=0,
                   help="random seed (default 0)")
    p.add_argument("--plot", default=None, metavar="FILE",
                   help="save a figure to exactly FILE (.png, .pdf, .svg, ...): a phase "
                        "portrait for 2 state variables, trajectories over time otherwise")
    p.add_argument("--plot-vars", default=None, metavar="EXPR,...",
                   help="what the trajectory figure shows: state variables or expressions "
                        "of the state, e.g. a1*a2*a3 (default: the product of the forward "
                        "weights for a scalar chain, the state variables otherwise)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_format_argument(p, choices=("text", "json"))


def _parse_state(system, text: str | None) -> np.ndarray | None:
    import numpy as np

    from ..expressions import parse_number

    if text is None:
        return None
    names = [str(s) for s in system.state]
    if "=" in text:
        given = parse_values(text, "--y0")
        unknown = sorted(set(given) - set(names))
        if unknown:
            raise UsageError(f"--y0: {unknown[0]} is not a state variable; state: "
                             f"{', '.join(names)}")
        missing = [n for n in names if n not in given]
        if missing:
            raise UsageError(f"--y0: missing {', '.join(missing)}")
        return np.array([given[n] for n in names])
    vals = [parse_number(v.strip(), what="--y0: ") for v in text.split(",")]
    if len(vals) != len(names):
        raise UsageError(f"--y0: {len(vals)} values for {len(names)} state variables "
                         f"({', '.join(names)})")
    return np.array(vals)


def _values(system, args, rng: np.random.Generator) -> dict:
    import numpy as np
    import sympy as sp

    values: dict = dict(parse_values(args.values))
    if args.random_channels:
        for p in system.matrix.parameters:
            if (isinstance(p, sp.MatrixSymbol) and p.name.startswith("C")
                    and p.name[1:].isdigit() and p.name not in values
                    and not any(k.startswith(p.name + "_") for k in values)
                    and str(system.components(p)[0, 0]) not in values):
                values[p.name] = rng.normal(size=(int(p.rows), int(p.cols))) / np.sqrt(int(p.cols))
    return values


def _fmt(v: float) -> str:
    return f"{v:.10g}"


def _show_values(values: dict) -> str:
    import numpy as np

    parts = []
    for k, v in values.items():
        a = np.asarray(v)
        parts.append(f"{k}={_fmt(float(a))}" if a.ndim == 0 else f"{k}=<{a.shape} matrix>")
    return ", ".join(parts) or "(none)"


def _jsonable(values: dict) -> dict:
    import numpy as np

    return {k: (float(v) if np.ndim(v) == 0 else np.asarray(v).tolist())
            for k, v in values.items()}


# -- integrate --------------------------------------------------------------------------------


def _setup_integrate(p: argparse.ArgumentParser) -> None:
    add_spec_arguments(p)
    _add_common(p)
    p.add_argument("--t", type=real(positive=True), default=100.0, help="final time (default 100)")
    p.add_argument("--batch", type=integer(1), default=None, metavar="N",
                   help="integrate N random initial conditions at once (around --y0 if given)")
    p.add_argument("--method", default=None,
                   help="auto (default), DOP853, RK45, LSODA, Radau, BDF; with --batch: "
                        "DOP853 (default) or RK45")
    p.add_argument("--rtol", type=real(positive=True), default=1e-8,
                   help="relative tolerance (1e-8)")
    p.add_argument("--atol", type=real(positive=True), default=1e-10,
                   help="absolute tolerance (1e-10)")
    p.add_argument("--tol", type=real(positive=True), default=1e-6,
                   help="convergence: |f| below this and decaying so fast that the distance "
                        "left is within ten local error tolerances (default 1e-6)")
    p.add_argument("--max-norm", type=real(positive=True), default=1e8,
                   help="blow-up threshold on |y| (default 1e8)")


def _run_integrate(args: argparse.Namespace) -> int:
    import numpy as np

    from ..numerics import integrate

    _check_plot_options(args)
    system = system_from_args(args)
    rng = np.random.default_rng(args.seed)
    values = _values(system, args, rng)
    y0 = _parse_state(system, args.y0)
    names = [str(s) for s in system.state]
    n = system.size
    opts = dict(rtol=args.rtol, atol=args.atol, tol=args.tol, max_norm=args.max_norm)
    if args.batch is not None:
        return _run_batch(system, values, y0, rng, args, opts)

    if y0 is None:
        y0 = args.scale * rng.normal(size=n)
    t_eval = None
    with _progress(args, "integrating") as bar:
        res = integrate(system, y0, args.t, values, method=args.method or "auto",
                        t_eval=t_eval, progress=bar, **opts)
    if args.format == "json":
        emit_json({"system": system.title, "values": _jsonable(values), "state": names,
                   "y0": y0.tolist(), "status": res.status, "message": res.message,
                   "method": res.method, "t_final": res.t_final,
                   "y_final": dict(zip(names, res.y_final.tolist(), strict=True)), "nfev": res.nfev,
                   "nsteps": res.nsteps})
    else:
        print(system.title)
        print(f"values: {_show_values(values)}")
        print(f"status: {res.status} at t = {res.t_final:.6g} ({res.method}; {res.nsteps} "
              f"steps, {res.nfev} evaluations)")
        print(res.message)
        print("final state:")
        for nm, v in zip(names, res.y_final, strict=True):
            print(f"  {nm} = {_fmt(v)}")
    if args.plot:
        if (system.size != 2 or args.plot_vars is not None) and res.t_final > 0:
            # drawn from dense output, not from the solver's (few, long) steps
            res = integrate(system, y0, res.t_final, values, method=args.method or "auto",
                            t_eval=np.linspace(0.0, res.t_final, 2000), **opts)
        _save_plot(system, values, args, res, y0[None, :])
    return 0


def _run_batch(system, values, y0, rng, args, opts) -> int:
    """``integrate --batch``: integrate, then classify every row's end state as ``sweep``
    does (:func:`~symdyn.numerics.classify`: converged, periodic with its period, diverged,
    undecided with why)."""
    import numpy as np

    from ..numerics import check_batch_size, integrate_batch

    names, n = [str(s) for s in system.state], system.size
    method = args.method or "DOP853"
    check_batch_size(args.batch, n, method)
    center = np.zeros(n) if y0 is None else y0
    Y0 = center + args.scale * rng.normal(size=(args.batch, n))
    start = time.perf_counter()
    with _progress(args, f"integrating {args.batch} rows") as bar:
        res = integrate_batch(system, Y0, args.t, values, method=method, progress=bar, **opts)
    c = _classified(system, res, values, args)
    elapsed = time.perf_counter() - start
    if args.format == "json":
        emit_json({"system": system.title, "values": _jsonable(values), "batch": args.batch,
                   "seed": args.seed, "t_final": args.t, "method": res.method,
                   "counts": c.counts, "integrator_counts": res.counts,
                   "message": res.message, "seconds": elapsed, "state": names,
                   "y0": Y0.tolist(), "t": res.t.tolist(), "y": c.y_end.tolist(),
                   "status": res.status.tolist(), "end": c.end.tolist(),
                   "endpoint": c.endpoint.tolist(), "loss": _nan_none(c.loss),
                   "period": _nan_none(c.period), "t_end": c.t_end.tolist(),
                   "reason": c.reason.tolist(),
                   "nfev": int(res.nfev.sum()), "nsteps": int(res.nsteps.sum())})
    else:
        from ..plots import _end_counts

        print(system.title)
        print(f"values: {_show_values(values)}")
        print(f"{args.batch} initial conditions: {'y0 + ' if y0 is not None else ''}"
              f"N(0, {args.scale:g}^2), seed {args.seed}; t <= {args.t:g}; {res.method}")
        print(f"{args.batch} rows: {_end_counts(c)}")
        print(f"time: {elapsed:.3g} s; {int(res.nfev.sum())} evaluations, "
              f"{int(res.nsteps.sum())} steps")
        for reason, count in _reasons(c):
            print(f"  undecided ({count}): {reason}")
        rows = min(5, args.batch)
        print(f"first {rows} rows (final state, end state):")
        for r in range(rows):
            pairs = zip(names[:8], c.y_end[r][:8], strict=True)
            state = ", ".join(f"{nm}={_fmt(v)}" for nm, v in pairs)
            print(f"  {state}{', ...' if n > 8 else ''}  [{_row_end(c, r)}]")
    if args.plot:
        _save_batch_plot(system, values, args, res, c, Y0[:50], opts)
    return 0


def _classified(system, res, values, args):
    """:func:`~symdyn.numerics.classify` of every row, in chunks whose dense tails (``fine``
    samples per row) stay within 32 MB, with the command's tolerances."""
    import dataclasses

    import numpy as np

    from ..numerics import classify
    from ..numerics._classify import Classification
    per_row = 2 * 8 * 4000 * max(system.size, 1)  # fine = 4000 samples, twice
    size = int(max(1, min(500, 32 * 2**20 // per_row)))  # dense tails within 32 MB
    parts = []
    for lo in range(0, len(res), size):
        sl = slice(lo, lo + size)
        part = dataclasses.replace(res, t=res.t[sl], y=res.y[sl], status=res.status[sl],
                                   nfev=res.nfev[sl], nsteps=res.nsteps[sl],
                                   stiff=res.stiff[sl], t_eval=None, y_eval=None)
        parts.append(classify(system, part, values, rtol=args.rtol, atol=args.atol))
    fields = {f.name: np.concatenate([getattr(p, f.name) for p in parts])
              for f in dataclasses.fields(Classification)}
    return Classification(**fields)


def _nan_none(a) -> list:
    return [None if v != v else float(v) for v in a]


def _reasons(c) -> list[tuple[str, int]]:
    """Why rows are undecided: one example of each kind of reason (the text before its first
    colon), with how many rows gave that kind."""
    from collections import Counter

    undecided = [str(r) for r, e in zip(c.reason, c.end, strict=True) if e == "undecided"]
    kinds = Counter(r.split(":")[0] for r in undecided)
    example = {}
    for r in undecided:
        example.setdefault(r.split(":")[0], r)
    return [(example[k], n) for k, n in kinds.most_common()]


def _row_end(c, r: int) -> str:
    end = c.end[r]
    if end == "converged":
        at = f" to the {c.endpoint[r]}" if c.endpoint[r] == "minimum" else (
            " to a critical set" if c.endpoint[r] == "critical" else "")
        return f"converged{at}, t={c.t_end[r]:.6g}"
    if end == "periodic":
        return f"periodic, period {c.period[r]:.6g}"
    if end == "diverged":
        return f"diverged, t={c.t_end[r]:.6g}"
    return f"undecided: {c.reason[r]}"


def _save_batch_plot(system, values, args, res, c, starts, opts) -> None:
    """The first rows again, sampled densely enough for their periods (at least 40 points
    per period, up to 20,000 points), so periodic rows are drawn as the orbits they are."""
    import numpy as np

    from ..numerics import integrate_batch
    from ..plots import plot_trajectories, save_figure

    if system.size == 2 and args.plot_vars is None:
        return _save_plot(system, values, args, res, starts)
    periods = c.period[: len(starts)]
    periods = periods[np.isfinite(periods)]
    points = 400 if periods.size == 0 else int(min(20_000, max(
        400, np.ceil(40 * args.t / periods.min()) + 1)))
    dense = integrate_batch(system, starts, args.t, values, method=args.method or "DOP853",
                            t_eval=np.linspace(0.0, args.t, points), **opts)
    fig = plot_trajectories(dense, components=_plot_components(system, args), system=system,
                            values=values, classification=c)
    target = save_figure(fig, args.plot)
    if not args.quiet:
        print(f"symdyn: figure saved to {target}", file=sys.stderr)
    return None


def _check_plot_options(args) -> None:
    """Refuse a figure target that cannot be written before any work is done."""
    if args.plot is not None:
        from ..plots import figure_path

        figure_path(args.plot)
    elif args.plot_vars is not None:
        raise UsageError("--plot-vars needs --plot FILE")


def _plot_components(system, args) -> list[str] | None:
    """``--plot-vars``, or by default the end-to-end product P for a scalar chain with more
    than two state variables (the state variables otherwise)."""
    if args.plot_vars is not None:
        return [v.strip() for v in args.plot_vars.split(",") if v.strip()]
    if system.size > 2 and system.network.is_scalar_chain:
        return ["*".join(f"a{h}" for h in range(1, system.network.depth + 1))]
    return None


def _save_plot(system, values, args, res, starts) -> None:
    import numpy as np

    from ..plots import phase_portrait, plot_trajectories, save_figure

    if system.size == 2 and args.plot_vars is None:
        finite = starts[np.all(np.isfinite(starts), axis=1)]
        # the end states: a batch's y, or the last point of one trajectory
        ends = np.atleast_2d(getattr(res, "y_final", res.y))[:50]
        kept = np.atleast_1d(np.asarray(res.status))[:len(ends)] != "diverged"
        pts = np.vstack([finite, ends[kept]])  # diverged ends would hide the rest
        pts = pts[np.all(np.isfinite(pts), axis=1)]
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        pad = 0.15 * np.maximum(hi - lo, 1.0)
        fig = phase_portrait(system, values, trajectories=finite,
                             xlim=(lo[0] - pad[0], hi[0] + pad[0]),
                             ylim=(lo[1] - pad[1], hi[1] + pad[1]), t_final=args.t)
    else:
        fig = plot_trajectories(res, components=_plot_components(system, args), system=system,
                                values=values)
    target = save_figure(fig, args.plot)
    if not args.quiet:
        print(f"symdyn: figure saved to {target}", file=sys.stderr)


# -- simulate ---------------------------------------------------------------------------------


def _setup_simulate(p: argparse.ArgumentParser) -> None:
    add_spec_arguments(p)
    _add_common(p)
    p.add_argument("--generate", type=integer(1, MAX_GENERATE), default=None, metavar="N",
                   help="instead of --data: N samples X ~ N(0, I), Y = M X + noise with a "
                        "random teacher M (from --seed)")
    p.add_argument("--noise", type=real(non_negative=True), default=0.1,
                   help="noise level of --generate (default 0.1)")
    p.add_argument("--lr", type=real(positive=True), required=True,
                   help="learning rate of each step")
    p.add_argument("--steps", type=integer(1), required=True, help="number of steps")
    p.add_argument("--batch-size", type=integer(1), default=1, help="mini-batch size (default 1)")
    p.add_argument("--sampling", choices=("iid", "shuffle"), default="iid",
                   help="iid: with replacement (default); shuffle: epochs of permutations")
    p.add_argument("--record-every", type=integer(1), default=None,
                   help="record the weights every K steps (default: ~1000 records)")
    p.add_argument("--compare", action="store_true",
                   help="also integrate the averaged ODE and report the distance")


def _run_simulate(args: argparse.Namespace) -> int:
    import numpy as np

    from ..spec import Dataset, as_data, as_network
    from ..training import compare, simulate

    _check_plot_options(args)
    rng = np.random.default_rng(args.seed)
    if (args.generate is None) == (args.data is None):
        raise UsageError("give the data: --data FILE.npz or --generate N (one of them)")
    if args.generate is not None:
        net = as_network(args.arch, args.activation)
        n0, nl = net.sizes[0], net.sizes[-1]
        need = 8 * args.generate * (n0 + nl)
        if need > 2 * 1024**3:
            raise UsageError(f"--generate {args.generate:,} samples of {n0} + {nl} numbers "
                             f"need {need / 1024**3:.3g} GiB (limit 2 GiB); generate fewer, "
                             "or pass --data FILE.npz")
        X = rng.normal(size=(args.generate, n0))
        M = rng.normal(size=(nl, n0)) / np.sqrt(n0)
        Y = X @ M.T + args.noise * rng.normal(size=(args.generate, nl))
        args.data = Dataset(X=X, Y=Y)
    data = as_data(args.data)  # the samples (a linear system keeps only their moments)
    args.data = data
    system = system_from_args(args)
    values = _values(system, args, rng)
    y0 = _parse_state(system, args.y0)
    if y0 is None:
        y0 = args.scale * rng.normal(size=system.size)
    names = [str(s) for s in system.state]
    kw = dict(lr=args.lr, steps=args.steps, y0=y0, values=values, seed=args.seed,
              batch_size=args.batch_size, record_every=args.record_every,
              sampling=args.sampling)
    start = time.perf_counter()
    with _progress(args, "training") as bar:
        if args.compare:
            cmp = compare(system, data, None, progress=bar, **kw)
            res = cmp.sgd
        else:
            cmp = None
            res = simulate(system, data, None, progress=bar, **kw)
    elapsed = time.perf_counter() - start
    if args.format == "json":
        out = {"system": system.title, "values": _jsonable(values), "state": names,
               "samples": data.size, "lr": res.lr, "steps": int(res.steps[-1]),
               "batch_size": res.batch_size, "seed": res.seed, "sampling": res.sampling,
               "status": res.status, "message": res.message, "seconds": elapsed,
               "t": res.t.tolist(), "y": res.y.tolist(),
               "y_final": dict(zip(names, res.y_final.tolist(), strict=True))}
        if cmp is not None:
            out.update({"max_distance": cmp.max_distance, "distance": cmp.distance.tolist(),
                        "ode_status": cmp.ode.status})
        emit_json(out)
    else:
        print(system.title)
        print(f"values: {_show_values(values)}")
        print(f"{data.size} samples; {int(res.steps[-1])} steps of lr={res.lr:g}, mini-batch "
              f"{res.batch_size} ({res.sampling}), seed {res.seed}: t = lr * step <= "
              f"{res.t_final:g}")
        print(f"status: {res.status}: {res.message} ({elapsed:.3g} s)")
        if cmp is not None:
            print(f"averaged ODE beside it: {cmp.message}")
        print("final weights:")
        for nm, v in list(zip(names, res.y_final, strict=True))[:20]:
            print(f"  {nm} = {_fmt(v)}")
        if len(names) > 20:
            print(f"  ... ({len(names) - 20} more; --format json for all)")
    if args.plot:
        from ..plots import plot_trajectories, save_figure

        fig = plot_trajectories(cmp if cmp is not None else res,
                                components=_plot_components(system, args), system=system,
                                values=values)
        target = save_figure(fig, args.plot)
        if not args.quiet:
            print(f"symdyn: figure saved to {target}", file=sys.stderr)
    return 0


COMMANDS = {
    "integrate": ("integrate trajectories of the averaged ODE (one, or a random batch)",
                  _setup_integrate, _run_integrate),
    "simulate": ("train by the per-sample rule (SGD) and compare with the ODE",
                 _setup_simulate, _run_simulate),
}
