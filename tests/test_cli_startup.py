"""The command starts fast: ``symdyn --help`` and ``--version`` import none of the heavy
libraries, and ``import symdyn`` imports its public names only on first use (PEP 562).

Checked on what is imported (``python -X importtime``), never on the clock."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import symdyn

HEAVY = ("sympy", "scipy", "numpy", "matplotlib", "dask", "distributed", "numba", "sklearn",
         "xarray", "pandas", "tqdm")


def _imported(*code_or_args: str) -> set[str]:
    """The top-level packages a fresh interpreter imports to run ``python -X importtime ...``."""
    proc = subprocess.run([sys.executable, "-X", "importtime", *code_or_args],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode in (0, 2), proc.stderr[-2000:]
    names = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    assert "symdyn" in names  # the probe saw the imports at all
    return names


@pytest.mark.parametrize("option", ["--help", "--version", None])
def test_help_and_version_import_no_heavy_library(option):
    args = ["-m", "symdyn"] + ([option] if option else [])
    heavy = sorted(set(HEAVY) & _imported(*args))
    assert heavy == [], f"`symdyn {option or ''}` imports {heavy}"


def test_probe_sees_heavy_imports():
    # the probe can fail: a command that needs sympy is seen importing it
    assert "sympy" in _imported("-m", "symdyn", "derive", "--help")


def test_import_symdyn_is_lazy():
    assert set(HEAVY) & _imported("-c", "import symdyn") == set()
    assert "sympy" in _imported("-c", "import symdyn; symdyn.derive")


def _type_checking_names() -> dict[str, str]:
    """name -> submodule, from the ``if TYPE_CHECKING:`` imports of ``symdyn/__init__.py``."""
    tree = ast.parse(Path(symdyn.__file__).read_text())
    block = next(n for n in tree.body if isinstance(n, ast.If)
                 and getattr(n.test, "id", None) == "TYPE_CHECKING")
    return {a.name: node.module for node in block.body if isinstance(node, ast.ImportFrom)
            for a in node.names}


def test_lazy_table_matches_the_static_imports_and_all():
    static = _type_checking_names()
    assert static == symdyn._SOURCE
    assert set(symdyn.__all__) == set(static)


def test_every_public_name_resolves_to_its_module_object():
    for name, module in symdyn._SOURCE.items():
        assert getattr(symdyn, name) is getattr(importlib.import_module(f"symdyn.{module}"),
                                                name), name
        assert name in dir(symdyn)
    assert symdyn.numerics is importlib.import_module("symdyn.numerics")
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        symdyn.nothing_here  # noqa: B018
    with pytest.raises(AttributeError):
        symdyn.__wrapped__  # noqa: B018


def test_subcommand_still_parses_and_runs(capsys):
    from symdyn.cli import main

    assert main(["params", "--arch", "1-1-1", "--rule", "rbp"]) == 0
    assert "alpha" in capsys.readouterr().out
    assert main(["nosuchcommand"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_functions_keep_their_names_over_submodules_imported_first():
    # symdyn.derive and symdyn.sweep are both a submodule and a function of the API
    code = ("import symdyn.sweep._run, symdyn.derive, types, symdyn as sd; "
            "assert not isinstance(sd.sweep, types.ModuleType), sd.sweep; "
            "assert not isinstance(sd.derive, types.ModuleType), sd.derive; "
            "assert sd.sweep.__module__ == 'symdyn.sweep._run'")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.mark.parametrize("argv, allowed", [
    (["verify", "--help"], set()),
    (["verify", "--budget", "nan", "--quick"], set()),
    # refused from Fashion-MNIST's IDX header (or as missing, without the package): no data
    # read, no engine
    (["experiment", "--epochs", "100000"], {"numpy"}),
    (["experiment", "--seeds", "10000"], {"numpy"}),
    (["sweep", "--set", "rule=arbp", "--set", "depth=200", "--store", "/nonexistent/st",
      "--scheduler", "sync"], {"numpy", "tqdm"}),
    (["sweep", "--set", "rule=arbp", "--set", "depth=3", "--set", "starts=1000000000000",
      "--store", "/nonexistent/st", "--scheduler", "sync"], {"numpy", "tqdm"}),
])
def test_refusals_come_before_the_heavy_imports(argv, allowed):
    """Bad options and oversized requests are refused before sympy, scipy, numba, Dask or
    the proofs load (what a refusal costs is start-up, not the libraries)."""
    heavy = sorted(set(HEAVY) & _imported("-m", "symdyn", *argv) - allowed)
    assert heavy == [], f"`symdyn {' '.join(argv)}` imports {heavy}"
