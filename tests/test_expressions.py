"""The whitelist expression parser (symdyn.expressions): what it accepts, what it builds,
and what it refuses, with the limits that keep sympy from working without end."""

from __future__ import annotations

import time

import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

import symdyn as sd
from symdyn.analysis._common import namespace, parse
from symdyn.errors import ExpressionError, SpecError
from symdyn.expressions import MAX_EXPONENT, parse_expression, parse_number

a1, a2, c1 = sp.symbols("a1 a2 c1")
NAMES = {"a1": a1, "a2": a2, "c1": c1}


@pytest.mark.parametrize("text, want", [
    ("a1**2 - 2*c1*a2", a1**2 - 2 * c1 * a2),
    ("a1^2 - 2*a1 + 1/3", a1**2 - 2 * a1 + sp.Rational(1, 3)),  # ^ binds as a power
    ("-a1 + +a2", -a1 + a2),
    ("(a1 + a2)*(a1 - a2)", (a1 + a2) * (a1 - a2)),
    ("a1**(1/2)", sp.sqrt(a1)),                                # 1/2 is exact
    ("tanh(a1) + exp(-a2) + Max(0, c1)", sp.tanh(a1) + sp.exp(-a2) + sp.Max(0, c1)),
    ("Abs(a1) + sqrt(2)", sp.Abs(a1) + sp.sqrt(2)),
    ("2**-3", sp.Rational(1, 8)),
    ("0.5*a1", sp.Float(0.5) * a1),
    ("pi*a1", sp.pi * a1),
])
def test_accepts_the_grammar_and_builds_the_sympy_object(text, want):
    assert parse_expression(text, NAMES) == want


def test_matrix_expressions_and_transpose():
    system = sd.derive("2-2-2", "rbp")
    got = parse(system, "A1*A1.T - C1*A2 - A2.T*C1.T")
    A1, A2, C1 = (namespace(system)[n] for n in ("A1", "A2", "C1"))
    assert got == A1 * A1.T - C1 * A2 - A2.T * C1.T
    with pytest.raises(ExpressionError, match="only matrix expressions have a transpose"):
        parse(sd.derive("1-1-1", "rbp"), "a1.T")


def test_a_keyword_named_symbol_is_usable():
    lam = sp.Symbol("lambda")
    assert parse_expression("lambda*a1 + lambda^2", {"lambda": lam, "a1": a1}) == \
        lam * a1 + lam**2


@pytest.mark.parametrize("text, match", [
    ("b1 + a1", r"unknown name 'b1'; the valid names are a1, a2, c1"),
    ("a1 > 0", "a relation"),
    ("a1 == a2", "a relation"),
    ("a1[0]", "subscripts"),
    ("a1.real", r"attribute access \(\.real\)"),
    ("[a1 for a1 in (1,)]", "comprehensions"),
    ("f'{a1}'", "f-strings"),
    ("'text'", "the constant 'text'"),
    ("a1, a2", "tuples"),
    ("a1 if a2 else c1", "if/else"),
    ("a1 and a2", "and/or"),
    ("lambda: 1", "not allowed: lambda"),
    ("getattr(a1, 'x')", "getattr is not a function symdyn knows"),
    ("exp", "exp is a function"),
    ("exp(a1, a2)", r"exp\(\) takes 1 argument, got 2"),
    ("Max(a1)", r"two or more"),
    ("exp(x=a1)", "plain arguments"),
    ("1/0", "division by zero"),
    ("0**-1", "division by zero"),
    ("log(0)", "undefined"),
    ("1e400", "out of the range of floating point"),
    ("9**9**9", "exponent 387420489 is too large"),
    ("a1**101", "too large"),
    ("(a1**100)**100", "exponent above"),
    ("2**100**2", "too large"),
    ("1" * 101, "more than 100 digits"),
    ("*".join(["10**99"] * 20), "bits"),
    ("", "empty"),
    ("a1 +", "not an expression"),
])
def test_refuses_with_a_message_that_says_what_is_allowed(text, match):
    with pytest.raises(ExpressionError, match=match):
        parse_expression(text, NAMES)


def test_errors_are_spec_errors_and_show_the_text():
    with pytest.raises(SpecError) as info:
        parse_expression("a1 + zz", NAMES, what="--check ")
    assert str(info.value).startswith("--check 'a1 + zz': unknown name 'zz'")


def test_size_limits():
    with pytest.raises(ExpressionError, match="characters"):
        parse_expression("a1+" * 5000 + "a1", NAMES)
    with pytest.raises(ExpressionError, match="syntax nodes"):
        parse_expression("+".join(["a1"] * 2000), NAMES)
    with pytest.raises(ExpressionError):
        parse_expression("(" * 300 + "a1" + ")" * 300, NAMES)


def test_not_a_string():
    with pytest.raises(ExpressionError, match="as a string"):
        parse_expression(3, NAMES)  # type: ignore[arg-type]


def test_exponent_limit_is_the_documented_one():
    assert parse_expression(f"a1**{MAX_EXPONENT}", NAMES) == a1**MAX_EXPONENT
    assert parse_expression(f"a1**-{MAX_EXPONENT}", NAMES) == a1**-MAX_EXPONENT


@pytest.mark.parametrize("text, want", [("1/3", 1 / 3), ("-1e-3", -1e-3), ("2**-10", 2**-10),
                                        ("sqrt(2)", 2**0.5), ("1_000", 1000.0)])
def test_parse_number(text, want):
    assert parse_number(text) == pytest.approx(want, rel=1e-15)


@pytest.mark.parametrize("text", ["nan", "inf", "a1", "sqrt(-1)", "1e400", "10**99*10**99*"
                                  "10**99*10**99"])
def test_parse_number_refuses_what_is_not_a_finite_real(text):
    with pytest.raises(ExpressionError):
        parse_number(text)


@pytest.mark.parametrize("arch, rule, kw", [
    ("1-1-1", "rbp", {}),
    ("2-2-1", "arbp", {"rate": "eta"}),
    ("1-2-1", "bp", {"activation": "tanh", "data": {"X": [[1.0], [-2.0]], "Y": [[0.5], [1]]}}),
    ("1-2-1", "rbp", {"activation": "relu", "data": {"X": [[1.0], [-2.0]], "Y": [[0.5], [1]]}}),
])
def test_json_component_form_reads_back(arch, rule, kw):
    """JSON written by ``derive --format json`` is read back by the parser, exactly."""
    from symdyn.report import json_system

    system = sd.derive(arch, rule, **kw)
    payload = json_system(system)
    names = {n: sp.Symbol(n) for n in payload["state"] + payload["parameters"]}
    for text, want in zip(payload["rhs"], system.rhs, strict=True):
        got = parse_expression(text, names)
        assert sp.simplify(got - want) == 0


@given(st.text(max_size=40))
def test_any_text_parses_or_raises_expression_error_quickly(text):
    start = time.perf_counter()
    try:
        parse_expression(text, NAMES)
    except ExpressionError:
        pass
    assert time.perf_counter() - start < 5


_atoms = st.sampled_from(["a1", "a2", "c1", "2", "0.5", "3", "pi"])


@st.composite
def _expressions(draw, depth: int = 3) -> str:
    if depth == 0 or draw(st.booleans()):
        return draw(_atoms)
    op = draw(st.sampled_from(["+", "-", "*", "/", "**", "f"]))
    left = draw(_expressions(depth - 1))
    if op == "f":
        return f"{draw(st.sampled_from(['exp', 'tanh', 'sin', 'Abs']))}({left})"
    right = draw(st.sampled_from(["2", "3", "-1"])) if op == "**" else \
        draw(_expressions(depth - 1))
    return f"({left}) {op} ({right})"


@given(_expressions())
def test_parser_agrees_with_sympy_on_trusted_text(text):
    """On text written by the test itself (trusted), the parser builds what sympy's own
    parser builds."""
    try:
        got = parse_expression(text, NAMES)
    except ExpressionError as exc:
        assert "division by zero" in str(exc) or "undefined" in str(exc)
        return
    want = sp.parse_expr(text, local_dict=dict(NAMES))
    assert sp.simplify(got - want) == 0
