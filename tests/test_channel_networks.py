"""The Twin and Distinct channels as networks of neurons of their own, checked against plain
numpy loops written here (not the rules' code): linear twins with C = W^T are BP, linear twins
RBP, linear distinct channels SRBP; +/- pairs of ReLU units carry a signed error exactly;
and the measured symmetry profile against values known in closed form."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import symdyn as sd
from symdyn.cli import main
from symdyn.errors import SpecError
from symdyn.training import (
    DeepNetwork,
    Run,
    format_symmetries,
    load_digits,
    measure_symmetries,
    parse_variant,
)


def _tanh_prime(S):
    return 1.0 - np.tanh(S) ** 2


def oracle_update(net, X, T, channel):
    """dW of a softmax network with tanh hidden units by a hand-written loop: B_h =
    tanh'(S_h) * channel(h, B, E, S)."""
    L = net.network.depth
    O, S = {0: X}, {}
    for h in range(1, L + 1):
        S[h] = net.W[h] @ O[h - 1] + net.b[h]
        O[h] = np.tanh(S[h]) if h < L else S[h]
    z = np.exp(S[L] - S[L].max(axis=0))
    E = T - z / z.sum(axis=0)
    B = {L: E}
    for h in range(L - 1, 0, -1):
        B[h] = _tanh_prime(S[h]) * channel(h, B, E, S)
    n = X.shape[1]
    return {h: B[h] @ O[h - 1].T / n for h in range(1, L + 1)}


@st.composite
def nets(draw, min_depth=2):
    hidden = draw(st.lists(st.integers(1, 6), min_size=min_depth - 1, max_size=3))
    sizes = [draw(st.integers(1, 5)), *hidden, draw(st.integers(2, 4))]
    return "-".join(map(str, sizes)), draw(st.integers(0, 2**16)), draw(st.integers(1, 7))


def _setup(arch, seed, n, rule):
    net = DeepNetwork(arch, rule, activation="tanh", seed=seed)
    rng = np.random.default_rng(seed + 1)
    for h in net.b:
        net.b[h] = 0.3 * rng.normal(size=net.b[h].shape)
    X = rng.normal(size=(net.network.sizes[0], n))
    k = net.network.sizes[-1]
    T = np.eye(k)[:, rng.integers(0, k, n)]
    return net, X, T


def _close(got, want):
    for h in want:
        np.testing.assert_allclose(got[h], want[h], rtol=1e-10, atol=1e-13)


@given(spec=nets())
def test_linear_twin_with_transposed_forward_weights_is_bp(spec):
    net, X, T = _setup(*spec, sd.TwinChannel())
    for h in range(1, net.network.depth):
        net.C[h] = net.W[h + 1].T.copy()
    want = oracle_update(net, X, T, lambda h, B, E, S: net.W[h + 1].T @ B[h + 1])
    _close(net.update(X, T)[0], want)


@given(spec=nets())
def test_linear_twin_is_rbp_and_linear_distinct_is_srbp(spec):
    twin, X, T = _setup(*spec, sd.TwinChannel())
    _close(twin.update(X, T)[0], oracle_update(twin, X, T,
                                               lambda h, B, E, S: twin.C[h] @ B[h + 1]))
    dist, X, T = _setup(*spec, sd.DistinctChannel())
    _close(dist.update(X, T)[0], oracle_update(dist, X, T, lambda h, B, E, S: dist.C[h] @ E))


@given(spec=nets(), width=st.sampled_from([0.5, 1.0, 2.0]),
       kind=st.sampled_from([sd.TwinChannel, sd.DistinctChannel]))
def test_relu_pairs_carry_the_signed_error_exactly(spec, width, kind):
    """relu(x) - relu(-x) = x in floating point too: the paired ReLU channel is the linear
    one, bit for bit, at any width (both draw the same matrices from the seed)."""
    lin, X, T = _setup(*spec, kind(width=width))
    pairs, _, _ = _setup(*spec, kind(units="relu", paired=True, width=width))
    a, b = lin.update(X, T)[0], pairs.update(X, T)[0]
    for h in a:
        np.testing.assert_array_equal(a[h], b[h])


def test_unpaired_relu_units_lose_one_sign():
    """Negative control: without their pairs, ReLU units drop the negative errors."""
    lin, X, T = _setup("4-5-3", 3, 8, sd.DistinctChannel())
    one, _, _ = _setup("4-5-3", 3, 8, sd.DistinctChannel(units="relu"))
    F = lin.C[1] @ (T - sd.training._network.softmax(lin.forward(X).S[2]))
    assert (F < 0).any() and (F > 0).any()
    assert not np.allclose(lin.update(X, T)[0][1], one.update(X, T)[0][1])


@given(spec=nets(min_depth=3), width=st.sampled_from([0.5, 2.0]))
def test_twin_of_other_widths_matches_a_hand_written_loop(spec, width):
    """Level h: V_h = tanh(C_h Z_{h+1}), F_h = R_h V_h (or V_h at the forward width), Z_h =
    V_h, or B_h when the level has one twin per forward neuron."""
    net, X, T = _setup(*spec, sd.TwinChannel(units="tanh", width=width))
    L = net.network.depth
    Z = {}

    def channel(h, B, E, S):
        twinned_above = h + 1 == L or f"R{h + 1}" not in net.C
        V = np.tanh(net.C[h] @ (B[h + 1] if twinned_above else Z[h + 1]))
        Z[h] = V
        return net.C[f"R{h}"] @ V if f"R{h}" in net.C else V

    _close(net.update(X, T)[0], oracle_update(net, X, T, channel))


@given(spec=nets())
def test_logistic_pairs_are_tanh_units_of_half_the_weights(spec):
    """sigma(x) - sigma(-x) = tanh(x / 2)."""
    pairs, X, T = _setup(*spec, sd.TwinChannel(units="logistic", paired=True))
    tanh, _, _ = _setup(*spec, sd.TwinChannel(units="tanh"))
    for h in tanh.C:
        tanh.C[h] = pairs.C[h] / 2
    _close(pairs.update(X, T)[0], tanh.update(X, T)[0])


def test_channel_networks_refuse_what_they_cannot_be():
    with pytest.raises(SpecError, match="one-sided"):
        sd.TwinChannel(units="tanh", paired=True)
    with pytest.raises(SpecError, match="units must be one of"):
        sd.DistinctChannel(units="sigmoid")
    with pytest.raises(SpecError, match="width"):
        sd.TwinChannel(width=0)
    with pytest.raises(SpecError, match="its units"):
        sd.TwinChannel(channel_activation="tanh")
    with pytest.raises(SpecError, match="no averaged ODE"):
        sd.derive("1-1-1", sd.TwinChannel())
    with pytest.raises(SpecError, match="density or bits"):
        DeepNetwork("3-2-2", sd.TwinChannel(), bits=2)
    with pytest.raises(SpecError, match="does not apply"):
        Run(rule="rbp", variant="relu-pairs")
    with pytest.raises(SpecError, match="does not apply"):
        Run(rule="twin", variant="adaptive")
    assert parse_variant("relu-pairs+width=2", "twin", "tanh")[1] == {
        "units": "relu", "paired": True, "width": 2.0}
    # in a ReLU network the tanh-channel variant gives the channel ReLU units, in pairs
    assert parse_variant("tanh-channel", "distinct", "relu")[1] == {"units": "relu",
                                                                    "paired": True}


def test_sign_symmetry_angle_is_the_gaussian_value():
    """For Gaussian weights angle(sign(W), W) -> arccos(E|w| / sqrt(E w^2)) =
    arccos(sqrt(2/pi)) = 37.0 degrees."""
    net = DeepNetwork("50-400-300-10", "sign", activation="tanh", seed=0)
    rng = np.random.default_rng(0)
    X, T = rng.normal(size=(50, 16)), np.eye(10)[:, rng.integers(0, 10, 16)]
    p = measure_symmetries(net, X, T)
    assert abs(p.weight_angle - np.degrees(np.arccos(np.sqrt(2 / np.pi)))) < 0.3
    assert p.removed == (2,)


def test_measured_symmetries_tell_the_architectures_apart():
    rng = np.random.default_rng(1)
    X, T = rng.normal(size=(6, 12)), np.eye(3)[:, rng.integers(0, 3, 12)]

    def profile(rule, activation="tanh", arch="6-8-7-3"):
        return measure_symmetries(DeepNetwork(arch, rule, activation=activation, seed=2), X, T)

    bp = profile("bp")
    assert bp.removed == () and bp.lockstep_residual < 1e-12 and bp.downstream_derivative > 0
    assert profile("rbp").removed == (2, 6)
    assert profile(sd.TwinChannel(units="tanh")).removed == (2, 3, 5, 6)
    assert profile(sd.TwinChannel(units="relu", paired=True)).removed == (2, 3, 6)
    assert profile(sd.TwinChannel(width=2)).removed == (1, 2, 3, 4, 6)
    assert profile(sd.DistinctChannel(units="tanh")).removed == (1, 2, 3, 4, 5, 6)
    assert profile(sd.RBP(channel_activation="tanh")).removed == (2, 5, 6)
    # ARBP's local product moves C_h by exactly dW_{h+1}^T (rate ratio 1, no decay): the
    # channel learns by the forward rule, symmetry 6 kept
    arbp = profile("arbp")
    assert arbp.lockstep_residual < 1e-12 and arbp.channel_learns and arbp.removed == (2,)
    assert profile(sd.ARBP(rate_ratio=0.5)).lockstep_residual == pytest.approx(0.5)
    # negative control for 4: with linear hidden units there is no derivative to carry
    assert profile("bp", activation="linear").downstream_derivative == 0.0
    assert profile(sd.TwinChannel(units="relu", paired=True)).own_units == 2 * (8 + 7)
    assert "1 mirror" in format_symmetries([bp])


def test_experiment_prints_the_measured_symmetries(capsys, tmp_path):
    load_digits()
    code = main(["experiment", "--suite", "quick", "--rules", "bp,twin,distinct",
                 "--variants", "derivative,relu-pairs", "--symmetries",
                 "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    rows = {line.split()[0] + " " + line.split()[1]: line.split()[-1]
            for line in out.splitlines()[2:]}
    assert rows == {"bp derivative": "none", "twin derivative": "2,3,6",
                    "twin relu-pairs": "2,3,6", "distinct derivative": "1,2,3,4,6",
                    "distinct relu-pairs": "1,2,3,4,6"}


def test_a_linear_twin_trains_as_rbp_and_channel_networks_run_in_the_grid():
    """Through whole training runs: the linear twin at the forward widths draws the same
    matrices as rbp and computes the same updates, so every measured row is equal; a paired
    ReLU twin of twice the widths trains and reports its architecture."""
    from symdyn.training import run_one

    data = load_digits()
    common = dict(data="digits", arch="64-12-10-10", epochs=1, dtype="float64")
    rbp, _ = run_one(Run(rule="rbp", **common), data)
    twin, _ = run_one(Run(rule="twin", **common), data)
    keys = [k for k in rbp[-1] if k.endswith(("_acc", "_loss")) or "angle" in k]
    assert [r[k] for r in rbp for k in keys] == [r[k] for r in twin for k in keys]
    rows, status = run_one(Run(rule="twin", variant="relu-pairs+width=2", **common), data)
    assert status == "finished" and rows[-1]["architecture"] == "Twin"
    assert rows[-1]["test_acc"] > rows[0]["test_acc"]


def test_the_nonlinearity_measure_sees_unpaired_relu_channels():
    """ReLU is positively homogeneous (relu(2x) = 2 relu(x)), so only the sign flip of the
    factor -2 shows that an unpaired ReLU channel is not linear; its pairs are."""
    rng = np.random.default_rng(4)
    X, T = rng.normal(size=(5, 10)), np.eye(3)[:, rng.integers(0, 3, 10)]

    def nonlin(rule):
        net = DeepNetwork("5-6-4-3", rule, activation="relu", seed=5)
        return measure_symmetries(net, X, T).nonlinearity

    assert nonlin(sd.TwinChannel(units="relu")) > 0.1
    assert nonlin(sd.RBP(channel_activation="relu")) > 0.1
    assert nonlin(sd.TwinChannel(units="relu", paired=True)) == 0.0


def _steps(run, steps=15):
    """A run's network after ``steps`` mini-batch steps on fixed random data."""
    net = run.build()
    rng = np.random.default_rng(5)
    X = rng.normal(size=(net.network.sizes[0], 16))
    T = np.eye(net.network.sizes[-1])[:, rng.integers(0, net.network.sizes[-1], 16)]
    for _ in range(steps):
        net.step(X.astype(net.dtype), T.astype(net.dtype), 0.1)
    return net


@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("network, wires", [("twin", "rbp"), ("distinct", "srbp")])
def test_a_grid_trains_a_channel_network_that_is_its_wires_once(network, wires, activation):
    """Same identity (the grid trains one, copies its rows to the other) exactly where the
    two train the same weights bit for bit: unpaired units or ReLU pairs at the forward
    widths. Negative controls: logistic pairs, other widths, the other rule's options."""
    common = dict(arch="6-5-4-3", activation=activation, dtype="float64")
    same = [("derivative", "derivative"), ("no-derivative", "no-derivative"),
            ("width=1+scale=0.5", "scale=0.5"), ("relu-pairs", "derivative")]
    if activation == "tanh":  # two-sided: unpaired tanh units, the channel activation
        same.append(("tanh-channel", "tanh-channel"))
    other = [("width=2", "derivative"), ("logistic-pairs", "derivative"),
             ("derivative", "no-derivative")]
    if activation == "relu":  # one-sided: the channel's units come in pairs
        other.append(("tanh-channel", "tanh-channel"))
    for a, b in same + other:
        x, y = Run(rule=network, variant=a, **common), Run(rule=wires, variant=b, **common)
        nx, ny = _steps(x), _steps(y)
        equal = all(np.array_equal(nx.W[h], ny.W[h]) for h in nx.W)
        assert (x.identity == y.identity) == ((a, b) in same) == equal, (a, b)
