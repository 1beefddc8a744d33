"""Specs validate themselves on construction and show the offending value."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import symdyn as sd
from symdyn.errors import DataError, DerivationError, SpecError


@pytest.mark.parametrize("arch, needle", [
    ("1-x-1", "'1-x-1'"), ("1", "'1'"), ("", "''"), ((0, 1), "(0, 1)"), ((1,), "(1,)"),
    ((1.5, 2), "1.5"), ("1--1", "'1--1'"),
])
def test_bad_architecture(arch, needle):
    with pytest.raises(SpecError, match=None) as info:
        sd.Network.parse(arch)
    assert needle in str(info.value)


def test_network_activations():
    net = sd.Network.parse("2-3-1", activation="tanh")
    assert [a.name for a in net.activations] == ["tanh", "linear"]
    assert sd.Network.parse("2-3-1", activation=["relu", "tanh"]).activations[1].name == "tanh"
    with pytest.raises(SpecError, match="3 activations given for 2 layers"):
        sd.Network(sizes=(2, 3, 1), activations=("tanh",) * 3)
    with pytest.raises(SpecError, match="unknown activation 'sine'"):
        sd.Network.parse("1-1-1", activation="sine")
    assert sd.Network.parse("1-1-1") == sd.Network(sizes=(1, 1, 1))
    assert hash(sd.Network.parse("1-1-1")) == hash(sd.Network(sizes=[1, 1, 1]))


def test_user_activations_lambda_and_callable():
    x, k = sp.symbols("x k")
    cube = sd.derive("1-1-1", "rbp", activation=sp.Lambda(x, x**3),
                     data=sd.Dataset(X=[[1.0], [2.0]], Y=[[0.5], [1.0]]))
    assert cube.rhs[0].has(sp.Symbol("a1") ** 3) or "a1**3" in str(cube.rhs[0])
    scaled = sd.derive("1-1-1", "bp", activation=lambda s: k * s)  # linear: moments suffice
    assert k in scaled.parameters
    a1, a2, alpha, beta = sp.symbols("a1 a2 alpha beta")
    assert sp.expand(scaled.rhs[1] - k * a1 * (alpha - k * a1 * a2 * beta)) == 0
    with pytest.raises(SpecError, match="one variable"):
        sd.derive("1-1-1", "bp", activation=sp.Lambda((x, k), x * k))


@pytest.mark.parametrize("kwargs, needle", [
    ({"rate": -1}, "rate must be positive"),
    ({"rate": 0}, "rate must be positive"),
    ({"decay": -0.5}, "decay must be non-negative"),
    ({"rate": "1 +"}, "rate must be a number or a symbol name"),
    ({"rate": "lambda"}, "rate must be a number or a symbol name"),
    ({"rate": float("nan")}, "rate must be a finite real"),
    ({"derivative": "no"}, "derivative must be True or False"),
    ({"channel_activation": "cosh"}, "unknown activation 'cosh'"),
])
def test_bad_rule_options(kwargs, needle):
    with pytest.raises(SpecError, match=needle):
        sd.derive("1-1-1", "rbp", **kwargs)


def test_rule_names_and_objects():
    with pytest.raises(SpecError, match="unknown rule 'frbp'; choose one of bp, rbp"):
        sd.derive("1-1-1", "frbp")
    with pytest.raises(SpecError, match="applies to adaptive rules"):
        sd.derive("1-1-1", "rbp", rate_ratio=2)
    with pytest.raises(SpecError, match=r"set it on the object instead: ARBP\(decay=...\)"):
        sd.derive("1-1-1", sd.ARBP(), decay=1)
    rule = sd.ARBP(rate_ratio="lamda", decay="1/10")
    assert rule.decay == sp.Rational(1, 10)
    assert sd.derive("1-1-1", rule).rule is rule
    assert sd.derive("1-1-1", "arbp", rate_ratio="1") is sd.derive("1-1-1", sd.ARBP())
    assert sd.RULES["srbp"] is sd.SRBP
    # a rule object of a non-adaptive rule, with derive's neutral rate_ratio (regression)
    net = sd.Network.parse("1-1-1")
    assert sd.derive(net, sd.RBP()).state == sd.derive("1-1-1", "rbp").state
    with pytest.raises(SpecError, match="rule 'rbp' has no option 'rate_ratio'"):
        sd.derive(net, sd.RBP(), rate_ratio=2)


def test_bad_data():
    with pytest.raises(DataError, match="give both Sigma_II and Sigma_TI"):
        sd.Moments(Sigma_II=[[1.0]])
    with pytest.raises(DataError, match="must be symmetric"):
        sd.Moments(Sigma_II=[[1.0, 2.0], [0.0, 1.0]], Sigma_TI=[[1.0, 1.0]])
    with pytest.raises(DataError, match="positive semi-definite"):
        sd.Moments(Sigma_II=[[1.0, 2.0], [2.0, 1.0]], Sigma_TI=[[1.0, 1.0]])
    with pytest.raises(DataError, match="X has 3 samples but Y has 2"):
        sd.Dataset(X=np.zeros((3, 1)), Y=np.zeros((2, 1)))
    with pytest.raises(DataError, match="non-finite"):
        sd.Dataset(X=[[np.nan]], Y=[[1.0]])
    with pytest.raises(DataError, match=r"expected X \(N, 2\) and Y \(N, 1\)"):
        sd.derive("2-2-1", "bp", data=sd.Dataset(X=np.zeros((3, 1)), Y=np.zeros((3, 1))))
    with pytest.raises(DataError, match=r"expected \(2, 2\) and \(1, 2\)"):
        sd.derive("2-2-1", "bp", data=sd.Moments(Sigma_II=[[1.0]], Sigma_TI=[[1.0]]))
    with pytest.raises(DataError, match="keys X, Y"):
        sd.derive("1-1-1", "bp", data={"X": [[1.0]]})


def test_npz_loading(tmp_path):
    good, bad = tmp_path / "d.npz", tmp_path / "e.npz"
    np.savez(good, X=np.ones((3, 1)), Y=np.ones((3, 1)))
    np.savez(bad, X=np.ones((3, 1)))
    assert sd.Dataset.load(good).size == 3
    with pytest.raises(DataError, match=r"missing \['Y'\]"):
        sd.Dataset.load(bad)
    with pytest.raises(DataError, match="cannot read data file"):
        sd.Dataset.load(tmp_path / "nope.npz")


def test_nonlinear_average_needs_a_data_set():
    with pytest.raises(DerivationError, match="pass a finite data set"):
        sd.derive("1-1-1", "rbp", activation="tanh")
    with pytest.raises(DerivationError, match="non-linear channel activation"):
        sd.derive("1-1-1", "rbp", channel_activation="tanh")


def test_specs_are_hashable_and_derivations_cache():
    data = sd.Dataset(X=np.ones((2, 1)), Y=np.zeros((2, 1)))
    assert data == sd.Dataset(X=np.ones((2, 1)), Y=np.zeros((2, 1)))
    assert hash(data) == hash(sd.Dataset(X=np.ones((2, 1)), Y=np.zeros((2, 1))))
    a = sd.derive("1-1-1", "rbp", activation="tanh", data=data)
    assert sd.derive("1-1-1", "rbp", activation="tanh", data=data) is a
    assert sd.derive("1-1-1", "rbp", activation="tanh",
                     data=sd.Dataset(X=np.ones((2, 1)), Y=np.ones((2, 1)))) is not a


def test_linear_data_set_averages_through_its_moments():
    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(6, 2)), rng.normal(size=(6, 1))
    s = sd.derive("2-2-1", "rbp", data=sd.Dataset(X=X, Y=Y))
    names = [str(p) for p in s.matrix.parameters]
    assert names == ["C1", "Sigma_TI", "Sigma_II"]
    np.testing.assert_allclose(s.matrix.values[s.matrix.parameters[2]], X.T @ X / 6)
    assert [str(p) for p in s.parameters] == ["C1_1_1", "C1_2_1"]  # moments are numbers


def test_state_is_cheap_for_wide_networks():
    s = sd.derive("256-256-256", "rbp")
    assert s.size == 2 * 256 * 256
    assert "rhs" not in s.__dict__  # the component form is built only on demand
    assert str(s.matrix.rhs[0]) == "C1*(-A2*A1*Sigma_II + Sigma_TI)"
