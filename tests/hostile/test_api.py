"""The public API given the wrong types (issue 24): ``None``, lists, object arrays, strings,
dicts, functions. Each call raises a :class:`~symdyn.SymdynError` subclass, never a
``TypeError`` or ``AttributeError`` from deep inside."""

from __future__ import annotations

import numpy as np
import pytest

import symdyn as sd
from symdyn.errors import DataError, SpecError, SymdynError

SYSTEM = sd.derive("1-1-1", "rbp")
VALS = {"alpha": 1, "beta": 1, "c1": 1}
ONES = np.ones((4, 1))
SIM = dict(lr=0.1, steps=2, values={"c1": 1}, y0=[0.1, 0.1])
BAD = [None, [1, 2], np.array([object(), None], dtype=object), 5, {}, b"x", (1,), object(),
       sd.derive]

CALLS = {
    "invariants": lambda b: sd.invariants(b),
    "verify_invariant": lambda b: sd.verify_invariant(b, "a1"),
    "verify_invariant(H)": lambda b: sd.verify_invariant(SYSTEM, b),
    "fixed_points": lambda b: sd.fixed_points(b),
    "fixed_points(values)": lambda b: sd.fixed_points(SYSTEM, values=b),
    "jacobian": lambda b: sd.jacobian(b),
    "reduce": lambda b: sd.reduce(b),
    "analyze": lambda b: sd.analyze(b),
    "numeric": lambda b: SYSTEM.numeric(b),
    "integrate": lambda b: sd.integrate(b, [0.1, 0.1], 1.0),
    "integrate(y0)": lambda b: sd.integrate(SYSTEM, b, 1.0, VALS),
    "integrate(t)": lambda b: sd.integrate(SYSTEM, [0.1, 0.1], b, VALS),
    "integrate(values)": lambda b: sd.integrate(SYSTEM, [0.1, 0.1], 1.0, b),
    "integrate_batch": lambda b: sd.integrate_batch(b, np.ones((2, 2)), 1.0),
    "integrate_batch(Y0)": lambda b: sd.integrate_batch(SYSTEM, b, 1.0, VALS),
    "integrate_batch(t)": lambda b: sd.integrate_batch(SYSTEM, np.ones((2, 2)), b, VALS),
    "simulate": lambda b: sd.simulate(b, ONES, ONES, **SIM),
    "simulate(lr)": lambda b: sd.simulate(SYSTEM, ONES, ONES, **{**SIM, "lr": b}),
    "compare": lambda b: sd.compare(b, ONES, ONES, **SIM),
    "classify": lambda b: sd.classify(b, None),
    "sweep(spec)": lambda b: sd.sweep(b, "/nonexistent/s", scheduler="sync", progress=False),
    "sweep(store)": lambda b: sd.sweep({"rule": "arbp", "depth": 2}, b, scheduler="sync",
                                       progress=False),
    "sweep(workers)": lambda b: sd.sweep({"rule": "arbp", "depth": 2}, "/nonexistent/s",
                                         workers=b, progress=False),
    "sweep(scheduler)": lambda b: sd.sweep({"rule": "arbp", "depth": 2}, "/nonexistent/s",
                                           scheduler=b, progress=False),
    "load_sweep": lambda b: sd.load_sweep(b),
    "sweep_summary": lambda b: sd.sweep_summary(b),
    "load_data": lambda b: sd.load_data(b),
    "run_suite": lambda b: sd.run_suite(b),
    "Run(rule)": lambda b: sd.Run(rule=b),
    "Run(epochs)": lambda b: sd.Run(rule="bp", epochs=b),
    "Suite(seeds)": lambda b: sd.Suite(seeds=b),
    "Suite(rules)": lambda b: sd.Suite(rules=b),
    "Dataset.load": lambda b: sd.Dataset.load(b),
    "parse_expression(names)": lambda b: sd.parse_expression("a", b),
}


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
