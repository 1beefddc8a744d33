"""Degree-2 invariant search on linear networks, before and after issue 12, in seconds.

"before" is the search as of commit 252c198 (a dense elimination over the field of rational
functions of every parameter), loaded from git and run in a separate process under a time
budget; "after" is the current :func:`symdyn.invariants` (exact sparse kernels at random
rational points, only the parameters the laws depend on kept symbolic, then an exact check of
every law against the full system). Each line gives the number of laws in the basis and the
number of functionally independent ones.

    python benchmarks/bench_invariants.py [--before-timeout 60] [--after-timeout 600]
                                          [--arch 2-3-2,4-4-4] [--rules bp,rbp] [--no-before]
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import time
from pathlib import Path

from _common import machine

import symdyn as sd
from symdyn.analysis._common import budgeted

BEFORE = "252c198"
ROOT = Path(__file__).resolve().parent.parent


def _before_module():
    """The invariant module of commit ``BEFORE``, imported inside the symdyn package."""
    src = subprocess.run(["git", "-C", str(ROOT), "show",
                          f"{BEFORE}:symdyn/analysis/_invariants.py"],
                         capture_output=True, text=True, check=True).stdout
    path = Path("/tmp") / "symdyn_invariants_before.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("symdyn.analysis._invariants_before", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def _job(which, arch, rule):
    system = sd.derive(arch, rule)
    t0 = time.perf_counter()
    if which == "before":
        laws = _before_module().invariants(system, 2)
        yield ("result", time.perf_counter() - t0, len(laws), None)
    else:
        laws = sd.invariants(system, 2)
        yield ("result", time.perf_counter() - t0, len(laws.basis), laws.rank)


def run(which, arch, rule, timeout) -> str:
    msgs, end = budgeted(_job, (which, arch, rule), timeout)
    if end == "done" and msgs:
        _, seconds, n, rank = msgs[0]
        laws = f"{n} laws" + (f", {rank} independent" if rank is not None else "")
        return f"{seconds:8.2f} s  ({laws})"
    return f"> {timeout:g} s (stopped)" if end == "timeout" else end


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="2-2-2,2-3-2,3-3-3,3-4-3,4-4-4")
    ap.add_argument("--rules", default="bp,rbp,srbp,arbp,asrbp")
    ap.add_argument("--before-timeout", type=float, default=60.0)
    ap.add_argument("--after-timeout", type=float, default=600.0)
    ap.add_argument("--no-before", action="store_true")
    args = ap.parse_args()
    print(machine())
    print(f"{'arch':8} {'rule':6} {'before (' + BEFORE + ')':>30}   {'after':>30}")
    for arch in args.arch.split(","):
        for rule in args.rules.split(","):
            before = "not run" if args.no_before else \
                run("before", arch, rule, args.before_timeout)
            after = run("after", arch, rule, args.after_timeout)
            print(f"{arch:8} {rule:6} {before:>30}   {after:>30}", flush=True)


if __name__ == "__main__":
    main()
