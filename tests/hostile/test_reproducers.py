"""The reproducers of issue 24 (and issue 22's hostile sweep specs), each run as its own
process as a user runs it: exit code 2 and one line on stderr (an API call: a SymdynError).
Untimed: ``python tests/hostile/reproducers.py`` prints their CPU and wall seconds."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import reproducers as rp  # noqa: E402


@pytest.mark.parametrize("case", [
    rp.Case("5", "experiment --epochs 100000", rp._sym("experiment", "--epochs", "100000",
                                                       "--out", "e")),
    rp.Case("22", "sweep depth=200", rp._sym("sweep", "--set", "rule=arbp", "--set",
                                             "depth=200", "--store", "st", "--scheduler",
                                             "sync")),
    rp.Case("own", "verify --budget nan", rp._sym("verify", "--budget", "nan", "--quick")),
], ids=lambda c: c.label)
def test_cheap_reproducers_end_in_one_line(case, tmp_path):
    out = rp.run(case, tmp_path)
    assert (out.code, out.lines) == (2, 1), out.last
    assert out.last.startswith("symdyn") and not (tmp_path / "e").exists()


@pytest.mark.slow
def test_every_reproducer_ends_in_one_line_or_as_it_should(tmp_path):
    failed = []
    for case in rp.cases(tmp_path):
        out = rp.run(case, tmp_path)
        if out.code != case.want or (case.want == 2 and out.lines != 1):
            failed.append((case.label, out.code, out.lines, out.last[:200]))
    assert not failed, failed


@pytest.mark.slow
def test_two_sweeps_on_one_store_lose_nothing(tmp_path):
    text, ok, _ = rp.shared_store(tmp_path)
    assert ok, text
