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


def _command(argv: list[str]) -> str | None:
    """The subcommand named in ``argv``: its first word that is not an option (the top-level
    options, ``--help`` and ``--version``, take no value)."""
    return next((a for a in argv if not a.startswith("-")), None)


def _parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser, with the options of the command named in ``argv`` (all: ``None``).

    Only that command's options are set up: some set-ups import what their defaults come
    from (verify's budgets, experiment's suites), and ``symdyn --help`` should not pay for
    them."""
    from .. import __version__

    chosen = _command(argv) if argv is not None else None
    p = Parser(prog="symdyn", description="Formal analysis of learning dynamics.")
    p.add_argument("--version", action="version", version=f"symdyn {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name, (help_, setup, _) in COMMANDS.items():
        command = sub.add_parser(name, help=help_, description=help_)
        if argv is None or name == chosen:
            setup(command)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``symdyn`` console script."""
    try:
        argv = sys.argv[1:] if argv is None else list(argv)
        parser = _parser(argv)
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
    except OSError as exc:
        # a path the user named cannot be read or written (under a regular file, on a
        # read-only file system, a full disk): input, so one line and exit 2
        where = f" {exc.filename!r}" if exc.filename else ""
        print(f"symdyn: error: cannot read or write{where}: {exc.strerror or exc}",
              file=sys.stderr)
        return 2
