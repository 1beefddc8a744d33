"""Mutation check (slow): small deliberate bugs, each applied to a copy of the package, must
make ``symdyn verify --quick`` exit 1 and name a failing result or control.

Run the whole table by hand with ``python tests/test_mutations.py`` (prints bug, verdict,
failing results, seconds)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 1200  # seconds for one quick run of a broken copy (the budgets end it far sooner)

#: name -> (file in the package, text, replacement): each a slip a developer could make
MUTATIONS = {
    "codegen: nested product's coefficient dropped": (
        "numerics/_codegen.py", "coeff, mats = coeff * c, mats + m",
        "coeff, mats = coeff, mats + m"),
    "codegen: negative term printed with the wrong magnitude": (
        "numerics/_codegen.py", "minus.append(self._product(-coeff, mats))",
        "minus.append(self._product(sp.Integer(1), mats))"),
    "convergence: tolerance loosened to 1e-2": (
        "numerics/_convergence.py", "((fn_new <= tol) & (remaining <= xtol))",
        "((fn_new <= 1e-2) & (remaining <= xtol))"),
    "convergence: distance condition dropped": (
        "numerics/_convergence.py", "((fn_new <= tol) & (remaining <= xtol))",
        "(fn_new <= tol)"),
    "derive: weight decay with the wrong sign": (
        "derive.py", "eta * (p - d * A[h])", "eta * (p + d * A[h])"),
    "stability: labels stable/unstable swapped": (
        "analysis/_stability.py", 'Stability("stable" if neg else "unstable", transverse)',
        'Stability("unstable" if neg else "stable", transverse)'),
    "invariants: verify_invariant says holds for a false candidate": (
        "analysis/_invariants.py", "        if d == 0:\n", "        if True:\n"),
    "rules: adaptive-channel update with the wrong sign": (
        "rules/_rules.py", "        return s.O[h] @ s.B[h + 1].T\n",
        "        return -(s.O[h] @ s.B[h + 1].T)\n"),
    "sign analysis: the leading coefficient's sign test inverted": (
        "analysis/_sign.py", "    if s < 0 and n % 2 == 1:", "    if s > 0 and n % 2 == 1:"),
    "non-negativity: the refuter never finds a point": (
        "analysis/_certificate.py", "            if value.is_number and value < 0:",
        "            if False:"),
    "non-negativity: a factor of unknown sign counted non-negative": (
        "analysis/_certificate.py",
        "        if not facts.nonpositive(f):\n            return False",
        "        if not facts.nonpositive(f):\n            continue"),
    "tableau: two DOP853 rows swapped": (
        "numerics/_tableau.py", 'Tableau("DOP853", DOP853.A,',
        'Tableau("DOP853", DOP853.A[[0, 1, 3, 2, *range(4, len(DOP853.A))]],'),
}


def broken_copy(name: str, where: Path) -> Path:
    """A copy of the package and proofs with the mutation ``name`` applied."""
    file, old, new = MUTATIONS[name]
    shutil.copytree(ROOT / "symdyn", where / "symdyn",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "proofs", where / "proofs",
                    ignore=shutil.ignore_patterns("__pycache__"))
    path = where / "symdyn" / file
    text = path.read_text()
    assert text.count(old) == 1, f"mutation {name!r} no longer applies to {file}"
    path.write_text(text.replace(old, new))
    return where


def run_verify(where: Path) -> tuple[int, list[dict], float]:
    """``symdyn verify --quick --format jsonl`` on the copy: exit code, results, seconds."""
    env = {**os.environ, "PYTHONPATH": str(where), "SYMDYN_PROOFS": str(where / "proofs")}
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "symdyn", "verify", "--quick", "--format",
                           "jsonl"], cwd=where, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT)
    results = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    return proc.returncode, results, time.monotonic() - start


def _failing(results: list[dict]) -> list[str]:
    return [r["name"] for r in results if r["status"] != "ok"]


@pytest.mark.slow
@pytest.mark.parametrize("name", list(MUTATIONS))
def test_verify_quick_fails_on_a_broken_copy(name, tmp_path):
    code, results, _ = run_verify(broken_copy(name, tmp_path))
    assert code == 1, (name, [(r["name"], r["status"]) for r in results])
    failing = _failing(results)
    assert failing, name
    # the failing result says what failed: a step that is not ok, or an error
    for r in results:
        if r["status"] != "ok":
            assert r.get("error") or any(not s["ok"] for s in r["details"]), r["name"]


if __name__ == "__main__":  # pragma: no cover  (the table of the closing note)
    import tempfile

    print("| bug | exit | failing results | seconds |\n|---|---|---|---|")
    for name in MUTATIONS:
        with tempfile.TemporaryDirectory() as tmp:
            code, results, seconds = run_verify(broken_copy(name, Path(tmp)))
        print(f"| {name} | {code} | {', '.join(_failing(results)) or '-'} | {seconds:.0f} |",
              flush=True)
