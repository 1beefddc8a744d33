"""`symdyn derive`: text, LaTeX and JSON; bad input is one line on stderr and exit 2."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import sympy as sp

import symdyn as sd
from symdyn.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_text(capsys):
    code, out, err = run(capsys, "derive", "--arch", "1-1-1", "--rule", "rbp")
    assert code == 0 and err == ""
    assert "da1/dt = c1*(-a1*a2*beta + alpha)" in out
    assert "dA1/dt = C1*(-A2*A1*Sigma_II + Sigma_TI)" in out


def test_json_round_trip(capsys):
    code, out, _ = run(capsys, "derive", "--arch", "1-1-1-1", "--rule", "arbp",
                       "--rate-ratio", "lamda", "--format", "json")
    assert code == 0
    payload = json.loads(out)
    assert set(payload) == {"form", "state", "parameters", "rhs"} and payload["form"] == "component"
    system = sd.derive("1-1-1-1", "arbp", rate_ratio="lamda")
    assert payload["state"] == [str(s) for s in system.state]
    names = {n: sp.Symbol(n) for n in payload["state"] + payload["parameters"]}
    parsed = [sp.parse_expr(r, local_dict=names) for r in payload["rhs"]]
    assert all(sp.expand(p - r) == 0 for p, r in zip(parsed, system.rhs))


def test_latex(capsys):
    code, out, _ = run(capsys, "derive", "--arch", "1-1-1", "--rule", "rbp", "--format",
                       "latex")
    assert code == 0
    assert out.startswith("\\begin{align}") and out.strip().endswith("\\end{align}")
    assert r"\dot{a}_{1} &= c_{1} \left(- a_{1} a_{2} \beta + \alpha\right)" in out


def test_data_file(capsys, tmp_path):
    path = tmp_path / "d.npz"
    rng = np.random.default_rng(0)
    np.savez(path, X=rng.normal(size=(3, 1)), Y=rng.normal(size=(3, 1)))
    code, out, _ = run(capsys, "derive", "--arch", "1-1-1", "--rule", "rbp", "--activation",
                       "tanh", "--data", str(path), "--format", "json")
    assert code == 0
    rhs = json.loads(out)["rhs"]
    assert len(rhs) == 2 and "tanh" in rhs[0]


@pytest.mark.parametrize("argv, needle", [
    (["derive", "--arch", "1-x", "--rule", "bp"], "architecture '1-x'"),
    (["derive", "--arch", "1-1", "--rule", "xbp"], "unknown rule 'xbp'"),
    (["derive", "--arch", "1-1-1", "--rule", "rbp", "--activation", "tanh"],
     "pass a finite data set"),
    (["derive", "--arch", "1-1-1", "--rule", "rbp", "--rate", "-2"], "rate must be positive"),
    (["derive", "--arch", "1-1-1", "--rule", "rbp", "--data", "/nonexistent.npz"],
     "cannot read data file"),
    (["derive", "--rule", "rbp"], "required: --arch"),
    (["derive", "--arch", "1-1-1", "--rule", "rbp", "--format", "xml"], "invalid choice"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_input_is_one_line_exit_2(capsys, argv, needle):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and needle in err and "Traceback" not in err


def test_python_dash_m():
    proc = subprocess.run([sys.executable, "-m", "symdyn", "derive", "--arch", "1-1-1",
                           "--rule", "bp", "--format", "json"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["state"] == ["a1", "a2"]
    bad = subprocess.run([sys.executable, "-m", "symdyn", "derive", "--arch", "0-1",
                          "--rule", "bp"], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1


def test_large_systems_are_written_in_matrix_form(capsys):
    code, out, err = run(capsys, "derive", "--arch", "50-50-50", "--rule", "rbp", "--format",
                         "json")
    payload = json.loads(out)
    assert code == 0 and payload["form"] == "matrix" and payload["shapes"]["A1"] == [50, 50]
    code, out, err = run(capsys, "derive", "--arch", "5000-5000-5000", "--rule", "rbp",
                         "--format", "json", "--form", "component")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "50000000 equations" in err and "--form matrix" in err


def test_update_is_honoured_in_every_format(capsys):
    import sympy as sp

    system = sd.derive("1-1-1", "arbp")
    code, out, _ = run(capsys, "derive", "--arch", "1-1-1", "--rule", "arbp", "--update")
    assert code == 0 and "Delta a1 = " in out and "Delta C1 = " in out and "d" + "a1/dt" not in out
    code, out, _ = run(capsys, "derive", "--arch", "1-1-1", "--rule", "arbp", "--update",
                       "--format", "json")
    payload = json.loads(out)
    names = {n: sp.Symbol(n) for n in payload["state"] + payload["parameters"]
             + payload["sample"]}
    got = [sp.parse_expr(s, local_dict=names) for s in payload["update"]]
    assert [sp.expand(g - e) for g, e in zip(got, system.update, strict=True)] == [0, 0, 0]


def test_latex_says_when_it_leaves_the_component_form_out(capsys):
    code, out, err = run(capsys, "derive", "--arch", "3-3-3", "--rule", "bp", "--format",
                         "latex")
    assert code == 0 and "component form (18 equations) is left out" in err
    code, out, err = run(capsys, "derive", "--arch", "3-3-3", "--rule", "bp", "--format",
                         "latex", "--form", "component")
    assert code == 0 and err == "" and out.count(r"\label{eq:") == 18  # one per equation


def test_params_lists_what_values_takes(capsys, tmp_path):
    code, out, _ = run(capsys, "params", "--arch", "2-3-1", "--rule", "rbp", "--format", "json")
    payload = json.loads(out)
    assert code == 0 and len(payload["state"]) == 9
    by_name = {r["name"]: r for r in payload["parameters"]}
    assert by_name["C1"]["components"] == ["C1_1_1", "C1_2_1", "C1_3_1"]
    assert by_name["Sigma_II"]["components"] == ["Sigma_II_1_1", "Sigma_II_1_2", "Sigma_II_2_2"]
    # the names it lists are exactly what --values accepts: integrate runs with them
    values = ",".join(f"{c}={0.5 if c.startswith('C') else 1 if c.endswith(('1_1', '2_2')) else 0}"
                      for r in payload["parameters"] for c in r["components"])
    assert main(["integrate", "--arch", "2-3-1", "--rule", "rbp", "--values", values,
                 "--t", "1"]) == 0
    capsys.readouterr()
    path = tmp_path / "d.npz"
    np.savez(path, X=np.ones((4, 2)), Y=np.ones((4, 1)))
    code, out, _ = run(capsys, "params", "--arch", "2-3-1", "--rule", "srbp", "--data", str(path))
    assert code == 0 and "Sigma_II (2x2)" in out and "[given by --data]" in out


def test_missing_values_are_named_in_command_line_terms(capsys):
    code, _, err = run(capsys, "integrate", "--arch", "2-3-1", "--rule", "rbp")
    assert code == 2 and "values={" not in err
    assert "--values C1_1_1=..." in err and "--random-channels" in err
    with pytest.raises(sd.MissingValueError, match=r"values=\{'C1': \.\.\.\}"):
        sd.derive("2-3-1", "rbp").numeric({})
