"""``symdyn notebooks``: execute the notebooks of ``notebooks/`` (jupytext percent-format
``.py`` sources) on a fresh kernel and write each as an executed ``.ipynb`` and as HTML with
its figures embedded, so the results can be read without running anything.

The sources live in the top-level ``notebooks/`` of a checkout, not in the installed
package: they are found with ``--notebooks DIR``, else ``$SYMDYN_NOTEBOOKS``, else beside
the package (a checkout or an editable install), else ``./notebooks``. The kernel is
Jupyter's ``python3`` kernel with this package first on its ``PYTHONPATH``, so the notebooks
run against the same symdyn as the command.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from pathlib import Path

from ._common import UsageError, real

__all__ = ["COMMANDS", "notebook_sources", "execute_notebook"]

#: what the command needs beyond symdyn's own dependencies (the ``notebooks`` extra)
NEEDS = ("jupytext", "nbformat", "nbclient", "nbconvert", "ipykernel")
QUICK_VARIABLE = "SYMDYN_NOTEBOOK_QUICK"


def _notebook_folder(directory: str | os.PathLike | None) -> Path:
    if directory is not None:
        folder = Path(directory)
    elif os.environ.get("SYMDYN_NOTEBOOKS"):
        folder = Path(os.environ["SYMDYN_NOTEBOOKS"])
    else:
        beside = Path(__file__).resolve().parents[2] / "notebooks"
        folder = beside if beside.is_dir() else Path.cwd() / "notebooks"
    if not folder.is_dir():
        raise UsageError(f"no notebooks directory at {str(folder)!r}; pass --notebooks DIR, set "
                         "SYMDYN_NOTEBOOKS, or run from a checkout of symdyn")
    return folder


def notebook_sources(names=(), directory: str | os.PathLike | None = None) -> list[Path]:
    """The notebook sources (``*.py`` of the notebooks folder, in name order; names starting
    with ``_`` are helpers, not notebooks), or those named: by file stem
    (``01_one_one_one``) or by a unique prefix of it (``01``)."""
    folder = _notebook_folder(directory)
    found = sorted(p for p in folder.glob("*.py") if not p.name.startswith("_"))
    if not names:
        return found
    out = []
    for name in names:
        stem = Path(name).stem if name.endswith(".py") else name
        hits = [p for p in found if p.stem == stem] or [p for p in found
                                                       if p.stem.startswith(stem)]
        if len(hits) != 1:
            known = ", ".join(p.stem for p in found) or "none"
            what = "matches several notebooks" if hits else "is not a notebook"
            raise UsageError(f"{name!r} {what}; notebooks in {str(folder)!r}: {known}")
        out.append(hits[0])
    return out


def _kernel_env(quick: bool) -> dict[str, str]:
    """The environment of the kernel: this symdyn first on the path, quick mode as asked."""
    root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    env[QUICK_VARIABLE] = "1" if quick else "0"
    return env


def execute_notebook(path: Path, *, quick: bool, timeout: float = 3600.0):
    """Run the notebook source ``path`` top to bottom on a fresh ``python3`` kernel (working
    directory: the notebook's folder). Returns the executed notebook, the seconds taken and
    ``None`` or a one-line description of the first error (a failing cell, an error shown in
    a cell's output such as a figure that could not be drawn, a cell over ``timeout``
    seconds, a dead kernel)."""
    import subprocess

    import jupytext
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    nb = jupytext.read(path)
    client = NotebookClient(nb, kernel_name="python3", timeout=timeout,
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.monotonic()
    error = None
    try:
        # the kernel's own log (e.g. its transport warning) is not the notebook's output
        client.execute(env=_kernel_env(quick), stderr=subprocess.DEVNULL)
    except CellExecutionError as exc:
        error = f"a cell failed: {exc.ename}: {exc.evalue}"
    except CellTimeoutError:
        error = f"a cell ran longer than {timeout:g} s (--timeout)"
    except DeadKernelError as exc:
        error = f"the kernel died: {exc}"
    for k, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []) if error is None else ():
            if out.get("output_type") == "error":
                error = f"cell {k} shows an error: {out.get('ename')}: {out.get('evalue')}"
    return nb, time.monotonic() - start, error


def _setup_notebooks(p: argparse.ArgumentParser) -> None:
    p.add_argument("names", nargs="*", metavar="NAME",
                   help="notebooks to render, by name or number prefix (default: all)")
    p.add_argument("--out", metavar="DIR", default=None,
                   help="directory for the executed .ipynb and .html files (created)")
    p.add_argument("--quick", action="store_true",
                   help=f"quick mode ({QUICK_VARIABLE}=1): fewer starts and shorter runs")
    p.add_argument("--notebooks", metavar="DIR", default=None,
                   help="directory of notebook sources (default: notebooks/ of this checkout)")
    p.add_argument("--timeout", type=real(positive=True), default=3600.0, metavar="SECONDS",
                   help="time allowed to each cell (default 3600)")
    p.add_argument("--list", action="store_true", help="list the notebooks and exit")


def _output_dir(text: str | None) -> Path:
    if text is None:
        raise UsageError("symdyn notebooks: --out DIR is required (where to write the "
                         "executed notebooks)")
    out = Path(text)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot write to {text!r}: {exc.strerror or exc}") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write to {text!r}: permission denied")
    return out


def _run_notebooks(args: argparse.Namespace) -> int:
    missing = [m for m in NEEDS if importlib.util.find_spec(m) is None]
    sources = notebook_sources(args.names, args.notebooks)
    if args.list:
        for p in sources:
            print(p.stem)
        return 0
    if missing:
        raise UsageError(f"symdyn notebooks needs {', '.join(missing)}: pip install "
                         "'symdyn[notebooks]'")
    out = _output_dir(args.out)
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(embed_images=True)
    failed = 0
    for path in sources:
        nb, seconds, error = execute_notebook(path, quick=args.quick, timeout=args.timeout)
        ipynb, html = out / f"{path.stem}.ipynb", out / f"{path.stem}.html"
        try:
            nbformat.write(nb, ipynb)
            html.write_text(exporter.from_notebook_node(nb)[0], encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write {str(html)!r}: {exc.strerror or exc}") from None
        if error:
            failed += 1
            print(f"symdyn: {path.stem}: {error} (partial output in {str(html)!r})",
                  file=sys.stderr)
        else:
            print(f"{path.stem}: {seconds:.1f} s -> {html}")
    return 1 if failed else 0


COMMANDS = {
    "notebooks": ("execute the notebooks and write them as .ipynb and HTML with their figures",
                  _setup_notebooks, _run_notebooks),
}
