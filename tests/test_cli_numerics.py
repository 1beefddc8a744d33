"""``symdyn integrate`` and ``symdyn simulate``: outputs, figures, and one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from symdyn.cli import COMMANDS, main

RBP = ["--arch", "1-1-1", "--rule", "rbp", "--values", "alpha=1,beta=2,c1=0.5"]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_commands_registered():
    assert {"integrate", "simulate"} <= set(COMMANDS)


def test_integrate_text(capsys):
    code, out, err = run(capsys, "integrate", *RBP, "--y0", "0.1,0.2", "--t", "100")
    assert code == 0 and err == ""  # no progress bar when stderr is not a terminal
    assert "status: converged" in out and "a1 = " in out and "a2 = " in out


def test_integrate_json_by_name(capsys):
    code, out, _ = run(capsys, "integrate", *RBP, "--y0", "a2=0.2,a1=0.1", "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["status"] == "converged" and data["y0"] == [0.1, 0.2]
    a1, a2 = data["y_final"]["a1"], data["y_final"]["a2"]
    assert a1 * a2 == pytest.approx(0.5, abs=1e-7)


def test_integrate_batch_json_and_plot(capsys, tmp_path):
    png = tmp_path / "portrait.png"
    code, out, err = run(capsys, "integrate", *RBP, "--batch", "300", "--seed", "1",
                         "--t", "1000", "--format", "json", "--plot", str(png), "--quiet")
    data = json.loads(out)
    assert code == 0 and err == ""
    assert data["counts"] == {"converged": 300}
    y = np.array(data["y"])
    np.testing.assert_allclose(y[:, 0] * y[:, 1], 0.5, atol=1e-6)
    assert png.read_bytes()[:4] == b"\x89PNG"
    # the same seed gives the same starts
    code, out2, _ = run(capsys, "integrate", *RBP, "--batch", "300", "--seed", "1", "--t",
                        "1000", "--format", "json")
    assert json.loads(out2)["y0"] == data["y0"]


def test_integrate_reports_blow_up_without_failing(capsys):
    code, out, _ = run(capsys, "integrate", "--arch", "1-1-1", "--rule", "bp", "--values",
                       "alpha=1,beta=-1", "--y0", "1,1", "--format", "json")
    assert code == 0 and json.loads(out)["status"] == "diverged"


def test_integrate_matrix_network_with_random_channels(capsys, tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 3))
    path = tmp_path / "data.npz"
    np.savez(path, X=X, Y=X[:, :2] @ np.array([[1.0, 0.5], [-0.5, 1.0]]))
    code, out, _ = run(capsys, "integrate", "--arch", "3-4-2", "--rule", "rbp", "--data",
                       str(path), "--random-channels", "--scale", "0.1", "--t", "2000",
                       "--plot", str(tmp_path / "traj.png"), "--quiet")
    assert code == 0 and "status: converged" in out and "A1_1_1 = " in out
    assert (tmp_path / "traj.png").exists()


@pytest.mark.parametrize("argv, message", [
    (["integrate", "--arch", "1-1-1", "--rule", "rbp", "--values", "alpha=1,beta=1"],
     "missing value for parameter c1"),
    (["integrate", *RBP, "--y0", "0.1"], "--y0: 1 values for 2 state variables"),
    (["integrate", *RBP, "--y0", "a1=0.1,b=2"], "b is not a state variable"),
    (["integrate", *RBP, "--y0", "0.1,0.2", "--method", "Euler"], "unknown method"),
    (["integrate", *RBP, "--t", "-1"], "--t: expected a positive number"),
    (["integrate", *RBP, "--batch", "0"], "--batch: 0 is out of range: 1 <= value"),
    (["simulate", "--arch", "1-1-1", "--rule", "rbp", "--lr", "0.1", "--steps", "10"],
     "--data FILE.npz or --generate N"),
    (["simulate", "--arch", "1-1-1", "--rule", "rbp", "--generate", "5", "--lr", "0.1"],
     "required: --steps"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err and err.startswith("symdyn")


def test_simulate_generated_data_with_comparison(capsys, tmp_path):
    png = tmp_path / "sgd.png"
    argv = ["simulate", "--arch", "2-3-1", "--rule", "rbp", "--activation", "tanh",
            "--generate", "30", "--random-channels", "--scale", "0.3", "--lr", "0.005",
            "--steps", "2000", "--seed", "2", "--compare", "--format", "json",
            "--plot", str(png), "--quiet"]
    code, out, err = run(capsys, *argv)
    data = json.loads(out)
    assert code == 0 and err == ""
    assert data["status"] == "completed" and data["steps"] == 2000
    assert data["t"][-1] == pytest.approx(10.0)
    assert 0 < data["max_distance"] < np.sqrt(0.005)
    assert png.exists()
    # deterministic for a given seed
    _, out2, _ = run(capsys, *argv)
    assert json.loads(out2)["y_final"] == data["y_final"]


def test_simulate_text_from_data_file(capsys, tmp_path):
    path = tmp_path / "d.npz"
    X = np.linspace(-1, 1, 9)[:, None]
    np.savez(path, X=X, Y=0.5 * X)
    code, out, _ = run(capsys, "simulate", "--arch", "1-1-1", "--rule", "rbp", "--data",
                       str(path), "--values", "c1=1", "--y0", "0.1,0.1", "--lr", "0.05",
                       "--steps", "3000", "--batch-size", "3", "--sampling", "shuffle")
    assert code == 0 and "status: completed" in out and "mini-batch 3 (shuffle)" in out


def test_simulate_linear_network_on_generated_data(capsys):
    """A linear system keeps only the moments of its data; simulate still draws samples."""
    code, out, _ = run(capsys, "simulate", "--arch", "2-2-1", "--rule", "srbp", "--generate",
                       "50", "--lr", "0.01", "--steps", "500", "--random-channels",
                       "--compare", "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["samples"] == 50 and data["ode_status"] == "running"


@pytest.mark.parametrize("target, message", [
    ("{tmp}/noext", "must end in one of"),
    ("{tmp}/fig.xyz", "must end in one of"),
    ("{tmp}/missing/fig.png", "does not exist"),
    ("{tmp}/adir.png", "is a directory"),
])
def test_plot_target_is_checked_before_the_work(capsys, tmp_path, target, message):
    (tmp_path / "adir.png").mkdir()
    path = target.format(tmp=tmp_path)
    code, out, err = run(capsys, "integrate", *RBP, "--batch", "5", "--plot", path)
    assert code == 2 and out == ""  # refused before anything was integrated or printed
    assert message in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adir.png"]  # nothing written


def test_plot_writes_exactly_the_path_given(capsys, tmp_path):
    code, _, err = run(capsys, "integrate", "--arch", "1-1-1-1", "--rule", "rbp", "--values",
                       "alpha=1,beta=1,c1=0.5,c2=-0.5", "--batch", "8", "--t", "20",
                       "--plot", str(tmp_path / "chain.pdf"), "--plot-vars", "a1*a2*a3,a1")
    assert code == 0 and f"saved to {tmp_path / 'chain.pdf'}" in err
    assert [p.name for p in tmp_path.iterdir()] == ["chain.pdf"]
    assert (tmp_path / "chain.pdf").read_bytes().startswith(b"%PDF")
    code, _, err = run(capsys, "integrate", *RBP, "--plot-vars", "a1")
    assert code == 2 and "--plot-vars needs --plot" in err


def test_integrate_batch_classifies_end_states_as_sweep_does(capsys, tmp_path):
    # 1-1-1-1 ARBP: rows 18 and 24 of seed 0 circle closed orbits (the integrator alone
    # leaves them "running"); the command reports them periodic, with the classifier sweep
    # uses, and the period is checked by solve_ivp: one period later the orbit is back
    from scipy.integrate import solve_ivp

    import symdyn as sd
    from symdyn.numerics import classify, integrate_batch

    argv = ["integrate", "--arch", "1-1-1-1", "--rule", "arbp", "--values", "alpha=1,beta=1",
            "--batch", "25", "--quiet"]
    code, out, _ = run(capsys, *argv, "--format", "json")
    data = json.loads(out)
    assert code == 0
    system = sd.derive("1-1-1-1", "arbp")
    values = {"alpha": 1, "beta": 1}
    r = integrate_batch(system, np.array(data["y0"]), 100.0, values)
    assert list(r.status[[18, 24]]) == ["running", "running"]
    c = classify(system, r, values, rtol=1e-8, atol=1e-10)
    assert data["end"] == list(c.end) and data["counts"] == c.counts
    np.testing.assert_allclose(np.array(data["period"], dtype=float), c.period)
    assert [data["end"][i] for i in (18, 24)] == ["periodic", "periodic"]
    f = system.numeric(values)
    for i in (18, 24):
        T, y = data["period"][i], np.array(data["y"][i])
        back = solve_ivp(f, (0, T), y, rtol=1e-11, atol=1e-12).y[:, -1]
        half = solve_ivp(f, (0, T / 2), y, rtol=1e-11, atol=1e-12).y[:, -1]
        assert np.linalg.norm(back - y) < 1e-3 * np.linalg.norm(half - y)
    code, text, _ = run(capsys, *argv, "--plot", str(tmp_path / "b.png"))
    assert "25 rows: 23 converged, 2 periodic (period " in text
    assert "running" not in text


def test_batch_figure_draws_periodic_rows_from_dense_output(capsys, tmp_path, monkeypatch):
    import symdyn.plots as plots

    seen = {}

    def spy(result, **kw):
        seen["result"], seen["kw"] = result, kw
        return real(result, **kw)

    real = plots.plot_trajectories
    monkeypatch.setattr(plots, "plot_trajectories", spy)
    code, _, _ = run(capsys, "integrate", "--arch", "1-1-1-1", "--rule", "arbp", "--values",
                     "alpha=1,beta=1", "--batch", "25", "--quiet", "--plot",
                     str(tmp_path / "b.png"))
    assert code == 0
    c = seen["kw"]["classification"]
    dt = np.diff(seen["result"].t_eval)
    # at least 40 samples per period of the fastest periodic row drawn
    assert dt.max() <= np.nanmin(c.period[:25]) / 40 + 1e-12
    assert seen["result"].y_eval.shape[1] == 25
