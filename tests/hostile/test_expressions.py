"""Hostile expressions, round 2 (issue 24): every limit on the value, not the text. Towers
of powers through sqrt, fractional and nested exponents, exp of huge numbers, and sympy's
own slow paths end in an ExpressionError before sympy computes the number."""

from __future__ import annotations

import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from symdyn import expressions
from symdyn.errors import ExpressionError, SpecError
from symdyn.expressions import MAX_BITS, parse_expression, parse_number

NAMES = {n: sp.Symbol(n) for n in ("a1", "a2", "alpha")}


@pytest.mark.parametrize("text", [
    "((((sqrt(2)**99)**99)**99)**99)**99", "((sqrt(2)**99)**99)**99", "(sqrt(2)**99)**99",
    "((2**(1/2))**99)**99", "((3/2)**99)**99", "((2**(99/2))**(99/2))**(99/2)",
    "(2**99*sqrt(2))**(99/2)", "((1e300)**99)**99", "(a1*2**99)**99", "Max(2**99,3**99)**99",
])
def test_towers_are_refused_by_the_bits_of_their_value(text):
    with pytest.raises(ExpressionError, match="bits"):
        parse_expression(text, NAMES)


@pytest.mark.parametrize("text", ["exp(exp(exp(100)))", "exp(exp(99))", "exp(10**99)",
                                  "cosh(exp(100))", "sinh(-1e300)", "exp(cosh(10**99))",
                                  "exp(exp(1e300/(-1)))"])
def test_exp_of_a_huge_number_is_refused(text):
    with pytest.raises(ExpressionError, match="magnitude above 2773"):
        parse_number(text)


@pytest.mark.parametrize("text, value", [
    ("sqrt(2)**99/2**49", 2**0.5), ("(2**0.5)**99", 2**49.5), ("exp(700)", None),
    ("(3/2)**99", 1.5**99), ("sin(10**99)", None), ("((sqrt(2)+1)**99)", (2**0.5 + 1)**99),
])
def test_numbers_within_the_limits_still_parse(text, value):
    """Positive control: the limits refuse towers, not moderate powers."""
    got = parse_number(text)
    if value is not None:
        assert got == pytest.approx(value, rel=1e-12)


def test_the_bit_estimate_bounds_the_exact_value():
    """The estimate is an upper bound: sympy's exact integers in an accepted power have at
    most the estimated bits (checked against the value sympy computes)."""
    for text in ["(sqrt(2)**99)", "(2**40*sqrt(3))**90", "(5/7)**99", "(sqrt(2)*3)**99"]:
        expr = parse_expression(text, {})
        bits = max(max(abs(r.p).bit_length(), abs(r.q).bit_length())
                   for r in expr.atoms(sp.Rational))
        assert bits <= expressions._number_bits(expr) <= MAX_BITS


def test_sympys_slow_paths_end_at_the_cpu_budget(monkeypatch):
    """A candidate whose automatic simplification expands a power of degree 99 (about 5
    CPU-seconds here) ends at the budget with a one-line message; the budget is a resource
    limit, set tiny here so the test does not depend on the machine's speed."""
    monkeypatch.setattr(expressions, "MAX_SECONDS", 0.05)
    with pytest.raises(ExpressionError, match="CPU-seconds"):
        parse_expression("log(2 - tanh(alpha**-99))", NAMES)
    assert parse_expression("a1 + 1", NAMES) == NAMES["a1"] + 1


def test_arithmetic_errors_inside_sympy_are_expression_errors():
    with pytest.raises(SpecError):
        parse_number("((((0.5)**(1/3))**(0.5))**(99/2))^((((exp((1e300)/(-1)))**(3/2))"
                     "**(1/2))**(99/2))")


_ATOMS = st.sampled_from(["2", "3", "0.5", "1/3", "99", "10**99", "1e300", "pi", "E",
                          "sqrt(2)", "a1", "alpha", "-1", "0", "(99/2)"])


@st.composite
def _expressions(draw, depth=4):
    if depth == 0 or draw(st.integers(0, 4)) == 0:
        return draw(_ATOMS)
    kind = draw(st.integers(0, 2))
    inner = draw(_expressions(depth=depth - 1))
    if kind == 0:
        power = draw(st.sampled_from(["99", "1/2", "99/2", "-99", "0.5", "100", "3/2"]))
        return f"({inner})**({power})"
    if kind == 1:
        fn = draw(st.sampled_from(["sqrt", "exp", "log", "sin", "tanh", "Abs", "cosh"]))
        return f"{fn}({inner})"
    op = draw(st.sampled_from(["+", "-", "*", "/", "^"]))
    return f"({inner}){op}({draw(_expressions(depth=depth - 1))})"


@given(text=_expressions())
def test_fuzz_expressions(text):
    """Random towers, roots and big numbers: a value or an ExpressionError, never another
    exception (tests/hostile/corpus.py runs 1,450 of them with a time budget)."""
    for call in (lambda: parse_number(text), lambda: parse_expression(text, NAMES)):
        try:
            call()
        except ExpressionError:
            pass
