"""``symdyn derive``: the learning equations of a network and rule."""

from __future__ import annotations

import argparse

from ._common import (
    add_format_argument,
    add_spec_arguments,
    add_standalone_argument,
    emit_json,
    system_from_args,
)

__all__ = ["COMMANDS"]


def _setup_derive(p: argparse.ArgumentParser) -> None:
    add_spec_arguments(p)
    add_format_argument(p)
    p.add_argument("--form", choices=("both", "matrix", "component"), default=None,
                   help="which form to print (default: both for text and latex, component "
                        "for json)")
    p.add_argument("--update", action="store_true",
                   help="latex: the per-sample update rule instead of the averaged ODE")
    add_standalone_argument(p)


def _run_derive(args: argparse.Namespace) -> int:
    from ..report import json_system

    system = system_from_args(args)
    if args.format == "json":
        emit_json(json_system(system, form="matrix" if args.form == "matrix" else "component"))
    elif args.format == "latex":
        block = system.latex(form=args.form or "both", update=args.update)
        if args.standalone:
            from ..report import document_title, latex_document

            block = latex_document(block, title=document_title(system))
        print(block)
    else:
        print(system)
    return 0


COMMANDS = {
    "derive": ("derive the learning equations of a network and rule", _setup_derive,
               _run_derive),
}
