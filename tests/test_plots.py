"""Figures: the expected artists, and that what they draw is where the mathematics says."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from matplotlib.collections import Collection
from matplotlib.contour import ContourSet
from matplotlib.figure import Figure
from matplotlib.quiver import Quiver

import symdyn as sd
from symdyn.errors import SpecError
from symdyn.numerics import integrate, integrate_batch
from symdyn.plots import asymmetry, phase_portrait, plot_asymmetry, plot_trajectories
from symdyn.training import compare, simulate

RBP_VALUES = {"alpha": 1.0, "beta": 2.0, "c1": 0.5}


def contours(ax) -> list[ContourSet]:
    return [c for c in ax.collections if isinstance(c, ContourSet)]


def vertices(cs: ContourSet) -> np.ndarray:
    return np.vstack([p.vertices for p in cs.get_paths() if len(p.vertices)])


def test_phase_portrait_of_rbp_111():
    """Trajectories land on the hyperbola a1 a2 = alpha/beta (drawn as the fixed-point
    family) along the parabolas a1^2 - 2 c1 a2 = K through their starts."""
    starts = np.array([[0.2, 0.1], [-1.0, 1.5], [1.5, -1.0]])
    fig = phase_portrait(sd.derive("1-1-1", "rbp"), RBP_VALUES, trajectories=starts,
                         invariants=["a1**2 - 2*c1*a2"], t_final=60, xlim=(-3, 3),
                         ylim=(-3, 3))
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert any(isinstance(c, Quiver) for c in ax.collections)
    assert len(ax.lines) == 3 * len(starts)  # path, start, end (all converge)
    inv, family = contours(ax)
    v = vertices(family)
    np.testing.assert_allclose(v[:, 0] * v[:, 1], 0.5, atol=2e-3)
    K = starts[:, 0] ** 2 - starts[:, 1]  # 2 c1 = 1
    np.testing.assert_allclose(np.sort(inv.levels), np.sort(K))
    w = vertices(inv)
    k = w[:, 0] ** 2 - w[:, 1]
    assert np.all(np.min(np.abs(k[:, None] - K[None, :]), axis=1) < 1e-2)
    for r, start in enumerate(starts):
        path = ax.lines[3 * r].get_xydata()
        np.testing.assert_allclose(path[0], start)
        assert path[-1, 0] * path[-1, 1] == pytest.approx(0.5, abs=1e-7)
        kk = path[:, 0] ** 2 - path[:, 1]
        np.testing.assert_allclose(kk, K[r], atol=1e-6)  # moves along its parabola


def test_phase_portrait_of_a_pair_in_a_larger_system():
    system = sd.derive("1-1-1", "arbp")
    fig = phase_portrait(system, {"alpha": 1, "beta": 1}, variables=("a1", "c1"),
                         fixed={"a2": 0.5}, trajectories=[[0.1, 0.2, 0.3]],
                         fixed_points=["a1*a2 - 1"])
    ax = fig.axes[0]
    assert ax.get_xlabel() == "$a_{1}$" and ax.get_ylabel() == "$c_{1}$"
    assert len(ax.lines) == 3 and len(contours(ax)) == 0  # a2 = 0.5 fixed: no zero in view
    with pytest.raises(SpecError, match="not a state variable"):
        phase_portrait(system, {"alpha": 1, "beta": 1}, variables=("a1", "b7"))


def test_plot_trajectories_for_every_result():
    system = sd.derive("1-1-1", "rbp")
    one = integrate(system, [0.1, 0.2], 20, RBP_VALUES)
    fig = plot_trajectories(one)
    assert len(fig.axes[0].lines) == 2 and "converged" in fig.axes[0].get_title()
    batch = integrate_batch(system, np.random.default_rng(0).normal(size=(7, 2)), 20,
                            RBP_VALUES, t_eval=np.linspace(0, 20, 50))
    fig = plot_trajectories(batch, components=["a2"])
    assert len(fig.axes[0].lines) == 7 + 1  # one per row, one legend entry
    with pytest.raises(SpecError, match="t_eval"):
        plot_trajectories(integrate_batch(system, np.ones((2, 2)), 5, RBP_VALUES))
    X = np.random.default_rng(1).normal(size=(10, 1))
    sim = simulate(system, X, 0.5 * X, lr=0.01, steps=200, y0=[0.1, 0.2], values={"c1": 1})
    assert len(plot_trajectories(sim).axes[0].lines) == 2
    cmp = compare(system, X, 0.5 * X, lr=0.01, steps=200, y0=[0.1, 0.2], values={"c1": 1})
    fig = plot_trajectories(cmp)
    ax = fig.axes[0]
    # SGD, ODE and a legend entry per component; legend: ODE, SGD
    assert len(ax.lines) == 3 * 2 + 2
    assert ax.get_ylabel() == "weight"
    assert {t.get_text() for t in ax.get_legend().get_texts()} == {
        "a1", "a2", "averaged ODE", "SGD (lr=0.01)"}
    # the ODE is drawn over the SGD noise, not under it
    ode = [line for line in ax.lines if line.get_linestyle() == "--" and len(line.get_xdata())]
    sgd = [line for line in ax.lines if line.get_linestyle() == "-" and len(line.get_xdata())]
    assert len(ode) == len(sgd) == 2
    assert min(line.get_zorder() for line in ode) > max(line.get_zorder() for line in sgd)
    assert all((line.get_alpha() or 1) == 1 for line in ode)
    assert all(line.get_alpha() < 0.6 for line in sgd)


def test_trajectory_titles_name_the_system_and_say_the_status_once():
    system = sd.derive("1-1-1", "rbp")
    one = integrate(system, [0.1, 0.2], 20, RBP_VALUES)
    title = plot_trajectories(one, system=system).axes[0].get_title()
    first, second = title.split("\n")
    assert first == system.title and second.startswith("converged at t=")
    assert "converged: converged" not in title
    running = integrate(system, [0.1, 0.2], 0.5, RBP_VALUES)
    assert plot_trajectories(running).axes[0].get_title().startswith("running: ")


def test_batch_figure_counts_the_classifier_end_states():
    from symdyn.numerics import classify

    system = sd.derive("1-1-1-1", "arbp")
    values = {"alpha": 1, "beta": 1}
    Y0 = np.random.default_rng(0).normal(size=(25, 5))
    r = integrate_batch(system, Y0, 100.0, values)
    c = classify(system, r, values, rtol=1e-8, atol=1e-10)
    dense = integrate_batch(system, Y0[:10], 100.0, values, t_eval=np.linspace(0, 100, 500))
    ax = plot_trajectories(dense, components=["a1*a2*a3"], system=system,
                           classification=c).axes[0]
    assert system.title in ax.get_title() and "25 trajectories: 23 converged, 2 periodic"\
        in ax.get_title() and "[10 of 25 rows]" in ax.get_title()
    assert {t.get_text() for t in ax.get_legend().get_texts()} == {"converged (10)"}


def test_trajectory_figures_say_what_they_show():
    # a 3-2-1 network has 8 weights: the default plot says it shows all of them, an
    # expression of the state is plotted by value, and diverged rows leave the axes alone
    system = sd.derive("1-1-1-1", "rbp")
    # row 0 has beta = -1: then P = a1 a2 a3 grows without bound (dP/dt > 0 for P > 0)
    values = {"alpha": 1, "beta": np.array([-1.0, 1, 1, 1, 1, 1]), "c1": 0.5, "c2": 0.5}
    rng = np.random.default_rng(3)
    Y0 = 0.5 * rng.normal(size=(6, 3))
    Y0[0] = [2.0, 2.0, 2.0]
    res = integrate_batch(system, Y0, 5, values, max_norm=1e3, t_eval=np.linspace(0, 5, 40))
    assert res.status[0] == "diverged" and np.all(res.status[1:] != "diverged")
    fig = plot_trajectories(res, components=["a1*a2*a3"], system=system)
    ax = fig.axes[0]
    assert "1 diverged row(s) left out" in ax.get_title() and "6 trajectories" in ax.get_title()
    P = np.prod(res.y_eval[:, 1:], axis=-1)  # the product of the weights of rows 1..5
    lo, hi = ax.get_ylim()
    assert lo <= np.nanmin(P) and np.nanmax(P) <= hi and hi - lo < 10 * (np.ptp(P) + 1)
    assert ax.get_legend().get_texts()[0].get_text() == "$a_{1} a_{2} a_{3}$"
    big = sd.derive("2-2-2", "bp")
    one = integrate(big, 0.3 * np.ones(big.size), 1, {"Sigma_II": np.eye(2),
                                                      "Sigma_TI": np.eye(2)})
    assert "showing 8 of 8" not in plot_trajectories(one).axes[0].get_title()
    wide = sd.derive("3-4-2", "bp")
    one = integrate(wide, 0.1 * np.ones(wide.size), 1, {"Sigma_II": np.eye(3),
                                                        "Sigma_TI": np.ones((2, 3))})
    assert "showing 10 of 20 state variables" in plot_trajectories(one).axes[0].get_title()
    with pytest.raises(SpecError, match="missing value for parameter c1"):
        plot_trajectories(res, components=["a1*c1"], system=system, values={})


def test_phase_portrait_has_a_legend():
    system = sd.derive("1-1-1", "rbp")
    fig = phase_portrait(system, RBP_VALUES, trajectories=[[0.1, 0.2]],
                         invariants=["a1**2 - 2*c1*a2"])
    texts = {t.get_text() for t in fig.axes[0].get_legend().get_texts()}
    assert texts == {"trajectory from its start", "converged end",
                     "level set of a first integral", "fixed points", "direction of the flow"}


def test_asymmetry_of_arbp_and_asrbp():
    rng = np.random.default_rng(4)
    Sii, Sti = np.eye(5) + 0.1, rng.normal(size=(3, 5))
    system = sd.derive("5-4-3", "arbp")
    y0 = 0.01 * rng.normal(size=system.size)
    r = integrate(system, y0, 500, {"Sigma_II": Sii, "Sigma_TI": Sti},
                  t_eval=np.linspace(0, 500, 101))
    t, a = asymmetry(r, system)
    assert set(a) == {"C1"} and a["C1"][0] > 0.5 and a["C1"][-1] < 0.1  # docs/science.md 4, claim 3
    fig = plot_asymmetry(r, system)
    assert len(fig.axes[0].lines) == 1 and fig.axes[0].get_yscale() == "log"
    # skip channels compare with (A_L ... A_{h+1})^T, the map BP uses for a linear network
    system = sd.derive("2-3-3-2", "asrbp")
    y = rng.normal(size=(4, system.size))
    res = sd.IntegrationResult(t=np.arange(4.0), y=y, t_final=3.0, y_final=y[-1],
                               status="running", message="", method="", nfev=0, nsteps=0,
                               state=system.state)
    _, a = asymmetry(res, system)
    A2, A3 = y[:, 6:15].reshape(4, 3, 3), y[:, 15:21].reshape(4, 2, 3)
    C1, C2 = y[:, 21:27].reshape(4, 3, 2), y[:, 27:33].reshape(4, 3, 2)
    for C, W in ((C1, A3 @ A2), (C2, A3)):
        expect = np.linalg.norm(C - np.swapaxes(W, 1, 2), axis=(1, 2)) / np.linalg.norm(
            C, axis=(1, 2))
        name = "C1" if C is C1 else "C2"
        np.testing.assert_allclose(a[name], expect)
    # fixed channels come from the values
    rbp = sd.derive("1-1-1", "rbp")
    one = integrate(rbp, [0.1, 0.2], 20, RBP_VALUES)
    _, a = asymmetry(one, rbp, RBP_VALUES)
    np.testing.assert_allclose(a["C1"], np.abs(0.5 - one.y[:, 1]) / 0.5)
    with pytest.raises(SpecError, match="no channel"):
        asymmetry(one, sd.derive("1-1-1", "bp"))


def test_figures_never_touch_pyplot():
    code = ("import symdyn as sd, sys; from symdyn.plots import phase_portrait; "
            "phase_portrait(sd.derive('1-1-1', 'bp'), {'alpha': 1, 'beta': 1}, "
            "trajectories=[[0.1, 0.2]]).savefig(sys.argv[1]); "
            "assert 'matplotlib.pyplot' not in sys.modules")
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".png") as tmp:
        subprocess.run([sys.executable, "-c", code, tmp.name], check=True, timeout=120)
        assert open(tmp.name, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_collections_are_matplotlib_artists():
    fig = phase_portrait(sd.derive("1-1-1", "bp"), {"alpha": 1, "beta": 1})
    assert all(isinstance(c, Collection) for c in fig.axes[0].collections)
