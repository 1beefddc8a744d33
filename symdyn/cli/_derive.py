"""``symdyn derive``: the learning equations of a network and rule."""

from __future__ import annotations

import argparse

from ._common import add_format_argument, add_spec_arguments, emit_json, system_from_args

__all__ = ["COMMANDS"]


def _setup_derive(p: argparse.ArgumentParser) -> None:
    add_spec_arguments(p)
    add_format_argument(p)
    p.add_argument("--form", choices=("both", "matrix", "component"), default=None,
                   help="which form to print (default: both for text and latex, component "
                        "for json)")
    p.add_argument("--update", action="store_true",
                   help="latex: the per-sample update rule instead of the averaged ODE")


def _run_derive(args: argparse.Namespace) -> int:
    from ..report import json_system

    system = system_from_args(args)
    if args.format == "json":
        emit_json(json_system(system, form="matrix" if args.form == "matrix" else "component"))
    elif args.format == "latex":
        print(system.latex(form=args.form or "both", update=args.update))
    else:
        print(system)
    return 0


COMMANDS = {
    "derive": ("derive the learning equations of a network and rule", _setup_derive,
               _run_derive),
}
