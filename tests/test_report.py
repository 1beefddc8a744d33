"""LaTeX and text rendering; the LaTeX compiles with pdflatex."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
import sympy as sp
from typeset import compile_pdf, defects, needs_tex

import symdyn as sd
from symdyn.cli import main
from symdyn.report import latex_display, latex_document, latex_math, sentence

needs_pdflatex = pytest.mark.skipif(
    shutil.which("pdflatex") is None,
    reason="pdflatex not installed (.ci/run installs Debian's texlive-latex-base)")


def _systems():
    rng = np.random.default_rng(0)
    data = sd.Dataset(X=rng.normal(size=(2, 2)), Y=rng.normal(size=(2, 1)))
    return [
        sd.derive("1-1-1", "rbp"),
        sd.derive("1-1-1-1", "asrbp", rate="eta", decay="d", rate_ratio="lamda"),
        sd.derive("2-2-1", "arbp", activation="tanh", channel_activation="tanh", data=data),
        sd.derive("2-2-1", "bp", activation="logistic", data=data),
        sd.derive("2-2-1", "srbp", activation="relu", derivative=False, data=data),
        sd.derive("2-2-1", "rbp", activation="softplus", data=data),
        sd.derive("8-8-8", "rbp"),
    ]


def test_latex_forms():
    s = sd.derive("1-1-1", "arbp")
    both = s.latex()
    assert both.count(r"\intertext{in components:}") == 1
    assert r"\dot{C}_{1} &=" in both and r"\dot{c}_{1} &=" in both
    assert r"\dot{a}" not in s.latex(form="matrix")
    assert r"\frac{d}{dt} a_{1}" in s.latex(form="component", derivative="frac")
    # by hand: Delta a1 = c1 (T - a2 a1 I) I
    assert r"\Delta a_{1} &= I c_{1} \left(- I a_{1} a_{2} + T\right)" in s.latex(
        form="component", update=True)
    # large systems keep to the matrix form unless the components are asked for
    big = sd.derive("3-3-3", "rbp")  # 27 state components, past COMPONENT_LIMIT
    assert r"\intertext" not in big.latex()
    assert r"\dot{A}^{(1)}_{1,1}" in big.latex(form="component")


@needs_pdflatex
def test_latex_compiles(tmp_path):
    blocks = [s.latex() for s in _systems()] + [_systems()[2].latex(update=True)]
    (tmp_path / "doc.tex").write_text(latex_document(*blocks))
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error",
                           "doc.tex"], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert (tmp_path / "doc.pdf").stat().st_size > 1000


def test_text_names_activations():
    text = str(_systems()[2])
    assert "tanh.(" in text and "tanh'.(" in text and "Lambda" not in text


def test_linear_printer_round_trips():
    """Every component equation (and update) of systems with every activation, rate symbol
    and rule prints in Python syntax that parses back to the same expression: sympy's own
    parser reads it, and both agree at random rational points to 30 digits (or are
    structurally equal). Data coefficients print as the shortest decimal that reads back as
    the same double; sympy reads that decimal at its own precision, so expressions with
    data agree to double precision only (relative 1e-13)."""
    import sympy as sp

    from symdyn.report import linear_str

    rng = np.random.default_rng(5)
    for system in _systems()[:-1]:
        names = {str(s): s for s in (*system.state, *system.parameters, *system.sample)}
        names |= {"eta": sp.Symbol("eta"), "d": sp.Symbol("d"), "lamda": sp.Symbol("lamda")}
        for e in (*system.rhs, *system.update):
            text = linear_str(e)
            back = sp.parse_expr(text, local_dict=names)
            if back == e:
                continue
            for _ in range(2):
                point = {v: sp.Rational(int(rng.integers(-40, 40)), 17)
                         for v in e.free_symbols | back.free_symbols}
                a, b = e.xreplace(point).evalf(30), back.xreplace(point).evalf(30)
                bound = 1e-13 if e.atoms(sp.Float) else 1e-25
                assert abs(a - b) <= bound * (1 + abs(a)), text
    x, y = sp.symbols("x y")
    for e, text in [(-x, "-x"), (x - 2 * y, "x - 2*y"), (-(x + y) ** 2, "-(x + y)**2"),
                    (x ** -1, "x**(-1)"), (sp.Rational(-3, 4) * x, "(-3/4)*x"),
                    (2 ** (x * y), "2**(x*y)"), (sp.tanh(x - y), "tanh(x - y)")]:
        assert linear_str(e) == text or sp.simplify(sp.parse_expr(linear_str(e)) - e) == 0
        assert sp.simplify(sp.parse_expr(linear_str(e), local_dict={"x": x, "y": y}) - e) == 0


# -- typeset documents: every formula from sympy, no warning, labels to \ref -----------------


STANDALONE = [
    ["derive", "--arch", "1-1-1", "--rule", "arbp", "--rate-ratio", "lamda"],
    ["derive", "--arch", "2-2-1", "--rule", "rbp"],  # long component equations, broken
    ["derive", "--arch", "1-1-1-1", "--rule", "asrbp", "--rate", "eta", "--decay", "d"],
    ["analyze", "--arch", "1-1-1", "--rule", "rbp"],  # invariants, fixed points, reduction
    ["analyze", "--arch", "1-1-1", "--rule", "arbp"],
    ["fixed-points", "--arch", "1-1-1", "--rule", "arbp", "--values", "alpha=1"],
    ["invariants", "--arch", "1-1-1-1", "--rule", "srbp"],
]


@needs_tex
@pytest.mark.parametrize("argv", STANDALONE, ids=lambda a: "-".join(a[:5:2]))
def test_standalone_documents_compile_cleanly(argv, tmp_path, capsys):
    assert main([*argv, "--format", "latex", "--standalone"]) == 0
    tex = capsys.readouterr().out
    assert tex.startswith("\\documentclass") and r"\usepackage[T1]{fontenc}" in tex
    text, log = compile_pdf(tex, tmp_path)
    assert defects(text, log) == []
    assert r"\label{eq:" in tex


def test_latex_default_stays_a_fragment(capsys):
    assert main(["derive", "--arch", "1-1-1", "--rule", "rbp", "--format", "latex"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("\\begin{align}") and "documentclass" not in out


def test_sentences_print_symbols_as_the_paper():
    a1, c1, lam, beta = sp.symbols("a1 c1 lamda beta")
    s = sentence("{H} is conserved for {cond}, {ne}", H=c1 - lam * a1, cond=beta > 0,
                 ne=sp.Ne(c1, 0))
    assert s.latex() == (r"$c_{1} - a_{1} \lambda$ is conserved for $\beta > 0$, "
                         r"$c_{1} \neq 0$")
    assert str(s) == "-a1*lamda + c1 is conserved for beta > 0, c1 != 0"
    assert latex_math(sp.Symbol("Sigma_II")) == r"\Sigma_{II}"
    assert latex_math(sp.Symbol("C1")) == "C_{1}"
    assert latex_math(1e-7) == "10^{-7}"
    with pytest.raises(sd.SpecError, match="no formula given"):
        sentence("{H} is conserved")


def test_long_displays_are_broken_and_labelled():
    s = sd.derive("2-2-1", "rbp")
    tex = latex_display(sp.Eq(sp.Symbol("y"), s.rhs[4]), label="eq:long")
    assert r"\label{eq:long}" in tex and r"\begin{split}" in tex and "\x00" not in tex
    assert tex.count(r"\bigl(") == tex.count(r"\bigr)")


@needs_tex
def test_the_typeset_check_finds_overfull_lines(tmp_path):
    """An unbroken long equation, as the printer wrote it before, is caught."""
    s = sd.derive("2-2-1", "rbp")
    long = sp.latex(s.rhs[4])
    text, log = compile_pdf(latex_document(f"\\begin{{equation}}\n{long}\n\\end{{equation}}"),
                            tmp_path)
    assert any("Overfull" in d for d in defects(text, log))
