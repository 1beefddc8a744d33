"""What every command family shares: the spec options, ``--values``, output formats, and
the one-line usage error."""

from __future__ import annotations

import argparse
import json

import sympy as sp

from ..errors import SymdynError

__all__ = ["UsageError", "Parser", "add_spec_arguments", "system_from_args",
           "add_format_argument", "parse_values", "emit_json"]


class UsageError(SymdynError):
    """Bad command-line input."""


class Parser(argparse.ArgumentParser):
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
