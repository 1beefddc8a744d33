"""Files from users are data: opened without blocking, read without pickles, within bounds.

Every reader of a user's file goes through here (data ``.npz``, the sweep store, MNIST and
CIFAR files): a path must name a regular file (a FIFO or a device would block or never end),
an ``.npz`` member's ``.npy`` header is read and checked (no object dtype, no more bytes than
:data:`MAX_READ_BYTES` in all, no more than the member holds) before any of its data is read,
and compressed streams are read no further than the size their header states. A file that
fails is a :class:`~symdyn.DataError` naming it and the fault."""

from __future__ import annotations

import os
import stat
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .errors import DataError, require_path

__all__ = ["MAX_READ_BYTES", "open_regular", "read_npz", "npy_header", "read_npy"]

#: the most bytes of arrays read from one data file
MAX_READ_BYTES = 4 * 2**30
#: the most members an ``.npz`` may have
MAX_MEMBERS = 1000


def open_regular(path: str | os.PathLike, what: str = "data file"):
    """``path`` opened for binary reading, if it is a regular file; never blocks."""
    where = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise DataError(f"cannot read {what} {where!r}: it does not exist") from None
    except IsADirectoryError:
        raise DataError(f"cannot read {what} {where!r}: it is a directory, not a file") \
            from None
    except (OSError, ValueError) as exc:  # permissions, a NUL in the name, ...
        text = getattr(exc, "strerror", None) or str(exc)
        raise DataError(f"cannot read {what} {where!r}: {text}") from None
    mode = os.fstat(fd).st_mode
    if stat.S_ISREG(mode):
        return os.fdopen(fd, "rb")
    os.close(fd)
    kind = "a directory, not a file" if stat.S_ISDIR(mode) else \
        "not a regular file (a FIFO, socket or device)"
    raise DataError(f"cannot read {what} {where!r}: it is {kind}")


def npy_header(fh) -> tuple[tuple[int, ...], bool, np.dtype]:
    """``(shape, fortran_order, dtype)`` from the ``.npy`` header at the start of ``fh``."""
    fmt = np.lib.format
    version = fmt.read_magic(fh)
    if version == (1, 0):
        return fmt.read_array_header_1_0(fh)
    if version in ((2, 0), (3, 0)):
        return fmt.read_array_header_2_0(fh)
    raise ValueError(f"unknown .npy version {version}")


def read_npy(fh, name: str, budget: int) -> np.ndarray:
    """One array from an ``.npy`` stream whose header is next in ``fh``: refuses object
    dtypes and arrays of more than ``budget`` bytes before reading their data."""
    shape, fortran, dtype = npy_header(fh)
    if dtype.hasobject:
        raise DataError(f"array {name} has dtype {dtype}: object arrays are not data")
    count = 1
    for n in shape:
        count *= int(n)
    nbytes = count * dtype.itemsize
    if nbytes > budget:
        raise DataError(f"array {name} claims shape {tuple(shape)} of {dtype} "
                        f"({nbytes:,} bytes); at most {budget:,} bytes are read")
    arr = np.empty(count, dtype=dtype)
    view = memoryview(arr.view(np.uint8).reshape(-1)) if nbytes else memoryview(b"")
    got = 0
    while got < nbytes:
        n = fh.readinto(view[got:])
        if not n:
            break
        got += n
    if got != nbytes or fh.read(1):
        raise DataError(f"array {name} is truncated or longer than its header says "
                        f"(shape {tuple(shape)} of {dtype})")
    return arr.reshape(shape, order="F" if fortran else "C")


def read_npz(path: str | os.PathLike, *, max_bytes: int | None = None,
             what: str = "data file") -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` file, read without pickles and within ``max_bytes``
    (see the module docstring). Any unreadable file (missing, a directory, a FIFO, empty,
    not a zip, truncated or corrupted, a ``.npy`` renamed, a compressed bomb, a header
    claiming more than it holds) is a :class:`DataError` naming the file and the fault."""
    require_path(path, what)
    where = str(path)
    with open_regular(path, what) as fh:
        if fh.read(6) == b"\x93NUMPY":
            raise DataError(f"cannot read {what} {where!r}: it holds a single array (an .npy), "
                            "not an .npz with named arrays; write it with numpy.savez(path, "
                            "X=X, Y=Y)")
        fh.seek(0)
        try:
            return _members(fh, where, MAX_READ_BYTES if max_bytes is None else max_bytes)
        except DataError as exc:
            raise DataError(f"cannot read {what} {where!r}: {exc}") from None
        except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error,
                NotImplementedError, RuntimeError, OverflowError) as exc:
            raise DataError(f"cannot read {what} {where!r} ({exc or type(exc).__name__}); "
                            "expected an .npz (numpy.savez) with named arrays; the file may "
                            "be truncated or corrupted") from None


def _members(fh, where: str, max_bytes: int) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    left = max_bytes
    with zipfile.ZipFile(fh) as zf:
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise DataError(f"it has {len(infos):,} members; at most {MAX_MEMBERS} are read")
        for info in infos:
            name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
            with zf.open(info) as member:
                arr = read_npy(member, name, min(left, info.file_size))
            left -= arr.nbytes
            out[name] = arr
    return out


def file_size(path: Path) -> int:
    """The size of a regular file in bytes (0 if it cannot be read)."""
    try:
        return os.stat(path).st_size
    except OSError:
        return 0
