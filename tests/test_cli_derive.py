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
    assert set(payload) == {"state", "parameters", "rhs"}
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
