"""The ``symdyn`` command line: one subcommand per pipeline stage.

Every subcommand builds its system from the same spec options (:func:`add_spec_arguments`)
and prints in ``--format text|latex|json``. Bad input prints one line on stderr and exits 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable

import sympy as sp

from .errors import SymdynError

__all__ = ["main", "COMMANDS"]


class UsageError(SymdynError):
    """Bad command-line input."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit status 2."""

    def error(self, message: str):  # noqa: D401 - argparse hook
        raise UsageError(f"{self.prog}: {message}")


# -- shared spec options ----------------------------------------------------------------------


def add_spec_arguments(p: argparse.ArgumentParser, *, data: bool = True) -> None:
    """The options that name a system: architecture, rule and the rule's options."""
    p.add_argument("--arch", required=True, help="layer sizes, e.g. 1-1-1 or 4-3-2")
    p.add_argument("--rule", required=True, help="bp, rbp, srbp, arbp or asrbp")
    p.add_argument("--rate", default="1", help="learning rate: number or symbol (default 1)")
    p.add_argument("--activation", default=None,
                   help="hidden-layer activation: linear, tanh, logistic, relu, softplus")
    p.add_argument("--channel-activation", default=None,
                   help="activation g of the backward channel (default linear)")
    p.add_argument("--no-derivative", action="store_true",
                   help="drop f'(S) from the backward signal of hidden layers")
    p.add_argument("--decay", default="0", help="weight decay: number or symbol (default 0)")
    p.add_argument("--rate-ratio", default="1",
                   help="adaptive rules: channel rate / forward rate (default 1)")
    if data:
        p.add_argument("--data", default=None,
                       help=".npz with arrays X (N x n0) and Y (N x nL); default: symbolic "
                            "moments")


def system_from_args(args: argparse.Namespace):
    """Derive the system named by the spec options."""
    from .derive import derive

    return derive(
        args.arch,
        args.rule,
        rate=args.rate,
        activation=args.activation,
        channel_activation=args.channel_activation,
        derivative=not args.no_derivative,
        decay=args.decay,
        rate_ratio=args.rate_ratio,
        data=getattr(args, "data", None),
    )


def add_format_argument(p: argparse.ArgumentParser, choices=("text", "latex", "json")) -> None:
    p.add_argument("--format", choices=choices, default="text", help="output format")


def parse_values(text: str | None) -> dict[str, float]:
    """``"alpha=1,beta=2"`` -> ``{"alpha": 1.0, "beta": 2.0}``."""
    out: dict[str, float] = {}
    if not text:
        return out
    for item in text.split(","):
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--values: expected name=value, got {item!r}")
        try:
            out[name.strip()] = float(sp.sympify(value.strip()))
        except (sp.SympifyError, TypeError, ValueError):
            raise UsageError(f"--values: {name.strip()} must be a number, got {value!r}") \
                from None
    return out


def emit_json(payload) -> None:
    print(json.dumps(payload, indent=2))


# -- derive -----------------------------------------------------------------------------------


def _setup_derive(p: argparse.ArgumentParser) -> None:
    add_spec_arguments(p)
    add_format_argument(p)
    p.add_argument("--form", choices=("both", "matrix", "component"), default=None,
                   help="which form to print (default: both for text and latex, component "
                        "for json)")
    p.add_argument("--update", action="store_true",
                   help="latex: the per-sample update rule instead of the averaged ODE")


def _run_derive(args: argparse.Namespace) -> int:
    from .report import json_system

    system = system_from_args(args)
    if args.format == "json":
        emit_json(json_system(system, form="matrix" if args.form == "matrix" else "component"))
    elif args.format == "latex":
        print(system.latex(form=args.form or "both", update=args.update))
    else:
        print(system)
    return 0


# -- invariants, fixed-points, analyze --------------------------------------------------------


def _setup_invariants(p: argparse.ArgumentParser) -> None:
    add_spec_arguments(p)
    add_format_argument(p)
    p.add_argument("--degree", type=int, default=2, help="highest degree searched (default 2)")
    p.add_argument("--generators", action="store_true",
                   help="leave out products of lower-degree invariants")
    p.add_argument("--check", metavar="EXPR", default=None,
                   help="check one candidate instead, e.g. 'a1**2 - 2*c1*a2' or a matrix "
                        "expression such as 'A1*A1.T - C1*A2 - A2.T*C1.T'")
    p.add_argument("--timeout", type=float, default=60.0,
                   help="time budget of the search in seconds (default 60)")


def _run_invariants(args: argparse.Namespace) -> int:
    from .analysis import _present as show
    from .analysis import invariants, verify_invariant

    system = system_from_args(args)
    if args.check is not None:
        check = verify_invariant(system, args.check)
        if args.format == "json":
            emit_json(show.check_json(check))
        else:
            print(show.check_latex(system, check) if args.format == "latex"
                  else show.check_text(check))
        return 0
    invs = invariants(system, args.degree, generators=args.generators, timeout=args.timeout)
    if args.format == "json":
        emit_json(show.invariants_json(system, invs))
    else:
        print(show.invariants_latex(system, invs) if args.format == "latex"
              else show.invariants_text(system, invs, args.degree))
    return 0


def _add_fixed_point_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--values", default=None, metavar="K=V,...",
                   help="parameter values, e.g. alpha=1,beta=2,c1=0.5 (others stay symbolic)")
    p.add_argument("--timeout", type=float, default=30.0,
                   help="time budget of the fixed-point search in seconds (default 30)")


def _setup_fixed_points(p: argparse.ArgumentParser) -> None:
    add_spec_arguments(p)
    add_format_argument(p)
    _add_fixed_point_arguments(p)
    p.add_argument("--method", choices=("auto", "symbolic", "numeric"), default="auto",
                   help="symbolic (sympy), numeric (multistart; needs every value) or auto")


def _note_status(fps) -> None:
    if fps.status not in ("solved", "numeric"):
        print(f"symdyn: note: fixed points {fps.status}: {fps.message}", file=sys.stderr)


def _run_fixed_points(args: argparse.Namespace) -> int:
    from .analysis import _present as show
    from .analysis import fixed_points

    system = system_from_args(args)
    fps = fixed_points(system, parse_values(args.values), timeout=args.timeout,
                       method=args.method)
    if args.format == "json":
        emit_json(show.fixed_points_json(system, fps))
    else:
        print(show.fixed_points_latex(system, fps) if args.format == "latex"
              else show.fixed_points_text(system, fps))
    _note_status(fps)
    return 0


def _setup_analyze(p: argparse.ArgumentParser) -> None:
    add_spec_arguments(p)
    add_format_argument(p)
    p.add_argument("--degree", type=int, default=2, help="highest invariant degree (default 2)")
    _add_fixed_point_arguments(p)


def _run_analyze(args: argparse.Namespace) -> int:
    from .analysis import _present as show
    from .analysis import analyze

    system = system_from_args(args)
    an = analyze(system, degree=args.degree, values=parse_values(args.values),
                 timeout=args.timeout)
    if args.format == "json":
        emit_json(show.analysis_json(an))
    else:
        print(show.analysis_latex(an) if args.format == "latex"
              else show.analysis_text(an, args.degree))
    _note_status(an.fixed_points)
    return 0


# -- integrate, simulate (implemented in symdyn/_cli_numerics.py) ----------------------------


def _numerics_command(name: str) -> tuple[Callable, Callable]:
    """Set-up and run of a numerics subcommand, imported when used."""

    def setup(p: argparse.ArgumentParser) -> None:
        from . import _cli_numerics

        getattr(_cli_numerics, f"setup_{name}")(p)

    def run(args: argparse.Namespace) -> int:
        from . import _cli_numerics

        return getattr(_cli_numerics, f"run_{name}")(args)

    return setup, run


# -- verify -----------------------------------------------------------------------------------


def _setup_verify(p: argparse.ArgumentParser) -> None:
    p.add_argument("names", nargs="*", metavar="NAME", help="results to check (default: all)")
    p.add_argument("--quick", action="store_true",
                   help="fewer numerical cases (the whole set in under two minutes)")
    add_format_argument(p, choices=("text", "json"))
    p.add_argument("--latex", metavar="FILE", default=None,
                   help="also write a LaTeX document with every statement and the evidence")
    p.add_argument("--list", action="store_true", help="list the results and exit")
    p.add_argument("--proofs", metavar="DIR", default=None,
                   help="directory of proof files (default: proofs/ of this checkout)")


def _run_verify(args: argparse.Namespace) -> int:
    from .verify import latex_report, load_proofs, results_json, results_table, run_proofs

    if args.list:
        for p in load_proofs(args.proofs):
            print(f"{p.name}: {p.title}")
        return 0
    progress = None
    if sys.stderr.isatty() and args.format == "text":
        from tqdm import tqdm

        def progress(items):
            return tqdm(items, desc="verify", unit="result", file=sys.stderr, leave=False)

    results = run_proofs(args.names, quick=args.quick, directory=args.proofs,
                         progress=progress)
    if args.latex:
        try:
            with open(args.latex, "w") as fh:
                fh.write(latex_report(results))
        except OSError as exc:
            raise UsageError(f"cannot write {args.latex}: {exc.strerror}") from None
    if args.format == "json":
        emit_json(results_json(results))
    else:
        print(results_table(results))
    return 0 if all(r.status == "ok" for r in results) else 1


# -- registry ---------------------------------------------------------------------------------

#: name -> (help, set-up of the sub-parser, run). Later stages add their commands here.
COMMANDS: dict[str, tuple[str, Callable, Callable]] = {
    "derive": ("derive the learning equations of a network and rule", _setup_derive,
               _run_derive),
    "invariants": ("find the polynomial first integrals, or check one (--check)",
                   _setup_invariants, _run_invariants),
    "fixed-points": ("find the fixed points with their dimension and stability",
                     _setup_fixed_points, _run_fixed_points),
    "analyze": ("invariants, fixed points with stability, and the reduction",
                _setup_analyze, _run_analyze),
    "integrate": ("integrate trajectories of the averaged ODE (one, or a random batch)",
                  *_numerics_command("integrate")),
    "simulate": ("train by the per-sample rule (SGD) and compare with the ODE",
                 *_numerics_command("simulate")),
    "verify": ("run the proofs of the papers' results and print the evidence table",
               _setup_verify, _run_verify),
}


def _parser() -> argparse.ArgumentParser:
    from . import __version__

    p = _Parser(prog="symdyn", description="Formal analysis of learning dynamics.")
    p.add_argument("--version", action="version", version=f"symdyn {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (help_, setup, _) in COMMANDS.items():
        setup(sub.add_parser(name, help=help_, description=help_))
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``symdyn`` console script."""
    try:
        parser = _parser()
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        return COMMANDS[args.command][2](args)
    except SymdynError as exc:
        print(f"symdyn: error: {exc}".replace("symdyn: error: symdyn", "symdyn"),
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("symdyn: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like: not an error
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        return 0
