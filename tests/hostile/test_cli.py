"""Hostile command lines (issue 24): every reproducer of the issue ends in one line on stderr
and exit 2 (the shared store is in test_store.py, bad data files in test_data.py)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from symdyn.cli import main
from symdyn.errors import SpecError
from symdyn.sweep import _run

SPEC = ["--arch", "1-1-1", "--rule", "rbp"]
SWEEP = ["--set", "rule=arbp", "--set", "depth=2", "--set", "alpha=1", "--set", "beta=1",
         "--set", "starts=2", "--set", "t_final=5", "--set", "tail=2", "--no-progress"]


def _cli(argv, capsys) -> tuple[int, str, float]:
    start = time.process_time()
    code = main(list(map(str, argv)))
    seconds = time.process_time() - start
    return code, capsys.readouterr().err.strip(), seconds


def _one_line(code, err, *words):
    assert code == 2, err
    assert len(err.splitlines()) == 1 and err.startswith("symdyn"), err
    assert "Traceback" not in err
    for w in words:
        assert w in err, err


# -- expressions: limits on the value ---------------------------------------------------------


@pytest.mark.parametrize("argv, words", [
    (["integrate", *SPEC, "--values",
      "alpha=((((sqrt(2)**99)**99)**99)**99)**99,beta=1,c1=1"], ["bits"]),
    (["invariants", *SPEC, "--check", "((sqrt(2)**99)**99)**99"], ["bits"]),
    (["integrate", *SPEC, "--values", "alpha=((3/2)**99)**99,beta=1,c1=1"], ["bits"]),
    (["integrate", *SPEC, "--values", "alpha=((2**(1/2))**99)**99,beta=1,c1=1"], ["bits"]),
    (["invariants", *SPEC, "--check", "(a1*2**99)**99"], ["bits"]),
    (["invariants", *SPEC, "--check", "((a1**2)**99)**99"], ["exponent"]),
])
def test_exponent_towers_are_refused_before_sympy_evaluates_them(argv, words, capsys):
    code, err, seconds = _cli(argv, capsys)
    _one_line(code, err, *words)
    assert seconds < 30  # CPU; the refusal itself takes milliseconds (see corpus.py)


def test_moderate_powers_still_parse(capsys):
    code, err, _ = _cli(["integrate", *SPEC, "--values", "alpha=sqrt(2)**99/2**49,beta=1,c1=1",
                         "--t", "1"], capsys)
    assert code == 0, err


# -- sweep inputs -----------------------------------------------------------------------------


def test_toml_not_utf8_or_nested_too_deeply(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b'rule = "arbp"\ndepth = 2\nalpha = "\xff"\n')
    _one_line(*_cli(["sweep", bad, "--store", tmp_path / "s"], capsys)[:2], "not UTF-8")
    deep = tmp_path / "deep.toml"
    deep.write_text("a = " + "[" * 5000 + "]" * 5000)
    _one_line(*_cli(["sweep", deep, "--store", tmp_path / "s"], capsys)[:2], "nested")


@pytest.mark.parametrize("address, words", [
    ("foo://127.0.0.1:1", ["unknown scheme 'foo'"]),
    ("!!@@##", ["not a Dask address"]),
    ("tcp://127.0.0.1:1", ["cannot reach", "refused"]),
    ("tcp://127.0.0.1:99999", ["cannot reach"]),
    ("inproc://nothing", ["cannot reach"]),
])
def test_scheduler_addresses(tmp_path, address, words, capsys):
    start = time.perf_counter()
    code, err, _ = _cli(["sweep", *SWEEP, "--store", tmp_path / "s", "--scheduler", address],
                        capsys)
    _one_line(code, err, *words)
    if not address.startswith("inproc"):  # refused before any derivation or store
        assert not (tmp_path / "s").exists()
    assert time.perf_counter() - start < 60  # a loose bound; the refusal is immediate


@pytest.mark.parametrize("workers", ["-3", "0", "x", "1e9"])
def test_workers_out_of_range(tmp_path, workers, capsys):
    _one_line(*_cli(["sweep", *SWEEP, "--store", tmp_path / "s", "--workers", workers],
                    capsys)[:2], "--workers")


def test_a_scheduler_without_workers_is_refused(tmp_path, monkeypatch):
    """A cluster with no workers would leave every task waiting for ever."""
    from dask.distributed import LocalCluster

    import symdyn as sd

    monkeypatch.setattr(_run, "WORKER_WAIT_SECONDS", 2.0)
    with LocalCluster(n_workers=0, processes=False, dashboard_address=":0") as cluster:
        with pytest.raises(SpecError, match="has no workers"):
            sd.sweep({"rule": "arbp", "depth": 2, "alpha": 1, "beta": 1, "starts": 2},
                     tmp_path / "s", scheduler=cluster.scheduler_address, progress=False)


@pytest.mark.parametrize("store", ["{file}/sub", "/proc/symdyn-test-store", "{file}"])
def test_store_paths_that_cannot_be_written(tmp_path, store, capsys):
    (tmp_path / "f").write_text("x")
    target = store.format(file=tmp_path / "f")
    _one_line(*_cli(["sweep", *SWEEP, "--store", target, "--scheduler", "sync"], capsys)[:2],
              "sweep store")


# -- outputs, proofs, notebooks ---------------------------------------------------------------


@pytest.mark.parametrize("argv", [
    ["integrate", *SPEC, "--values", "alpha=1,beta=1,c1=1", "--t", "1", "--plot",
     "{file}/x.png"],
    ["integrate", *SPEC, "--values", "alpha=1,beta=1,c1=1", "--t", "1", "--plot",
     "/proc/symdyn.png"],
    ["experiment", "--out", "{file}/x", "--epochs", "1", "--seeds", "1", "--rules", "bp",
     "--variants", "derivative", "--symmetry-scales", "none"],
    ["experiment", "--out", "/proc/symdyn-x", "--epochs", "1", "--seeds", "1", "--rules",
     "bp", "--variants", "derivative", "--symmetry-scales", "none"],
    ["notebooks", "--out", "{file}/x"],
])
def test_output_paths_under_a_file_or_read_only(tmp_path, argv, capsys):
    (tmp_path / "f").write_text("x")
    argv = [a.replace("{file}", str(tmp_path / "f")) for a in argv]
    _one_line(*_cli(argv, capsys)[:2])


def test_a_plot_of_one_trajectory(tmp_path, capsys):
    code, err, _ = _cli(["integrate", *SPEC, "--values", "alpha=1,beta=1,c1=1", "--t", "1",
                         "--plot", tmp_path / "x.png"], capsys)
    assert code == 0 and (tmp_path / "x.png").stat().st_size > 0, err


@pytest.mark.parametrize("content, words", [
    ("def f(:\n", ["syntax error at line 1"]),
    ("raise RuntimeError('boom')\n", ["fails to import", "boom"]),
    ("raise SystemExit(3)\n", ["fails to import"]),
    ("x = 1\n", ["no proofs"]),
    (None, ["no proofs"]),
])
@pytest.mark.parametrize("extra", [["--quick"], ["--list"]])
def test_proofs_directories(tmp_path, content, words, extra, capsys):
    if content is not None:
        (tmp_path / "p.py").write_text(content)
    _one_line(*_cli(["verify", "--proofs", tmp_path, *extra], capsys)[:2], *words)


@pytest.mark.parametrize("argv", [["notebooks", "--timeout", "nan", "--out", "o"],
                                  ["notebooks", "--timeout", "inf", "--out", "o"],
                                  ["notebooks", "--timeout", "-1", "--out", "o"],
                                  ["verify", "--budget", "nan"], ["verify", "--budget", "inf"]])
def test_timeouts_and_budgets_are_finite(argv, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _one_line(*_cli(argv, capsys)[:2], "finite" if "-1" not in argv else "positive")


# -- estimates before work --------------------------------------------------------------------


@pytest.mark.parametrize("option, value, words", [
    # by hand: 784-256-128-10 has 234,752 weights; one epoch of one run on Fashion-MNIST's
    # 60,000 images is 2 x 60,000 x 234,752 = 2.817e10 updates; the default suite has 72 runs
    ("--epochs", "100000", ["72 runs x 100,000 epochs", "fits: these 72 runs of at most 49 "
                            "epochs"]),
    ("--seeds", "10000", ["230,003 runs x 10 epochs", "fits: 354 runs of 10 epochs"]),
])
def test_experiments_are_estimated_before_any_work(tmp_path, option, value, words, capsys):
    code, err, seconds = _cli(["experiment", option, value, "--out", tmp_path / "e"], capsys)
    _one_line(code, err, "weight-sample updates", *words)
    assert not (tmp_path / "e").exists()


def test_the_work_limit_is_arithmetic_not_a_guess():
    """The estimate by hand: 2 runs of 64-100-10 (3 and 5 epochs) on 100 samples are
    (3 + 5) x 100 x 2 x (6400 + 1000) = 11,840,000 updates, 1,480,000 per epoch of a run.
    Just below the limit, the most epochs that fit is a cap of 4 (3 + 4 epochs: 10,360,000)
    and the most runs at their epochs is 1 (the 3-epoch run: 4,440,000)."""
    from symdyn.training import Run
    from symdyn.training._work import check_suite_work, suite_work

    runs = [Run(rule="bp", arch="64-100-10", epochs=3), Run(rule="rbp", arch="64-100-10",
                                                          epochs=5)]
    assert suite_work(runs, 100) == 11_840_000
    check_suite_work(runs, 100, limit=11_840_000)  # fits exactly
    with pytest.raises(SpecError, match="these 2 runs of at most 4 epochs or 1 of these runs at "
                                         "their own epochs$"):
        check_suite_work(runs, 100, limit=11_840_000 - 1)
    with pytest.raises(SpecError, match="these 2 runs of at most 1 epochs$"):  # 2,960,000
        check_suite_work(runs, 100, limit=4_000_000)
    with pytest.raises(SpecError, match="not one run of one epoch"):
        check_suite_work(runs, 100, limit=1_000_000)


def test_a_suite_is_sized_from_its_settings_with_the_largest_request_that_fits():
    """quick: 26 runs (2 baselines + 2 bp + 4 x 4 channel rules + 3 sign variants, 1 seed,
    plus ARBP from 3 scales) of 64-100-100-10 (17,400 weights); on 1,000 samples one epoch
    of one run is 2 x 1,000 x 17,400 = 34,800,000 updates."""
    from symdyn.training._suite import SUITES, with_settings
    from symdyn.training._work import check_suite_work, suite_runs

    quick = SUITES["quick"]
    assert suite_runs(quick) == len(quick.runs()) == 26
    big = with_settings(quick, epochs=100_000)
    limit = 26 * 10 * 34_800_000  # ten epochs of every run
    check_suite_work(with_settings(quick, epochs=10), 1_000, limit)
    with pytest.raises(SpecError) as info:
        check_suite_work(big, 1_000, limit)
    text = str(info.value)
    assert "26 runs x 100,000 epochs x 1,000 samples" in text
    assert "these 26 runs of at most 10 epochs" in text and "0 runs" not in text
    assert "\n" not in text
    few = with_settings(quick, epochs=2)  # 2 runs of 2 epochs fit in 5 epochs of one run
    with pytest.raises(SpecError, match=r"fits: 2 runs of 2 epochs \(fewer seeds"):
        check_suite_work(few, 1_000, 5 * 34_800_000)


def test_run_suite_checks_the_work_limit_from_the_python_api(tmp_path):
    """run_suite itself refuses an oversized grid before training anything (no run file,
    no time spent): digits' 1,437 training samples come from the loader's constant, not
    from loading the data."""
    from symdyn.training import Run, run_suite

    runs = [Run(rule="bp", arch="64-100-10", epochs=100_000, seed=s) for s in range(2)]
    with pytest.raises(SpecError, match=r"2 runs x 100,000 epochs x 1,437 samples"):
        run_suite(runs, out=tmp_path / "o", max_work=1e9)
    assert not list((tmp_path / "o").rglob("*.json"))
    with pytest.raises(SpecError, match="max_work must be a positive number"):
        run_suite(runs[:1], max_work=float("nan"))


@pytest.mark.parametrize("variant, words", [
    ("density=2", "density must be in (0, 1]"), ("bits=0", "bits must be an integer"),
    ("scale=-1", "scale must be a non-negative"), ("decay=1e999", "must be finite"),
])
def test_bad_variant_settings_are_refused_before_the_data_or_any_training(
        variant, words, tmp_path, capsys):
    # they were refused only when a run of that variant was built, after the data loaded
    # and the runs before it trained (a minute of CPU for density=2 on Fashion-MNIST)
    _one_line(*_cli(["experiment", "--variants", variant, "--out", tmp_path / "e"],
                    capsys)[:2], words)
    assert not (tmp_path / "e").exists()


def test_an_architecture_that_does_not_fit_the_data_is_refused_before_training(tmp_path):
    import numpy as np

    from symdyn.training import ClassificationData, Run, run_suite

    X, Y = np.zeros((8, 3)), np.eye(2)[np.arange(8) % 2]
    data = ClassificationData("tiny", X, Y, X, Y)
    with pytest.raises(SpecError, match="architecture 4-2 does not fit data tiny"):
        run_suite([Run(rule="bp", arch="3-2", epochs=1), Run(rule="bp", arch="4-2",
                                                            epochs=1)],
                  data=data, out=tmp_path / "o")
    assert not list((tmp_path / "o").rglob("*.json"))  # the run that fits did not train


@pytest.mark.parametrize("depth", [33, 100, 1000])
def test_very_deep_derivations_are_refused_with_the_deepest_that_fits(depth, capsys):
    arch = "-".join(["1"] * (depth + 1))
    _one_line(*_cli(["derive", "--arch", arch, "--rule", "arbp"], capsys)[:2],
              f"{depth} weight layers", "deepest that fits is 32")


def test_the_deepest_derivation_that_fits_derives():
    import symdyn as sd

    assert sd.derive("-".join(["1"] * 33), "bp").size == 32


def _corpus():
    sys.path.insert(0, str(Path(__file__).parent))
    import corpus

    return corpus


def test_a_quick_subset_of_the_corpus(tmp_path):
    """One input in 25 of each surface of corpus.py (and every text-as-code input): no
    traceback, hang, multi-line error or text run as code."""
    tallies = _corpus().run_all(every=25, root=tmp_path)
    assert sum(t.inputs for t in tallies) > 100 and len(tallies) >= 8
    for t in tallies:
        assert t.tracebacks == t.hangs == t.multiline == t.code_run == 0, \
            (t.line(), t.failures[:5])


def test_the_corpus_sees_text_run_as_code(tmp_path):
    """Negative control: an entry point that sympifies its argument is counted as code
    run (once per input), and the marker is cleared for the next input."""
    import sympy as sp

    corpus = _corpus()
    marker = tmp_path / "marker"
    unsafe = ("unsafe", lambda: sp.sympify(corpus.injection(marker)))
    (t,) = corpus.run_api([unsafe, unsafe, ("safe", lambda: None)], marker)
    assert t.code_run == 2 and not marker.exists()


@pytest.mark.slow
def test_the_corpus_in_full(tmp_path):
    """Every input of corpus.py: zero tracebacks, hangs, multi-line errors, data loss, text
    run as code."""
    for t in _corpus().run_all(every=1, full=True, root=tmp_path):
        assert t.tracebacks == t.hangs == t.multiline == t.data_loss == t.code_run == 0, \
            (t.line(), t.failures[:5])


def test_the_suite_names_the_channel_networks_without_importing_them():
    from symdyn.rules import CHANNEL_NETWORKS
    from symdyn.rules._networks import ONE_SIDED
    from symdyn.training._suite import CHANNEL_NETWORK_NAMES
    from symdyn.training._suite import ONE_SIDED as SUITE_ONE_SIDED

    assert tuple(CHANNEL_NETWORKS) == CHANNEL_NETWORK_NAMES and ONE_SIDED == SUITE_ONE_SIDED
