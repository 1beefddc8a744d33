"""Each verify row claims what its steps establish: the kinds of proof per part of the claim
and the sizes covered (table, JSON, LaTeX with theorem/proof environments)."""

from __future__ import annotations

import json

import pytest
from typeset import compile_pdf, defects, needs_tex

from symdyn.cli import main
from symdyn.errors import SpecError
from symdyn.verify import ProofContext, Step, latex_report, results_table, run_proofs
from symdyn.verify._report import proof_summary

PROOFS = '''
import sympy as sp
from symdyn.analysis import sign_analysis
from symdyn.verify import proof, sentence

x = sp.Symbol("x")


@proof("mixed", title="Fixed points proved, convergence sampled",
       hypotheses=sentence("{b}.", b=sp.Symbol("beta") > 0),
       claim=sentence("The equilibria are {e} and every start converges.", e=sp.Eq(x, 0)))
def mixed(ctx):
    ctx.symbolic(sentence("{f} vanishes exactly at {e}", f=-x, e=sp.Eq(x, 0)), True,
                 covers="depth 2", part="fixed points")
    ctx.symbolic(sentence("the same at depth 3"), True, covers="depth 3", part="fixed points")
    ctx.numeric("random starts converge", 5, 5, part="convergence")


@proof("whole", title="A cubic field converges", claim=sentence("{f} converges.", f=x - x**3))
def whole(ctx):
    ctx.certificate(sign_analysis(x - x**3, x), covers="1-1-1")
    ctx.numeric("starts converge", 3, 3)


@proof("sampled", title="Only sampled", claim="Random starts converge.")
def sampled(ctx):
    ctx.numeric("random starts converge", 4, 4)


@proof("control-thing", title="Control", claim=sentence("{f} is refuted.", f=x**3))
def control(ctx):
    ctx.control("a positive leading coefficient is refuted",
                sign_analysis(x**3, x).status == "refuted")
'''


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    folder = tmp_path_factory.mktemp("proofs")
    (folder / "kinds.py").write_text(PROOFS)
    return {r.name: r for r in run_proofs(directory=folder)}, folder


def test_parts_and_kinds(results):
    r, _ = results
    assert r["mixed"].symbolic == "partly"  # convergence rests on evidence only
    assert r["mixed"].proof == "fixed points: identity (depths 2-3); convergence: evidence"
    assert r["whole"].symbolic == "proved"
    assert r["whole"].proof == "reduction+sign (1-1-1)"
    assert r["sampled"].symbolic == "n/a" and r["sampled"].proof == "evidence"
    assert r["control-thing"].proof == "-" and r["control-thing"].status == "ok"
    parts = {e["part"]: e for e in r["mixed"].proofs}
    assert parts["convergence"]["evidence"] and not parts["fixed points"]["evidence"]
    assert parts["fixed points"]["covers"] == ["depth 2", "depth 3"]


def test_table_and_json_say_it(results, capsys):
    r, folder = results
    table = results_table(list(r.values()))
    row = next(line for line in table.splitlines() if line.startswith("mixed"))
    assert "partly" in row and row.endswith("convergence: evidence")
    assert main(["verify", "--proofs", str(folder), "--format", "json"]) == 0
    payload = {x["name"]: x for x in json.loads(capsys.readouterr().out)["results"]}
    assert payload["mixed"]["symbolic"] == "partly"
    assert payload["mixed"]["proof"] == r["mixed"].proof
    assert [p["kinds"] for p in payload["mixed"]["proofs"]] == [["identity"], []]
    details = payload["mixed"]["details"]
    assert details[0]["part"] == "fixed points" and details[0]["covers"] == "depth 2"


def test_a_failed_part_is_shown():
    ctx = ProofContext()
    ctx.symbolic("holds", True, part="a")
    ctx.symbolic("fails", False, part="b", proof="lyapunov")
    assert proof_summary(ctx.steps) == "a: identity; b: lyapunov FAILED"


def test_unknown_proof_kind_is_refused():
    with pytest.raises(SpecError):
        Step("symbolic", "x", proof="hand-waving")


def test_latex_environments(results):
    r, _ = results
    tex = latex_report(list(r.values()))
    assert r"\usepackage{amsthm}" in tex
    assert r"\begin{claim}\label{thm:mixed}" in tex
    assert r"\begin{theorem}\label{thm:whole}" in tex
    assert r"\begin{control}\label{thm:control-thing}" in tex
    assert "Numerical evidence only (below): convergence." in tex  # the partial proof says so
    assert r"Assume $\beta > 0$." in tex


@needs_tex
def test_latex_report_compiles_clean(results, tmp_path, capsys):
    """``verify --format latex`` writes the report on stdout; it compiles with no warning."""
    _, folder = results
    assert main(["verify", "--proofs", str(folder), "--format", "latex"]) == 0
    tex = capsys.readouterr().out
    text, log = compile_pdf(tex, tmp_path, "kinds")
    assert defects(text, log) == []
    assert "Theorem" in text and "Claim" in text and "Proof" in text
