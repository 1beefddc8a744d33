"""The results store of a sweep: a directory with ``spec.json`` and one ``.npz`` per chunk.

Every file is written under a temporary name in the same directory, flushed to disk and
then renamed over its final name (``os.replace``, atomic on POSIX): a process killed at any
moment leaves either the whole chunk or none of it. A chunk is done exactly when its file
exists.

Several sweeps may share a store (two runs of the same spec, or workers of one cluster): a
temporary file names its writer (host and process id), and opening a store removes only the
stale ones, those of a process of this host that has ended or older than
:data:`STALE_SECONDS`; the spec is created and checked under an advisory lock (``flock`` on
``.lock``), so two sweeps starting at once agree on it. Two sweeps may compute the same chunk:
chunks are a function of the spec and their index, so the second ``os.replace`` writes the
same content.

The store is data from disk, so the reader trusts nothing: ``spec.json`` is bounded in size
and checked key by key; a chunk must be a regular file (a FIFO would block), and each of its
arrays is checked for dtype and shape from its ``.npy`` header before a byte of it is read,
so no file makes the reader allocate more than the chunk it names."""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import stat
import time
import uuid
import zipfile
from pathlib import Path

import numpy as np

from ..errors import DataError, require_path

__all__ = ["FORMAT", "require_path", "open_store", "read_spec", "chunk_path", "chunk_name",
           "parse_chunk_name", "done_chunks", "write_chunk", "read_chunk", "STALE_SECONDS"]

FORMAT = "symdyn-sweep-1"
#: a temporary file older than this (seconds) is stale whoever wrote it
STALE_SECONDS = 3600.0
#: the largest ``spec.json`` read
SPEC_BYTES = 1 << 20
_FIELDS = ("end", "endpoint", "loss", "t_end", "period", "amplitude", "certified", "reason",
           "y0", "y_end", "route")
#: fields added since the format began: a chunk written before them reads as "" (strings)
_OPTIONAL = ("route",)
#: field -> (dtype, per-row shape: () or ("n",) for the state)
_LAYOUT = {"end": ("<U9", ()), "endpoint": ("<U8", ()), "loss": ("<f8", ()),
           "t_end": ("<f8", ()), "period": ("<f8", ()), "amplitude": ("<f8", ()),
           "certified": ("|b1", ()), "reason": ("<U200", ()), "y0": ("<f8", ("n",)),
           "y_end": ("<f8", ("n",)), "route": ("<U11", ())}
_NAME = re.compile(r"^cell([0-9]{5,})-chunk([0-9]{5,})\.npz$")
_HOST = re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:32] or "host"


def chunk_name(cell: int, chunk: int) -> str:
    """The file name of a chunk: indices zero-padded to five digits and wider as needed
    (``cell00007-chunk123456.npz``); :func:`parse_chunk_name` reads any width back."""
    if cell < 0 or chunk < 0:
        raise ValueError(f"chunk indices are non-negative, got ({cell}, {chunk})")
    return f"cell{cell:05d}-chunk{chunk:05d}.npz"


def parse_chunk_name(name: str) -> tuple[int, int] | None:
    """``(cell, chunk)`` of a chunk file name, or ``None`` if ``name`` is not one (only the
    names :func:`chunk_name` writes: no other padding, no sign)."""
    m = _NAME.match(name)
    if m is None:
        return None
    cell, chunk = int(m.group(1)), int(m.group(2))
    return (cell, chunk) if chunk_name(cell, chunk) == name else None


def chunk_path(store, cell: int, chunk: int) -> Path:
    return Path(store) / "chunks" / chunk_name(cell, chunk)


# -- writing ----------------------------------------------------------------------------------


def _atomic_write(path: Path, write) -> None:
    tmp = path.parent / f".tmp-{path.name}-{_HOST}-{os.getpid()}-{uuid.uuid4().hex}"
    try:
        with open(tmp, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    except (OSError, OverflowError):
        return False
    return True


def _stale(path: Path, now: float) -> bool:
    """Whether a temporary file can be removed: its writer, on this host, has ended; or it
    is older than :data:`STALE_SECONDS` (a writer on another host, or a reused pid)."""
    try:
        age = now - path.lstat().st_mtime
    except OSError:
        return False
    if age > STALE_SECONDS:
        return True
    m = re.match(r"^\.tmp-.*-([A-Za-z0-9]+)-([0-9]+)-[0-9a-f]{32}$", path.name)
    if m is None:  # a temporary file of an older symdyn, which named no writer
        return age > 60.0
    return m.group(1) == _HOST and not _alive(int(m.group(2)))


@contextlib.contextmanager
def _locked(store: Path):
    """An exclusive advisory lock on the store (``flock``; no-op where there is none)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    fd = os.open(store / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def open_store(store, canonical: dict, identity: str) -> Path:
    """Create the store for a spec, or reopen it for the same spec; refuse a store of
    another spec or a non-empty directory that is not a store."""
    store = Path(store)
    try:
        store.mkdir(parents=True, exist_ok=True)
        with _locked(store):
            _open_locked(store, canonical, identity)
    except OSError as exc:
        raise DataError(f"sweep store {store}: cannot create or open it: "
                        f"{exc.strerror or exc}") from None
    return store


def _open_locked(store: Path, canonical: dict, identity: str) -> None:
    chunks = store / "chunks"
    if (store / "spec.json").exists():
        meta = read_spec(store)
        if meta["identity"] != identity:
            raise DataError(f"{store} holds sweep {meta['identity']}, not this spec "
                            f"({identity}): use another directory, or the same spec to "
                            "resume")
    elif any(p.name not in (".lock", "chunks") for p in store.iterdir()) or \
            (chunks.is_dir() and any(parse_chunk_name(p.name) for p in chunks.iterdir())):
        raise DataError(f"{store} is not empty and not a symdyn sweep store (no spec.json)")
    else:
        chunks.mkdir(exist_ok=True)
        meta = {"format": FORMAT, "identity": identity, "spec": canonical}
        text = json.dumps(meta, indent=2, sort_keys=True).encode()
        _atomic_write(store / "spec.json", lambda fh: fh.write(text))
    if chunks.is_symlink() or not chunks.is_dir():
        if chunks.exists() or chunks.is_symlink():
            raise DataError(f"sweep store {store} is corrupted: {chunks} is not a directory")
        chunks.mkdir()
    now = time.time()
    for stray in chunks.glob(".tmp-*"):
        if _stale(stray, now):
            stray.unlink(missing_ok=True)


def write_chunk(store, cell: int, chunk: int, identity: str, arrays: dict) -> None:
    """Write one chunk atomically."""
    path = chunk_path(store, cell, chunk)
    payload = {k: arrays[k] for k in _FIELDS}
    payload["meta"] = np.array([identity, str(cell), str(chunk)])
    _atomic_write(path, lambda fh: np.savez(fh, **payload))


# -- reading ----------------------------------------------------------------------------------


def read_spec(store) -> dict:
    """The ``spec.json`` of a store, checked: ``format``, a 16-digit hex ``identity`` and a
    ``spec`` of three tables; :class:`~symdyn.DataError` if it is not one."""
    store = Path(store)
    path = store / "spec.json"
    if not store.is_dir():
        raise DataError(f"sweep store {store} does not exist")
    if not path.exists():
        raise DataError(f"{store} is not a symdyn sweep store (no spec.json)")
    bad = f"sweep store {store} is corrupted: spec.json"
    try:
        text = _read_regular(path, SPEC_BYTES)
        meta = json.loads(text.decode("utf-8"))
    except (OSError, ValueError, UnicodeDecodeError, RecursionError):
        raise DataError(f"{bad} is unreadable (not UTF-8 JSON of at most {SPEC_BYTES:,} "
                        "bytes, or nested too deeply)") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or "identity" not in meta:
        raise DataError(f"{store} is not a symdyn sweep store (spec.json has no "
                        f"'{FORMAT}' format marker)")
    if not isinstance(meta["identity"], str) or not re.fullmatch(r"[0-9a-f]{16}",
                                                                 meta["identity"]):
        raise DataError(f"{bad} has no valid identity (16 hex digits)")
    spec = meta.get("spec")
    if not isinstance(spec, dict) or set(spec) != {"fixed", "axes", "random"} or \
            not all(isinstance(spec[k], dict) for k in spec):
        raise DataError(f"{bad}: 'spec' must be a table of the tables fixed, axes and random")
    return meta


def _read_regular(path: Path, limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (never blocks on a FIFO)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise DataError(f"{path} is not a regular file")
        if st.st_size > limit:
            raise DataError(f"{path} has {st.st_size:,} bytes; at most {limit:,} are read")
        return fh.read(limit + 1)[:limit]


def done_chunks(store) -> set[tuple[int, int]]:
    """``(cell, chunk)`` of every chunk file present (names parsed at any width)."""
    chunks = Path(store) / "chunks"
    if not chunks.is_dir():
        if chunks.exists() or chunks.is_symlink():
            raise DataError(f"sweep store {store} is corrupted: {chunks} is not a directory")
        return set()
    out = set()
    for p in chunks.iterdir():
        key = parse_chunk_name(p.name)
        if key is not None:
            out.add(key)
    return out


def _member(zf: zipfile.ZipFile, name: str, dtype: str, shape: tuple, path: Path):
    """One array of a chunk, its ``.npy`` header checked before its data is read."""
    fmt = np.lib.format
    want = np.dtype(dtype)
    try:
        info = zf.getinfo(name + ".npy")
    except KeyError:
        raise DataError(f"array {name} is missing") from None
    nbytes = want.itemsize * int(np.prod(shape, dtype=np.int64))
    if info.file_size > nbytes + 4096:
        raise DataError(f"array {name} holds {info.file_size:,} bytes; {nbytes:,} expected")
    with zf.open(info) as fh:
        version = fmt.read_magic(fh)
        reader = fmt.read_array_header_1_0 if version == (1, 0) else \
            fmt.read_array_header_2_0
        got_shape, fortran, got_dtype = reader(fh)
        if got_dtype != want or tuple(got_shape) != tuple(shape):
            raise DataError(f"array {name} is {got_dtype} of shape {tuple(got_shape)}; "
                            f"{want} of shape {tuple(shape)} expected")
        raw = fh.read(nbytes + 1)
    if len(raw) != nbytes:
        raise DataError(f"array {name} is truncated")
    return np.frombuffer(raw, dtype=want).reshape(shape, order="F" if fortran else "C").copy()


def read_chunk(store, cell: int, chunk: int, identity: str, rows: int | None = None,
               n_state: int | None = None) -> dict:
    """The arrays of one chunk of ``rows`` rows of a state of ``n_state`` components (either
    may be left ``None``: taken from the chunk's ``loss`` and ``y0``, bounded by the file's
    size); :class:`~symdyn.DataError` if the file is damaged, of another shape or dtype, or
    belongs to another sweep."""
    path = chunk_path(store, cell, chunk)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise DataError(f"sweep store is corrupted: {path} is unreadable ({exc.strerror}; "
                        "delete it to recompute that chunk)") from None
    try:
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise DataError("it is not a regular file")
            out = _read_arrays(fh, rows, n_state, path)
    except DataError as exc:
        raise DataError(f"sweep store is corrupted: {path}: {exc} (delete it to recompute "
                        "that chunk)") from None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, RuntimeError,
            NotImplementedError):
        raise DataError(f"sweep store is corrupted: {path} is unreadable (delete it to "
                        "recompute that chunk)") from None
    if out["meta"].tolist() != [identity, str(cell), str(chunk)]:
        raise DataError(f"sweep store is corrupted: {path} belongs to another sweep or chunk")
    return out


def _read_arrays(fh, rows, n_state, path) -> dict:
    with zipfile.ZipFile(fh) as zf:
        out = {"meta": _member(zf, "meta", _meta_dtype(zf), (3,), path)}
        if rows is None or n_state is None:
            # shapes from the file's own headers, each bounded by the file's size above
            size = os.fstat(fh.fileno()).st_size
            rows = rows if rows is not None else _header_shape(zf, "loss", size)[0]
            n_state = n_state if n_state is not None else \
                (_header_shape(zf, "y0", size) + (0, 0))[1]
        for name in _FIELDS:
            dtype, tail = _LAYOUT[name]
            if name in _OPTIONAL and name + ".npy" not in zf.namelist():
                out[name] = np.full(rows, "", dtype=dtype)
                continue
            out[name] = _member(zf, name, dtype, (rows, *(n_state for _ in tail)), path)
    return out


def _meta_dtype(zf) -> str:
    shape, dtype = _peek(zf, "meta")
    if dtype.kind != "U" or dtype.itemsize > 4 * 64:
        raise DataError(f"array meta is {dtype}; a short string array expected")
    return dtype.str


def _header_shape(zf, name: str, size: int) -> tuple:
    shape, dtype = _peek(zf, name)
    if int(np.prod(shape, dtype=np.float64)) * max(dtype.itemsize, 1) > size:
        raise DataError(f"array {name} claims shape {shape}, more than the file holds")
    return tuple(shape)


def _peek(zf, name: str):
    try:
        info = zf.getinfo(name + ".npy")
    except KeyError:
        raise DataError(f"array {name} is missing") from None
    fmt = np.lib.format
    with zf.open(info) as fh:
        version = fmt.read_magic(fh)
        reader = fmt.read_array_header_1_0 if version == (1, 0) else \
            fmt.read_array_header_2_0
        shape, _, dtype = reader(fh)
    return tuple(shape), dtype
