"""An installed symdyn (a wheel, not the checkout) runs its own proofs from any directory,
and never the ``proofs/`` of the working directory unless it is named."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

HOSTILE = """
from pathlib import Path
Path({sentinel!r}).write_text("the working directory's proofs ran")
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """symdyn built as a wheel and unpacked into a directory of its own."""
    out = tmp_path_factory.mktemp("wheel")
    # pip builds in an isolated environment with the setuptools pyproject.toml asks for
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                            str(out), str(ROOT)], timeout=600, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-2000:]
    wheel = next(out.glob("symdyn-*.whl"))
    target = out / "site"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(target)
    return target


def test_the_wheel_carries_the_proofs(installed):
    shipped = sorted(p.name for p in (installed / "symdyn" / "_proofs").glob("*.py"))
    assert shipped == sorted(p.name for p in (ROOT / "proofs").glob("*.py"))


def test_installed_verify_ignores_the_working_directory(installed, tmp_path):
    work = tmp_path / "work"
    (work / "proofs").mkdir(parents=True)
    sentinel = tmp_path / "SENTINEL"
    (work / "proofs" / "p99_hostile.py").write_text(HOSTILE.format(sentinel=str(sentinel)))
    env = {**os.environ, "PYTHONPATH": str(installed)}
    env.pop("SYMDYN_PROOFS", None)
    run = subprocess.run([sys.executable, "-m", "symdyn", "verify", "--list"], cwd=work,
                         env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "bp-111-invariant" in run.stdout and not sentinel.exists()
    assert str(installed) in subprocess.run(
        [sys.executable, "-c", "import symdyn; print(symdyn.__file__)"], cwd=work, env=env,
        capture_output=True, text=True, timeout=120).stdout  # the wheel, not the checkout
    # named, the directory runs, and the output says whose proofs these are
    named = subprocess.run([sys.executable, "-m", "symdyn", "verify", "--list", "--proofs",
                            "proofs"], cwd=work, env=env, capture_output=True, text=True,
                           timeout=300)
    assert sentinel.exists() and "named by --proofs" in named.stderr
