"""The notebooks run: every jupytext source in ``notebooks/`` is executed top to bottom on a
fresh ``python3`` kernel in quick mode (``SYMDYN_NOTEBOOK_QUICK=1``), and any cell error,
or an error shown in an output (a figure that could not be drawn), fails the test with the
cell's source. Each notebook also keeps to the public API and to its own layout (a markdown
cell first and last). ``symdyn notebooks`` is tested on a tiny notebook of its own."""

from __future__ import annotations

import ast
import os
import re
import sys
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")
nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")
pytest.importorskip("ipykernel")

import symdyn  # noqa: E402
from symdyn.cli import main  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for p in (ROOT / "notebooks").glob("*.py") if not p.name.startswith("_"))
PACKAGE_ROOT = str(Path(symdyn.__file__).resolve().parents[1])


def kernel_env(quick: bool = True) -> dict[str, str]:
    """The kernel imports the symdyn under test (the checkout's, first on the path)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
    env["SYMDYN_NOTEBOOK_QUICK"] = "1" if quick else "0"
    return env


def execute(nb, cwd: Path):
    """Run ``nb`` in place on a fresh python3 kernel; fail with the failing cell's source."""
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=600,
                                     resources={"metadata": {"path": str(cwd)}})
    try:
        client.execute(env=kernel_env())
    except nbclient.exceptions.CellExecutionError as exc:
        pytest.fail(f"{exc.ename}: {exc.evalue}\n{exc}", pytrace=False)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                pytest.fail(f"the output of this cell shows {out['ename']}: {out['evalue']}\n"
                            f"{cell.source}", pytrace=False)
    return nb


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 5
    assert [p.stem[:3] for p in NOTEBOOKS] == [f"{k:02d}_" for k in range(1, len(NOTEBOOKS) + 1)]


WHO_RUNS = "import sys as _s, symdyn as _sd\nprint(_s.executable)\nprint(_sd.__file__)"


def check_kernel(cell) -> None:
    """The ``python3`` kernel ran this interpreter (ipykernel installed beside it) and the
    symdyn under test; otherwise the notebooks would test something else."""
    executable, package = cell.outputs[0]["text"].split()
    assert os.path.realpath(executable) == os.path.realpath(sys.executable), (
        "the python3 kernel runs another interpreter; run "
        "`python -m ipykernel install --sys-prefix` in this environment")
    assert os.path.realpath(package) == os.path.realpath(symdyn.__file__)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_layout_and_public_api(path):
    nb = jupytext.read(path)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    assert nb.cells[-1].cell_type == "markdown"
    assert nb.cells[-1].source.startswith("## What was found"), "a closing summary"
    assert "SYMDYN_NOTEBOOK_QUICK" in path.read_text()
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("symdyn"):
            assert node.module in ("symdyn", "symdyn.plots"), node.module
            assert all(not a.name.startswith("_") for a in node.names)
        if isinstance(node, ast.Import):
            for a in node.names:
                assert a.name in ("symdyn",) or not a.name.startswith("symdyn"), a.name
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id == "sd"):
            assert node.attr in symdyn.__all__, f"sd.{node.attr} is not public API"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path):
    nb = jupytext.read(path)
    nb.cells.append(nbformat.v4.new_code_cell(WHO_RUNS))  # checked after the notebook's own
    execute(nb, path.parent)
    check_kernel(nb.cells.pop())
    figures = sum("image/png" in out.get("data", {}) for c in nb.cells
                  for out in c.get("outputs", []))
    assert figures >= 2, f"{path.stem} shows {figures} figure(s)"


# -- symdyn notebooks -----------------------------------------------------------------------

TINY = """# %% [markdown]
# # A tiny notebook

# %%
import os
import matplotlib.pyplot as plt
print("quick:", os.environ["SYMDYN_NOTEBOOK_QUICK"])
fig, ax = plt.subplots()
ax.plot([0, 1], [1, 0])
ax.set_title("a line")
plt.show()
"""


def test_cli_renders_ipynb_and_html(tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    (src / "01_tiny.py").write_text(TINY)
    (src / "_helper.py").write_text("x = 1\n")
    out = tmp_path / "out" / "deeper"
    code = main(["notebooks", "--notebooks", str(src), "--out", str(out), "--quick", "01"])
    stdout, err = capsys.readouterr()
    assert code == 0, err
    assert re.match(r"01_tiny: [\d.]+ s -> ", stdout)
    assert sorted(p.name for p in out.iterdir()) == ["01_tiny.html", "01_tiny.ipynb"]
    nb = nbformat.read(out / "01_tiny.ipynb", as_version=4)
    assert "quick: 1" in nb.cells[1].outputs[0]["text"]
    html = (out / "01_tiny.html").read_text()
    assert "data:image/png;base64," in html and "A tiny notebook" in html


def test_cli_reports_a_failing_notebook(tmp_path, capsys):
    (tmp_path / "01_bad.py").write_text("# %%\nx = 1 / 0\n")
    code = main(["notebooks", "--notebooks", str(tmp_path), "--out", str(tmp_path / "o")])
    _, err = capsys.readouterr()
    assert code == 1 and "ZeroDivisionError" in err and err.count("\n") == 1
    assert (tmp_path / "o" / "01_bad.html").exists()


@pytest.mark.parametrize("argv, message", [
    (["--out", "{file}/sub"], "cannot write to"),
    (["--out", "{tmp}/o", "nope"], "'nope' is not a notebook"),
    ([], "--out DIR is required"),
    (["--notebooks", "{tmp}/missing", "--out", "{tmp}/o"], "no notebooks directory"),
])
def test_cli_usage_errors(tmp_path, capsys, argv, message):
    (tmp_path / "01_x.py").write_text(TINY)
    (tmp_path / "file").write_text("")
    argv = [a.format(tmp=tmp_path, file=tmp_path / "file") for a in argv]
    if "--notebooks" not in argv:
        argv += ["--notebooks", str(tmp_path)]
    code = main(["notebooks", *argv])
    _, err = capsys.readouterr()
    assert code == 2 and message in err and err.count("\n") == 1


def test_cli_without_the_extras(tmp_path, capsys, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "nbconvert" else real(name, *a))
    (tmp_path / "01_x.py").write_text(TINY)
    code = main(["notebooks", "--notebooks", str(tmp_path), "--out", str(tmp_path / "o")])
    _, err = capsys.readouterr()
    assert code == 2 and "needs nbconvert" in err and "symdyn[notebooks]" in err
    assert not (tmp_path / "o").exists()
