"""Compile LaTeX with pdflatex, read the PDF back with pdftotext, and list what a reader
would object to: program syntax or wrong glyphs in the text, warnings in the log."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

needs_tex = pytest.mark.skipif(
    shutil.which("pdflatex") is None or shutil.which("pdftotext") is None,
    reason="pdflatex or pdftotext not installed (.ci/run installs Debian's "
           "texlive-latex-base, texlive-latex-recommended, lmodern and poppler-utils)")

#: program text that must not reach a typeset page, with what it looks like
PROGRAM_SYNTAX = {
    "power written **": re.compile(r"\*\*"),
    "inequality written !=": re.compile(r"!="),
    "product written *": re.compile(r"[\w)]\s*\*\s*[\w(]"),
    "the program name lamda": re.compile(r"lamda"),
    "OT1 glyph for < or > (¡ ¿)": re.compile(r"[¡¿]"),
    "dictionary or list repr": re.compile(r"\{'|\['"),
}

#: warnings of the log that a clean document does not have
LOG_WARNINGS = re.compile(
    r"^(Overfull \\[hv]box.*|Underfull \\[hv]box.*|.*Warning:.*|.*undefined references.*)$",
    re.M)


def compile_pdf(tex: str, directory: Path, name: str = "doc") -> tuple[str, str]:
    """Run pdflatex twice (so references resolve) on ``tex``; return the text of the PDF
    and the log. A compilation error fails the calling test with the end of the log."""
    (directory / f"{name}.tex").write_text(tex)
    for _ in range(2):
        proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error",
                               f"{name}.tex"], cwd=directory, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout[-3000:]
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", f"{name}.pdf", "-"], cwd=directory,
                          capture_output=True, text=True, check=True).stdout
    log = (directory / f"{name}.log").read_text(errors="replace")
    return text, log


def defects(text: str, log: str) -> list[str]:
    """Every objection, with the offending line; empty for a clean document."""
    out = []
    for what, pattern in PROGRAM_SYNTAX.items():
        for line in text.splitlines():
            if pattern.search(line):
                out.append(f"{what}: {line.strip()!r}")
    out += [f"log: {m.group(0)}" for m in LOG_WARNINGS.finditer(log)]
    return out
