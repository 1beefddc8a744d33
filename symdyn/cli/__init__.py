"""The ``symdyn`` command line: one subcommand per pipeline stage, one module per family
of commands (``_derive``, ``_analysis``, ``_numerics``, ``_verify``, ``_experiment``,
``_notebooks``, ``_sweep``) sharing ``_common``.

Every subcommand builds its system from the same spec options and prints in
``--format text|latex|json``. Bad input prints one line on stderr and exits 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from ..errors import SymdynError
from . import _analysis, _derive, _experiment, _notebooks, _numerics, _sweep, _verify
from ._common import Parser

__all__ = ["main", "COMMANDS"]

#: name -> (help, set-up of the sub-parser, run), in the order ``symdyn --help`` lists them.
#: A new command family is a module with its own ``COMMANDS``, added here.
COMMANDS: dict[str, tuple[str, Callable, Callable]] = {
    **_derive.COMMANDS,
    **_analysis.COMMANDS,
    **_numerics.COMMANDS,
    **_verify.COMMANDS,
    **_experiment.COMMANDS,
    **_notebooks.COMMANDS,
    **_sweep.COMMANDS,
}


def _parser() -> argparse.ArgumentParser:
    from .. import __version__

    p = Parser(prog="symdyn", description="Formal analysis of learning dynamics.")
    p.add_argument("--version", action="version", version=f"symdyn {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
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
        # errors speak Python (values={...}); some also know their command-line wording
        text = exc.cli_message() if hasattr(exc, "cli_message") else str(exc)
        print(f"symdyn: error: {text}".replace("symdyn: error: symdyn", "symdyn"),
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("symdyn: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like: not an error
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        return 0
