"""What every command family shares: the spec options, ``--values``, output formats, and
the one-line usage error."""

from __future__ import annotations

import argparse
import json
import math
import re
from collections.abc import Callable

from ..errors import SymdynError

__all__ = ["UsageError", "Parser", "add_spec_arguments", "system_from_args",
           "add_format_argument", "parse_values", "emit_json", "integer", "real"]


class UsageError(SymdynError):
    """Bad command-line input."""


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit status 2."""

    def error(self, message: str):  # noqa: D401 - argparse hook
        raise UsageError(f"{self.prog}: {message}")


# -- validated option types ------------------------------------------------------------------
# argparse reports an ArgumentTypeError as "argument --x: <message>", one line, exit 2.

_INT = re.compile(r"^\s*[+-]?[0-9]+\s*$", re.ASCII)


def integer(low: int | None = None, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: an integer written in ASCII digits, within ``[low, high]``."""

    def parse(text: str) -> int:
        if not _INT.match(text) or len(text.strip()) > 30:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}")
        value = int(text)
        if (low is not None and value < low) or (high is not None and value > high):
            lo = "" if low is None else f"{low:,} <= "
            hi = "" if high is None else f" <= {high:,}"
            raise argparse.ArgumentTypeError(f"{value} is out of range: {lo}value{hi}")
        return value

    parse.__name__ = "integer"
    return parse


def real(*, positive: bool = False, non_negative: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite real number (``nan``, ``inf`` and overflow refused)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
        if positive and value <= 0:
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
        if non_negative and value < 0:
            raise argparse.ArgumentTypeError(f"expected a non-negative number, got {text!r}")
        return value

    parse.__name__ = "number"
    return parse


# -- shared spec options ----------------------------------------------------------------------


def add_spec_arguments(p: argparse.ArgumentParser, *, data: bool = True) -> None:
    """The options that name a system: architecture, rule and the rule's options."""
    p.add_argument("--arch", required=True, help="layer sizes, e.g. 1-1-1 or 4-3-2")
    p.add_argument("--rule", required=True,
                   help="bp, rbp, srbp, arbp, asrbp or sign (sign symmetry)")
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
    from ..derive import derive

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


def add_standalone_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--standalone", action="store_true",
                   help="latex: a complete document for pdflatex (default: a fragment to paste)")


def parse_values(text: str | None, option: str = "--values") -> dict[str, float]:
    """``"alpha=1,beta=2"`` -> ``{"alpha": 1.0, "beta": 2.0}``. Each value is a finite
    number, written as a literal or a constant expression (``1/3``, ``2**-4``), read by the
    whitelist parser of :mod:`symdyn.expressions`: nothing in it runs."""
    from ..expressions import parse_number  # sympy: only when a command reads values

    out: dict[str, float] = {}
    if not text:
        return out
    for item in text.split(","):
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UsageError(f"{option}: expected name=value, got {item!r}")
        if name in out:
            raise UsageError(f"{option}: {name} is given twice")
        out[name] = parse_number(value.strip(), what=f"{option}: {name}=")
    return out


def emit_json(payload) -> None:
    print(json.dumps(payload, indent=2))
