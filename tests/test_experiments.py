"""Deep networks trained by the rule objects: oracles (finite-difference gradients, derive's
averaged ODE and per-sample code, exact invariants of the rules), data loaders, the results
table, resumable suites and the ``symdyn experiment`` command."""

from __future__ import annotations

import gzip
import json
import pickle

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import symdyn as sd
from symdyn.cli import main
from symdyn.errors import DataError, SpecError
from symdyn.training import (
    DeepNetwork,
    ResultsTable,
    Run,
    load_data,
    load_digits,
    load_mnist,
    load_npz,
    numeric_activation,
    quantize,
    run_suite,
    update_function,
)
from symdyn.training import _experiments as experiments
from symdyn.training import _grid as grid
from symdyn.training import _suite as suites

RULES = ("bp", "rbp", "srbp", "arbp", "asrbp")


def batch(rng, net, n=6):
    X = rng.normal(size=(net.network.sizes[0], n))
    k = net.network.sizes[-1]
    if net.loss == "softmax":
        T = np.eye(k)[:, rng.integers(0, k, n)]
    else:
        T = rng.normal(size=(k, n))
    return X, T


def randomise_biases(net, rng):
    for h in net.b:
        net.b[h] = 0.3 * rng.normal(size=net.b[h].shape)


# -- numeric activations ---------------------------------------------------------------------


@pytest.mark.parametrize("name", list(sd.ACTIVATIONS))
def test_numeric_activation_matches_sympy(name):
    f = sd.ACTIVATIONS[name]
    num = numeric_activation(f)
    x = np.linspace(-3, 3, 13) + 0.01  # avoid relu's kink at 0
    (v,) = f.function.variables
    want_f = np.array([float(f.function.expr.subs(v, t)) for t in x])
    want_d = np.array([float(f.derivative.expr.subs(v, t)) for t in x])
    out = num.function(x)
    np.testing.assert_allclose(out, want_f, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(num.derivative(x, out) + 0 * x, want_d, rtol=1e-12, atol=1e-14)


def test_user_activation_is_lambdified():
    x = sp.Symbol("x")
    f = sd.Activation("cube", sp.Lambda(x, x**3 + x))
    num = numeric_activation(f)
    t = np.array([[-1.0, 0.5], [2.0, 0.0]])
    np.testing.assert_allclose(num.function(t), t**3 + t)
    np.testing.assert_allclose(num.derivative(t, None), 3 * t**2 + 1)


# -- BP is the gradient ------------------------------------------------------------------------


@pytest.mark.parametrize("loss, output", [("squared", "tanh"), ("squared", "linear"),
                                          ("softmax", "linear")])
def test_bp_update_is_minus_the_finite_difference_gradient(loss, output):
    rng = np.random.default_rng(3)
    net = sd.DeepNetwork(sd.Network(sizes=(3, 4, 3, 2),
                                    activations=("tanh", "logistic", output)),
                         sd.BP(decay=0.1), loss=loss, seed=1)
    randomise_biases(net, rng)
    X, T = batch(rng, net)
    dW, db, _ = net.update(X, T)

    def objective():
        return net.loss_value(X, T) + 0.05 * sum((w**2).sum() for w in net.W.values())

    eps = 1e-6
    for params, update in ((net.W, dW), (net.b, db)):
        for h, P in params.items():
            grad = np.zeros_like(P)
            for idx in np.ndindex(P.shape):
                old = P[idx]
                P[idx] = old + eps
                up = objective()
                P[idx] = old - eps
                down = objective()
                P[idx] = old
                grad[idx] = (up - down) / (2 * eps)
            np.testing.assert_allclose(update[h], -grad, rtol=1e-6, atol=1e-8)


def test_rbp_with_transposed_channel_is_bp_step_by_step():
    rng = np.random.default_rng(4)
    kw = dict(activation="tanh", seed=2)
    bp, rbp = DeepNetwork("4-5-4-3", "bp", **kw), DeepNetwork("4-5-4-3", "rbp", **kw)
    for h in bp.W:
        np.testing.assert_array_equal(bp.W[h], rbp.W[h])
    for _ in range(5):
        for h in rbp.C:
            rbp.C[h] = rbp.W[h + 1].T.copy()
        X, T = batch(rng, bp)
        bp.step(X, T, 0.3)
        rbp.step(X, T, 0.3)
        for h in bp.W:
            np.testing.assert_allclose(rbp.W[h], bp.W[h], rtol=1e-13, atol=1e-15)
            np.testing.assert_allclose(rbp.b[h], bp.b[h], rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("decay", [0.0, 0.2])
def test_arbp_channel_difference_shrinks_by_one_minus_lr_eta_d(decay):
    rng = np.random.default_rng(5)
    rule = sd.ARBP(rate=0.5, rate_ratio=0.7, decay=decay, channel_activation="tanh")
    net = DeepNetwork("4-6-5-3", rule, activation="tanh", seed=3)
    lam, lr = 0.7, 0.2
    diff = {h: net.C[h] - lam * net.W[h + 1].T for h in net.C}
    for _ in range(6):
        net.step(*batch(rng, net), lr)
        factor = 1 - lr * 0.5 * decay
        for h in net.C:
            new = net.C[h] - lam * net.W[h + 1].T
            np.testing.assert_allclose(new, factor * diff[h], rtol=1e-12, atol=1e-14)
            diff[h] = new


# -- the same rule as derive -----------------------------------------------------------------


def flat(system, net):
    parts = [net.W[h].ravel() for h in sorted(net.W)]
    if system.rule.adaptive:
        parts += [net.C[h].ravel() for h in sorted(net.C)]
    return np.concatenate(parts)


def fixed_channels(system, net):
    return {} if system.rule.adaptive else {f"C{h}": net.C[h] for h in net.C}


@pytest.mark.parametrize("arch, activation, rule", [
    ("2-3-2", None, "rbp"), ("2-2-2-2", None, "arbp"),
    ("2-3-2", "tanh", "srbp"), ("2-3-2-2", "tanh", "asrbp"), ("2-3-2", "tanh", "bp"),
])
def test_full_batch_update_is_the_averaged_ode_of_derive(arch, activation, rule):
    """The mean update over the whole data set is derive's right-hand side (exact moments
    for a linear network, the exact mean over the samples otherwise)."""
    rng = np.random.default_rng(6)
    opts = dict(rate=0.5, decay=0.1)
    if rule in ("arbp", "asrbp"):
        opts["rate_ratio"] = 2
    X, Y = rng.normal(size=(5, 2)), rng.normal(size=(5, 2))
    system = sd.derive(arch, rule, activation=activation, data=sd.Dataset(X=X, Y=Y), **opts)
    net = DeepNetwork(arch, system.rule,
                      activation=activation, loss="squared", bias=False, seed=7)
    f = system.numeric(fixed_channels(system, net))
    dW, _, dC = net.update(X.T, Y.T)
    got = np.concatenate([dW[h].ravel() for h in sorted(dW)]
                         + [dC[h].ravel() for h in sorted(dC)])
    np.testing.assert_allclose(got, f(0.0, flat(system, net)), rtol=1e-11, atol=1e-13)


architectures = st.lists(st.integers(1, 4), min_size=3, max_size=4)
options = st.fixed_dictionaries({
    "rule": st.sampled_from(RULES),
    "derivative": st.booleans(),
    "channel": st.sampled_from([None, "tanh", "logistic"]),
    "activation": st.sampled_from(["tanh", "logistic", "relu"]),
    "decay": st.sampled_from([0, 0.25]),
    "b": st.integers(1, 3),
    "seed": st.integers(0, 2**16),
})


@settings(max_examples=8, deadline=None)
@given(architectures, options)
def test_minibatch_update_matches_derives_per_sample_code(sizes, o):
    """Any architecture, rule and option: the engine's mini-batch update is the mean of the
    per-sample rule that derive generates (code from the sympy expressions)."""
    arch = "-".join(map(str, sizes))
    ratio = {"rate_ratio": 0.5} if o["rule"] in ("arbp", "asrbp") else {}
    rule = sd.RULES[o["rule"]](derivative=o["derivative"], channel_activation=o["channel"],
                               decay=o["decay"], rate=0.7, **ratio)
    rng = np.random.default_rng(o["seed"])
    data = sd.Dataset(X=rng.normal(size=(2, sizes[0])), Y=rng.normal(size=(2, sizes[-1])))
    system = sd.derive(arch, rule, activation=o["activation"], data=data)
    net = DeepNetwork(arch, rule, activation=o["activation"], loss="squared", bias=False,
                      seed=o["seed"])
    X, T = rng.normal(size=(sizes[0], o["b"])), rng.normal(size=(sizes[-1], o["b"]))
    g = update_function(system, fixed_channels(system, net), batch_size=o["b"])
    dW, _, dC = net.update(X, T)
    got = np.concatenate([dW[h].ravel() for h in sorted(dW)]
                         + [dC[h].ravel() for h in sorted(dC)])
    np.testing.assert_allclose(got, g(flat(system, net), X, T), rtol=1e-10, atol=1e-12)


# -- channel variants -------------------------------------------------------------------------


def test_quantize_error_and_levels():
    rng = np.random.default_rng(8)
    x = rng.normal(size=(40, 5)) * np.array([1e-3, 1.0, 5.0, 1.0, 0.0])
    m = 2.0  # the range fixed in advance: values beyond it saturate
    inside = np.abs(x) <= m
    for bits in (2, 3, 8):
        q = quantize(x, bits, m)
        assert len(np.unique(q)) <= 2**bits - 1  # one range for every sample: K bits a value
        assert np.max(np.abs(q - x)[inside]) <= m / (2**bits - 2) * (1 + 1e-12)
        np.testing.assert_array_equal(q[~inside], np.sign(x[~inside]) * m)
        assert np.all(q[:, 4] == 0)
    q1 = quantize(x, 1, m)
    assert set(np.unique(q1)) <= {-1.0, 1.0}
    np.testing.assert_array_equal(q1 > 0, x >= 0)
    big = quantize(x, 52, 100.0)
    np.testing.assert_allclose(big, x, rtol=0, atol=100.0 * 2.0**-50)


def test_bits_quantise_what_is_transmitted_on_a_fixed_range():
    """A K-bit channel sends the error lines (E for srbp, B_{h+1} for rbp) as K-bit values:
    over many batches the received values take at most 2^K levels per line set, and the
    bits per sample are K times the lines sent."""
    rng = np.random.default_rng(3)
    for rule, lines in (("srbp", 2 * 3), ("rbp", 4 + 3)):
        net = DeepNetwork("4-5-4-3", rule, activation="tanh", seed=4, bits=2)
        assert net.bits_per_sample == 2 * lines
        seen: dict = {}
        for _ in range(5):
            X, T = batch(rng, net)
            s = net.signals(X, T)
            for h in (1, 2):
                sent = net._sent(s, h, 2)
                key = "E" if rule == "srbp" else h + 1
                value = sent.E if rule == "srbp" else sent.B[h + 1]
                seen.setdefault(key, set()).update(np.unique(value).tolist())
        assert all(len(v) <= 2**2 for v in seen.values()), seen
        assert net.line_scale["E"] == 1.0  # softmax: |E_i| <= 1, fixed without calibration


def test_density_gives_every_unit_the_same_number_of_lines():
    for arch, rule, p in (("20-100-10-10", "rbp", 0.1), ("20-30-10", "srbp", 0.25)):
        net = DeepNetwork(arch, rule, activation="tanh", density=p, seed=2)
        for h, C in net.C.items():
            per_unit = (C != 0).sum(axis=1)
            k = max(1, round(p * C.shape[1]))
            assert np.all(per_unit == k), (h, per_unit)


@pytest.mark.parametrize("rule", ["rbp", "srbp", "arbp", "asrbp", "bp"])
def test_many_bits_and_full_density_reduce_to_the_plain_rule(rule):
    rng = np.random.default_rng(9)
    plain = DeepNetwork("4-5-4-3", rule, activation="tanh", seed=4)
    variants = [DeepNetwork("4-5-4-3", rule, activation="tanh", seed=4, bits=50)]
    if rule != "bp":
        variants.append(DeepNetwork("4-5-4-3", rule, activation="tanh", seed=4, density=1.0))
    X, T = batch(rng, plain)
    want = plain.update(X, T)
    for net in variants:
        for a, b in zip(net.update(X, T), want):
            for h in b:
                np.testing.assert_allclose(a[h], b[h], rtol=1e-12, atol=1e-13)
    coarse = DeepNetwork("4-5-4-3", rule, activation="tanh", seed=4, bits=1)
    assert not np.allclose(coarse.update(X, T)[0][1], want[0][1])


def test_sparse_channel_keeps_its_mask_while_learning():
    rng = np.random.default_rng(10)
    net = DeepNetwork("4-6-5-3", "arbp", activation="tanh", density=0.3, seed=5)
    zeros = {h: net.C[h] == 0 for h in net.C}
    for h in net.C:
        assert np.all((~zeros[h]).sum(axis=1) == max(1, round(0.3 * net.C[h].shape[1])))
    for _ in range(3):
        net.step(*batch(rng, net), 0.5)
    for h in net.C:
        assert np.all(net.C[h][zeros[h]] == 0) and np.any(net.C[h][~zeros[h]] != 0)


def test_initialisation_is_seeded_and_scaled():
    a = DeepNetwork("20-30-10", "rbp", seed=1, scale=0.1, init="uniform")
    b = DeepNetwork("20-30-10", "rbp", seed=1, scale=0.1, init="uniform")
    c = DeepNetwork("20-30-10", "rbp", seed=1, scale=1.0, init="uniform")
    np.testing.assert_array_equal(a.W[1], b.W[1])
    np.testing.assert_allclose(10 * a.W[1], c.W[1], rtol=1e-12)
    assert np.abs(c.W[1]).max() <= np.sqrt(3 / 20)


@pytest.mark.parametrize("kwargs, match", [
    (dict(loss="hinge"), "loss"), (dict(density=0.0), "density"), (dict(bits=0), "bits"),
    (dict(init="xavier"), "initialisation"), (dict(scale=-1), "scale"),
])
def test_bad_network_options_are_spec_errors(kwargs, match):
    with pytest.raises(SpecError, match=match):
        DeepNetwork("3-3-2", "rbp", **kwargs)
    with pytest.raises(SpecError, match="density applies"):
        DeepNetwork("3-3-2", "bp", density=0.5)


def test_variant_parser_is_a_whitelist():
    assert suites.parse_variant("adaptive+bits=4", "rbp", "tanh") == (
        "arbp", {"decay": suites.KP_DECAY}, {"bits": 4})
    for bad in ("__import__('os')", "bits=1;2", "colour=3", ""):
        with pytest.raises(SpecError):
            suites.parse_variant(bad, "rbp", "tanh")


# -- data ---------------------------------------------------------------------------------------


def test_digits_is_standardised_and_split_by_class():
    d = load_digits()
    assert d.X_train.shape == (1437, 64) and d.X_test.shape == (360, 64)
    np.testing.assert_allclose(d.X_train.mean(axis=0), 0, atol=1e-12)
    train, test = d.Y_train.mean(axis=0), d.Y_test.mean(axis=0)
    assert np.max(np.abs(train - test)) < 0.01
    assert load_data("digits").X_test[0].tolist() == d.X_test[0].tolist()


def test_npz_labels_and_one_hot(tmp_path):
    rng = np.random.default_rng(11)
    X, y = rng.normal(size=(40, 3)), np.repeat(np.arange(4), 10)
    np.savez(tmp_path / "a.npz", X=X, Y=y)
    np.savez(tmp_path / "b.npz", X=X, Y=np.eye(4)[y])
    a, b = load_npz(tmp_path / "a.npz"), load_data(str(tmp_path / "b.npz"))
    np.testing.assert_array_equal(a.Y_train, b.Y_train)
    assert a.n_classes == 4 and len(a.X_test) == 8


@pytest.mark.parametrize("content, match", [
    (b"not a zip", "cannot read"), (None, "needs arrays X and Y"), ("labels", "labels"),
])
def test_bad_npz_is_a_one_line_data_error(tmp_path, content, match, capsys):
    path = tmp_path / "bad.npz"
    if content is None:
        np.savez(path, A=np.zeros(3))
    elif content == "labels":
        np.savez(path, X=np.zeros((10, 2)), Y=np.linspace(0, 1, 10))
    else:
        path.write_bytes(content)
    with pytest.raises(DataError, match=match):
        load_data(str(path))
    assert main(["experiment", "--data", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and match in err


def _idx(path, arr):
    header = bytes([0, 0, 8, arr.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in arr.shape)
    with gzip.open(path, "wb") as fh:
        fh.write(header + arr.astype(np.uint8).tobytes())


def test_mnist_and_cifar_standard_files(tmp_path):
    rng = np.random.default_rng(12)
    imgs = rng.integers(0, 256, size=(20, 4, 4))
    labels = np.arange(20) % 10
    for name, arr in (("train-images-idx3-ubyte", imgs), ("train-labels-idx1-ubyte", labels),
                      ("t10k-images-idx3-ubyte", imgs[:10]),
                      ("t10k-labels-idx1-ubyte", labels[:10])):
        _idx(tmp_path / f"{name}.gz", arr)
    m = load_mnist(tmp_path)
    assert m.X_train.shape == (20, 16) and m.n_classes == 10
    np.testing.assert_array_equal(m.Y_test.argmax(axis=1), labels[:10])
    cifar = tmp_path / "cifar"
    cifar.mkdir()
    for f in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(cifar / f, "wb") as fh:
            pickle.dump({b"data": rng.integers(0, 256, size=(10, 12)),
                         b"labels": list(range(10))}, fh)
    c = load_data(f"cifar10:{cifar}")
    assert c.X_train.shape == (50, 12) and c.X_test.shape == (10, 12)
    with pytest.raises(DataError, match="not found"):
        load_mnist(tmp_path / "cifar")
    with pytest.raises(DataError, match="OpenML"):
        load_data("mnist")


# -- results, suites, the command ------------------------------------------------------------


def tiny_data(tmp_path):
    rng = np.random.default_rng(13)
    y = np.repeat(np.arange(3), 12)
    X = rng.normal(size=(36, 4)) + 2.0 * np.eye(3, 4)[y]
    np.savez(tmp_path / "tiny.npz", X=X, Y=y)
    return str(tmp_path / "tiny.npz")


def test_table_round_trips_csv_and_json(tmp_path):
    path = tiny_data(tmp_path)
    runs = [Run(rule=r, variant=v, data=path, arch="4-5-3", epochs=2, batch_size=8)
            for r in ("bp", "srbp") for v in ("derivative", "no-derivative")]
    table = run_suite(runs)
    assert len(table) == 4 * 3
    for suffix in ("csv", "json"):
        back = ResultsTable.load(table.save(tmp_path / f"r.{suffix}"))
        assert back.columns == table.columns and len(back) == len(table)
        for a, b in zip(back.rows, table.rows):
            assert a.keys() == b.keys()
            for k in a:
                assert a[k] == b[k] or (np.isnan(a[k]) and np.isnan(b[k])), k
    s = table.summary()
    assert [(x.rule, x.variant, x.n) for x in s] == [
        ("bp", "derivative", 1), ("bp", "no-derivative", 1), ("srbp", "derivative", 1),
        ("srbp", "no-derivative", 1)]
    assert "no-derivative" in table.format_summary()


def test_suite_resumes_only_missing_runs(tmp_path, monkeypatch):
    path = tiny_data(tmp_path)
    runs = [Run(rule="rbp", variant=v, seed=s, data=path, arch="4-5-3", epochs=2)
            for v in ("derivative", "adaptive") for s in (0, 1)]
    first = run_suite(runs, out=tmp_path / "o")
    files = sorted((tmp_path / "o" / "runs").glob("*.json"))
    assert len(files) == 4 and not list((tmp_path / "o" / "runs").glob("*.tmp*"))
    files[1].unlink()
    files[2].write_text(json.dumps({"run": {}, "status": "finished", "rows": []}))  # stale
    calls = []
    real = grid.run_one
    monkeypatch.setattr(grid, "run_one",
                        lambda r, d, **k: calls.append(r) or real(r, d, **k))
    again = run_suite(runs, out=tmp_path / "o")
    assert len(calls) == 2
    assert [r["test_acc"] for r in again.rows] == [r["test_acc"] for r in first.rows]


def test_experiment_command_prints_the_table_and_writes_figures(tmp_path, capsys):
    path = tiny_data(tmp_path)
    out = tmp_path / "o"
    code = main(["experiment", "--data", path, "--arch", "4-6-5-3", "--rules", "bp,arbp",
                 "--variants", "derivative,tanh-channel", "--seeds", "2", "--epochs", "2",
                 "--symmetry-scales", "1,0.1", "--out", str(out)])
    assert code == 0
    captured = capsys.readouterr()
    text = captured.out
    assert "tanh-channel" in text and "95% interval" in text and "random-features" in text
    assert "0 finished earlier" in captured.err
    for name in ("learning_curves", "alignment_angles", "arbp_symmetry"):
        assert (out / "figures" / f"{name}.png").stat().st_size > 1000
    table = ResultsTable.load(out / "results.csv")
    assert len(table.final()) == 2 * 2 + 2 * 1 + 2 * 2 + 2  # baselines, bp, arbp, scales
    assert not table.where(rule="bp", variant="tanh-channel").rows
    main(["experiment", "--data", path, "--arch", "4-6-5-3", "--rules", "bp,arbp",
          "--variants", "derivative,tanh-channel", "--seeds", "2", "--epochs", "2",
          "--symmetry-scales", "1,0.1", "--out", str(out), "--no-figures"])
    again = capsys.readouterr()
    assert "12 runs: 12 finished earlier" in again.err and "0 to train" in again.err
    def table_of(out):
        return out.split("\ntidy table")[0].split("\n", 1)[1]

    assert table_of(again.out) == table_of(text)


def test_one_seed_prints_no_spread_and_baselines_judge_the_rules(tmp_path):
    path = tiny_data(tmp_path)
    suite = suites.Suite(data=path, arch="4-6-3", rules=("bp",), variants=("derivative",),
                              seeds=1, epochs=2)
    text = run_suite(suite).format_summary()
    assert "+- 0.000" not in text and "± 0.000" not in text
    assert "1 seed: no spread" in text
    table = run_suite(suites.with_settings(suite, seeds=3))
    summ = {x.rule: x for x in table.summary()}
    accs = [r["test_acc"] for r in table.final().where(rule="bp").rows]
    from scipy.stats import t as student  # the oracle: the textbook interval
    half = student.ppf(0.975, 2) * np.std(accs, ddof=1) / np.sqrt(3)
    assert summ["bp"].ci_low == pytest.approx(np.mean(accs) - half)
    assert summ["bp"].ci_high == pytest.approx(np.mean(accs) + half)
    assert set(summ) == {"linear", "random-features", "bp"}

def test_experiment_help_names_the_four_architectures(capsys):
    with pytest.raises(SystemExit):
        main(["experiment", "--help"])
    text = capsys.readouterr().out
    for name in ("Bidirectional", "Conjoined", "Twin", "Distinct"):
        assert name in text


def test_samples_must_be_non_empty_columns():
    net = DeepNetwork("3-4-2", "srbp")
    with pytest.raises(SpecError, match="columns"):
        net.update(np.zeros((3, 0)), np.zeros((2, 0)))
    with pytest.raises(SpecError, match="columns"):
        net.update(np.zeros((3, 5)), np.zeros((5, 2)))


def test_runs_that_train_the_same_network_are_trained_once(tmp_path, monkeypatch):
    path = tiny_data(tmp_path)
    common = dict(data=path, arch="4-5-3", epochs=2)
    runs = [Run(rule="rbp", variant="adaptive", **common),
            Run(rule="arbp", variant="adaptive", **common),
            Run(rule="arbp", variant="scale=1", **common),
            Run(rule="arbp", **common)]
    assert runs[0].identity == runs[1].identity and runs[2].identity == runs[3].identity
    assert runs[0].identity != runs[3].identity
    calls = []
    real = grid.run_one
    monkeypatch.setattr(grid, "run_one",
                        lambda r, d, **k: calls.append(r) or real(r, d, **k))
    table = run_suite(runs)
    assert len(calls) == 2
    a, b = (table.where(rule=r, variant="adaptive").column("test_loss") for r in ("rbp", "arbp"))
    np.testing.assert_array_equal(a, b)
    assert set(table.column("variant")) == {"adaptive", "scale=1", "derivative"}


def test_default_suite_runs_all_four_channel_architectures():
    suite = suites.SUITES["default"]
    assert (suite.data, suite.arch) == ("fashion-mnist", "784-256-128-10")
    runs = suite.runs()
    built = {suites.architecture_of(r.build().rule.name) for r in runs[::3]}
    assert set(suites.ARCHITECTURES) <= built
    # baselines; bp in derivative and no-derivative only; sign without adaptive/density;
    # 4 channel rules x 4 variants; ARBP from 3 scales
    per_seed = 2 + 2 + 3 + 4 * 4
    assert len(runs) == per_seed * 3 + 3
    assert not [r for r in runs if r.rule == "bp" and r.variant in ("tanh-channel", "adaptive")]


def test_symmetry_runs_only_with_arbp_among_the_rules():
    suite = suites.with_settings(suites.SUITES["quick"], rules=("bp", "rbp", "srbp"))
    assert not [r for r in suite.runs() if r.variant.startswith("scale=")]
    assert [r for r in suites.SUITES["quick"].runs() if r.variant.startswith("scale=")]


def test_measure_every_keeps_the_training_and_thins_the_rows():
    """measure_every=k: the rows of epochs 0, k, 2k, ... and the last, equal to those of a
    run measured every epoch (measuring draws nothing from the training's generator)."""
    from symdyn.training import load_digits

    data = load_digits()
    run = suites.Run(rule="arbp", arch="64-20-10", epochs=7, seed=3)
    every, _ = experiments.run_one(run, data)
    thin, status = experiments.run_one(run, data, measure_every=3)
    assert status == "finished" and [r["epoch"] for r in thin] == [0, 3, 6, 7]
    by_epoch = {r["epoch"]: r for r in every}
    for r in thin:
        assert r == by_epoch[r["epoch"]]
    with pytest.raises(SpecError, match="measure_every"):
        experiments.run_one(run, data, measure_every=0)


# -- the reported figures against independent computations -----------------------------------


def _plain_angle(a, b):
    """Degrees between two arrays, by the textbook formula on Python floats."""
    import math
    a, b = [float(x) for x in np.ravel(a)], [float(x) for x in np.ravel(b)]
    dot = sum(x * y for x, y in zip(a, b))
    na, nb = math.sqrt(sum(x * x for x in a)), math.sqrt(sum(y * y for y in b))
    return math.degrees(math.acos(max(-1.0, min(1.0, dot / (na * nb)))))


def _plain_updates(W, b, C, X, T, rule):
    """B_h O_{h-1}^T / n of a 3-layer tanh network with softmax output, written out for
    BP (``C`` ignored), RBP (``C[h]`` carries B_{h+1}) and SRBP (``C[h]`` carries E)."""
    n = X.shape[1]
    o1 = np.tanh(W[1] @ X + b[1])
    o2 = np.tanh(W[2] @ o1 + b[2])
    s3 = W[3] @ o2 + b[3]
    z = np.exp(s3 - s3.max(axis=0))
    e = T - z / z.sum(axis=0)
    back = {"bp": lambda h, B: W[h + 1].T @ B, "rbp": lambda h, B: C[h] @ B,
            "srbp": lambda h, B: C[h] @ e}[rule]
    B2 = (1 - o2**2) * back(2, e)
    B1 = (1 - o1**2) * back(1, B2)
    return {1: B1 @ X.T / n, 2: B2 @ o1.T / n}


@pytest.mark.parametrize("rule", ["bp", "rbp", "srbp"])
def test_alignment_angles_against_a_plain_formula(rule):
    rng = np.random.default_rng(21)
    net = DeepNetwork("6-7-5-4", rule, activation="tanh", seed=2)
    randomise_biases(net, rng)
    X, T = batch(rng, net, n=9)
    row = experiments.measure(net, X, T, X, T)
    mine = _plain_updates(net.W, net.b, net.C, X, T, rule)
    bp = _plain_updates(net.W, net.b, net.C, X, T, "bp")
    for h in (1, 2):
        want = _plain_angle(mine[h], bp[h])
        assert row[f"update_angle_h{h}"] == pytest.approx(want, abs=1e-6)
        if rule == "bp":
            assert row[f"update_angle_h{h}"] < 1e-5  # BP against itself
        else:
            assert row[f"update_angle_h{h}"] > 1.0  # a random channel is not BP


# -- Fashion-MNIST ----------------------------------------------------------------------------


def test_fashion_mnist_slice_of_the_real_files():
    """A slice of Debian's files (.ci/run installs dataset-fashion-mnist)."""
    from symdyn.training import load_fashion_mnist

    d = load_fashion_mnist(train=600, test=300)
    assert d.X_train.shape == (600, 784) and d.X_test.shape == (300, 784)
    assert d.Y_train.shape == (600, 10) and d.n_classes == 10
    assert set(np.unique(d.Y_train.argmax(axis=1))) == set(range(10))
    np.testing.assert_allclose(d.X_train.mean(axis=0), 0, atol=1e-9)
    # the oracle: the first label of the training file, read with gzip and nothing else
    with gzip.open("/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz") as fh:
        raw = fh.read()
    assert int.from_bytes(raw[4:8], "big") == 60000
    assert list(d.Y_train[:20].argmax(axis=1)) == list(raw[8:28])
    full_test = load_fashion_mnist("/usr/share/datasets/fashion-mnist", train=100)
    assert full_test.X_test.shape == (10000, 784)


def test_fashion_mnist_missing_names_the_package(tmp_path, monkeypatch, capsys):
    from symdyn.training import _fashion

    monkeypatch.setattr(_fashion, "FASHION_DEBIAN_DIR", tmp_path / "nowhere")
    monkeypatch.setenv("SYMDYN_DATA", str(tmp_path))
    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist"):
        load_data("fashion-mnist")
    code = main(["experiment", "--data", "fashion-mnist", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "dataset-fashion-mnist" in err[0]
    with pytest.raises(DataError, match="lacks its four files"):
        load_data(f"fashion-mnist:{tmp_path}")


def test_fashion_mnist_from_symdyn_data(tmp_path, monkeypatch):
    """$SYMDYN_DATA/fashion-mnist is looked in first (files in MNIST's IDX format)."""
    from symdyn.training import _fashion

    rng = np.random.default_rng(0)
    d = tmp_path / "fashion-mnist"
    d.mkdir()
    for stem, n in (("train", 30), ("t10k", 20)):
        x = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        y = np.arange(n, dtype=np.uint8) % 10
        (d / f"{stem}-images-idx3-ubyte").write_bytes(
            bytes([0, 0, 8, 3]) + b"".join(k.to_bytes(4, "big") for k in (n, 28, 28))
            + x.tobytes())
        (d / f"{stem}-labels-idx1-ubyte").write_bytes(
            bytes([0, 0, 8, 1]) + n.to_bytes(4, "big") + y.tobytes())
    monkeypatch.setattr(_fashion, "FASHION_DEBIAN_DIR", tmp_path / "nowhere")
    monkeypatch.setenv("SYMDYN_DATA", str(tmp_path))
    data = load_data("fashion-mnist")
    assert data.X_train.shape == (30, 784) and list(data.Y_test.argmax(axis=1)) == list(
        np.arange(20) % 10)


@pytest.mark.parametrize("rule, kwargs", [
    ("bp", {}), ("arbp", {"density": 0.5}), ("asrbp", {}), ("sign", {}),
    ("bp", {"fixed_hidden": True})])
@pytest.mark.parametrize("decay", [0, 0.1])
def test_in_place_step_is_lr_times_update(rule, kwargs, decay):
    """step() (fused, in place) adds exactly lr times update() (the reference form)."""
    rng = np.random.default_rng(4)
    r = sd.rules.as_rule(rule, decay=decay, rate=0.7) if rule != "sign" else sd.SignSymmetry(
        decay=decay, rate=0.7)
    net = DeepNetwork("5-6-4-3", r, activation="tanh", seed=1, **kwargs)
    randomise_biases(net, rng)
    X, T = batch(rng, net, n=7)
    before = {k: v.copy() for k, v in net.parameters().items()}
    dW, db, dC = net.update(X, T)
    net.step(X, T, 0.3)
    for name, d in (("W", dW), ("b", db), ("C", dC)):
        for h, u in d.items():
            np.testing.assert_allclose(net.parameters()[f"{name}{h}"],
                                       before[f"{name}{h}"] + 0.3 * u, rtol=1e-12, atol=1e-14)
    changed = {k for k in before if not np.array_equal(before[k], net.parameters()[k])}
    if kwargs.get("fixed_hidden"):
        assert changed == {"W3", "b3"}  # only the read-out learns
    for h, m in net.mask.items():
        assert np.all(net.C[h][m == 0] == 0)
