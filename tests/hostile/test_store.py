"""Hostile stores (issue 24): two sweeps on one store, chunk names past 99,999, damaged
``spec.json`` and chunks, FIFOs and headers that claim more than the file holds. Each ends
in a :class:`~symdyn.DataError` (one line, exit 2 on the command line) or, for a shared
store, in every chunk present and equal to a clean run."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import symdyn as sd
from symdyn.cli import main
from symdyn.errors import DataError
from symdyn.sweep import _store, load_spec

ROOT = Path(__file__).resolve().parents[2]
SMALL = {"rule": "arbp", "depth": 2, "alpha": 1.0, "beta": 1.0, "starts": 4, "chunk": 2,
         "t_final": 50.0, "tail": 20.0}


@pytest.fixture(scope="module")
def clean_store(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("clean") / "store"
    sd.sweep(SMALL, path, scheduler="sync", progress=False)
    return path


@pytest.fixture
def store(clean_store, tmp_path) -> Path:
    path = tmp_path / "store"
    shutil.copytree(clean_store, path)
    return path


def _summary(capsys, store) -> tuple[int, str]:
    code = main(["sweep", "--summary", str(store)])
    err = capsys.readouterr().err.strip()
    return code, err


def _one_line(code: int, err: str, *words: str) -> None:
    assert code == 2, err
    assert len(err.splitlines()) == 1 and err.startswith("symdyn"), err
    for w in words:
        assert w in err, err


# -- names ------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", [(0, 0), (0, 99_999), (0, 100_000), (100_000, 0),
                                 (123_456, 7), (10**9, 2 * 10**6)])
def test_chunk_names_parse_back_at_any_index(key, tmp_path):
    (tmp_path / "chunks").mkdir()
    for k in {key, (1, 1)}:
        _store.chunk_path(tmp_path, *k).write_bytes(b"")
    assert _store.done_chunks(tmp_path) == {key, (1, 1)}
    assert _store.parse_chunk_name(_store.chunk_name(*key)) == key


@pytest.mark.parametrize("name", ["cell0001-chunk00001.npz", "cell+0001-chunk00001.npz",
                                  "cell000001-chunk00001.npz", "cell00001-chunk00001.npz.x",
                                  "cell00001-chunk00001", "cell１２３４５-chunk00001.npz",
                                  ".tmp-cell00001-chunk00001.npz-h-1-" + "0" * 32])
def test_names_that_are_not_chunks_are_ignored(name, tmp_path):
    (tmp_path / "chunks").mkdir()
    (tmp_path / "chunks" / name).write_bytes(b"")
    assert _store.done_chunks(tmp_path) == set()


# -- two sweeps on one store ------------------------------------------------------------------


def test_a_live_writers_temporary_file_survives_a_second_open(store):
    chunks = store / "chunks"
    mine = chunks / f".tmp-cell00000-chunk00009.npz-{_store._HOST}-{os.getpid()}-{'a' * 32}"
    mine.write_bytes(b"in flight")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    gone = chunks / f".tmp-cell00000-chunk00008.npz-{_store._HOST}-{dead}-{'b' * 32}"
    gone.write_bytes(b"left by a killed writer")
    old = chunks / f".tmp-cell00000-chunk00007.npz-elsewhere-1-{'c' * 32}"
    old.write_bytes(b"from another host, long ago")
    os.utime(old, (time.time() - 2 * _store.STALE_SECONDS,) * 2)
    foreign = chunks / f".tmp-cell00000-chunk00006.npz-elsewhere-1-{'d' * 32}"
    foreign.write_bytes(b"another host, now")
    sd.sweep(SMALL, store, scheduler="sync", progress=False)
    assert mine.exists() and foreign.exists()
    assert not gone.exists() and not old.exists()


def test_two_concurrent_sweeps_on_one_store_both_complete_equal_to_a_clean_run(tmp_path):
    spec = {**SMALL, "starts": 40, "chunk": 1}  # 40 chunks
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    shared, clean = tmp_path / "shared", tmp_path / "clean"
    code = ("import json, sys, symdyn as sd; spec = json.load(open(sys.argv[1])); "
            "sd.sweep(spec, sys.argv[2], scheduler='sync', progress=False)")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def start():
        return subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "spec.json"),
                                 str(shared)], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)

    first = start()
    try:
        deadline = time.time() + 120
        while time.time() < deadline and first.poll() is None and \
                len(_store.done_chunks(shared)) < 2:
            time.sleep(0.05)
        second = start()
        errs = [p.communicate(timeout=600)[1] for p in (first, second)]
    finally:
        for p in (first, locals().get("second")):
            if p is not None and p.poll() is None:
                p.kill()
    assert first.returncode == 0 and second.returncode == 0, errs
    sd.sweep(spec, clean, scheduler="sync", progress=False)
    assert _store.done_chunks(shared) == _store.done_chunks(clean)
    assert len(_store.done_chunks(clean)) == 40
    ident = load_spec(spec).identity
    for cell, chunk in _store.done_chunks(clean):
        a = _store.read_chunk(shared, cell, chunk, ident, rows=1, n_state=3)
        b = _store.read_chunk(clean, cell, chunk, ident, rows=1, n_state=3)
        for k in a:
            assert np.array_equal(a[k], b[k], equal_nan=a[k].dtype.kind == "f"), k
    assert not list((shared / "chunks").glob(".tmp-*"))


# -- damaged stores ---------------------------------------------------------------------------


def _rewrite_chunk(store: Path, change) -> Path:
    path = store / "chunks" / "cell00000-chunk00000.npz"
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    change(arrays)
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)
    return path


@pytest.mark.parametrize("change", [
    lambda a: a.update(y0=a["y0"][:, :2]),
    lambda a: a.update(loss=np.zeros(5)),
    lambda a: a.update(loss=a["loss"].astype(np.float32)),
    lambda a: a.update(end=a["end"].astype("U300")),
    lambda a: a.update(certified=a["certified"].astype(np.int64)),
    lambda a: a.update(reason=np.array([None, None], dtype=object)),
    lambda a: a.pop("y_end"),
    lambda a: a.update(meta=np.array(["x" * 500, "0", "0"])),
    lambda a: a.update(meta=np.array(["0" * 16, "0", "0"])),
], ids=["narrow-state", "long-rows", "float32", "wide-strings", "int-flags", "object",
        "missing", "long-meta", "other-sweep"])
def test_a_chunk_of_the_wrong_shape_dtype_or_sweep_is_refused(store, change, capsys):
    _rewrite_chunk(store, change)
    with pytest.raises(DataError, match="cell00000-chunk00000"):
        sd.load_sweep(store)
    _one_line(*_summary(capsys, store), "cell00000-chunk00000")


def _huge_header(shape=(10**13,), dtype="<f8") -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": False,
                                               "shape": shape})
    return buf.getvalue() + b"\0" * 64


@pytest.mark.parametrize("field", ["loss", "y0", "meta"])
def test_a_header_claiming_ten_trillion_elements_allocates_nothing(store, field, capsys):
    path = store / "chunks" / "cell00000-chunk00000.npz"
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    members[f"{field}.npy"] = _huge_header(dtype="<U3" if field == "meta" else "<f8")
    with zipfile.ZipFile(path, "w") as z:
        for n, data in members.items():
            z.writestr(n, data)
    with pytest.raises(DataError):
        sd.load_sweep(store)
    with pytest.raises(DataError):  # shapes taken from the file: bounded by its size
        _store.read_chunk(store, 0, 0, load_spec(SMALL).identity)
    _one_line(*_summary(capsys, store), "cell00000-chunk00000")


def test_a_zip_bomb_member_is_read_no_further_than_the_chunk(store, capsys):
    path = store / "chunks" / "cell00000-chunk00000.npz"
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    members["loss.npy"] = members["loss.npy"] + b"\0" * (64 * 2**20)  # 64 MiB of zeros
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for n, data in members.items():
            z.writestr(n, data)
    assert path.stat().st_size < 2**20
    _one_line(*_summary(capsys, store), "cell00000-chunk00000")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_named_like_a_chunk_or_spec_does_not_block(store, capsys):
    chunk = store / "chunks" / "cell00000-chunk00000.npz"
    chunk.unlink()
    os.mkfifo(chunk)
    _one_line(*_summary(capsys, store), "not a regular file")
    spec = store / "spec.json"
    spec.unlink()
    os.mkfifo(spec)
    _one_line(*_summary(capsys, store), "spec.json")


def test_chunks_as_a_file(store, capsys):
    shutil.rmtree(store / "chunks")
    (store / "chunks").write_text("not a directory")
    _one_line(*_summary(capsys, store), "not a directory")
    code = main(["sweep", *sum((["--set", f"{k}={v}"] for k, v in SMALL.items()), []),
                 "--store", str(store), "--scheduler", "sync", "--no-progress"])
    _one_line(code, capsys.readouterr().err.strip(), "chunks")


_SPECS = {
    "spec is 5": lambda m: {**m, "spec": 5},
    "spec has no axes": lambda m: {**m, "spec": {"fixed": m["spec"]["fixed"], "random": {}}},
    "fixed is a list": lambda m: {**m, "spec": {**m["spec"], "fixed": [1, 2]}},
    "no identity": lambda m: {k: v for k, v in m.items() if k != "identity"},
    "identity is a number": lambda m: {**m, "identity": 5},
    "identity of another spec": lambda m: {**m, "identity": "0" * 16},
    "a bad rule": lambda m: {**m, "spec": {**m["spec"], "fixed": {**m["spec"]["fixed"],
                                                                   "rule": "os.system"}}},
    "starts is huge": lambda m: {**m, "spec": {**m["spec"], "fixed": {**m["spec"]["fixed"],
                                                                       "starts": 10**15}}},
    "a list of tables": lambda m: {**m, "spec": {**m["spec"], "axes": {"alpha": [{}]}}},
    "not a table": lambda m: [m],
}


@pytest.mark.parametrize("name", list(_SPECS))
def test_a_damaged_spec_json_is_one_line(store, name, capsys):
    meta = json.loads((store / "spec.json").read_text())
    (store / "spec.json").write_text(json.dumps(_SPECS[name](meta)))
    with pytest.raises(DataError):
        sd.load_sweep(store)
    _one_line(*_summary(capsys, store))


@pytest.mark.parametrize("payload", [b"[" * 100_000 + b"]" * 100_000,
                                     b'{"format": "\xff\xfe"}', b"\x00" * 10,
                                     b'{"a": "' + b"x" * (2 << 20) + b'"}', b""])
def test_spec_json_deeply_nested_binary_or_huge(store, payload, capsys):
    (store / "spec.json").write_bytes(payload)
    _one_line(*_summary(capsys, store), "spec.json")


# -- fuzz -------------------------------------------------------------------------------------


@given(data=st.data())
def test_fuzz_the_chunk_reader(clean_store, tmp_path_factory, data):
    """Random bytes of a valid chunk overwritten: the reader returns arrays of exactly the
    chunk's shape and dtype, or a DataError; never another exception."""
    raw = bytearray((clean_store / "chunks" / "cell00000-chunk00000.npz").read_bytes())
    for _ in range(data.draw(st.integers(1, 8))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        raw = raw[:data.draw(st.integers(0, len(raw)))]
    path = tmp_path_factory.mktemp("fuzz")
    (path / "chunks").mkdir()
    _store.chunk_path(path, 0, 0).write_bytes(bytes(raw))
    ident = load_spec(SMALL).identity
    try:
        out = _store.read_chunk(path, 0, 0, ident, rows=2, n_state=3)
    except DataError:
        return
    assert out["y0"].shape == (2, 3) and out["loss"].dtype == np.float64


@given(meta=st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(),
                         lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(), c,
                                                                              max_size=4),
                         max_leaves=20),
       keep=st.booleans())
def test_fuzz_the_spec_reader(clean_store, tmp_path_factory, meta, keep):
    """Random JSON as ``spec.json`` (or as its ``spec``): load_sweep returns or raises a
    DataError; never another exception."""
    path = tmp_path_factory.mktemp("fuzzspec")
    shutil.copytree(clean_store, path / "s")
    good = json.loads((path / "s" / "spec.json").read_text())
    doc = {**good, "spec": meta} if keep else meta
    (path / "s" / "spec.json").write_text(json.dumps(doc))
    try:
        sd.load_sweep(path / "s")
    except DataError:
        pass


@pytest.mark.parametrize("starts", [10**12, 10**18])
def test_a_store_whose_table_exceeds_memory_is_refused_before_allocating(store, starts,
                                                                         capsys):
    """A spec.json with a matching identity (anyone can compute it) and a huge table."""
    raw = {**SMALL, "starts": starts}
    spec = load_spec(raw)
    meta = {"format": _store.FORMAT, "identity": spec.identity, "spec": spec.canonical()}
    (store / "spec.json").write_text(json.dumps(meta))
    with pytest.raises(DataError, match="GiB"):
        sd.load_sweep(store)
    _one_line(*_summary(capsys, store), "GiB")


_SCALARS = st.none() | st.booleans() | st.floats() | st.integers(-2**70, 2**70) | \
    st.text(max_size=8) | st.sampled_from(["arbp", "bp", "1-1-1", "tanh", "log", "nan"])


@given(raw=st.dictionaries(
    st.sampled_from(["rule", "depth", "arch", "alpha", "beta", "starts", "chunk", "scale",
                     "t_final", "derivative", "activation", "random", "seed", "x y", ""]),
    _SCALARS | st.lists(_SCALARS, max_size=3) | st.dictionaries(st.text(max_size=5), _SCALARS,
                                                                max_size=3),
    max_size=6))
def test_fuzz_the_sweep_spec_reader(raw):
    """Random mappings as a sweep spec (what a TOML file or --set gives): a valid spec or a
    SpecError; never another exception."""
    from symdyn.errors import SpecError
    from symdyn.sweep import SweepSpec

    try:
        spec = SweepSpec.from_mapping(raw)
    except SpecError:
        return
    assert len(spec.identity) == 16


def test_a_store_of_a_trillion_random_cells_is_refused_before_listing_them(store, capsys):
    raw = {**SMALL, "random": {"cells": 10**12, "alpha": [0.5, 2.0]}}
    raw.pop("alpha")
    spec = load_spec(raw)
    meta = {"format": _store.FORMAT, "identity": spec.identity, "spec": spec.canonical()}
    (store / "spec.json").write_text(json.dumps(meta))
    _one_line(*_summary(capsys, store), "GiB")
