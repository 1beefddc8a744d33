"""Fashion-MNIST (Xiao, Rasul and Vollgraf 2017) found where Debian's package
``dataset-fashion-mnist`` puts it, in ``$SYMDYN_DATA`` or in a directory given: 60,000 + 10,000
grey images of 28x28 clothes in 10 classes, MNIST's file format."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import DataError

__all__ = ["fashion_mnist_dir", "FASHION_PACKAGE", "FASHION_DEBIAN_DIR", "FASHION_FILES"]

#: The Debian package that ships the files, and where it puts them.
FASHION_PACKAGE = "dataset-fashion-mnist"
FASHION_DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
          "t10k-labels-idx1-ubyte")


def _complete(d: Path) -> bool:
    return all((d / f).is_file() or (d / (f + ".gz")).is_file() for f in FASHION_FILES)


def fashion_mnist_dir(directory: str | Path | None = None) -> Path:
    """The directory of the four IDX files: ``directory`` if given; else
    ``$SYMDYN_DATA/fashion-mnist`` or ``$SYMDYN_DATA``, then Debian's
    :data:`FASHION_DEBIAN_DIR`. A one-line :class:`DataError` naming the package if none has
    them."""
    if directory is not None:
        d = Path(directory)
        if not _complete(d):
            raise DataError(f"Fashion-MNIST: {str(d)!r} lacks its four files "
                            f"({', '.join(FASHION_FILES)}, each maybe .gz)")
        return d
    env = os.environ.get("SYMDYN_DATA")
    candidates = ([Path(env) / "fashion-mnist", Path(env)] if env else []) + [FASHION_DEBIAN_DIR]
    for d in candidates:
        if _complete(d):
            return d
    raise DataError(f"Fashion-MNIST not found (looked in {', '.join(map(str, candidates))}): "
                    f"install Debian's package {FASHION_PACKAGE} (apt-get install "
                    f"{FASHION_PACKAGE}), set SYMDYN_DATA, or give fashion-mnist:DIR")

