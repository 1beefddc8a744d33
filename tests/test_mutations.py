"""Mutation check (slow): small deliberate bugs, each applied to a copy of the package, must
make ``symdyn verify --quick`` exit 1 and name a failing result or control (:data:`MUTATIONS`),
or make the tests named beside them fail (:data:`TEST_MUTATIONS`: bugs in the newer code,
which the negative controls of the tests are there to catch).

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


#: name -> (file in the package, text, replacement, tests that must fail on it)
TEST_MUTATIONS = {
    "classify: periodic when some returns to the section repeat (any, not all)": (
        "numerics/_classify.py", "if np.all(gaps <= xtol * size) and",
        "if np.any(gaps <= xtol * size) and",
        ["tests/test_classify.py::test_returns_that_repeat_only_late_are_not_a_period",
         "tests/test_classify.py::test_spiral_still_closing_in_on_its_limit_cycle_is_undecided"]),
    "classify: return tolerance ten times looser in the classifier": (
        "numerics/_classify.py", "dict(returns=returns, xtol=xtol, ptol=ptol)",
        "dict(returns=returns, xtol=10 * xtol, ptol=ptol)",
        ["tests/test_classify.py::test_slow_convergence_is_neither_periodic_nor_converged",
         "tests/test_classify.py::test_spiral_still_closing_in_on_its_limit_cycle_is_undecided"]),
    "classify: network map multiplied in the wrong order (excess loss)": (
        "numerics/_classify.py", "P = A if P is None else A @ P",
        "P = A if P is None else P @ A",
        ["tests/test_classify.py::test_excess_loss_of_matrix_chains"]),
    "certify: dt/ds cut to 0 below the stall threshold (the stall test unreachable)": (
        "numerics/_certify.py", "dt = 1.0 / max(ph, self.speed_tol)",
        "dt = 1.0 / ph if ph > self.speed_tol else 0.0",
        ["tests/test_classify.py::"
         "test_certificate_stall_test_refuses_the_arbp_diagonal_through_a_fixed_point"]),
    "sweep: every chunk of a cell draws the same starts": (
        "sweep/_run.py", "spawn_key=(cell_i, chunk_i)", "spawn_key=(cell_i, 0)",
        ["tests/test_sweep.py::test_sweep_resumes_only_missing_chunks_and_loads_as_xarray"]),
    "invariant check: products of relu indicators left unreduced": (
        "analysis/_invariant_check.py", "    if not sigmas or d == 0:\n        return d",
        "    if True:\n        return d",
        ["tests/test_conservation_laws.py::"
         "test_exact_check_reduces_products_of_region_indicators"]),
    "compiled: one evaluation per attempt not counted": (
        "numerics/_rk_loop.py", "            ev += S\n", "            ev += S - 1\n",
        ["tests/test_compiled.py::test_convergence_verdicts_and_times_agree"]),
    "integrate --batch: rows not classified (the integrator's status kept)": (
        "cli/_numerics.py", "parts.append(classify(system, part, values, rtol=args.rtol, "
        "atol=args.atol))", "parts.append(classify(system, part, values, tail=1e-9))",
        ["tests/test_cli_numerics.py::"
         "test_integrate_batch_classifies_end_states_as_sweep_does"]),
    "stability: the LaTeX condition with the inequalities swapped": (
        "analysis/_stability.py", "good, bad = (above, below) if s < 0 else (below, above)",
        "good, bad = (below, above) if s < 0 else (above, below)",
        ["tests/test_cli_analysis.py::test_fixed_point_latex_carries_the_stability_condition",
         "tests/test_cli_analysis.py::test_stability_condition_text_and_formulas_agree"]),
    "cli: the package imported eagerly again": (
        "__init__.py", "sys.modules[__name__].__class__ = _Package",
        "sys.modules[__name__].__class__ = _Package\nfrom .numerics import integrate  # noqa",
        ["tests/test_cli_startup.py::test_help_and_version_import_no_heavy_library"]),
}


def broken_copy(name: str, where: Path, table: dict | None = None) -> Path:
    """A copy of the package, proofs and tests with the mutation ``name`` applied."""
    file, old, new = (table or MUTATIONS)[name][:3]
    for folder in ("symdyn", "proofs", "tests"):
        shutil.copytree(ROOT / folder, where / folder,
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


def run_tests(where: Path, tests: list[str]) -> tuple[int, list[str], float]:
    """The named tests on the copy: exit code, the tests that failed, seconds."""
    # a fresh cache: compiled code built from the mutated sources, not reused
    env = {**os.environ, "PYTHONPATH": str(where), "SYMDYN_SLOW": "0",
           "SYMDYN_CACHE": str(where / ".cache")}
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-rf", *tests], cwd=where, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT)
    failed = [line.split()[1] for line in proc.stdout.splitlines()
              if line.startswith("FAILED ")]
    return proc.returncode, failed, time.monotonic() - start


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


@pytest.mark.slow
@pytest.mark.parametrize("name", list(TEST_MUTATIONS))
def test_tests_fail_on_a_broken_copy(name, tmp_path):
    where = broken_copy(name, tmp_path, TEST_MUTATIONS)
    # the copy is what the tests import, not this checkout
    probe = subprocess.run([sys.executable, "-c", "import symdyn; print(symdyn.__file__)"],
                           cwd=where, env={**os.environ, "PYTHONPATH": str(where)},
                           capture_output=True, text=True)
    assert probe.stdout.strip().startswith(str(where)), probe.stdout
    code, failed, _ = run_tests(where, TEST_MUTATIONS[name][3])
    assert code == 1 and failed, name


if __name__ == "__main__":  # pragma: no cover  (the table of the closing note)
    import tempfile

    print("| bug | exit | failing results | seconds |\n|---|---|---|---|")
    for name in MUTATIONS:
        with tempfile.TemporaryDirectory() as tmp:
            code, results, seconds = run_verify(broken_copy(name, Path(tmp)))
        print(f"| {name} | {code} | {', '.join(_failing(results)) or '-'} | {seconds:.0f} |",
              flush=True)
    print("\n| bug | exit | failing tests | seconds |\n|---|---|---|---|")
    for name, (*_, tests) in TEST_MUTATIONS.items():
        with tempfile.TemporaryDirectory() as tmp:
            code, failed, seconds = run_tests(broken_copy(name, Path(tmp), TEST_MUTATIONS),
                                              tests)
        print(f"| {name} | {code} | {', '.join(f.split('::')[-1] for f in failed) or '-'} | "
              f"{seconds:.0f} |", flush=True)
