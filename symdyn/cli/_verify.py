"""``symdyn verify``: run the proofs of the papers' results and print the evidence."""

from __future__ import annotations

import argparse
import sys

from ._common import UsageError, add_format_argument, emit_json

__all__ = ["COMMANDS"]


def _setup_verify(p: argparse.ArgumentParser) -> None:
    p.add_argument("names", nargs="*", metavar="NAME", help="results to check (default: all)")
    p.add_argument("--quick", action="store_true",
                   help="fewer numerical cases (the whole set in under two minutes)")
    add_format_argument(p, choices=("text", "json"))
    p.add_argument("--latex", metavar="FILE", default=None,
                   help="also write a LaTeX document with every statement and the evidence")
    p.add_argument("--list", action="store_true", help="list the results and exit")
    p.add_argument("--proofs", metavar="DIR", default=None,
                   help="run the proofs in DIR instead of symdyn's own (installed with it)")


def _run_verify(args: argparse.Namespace) -> int:
    from ..verify import (
        latex_report,
        load_proofs,
        proofs_directory,
        results_json,
        results_table,
        run_proofs,
    )

    folder, source = proofs_directory(args.proofs)
    if not source.startswith(("installed", "this checkout")):
        print(f"symdyn: running the proofs in {folder} ({source})", file=sys.stderr)
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


COMMANDS = {
    "verify": ("run the proofs of the papers' results and print the evidence table",
               _setup_verify, _run_verify),
}
