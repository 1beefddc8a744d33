"""``symdyn derive``: the learning equations of a network and rule."""

from __future__ import annotations

import argparse
import sys

from ..report import COMPONENT_LIMIT, JSON_COMPONENT_LIMIT, json_system, text_system
from ._common import (
    UsageError,
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
                   help="which form to print (default: both for text and latex; for json the "
                        f"component form up to {JSON_COMPONENT_LIMIT} equations, the matrix "
                        "form above)")
    p.add_argument("--update", action="store_true",
                   help="the per-sample update rule instead of the averaged ODE")
    add_standalone_argument(p)


def _run_derive(args: argparse.Namespace) -> int:
    system = system_from_args(args)
    form = args.form
    if args.format == "json":
        if form == "both":
            raise UsageError("--format json writes one form: --form component or matrix")
        if form is None:
            form = "component" if system.size <= JSON_COMPONENT_LIMIT else "matrix"
        emit_json(json_system(system, form=form, update=args.update))
        return 0
    if form == "component" and system.size > JSON_COMPONENT_LIMIT:
        raise UsageError(f"the component form has {system.size} equations; print it as "
                         f"text or LaTeX up to {JSON_COMPONENT_LIMIT}, or use --form matrix")
    if (form or "both") == "both" and system.size > COMPONENT_LIMIT:
        print(f"symdyn: note: the component form ({system.size} equations) is left out of "
              f"--form both above {COMPONENT_LIMIT} equations; --form component prints it",
              file=sys.stderr)
    if args.format == "latex":
        block = system.latex(form=form or "both", update=args.update)
        if args.standalone:
            from ..report import document_title, latex_document

            block = latex_document(block, title=document_title(system))
        print(block)
    else:
        print(text_system(system, update=args.update, form=form or "both"))
    return 0


COMMANDS = {
    "derive": ("derive the learning equations of a network and rule", _setup_derive,
               _run_derive),
}
