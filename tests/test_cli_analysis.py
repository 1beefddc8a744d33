"""The analysis commands as a user runs them: every format, the JSON shapes of the issue,
and bad input as one line on stderr with exit status 2."""

from __future__ import annotations

import json

import numpy as np
import pytest
import sympy as sp

from symdyn.cli import COMMANDS, main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def parse(text, names):
    return sp.parse_expr(text, local_dict={n: sp.Symbol(n) for n in names})


def test_commands_are_registered():
    assert {"invariants", "fixed-points", "analyze"} <= set(COMMANDS)


def test_invariants_json(capsys):
    code, out, err = run(capsys, "invariants", "--arch", "1-1-1", "--rule", "rbp",
                         "--format", "json")
    assert code == 0 and err == ""
    data = json.loads(out)
    assert set(data) == {"state", "parameters", "invariants", "basis_size", "independent"}
    assert data["basis_size"] == data["independent"] == 1
    assert data["state"] == ["a1", "a2"] and data["parameters"] == ["c1", "alpha", "beta"]
    names = data["state"] + data["parameters"]
    (h,) = (parse(s, names) for s in data["invariants"])
    a1, a2, c1 = sp.symbols("a1 a2 c1")
    assert sp.expand(h - (a1**2 - 2 * c1 * a2)) == 0


@pytest.mark.parametrize("fmt", ["text", "latex"])
def test_invariants_text_and_latex(capsys, fmt):
    code, out, _ = run(capsys, "invariants", "--arch", "1-1-1-1", "--rule", "srbp",
                       "--format", fmt)
    assert code == 0
    if fmt == "latex":
        assert out.startswith("\\begin{align}") and "H_{1}" in out and "**" not in out
    else:
        assert "a1**2*c2 - 2*a2*c1" in out and "a2**2 - 2*a3*c2" in out


def test_invariants_independent(capsys):
    # 1-2-1 BP: the basis has 4 laws (the entries of A1 A1^T - A2^T A2 and a product), 3 are
    # functionally independent (Marcotte, Gribonval, Peyre 2023: n1 (n1 + 1) / 2 = 3)
    _, out, _ = run(capsys, "invariants", "--arch", "1-2-1", "--rule", "bp", "--format",
                    "json", "--independent")
    data = json.loads(out)
    assert data["basis_size"] == 4 and data["independent"] == 3
    assert len(data["invariants"]) == 3
    _, out, _ = run(capsys, "invariants", "--arch", "1-2-1", "--rule", "bp", "--independent")
    assert "4 laws, 3 functionally independent" in out and "H4" not in out


def test_invariants_generators_and_degree(capsys):
    _, out, _ = run(capsys, "invariants", "--arch", "1-1-1", "--rule", "arbp",
                    "--format", "json", "--generators")
    assert json.loads(out)["invariants"] == ["a2 - c1", "a1**2 - c1**2"]
    _, out, _ = run(capsys, "invariants", "--arch", "1-1-1", "--rule", "arbp",
                    "--format", "json", "--degree", "1")
    assert json.loads(out)["invariants"] == ["a2 - c1"]


def test_check_json(capsys):
    code, out, _ = run(capsys, "invariants", "--arch", "1-1-1", "--rule", "rbp",
                       "--check", "a1**2 - a2**2", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert set(data) == {"holds", "counterexample"} and data["holds"] is False
    cx = data["counterexample"]
    a1, a2, c1, alpha, beta = (sp.Integer(cx[n]) for n in ("a1", "a2", "c1", "alpha", "beta"))
    # dH/dt recomputed here: 2 a1 c1 (alpha - beta a1 a2) - 2 a2 a1 (alpha - beta a1 a2)
    value = (2 * a1 * c1 - 2 * a2 * a1) * (alpha - beta * a1 * a2)
    assert value == cx["dH/dt"] != 0
    _, out, _ = run(capsys, "invariants", "--arch", "1-1-1", "--rule", "rbp",
                    "--check", "a1**2 - 2*c1*a2", "--format", "json")
    assert json.loads(out) == {"holds": True, "counterexample": None}


@pytest.mark.parametrize("fmt", ["text", "latex"])
def test_check_matrix_text_and_latex(capsys, fmt):
    code, out, _ = run(capsys, "invariants", "--arch", "3-2-2", "--rule", "rbp",
                       "--check", "A1*A1.T - C1*A2 - A2.T*C1.T", "--format", fmt)
    assert code == 0
    assert ("holds (matrix)" in out) if fmt == "text" else ("% proved (matrix)" in out)
    _, out, _ = run(capsys, "invariants", "--arch", "3-2-2", "--rule", "rbp",
                    "--check", "A1*A1.T - A2.T*A2", "--format", fmt)
    assert ("does NOT hold" in out) if fmt == "text" else ("% refuted" in out)


def test_fixed_points_json(capsys):
    code, out, _ = run(capsys, "fixed-points", "--arch", "1-1-1", "--rule", "arbp",
                       "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert set(data) == {"state", "parameters", "fixed_points"}
    names = data["state"] + data["parameters"]
    assert len(data["fixed_points"]) == 2
    for fp in data["fixed_points"]:
        assert set(fp) == {"solution", "dimension", "eigenvalues", "stability"}
        assert isinstance(fp["dimension"], int)
        assert fp["stability"].split(":")[0] in ("stable", "unstable", "saddle",
                                                 "non-hyperbolic", "depends", "unknown")
        # substitute the solution back, here
        a1, a2, c1, alpha, beta = sp.symbols("a1 a2 c1 alpha beta")
        rhs = [c1 * (alpha - beta * a1 * a2), a1 * (alpha - beta * a1 * a2),
               a1 * (alpha - beta * a1 * a2)]
        sol = {sp.Symbol(k): parse(v, names) for k, v in fp["solution"].items()}
        assert all(sp.simplify(r.subs(sol)) == 0 for r in rhs)
    line = next(fp for fp in data["fixed_points"] if fp["dimension"] == 1)
    assert line["stability"] == "saddle"
    assert sorted(line["eigenvalues"]) == sorted(["0", "alpha", "-alpha"])


@pytest.mark.parametrize("fmt", ["text", "latex"])
def test_fixed_points_text_latex_with_values(capsys, fmt):
    code, out, err = run(capsys, "fixed-points", "--arch", "1-1-1", "--rule", "rbp",
                         "--values", "alpha=1,beta=2,c1=0.5", "--format", fmt)
    assert code == 0 and err == ""
    if fmt == "text":
        assert "alpha = 1, beta = 2, c1 = 1/2" in out and "a1 = 1/(2*a2)" in out
    else:
        assert "\\frac{1}{2 a_{2}}" in out


def test_fixed_points_timeout_is_a_note(capsys):
    code, out, err = run(capsys, "fixed-points", "--arch", "1-1-1", "--rule", "rbp",
                         "--decay", "d", "--timeout", "1", "--format", "json")
    assert code == 0
    json.loads(out)
    assert err == "" or err.startswith("symdyn: note: fixed points timeout")


@pytest.mark.parametrize("fmt", ["text", "latex", "json"])
def test_analyze(capsys, fmt):
    code, out, _ = run(capsys, "analyze", "--arch", "1-1-1", "--rule", "rbp", "--format", fmt)
    assert code == 0
    if fmt == "json":
        data = json.loads(out)
        assert set(data) == {"state", "parameters", "invariants", "fixed_points", "reduction"}
        red = data["reduction"]
        names = data["parameters"] + ["a1", "K"]
        rhs = parse(red["rhs"][0], names)
        a1, c1, alpha, beta, K = sp.symbols("a1 c1 alpha beta K")
        assert sp.expand(rhs - (alpha * c1 - beta / 2 * a1 * (a1**2 - K))) == 0
    elif fmt == "text":
        assert "da1/dt" in out and "H1 = a1**2 - 2*a2*c1" in out and "stability" in out
    else:
        assert "\\frac{d}{dt} a_{1}" in out


@pytest.mark.parametrize("argv", [
    ["invariants", "--arch", "1-1-1", "--rule", "nope"],
    ["invariants", "--arch", "1-1-1", "--rule", "rbp", "--degree", "0"],
    ["invariants", "--arch", "1-1-1", "--rule", "rbp", "--check", "a1 +* 2"],
    ["invariants", "--arch", "1-1-1", "--rule", "rbp", "--check", "a1 + a7"],
    ["fixed-points", "--arch", "1-1-1", "--rule", "rbp", "--values", "a1=2"],
    ["fixed-points", "--arch", "1-1-1", "--rule", "rbp", "--values", "alpha"],
    ["fixed-points", "--arch", "1-1-1", "--rule", "rbp", "--method", "numeric"],
    ["analyze", "--arch", "1-x-1", "--rule", "rbp"],
])
def test_bad_input_exits_2_with_one_line(capsys, argv):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("symdyn")


def test_non_polynomial_invariants_is_an_error(capsys, tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, X=np.array([[1.0], [2.0]]), Y=np.array([[1.0], [0.0]]))
    code, out, err = run(capsys, "invariants", "--arch", "1-1-1", "--rule", "rbp",
                         "--activation", "tanh", "--data", str(path))
    assert code == 2 and "polynomial" in err and err.count("\n") == 1


def test_fixed_point_latex_carries_the_stability_condition(capsys):
    # the text says "stable where a1**2 + a2*c1 > 0, ..."; the LaTeX says it too, typeset
    code, out, _ = run(capsys, "fixed-points", "--arch", "1-1-1", "--rule", "rbp", "--format",
                       "latex")
    assert code == 0
    assert ("Transverse stability of fixed point 1: depends: stable where "
            "$a_{1}^{2} + a_{2} c_{1} > 0$, unstable where $a_{1}^{2} + a_{2} c_{1} < 0$") in out
    code, out, _ = run(capsys, "analyze", "--arch", "1-1-1", "--rule", "rbp", "--format",
                       "latex", "--standalone")
    assert "Stable where $a_{1}^{2} + a_{2} c_{1} > 0$" in out


@pytest.mark.parametrize("arch,rule", [("1-1-1", "rbp"), ("1-1-1-1", "srbp"),
                                       ("1-1-1-1", "bp")])
def test_stability_condition_text_and_formulas_agree(arch, rule):
    # the sentence (sympy formulas, for LaTeX) reads exactly as the text condition
    import symdyn as sd

    points = [p for p in sd.fixed_points(sd.derive(arch, rule)) if p.condition]
    assert points
    for p in points:
        assert str(p.condition_sentence) == p.condition
