"""``symdyn invariants | fixed-points | analyze``: the analyses of a derived system."""

from __future__ import annotations

import argparse
import sys

from ._common import (
    add_format_argument,
    add_spec_arguments,
    add_standalone_argument,
    emit_json,
    integer,
    parse_values,
    real,
    system_from_args,
)

__all__ = ["COMMANDS"]


def _setup_invariants(p: argparse.ArgumentParser) -> None:
    add_spec_arguments(p)
    add_format_argument(p)
    p.add_argument("--degree", type=integer(1, 12), default=2,
                   help="highest degree searched, 1..12 (default 2)")
    p.add_argument("--generators", action="store_true",
                   help="leave out products of lower-degree invariants")
    p.add_argument("--independent", action="store_true",
                   help="show a functionally independent subset of the laws")
    p.add_argument("--check", metavar="EXPR", default=None,
                   help="check one candidate instead, e.g. 'a1**2 - 2*c1*a2' or a matrix "
                        "expression such as 'A1*A1.T - C1*A2 - A2.T*C1.T'")
    p.add_argument("--timeout", type=real(positive=True), default=60.0,
                   help="time budget of the search in seconds (default 60)")
    add_standalone_argument(p)


def _run_invariants(args: argparse.Namespace) -> int:
    from ..analysis import _present as show
    from ..analysis import invariants, verify_invariant

    system = system_from_args(args)
    if args.check is not None:
        check = verify_invariant(system, args.check)
        if args.format == "json":
            emit_json(show.check_json(check))
        else:
            print(show.check_latex(system, check) if args.format == "latex"
                  else show.check_text(check))
        return 0
    invs = invariants(system, args.degree, generators=args.generators,
                      independent=args.independent, timeout=args.timeout)
    if args.format == "json":
        emit_json(show.invariants_json(system, invs))
    elif args.format == "latex" and args.standalone:
        print(show.invariants_document(system, invs, args.degree))
    else:
        print(show.invariants_latex(system, invs) if args.format == "latex"
              else show.invariants_text(system, invs, args.degree))
    return 0


def _add_fixed_point_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--values", default=None, metavar="K=V,...",
                   help="parameter values, e.g. alpha=1,beta=2,c1=0.5 (others stay symbolic)")
    p.add_argument("--timeout", type=real(positive=True), default=30.0,
                   help="time budget of the fixed-point search in seconds (default 30)")


def _setup_fixed_points(p: argparse.ArgumentParser) -> None:
    add_spec_arguments(p)
    add_format_argument(p)
    _add_fixed_point_arguments(p)
    add_standalone_argument(p)
    p.add_argument("--method", choices=("auto", "symbolic", "numeric"), default="auto",
                   help="symbolic (sympy), numeric (multistart; needs every value) or auto")


def _note_status(fps) -> None:
    if fps.status not in ("solved", "numeric"):
        print(f"symdyn: note: fixed points {fps.status}: {fps.message}", file=sys.stderr)


def _run_fixed_points(args: argparse.Namespace) -> int:
    from ..analysis import _present as show
    from ..analysis import fixed_points

    system = system_from_args(args)
    fps = fixed_points(system, parse_values(args.values), timeout=args.timeout,
                       method=args.method)
    if args.format == "json":
        emit_json(show.fixed_points_json(system, fps))
    elif args.format == "latex" and args.standalone:
        print(show.fixed_points_document(system, fps, parse_values(args.values)))
    else:
        print(show.fixed_points_latex(system, fps) if args.format == "latex"
              else show.fixed_points_text(system, fps))
    _note_status(fps)
    return 0


def _setup_analyze(p: argparse.ArgumentParser) -> None:
    add_spec_arguments(p)
    add_format_argument(p)
    p.add_argument("--degree", type=integer(1, 12), default=2,
                   help="highest invariant degree, 1..12 (default 2)")
    _add_fixed_point_arguments(p)
    add_standalone_argument(p)


def _run_analyze(args: argparse.Namespace) -> int:
    from ..analysis import _present as show
    from ..analysis import analyze

    system = system_from_args(args)
    an = analyze(system, degree=args.degree, values=parse_values(args.values),
                 timeout=args.timeout)
    if args.format == "json":
        emit_json(show.analysis_json(an))
    elif args.format == "latex" and args.standalone:
        print(show.analysis_document(an, args.degree, parse_values(args.values)))
    else:
        print(show.analysis_latex(an) if args.format == "latex"
              else show.analysis_text(an, args.degree))
    _note_status(an.fixed_points)
    return 0


COMMANDS = {
    "invariants": ("find the polynomial first integrals, or check one (--check)",
                   _setup_invariants, _run_invariants),
    "fixed-points": ("find the fixed points with their dimension and stability",
                     _setup_fixed_points, _run_fixed_points),
    "analyze": ("invariants, fixed points with stability, and the reduction",
                _setup_analyze, _run_analyze),
}
