"""How many training samples a data set has, from its files' headers alone: the IDX header
of MNIST and Fashion-MNIST (gzipped or not: only its first bytes are decompressed) and the
``.npy`` headers inside an ``.npz``, so a suite's work is estimated before any data is read.
``None`` where no header tells (CIFAR-10's pickles, OpenML downloads) or the header is not
sound (the loader then says what is wrong with the file)."""

from __future__ import annotations

import gzip
import math
import zipfile
import zlib
from pathlib import Path

from ..errors import DataError

__all__ = ["train_count", "DIGITS_TRAIN"]

#: training samples of ``digits``: scikit-learn's 1,797 images less the 20% test split
#: (``train_test_split`` rounds the test size up: 360)
DIGITS_TRAIN = 1797 - math.ceil(0.2 * 1797)
#: the most samples a header may state and still be believed (more is the loader's error)
_MAX_SAMPLES = 2**31


def _idx_samples(path: Path) -> int | None:
    """The first dimension stated by an IDX file's header (``None`` if it has none)."""
    from .._files import open_regular

    with open_regular(path, "IDX file") as raw, \
            (gzip.open(raw, "rb") if path.suffix == ".gz" else raw) as fh:
        try:
            head = fh.read(8)
        except (OSError, EOFError, gzip.BadGzipFile, zlib.error):
            return None
    if len(head) < 8 or head[:3] != b"\0\0\x08" or not 1 <= head[3] <= 4:
        return None
    return int.from_bytes(head[4:8], "big")


def _npz_samples(path: Path, names: tuple[str, ...]) -> tuple[str, int] | None:
    """``(name, first dimension)`` of the first of ``names`` in an ``.npz``, from its
    ``.npy`` header."""
    from .._files import npy_header, open_regular

    with open_regular(path, "data file") as fh:
        try:
            with zipfile.ZipFile(fh) as zf:
                members = {i.filename.removesuffix(".npy"): i for i in zf.infolist()}
                name = next((n for n in names if n in members), None)
                if name is None:
                    return None
                with zf.open(members[name]) as member:
                    shape = npy_header(member)[0]
        except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error,
                NotImplementedError, RuntimeError, OverflowError):
            return None
    return (name, int(shape[0])) if shape else None


def _count(spec: str) -> int | None:
    from ._data import _find
    from ._fashion import fashion_mnist_dir

    name, sep, rest = spec.partition(":")
    key = name.strip().lower()
    if key == "digits" and not sep:
        return DIGITS_TRAIN
    if key == "fashion-mnist" and (not sep or rest):
        return _idx_samples(_find(fashion_mnist_dir(rest or None), "train-images-idx3-ubyte"))
    if key == "mnist" and rest:
        d = Path(rest)
        if d.is_file() or (d / "mnist.npz").exists():
            found = _npz_samples(d if d.is_file() else d / "mnist.npz", ("x_train",))
            return found[1] if found else None
        return _idx_samples(_find(d, "train-images-idx3-ubyte")) if d.is_dir() else None
    if key in ("mnist", "cifar10") or not spec.endswith(".npz"):
        return None
    found = _npz_samples(Path(spec), ("X_train", "X"))
    if found is None:
        return None
    part, n = found
    return n if part == "X_train" else n - math.ceil(0.2 * n)  # load_npz's stratified split


def train_count(spec: str) -> int | None:
    """Training samples of the data named ``spec`` (as :func:`~symdyn.training.load_data`
    takes it), read from headers only; ``None`` when no header says, or says something no
    loader would accept. A data set that is not there at all is the loader's
    :class:`~symdyn.DataError` (one line naming what is missing), raised here already."""
    try:
        n = _count(str(spec))
    except DataError:
        raise
    except (OSError, ValueError):
        return None
    return n if n is not None and 0 < n <= _MAX_SAMPLES else None
