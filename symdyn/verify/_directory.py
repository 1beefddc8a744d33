"""Where ``symdyn verify`` reads its proofs from (named, ``$SYMDYN_PROOFS``, installed, or
the checkout's ``proofs/``)."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import SpecError

__all__ = ["proofs_directory"]


def proofs_directory(directory: str | os.PathLike | None = None) -> tuple[Path, str]:
    """Where the proofs are read from, and why: ``directory`` if named, else
    ``$SYMDYN_PROOFS``, else the proofs installed with symdyn (``symdyn/_proofs``) or, in a
    checkout, its ``proofs/``. Never the working directory unless it is named."""
    if directory is not None:
        return Path(directory), "named by --proofs"
    if os.environ.get("SYMDYN_PROOFS"):
        return Path(os.environ["SYMDYN_PROOFS"]), "named by $SYMDYN_PROOFS"
    here = Path(__file__).resolve().parent.parent  # the symdyn package
    if (here / "_proofs").is_dir():
        return here / "_proofs", "installed with symdyn"
    checkout = here.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "proofs").is_dir():
        return checkout / "proofs", "this checkout of symdyn"
    raise SpecError("symdyn's own proofs are not installed with it; name a directory of "
                    "proofs with --proofs DIR (or $SYMDYN_PROOFS)")
