"""Experiment grids: each run a task, written atomically, resumed after a kill, and the same
table in this process and on 1 and 2 Dask workers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from symdyn.cli import main
from symdyn.training import Run, plan_suite, run_suite


def _tiny(tmp_path):
    rng = np.random.default_rng(5)
    y = np.repeat(np.arange(3), 14)
    X = rng.normal(size=(42, 5)) + 1.5 * np.eye(3, 5)[y]
    np.savez(tmp_path / "tiny.npz", X=X, Y=y)
    return str(tmp_path / "tiny.npz")


def _runs(path):
    return [Run(rule=r, variant=v, seed=s, data=path, arch="5-6-4-3", epochs=3, batch_size=8)
            for r, v in (("bp", "derivative"), ("srbp", "no-derivative"),
                         ("arbp", "tanh-channel"), ("random-features", "derivative"))
            for s in (0, 1)]


def _measurements(table):
    return [{k: v for k, v in r.items() if not (isinstance(v, float) and np.isnan(v))}
            for r in table.rows]


@pytest.mark.slow  # two local Dask clusters: about 2.5 min on a loaded 2-core machine
def test_in_process_and_one_and_two_workers_give_the_same_table(tmp_path):
    path = _tiny(tmp_path)
    runs = _runs(path)
    here = run_suite(runs, out=tmp_path / "a")
    one = run_suite(runs, out=tmp_path / "b", scheduler="local", workers=1)
    two = run_suite(runs, out=tmp_path / "c", scheduler="local", workers=2)
    assert _measurements(here) == _measurements(one) == _measurements(two)
    for d in ("a", "b", "c"):
        files = sorted((tmp_path / d / "runs").iterdir())
        assert len(files) == len(runs) and all(f.suffix == ".json" for f in files)


def test_a_killed_grid_resumes_without_redoing_finished_runs(tmp_path):
    out = tmp_path / "grid"
    args = ["experiment", "--suite", "quick", "--rules", "bp,rbp,srbp", "--baselines", "none",
            "--variants", "derivative,no-derivative", "--seeds", "2", "--epochs", "3",
            "--symmetry-scales", "none", "--no-figures", "--out", str(out)]
    proc = subprocess.Popen([sys.executable, "-m", "symdyn", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    store = out / "runs"
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if store.exists() and len(list(store.glob("*.json"))) >= 2:
                break
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    before = {f.name: (f.stat().st_mtime_ns, f.read_bytes()) for f in store.glob("*.json")}
    assert len(before) >= 2
    for content in (b for _, b in before.values()):
        json.loads(content)  # every file on disk is whole: written atomically
    plan = plan_suite([r for r in _suite_runs(args)], out)
    assert len(plan.done) == len(before) and len(plan.to_train) == 12 - len(before)
    assert main(args) == 0
    after = {f.name: (f.stat().st_mtime_ns, f.read_bytes()) for f in store.glob("*.json")}
    assert len(after) == 12
    assert all(after[name] == before[name] for name in before)  # finished runs not redone


def _suite_runs(args):
    from symdyn.training import SUITES
    from symdyn.training._suite import with_settings

    return with_settings(SUITES["quick"], rules=("bp", "rbp", "srbp"), baselines=(),
                         variants=("derivative", "no-derivative"), seeds=2, epochs=3,
                         symmetry_scales=()).runs()


@pytest.mark.slow  # waits for the connection timeout
def test_unreachable_scheduler_is_one_line(tmp_path, capsys):
    path = _tiny(tmp_path)
    code = main(["experiment", "--data", path, "--arch", "5-4-3", "--rules", "bp",
                 "--variants", "derivative", "--seeds", "1", "--epochs", "1", "--no-figures",
                 "--scheduler", "tcp://127.0.0.1:9", "--out", str(tmp_path / "o")])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "cannot reach the Dask scheduler" in err[-1]


@pytest.mark.parametrize("bad", ["bp,nonsense"])
def test_unknown_rule_in_a_grid_is_a_usage_error(tmp_path, capsys, bad):
    code = main(["experiment", "--data", _tiny(tmp_path), "--rules", bad, "--out",
                 str(tmp_path / "o")])
    assert code == 2 and "unknown rule" in capsys.readouterr().err
