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
    # every decided row names its route; the summary counts them
    decided = ds["end"].values != "undecided"
    assert set(ds["route"].values[decided]) <= {"integrator", "returns", "level curve"}
    assert set(ds["route"].values[~decided]) <= {""}
    assert "decided by: integrator" in sd.sweep_summary(tmp_path / "st")
    P = d2["y_end"].values[:, 0] * d2["y_end"].values[:, 1]
    mins = d2["endpoint"].values == "minimum"
    np.testing.assert_allclose(P[mins], 1.0, atol=1e-5)
    # every chunk draws starts of its own (3 chunks of 4 rows per cell): no start repeats in
    # a cell, and the cells' starts differ; each component looks like N(0, 0.5^2)
    firsts = []
    for cell, size in enumerate(ds["state_size"].values):
        rows = ds["y0"].values[cell][:, :size]
        assert np.isfinite(rows).all() and len({tuple(r) for r in rows}) == 12
        chunks = rows.reshape(3, 4, size)
        assert all(not np.any(np.all(np.isclose(chunks[i][:, None], chunks[j][None]), axis=2))
                   for i in range(3) for j in range(i))
        firsts.append(rows[:, :3])
        assert 0.25 < float(np.std(rows)) < 1.0 and abs(float(np.mean(rows))) < 0.3
    assert not np.allclose(firsts[0], firsts[1])
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
    assert out[-3].startswith("total: converged 23, periodic 1")
    assert out[-2] == "decided by: integrator 23, returns 1, level curve 0"
    assert out[-1].startswith("periods: min ")
    # a chunk written before the route column reads with routes "" ("not recorded")
    path = tmp_path / "st" / "chunks" / "cell00000-chunk00000.npz"
    with np.load(path) as z:
        old = {k: z[k] for k in z.files if k != "route"}
    np.savez(path, **old)
    ds = sd.load_sweep(tmp_path / "st")
    assert set(ds["route"].values[0, :4]) == {""} and ds["done"].values.all()
    assert "not recorded 4" in sd.sweep_summary(tmp_path / "st")


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
                            "scale": ("cell", [0.1, 1.0, 0.1, 1.0])},
                    attrs={"identity": "x", "spec": '{"fixed": {"rule": "arbp", "alpha": 1.0, '
                                                    '"starts": 4}}'})
    fig = phase_diagram(ds, x="scale", y="depth")
    axes = fig.axes
    conv = axes[0].images[0].get_array()
    np.testing.assert_allclose(conv, [[1.0, 0.25], [0.5, 0.0]])  # rows: depth 3, 4
    np.testing.assert_allclose(axes[1].images[0].get_array(), [[0, 0.5], [0, 1.0]])
    np.testing.assert_allclose(axes[3].images[0].get_array(), [[0, 0], [0.5, 0]])
    # a colour bar says what the colours mean; the title says what was swept
    bars = [ax for ax in fig.axes if ax.get_ylabel() == "share of the cell's starts"]
    assert len(bars) == 1 and len(fig.axes) == 5
    title = fig._suptitle.get_text()
    assert title.startswith("rule arbp, alpha=1, 4 starts per cell: share of starts")
    with pytest.raises(SpecError):
        phase_diagram(ds.drop_vars("scale"))


# -- issue 22: compiled rows, limits before any work -------------------------------------------


def test_compiled_chunk_classifies_every_row_as_the_numpy_path():
    """The sweep's rows on the compiled backend (integration, dense tail samples, their
    returns to the section, convergence, blow-up) against the numpy path, row by row, on a
    sample with converged and periodic rows (and the periodic rows' periods)."""
    pytest.importorskip("numba")
    from symdyn.sweep._run import compute_chunk

    spec = SweepSpec.from_mapping({"rule": "arbp", "depth": 3, "scale": 0.5, "alpha": 1,
                                   "beta": 1, "starts": 48, "certify": 1})
    cell = spec.cells[0]
    a = compute_chunk(cell, spec.identity, 0, 0, 48, "numpy")
    b = compute_chunk(cell, spec.identity, 0, 0, 48, "numba")
    assert {"converged", "periodic"} <= set(a["end"])  # the sample has both kinds
    np.testing.assert_array_equal(a["end"], b["end"])
    np.testing.assert_array_equal(a["certified"], b["certified"])
    per = a["end"] == "periodic"
    np.testing.assert_allclose(b["period"][per], a["period"][per], rtol=1e-5)
    conv = a["end"] == "converged"
    np.testing.assert_allclose(b["y_end"][conv], a["y_end"][conv], rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("setting, message", [
    ("starts=1000000000000", "above the limit of 1,000,000,000 rows"),
    ("t_final=1e308", "t_final = 1e+308 is above the limit"),
    ("tail=1e300", "tail = 1e+300 is above the limit"),
    ("depth=200", "depth must be between 1 and 16"),
    ("t_final=0", "t_final must be positive"),
    ("scale=-1", "scale must be positive"),
    ("rtol=2", "rtol = 2 is above the limit"),
    ("fine=100000000", "fine must be between 10"),
    ("certify=99999999", "certify = 99999999 is above the limit"),
    ("alpha=" + ",".join(str(i) for i in range(20_000)), "has 20,000 values"),
])
def test_hostile_specs_end_in_one_line_before_any_work(tmp_path, capsys, monkeypatch,
                                                       setting, message):
    derive_module = sys.modules["symdyn.derive"]  # symdyn.derive is also the function

    def never(*args, **kwargs):
        raise AssertionError("derived before the limits were checked")

    monkeypatch.setattr(derive_module, "derive", never)
    args = ["--set", "rule=arbp", "--set", "alpha=1", "--set", "beta=1"]
    if not setting.startswith("depth"):
        args += ["--set", "depth=3"]
    code, err = _cli(capsys, "sweep", *args, "--set", setting, "--store",
                     str(tmp_path / "st"), "--scheduler", "sync")
    assert code == 2 and len(err.splitlines()) == 1 and message in err, err
    assert not (tmp_path / "st").exists()  # nothing written either


def test_a_million_cell_grid_is_refused_with_its_size():
    from symdyn.sweep._plan import check_limits

    raw = {"rule": "arbp", "depth": 3, "alpha": list(range(1, 101)),
           "beta": list(range(1, 101)), "scale": list(range(1, 101))}
    with pytest.raises(SpecError, match="1,000,000 cells, above the limit"):
        check_limits(SweepSpec.from_mapping(raw))
    # within the limits: the estimate names rows, time, memory and results
    from symdyn.sweep._plan import make_plan
    from symdyn.sweep._run import cell_system

    plan = make_plan(SweepSpec.from_mapping({**SMALL, "starts": 2500, "chunk": 0}), cell_system,
                     backend="numpy")
    assert plan.rows == 5000 and [t[3] for t in plan.tasks] == [1000, 1000, 500] * 2
    assert "5,000 rows in 6 chunks" in plan.describe(2) and "CPU-s" in plan.describe(2)


def test_the_sweep_spec_knows_every_rule_without_importing_them():
    from symdyn.rules import RULES
    from symdyn.sweep._spec import RULE_NAMES

    assert tuple(RULES) == RULE_NAMES


def test_a_sweep_of_too_many_chunk_files_is_refused_with_the_chunk_that_fits():
    from symdyn.sweep._plan import check_limits

    raw = {"rule": "arbp", "depth": 2, "alpha": 1, "beta": 1, "starts": 100_000_000,
           "chunk": 1}
    with pytest.raises(SpecError, match="100,000,000 chunk files.*chunk = 10 or more"):
        check_limits(SweepSpec.from_mapping(raw))
    check_limits(SweepSpec.from_mapping({**raw, "chunk": 10}))  # 10,000,000 files: fits
    with pytest.raises(SpecError, match="above the limit of 100,000,000 starts per cell"):
        check_limits(SweepSpec.from_mapping({**raw, "starts": 10**9, "chunk": 0}))
