"""The results store of a sweep: a directory with ``spec.json`` and one ``.npz`` per chunk.

Every file is written under a temporary name in the same directory, flushed to disk and
then renamed over its final name (``os.replace``, atomic on POSIX): a process killed at any
moment leaves either the whole chunk or none of it (plus a stray temporary file, removed when
the store is next opened). A chunk is done exactly when its file exists."""

from __future__ import annotations

import json
import os
import uuid
import zipfile
from pathlib import Path

import numpy as np

from ..errors import DataError

__all__ = ["FORMAT", "open_store", "read_spec", "chunk_path", "done_chunks", "write_chunk",
           "read_chunk"]

FORMAT = "symdyn-sweep-1"
_FIELDS = ("end", "endpoint", "loss", "t_end", "period", "amplitude", "certified", "reason",
           "y0", "y_end")


def _atomic_write(path: Path, write) -> None:
    tmp = path.parent / f".tmp-{path.name}-{uuid.uuid4().hex}"
    try:
        with open(tmp, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def read_spec(store) -> dict:
    """The ``spec.json`` of a store; :class:`~symdyn.DataError` if it is not one."""
    store = Path(store)
    path = store / "spec.json"
    if not store.is_dir():
        raise DataError(f"sweep store {store} does not exist")
    if not path.exists():
        raise DataError(f"{store} is not a symdyn sweep store (no spec.json)")
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        raise DataError(f"sweep store {store} is corrupted: spec.json is unreadable") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or "identity" not in meta:
        raise DataError(f"{store} is not a symdyn sweep store (spec.json has no "
                        f"'{FORMAT}' format marker)")
    return meta


def open_store(store, canonical: dict, identity: str) -> Path:
    """Create the store for a spec, or reopen it for the same spec; refuse a store of
    another spec or a non-empty directory that is not a store."""
    store = Path(store)
    if store.exists() and not store.is_dir():
        raise DataError(f"sweep store {store} exists and is not a directory")
    if store.is_dir() and (store / "spec.json").exists():
        meta = read_spec(store)
        if meta["identity"] != identity:
            raise DataError(f"{store} holds sweep {meta['identity']}, not this spec "
                            f"({identity}): use another directory, or the same spec to "
                            "resume")
    elif store.is_dir() and any(store.iterdir()):
        raise DataError(f"{store} is not empty and not a symdyn sweep store (no spec.json)")
    else:
        (store / "chunks").mkdir(parents=True, exist_ok=True)
        meta = {"format": FORMAT, "identity": identity, "spec": canonical}
        text = json.dumps(meta, indent=2, sort_keys=True).encode()
        _atomic_write(store / "spec.json", lambda fh: fh.write(text))
    (store / "chunks").mkdir(exist_ok=True)
    for stray in (store / "chunks").glob(".tmp-*"):
        stray.unlink(missing_ok=True)
    return store


def chunk_path(store, cell: int, chunk: int) -> Path:
    return Path(store) / "chunks" / f"cell{cell:05d}-chunk{chunk:05d}.npz"


def done_chunks(store) -> set[tuple[int, int]]:
    """``(cell, chunk)`` of every chunk file present."""
    out = set()
    for p in (Path(store) / "chunks").glob("cell*-chunk*.npz"):
        try:
            out.add((int(p.name[4:9]), int(p.name[15:20])))
        except ValueError:
            continue
    return out


def write_chunk(store, cell: int, chunk: int, identity: str, arrays: dict) -> None:
    """Write one chunk atomically."""
    path = chunk_path(store, cell, chunk)
    payload = {k: arrays[k] for k in _FIELDS}
    payload["meta"] = np.array([identity, str(cell), str(chunk)])
    _atomic_write(path, lambda fh: np.savez(fh, **payload))


def read_chunk(store, cell: int, chunk: int, identity: str) -> dict:
    """The arrays of one chunk; :class:`~symdyn.DataError` if the file is damaged or
    belongs to another sweep."""
    path = chunk_path(store, cell, chunk)
    try:
        with np.load(path, allow_pickle=False) as z:
            out = {k: z[k] for k in (*_FIELDS, "meta")}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        raise DataError(f"sweep store is corrupted: {path} is unreadable (delete it to "
                        "recompute that chunk)") from None
    if list(out["meta"]) != [identity, str(cell), str(chunk)]:
        raise DataError(f"sweep store is corrupted: {path} belongs to another sweep or chunk")
    return out
