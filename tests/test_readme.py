"""Every example of README.md is the tool's real output: each ```console block is run
(``$ symdyn ...`` lines, in-process) and compared with what follows it, and each ```python
block with ``>>>`` prompts runs as a doctest.

In the expected output, a line ``...`` stands for any number of lines and ``...`` inside a
line for any text (timings, for instance); everything else must match exactly."""

from __future__ import annotations

import doctest
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from symdyn.cli import main

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"```(console|python)\n(.*?)```", re.S)


def _examples():
    """(kind, source) of every checked block, in README order."""
    return [(m.group(1), m.group(2)) for m in BLOCK.finditer(README.read_text())
            if m.group(1) == "console" or ">>>" in m.group(2)]


def _commands(block: str) -> list[tuple[list[str], str]]:
    """The ``$ symdyn`` commands of a console block, each with its expected output."""
    out, argv, lines = [], None, []
    for line in block.splitlines():
        if line.startswith("$ "):
            if argv is not None:
                out.append((argv, "\n".join(lines)))
            words = shlex.split(line[2:])
            assert words[0] == "symdyn", f"README runs something else: {line}"
            argv, lines = words[1:], []
        else:
            lines.append(line)
    if argv is not None:
        out.append((argv, "\n".join(lines)))
    return out


def pattern(expected: str) -> re.Pattern:
    """``expected`` as a regular expression: a line ``...`` matches any lines, ``...``
    inside a line any text."""
    parts = []
    for line in expected.strip("\n").splitlines():
        if line.strip() == "...":
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            body = ".*?".join(re.escape(piece) for piece in line.rstrip().split("..."))
            parts.append(body + r"[ \t]*\n")
    return re.compile("".join(parts) + r"\Z", re.S)


def test_the_pattern_is_strict():
    """Negative control: a changed word, a missing line or an extra line fails."""
    p = pattern("a b\n...\nc ... d\ne")
    assert p.match("a b\nc x d\ne\n") and p.match("a b\n1\n2\nc xyz d\ne\n")
    assert not p.match("a c\nc x d\ne\n") and not p.match("a b\nc x d\n")
    assert not p.match("a b\nc x d\ne\nextra\n")


CONSOLE = [(argv, expected) for kind, block in _examples() if kind == "console"
           for argv, expected in _commands(block)]


@pytest.mark.parametrize("argv, expected", CONSOLE, ids=[" ".join(a[:3]) for a, _ in CONSOLE])
def test_console_example(argv, expected, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    code = main(argv)
    out = capsys.readouterr().out
    assert code == 0, out
    assert pattern(expected).match(out), f"README shows:\n{expected}\n\nthe tool prints:\n{out}"


PYTHON = [b for k, b in _examples() if k == "python"]


@pytest.mark.parametrize("block", PYTHON, ids=[f"python-{i}" for i in range(len(PYTHON))])
def test_python_example(block, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    parser = doctest.DocTestParser()
    test = parser.get_doctest(block, {}, "README", str(README), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test, out=lambda s: None)
    assert runner.failures == 0, "a README python example does not print what it shows"


def test_readme_opens_with_the_two_commands():
    head = README.read_text().split("```bash\n", 1)[1].split("```", 1)[0].splitlines()
    assert head == ['pip install -e ".[test]" && symdyn verify',
                    'pip install -e ".[test]" && python -m pytest']
    assert "../shared" not in README.read_text() and os.path.exists(
        README.parent / "docs" / "science.md")


def _sweep_script() -> str:
    """The README's Python sweep example: a whole script, with its guard."""
    blocks = [m.group(2) for m in BLOCK.finditer(README.read_text())
              if m.group(1) == "python" and "sd.sweep(" in m.group(2)]
    assert len(blocks) == 1
    return blocks[0]


def _run_script(source: str, folder: Path, timeout: float) -> subprocess.CompletedProcess:
    (folder / "sweep_script.py").write_text(source)
    return subprocess.run([sys.executable, "sweep_script.py"], cwd=folder, capture_output=True,
                          text=True, timeout=timeout)


def test_sweep_script_without_the_guard_fails_in_one_line_naming_the_fix(tmp_path):
    lines = _sweep_script().splitlines()
    guard = next(i for i, x in enumerate(lines) if x.startswith("if __name__"))
    unguarded = "\n".join(lines[:guard] + [x[4:] for x in lines[guard + 1:]]) + "\n"
    assert "if __name__" not in unguarded and "\nrun = sd.sweep(" in unguarded
    proc = _run_script(unguarded, tmp_path, timeout=300)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("symdyn.errors.SpecError: sweep() called at import time")
    assert 'if __name__ == "__main__":' in last
    assert "bootstrapping" not in proc.stderr and "Nanny" not in proc.stderr
    assert not (tmp_path / "store").exists()  # refused before any work


@pytest.mark.slow
def test_readme_sweep_script_runs_as_a_file(tmp_path):
    # as written: a local cluster of worker processes that re-import the script
    proc = _run_script(_sweep_script(), tmp_path, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "bootstrapping" not in proc.stderr
    rows = [line.split() for line in proc.stdout.splitlines() if line.split()[:1] in
            (["0.1"], ["1"])]
    assert [r[1] for r in rows] == ["20/20", "20/20"], proc.stdout
