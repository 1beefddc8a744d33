"""`symdyn verify`: every proof passes; false claims and broken rules are caught."""

from __future__ import annotations

import functools
import json
import re

import pytest
import sympy as sp
from typeset import compile_pdf, defects, needs_tex

import symdyn as sd
from symdyn.analysis import verify_invariant
from symdyn.cli import main
from symdyn.derive import _derive
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
    assert result.cases > 0 or result.symbolic == "proved"


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
        ["arbp-111-invariants", "arbp-near-symmetry", "srbp-chain-invariants"], quick=True)}
    assert results["arbp-111-invariants"].status == "failed"
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
