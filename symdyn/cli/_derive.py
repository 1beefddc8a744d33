"""``symdyn derive``: the learning equations of a network and rule."""

from __future__ import annotations

import argparse
import sys

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
    from ..report import JSON_COMPONENT_LIMIT

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
    from ..report import COMPONENT_LIMIT, JSON_COMPONENT_LIMIT, json_system, text_system

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


_ROLES = {"C": "fixed channel (--random-channels draws it)",
          "Sigma_II": "data moment E[I I^T], symmetric (--data fills it)",
          "Sigma_TI": "data moment E[T I^T] (--data fills it)",
          "X": "inputs, one sample per column", "Y": "targets, one sample per column"}


def _role(name: str) -> str:
    if name in _ROLES:
        return _ROLES[name]
    return _ROLES["C"] if name[:1] == "C" and name[1:].isdigit() else "scalar"


def _setup_params(p: argparse.ArgumentParser) -> None:
    add_spec_arguments(p)
    add_format_argument(p, choices=("text", "json"))


def _run_params(args: argparse.Namespace) -> int:
    """What --values and --y0 take for this system, and what --data fills in."""
    import sympy as sp

    system = system_from_args(args)
    fixed = {m.name for m in system.matrix.values}
    rows = []
    for m in system.matrix.parameters:
        name = str(getattr(m, "name", m))
        if isinstance(m, sp.MatrixSymbol):
            comps = [str(c) for c in dict.fromkeys(system.components(m))]
            shape = [int(m.rows), int(m.cols)]
        else:
            comps, shape = [name], []
        given = "given by --data" if name in fixed else None
        rows.append({"name": name, "shape": shape, "components": comps,
                     "role": _role(name), "value": given})
    state = [str(s) for s in system.state]
    if args.format == "json":
        emit_json({"system": system.title, "state": state, "parameters": rows})
        return 0
    print(system.title)
    print(f"state ({len(state)}; --y0 in this order, or NAME=V): {_shorten(state)}")
    print("parameters (--values NAME=V,...; a matrix by its components):")
    for r in rows:
        shape = f" ({r['shape'][0]}x{r['shape'][1]})" if r["shape"] else ""
        comps = "" if r["components"] == [r["name"]] else f": {_shorten(r['components'])}"
        print(f"  {r['name']}{shape}{comps}  [{r['value'] or r['role']}]")
    return 0


def _shorten(names: list[str], keep: int = 8) -> str:
    return ", ".join(names) if len(names) <= keep else \
        ", ".join(names[:keep - 2]) + f", ... ({len(names) - keep + 1} more), {names[-1]}"


COMMANDS = {
    "params": ("list the state and the parameters --values takes, with what --data fills in",
               _setup_params, _run_params),
    "derive": ("derive the learning equations of a network and rule", _setup_derive,
               _run_derive),
}
