"""Verdicts do not depend on the machine: the quick profile run on a quiet machine and on one
made busy on purpose gives the same evidence, step by step (slow: two runs of the profile).

The clock may end a result as ``timeout`` (its budget is wall-clock time); it may never
change a step. So a result either agrees entirely with its twin, or one of the two timed out
and the steps it recorded before are exactly the first steps of the other."""

from __future__ import annotations

import subprocess
import sys

import pytest

from symdyn.verify import run_proofs


def _fingerprint(result) -> tuple:
    steps = tuple((s["kind"], s["statement"], s["ok"], s.get("cases"), s.get("passed"),
                   s.get("check", "")) for s in result.details)
    return result.status, result.symbolic, result.cases, result.passed, result.checks, steps


def _without_timeout_note(result) -> tuple:
    steps = _fingerprint(result)[-1]
    return steps[:-1] if result.status == "timeout" else steps


def _busy_run() -> list:
    """The quick profile while two processes spin (started and ended here, by PID)."""
    spin = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        return run_proofs(quick=True)
    finally:
        for p in spin:
            p.kill()
            p.wait()


@pytest.mark.slow
def test_quick_profile_gives_the_same_verdicts_on_a_busy_machine():
    quiet = run_proofs(quick=True)
    busy = _busy_run()
    assert [r.name for r in quiet] == [r.name for r in busy]
    both = 0
    for q, b in zip(quiet, busy, strict=True):
        assert "failed" not in (q.status, b.status), (q.name, q.error, b.error)
        if "timeout" not in (q.status, b.status):
            assert _fingerprint(q) == _fingerprint(b), q.name
            both += 1
            continue
        short, other = (q, b) if q.status == "timeout" else (b, q)
        prefix = _without_timeout_note(short)
        assert _fingerprint(other)[-1][:len(prefix)] == prefix, q.name
    assert both >= len(quiet) // 2  # most results complete in both runs: not a hollow test
