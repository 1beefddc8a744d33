"""Hostile data files (issue 24): labels out of range or not integers, non-finite and object
inputs, empty splits, mixed widths, gzip and zip bombs, pickles that claim huge shapes, FIFOs.
Each is a :class:`~symdyn.DataError` that names the file and the fault, before any training
and before any large allocation."""

from __future__ import annotations

import gzip
import io
import os
import pickle
import resource
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from symdyn.cli import main
from symdyn.errors import DataError
from symdyn.training import load_cifar10, load_data, load_mnist, load_npz
from symdyn.training._data import check_labels

RNG = np.random.default_rng(0)


def _maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- MNIST ------------------------------------------------------------------------------------


def _keras_mnist(path: Path, **change) -> Path:
    arrays = {"x_train": RNG.integers(0, 255, (20, 28, 28), dtype=np.uint8),
              "y_train": np.arange(20, dtype=np.uint8) % 10,
              "x_test": RNG.integers(0, 255, (10, 28, 28), dtype=np.uint8),
              "y_test": np.arange(10, dtype=np.uint8)}
    arrays.update(change)
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("change, words", [
    ({"y_train": -(np.arange(20, dtype=np.int64) % 10)}, ["y_train", "label -1", "[0, 10)"]),
    ({"y_test": np.arange(10, dtype=np.int64) + 1}, ["y_test", "label 10"]),
    ({"y_test": np.full(10, 10**9)}, ["y_test", "1000000000"]),
    ({"y_train": np.arange(20) % 10 + 0.5}, ["y_train", "integers", "float64"]),
    ({"y_train": np.arange(20) % 2 == 0}, ["y_train", "integers", "bool"]),
    ({"y_train": np.arange(19) % 10}, ["train split", "20 samples but 19 labels"]),
    ({"x_test": np.zeros((0, 28, 28), np.uint8), "y_test": np.zeros(0, np.uint8)},
     ["x_test", "empty"]),
    ({"x_test": np.zeros((10, 27, 27), np.uint8)}, ["784 features", "729"]),
    ({"x_train": np.full((20, 28, 28), np.nan)}, ["train split", "non-finite"]),
    ({"x_train": np.full((20, 28, 28), "a")}, ["x_train", "numeric", "<U1"]),
])
def test_keras_mnist_npz(tmp_path, change, words):
    path = _keras_mnist(tmp_path / "mnist.npz", **change)
    with pytest.raises(DataError) as info:
        load_mnist(path)
    for w in words:
        assert w in str(info.value), str(info.value)
    assert "\n" not in str(info.value)


def _idx_bytes(values: np.ndarray, shape=None) -> bytes:
    shape = values.shape if shape is None else shape
    head = bytes([0, 0, 8, len(shape)]) + b"".join(int(n).to_bytes(4, "big") for n in shape)
    return head + values.astype(np.uint8).tobytes()


def _idx_dir(folder: Path, labels=None, gz=False) -> Path:
    folder.mkdir(exist_ok=True)
    files = {"train-images-idx3-ubyte": RNG.integers(0, 255, (20, 4, 4)),
             "train-labels-idx1-ubyte": np.arange(20) % 10 if labels is None else labels,
             "t10k-images-idx3-ubyte": RNG.integers(0, 255, (10, 4, 4)),
             "t10k-labels-idx1-ubyte": np.arange(10)}
    for name, arr in files.items():
        raw = _idx_bytes(np.asarray(arr))
        if gz:
            (folder / (name + ".gz")).write_bytes(gzip.compress(raw))
        else:
            (folder / name).write_bytes(raw)
    return folder


def test_idx_files_load_and_name_the_file_of_a_bad_label(tmp_path):
    data = load_mnist(_idx_dir(tmp_path / "ok", gz=True))
    assert data.X_train.shape == (20, 16) and data.Y_train.shape == (20, 10)
    bad = _idx_dir(tmp_path / "bad", labels=np.r_[np.arange(19) % 10, 12])
    with pytest.raises(DataError, match="train-labels-idx1-ubyte: label 12 .sample 19."):
        load_mnist(bad)


def test_an_idx_gzip_bomb_is_read_no_further_than_its_header(tmp_path):
    folder = _idx_dir(tmp_path / "bomb", gz=True)
    # a header stating 20 labels, then 256 MiB of zeros compressed to a few hundred KiB
    comp = zlib_stream(_idx_bytes(np.arange(20) % 10), 256 * 2**20)
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(comp)
    assert len(comp) < 2**20
    before = _maxrss_mib()
    with pytest.raises(DataError, match="longer than its header says"):
        load_mnist(folder)
    assert _maxrss_mib() - before < 64  # nothing near the 256 MiB was held


def zlib_stream(head: bytes, zeros: int) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb") as fh:
        fh.write(head)
        block = b"\0" * 2**20
        for _ in range(zeros // len(block)):
            fh.write(block)
    return buf.getvalue()


@pytest.mark.parametrize("shape", [(2**31, 2**31, 2**31), (0,), (10**9,)])
def test_an_idx_header_claiming_a_huge_or_empty_shape(tmp_path, shape):
    folder = _idx_dir(tmp_path / "huge")
    (folder / "t10k-images-idx3-ubyte").write_bytes(_idx_bytes(np.zeros(4), shape))
    with pytest.raises(DataError, match="t10k-images"):
        load_mnist(folder)


# -- CIFAR-10 ---------------------------------------------------------------------------------


def _cifar(folder: Path, test=None) -> Path:
    folder.mkdir(exist_ok=True)
    good = {b"data": np.zeros((4, 3072), dtype=np.uint8), b"labels": [0, 1, 2, 3]}
    for i in range(1, 6):
        (folder / f"data_batch_{i}").write_bytes(pickle.dumps(good, protocol=2))
    (folder / "test_batch").write_bytes(pickle.dumps(good if test is None else test,
                                                     protocol=2))
    return folder


def _reduce_huge_array(shape) -> bytes:
    """A pickle of an ndarray whose state claims ``shape`` with 8 bytes of data."""

    class Fake:
        def __reduce__(self):
            from numpy._core.multiarray import _reconstruct
            return (_reconstruct, (np.ndarray, (0,), b"b"),
                    (1, shape, np.dtype(np.uint8), False, b"\0" * 8))

    return pickle.dumps({b"data": Fake(), b"labels": [0]}, protocol=2)


@pytest.mark.parametrize("test, words", [
    ({b"data": np.zeros((4, 3072), np.uint8), b"labels": [0, 1, -1, 3]}, ["label -1"]),
    ({b"data": np.zeros((4, 3072), np.uint8), b"labels": [0, 1, 2, 10]}, ["label 10"]),
    ({b"data": np.zeros((4, 3072), np.uint8), b"labels": [0, 1, 2.0, 3]}, ["2.0"]),
    ({b"data": np.zeros((4, 3072), np.uint8), b"labels": [0, True, 2, 3]}, ["True"]),
    ({b"data": np.zeros((4, 3072), np.uint8), b"labels": [0, 1, 2, float("nan")]}, ["nan"]),
    ({b"data": np.zeros((4, 3072), np.uint8), b"labels": [0, 1, 2]}, ["4 images but 3"]),
    ({b"data": np.zeros((4, 3072), np.uint8), b"labels": [0, 1, 2, 10**9]},
     ["1000000000"]),
    ({b"data": np.zeros((4, 1024), np.uint8), b"labels": [0, 1, 2, 3]},
     ["different widths"]),
    ({b"data": [[0] * 3072] * 4, b"labels": [0, 1, 2, 3]}, ["2-d array"]),
    ({b"data": np.zeros((0, 3072), np.uint8), b"labels": []}, ["test_batch"]),
    ({b"data": np.full((4, 3072), np.inf), b"labels": [0, 1, 2, 3]}, ["non-finite"]),
    ({b"labels": [0]}, ["data"]),
    ([1, 2, 3], ["cannot read"]),
])
def test_cifar_batches(tmp_path, test, words):
    folder = _cifar(tmp_path / "c", test)
    with pytest.raises(DataError) as info:
        load_cifar10(folder)
    for w in words:
        assert w in str(info.value), str(info.value)


@pytest.mark.parametrize("shape", [(10**13,), (10**6, 10**6), (2**62, 4)])
def test_a_cifar_pickle_claiming_a_huge_shape(tmp_path, shape):
    folder = _cifar(tmp_path / "c")
    (folder / "test_batch").write_bytes(_reduce_huge_array(shape))
    before = _maxrss_mib()
    with pytest.raises(DataError, match="test_batch"):
        load_cifar10(folder)
    assert _maxrss_mib() - before < 64


def test_a_pickle_of_shared_references_is_not_expanded(tmp_path):
    """A list of a million references to one million-long list is a few MB on disk and 8 TB
    as an array: refused as not an array before numpy sees it."""
    row = list(range(10**6))
    folder = _cifar(tmp_path / "c")
    (folder / "test_batch").write_bytes(pickle.dumps({b"data": [row] * 10**6,
                                                      b"labels": [0]}, protocol=2))
    with pytest.raises(DataError, match="2-d array"):
        load_cifar10(folder)


# -- user .npz --------------------------------------------------------------------------------


def _npz_bomb(path: Path, shape=(2**14, 2**11)) -> Path:
    """X of ``shape`` float64 zeros (256 MiB at the default), deflated to under 1 MiB."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False,
                                               "shape": shape})
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        with z.open("X.npy", "w", force_zip64=True) as fh:
            fh.write(buf.getvalue())
            block = b"\0" * 2**20
            for _ in range(int(np.prod(shape)) * 8 // len(block)):
                fh.write(block)
        z.writestr("Y.npy", _npy(np.zeros(shape[0], np.int64)))
    return path


def _npy(arr) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


def test_a_zip_bomb_is_bounded(tmp_path, monkeypatch):
    from symdyn import _files

    path = _npz_bomb(tmp_path / "bomb.npz")
    assert path.stat().st_size < 2**20
    monkeypatch.setattr(_files, "MAX_READ_BYTES", 64 * 2**20)
    before = _maxrss_mib()
    with pytest.raises(DataError, match="bomb.npz.*at most 67,108,864 bytes"):
        load_npz(path)
    assert _maxrss_mib() - before < 32


@pytest.mark.parametrize("shape, dtype", [((10**13,), "<f8"), ((10**6, 10**7), "<f8"),
                                          ((3,), "|O")])
def test_an_npz_header_claiming_more_than_it_holds(tmp_path, shape, dtype):
    path = tmp_path / "claim.npz"
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": False,
                                               "shape": shape})
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("X.npy", buf.getvalue() + b"\0" * 64)
        z.writestr("Y.npy", _npy(np.zeros(3, np.int64)))
    with pytest.raises(DataError, match="claim.npz"):
        load_npz(path)


@pytest.mark.parametrize("Y, words", [
    (np.array([0, 1, 0, 1, 0, 10**9]), ["1000000000", "at most 1000 classes"]),
    (np.array([0, 1, 0, 1, 0, -1]), ["label -1"]),
    (np.array([0, 1, 0, 1, 0, np.nan]), ["nan"]),
    (np.array([0, 1, 0, 1, 0, np.inf]), ["inf"]),
    (np.array([0, 1, 0, 1, 0, 1.5]), ["1.5"]),
    (np.array([0, 1, 0, 1, 0, 1], dtype=object), ["object"]),
    (np.eye(6, 2000), ["2000 columns"]),
])
def test_user_npz_labels(tmp_path, Y, words):
    path = tmp_path / "d.npz"
    np.savez(path, X=np.ones((6, 2)), Y=Y, allow_pickle=True)
    with pytest.raises(DataError) as info:
        load_npz(path)
    for w in words:
        assert w in str(info.value), str(info.value)
    assert "d.npz" in str(info.value)


def test_user_npz_empty_split_and_mixed_widths(tmp_path):
    path = tmp_path / "split.npz"
    np.savez(path, X_train=np.ones((4, 2)), Y_train=np.array([0, 1, 0, 1]),
             X_test=np.ones((0, 2)), Y_test=np.zeros(0, int))
    with pytest.raises(DataError, match="split.npz: X_test: inputs are empty"):
        load_npz(path)
    np.savez(path, X_train=np.ones((4, 2)), Y_train=np.array([0, 1, 0, 1]),
             X_test=np.ones((2, 3)), Y_test=np.array([0, 1]))
    with pytest.raises(DataError, match="2 features, test inputs 3"):
        load_npz(path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_as_data_does_not_block(tmp_path, capsys):
    fifo = tmp_path / "data.npz"
    os.mkfifo(fifo)
    with pytest.raises(DataError, match="not a regular file"):
        load_data(str(fifo))
    code = main(["derive", "--arch", "1-1-1", "--rule", "rbp", "--data", str(fifo)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "not a regular file" in err


@pytest.mark.parametrize("spec", ["a\0b.npz", "mnist:\0", "cifar10:/dev/null", "/dev/zero",
                                  "mnist:/dev/null", "x" * 5000 + ".npz"])
def test_odd_data_names(spec):
    with pytest.raises(DataError):
        load_data(spec)


def test_experiment_on_bad_labels_exits_2_before_training(tmp_path, capsys):
    path = _keras_mnist(tmp_path / "mnist.npz",
                        y_train=-(np.arange(20, dtype=np.int64) % 10))
    code = main(["experiment", "--data", f"mnist:{path}", "--arch", "784-10", "--rules", "bp",
                 "--variants", "derivative", "--seeds", "1", "--epochs", "1",
                 "--symmetry-scales", "none", "--out", str(tmp_path / "out"), "--no-figures"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "label -1" in err, err
    assert not (tmp_path / "out" / "runs").exists() or \
        not list((tmp_path / "out" / "runs").iterdir())


# -- fuzz -------------------------------------------------------------------------------------


@given(labels=st.lists(st.one_of(st.integers(-2**63, 2**63 - 1), st.floats(),
                                 st.booleans()), min_size=1, max_size=20))
def test_fuzz_check_labels(labels):
    """Any values: int64 labels in [0, 10) exactly when every value is an integer there."""
    arr = np.array(labels)
    ok = arr.dtype.kind in "iu" and all(0 <= v < 10 for v in labels)
    try:
        out = check_labels("fuzz", arr, 10)
    except DataError:
        assert not ok
        return
    assert ok and out.dtype == np.int64 and out.tolist() == labels


@given(data=st.data())
def test_fuzz_the_npz_reader(tmp_path_factory, data):
    """Random bytes of a valid data .npz overwritten: load_npz returns data or raises a
    DataError; never another exception."""
    buf = io.BytesIO()
    np.savez(buf, X=np.arange(24.0).reshape(12, 2), Y=np.arange(12) % 2)
    raw = bytearray(buf.getvalue())
    for _ in range(data.draw(st.integers(1, 8))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    path = tmp_path_factory.mktemp("npz") / "f.npz"
    path.write_bytes(bytes(raw))
    try:
        d = load_npz(path)
    except DataError:
        return
    assert np.all(np.isfinite(d.X_train)) and d.Y_train.shape[1] <= 1000


@given(data=st.data())
def test_fuzz_the_idx_reader(tmp_path_factory, data):
    folder = _idx_dir(tmp_path_factory.mktemp("idx") / "m")
    path = folder / data.draw(st.sampled_from(sorted(p.name for p in folder.iterdir())))
    raw = bytearray(path.read_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(0, min(len(raw) - 1, 40)))] = data.draw(st.integers(0, 255))
    path.write_bytes(bytes(raw))
    try:
        d = load_mnist(folder)
    except DataError:
        return
    assert d.Y_train.shape[1] == 10
