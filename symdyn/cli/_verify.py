"""``symdyn verify``: run the proofs of the papers' results and print the evidence.

Results are written as they finish (a table row, or one JSON object per line with
``--format jsonl``); ``--format json`` writes one document at the end. Each result runs
under a time budget (``--budget``); when stdout is not a terminal, a progress line per
result goes to stderr."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from ._common import UsageError, add_format_argument, emit_json, real

__all__ = ["COMMANDS"]


def _setup_verify(p: argparse.ArgumentParser) -> None:
    from ..verify._budgets import BUDGETS

    p.add_argument("names", nargs="*", metavar="NAME", help="results to check (default: all)")
    p.add_argument("--quick", action="store_true",
                   help="fewer numerical cases (the whole set in about a minute)")
    add_format_argument(p, choices=("text", "json", "jsonl", "latex"))
    p.add_argument("--budget", metavar="SECONDS", type=real(positive=True), default=None,
                   help=f"CPU-time budget per result (default {BUDGETS['quick']:g} s with "
                        f"--quick, {BUDGETS['full']:g} s otherwise); a result that overruns "
                        "it ends as 'timeout' and the run goes on")
    p.add_argument("--latex", metavar="FILE", default=None,
                   help="also write a LaTeX document with every statement and the evidence")
    p.add_argument("--list", action="store_true", help="list the results and exit")
    p.add_argument("--proofs", metavar="DIR", default=None,
                   help="run the proofs in DIR instead of symdyn's own (installed with it)")


def _progress_line(i: int, n: int, r) -> str:
    passed, total = r.checks
    checks = f", checks {passed}/{total}" if total else ""
    return f"verify: [{i}/{n}] {r.name}: {r.status} ({r.seconds:.1f} s{checks})"


#: while a result runs, a line on stderr at least this often (seconds)
HEARTBEAT = 10.0


class _Heartbeat:
    """``watch`` of :func:`~symdyn.verify.iter_results`: while a result runs, a line on
    stderr every :data:`HEARTBEAT` seconds with how far it has got ("3/24 cells") and how
    long it has run; on a terminal the line is rewritten in place and cleared before the
    result's row is printed."""

    def __init__(self, names: list[str], stream=None):
        self.index = {name: i for i, name in enumerate(names, 1)}
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.current, self.start, self.last, self.shown = None, 0.0, 0.0, False

    def __call__(self, p, progress, steps: int) -> None:
        now = time.monotonic()
        if p.name != self.current:
            self.current, self.start, self.last = p.name, now, now
        if now - self.last < HEARTBEAT:
            return
        self.last = now
        how_far = f"{progress} done" if progress is not None else "running"
        line = (f"verify: [{self.index[p.name]}/{len(self.index)}] {p.name}: {how_far}, "
                f"{steps} step(s) recorded, {now - self.start:.0f} s")
        if self.tty:
            self.stream.write(f"\r{line}\x1b[K")
            self.shown = True
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def clear(self) -> None:
        """Take the in-place line off the terminal (before a row is printed)."""
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False


def _run_verify(args: argparse.Namespace) -> int:
    if args.budget is not None and not (args.budget > 0 and args.budget < float("inf")):
        raise UsageError(f"--budget must be a positive number of seconds, got {args.budget:g}")
    from ..verify import (
        BUDGETS,
        TableWriter,
        iter_results,
        latex_report,
        load_proofs,
        proofs_directory,
        result_json,
        results_json,
        select_proofs,
    )

    folder, source = proofs_directory(args.proofs)
    # the note comes after the proofs load, so that a bad directory is one line on stderr
    note = "" if source.startswith(("installed", "this checkout")) else \
        f"symdyn: running the proofs in {folder} ({source})"
    if args.list:
        loaded = load_proofs(args.proofs)
        if note:
            print(note, file=sys.stderr)
        for p in loaded:
            print(f"{p.name}: {p.title}")
        return 0
    proofs = select_proofs(args.names, args.proofs)
    if note:
        print(note, file=sys.stderr)
    budget = args.budget or BUDGETS["quick" if args.quick else "full"]
    piped = not sys.stdout.isatty()
    if piped:
        note = "" if args.quick else "; --quick runs fewer cases"
        print(f"verify: {len(proofs)} results, at most {budget:g} CPU seconds each{note}",
              file=sys.stderr, flush=True)
    table = TableWriter([p.name for p in proofs])
    if args.format == "text":
        print(table.header(), flush=True)
    results = []
    beat = _Heartbeat([p.name for p in proofs])
    for r in iter_results(proofs, quick=args.quick, budget=budget, watch=beat):
        beat.clear()
        results.append(r)
        if args.format == "text":
            print(table.row(r), flush=True)
        elif args.format == "jsonl":
            print(json.dumps(result_json(r)), flush=True)
        if piped:
            print(_progress_line(len(results), len(proofs), r), file=sys.stderr, flush=True)
    if args.latex:
        try:
            with open(args.latex, "w") as fh:
                fh.write(latex_report(results))
        except OSError as exc:
            raise UsageError(f"cannot write {args.latex}: {exc.strerror}") from None
        print(f"verify: LaTeX report written to {os.path.abspath(args.latex)} (one pdflatex "
              "pass compiles it)", file=sys.stderr, flush=True)
    if args.format == "json":
        emit_json(results_json(results))
    elif args.format == "latex":  # the report, on stdout (pdflatex twice resolves references)
        print(latex_report(results))
    elif args.format == "text":
        print(table.summary(results))
    return 0 if all(r.status == "ok" for r in results) else 1


COMMANDS = {
    "verify": ("run the proofs of the papers' results and print the evidence table",
               _setup_verify, _run_verify),
}
