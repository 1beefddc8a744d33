"""Untrusted input is data, never code (issue 13).

Every entry point that turns a user's string into an expression or a number gets a corpus of
injection strings; each must end in a clean error (exit 2 on the command line, a
``symdyn.errors`` exception in the API) and the sentinel file the string tries to create must
not exist afterwards. Malformed data files, out-of-range options and extreme values get the
same treatment, and a hypothesis-driven fuzz test runs random command lines: exit 0 or 2,
never a traceback, within a time budget."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symdyn as sd
from symdyn.cli import main
from symdyn.errors import SpecError, SymdynError

SENTINEL = "SENTINEL_symdyn_issue13"

#: Strings that ran code (or ran for ever) when symdyn evaluated user text as Python. ``{S}``
#: becomes the sentinel's path.
INJECTIONS = [
    "__import__('os').system('touch {S}')",
    "(lambda: __import__('os').system('touch {S}'))()",
    "(lambda f: f('touch {S}'))(__import__('os').system)",
    "getattr(__builtins__, 'exec')(\"open('{S}', 'w')\")",
    "getattr(getattr(__builtins__, '__import__')('os'), 'system')('touch {S}')",
    "open('{S}', 'w').close()",
    "exec(\"open('{S}', 'w')\")",
    "eval(\"open('{S}', 'w')\")",
    "().__class__.__base__.__subclasses__()",
    "a1.__class__.__init__.__globals__['__builtins__']['open']('{S}', 'w')",
    "[open('{S}', 'w') for _ in (1,)]",
    "{{open('{S}', 'w')}}",
    "f\"{{open('{S}', 'w')}}\"",
    "__import__('pathlib').Path('{S}').touch()",
    "Symbol('x').__class__.__mro__[-1].__subclasses__()",
    "a1 if open('{S}', 'w') else a2",
    "(x := open('{S}', 'w'))",
    "9**9**9",
    "10**10**10**10",
    "1; __import__('os').system('touch {S}')",
    "import os",
    "a1 > 0",
    "1/0",
]


@pytest.fixture
def sentinel(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)  # a relative 'touch SENTINEL' would land here too
    return tmp_path / SENTINEL


def _corpus(sentinel: Path) -> list[str]:
    return [s.replace("{S}", str(sentinel)) for s in INJECTIONS]


def _cli(argv: list[str], capsys) -> tuple[int, str]:
    """Run the CLI in-process; return the exit status and stderr. A traceback escapes as an
    exception and fails the test."""
    start = time.perf_counter()
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's --help/--version
        code = exc.code
    elapsed = time.perf_counter() - start
    err = capsys.readouterr().err
    assert elapsed < 60, f"{argv} took {elapsed:.0f} s"
    return code, err


def _assert_clean(code: int, err: str, text: str) -> None:
    assert code == 2, f"exit {code} for {text!r}: {err}"
    lines = [ln for ln in err.strip().splitlines() if ln]
    assert len(lines) == 1 and lines[0].startswith("symdyn"), err
    assert "Traceback" not in err


SPEC = ["--arch", "1-1-1", "--rule", "rbp"]

#: command-line entry points: the injection goes where X is
CLI_ENTRIES = {
    "invariants --check": ["invariants", *SPEC, "--check", "X"],
    "fixed-points --values": ["fixed-points", *SPEC, "--values", "alpha=X", "--timeout", "5"],
    "analyze --values": ["analyze", *SPEC, "--values", "alpha=X", "--timeout", "5"],
    "integrate --values": ["integrate", *SPEC, "--values", "alpha=X,beta=1,c1=1"],
    "integrate --y0 positional": ["integrate", *SPEC, "--values", "alpha=1,beta=1,c1=1",
                                  "--y0", "X"],
    "integrate --y0 named": ["integrate", *SPEC, "--values", "alpha=1,beta=1,c1=1",
                             "--y0", "a1=X"],
    "integrate --batch --values": ["integrate", *SPEC, "--batch", "3", "--values",
                                   "alpha=1,beta=X,c1=1"],
    "simulate --values": ["simulate", *SPEC, "--generate", "5", "--lr", "0.1", "--steps",
                          "5", "--values", "c1=X"],
    "simulate --y0": ["simulate", *SPEC, "--generate", "5", "--lr", "0.1", "--steps", "5",
                      "--values", "c1=1", "--y0", "X"],
    "integrate --plot-vars": ["integrate", *SPEC, "--values", "alpha=1,beta=1,c1=1", "--t",
                              "1", "--plot", "fig.png", "--plot-vars", "X"],
    "derive --rate": ["derive", "--arch", "1-1-1", "--rule", "rbp", "--rate", "X"],
    "derive --decay": ["derive", "--arch", "1-1-1", "--rule", "rbp", "--decay", "X"],
    "derive --rate-ratio": ["derive", "--arch", "1-1-1", "--rule", "arbp", "--rate-ratio", "X"],
}


@pytest.mark.parametrize("entry", list(CLI_ENTRIES))
def test_injections_through_the_command_line(entry, sentinel, capsys):
    for text in _corpus(sentinel):
        argv = [text if a == "X" else a.replace("=X", f"={text}") for a in CLI_ENTRIES[entry]]
        if entry == "integrate --y0 named":
            argv[-1] = f"a1={text},a2=1"
        code, err = _cli(argv, capsys)
        _assert_clean(code, err, text)
        assert not sentinel.exists(), f"{entry} ran {text!r}"


def _api_entries(system, sentinel_text: str):
    """(name, call) pairs of the Python API given the string."""
    from symdyn.analysis._common import parse
    from symdyn.plots import _as_expr

    return [
        ("verify_invariant", lambda: sd.verify_invariant(system, sentinel_text)),
        ("fixed_points values", lambda: sd.fixed_points(system, {"alpha": sentinel_text},
                                                        timeout=5)),
        ("verify_fixed_point", lambda: sd.verify_fixed_point(system, {"a1": sentinel_text})),
        ("reduce", lambda: sd.reduce(system, [sentinel_text])),
        ("derive rate", lambda: sd.derive("1-1-1", "rbp", rate=sentinel_text)),
        ("derive decay", lambda: sd.derive("1-1-1", "rbp", decay=sentinel_text)),
        ("parse", lambda: parse(system, sentinel_text)),
        ("parse_expression", lambda: sd.parse_expression(sentinel_text, {})),
        ("plots expression", lambda: _as_expr(system, sentinel_text)),
    ]


def test_injections_through_the_api(sentinel):
    system = sd.derive("1-1-1", "rbp")
    for text in _corpus(sentinel):
        for name, call in _api_entries(system, text):
            start = time.perf_counter()
            with pytest.raises(SymdynError):
                call()
            assert time.perf_counter() - start < 30, f"{name} on {text!r}"
            assert not sentinel.exists(), f"{name} ran {text!r}"


class _Evil:
    """An object whose ``str`` is code: sympify (not strict) would parse and run it."""

    def __init__(self, path: Path):
        self.path = path

    def __str__(self) -> str:
        return f"__import__('os').system('touch {self.path}')"


def test_objects_are_not_parsed_through_their_str(sentinel):
    system = sd.derive("1-1-1", "rbp")
    evil = _Evil(sentinel)
    for call in (lambda: sd.verify_invariant(system, evil),
                 lambda: sd.reduce(system, [evil]),
                 lambda: sd.verify_fixed_point(system, {"a1": evil}),
                 lambda: sd.fixed_points(system, {"alpha": evil}, timeout=5),
                 lambda: sd.derive("1-1-1", "rbp", rate=evil)):
        with pytest.raises(SymdynError):
            call()
    assert not sentinel.exists()


def test_safe_input_still_works(capsys):
    code, _ = _cli(["invariants", *SPEC, "--check", "a1^2 - 2*c1*a2"], capsys)
    assert code == 0
    assert sd.verify_invariant(sd.derive("1-1-1", "rbp"), "a1**2 - 2*c1*a2").holds
    code, _ = _cli(["integrate", *SPEC, "--values", "alpha=1/2,beta=2**0,c1=sqrt(4)",
                    "--y0", "a1=0.1,a2=-1e-1", "--t", "5"], capsys)
    assert code == 0


# -- malformed data files ---------------------------------------------------------------------


def _write_files(folder: Path) -> dict[str, Path]:
    good = folder / "good.npz"
    np.savez(good, X=np.ones((5, 1)), Y=np.ones((5, 1)))
    raw = good.read_bytes()
    files = {
        "empty": b"",
        "truncated": raw[: len(raw) // 2],
        "corrupted": raw[:40] + b"\x00" * 60 + raw[100:],
        "text": b"X,Y\n1,2\n",
        "random bytes": bytes(np.random.default_rng(0).integers(0, 256, 500, dtype=np.uint8)),
    }
    out = {}
    for name, content in files.items():
        path = folder / f"{name.replace(' ', '_')}.npz"
        path.write_bytes(content)
        out[name] = path
    npy = folder / "array.npz"
    with open(npy, "wb") as fh:
        np.save(fh, np.ones((5, 2)))
    out[".npy renamed .npz"] = npy
    for name, X in {"string arrays": np.array([["a"], ["b"]]),
                    "complex arrays": np.ones((2, 1)) * 1j,
                    "object arrays": np.array([[1], [None]], dtype=object),
                    "3-d arrays": np.ones((2, 1, 1)),
                    "nan entries": np.array([[np.nan], [1.0]])}.items():
        path = folder / f"{name.replace(' ', '_')}.npz"
        np.savez(path, X=X, Y=np.ones((2, 1)))
        out[name] = path
    missing_y = folder / "missing_y.npz"
    np.savez(missing_y, X=np.ones((2, 1)))
    out["missing Y"] = missing_y
    out["a directory"] = folder
    out["does not exist"] = folder / "nothing.npz"
    return out


def test_malformed_data_files_through_the_api(tmp_path):
    for name, path in _write_files(tmp_path).items():
        with pytest.raises(sd.DataError) as info:
            sd.Dataset.load(path)
        assert "\n" not in str(info.value), name


@pytest.mark.parametrize("command", ["derive", "simulate"])
def test_malformed_data_files_through_the_command_line(tmp_path, capsys, command):
    extra = ["--lr", "0.1", "--steps", "5", "--values", "c1=1"] if command == "simulate" else []
    for name, path in _write_files(tmp_path).items():
        code, err = _cli([command, "--arch", "1-1-1", "--rule", "rbp", "--data", str(path),
                          *extra], capsys)
        _assert_clean(code, err, name)
        assert "data" in err.lower() or "array" in err.lower() or "X" in err, (name, err)


# -- options out of range, extreme values, huge work ---------------------------------------

BAD_COMMAND_LINES = {
    "rate 1/0": ["derive", *SPEC, "--rate", "1/0"],
    "rate nan": ["derive", *SPEC, "--rate", "nan"],
    "rate inf": ["derive", *SPEC, "--rate", "inf"],
    "rate 1e400": ["derive", *SPEC, "--rate", "1e400"],
    "rate a state name": ["derive", *SPEC, "--rate", "a1"],
    "rate a moment name": ["derive", *SPEC, "--rate", "beta"],
    "decay a channel name": ["derive", *SPEC, "--decay", "c1"],
    "rate negative": ["derive", *SPEC, "--rate", "-1"],
    "arch in Arabic-Indic digits": ["derive", "--arch", "\u0661-\u0661-\u0661", "--rule", "bp"],
    "arch in fullwidth digits": ["derive", "--arch", "\uff11-\uff11", "--rule", "bp"],
    "arch huge": ["derive", "--arch", "99999999999999999999-1-1", "--rule", "bp"],
    "derive huge component form": ["derive", "--arch", "5000-5000-5000", "--rule", "bp",
                                   "--format", "json", "--form", "component"],
    "derive huge component form in LaTeX": ["derive", "--arch", "5000-5000-5000", "--rule",
                                            "bp", "--format", "latex", "--form", "component"],
    "negative seed": ["integrate", *SPEC, "--values", "alpha=1,beta=1,c1=1", "--seed", "-1"],
    "seed text": ["integrate", *SPEC, "--values", "alpha=1,beta=1,c1=1", "--seed", "x"],
    "timeout nan (invariants)": ["invariants", *SPEC, "--timeout", "nan"],
    "timeout nan (fixed-points)": ["fixed-points", *SPEC, "--timeout", "nan"],
    "timeout negative": ["fixed-points", *SPEC, "--timeout", "-3"],
    "degree huge": ["invariants", *SPEC, "--degree", "100000"],
    "batch 10 million": ["integrate", *SPEC, "--values", "alpha=1,beta=1,c1=1", "--batch",
                         "10000000"],
    "batch zero": ["integrate", *SPEC, "--values", "alpha=1,beta=1,c1=1", "--batch", "0"],
    "t nan": ["integrate", *SPEC, "--values", "alpha=1,beta=1,c1=1", "--t", "nan"],
    "scale inf": ["integrate", *SPEC, "--values", "alpha=1,beta=1,c1=1", "--scale", "inf"],
    "value nan": ["integrate", *SPEC, "--values", "alpha=nan,beta=1,c1=1"],
    "value twice": ["integrate", *SPEC, "--values", "alpha=1,alpha=2,beta=1,c1=1"],
    "y0 wrong length": ["integrate", *SPEC, "--values", "alpha=1,beta=1,c1=1", "--y0", "1"],
    "steps 2**63": ["simulate", *SPEC, "--generate", "5", "--lr", "0.1", "--values", "c1=1",
                    "--steps", str(2**63)],
    "batch-size above the data": ["simulate", *SPEC, "--generate", "5", "--lr", "0.1",
                                  "--values", "c1=1", "--steps", "5", "--batch-size",
                                  "1000000000"],
    "lr nan": ["simulate", *SPEC, "--generate", "5", "--lr", "nan", "--values", "c1=1",
               "--steps", "5"],
    "generate huge": ["simulate", *SPEC, "--generate", str(10**12), "--lr", "0.1",
                      "--values", "c1=1", "--steps", "5"],
    "plot into a missing folder": ["integrate", *SPEC, "--values", "alpha=1,beta=1,c1=1",
                                   "--plot", "/nonexistent-folder/x.png"],
}


@pytest.mark.parametrize("name", list(BAD_COMMAND_LINES))
def test_bad_command_lines_end_in_one_line_and_exit_2(name, capsys):
    code, err = _cli(BAD_COMMAND_LINES[name], capsys)
    _assert_clean(code, err, name)


def test_refusals_give_the_estimate(capsys):
    _, err = _cli(BAD_COMMAND_LINES["batch 10 million"], capsys)
    assert "GiB" in err and "chunks of at most" in err
    _, err = _cli(BAD_COMMAND_LINES["derive huge component form"], capsys)
    assert re.search("50,?000,?000", err) and "--form matrix" in err
    _, err = _cli(BAD_COMMAND_LINES["derive huge component form in LaTeX"], capsys)
    assert re.search("50,?000,?000", err) and "--form matrix" in err
    # and through the API, which any other caller reaches
    with pytest.raises(sd.DerivationError, match="50,000,000 state components"):
        _ = sd.derive("5000-5000-5000", "bp").rhs
    # without --form, a large system is written in matrix form, at once
    code, _ = _cli(["derive", "--arch", "5000-5000-5000", "--rule", "bp", "--format", "json"],
                   capsys)
    assert code == 0
    _, err = _cli(BAD_COMMAND_LINES["steps 2**63"], capsys)
    assert "hours" in err


@pytest.mark.parametrize("kw", [{"rate": "a1"}, {"rate": "A1"}, {"decay": "c1"},
                                {"rate": "alpha"}, {"rate": float("nan")},
                                {"rate": float("inf")}, {"rate": "1e400"}, {"rate": 10**400},
                                {"rate": "nan"}, {"rate": "exp"}])
def test_rate_options_that_would_change_the_equations_silently(kw):
    with pytest.raises(SpecError):
        sd.derive("1-1-1", "rbp", **kw)


def test_rate_collision_in_a_matrix_network():
    with pytest.raises(SpecError, match="entry of A1"):
        sd.derive("2-2-2", "bp", rate="A1_1_2")
    assert "A1_3_3" in map(str, sd.derive("2-2-2", "bp", rate="A1_3_3").parameters)


def test_simulate_api_refuses_huge_work():
    system = sd.derive("1-1-1", "rbp")
    X = np.ones((4, 1))
    with pytest.raises(sd.DataError, match="larger than the data set"):
        sd.simulate(system, X, X, lr=0.1, steps=5, y0=[0.1, 0.1], values={"c1": 1},
                    batch_size=10**9)
    with pytest.raises(SpecError, match="too many"):
        sd.simulate(system, X, X, lr=0.1, steps=2**63, y0=[0.1, 0.1], values={"c1": 1})
    with pytest.raises(SpecError, match="seed"):
        sd.simulate(system, X, X, lr=0.1, steps=5, y0=[0.1, 0.1], values={"c1": 1}, seed=-1)


def test_integrate_batch_api_refuses_a_batch_beyond_memory():
    system = sd.derive("1-1-1", "rbp")
    Y0 = np.broadcast_to(np.zeros(2), (10_000_000, 2))  # no memory of its own
    with pytest.raises(SpecError, match="chunks of at most"):
        sd.integrate_batch(system, Y0, 1.0, {"alpha": 1, "beta": 1, "c1": 1})


def test_timeouts_must_be_finite():
    system = sd.derive("1-1-1", "rbp")
    for bad in (float("nan"), float("inf"), -1.0, 0):
        with pytest.raises(SpecError, match="timeout"):
            sd.fixed_points(system, timeout=bad)
        with pytest.raises(SpecError, match="timeout"):
            sd.invariants(system, 2, timeout=bad)


def test_blow_up_on_the_command_line_is_a_diverged_row(capsys):
    for values, y0 in (("alpha=1e300,beta=1,c1=0.5", []),
                       ("alpha=1,beta=1,c1=0.5", ["--y0", "1e150,1e150"])):
        start = time.perf_counter()
        code = main(["integrate", *SPEC, "--batch", "20", "--values", values, *y0,
                     "--format", "json"])
        out = capsys.readouterr().out
        assert code == 0 and time.perf_counter() - start < 60
        payload = json.loads(out)
        assert "diverged" in payload["status"]
        assert all(np.isfinite(payload["t"]))


# -- fuzz: random command lines ---------------------------------------------------------------

_junk = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["nan", "inf", "-inf", "1e400", "-1", "0", "1e-320", "2**63", "1/0",
                     "a1", "a1=1", "alpha=", "=1", ",", "", " ", "\x00", "1,2,3", "\u0661",
                     "9**9**9", "__import__('os')", "1e150", "1e300"]),
    st.integers(-5, 10).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)
_sane = {
    "--rate": st.sampled_from(["1", "0.5", "eta", "1/10"]),
    "--decay": st.sampled_from(["0", "0.1", "d"]),
    "--rate-ratio": st.sampled_from(["1", "0", "0.5", "lamda"]),
    "--activation": st.sampled_from(["linear", "tanh", "relu", "logistic", "softplus"]),
    "--channel-activation": st.sampled_from(["linear", "tanh"]),
    "--format": st.sampled_from(["text", "json", "latex"]),
    "--form": st.sampled_from(["both", "matrix", "component"]),
    "--check": st.sampled_from(["a1**2 - 2*c1*a2", "a1^2 - a2^2", "A1*A1.T - A2.T*A2",
                                "tanh(a1)", "a1 + 1e300"]),
    "--values": st.sampled_from(["alpha=1,beta=1,c1=0.5", "alpha=1e300,beta=1,c1=1",
                                 "alpha=1,beta=1e-300,c1=1", "alpha=-1,beta=2", "c1=1",
                                 "alpha=1/3,beta=2**-2,c1=sqrt(2)"]),
    "--y0": st.sampled_from(["0.1,0.2", "1e150,1", "a1=1,a2=2", "0,0", "1,2,3"]),
    "--method": st.sampled_from(["auto", "symbolic", "numeric", "DOP853", "RK45", "LSODA"]),
    "--sampling": st.sampled_from(["iid", "shuffle"]),
    "--lr": st.sampled_from(["0.01", "0.1", "10", "1e300"]),
    "--scale": st.sampled_from(["0", "1", "1e3", "1e200"]),
    "--seed": st.integers(0, 2**64).map(str),
    "--rtol": st.sampled_from(["1e-3", "1e-12", "1"]),
    "--atol": st.sampled_from(["1e-3", "1e-14", "1"]),
    "--tol": st.sampled_from(["1e-3", "1e-12", "10"]),
    "--max-norm": st.sampled_from(["1", "1e300", "10"]),
    "--noise": st.sampled_from(["0", "0.1", "1e300"]),
    "--steps": st.integers(1, 50).map(str),
    "--batch-size": st.integers(1, 12).map(str),
    "--record-every": st.integers(1, 60).map(str),
}
_VALID_ARCHS = ["1-1-1", "1-2-1", "2-1", "1-1-1-1", "2-2-2"]
_arch = st.one_of(st.sampled_from(_VALID_ARCHS), st.sampled_from(_VALID_ARCHS),
                  st.sampled_from(["0-1", "1", "a-b", "1--1", "\uff11-1", "1-1-1-1-1-1-1-1"]),
                  st.text(max_size=6))
_RULES = ["bp", "rbp", "srbp", "arbp", "asrbp"]
_rule = st.one_of(st.sampled_from(_RULES), st.sampled_from(_RULES), st.text(max_size=5))

_OPTIONS = {
    "derive": ["--rate", "--decay", "--rate-ratio", "--activation", "--channel-activation",
               "--format", "--form"],
    "invariants": ["--rate", "--decay", "--check", "--format"],
    "fixed-points": ["--rate", "--values", "--method", "--format"],
    "integrate": ["--rate", "--values", "--y0", "--scale", "--seed", "--rtol", "--atol",
                  "--tol", "--max-norm", "--method", "--format", "--activation"],
    "simulate": ["--rate", "--values", "--y0", "--seed", "--lr", "--steps", "--batch-size",
                 "--sampling", "--record-every", "--noise", "--format", "--activation"],
}
# bounded work: small time horizons, batches, data and step counts are fixed by the test
_BOUNDED = {
    "invariants": ["--timeout", "3", "--degree", "2"],
    "fixed-points": ["--timeout", "3"],
    "integrate": ["--t", "2", "--batch", "4"],
    "simulate": ["--generate", "8"],
}


@st.composite
def _command_lines(draw) -> list[str]:
    command = draw(st.sampled_from(list(_OPTIONS)))
    argv = [command, "--arch", draw(_arch), "--rule", draw(_rule)]
    for option in draw(st.lists(st.sampled_from(_OPTIONS[command]), max_size=4, unique=True)):
        junk = draw(st.integers(0, 4)) == 0 or option not in _sane  # one in five
        value = draw(_junk if junk else _sane[option])
        if option in ("--steps", "--record-every", "--batch-size") and value.isdigit():
            value = str(min(int(value), 50))
        argv += [f"{option}={value}"]  # the = form: a value may start with '-'
    argv += _BOUNDED.get(command, [])
    if command == "simulate" and "--lr" not in argv:
        argv += ["--lr", "0.05"]
    if command == "simulate" and "--steps" not in argv:
        argv += ["--steps", "20"]
    return argv


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.data_too_large])
@given(argv=_command_lines())
def test_fuzz_the_command_line(argv, tmp_path_factory):
    """Random arguments and values: exit 0 or 2, one line on stderr for an error, never a
    traceback, and within a time budget."""
    err = io.StringIO()
    here = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("fuzz"))
    start = time.perf_counter()
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as exc:
                code = exc.code
        assert not (Path.cwd() / SENTINEL).exists()
    finally:
        os.chdir(here)
    assert time.perf_counter() - start < 60, argv
    assert code in (0, 2), (argv, code, err.getvalue())
    if code == 2:
        assert "Traceback" not in err.getvalue()


# -- data of the experiments (real data sets) -------------------------------------------------


class _Payload:
    """A pickle that runs a shell command when loaded by plain ``pickle.load``."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def test_cifar_batches_are_unpickled_as_data_only(tmp_path, sentinel):
    import pickle

    from symdyn.training import load_cifar10

    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    good = {b"data": np.zeros((4, 3072), dtype=np.uint8), b"labels": [0, 1, 2, 3]}
    for i in range(1, 6):
        (folder / f"data_batch_{i}").write_bytes(pickle.dumps(good, protocol=2))
    (folder / "test_batch").write_bytes(pickle.dumps({b"data": _Payload(sentinel),
                                                      b"labels": [0]}))
    with pytest.raises(sd.DataError, match="os.system|posix.system"):
        load_cifar10(folder)
    assert not sentinel.exists()
    (folder / "test_batch").write_bytes(pickle.dumps(good, protocol=2))
    data = load_cifar10(folder)  # the legitimate format still loads
    assert data is not None
    (folder / "test_batch").write_bytes(b"\x80\x04truncated")
    with pytest.raises(sd.DataError, match="cannot read CIFAR-10"):
        load_cifar10(folder)


def test_experiment_npz_files(tmp_path):
    from symdyn.training import load_npz

    for name, path in _write_files(tmp_path).items():
        if name in ("nan entries", "3-d arrays", "missing Y", "string arrays",
                    "complex arrays"):
            continue  # valid files for other checks of load_npz
        with pytest.raises(sd.DataError):
            load_npz(path)
    strings = tmp_path / "labels.npz"
    np.savez(strings, X=np.array([["a", "b"]]), Y=np.array([0]))
    with pytest.raises(sd.DataError, match="numeric"):
        load_npz(strings)


@pytest.mark.parametrize("option, value", [("--seeds", "-1"), ("--epochs", "0"),
                                           ("--lr", "nan"), ("--batch-size", "0"),
                                           ("--scale", "inf"), ("--symmetry-scales", "1,nan")])
def test_experiment_options(option, value, capsys):
    code, err = _cli(["experiment", option, value], capsys)
    _assert_clean(code, err, f"{option} {value}")
