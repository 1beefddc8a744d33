"""The public API given the wrong types (issue 24): ``None``, lists, object arrays, strings,
dicts, functions. Each call raises a :class:`~symdyn.SymdynError` subclass, never a
``TypeError`` or ``AttributeError`` from deep inside."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import symdyn as sd
from symdyn.errors import DataError, SpecError, SymdynError

sys.path.insert(0, str(Path(__file__).parent))
from corpus import api_targets  # noqa: E402 - the corpus beside this file holds the table

SYSTEM = sd.derive("1-1-1", "rbp")
VALS = {"alpha": 1, "beta": 1, "c1": 1}
BAD = [None, [1, 2], np.array([object(), None], dtype=object), 5, {}, b"x", (1,), object(),
       sd.derive]

#: the entry points run here on every test run (``corpus.py`` runs them all; a name missing
#: from its table is a KeyError here)
_TARGETS = api_targets(SYSTEM)
CALLS = {name: _TARGETS[name] for name in (
    "invariants", "verify_invariant", "verify_invariant(H)", "fixed_points",
    "fixed_points(values)", "jacobian", "reduce", "analyze", "numeric", "integrate",
    "integrate(y0)", "integrate(t)", "integrate(values)", "integrate_batch",
    "integrate_batch(Y0)", "integrate_batch(t)", "simulate", "simulate(lr)", "compare",
    "classify", "sweep(spec)", "sweep(store)", "sweep(workers)", "sweep(scheduler)",
    "load_sweep", "sweep_summary", "load_data", "run_suite", "Run(rule)", "Run(epochs)",
    "Suite(seeds)", "Suite(rules)", "Dataset.load", "parse_expression(names)")}


@pytest.mark.parametrize("name", list(CALLS))
def test_wrong_types_raise_a_symdyn_error(name):
    for bad in BAD:
        if name in ("Suite(rules)",) and isinstance(bad, list | tuple):
            continue  # a list of rules is a valid (if odd) value; checked by name below
        try:
            CALLS[name](bad)
        except SymdynError as exc:
            assert "\n" not in str(exc), (name, bad, str(exc))
        except Exception as exc:  # noqa: BLE001 - the failure this test looks for
            pytest.fail(f"{name}({bad!r:.40}) raised {type(exc).__name__}: {exc}")


@pytest.mark.parametrize("call, error, words", [
    (lambda: sd.invariants(None), SpecError, ["LearningSystem", "NoneType"]),
    (lambda: sd.sweep(None, "/tmp/x", scheduler="sync"), SpecError, ["NoneType"]),
    (lambda: SYSTEM.numeric([1, 2]), SpecError, ["values", "list"]),
    (lambda: sd.load_sweep(None), DataError, ["path", "NoneType"]),
    (lambda: sd.integrate(SYSTEM, np.array([object(), None], dtype=object), 1.0, VALS),
     SpecError, ["initial state"]),
])
def test_the_issues_examples(call, error, words):
    with pytest.raises(error) as info:
        call()
    for w in words:
        assert w in str(info.value), str(info.value)


def test_right_types_still_work():
    """Positive control: the checks do not refuse what the API takes."""
    assert len(sd.invariants(SYSTEM)) == 1
    assert sd.jacobian(SYSTEM).shape == (2, 2)
    r = sd.integrate(SYSTEM, np.array([0.1, 0.1]), 1, VALS)
    assert r.status in ("running", "converged")
    assert sd.integrate_batch(SYSTEM, np.ones((2, 2)), np.float64(1.0), VALS).y.shape == (2, 2)
    assert sd.Suite(seeds=1, rules=["bp"]).runs()


@pytest.mark.parametrize("arch, degree, fit", [("1000-1000-1000-1000", 2, 198),
                                               ("10-10-10", 5, 15)])
def test_an_invariant_search_too_large_is_refused_with_what_fits(arch, degree, fit):
    """comb(198 + 2, 2) - 1 = 19,899 <= 20,000 < comb(199 + 2, 2) - 1 = 20,099."""
    from symdyn.errors import AnalysisError

    with pytest.raises(AnalysisError, match=f"at most {fit} components fit"):
        sd.invariants(sd.derive(arch, "bp"), degree)
