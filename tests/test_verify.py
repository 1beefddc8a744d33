"""`symdyn verify`: every proof passes; false claims and broken rules are caught."""

from __future__ import annotations

import functools
import json
import re
import subprocess

import pytest
import sympy as sp
from hypothesis import strategies as st
from typeset import compile_pdf, defects, needs_tex

import symdyn as sd
from symdyn.analysis import verify_invariant
from symdyn.cli import main
from symdyn.derive import _derive
from symdyn.numerics._budget import WALL_FACTOR
from symdyn.rules import ARBP, RBP
from symdyn.verify import Proof, latex_report, load_proofs, run_proof, run_proofs

NAMES = [p.name for p in load_proofs()]


@functools.cache
def _quick(name: str):
    """One proof run in the quick profile, shared by the tests that need its result."""
    (result,) = run_proofs([name], quick=True)
    return result


def test_every_result_of_paper_section_4_has_a_proof():
    expected = {"bp-111-invariant", "rbp-chain-invariants", "srbp-chain-invariants",
                "arbp-111-invariants", "linear-matrix-invariants", "rbp-111-convergence",
                "chain-convergence", "adaptive-deep-chains", "bottleneck-rbp",
                "arbp-near-symmetry", "tanh-channel", "tanh-chain-derivative",
                "sgd-tracks-ode"}
    assert expected <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_proof_passes_quick(name):
    result = _quick(name)
    assert result.status == "ok", (result.error, [s for s in result.steps if not s.ok])
    assert result.cases > 0 or result.symbolic == "proved" or result.checks[1] > 0


@pytest.mark.parametrize("name", ["deep-digits", "deep-fashion"])
def test_the_full_profiles_training_runs_are_valid(name, monkeypatch):
    """The full profile's training runs are built, and so validated, without training any: a
    run that only the full profile asks for and the engine refuses fails here, not in a
    user's 20-minute `symdyn verify` (deep-digits once asked for BP with a tanh channel)."""
    from symdyn.training import Run
    from symdyn.verify._proofs import ProofContext

    check = next(p for p in load_proofs() if p.name == name).check
    asked = []

    class Asked(Exception):
        pass

    def capture(runs, *args, **kwargs):
        asked.extend(runs)
        raise Asked

    monkeypatch.setitem(check.__globals__, "run_suite", capture)
    monkeypatch.setitem(check.__globals__, "_gradient_oracle", lambda ctx: None)
    monkeypatch.setitem(check.__globals__, "load_fashion_mnist", lambda **kwargs: None)
    with pytest.raises(Asked):
        check(ProofContext(quick=False))
    assert len(asked) > len(set(r.rule for r in asked)) and all(isinstance(r, Run) for r in asked)


# -- deliberately false claims ----------------------------------------------------------------


def _claim(name, system, H):
    def check(ctx):
        c = verify_invariant(system, H)
        ctx.symbolic(f"d/dt ({H}) = 0", c.holds, counterexample=c.counterexample)

    return Proof(name, name, f"{H} is a first integral", "", check)


def test_bp_invariant_claimed_for_rbp_is_refuted():
    a1, a2 = sp.symbols("a1 a2")
    r = run_proof(_claim("false-bp-for-rbp", sd.derive("1-1-1", "rbp"), a1**2 - a2**2))
    assert r.status == "failed" and r.symbolic == "failed"
    cx = r.steps[0].counterexample
    point = {sp.Symbol(k): v for k, v in cx.items() if k != "dH/dt"}
    s = sd.derive("1-1-1", "rbp")
    recomputed = sum(sp.diff(a1**2 - a2**2, x) * f for x, f in s.equations.items()).subs(point)
    assert recomputed != 0 and sp.simplify(recomputed - cx["dH/dt"]) == 0


def test_rbp_invariant_claimed_for_srbp_is_refuted():
    s = sd.derive("1-1-1-1", "srbp")
    a1, a2 = s.state[:2]
    r = run_proof(_claim("false-rbp-for-srbp", s, a1**2 - 2 * sp.Symbol("c1") * a2))
    assert r.status == "failed" and r.steps[0].counterexample is not None


def test_a_proof_that_raises_is_a_failure_not_a_crash():
    def broken(ctx):
        raise RuntimeError("boom")

    r = run_proof(Proof("broken", "broken", "nothing", "", broken))
    assert r.status == "failed" and "boom" in r.error


def test_proofs_integrate_on_the_numpy_path_whatever_numba_and_its_cache():
    """``backend="auto"`` inside a proof is the numpy path, where outside it a large batch
    would be compiled: verify's evidence must not depend on numba or the disk cache."""
    from symdyn.numerics import _compiled

    system = sd.derive("1-1-1", "rbp")

    def check(ctx):
        chosen = _compiled.select_backend("auto", system, "auto", None, 10**7, t_final=1e4)
        ctx.note(f"auto: {chosen}")

    r = run_proof(Proof("pinned", "pinned", "nothing", "", check))
    assert [str(s.statement) for s in r.steps] == ["auto: numpy"]
    assert _compiled.AUTO_BACKEND.get() is None  # outside a proof, auto weighs the work
    if _compiled.numba_module() is not None:  # and compiles this one (the program is cached)
        assert _compiled.select_backend("auto", system, "auto", None, 10**7,
                                        t_final=1e4) == "numba"


def test_a_proof_without_evidence_fails():
    r = run_proof(Proof("empty", "empty", "nothing", "", lambda ctx: ctx.note("hi")))
    assert r.status == "failed"


# -- breaking a rule breaks exactly the proofs that depend on it -----------------------------


@pytest.fixture
def fresh_derivations():
    _derive.cache_clear()
    yield
    _derive.cache_clear()


def test_breaking_rbp_fails_the_rbp_proofs(monkeypatch, fresh_derivations):
    monkeypatch.setattr(RBP, "feedback", lambda self, s, h: 2 * s.C[h] * s.B[h + 1])
    results = {r.name: r for r in run_proofs(
        ["rbp-chain-invariants", "rbp-111-convergence", "bp-111-invariant"], quick=True)}
    assert results["rbp-chain-invariants"].status == "failed"
    assert results["rbp-111-convergence"].status == "failed"
    assert results["bp-111-invariant"].status == "ok"  # BP does not use RBP's feedback


def test_breaking_the_adaptive_channel_fails_the_arbp_proofs(monkeypatch, fresh_derivations):
    # the channel learns from the output error instead of the next layer's signal
    monkeypatch.setattr(ARBP, "channel_update", lambda self, s, h: s.O[h] * s.E.T * 2)
    results = {r.name: r for r in run_proofs(
        ["arbp-111-invariants", "arbp-near-symmetry", "srbp-chain-invariants",
         "deep-arbp-orbits"], quick=True)}
    assert results["arbp-111-invariants"].status == "failed"
    assert results["deep-arbp-orbits"].symbolic == "failed"
    assert results["arbp-near-symmetry"].status == "failed"
    assert results["srbp-chain-invariants"].status == "ok"


# -- the command ------------------------------------------------------------------------------


FALSE_PROOF = '''
import sympy as sp
import symdyn as sd
from symdyn.analysis import verify_invariant
from symdyn.verify import proof


@proof("false-claim", title="BP's invariant under RBP", claim="a1^2 - a2^2 is conserved")
def false_claim(ctx):
    a1, a2 = sp.symbols("a1 a2")
    c = verify_invariant(sd.derive("1-1-1", "rbp"), a1**2 - a2**2)
    ctx.symbolic("d/dt (a1^2 - a2^2) = 0 under RBP", c.holds, counterexample=c.counterexample)
'''


def test_cli_json_and_exit_status(tmp_path, capsys):
    code = main(["verify", "bp-111-invariant", "--quick", "--format", "json"])
    payload = json.loads(capsys.readouterr().out)
    assert code == 0
    (r,) = payload["results"]
    assert {"name", "claim", "symbolic", "numeric", "status", "details"} <= set(r)
    assert r["symbolic"] == "proved" and r["status"] == "ok"
    assert r["numeric"]["cases"] == r["numeric"]["passed"] > 0

    (tmp_path / "false.py").write_text(FALSE_PROOF)
    code = main(["verify", "--proofs", str(tmp_path), "--format", "json"])
    payload = json.loads(capsys.readouterr().out)
    assert code == 1
    (r,) = payload["results"]
    assert r["status"] == "failed" and r["details"][0]["counterexample"]["dH/dt"] != "0"
    assert main(["verify", "no-such-result"]) == 2
    assert "no proof named 'no-such-result'" in capsys.readouterr().err


#: what a formula looks like when it was typed into prose instead of given as an object
MATH_IN_PROSE = re.compile(r"[=<>^_*|\\$]|\b[a-zA-Z]\d\b|\b(alpha|beta|lamda|lambda|eta|sqrt|"
                           r"Abs|Eq)\b|\d+e-\d+|d/dt")


def test_report_sentences_carry_their_formulas_as_objects():
    """Every title, claim, hypothesis and statement keeps its mathematics out of the prose."""
    bad = []
    for name in NAMES:
        r = _quick(name)
        for sentence in (r.title, r.claim, r.hypotheses, *(s.statement for s in r.steps)):
            bad += [f"{name}: {p!r}" for p in sentence.prose if MATH_IN_PROSE.search(p)]
    assert bad == []


def test_the_prose_check_catches_program_text():
    r = run_proof(_claim("false-bp-for-rbp", sd.derive("1-1-1", "rbp"),
                         sp.Symbol("a1") ** 2 - sp.Symbol("a2") ** 2))
    assert any(MATH_IN_PROSE.search(p) for p in r.steps[0].statement.prose)


@needs_tex
def test_latex_report_reads_like_a_paper(tmp_path):
    """The whole report (quick profile) compiles without a warning, and its text has no
    program syntax: formulas are typeset from sympy objects, equations labelled."""
    results = [_quick(name) for name in NAMES]
    tex = latex_report(results)
    text, log = compile_pdf(tex, tmp_path, "report")
    assert defects(text, log) == []
    assert r"\usepackage[T1]{fontenc}" in tex
    for r in results:
        assert rf"\label{{res:{r.name}}}" in tex
    displays = sum(1 for r in results for s in r.steps if not isinstance(s.latex, str)
                   or s.latex)
    assert tex.count(r"\label{eq:") == displays > 10
    assert "λ" in text and "α" in text and "β" in text  # Greek letters, typeset


@needs_tex
def test_verify_latex_says_where_and_compiles_in_one_pass(tmp_path, capsys, monkeypatch):
    """``--latex FILE`` names the file it wrote; one pdflatex pass leaves no "??" (the
    evidence table gives section numbers, not forward references)."""
    monkeypatch.chdir(tmp_path)
    code = main(["verify", "--quick", "control-false-invariant", "bp-111-invariant",
                 "--latex", "report.tex"])
    err = capsys.readouterr().err
    assert code == 0
    assert f"LaTeX report written to {tmp_path / 'report.tex'}" in err
    subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "report.tex"],
                   cwd=tmp_path, capture_output=True, check=True)
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", "report.pdf", "-"], cwd=tmp_path,
                          capture_output=True, text=True, check=True).stdout
    log = (tmp_path / "report.log").read_text(errors="replace")
    assert "??" not in text and "undefined" not in log.lower()
    # the table's first column is the section each result is in
    assert re.search(r"^1\s*$", text, re.M) and "Evidence" in text


@needs_tex
def test_the_typeset_check_catches_program_text(tmp_path):
    """The same check fails on a report of a proof written the old way (program text)."""
    (tmp_path / "false.py").write_text(FALSE_PROOF)
    tex = latex_report(run_proofs(directory=tmp_path))
    text, log = compile_pdf(tex, tmp_path, "report")
    found = "\n".join(defects(text, log))
    assert "power written **" not in found  # FALSE_PROOF writes a1^2: escaped, a caret
    doc = tex.replace("BP's invariant under RBP", "beta > 0 and a1**2 != lamda*c1")
    text, log = compile_pdf(doc, tmp_path, "bad")
    found = "\n".join(defects(text, log))
    for what in ("power written **", "inequality written !=", "product written *",
                 "the program name lamda"):
        assert what in found


# -- budgets and streaming (issue 18) ---------------------------------------------------------

SLEEPY_PROOFS = '''
import time
from symdyn.verify import proof


@proof("sleepy", title="spins past its budget", claim="nothing")
def sleepy(ctx):
    ctx.symbolic("established before the hang", True)
    while True:  # stands for a hang in compiled code: only a kill ends it
        pass


@proof("then-fine", title="runs after the timeout", claim="1 = 1")
def fine(ctx):
    ctx.symbolic("1 = 1", True)
'''


def test_a_result_past_its_budget_times_out_and_the_next_runs(tmp_path, capsys):
    import time

    (tmp_path / "sleepy.py").write_text(SLEEPY_PROOFS)
    start = time.monotonic()
    code = main(["verify", "--proofs", str(tmp_path), "--budget", "3", "--format", "jsonl"])
    elapsed = time.monotonic() - start
    out = capsys.readouterr()
    lines = out.out.splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)  # each line parses on its own
    assert code == 1 and elapsed < 2 * WALL_FACTOR * 3  # not a timing: the kill happened
    assert first["name"] == "sleepy" and first["status"] == "timeout"
    assert first["details"][0]["statement"] == "established before the hang"
    assert "CPU-time budget of 3 s exhausted" in first["error"]
    assert second["name"] == "then-fine" and second["status"] == "ok"
    assert "verify: [1/2] sleepy: timeout" in out.err  # progress when stdout is not a tty


PROGRESSING_PROOF = '''
import time
from symdyn.verify import proof


@proof("progressing", title="reports its progress", claim="nothing")
def progressing(ctx):
    ctx.symbolic("1 = 1", True)
    for done in range(1, 4):
        time.sleep(0.8)
        ctx.progress(done, 3, "cells")
    ctx.numeric("three cells", 3, 3)
    ctx.sample("every example passes", __import__("hypothesis").strategies.integers(),
               lambda x: time.sleep(0.2) is None, 25)
'''


def test_a_running_result_shows_cases_done_of_planned(tmp_path, capsys, monkeypatch):
    # the heartbeat (10 s in use) is shortened; its lines are about the running result,
    # cases done of planned, and never enter the result's steps. The sample lasts 25 x 0.2 s:
    # progress is sent at most once a second, so a shorter one (25 x 0.05 s) left a beat about
    # 0.25 s to land in, and missed it on an idle machine
    import symdyn.cli._verify as cli_verify

    monkeypatch.setattr(cli_verify, "HEARTBEAT", 0.3)
    (tmp_path / "progressing.py").write_text(PROGRESSING_PROOF)
    code = main(["verify", "--proofs", str(tmp_path), "--format", "jsonl"])
    out = capsys.readouterr()
    assert code == 0
    beats = [line for line in out.err.splitlines() if "step(s) recorded" in line]
    assert beats and all(b.startswith("verify: [1/1] progressing: ") for b in beats)
    assert any(re.search(r": [12]/3 cells done, \d+ step\(s\) recorded, \d+ s$", b)
               for b in beats)
    assert any(re.search(r": \d+/25 examples done", b) for b in beats)
    details = json.loads(out.out)["details"]
    assert [d["statement"] for d in details] == ["1 = 1", "three cells",
                                                 "every example passes"]


def test_a_job_using_no_cpu_is_ended_by_the_wall_clock_limit():
    from symdyn.verify._worker import Worker

    def asleep(send, argument):
        import time

        time.sleep(60)

    with Worker([asleep]) as worker:
        out = worker.run(0, 0.2)
    assert out.state == "timeout" and "wall-clock limit" in out.reason


def test_text_table_counts_timeouts(tmp_path, capsys):
    (tmp_path / "sleepy.py").write_text(SLEEPY_PROOFS)
    assert main(["verify", "--proofs", str(tmp_path), "--budget", "2"]) == 1
    out = capsys.readouterr().out
    assert "checks" in out.splitlines()[0]
    assert "1 of 2 results ok; timeout: sleepy" in out


def test_sampling_past_the_numerical_deadline_times_out_never_fails():
    import time

    def spin(_):
        start = time.process_time()
        while time.process_time() - start < 0.4:
            pass
        return True

    def slow(ctx):
        ctx.sample("each example takes 0.4 CPU seconds", st.integers(0, 100), spin, 40)

    r = run_proof(Proof("slow", "slow", "nothing", "", slow), budget=4)
    assert r.status == "timeout"
    assert "time budget exhausted while sampling" in r.error
    assert not any(s.kind == "numeric" for s in r.steps)  # a partial sample is no evidence


def test_an_integration_past_the_numerical_deadline_times_out_never_fails():
    """A batch cut by the deadline used to come back as failed rows, which a check read as
    negative evidence (a convergent start "not converged", a periodic one "period nan")."""
    import numpy as np

    from symdyn.numerics import classify, integrate_batch

    s = sd.derive("1-1-1-1", "arbp")
    values = {"alpha": 1.0, "beta": 1.0}

    def endless(ctx):
        ctx.symbolic("established before the deadline", True)
        y0 = 0.1 * np.random.default_rng(0).normal(size=(200, s.size))
        first = None
        while True:  # each round is complete evidence; the deadline falls inside one
            r = integrate_batch(s, y0, 2000.0, values, tol=1e-8)
            cls = classify(s, r, values, tail=1000.0)
            first = cls.end if first is None else first
            ctx.numeric("every round classifies every start as the first did",
                        int(np.sum(cls.end == first)), len(y0))

    r = run_proof(Proof("endless", "endless", "nothing", "", endless), budget=3)
    assert r.status == "timeout", (r.status, r.error)
    assert "time budget exhausted" in r.error and "batch integration" in r.error
    assert all(s.ok for s in r.steps) and r.symbolic == "proved"


def test_the_context_deadline_raises_inside_integrate_batch():

    import numpy as np

    from symdyn.numerics import integrate_batch
    from symdyn.numerics._budget import DEADLINE, BudgetExhausted, clock

    token = DEADLINE.set(clock() - 1)
    try:
        with pytest.raises(BudgetExhausted):
            integrate_batch(sd.derive("1-1-1", "rbp"), np.full((3, 2), 0.1), 1e6,
                            {"alpha": 1, "beta": 1, "c1": 1}, backend="numpy")
    finally:
        DEADLINE.reset(token)


def test_a_failed_step_before_the_deadline_stays_a_failure():
    import numpy as np

    from symdyn.numerics import integrate_batch

    def check(ctx):
        ctx.numeric("a genuine failure, recorded in time", 0, 1)
        while True:
            integrate_batch(sd.derive("1-1-1", "rbp"), np.ones((50, 2)), 1e4,
                            {"alpha": 1, "beta": 1, "c1": 1}, stop_on_convergence=False,
                            backend="numpy")

    r = run_proof(Proof("fails-then-slow", "x", "nothing", "", check), budget=2)
    assert r.status == "failed" and "time budget" in r.error  # the failure wins


def test_integrate_batch_ends_rows_at_its_deadline():
    import time

    import numpy as np

    from symdyn.numerics import integrate_batch

    y0 = np.random.default_rng(0).normal(size=(5, 2))
    r = integrate_batch(sd.derive("1-1-1", "rbp"), y0, 1e6, {"alpha": 1, "beta": 1, "c1": 1},
                        deadline=time.monotonic() - 1)
    assert list(r.status) == ["failed"] * 5 and "time budget exhausted" in r.message


def test_a_symbolic_failure_stops_the_numerical_steps():
    drawn = []

    def check(ctx):
        ctx.symbolic("a false identity", False)
        ctx.sample("never drawn", st.integers(), lambda x: drawn.append(x) or True, 5)

    r = run_proof(Proof("stop", "stop", "nothing", "", check))
    assert r.status == "failed" and not drawn
    assert "numerical steps skipped" in str(r.steps[-1].statement)
    assert "a false identity" in str(r.steps[-1].statement)


# -- controls and oracles (issue 15) ------------------------------------------------------------


def test_a_control_that_is_not_refuted_says_the_machinery_is_broken():
    r = run_proof(Proof("ctl", "ctl", "nothing", "", lambda ctx: ctx.control("x", False)))
    assert r.status == "failed" and r.checks == (0, 1)
    assert "machinery itself is broken" in str(r.steps[0].statement)


def test_every_numerical_result_has_an_oracle_or_control():
    for r in run_proofs(["rbp-111-convergence", "sgd-tracks-ode"], quick=True):
        passed, total = r.checks
        assert total > 0 and passed == total, r.name


def test_rhs_oracle_catches_a_wrong_generated_function(monkeypatch):
    import numpy as np

    from symdyn import LearningSystem
    from symdyn.verify._oracles import rhs_agreement

    s = sd.derive("1-1-1-1", "srbp")
    values = {"alpha": 1.0, "beta": 2.0, "c1": 0.5, "c2": -1.0}
    pts = np.random.default_rng(0).normal(size=(4, 3))
    assert rhs_agreement(s, values, pts)[0] == 4
    original = LearningSystem.numeric
    monkeypatch.setattr(LearningSystem, "numeric", lambda self, v, **k: (
        lambda t, y: original(self, v, **k)(t, y) * (1 + 1e-6)))
    passed, cases, worst = rhs_agreement(s, values, pts)
    assert passed == 0 and cases == 4 and "differs from sympy's" in worst


def test_trajectory_oracle_catches_a_wrong_tableau(monkeypatch):
    import numpy as np

    from symdyn.numerics import _tableau
    from symdyn.verify._oracles import trajectory_agreement

    s = sd.derive("1-1-1", "rbp")
    values = {"alpha": 1.0, "beta": 2.0, "c1": 0.5}
    y0 = np.array([[0.3, -0.2], [1.5, 0.1]])
    assert trajectory_agreement(s, values, y0, 3.0)[0] == 2
    good = _tableau.TABLEAUS["DOP853"]
    bad = _tableau.Tableau("DOP853", good.A[[0, 1, 3, 2, *range(4, len(good.A))]], good.B,
                           good.C, good.n_stages, good.error_order, good.stiff_threshold)
    monkeypatch.setitem(_tableau.TABLEAUS, "DOP853", bad)
    assert trajectory_agreement(s, values, y0, 3.0)[0] < 2


def test_fixed_point_oracle_rejects_a_point_off_the_set():
    import numpy as np

    from symdyn.verify._oracles import fixed_point_agreement

    s = sd.derive("1-1-1", "rbp")
    values = {"alpha": 1.0, "beta": 2.0, "c1": 0.5}
    on = np.array([[1.0, 0.5], [-2.0, -0.25]])  # a1 a2 = alpha/beta
    assert fixed_point_agreement(s, values, on, 1e-9)[:2] == (2, 2)
    assert fixed_point_agreement(s, values, on + 1e-4, 1e-9)[0] == 0


def test_ode_oracle_catches_a_missing_decay(monkeypatch):
    import numpy as np

    from symdyn.verify._oracles import ode_agreement

    rng = np.random.default_rng(0)
    X, W = rng.normal(size=(5, 2)), rng.normal(size=(2, 1))
    s = sd.derive("2-2-1", "arbp", decay=0.3, rate_ratio=0.5)
    pts = rng.normal(size=(2, s.size))
    assert ode_agreement(s, {}, X, X @ W, pts)[0] == 2
    # the same equations judged against the rule without its decay
    from symdyn.verify import _oracles

    flipped = sd.derive("2-2-1", "arbp", decay=0, rate_ratio=0.5)  # decay left out
    real = _oracles.rule_update
    monkeypatch.setattr(_oracles, "rule_update",
                        lambda system, values=None: real(flipped, values))
    assert ode_agreement(s, {}, X, X @ W, pts)[0] == 0


def test_a_broken_right_hand_side_fails_verify_in_seconds(monkeypatch, capsys):
    import time

    from symdyn import LearningSystem

    original = LearningSystem.numeric

    def broken(self, values=None, **kw):  # the generated f, off by 0.1%
        f = original(self, values, **kw)
        return lambda t, y: 1.001 * f(t, y)

    monkeypatch.setattr(LearningSystem, "numeric", broken)  # inherited by the forked worker
    start = time.monotonic()
    code = main(["verify", "bp-111-invariant", "rbp-111-convergence", "--quick",
                 "--format", "jsonl"])
    elapsed = time.monotonic() - start
    first, second = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert code == 1 and elapsed < 30
    assert first["status"] == "failed" and first["checks"]["passed"] == 0
    assert any("oracle" in d["statement"] and not d["ok"] for d in first["details"])
    assert second["status"] == "failed"
    assert "numerical steps skipped" in second["details"][-1]["statement"]
