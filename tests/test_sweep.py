"""Sweeps: the store survives SIGKILL and resumes to the same result, results do not depend
on the number of workers, bad stores and specs fail in one line (exit 2)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import symdyn as sd
from symdyn.cli import main
from symdyn.errors import DataError, SpecError
from symdyn.sweep._spec import SweepSpec, load_spec

ROOT = Path(__file__).resolve().parents[1]
SMALL = {"rule": "arbp", "depth": [2, 3], "scale": 0.5, "alpha": 1, "beta": 1, "starts": 12,
         "chunk": 4, "t_final": 200, "tail": 200, "samples": 400, "certify": 1}


def _same(a, b):
    assert a.attrs["identity"] == b.attrs["identity"]
    for k in a.data_vars:
        np.testing.assert_array_equal(a[k].values, b[k].values, err_msg=k)


def test_spec_identity_is_canonical_and_values_are_parsed_without_eval():
    a = SweepSpec.from_mapping({"rule": "ARBP", "depth": [3, 4], "alpha": 1, "beta": "1.0"})
    b = SweepSpec.from_mapping({"beta": 1.0, "alpha": 1.0, "depth": [3, 4], "rule": "arbp"})
    assert a.identity == b.identity and len(a.cells) == 2
    assert a.identity != SweepSpec.from_mapping({**b.fixed, "depth": [3, 5]}).identity
    for bad in ({"rule": "__import__('os')", "depth": 3}, {"rule": "arbp", "depth": 3,
                                                           "alpha": "2**10"},
                {"rule": "arbp", "arch": "1-1;1"}, {"rule": "arbp"},
                {"rule": "arbp", "depth": [3, 3]}):
        with pytest.raises(SpecError):
            SweepSpec.from_mapping(bad)


def test_random_cells_are_drawn_from_the_spec_hash(tmp_path):
    raw = {"rule": "arbp", "depth": 3, "random": {"cells": 5, "scale": [0.01, 1.0, "log"],
                                                  "rate_ratio": [0.5, 2.0]}}
    a, b = SweepSpec.from_mapping(raw).cells, SweepSpec.from_mapping(raw).cells
    assert a == b and len(a) == 5
    assert all(0.01 <= c["scale"] <= 1 and 0.5 <= c["rate_ratio"] <= 2 for c in a)
    assert len({c["scale"] for c in a}) == 5
    path = tmp_path / "s.toml"
    path.write_text('rule = "arbp"\ndepth = 3\n[random]\ncells = 5\nscale = [0.01, 1.0, "log"]'
                    '\nrate_ratio = [0.5, 2.0]\n')
    assert load_spec(path).identity == SweepSpec.from_mapping(raw).identity


def test_sweep_resumes_only_missing_chunks_and_loads_as_xarray(tmp_path):
    run = sd.sweep(SMALL, tmp_path / "st", scheduler="sync", progress=False)
    assert (run.chunks, run.computed, run.rows) == (6, 6, 24)
    again = sd.sweep(SMALL, tmp_path / "st", scheduler="sync", progress=False)
    assert (again.computed, again.already_done) == (0, 6)
    ds = sd.load_sweep(tmp_path / "st")
    assert dict(ds.sizes) == {"cell": 2, "start": 12, "component": 5}
    assert list(ds["depth"].values) == [2, 3]
    assert ds["done"].values.all()
    # the oracle of the classification: converged rows reach P = alpha/beta = 1 or a
    # critical set; depth-2 ARBP (1-1-1) rows from these starts converge
    d2 = ds.sel(cell=0)
    assert set(d2["end"].values) == {"converged"}
    P = d2["y_end"].values[:, 0] * d2["y_end"].values[:, 1]
    mins = d2["endpoint"].values == "minimum"
    np.testing.assert_allclose(P[mins], 1.0, atol=1e-5)
    # deleting a chunk recomputes exactly it, to the same numbers
    os.remove(tmp_path / "st" / "chunks" / "cell00001-chunk00002.npz")
    again = sd.sweep(SMALL, tmp_path / "st", scheduler="sync", progress=False)
    assert again.computed == 1
    _same(ds, sd.load_sweep(tmp_path / "st"))


def test_one_and_two_workers_give_identical_stores(tmp_path):
    sd.sweep(SMALL, tmp_path / "w1", workers=1, processes=False, progress=False)
    sd.sweep(SMALL, tmp_path / "w2", workers=2, processes=False, progress=False)
    _same(sd.load_sweep(tmp_path / "w1"), sd.load_sweep(tmp_path / "w2"))


@pytest.mark.slow
def test_existing_cluster_of_two_worker_processes(tmp_path):
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster:
        run = sd.sweep(SMALL, tmp_path / "c", scheduler=cluster.scheduler_address,
                       progress=False)
    assert run.computed == 6
    sd.sweep(SMALL, tmp_path / "s", scheduler="sync", progress=False)
    _same(sd.load_sweep(tmp_path / "c"), sd.load_sweep(tmp_path / "s"))


def test_sigkill_mid_run_then_resume_equals_an_uninterrupted_run(tmp_path):
    spec = {**SMALL, "starts": 24, "chunk": 2}  # 24 chunks
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    store = tmp_path / "killed"
    code = ("import json, sys, symdyn as sd; spec = json.load(open(sys.argv[1])); "
            "sd.sweep(spec, sys.argv[2], workers=1, processes=False, progress=False)")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "spec.json"),
                             str(store)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            if len(list((store / "chunks").glob("cell*.npz"))) >= 3:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the sweep finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
    done = len(list((store / "chunks").glob("cell*.npz")))
    assert 3 <= done < 24
    partial = sd.load_sweep(store)  # every chunk present is whole
    assert int(partial["done"].sum()) == 2 * done
    run = sd.sweep(spec, store, scheduler="sync", progress=False)
    assert run.computed == 24 - done and run.already_done == done
    assert not list((store / "chunks").glob(".tmp-*"))
    sd.sweep(spec, tmp_path / "whole", scheduler="sync", progress=False)
    _same(sd.load_sweep(store), sd.load_sweep(tmp_path / "whole"))


def _cli(capsys, *argv):
    code = main(list(argv))
    err = capsys.readouterr().err.strip()
    return code, err


def test_spec_mismatch_foreign_and_corrupted_stores_fail_in_one_line(tmp_path, capsys):
    st = tmp_path / "st"
    sd.sweep(SMALL, st, scheduler="sync", progress=False)
    args = ["--set", "rule=arbp", "--set", "depth=2,4", "--set", "alpha=1", "--set",
            "beta=1", "--store", str(st), "--scheduler", "sync", "--no-progress"]
    code, err = _cli(capsys, "sweep", *args)
    assert code == 2 and len(err.splitlines()) == 1 and "holds sweep" in err
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    code, err = _cli(capsys, "sweep", *args[:-5], "--store", str(foreign), "--scheduler",
                     "sync")
    assert code == 2 and len(err.splitlines()) == 1 and "not a symdyn sweep store" in err
    code, err = _cli(capsys, "sweep", "--summary", str(foreign))
    assert code == 2 and "not a symdyn sweep store" in err
    (st / "chunks" / "cell00000-chunk00001.npz").write_bytes(b"garbage")
    code, err = _cli(capsys, "sweep", "--summary", str(st))
    assert code == 2 and len(err.splitlines()) == 1 and "cell00000-chunk00001" in err
    (st / "spec.json").write_text("{not json")
    code, err = _cli(capsys, "sweep", "--summary", str(st))
    assert code == 2 and "corrupted" in err
    code, err = _cli(capsys, "sweep", "--set", "rule=arbp", "--set", "depth=3", "--set",
                     "alpha=1", "--set", "beta=1", "--set", "gamma=1", "--store",
                     str(tmp_path / "new"), "--scheduler", "sync")
    assert code == 2 and "gamma" in err and len(err.splitlines()) == 1
    with pytest.raises(DataError):
        sd.load_sweep(tmp_path / "nothing")


def test_cli_summary_prints_the_table(tmp_path, capsys):
    sd.sweep(SMALL, tmp_path / "st", scheduler="sync", progress=False)
    assert main(["sweep", "--summary", str(tmp_path / "st")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].split()[:2] == ["depth", "rows"] and out[2].split()[:3] == ["2", "12/12",
                                                                            "1.000"]


def test_phase_diagram_shows_the_shares_per_cell():
    import xarray as xr

    from symdyn.sweep._plots import phase_diagram

    end = np.array([["converged"] * 4, ["converged", "periodic", "periodic", "undecided"],
                    ["diverged"] * 2 + ["converged"] * 2, ["periodic"] * 4])
    ds = xr.Dataset({"end": (("cell", "start"), end),
                     "done": (("cell", "start"), np.ones((4, 4), bool)),
                     "certified": (("cell", "start"), end == "periodic"),
                     "period": (("cell", "start"), np.where(end == "periodic", 5.0, np.nan))},
                    coords={"depth": ("cell", [3, 3, 4, 4]),
                            "scale": ("cell", [0.1, 1.0, 0.1, 1.0])}, attrs={"identity": "x"})
    fig = phase_diagram(ds, x="scale", y="depth")
    axes = fig.axes
    conv = axes[0].images[0].get_array()
    np.testing.assert_allclose(conv, [[1.0, 0.25], [0.5, 0.0]])  # rows: depth 3, 4
    np.testing.assert_allclose(axes[1].images[0].get_array(), [[0, 0.5], [0, 1.0]])
    np.testing.assert_allclose(axes[3].images[0].get_array(), [[0, 0], [0.5, 0]])
    with pytest.raises(SpecError):
        phase_diagram(ds.drop_vars("scale"))
