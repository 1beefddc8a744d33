"""Classification data for the experiments: scikit-learn's bundled digits (offline), MNIST and
CIFAR-10 from their standard files (or scikit-learn's OpenML fetch, cached), and a user's own
``.npz``. Inputs are standardised with the training set's mean and spread; targets are
one-hot; the train/test split is fixed and stratified."""

from __future__ import annotations

import gzip
import os
import pickle
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError
from ._fashion import FASHION_FILES, fashion_mnist_dir

__all__ = ["ClassificationData", "load_data", "load_digits", "load_npz", "load_mnist",
           "load_cifar10", "load_fashion_mnist", "DATASETS"]


@dataclass(frozen=True, eq=False)
class ClassificationData:
    """Train and test sets, one sample a row: ``X_train`` (N, n0), ``Y_train`` (N, k) one-hot,
    and the same for the test set. ``name`` says where it came from."""

    name: str
    X_train: np.ndarray
    Y_train: np.ndarray
    X_test: np.ndarray
    Y_test: np.ndarray

    @property
    def n_inputs(self) -> int:
        return self.X_train.shape[1]

    @property
    def n_classes(self) -> int:
        return self.Y_train.shape[1]

    def __repr__(self) -> str:
        return (f"ClassificationData({self.name}: {len(self.X_train)} train, "
                f"{len(self.X_test)} test, {self.n_inputs} inputs, {self.n_classes} classes)")


#: the most classes a data set may have (its targets are one-hot)
MAX_CLASSES = 1000
#: the largest data set accepted, as float64 inputs and one-hot targets, train and test
#: together, in bytes
MAX_DATA_BYTES = 4 * 2**30
#: the largest MNIST (IDX) or CIFAR-10 (pickle) file read, in bytes (uncompressed)
MAX_FILE_BYTES = 1 * 2**30


def _one_hot(y: np.ndarray, k: int | None = None) -> np.ndarray:
    k = int(y.max()) + 1 if k is None else k
    out = np.zeros((len(y), k))
    out[np.arange(len(y)), y] = 1.0
    return out


def check_labels(where: str, y, classes: int | None = None, *,
                 integral_floats: bool = False) -> np.ndarray:
    """Labels as ``int64``, checked: a 1-d numeric array (not bool, not object) of integers
    in ``[0, classes)`` (``classes=None``: at most :data:`MAX_CLASSES`); floats only when
    ``integral_floats`` and each is a finite whole number. :class:`~symdyn.DataError`
    naming ``where`` and the first bad label otherwise."""
    y = np.asarray(y)
    if y.dtype.kind not in ("iu" + ("f" if integral_floats else "")):
        raise DataError(f"{where}: labels must be integers, got dtype {y.dtype}")
    y = y.reshape(-1)
    bad = ~np.isfinite(y) if y.dtype.kind == "f" else np.zeros(y.shape, bool)
    if y.dtype.kind == "f":
        bad |= np.where(bad, False, y != np.round(np.where(bad, 0, y)))
    limit = MAX_CLASSES if classes is None else classes
    with np.errstate(invalid="ignore"):
        bad |= (y < 0) | (y >= limit)
    if bad.any():
        i = int(np.argmax(bad))
        want = f"[0, {classes})" if classes is not None else \
            f"[0, {MAX_CLASSES}) (at most {MAX_CLASSES} classes)"
        raise DataError(f"{where}: label {y[i].item()!r} (sample {i}) is not an integer in {want}; "
                        f"{int(bad.sum()):,} bad labels in all")
    return y.astype(np.int64)


def check_inputs(where: str, X) -> np.ndarray:
    """Inputs checked: a numeric array (not object, string or complex) of at least one
    sample and one feature; one sample a row after flattening the rest."""
    X = np.asarray(X) if not isinstance(X, np.ndarray) else X
    if X.dtype.kind not in "biuf" or X.ndim < 2:
        raise DataError(f"{where}: inputs must be a numeric array of one sample a row, got "
                        f"dtype {X.dtype} and shape {X.shape}")
    if X.shape[0] == 0 or X[0].size == 0:
        raise DataError(f"{where}: inputs are empty (shape {X.shape})")
    return X.reshape(len(X), -1)


def check_size(where: str, n_samples: int, n_inputs: int, classes: int) -> None:
    """Refuse, before allocating it, a data set beyond :data:`MAX_DATA_BYTES`."""
    need = 8 * n_samples * (n_inputs + classes)
    if need > MAX_DATA_BYTES:
        fit = MAX_DATA_BYTES // (8 * (n_inputs + classes))
        raise DataError(f"{where}: {n_samples:,} samples of {n_inputs:,} inputs and "
                        f"{classes} classes need {need / 2**30:.1f} GiB as float64; at most "
                        f"{MAX_DATA_BYTES / 2**30:g} GiB ({fit:,} samples of this width)")


def _labels(name: str, y) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:  # one-hot or scores: the class is the arg-max
        if y.dtype.kind not in "biuf":
            raise DataError(f"{name}: Y must be numeric, got dtype {y.dtype}")
        if y.shape[1] > MAX_CLASSES:
            raise DataError(f"{name}: Y has {y.shape[1]} columns; at most {MAX_CLASSES} "
                            "classes")
        if not np.all(np.isfinite(y)):
            raise DataError(f"{name}: Y has non-finite entries")
        return np.argmax(y, axis=1)
    return check_labels(name, y, integral_floats=True)


def _standardise(X_train, X_test):
    mean = X_train.mean(axis=0)
    std = X_train.std(axis=0)
    std[std == 0] = 1.0
    return (X_train - mean) / std, (X_test - mean) / std


def _finish(name, X_train, y_train, X_test, y_test, k=None) -> ClassificationData:
    """Every check of a data set, then inputs as float64, standardised, targets one-hot:
    inputs numeric and finite, splits non-empty with as many labels as samples, labels in
    ``[0, k)``, the whole within :data:`MAX_DATA_BYTES`."""
    parts = {}
    for part, X, y in (("train", X_train, y_train), ("test", X_test, y_test)):
        X = check_inputs(f"{name} ({part} split)", X)
        y = check_labels(f"{name} ({part} split)", y, k)
        if len(X) != len(y):
            raise DataError(f"{name} ({part} split): {len(X):,} samples but {len(y):,} "
                            "labels")
        parts[part] = (X, y)
    (X_train, y_train), (X_test, y_test) = parts["train"], parts["test"]
    if X_train.shape[1] != X_test.shape[1]:
        raise DataError(f"{name}: train inputs have {X_train.shape[1]} features, test inputs "
                        f"{X_test.shape[1]}")
    k = int(max(y_train.max(), y_test.max())) + 1 if k is None else k
    check_size(name, len(X_train) + len(X_test), X_train.shape[1], k)
    X_train = np.asarray(X_train, dtype=float)
    X_test = np.asarray(X_test, dtype=float)
    for part, arr in (("train", X_train), ("test", X_test)):
        if not np.all(np.isfinite(arr)):
            raise DataError(f"{name} ({part} split): inputs have non-finite entries")
    X_train, X_test = _standardise(X_train, X_test)
    return ClassificationData(name, X_train, _one_hot(y_train, k), X_test, _one_hot(y_test, k))


def _split(name, X, y, test_fraction: float, seed: int) -> ClassificationData:
    from sklearn.model_selection import train_test_split

    if len(X) != len(y):
        raise DataError(f"{name}: X has {len(X)} samples but Y has {len(y)}")
    if len(y) == 0:
        raise DataError(f"{name}: the data set is empty")
    check_size(name, len(X), int(np.prod(X.shape[1:])), int(y.max()) + 1)
    counts = np.bincount(y)
    if len(X) < 4 or counts[counts > 0].min() < 2:
        raise DataError(f"{name}: a stratified split needs at least two samples of every class")
    Xtr, Xte, ytr, yte = train_test_split(np.asarray(X), y, test_size=test_fraction,
                                          stratify=y, random_state=seed)
    return _finish(name, Xtr, ytr, Xte, yte, k=int(y.max()) + 1)


def load_digits(test_fraction: float = 0.2, seed: int = 0) -> ClassificationData:
    """scikit-learn's bundled handwritten digits: 1797 images of 8x8 pixels, 10 classes,
    split 80/20 stratified by class with ``random_state=seed``. No network access."""
    from sklearn.datasets import load_digits as sk_digits

    d = sk_digits()
    return _split("digits", d.data, d.target.astype(np.int64), test_fraction, seed)


def load_npz(path: str | Path, test_fraction: float = 0.2, seed: int = 0
             ) -> ClassificationData:
    """A user's ``.npz``: arrays ``X`` (N, n0) and ``Y`` (integer labels (N,) or one-hot
    (N, k)), split stratified; or ``X_train, Y_train, X_test, Y_test``."""
    from .._files import read_npz

    name = str(path)
    arrays = read_npz(path)
    if {"X_train", "Y_train", "X_test", "Y_test"} <= set(arrays):
        return _finish(name, check_inputs(f"{name}: X_train", arrays["X_train"]),
                       _labels(f"{name}: Y_train", arrays["Y_train"]),
                       check_inputs(f"{name}: X_test", arrays["X_test"]),
                       _labels(f"{name}: Y_test", arrays["Y_test"]))
    if not {"X", "Y"} <= set(arrays):
        raise DataError(f"{name}: the .npz needs arrays X and Y (or X_train, Y_train, X_test, "
                        f"Y_test); found {sorted(arrays)}")
    return _split(name, _numeric(name, arrays["X"]), _labels(name, arrays["Y"]),
                  test_fraction, seed)


def _numeric(name, X):
    return check_inputs(f"{name}: X", X)


def _idx(path: Path) -> np.ndarray:
    """An IDX file (MNIST's format) of unsigned bytes, gzipped or not: the header read
    first, the size it states bounded by :data:`MAX_FILE_BYTES`, and no byte more read (a
    gzip bomb stops there)."""
    from .._files import open_regular

    with open_regular(path, "IDX file") as raw, \
            (gzip.open(raw, "rb") if path.suffix == ".gz" else raw) as fh:
        try:
            head = fh.read(4)
            if len(head) < 4 or head[:3] != b"\0\0\x08" or not 1 <= head[3] <= 4:
                raise DataError(f"{path}: not an IDX file of unsigned bytes (1 to 4 "
                                "dimensions)")
            dims = fh.read(4 * head[3])
            shape = tuple(int.from_bytes(dims[4 * i: 4 * i + 4], "big")
                          for i in range(head[3]))
            size = int(np.prod(shape, dtype=object)) if len(dims) == 4 * head[3] else -1
            if not 0 < size <= MAX_FILE_BYTES:
                raise DataError(f"{path}: the IDX header states shape {shape}; at least one "
                                f"and at most {MAX_FILE_BYTES:,} values are read")
            data = fh.read(size + 1)
        except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise DataError(f"{path}: cannot read the IDX file ({exc})") from None
    if len(data) != size:
        what = "truncated" if len(data) < size else "longer than its header says"
        raise DataError(f"{path}: {what} IDX file ({len(data):,} values for shape {shape})")
    return np.frombuffer(data, dtype=np.uint8).reshape(shape)


def _idx_labels(path: Path, classes: int = 10) -> np.ndarray:
    """The labels of an IDX file: one dimension, integers in ``[0, classes)``."""
    y = _idx(path)
    if y.ndim != 1:
        raise DataError(f"{path}: labels must be one-dimensional, the header states shape "
                        f"{y.shape}")
    return check_labels(str(path), y, classes)


def _find(directory: Path, stem: str) -> Path:
    for cand in (stem, stem + ".gz", stem.replace("-idx", ".idx"),
                 stem.replace("-idx", ".idx") + ".gz"):
        if (directory / cand).exists():
            return directory / cand
    raise DataError(f"MNIST file {stem}[.gz] not found in {directory}")


def _openml(name: str, data_home):
    from sklearn.datasets import fetch_openml

    try:
        X, y = fetch_openml(name, version=1, return_X_y=True, as_frame=False,
                            data_home=data_home, parser="liac-arff")
    except Exception as exc:  # noqa: BLE001 - network and cache errors of every kind
        raise DataError(f"cannot fetch {name} from OpenML: {exc}") from None
    return X, np.asarray(y).astype(np.int64)


def load_mnist(directory: str | Path | None = None, *, download: bool = False,
               data_home=None) -> ClassificationData:
    """MNIST from a directory of the four standard IDX files (``train-images-idx3-ubyte``
    etc., gzipped or not) or a Keras-style ``mnist.npz`` (``x_train, y_train, x_test,
    y_test``); with ``download=True`` and no directory, from OpenML (``mnist_784``, cached
    in ``data_home``; the first 60000 train, the last 10000 test)."""
    if directory is None:
        if not download:
            raise DataError("MNIST: give the directory of its files (mnist:DIR), or allow the "
                            "OpenML download (--download)")
        X, y = _openml("mnist_784", data_home)
        return _finish("mnist", X[:60000], y[:60000], X[60000:], y[60000:], k=10)
    d = Path(directory)
    if d.is_file() or (d / "mnist.npz").exists():
        f = d if d.is_file() else d / "mnist.npz"
        from .._files import read_npz

        arrays = read_npz(f)
        missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in arrays]
        if missing:
            raise DataError(f"MNIST file {str(f)!r} lacks arrays {', '.join(missing)}")
        where = f"MNIST file {str(f)!r}"
        parts = [check_inputs(f"{where}: x_train", arrays["x_train"]),
                 check_labels(f"{where}: y_train", arrays["y_train"], 10),
                 check_inputs(f"{where}: x_test", arrays["x_test"]),
                 check_labels(f"{where}: y_test", arrays["y_test"], 10)]
        return _finish("mnist", *parts, k=10)
    if not d.is_dir():
        raise DataError(f"MNIST directory {str(d)!r} does not exist")
    try:
        xtr = _idx(_find(d, "train-images-idx3-ubyte"))
        ytr = _idx_labels(_find(d, "train-labels-idx1-ubyte"))
        xte = _idx(_find(d, "t10k-images-idx3-ubyte"))
        yte = _idx_labels(_find(d, "t10k-labels-idx1-ubyte"))
    except (OSError, EOFError) as exc:
        raise DataError(f"cannot read MNIST files in {str(d)!r}: {exc}") from None
    return _finish("mnist", xtr, ytr, xte, yte, k=10)


def load_fashion_mnist(directory: str | Path | None = None, *, train: int | None = None,
                       test: int | None = None) -> ClassificationData:
    """Fashion-MNIST (found by :func:`~symdyn.training._fashion.fashion_mnist_dir`: a
    directory given, ``$SYMDYN_DATA``, or Debian's ``dataset-fashion-mnist``), standardised
    by the training pixels; ``train``/``test``: only the first that many images (a slice for
    quick runs; the full sets have 60,000 and 10,000)."""
    for n, what in ((train, "train"), (test, "test")):
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 10):
            raise DataError(f"Fashion-MNIST: {what} must be an integer >= 10, got {n!r}")
    d = fashion_mnist_dir(directory)
    try:
        xtr, ytr, xte, yte = (_idx(_find(d, f)) for f in FASHION_FILES)
    except (OSError, EOFError) as exc:
        raise DataError(f"cannot read Fashion-MNIST files in {str(d)!r}: {exc}") from None
    name = "fashion-mnist" + (f" (first {train or len(xtr)} train, {test or len(xte)} test)"
                              if train or test else "")
    return _finish(name, xtr[:train], ytr[:train].astype(np.int64), xte[:test],
                   yte[:test].astype(np.int64), k=10)


def _reconstruct():
    try:
        from numpy._core.multiarray import _reconstruct as fn  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1
        from numpy.core.multiarray import _reconstruct as fn
    return fn


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles dicts, lists, bytes and numpy arrays, nothing else: a pickle that names any
    other class or function (``os.system`` by ``__reduce__``, say) is refused, so a data
    file stays data. CIFAR-10's batches need no more."""

    _ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray",
                                                            "_reconstruct"),
                ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}

    def find_class(self, module: str, name: str):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"it refers to {module}.{name}, which a data file "
                                         "may not (only numpy arrays, lists and dicts)")
        if name == "_reconstruct":
            return _reconstruct()
        if module == "_codecs":
            import codecs

            return codecs.encode
        return getattr(np, name)


def _cifar_batch(path: Path):
    """One CIFAR-10 batch: ``data`` a numeric 2-d array, ``labels`` as many integers in
    [0, 10); the file at most :data:`MAX_FILE_BYTES`, unpickled as data only."""
    from .._files import open_regular

    try:
        with open_regular(path, "CIFAR-10 file") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size > MAX_FILE_BYTES:
                raise DataError(f"CIFAR-10 file {str(path)!r} has {size:,} bytes; at most "
                                f"{MAX_FILE_BYTES:,} are read")
            batch = _ArrayUnpickler(fh, encoding="bytes").load()
        data, labels = batch[b"data"], batch[b"labels"]
    except (OSError, EOFError, KeyError, TypeError, ValueError, IndexError, AttributeError,
            MemoryError, RecursionError, pickle.UnpicklingError) as exc:
        raise DataError(f"cannot read CIFAR-10 file {str(path)!r}: "
                        f"{exc or type(exc).__name__}") from None
    where = f"CIFAR-10 file {str(path)!r}"
    if not isinstance(data, np.ndarray) or data.ndim != 2:
        raise DataError(f"{where}: data must be a 2-d array of one image a row, got "
                        f"{type(data).__name__} {getattr(data, 'shape', '')}")
    if not isinstance(labels, list | np.ndarray) or len(labels) != len(data):
        raise DataError(f"{where}: {len(data):,} images but "
                        f"{len(labels) if hasattr(labels, '__len__') else 'no'} labels")
    if isinstance(labels, list) and not all(type(v) is int for v in labels):
        bad = next(v for v in labels if type(v) is not int)
        raise DataError(f"{where}: labels must be integers in [0, 10), got {bad!r}")
    return check_inputs(where, data), check_labels(where, np.asarray(labels), 10)


def load_cifar10(directory: str | Path | None = None, *, download: bool = False,
                 data_home=None) -> ClassificationData:
    """CIFAR-10 from the directory ``cifar-10-batches-py`` of its standard Python version
    (``data_batch_1..5``, ``test_batch``); with ``download=True`` and no directory, from
    OpenML (``CIFAR_10``, cached; the first 50000 train, the last 10000 test)."""
    if directory is None:
        if not download:
            raise DataError("CIFAR-10: give the directory cifar-10-batches-py (cifar10:DIR), or "
                            "allow the OpenML download (--download)")
        X, y = _openml("CIFAR_10", data_home)
        return _finish("cifar10", X[:50000], y[:50000], X[50000:], y[50000:], k=10)
    d = Path(directory)
    if not d.is_dir():
        raise DataError(f"CIFAR-10 directory {str(d)!r} does not exist")
    train = [_cifar_batch(d / f"data_batch_{i}") for i in range(1, 6)]
    Xte, yte = _cifar_batch(d / "test_batch")
    widths = {x.shape[1] for x, _ in train} | {Xte.shape[1]}
    if len(widths) > 1:
        raise DataError(f"CIFAR-10 directory {str(d)!r}: batches of different widths "
                        f"({', '.join(map(str, sorted(widths)))} values per image)")
    return _finish("cifar10", np.concatenate([x for x, _ in train]),
                   np.concatenate([y for _, y in train]), Xte, yte, k=10)


#: Named data sets for :func:`load_data`.
DATASETS = ("digits", "fashion-mnist", "mnist", "cifar10")


def load_data(spec: str | Path | ClassificationData, *, download: bool = False,
              data_home=None) -> ClassificationData:
    """Data from a name: ``digits``; ``fashion-mnist[:DIR]`` (no directory: ``$SYMDYN_DATA``
    or Debian's package); ``mnist[:DIR]``, ``cifar10[:DIR]`` (no directory: the OpenML
    download when ``download``); or a path to an ``.npz``."""
    if isinstance(spec, ClassificationData):
        return spec
    text = str(spec)
    name, sep, rest = text.partition(":")
    key = name.strip().lower()
    if key == "digits" and not sep:
        return load_digits()
    if key == "fashion-mnist" and (not sep or rest):
        return load_fashion_mnist(rest or None)
    if key in ("mnist", "cifar10") and (not sep or rest):
        loader = load_mnist if key == "mnist" else load_cifar10
        return loader(rest or None, download=download, data_home=data_home)
    path = Path(text)
    try:
        exists = path.exists()
    except (OSError, ValueError):  # a name too long, a NUL in it
        exists = False
    if path.suffix == ".npz" or exists:
        if not exists:
            raise DataError(f"data file {text[:200]!r} does not exist or cannot be read")
        return load_npz(path)
    raise DataError(f"unknown data {text!r}: use digits, fashion-mnist[:DIR], mnist[:DIR], "
                    "cifar10[:DIR] or a .npz file")
