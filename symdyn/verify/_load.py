"""Importing one file of a proofs directory: a file that does not import (a syntax error, an
exception, ``SystemExit``) is a one-line :class:`~symdyn.SpecError` naming it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from ..errors import SpecError

__all__ = ["import_proof_file"]


def import_proof_file(path: Path, source: str) -> None:
    """Run the proof file ``path`` (from a directory named by ``source``) as a module."""
    spec = importlib.util.spec_from_file_location(f"symdyn_proofs.{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        raise SpecError(f"proof file {str(path)!r} ({source}) has a syntax error at line "
                        f"{exc.lineno}: {exc.msg}") from None
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - the user's code
        why = (str(exc).splitlines() or [""])[0][:200]
        raise SpecError(f"proof file {str(path)!r} ({source}) fails to import: "
                        f"{type(exc).__name__}: {why}") from None
