"""The hostile corpus of issue 24: command lines, API calls, expressions, stores and data files
as a hostile user would write them. Every input runs in this process under a time budget
(``SIGALRM``); each outcome is counted per surface:

* **traceback**: an exception that is not a :class:`~symdyn.SymdynError` escaped (on the
  command line: ``main`` raised, or exited 1 with ``Traceback`` on stderr);
* **multi-line**: exit 2 with more or less than one line on stderr;
* **hang**: the budget ran out (:data:`BUDGET` CPU-seconds or :data:`WALL` seconds);
* **data loss**: a store shared by two concurrent sweeps missing a chunk or holding one that
  differs from a clean run, or a results directory shared by two concurrent experiment grids
  missing a run file or holding one that differs from the grid run alone (``--full`` only:
  two processes each);
* **code run**: user text run as Python: every surface is also given text that, evaluated,
  touches a marker file (:func:`injection`), and the marker must not exist afterwards.

Run by hand: ``python tests/hostile/corpus.py`` (everything, a few minutes of CPU) or with
``--every K`` (one input in K of each surface); ``tests/hostile/test_cli.py`` runs one input
in 25 in the suite, and all of them in its slow test. Prints one line per surface and every
failure."""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import pickle
import random
import shutil
import signal
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: CPU seconds an input may take before it counts as a hang (this process; loading data
#: and sympy take part of it)
BUDGET = 10.0
#: wall seconds an input may take (a loaded machine runs CPU-seconds several times slower)
WALL = 120.0
SPEC = ["--arch", "1-1-1", "--rule", "rbp"]
VALS = "alpha=1,beta=1,c1=1"
SWEEP = ["--set", "rule=arbp", "--set", "depth=2", "--set", "alpha=1", "--set", "beta=1",
         "--set", "starts=2", "--set", "t_final=5", "--set", "tail=2", "--no-progress"]


class Hang(BaseException):
    """The budget ran out (a BaseException, so no ``except Exception`` swallows it)."""


@contextlib.contextmanager
def budget(seconds: float):
    """At most ``seconds`` of CPU time (``ITIMER_VIRTUAL``, so a loaded machine does not
    make hangs) and :data:`WALL` seconds of wall time (a block that waits, on a FIFO say)."""
    def ring(signum, frame):
        raise Hang()

    old = {s: signal.signal(s, ring) for s in (signal.SIGALRM, signal.SIGVTALRM)}
    signal.setitimer(signal.ITIMER_VIRTUAL, seconds)
    signal.setitimer(signal.ITIMER_REAL, WALL)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.setitimer(signal.ITIMER_VIRTUAL, 0)
        for s, h in old.items():
            signal.signal(s, h)


@dataclass
class Tally:
    surface: str
    inputs: int = 0
    tracebacks: int = 0
    hangs: int = 0
    multiline: int = 0
    data_loss: int = 0
    code_run: int = 0
    failures: list = field(default_factory=list)

    def line(self) -> str:
        return (f"{self.surface:<22} inputs {self.inputs:>5}  tracebacks {self.tracebacks:>3}  "
                f"hangs {self.hangs:>3}  multi-line errors {self.multiline:>3}  "
                f"data loss {self.data_loss:>3}  code run {self.code_run:>3}")


def injection(marker: Path) -> str:
    """Text that touches ``marker`` if anything evaluates it as Python."""
    return f"__import__('pathlib').Path({str(marker)!r}).touch()"


def _check_marker(t: Tally, marker: Path, label: str) -> None:
    """Counts (and removes) ``marker`` if some input of ``t`` ran as code."""
    if marker.exists():
        marker.unlink()
        t.code_run += 1
        t.failures.append(("code run", label))


# -- hostile expressions ----------------------------------------------------------------------

TOWERS = [
    "((((sqrt(2)**99)**99)**99)**99)**99", "((sqrt(2)**99)**99)**99", "(sqrt(2)**99)**99",
    "((2**(1/2))**99)**99", "((3/2)**99)**99", "(2**0.5)**99**2", "((1e300)**99)**99",
    "exp(exp(exp(100)))", "2**exp(exp(10))", "(E**99)**99", "sqrt(sqrt(sqrt(2)))**99**99",
    "((sqrt(3)+1)**99)**99", "(2**99*sqrt(2))**(99/2)", "((2**(99/2))**(99/2))**(99/2)",
    "sin(10**99)**99", "Max(2**99,3**99)**99", "Abs(-2**99)**99", "(-8)**(1/3)**99",
    "tan(pi/2)", "log(0)", "1/(sqrt(2)-sqrt(2))", "Heaviside(0)**-99", "(10**99)**-99",
    "9**9**9", "2**-2**-2**-2**-2**99",
]


def fuzzed_expressions(n: int, seed: int = 0) -> list[str]:
    """``n`` random expressions from a grammar rich in powers, roots and big numbers."""
    rng = random.Random(seed)
    atoms = ["2", "3", "0.5", "1/3", "99", "10**99", "1e300", "pi", "E", "sqrt(2)", "a1",
             "a2", "alpha", "-1", "0", "2**0.5", "(99/2)"]
    funcs = ["sqrt", "exp", "log", "sin", "tanh", "Abs", "sign", "cosh"]

    def expr(depth: int) -> str:
        if depth == 0 or rng.random() < 0.2:
            return rng.choice(atoms)
        k = rng.random()
        if k < 0.45:
            exps = ["99", "1/2", "3/2", "99/2", "-99", "0.5", "100", expr(0)]
            return f"({expr(depth - 1)})**({rng.choice(exps)})"
        if k < 0.65:
            return f"{rng.choice(funcs)}({expr(depth - 1)})"
        return f"({expr(depth - 1)}){rng.choice(['+', '-', '*', '/', '^'])}({expr(depth - 1)})"

    return [expr(rng.randint(1, 6)) for _ in range(n)]


def run_expressions(texts: list[str], marker: Path) -> Tally:
    import sympy as sp

    from symdyn.errors import SymdynError
    from symdyn.expressions import parse_expression, parse_number

    names = {n: sp.Symbol(n) for n in ("a1", "a2", "alpha")}
    t = Tally("expressions")
    for text in [*texts, injection(marker)]:
        for call in (lambda text=text: parse_number(text),
                     lambda text=text: parse_expression(text, names)):
            t.inputs += 1
            _run_call(t, text, call, SymdynError)
            _check_marker(t, marker, text)
    return t


def _run_call(t: Tally, label: str, call: Callable, ok_error: type) -> None:
    try:
        with budget(BUDGET):
            call()
    except ok_error:
        pass
    except Hang:
        t.hangs += 1
        t.failures.append(("hang", label))
    except Exception as exc:  # noqa: BLE001 - what the corpus counts
        t.tracebacks += 1
        t.failures.append(("traceback", label, f"{type(exc).__name__}: {str(exc)[:120]}"))


# -- files ------------------------------------------------------------------------------------


def make_files(root: Path) -> dict[str, Path]:
    """Hostile files and directories under ``root``, by name."""
    f: dict[str, Path] = {}
    (root / "afile").write_text("a regular file")
    f["afile"] = root / "afile"
    f["under-file"] = root / "afile" / "sub"
    if hasattr(os, "mkfifo"):
        os.mkfifo(root / "fifo.npz")
        f["fifo"] = root / "fifo.npz"
    tomls = {"bad-utf8": b'rule = "arbp"\ndepth = 2\nalpha = "\xff\xfe"\n',
             "nested": b"a = " + b"[" * 5000 + b"]" * 5000,
             "nested-table": b"x = " + b"{a = " * 3000 + b"1" + b"}" * 3000,
             "rule-os": b'rule = "os.system"\ndepth = 2\n',
             "depth-huge": b'rule = "arbp"\ndepth = 100000\nalpha = 1\nbeta = 1\n',
             "starts-str": b'rule = "arbp"\ndepth = 2\nstarts = "x"\n',
             "random-bad": b'rule = "arbp"\ndepth = 2\n[random]\ncells = -1\n',
             "binary": bytes(range(256)), "empty": b"",
             "table-of-tables": b'rule = "arbp"\ndepth = 2\n[a.b.c.d]\nx = 1\n'}
    for name, raw in tomls.items():
        (root / f"{name}.toml").write_bytes(raw)
        f[f"toml:{name}"] = root / f"{name}.toml"
    _data_files(root, f)
    _proof_dirs(root, f)
    return f


def _data_files(root: Path, f: dict[str, Path]) -> None:
    good = io.BytesIO()
    np.savez(good, X=np.arange(24.0).reshape(12, 2), Y=np.arange(12) % 2)
    raw = good.getvalue()
    variants = {
        "truncated": raw[:len(raw) // 2], "empty": b"", "text": b"X,Y\n1,2\n",
        "zeros": b"\0" * 1000, "gzip": gzip.compress(raw),
    }
    for name, content in variants.items():
        (root / f"data-{name}.npz").write_bytes(content)
        f[f"data:{name}"] = root / f"data-{name}.npz"
    arrays = {
        "labels-negative": dict(X=np.ones((6, 2)), Y=np.array([0, 1, 0, 1, 0, -1])),
        "labels-huge": dict(X=np.ones((6, 2)), Y=np.array([0, 1, 0, 1, 0, 10**9])),
        "labels-nan": dict(X=np.ones((6, 2)), Y=np.array([0, 1, 0, 1, 0, np.nan])),
        "labels-inf": dict(X=np.ones((6, 2)), Y=np.array([0, 1, 0, 1, 0, np.inf])),
        "labels-float": dict(X=np.ones((6, 2)), Y=np.array([0, 1, 0, 1, 0, 0.5])),
        "labels-bool": dict(X=np.ones((6, 2)), Y=np.array([0, 1, 0, 1, 0, 1]) == 1),
        "inputs-nan": dict(X=np.full((6, 2), np.nan), Y=np.array([0, 1, 0, 1, 0, 1])),
        "inputs-str": dict(X=np.full((6, 2), "a"), Y=np.array([0, 1, 0, 1, 0, 1])),
        "inputs-complex": dict(X=np.ones((6, 2)) * 1j, Y=np.array([0, 1, 0, 1, 0, 1])),
        "split-empty": dict(X_train=np.ones((4, 2)), Y_train=np.array([0, 1, 0, 1]),
                            X_test=np.ones((0, 2)), Y_test=np.zeros(0, int)),
        "split-widths": dict(X_train=np.ones((4, 2)), Y_train=np.array([0, 1, 0, 1]),
                             X_test=np.ones((2, 3)), Y_test=np.array([0, 1])),
        "mismatch": dict(X=np.ones((6, 2)), Y=np.array([0, 1, 0])),
        "no-y": dict(X=np.ones((6, 2))),
        "one-hot-wide": dict(X=np.ones((6, 2)), Y=np.eye(6, 5000)),
    }
    for name, arrs in arrays.items():
        np.savez(root / f"data-{name}.npz", **arrs)
        f[f"data:{name}"] = root / f"data-{name}.npz"
    obj = root / "data-object.npz"
    np.savez(obj, X=np.array([[1], [None]], dtype=object), Y=np.ones(2), allow_pickle=True)
    f["data:object"] = obj
    bomb = root / "data-bomb.npz"
    head = io.BytesIO()
    np.lib.format.write_array_header_1_0(head, {"descr": "<f8", "fortran_order": False,
                                                "shape": (10**13,)})
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("X.npy", head.getvalue() + b"\0" * (8 * 2**20))
        z.writestr("Y.npy", b"")
    f["data:bomb"] = bomb
    _mnist_and_cifar(root, f)


def _mnist_and_cifar(root: Path, f: dict[str, Path]) -> None:
    def idx(values, shape=None):
        shape = np.shape(values) if shape is None else shape
        return bytes([0, 0, 8, len(shape)]) + b"".join(int(n).to_bytes(4, "big")
                                                       for n in shape) + \
            np.asarray(values, np.uint8).tobytes()

    cases = {"ok": {}, "label-12": {"train-labels-idx1-ubyte": idx(np.r_[np.arange(19) % 10, 12])},
             "huge-header": {"t10k-images-idx3-ubyte": idx(np.zeros(4), (2**31, 2**31, 4))},
             "gzip-bomb": {"train-labels-idx1-ubyte.gz": gzip.compress(
                 idx(np.arange(20) % 10) + b"\0" * (32 * 2**20))},
             "not-idx": {"train-images-idx3-ubyte": b"hello"}}
    for name, over in cases.items():
        d = root / f"mnist-{name}"
        d.mkdir()
        files = {"train-images-idx3-ubyte": idx(np.zeros((20, 4, 4))),
                 "train-labels-idx1-ubyte": idx(np.arange(20) % 10),
                 "t10k-images-idx3-ubyte": idx(np.zeros((10, 4, 4))),
                 "t10k-labels-idx1-ubyte": idx(np.arange(10))}
        for k in over:
            files.pop(k.removesuffix(".gz"), None)
        files.update(over)
        for k, v in files.items():
            (d / k).write_bytes(v)
        f[f"mnist:{name}"] = d
    good = {b"data": np.zeros((4, 3072), np.uint8), b"labels": [0, 1, 2, 3]}
    bad_tests = {"labels-negative": {**good, b"labels": [0, 1, 2, -1]},
                 "labels-float": {**good, b"labels": [0, 1, 2, 3.0]},
                 "labels-bool": {**good, b"labels": [0, True, 2, 3]},
                 "labels-10": {**good, b"labels": [0, 1, 2, 10]},
                 "widths": {b"data": np.zeros((4, 100), np.uint8), b"labels": [0, 1, 2, 3]},
                 "data-list": {b"data": [[0] * 3072] * 4, b"labels": [0, 1, 2, 3]},
                 "no-labels": {b"data": np.zeros((4, 3072), np.uint8)}}
    for name, test in bad_tests.items():
        d = root / f"cifar-{name}"
        d.mkdir()
        for i in range(1, 6):
            (d / f"data_batch_{i}").write_bytes(pickle.dumps(good, protocol=2))
        (d / "test_batch").write_bytes(pickle.dumps(test, protocol=2))
        f[f"cifar:{name}"] = d


def _proof_dirs(root: Path, f: dict[str, Path]) -> None:
    for name, text in {"syntax": "def f(:\n", "raises": "raise RuntimeError('boom')\n",
                       "empty": None, "exit": "raise SystemExit(3)\n",
                       "no-proofs": "x = 1\n"}.items():
        d = root / f"proofs-{name}"
        d.mkdir()
        if text is not None:
            (d / "p.py").write_text(text)
        f[f"proofs:{name}"] = d


def make_stores(root: Path) -> dict[str, Path]:
    """A clean store and damaged copies of it, by name."""
    import symdyn as sd

    spec = {"rule": "arbp", "depth": 2, "alpha": 1.0, "beta": 1.0, "starts": 4, "chunk": 2,
            "t_final": 5.0, "tail": 2.0}
    clean = root / "store-clean"
    sd.sweep(spec, clean, scheduler="sync", progress=False)
    out = {"clean": clean}

    def damaged(name: str, change: Callable[[Path], None]) -> None:
        path = root / f"store-{name}"
        shutil.copytree(clean, path)
        change(path)
        out[name] = path

    chunk = "chunks/cell00000-chunk00000.npz"
    meta = json.loads((clean / "spec.json").read_text())
    damaged("spec-5", lambda p: (p / "spec.json").write_text(json.dumps({**meta, "spec": 5})))
    damaged("spec-deep", lambda p: (p / "spec.json").write_text("[" * 10**5 + "]" * 10**5))
    damaged("spec-binary", lambda p: (p / "spec.json").write_bytes(b"\xff\xfe\0"))
    damaged("spec-missing", lambda p: (p / "spec.json").unlink())
    damaged("spec-no-keys", lambda p: (p / "spec.json").write_text(json.dumps(
        {"format": meta["format"], "identity": meta["identity"]})))
    damaged("chunks-file", lambda p: (shutil.rmtree(p / "chunks"),
                                      (p / "chunks").write_text("x")))
    damaged("chunk-garbage", lambda p: (p / chunk).write_bytes(b"garbage"))
    damaged("chunk-empty", lambda p: (p / chunk).write_bytes(b""))
    if hasattr(os, "mkfifo"):
        damaged("chunk-fifo", lambda p: ((p / chunk).unlink(), os.mkfifo(p / chunk)))
        damaged("spec-fifo", lambda p: ((p / "spec.json").unlink(), os.mkfifo(p / "spec.json")))

    def header(p: Path) -> None:
        with zipfile.ZipFile(p / chunk) as z:
            members = {n: z.read(n) for n in z.namelist()}
        buf = io.BytesIO()
        np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False,
                                                   "shape": (10**13,)})
        members["loss.npy"] = buf.getvalue()
        with zipfile.ZipFile(p / chunk, "w") as z:
            for n, v in members.items():
                z.writestr(n, v)

    damaged("chunk-huge-header", header)
    rng = np.random.default_rng(0)
    raw = (clean / chunk).read_bytes()
    for i in range(40):  # random bytes overwritten
        b = bytearray(raw)
        for _ in range(int(rng.integers(1, 6))):
            b[int(rng.integers(0, len(b)))] = int(rng.integers(0, 256))
        damaged(f"chunk-mutated-{i}", lambda p, b=b: (p / chunk).write_bytes(bytes(b)))
    return out


# -- the command line -------------------------------------------------------------------------


def cli_inputs(files: dict[str, Path], stores: dict[str, Path], root: Path
               ) -> Iterator[list[str]]:
    """Hostile command lines (several hundred)."""
    entries = [["invariants", *SPEC, "--check", "X"],
               ["integrate", *SPEC, "--values", "alpha=X,beta=1,c1=1"],
               ["integrate", *SPEC, "--values", VALS, "--y0", "X"],
               ["integrate", *SPEC, "--values", VALS, "--y0", "a1=X"],
               ["integrate", *SPEC, "--batch", "3", "--values", "alpha=1,beta=X,c1=1"],
               ["simulate", *SPEC, "--generate", "5", "--lr", "0.1", "--steps", "5",
                "--values", "c1=X"],
               ["derive", *SPEC, "--rate", "X"], ["derive", *SPEC, "--decay", "X"],
               ["fixed-points", *SPEC, "--values", "alpha=X", "--timeout", "5"]]
    code = injection(root / "ran-as-code")
    for e in entries:
        for text in [*TOWERS, code]:
            yield [text if a == "X" else a.replace("=X", f"={text}") for a in e]
    for key, values in {
        "rule": ["os.system", "", "ARBP;rm", "bp,os", code], "depth": ["1000", "-1", "2.5",
                                                                      "1e9", "nan", code],
        "starts": ["1e9", "0", "-5", "inf", "1e300"], "alpha": ["nan", "inf", "1e400", "x"],
        "t_final": ["-1", "0", "nan"], "chunk": ["-1", "0.5"], "arch": ["1-1-", "a-b",
                                                                         "99999999999-1"],
        "scale": ["nan", "-inf"], "__class__": ["1"], "random": ["1"], "samples": ["0"],
    }.items():
        for v in values:
            yield ["sweep", *_sweep_with(key, v), "--store", str(root / "s-bad"),
                   "--scheduler", "sync"]
    for sched in ["foo://127.0.0.1:1", "!!@@##", "tcp://127.0.0.1:1", "tcp://:1",
                  "tcp://127.0.0.1:99999", "inproc://x", "ucx://127.0.0.1:1", "tls://127.0.0.1:1",
                  "tcp://[::1:1", "", " ", "tcp://127.0.0.1:-1", "\0"]:
        yield ["sweep", *SWEEP, "--store", str(root / "s-sched"), "--scheduler", sched]
    for w in ["-3", "0", "1e9", "x", "99999", "nan"]:
        yield ["sweep", *SWEEP, "--store", str(root / "s-w"), "--workers", w]
    for name in ("afile", "under-file", "fifo"):
        if name in files:
            yield ["sweep", *SWEEP, "--store", str(files[name]), "--scheduler", "sync"]
    for target in ("/proc/symdyn-x", "/proc/self/x/y", str(files["under-file"]) + "/z"):
        yield ["sweep", *SWEEP, "--store", target, "--scheduler", "sync"]
    for name, path in files.items():
        if name.startswith("toml:"):
            yield ["sweep", str(path), "--store", str(root / f"s-{name[5:]}"), "--scheduler",
                   "sync", "--no-progress"]
    for name, path in stores.items():
        if name != "clean":
            yield ["sweep", "--summary", str(path)]
            if not name.startswith("chunk-mutated") or name.endswith(("-0", "-1", "-2")):
                yield ["sweep", *SWEEP, "--store", str(path), "--scheduler", "sync"]
    yield ["sweep", "--summary", str(stores["clean"]), "--plot", str(files["under-file"])]
    for name, path in files.items():
        if name.startswith("data:") or name == "fifo":
            yield ["derive", *SPEC, "--data", str(path)]
            yield ["simulate", *SPEC, "--data", str(path), "--lr", "0.1", "--steps", "5",
                   "--values", "c1=1"]
            yield ["experiment", "--data", str(path), *_EXP, "--out", str(root / "e")]
        if name.startswith(("mnist:", "cifar:")):
            kind = name.split(":")[0].replace("cifar", "cifar10")
            yield ["experiment", "--data", f"{kind}:{path}", *_EXP, "--out", str(root / "e")]
    for opt, v in [("--epochs", "100000"), ("--seeds", "10000"), ("--epochs", "0"),
                   ("--seeds", "-1"), ("--lr", "nan"), ("--batch-size", "0"),
                   ("--scale", "inf"), ("--symmetry-scales", "1,nan"), ("--max-work", "nan"),
                   ("--arch", "64-" + "-".join(["100"] * 400) + "-10"), ("--rules", "os"),
                   ("--variants", "bits=nan"), ("--variants", "density=2"),
                   ("--data", "a\0b"), ("--data", "x" * 5000)]:
        yield ["experiment", opt, v, "--out", str(root / "e2")]
    for out in (str(files["under-file"]), "/proc/symdyn-x"):
        yield ["experiment", *_EXP, "--out", out]
    for name, path in files.items():
        if name.startswith("proofs:"):
            yield ["verify", "--proofs", str(path), "--quick"]
            yield ["verify", "--proofs", str(path), "--list"]
    for v in ["nan", "inf", "-1", "0", "x"]:
        yield ["verify", "--budget", v, "--quick"]
        yield ["notebooks", "--timeout", v, "--out", str(root / "nb")]
    yield ["notebooks", "--out", str(files["under-file"])]
    for target in (str(files["under-file"]) + ".png", "/proc/symdyn.png", str(root),
                   str(root / "x.unknown"), str(files.get("fifo", root / "f")) + ".png"):
        yield ["integrate", *SPEC, "--values", VALS, "--t", "1", "--plot", target]
        yield ["verify", "--latex", str(files["under-file"]) + ".tex", "nonexistent-proof"]
    for arch in ["-".join(["1"] * 101), "-".join(["1"] * 34), "1000-1000-1000-1000",
                 "0-1", "1", "1--1", "١-١", "1-1-1" * 1000]:
        yield ["derive", "--arch", arch, "--rule", "arbp"]
        yield ["invariants", "--arch", arch, "--rule", "arbp", "--timeout", "5"]


def _sweep_with(key: str, value: str) -> list[str]:
    settings = dict(a.split("=", 1) for a in SWEEP if "=" in a)
    settings[key] = value
    out = []
    for k, v in settings.items():
        out += ["--set", f"{k}={v}"]
    return [*out, "--no-progress"]


_EXP = ["--arch", "2-2", "--rules", "bp", "--variants", "derivative", "--seeds", "1",
        "--epochs", "1", "--symmetry-scales", "none", "--no-figures"]


def cli_surface(argv: list[str]) -> str:
    """The surface a command line attacks, for the counts."""
    text = " ".join(argv)
    if "--data" in argv:
        return "cli data"
    if "--summary" in argv or "store-" in text:
        return "cli store"
    if "--scheduler" in argv and "sync" not in argv or "--workers" in argv:
        return "cli scheduler"
    if argv[0] == "sweep" and ("--set" in text and "s-bad" in text or ".toml" in text):
        return "cli sweep spec"
    if argv[0] == "sweep":
        return "cli store"
    if argv[0] == "experiment":
        return "cli experiment"
    if argv[0] in ("verify", "notebooks") or "--plot" in argv:
        return "cli outputs, proofs"
    if argv[:2] != ["derive", "--arch"] and argv[:2] != ["invariants", "--arch"] or \
            argv[2] == "1-1-1":
        return "cli expressions"
    return "cli estimates"


def run_cli(argvs: list[list[str]], marker: Path) -> list[Tally]:
    from symdyn.cli import main

    tallies: dict[str, Tally] = {}
    for argv in argvs:
        name = cli_surface(argv)
        t = tallies.setdefault(name, Tally(name))
        t.inputs += 1
        _run_argv(t, argv, main)
        _check_marker(t, marker, " ".join(argv))
    return list(tallies.values())


def _run_argv(t: Tally, argv: list[str], main: Callable) -> None:
    err = io.StringIO()
    out = io.StringIO()
    try:
        with budget(BUDGET), contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            try:
                code = main(argv)
            except SystemExit as exc:
                code = exc.code
    except Hang:
        t.hangs += 1
        t.failures.append(("hang", argv))
        return
    except Exception as exc:  # noqa: BLE001 - what the corpus counts
        t.tracebacks += 1
        t.failures.append(("traceback", argv, f"{type(exc).__name__}: {str(exc)[:150]}"))
        return
    text = err.getvalue()
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if "Traceback" in text:
        t.tracebacks += 1
        t.failures.append(("traceback", argv, text[-300:]))
    elif code == 2 and (len(lines) != 1 or not lines[0].startswith("symdyn")):
        t.multiline += 1
        t.failures.append(("multi-line", argv, text[-300:]))
    elif code not in (0, 1, 2):
        t.tracebacks += 1
        t.failures.append(("exit", argv, code, text[-200:]))


# -- the API ----------------------------------------------------------------------------------


def api_targets(system) -> dict[str, Callable]:
    """The public API's entry points, each a function of one (hostile) argument; ``system`` is
    the 1-1-1 RBP system. ``test_api.py`` runs a selection of them."""
    import sympy as sp

    import symdyn as sd
    from symdyn.analysis import prove_nonnegative
    from symdyn.numerics._level_batch import follow_level_curves

    vals = {"alpha": 1, "beta": 1, "c1": 1}
    ones = np.ones((4, 1))
    x = sp.Symbol("x")
    sim = dict(lr=0.1, steps=2, values={"c1": 1}, y0=[0.1, 0.1])
    return {
        "derive(arch)": lambda b: sd.derive(b, "rbp"),
        "derive(rule)": lambda b: sd.derive("1-1-1", b),
        "derive(rate)": lambda b: sd.derive("1-1-1", "rbp", rate=b),
        "derive(data)": lambda b: sd.derive("1-1-1", "rbp", data=b),
        "invariants": lambda b: sd.invariants(b),
        "invariants(degree)": lambda b: sd.invariants(system, b),
        "verify_invariant": lambda b: sd.verify_invariant(b, "a1"),
        "verify_invariant(H)": lambda b: sd.verify_invariant(system, b),
        "fixed_points": lambda b: sd.fixed_points(b),
        "fixed_points(values)": lambda b: sd.fixed_points(system, values=b),
        "jacobian": lambda b: sd.jacobian(b),
        "reduce": lambda b: sd.reduce(b),
        "analyze": lambda b: sd.analyze(b),
        "numeric": lambda b: system.numeric(b),
        "integrate": lambda b: sd.integrate(b, [0.1, 0.1], 1.0),
        "integrate(y0)": lambda b: sd.integrate(system, b, 1.0, vals),
        "integrate(t)": lambda b: sd.integrate(system, [0.1, 0.1], b, vals),
        "integrate(values)": lambda b: sd.integrate(system, [0.1, 0.1], 1.0, b),
        "integrate_batch": lambda b: sd.integrate_batch(b, np.ones((2, 2)), 1.0),
        "integrate_batch(Y0)": lambda b: sd.integrate_batch(system, b, 1.0, vals),
        "integrate_batch(t)": lambda b: sd.integrate_batch(system, np.ones((2, 2)), b, vals),
        "simulate": lambda b: sd.simulate(b, ones, ones, **sim),
        "simulate(X)": lambda b: sd.simulate(system, b, ones, **sim),
        "simulate(lr)": lambda b: sd.simulate(system, ones, ones, **{**sim, "lr": b}),
        "compare": lambda b: sd.compare(b, ones, ones, **sim),
        "classify": lambda b: sd.classify(b, None),
        "sweep(spec)": lambda b: sd.sweep(b, "/nonexistent/s", scheduler="sync",
                                          progress=False),
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
        "DeepNetwork(arch)": lambda b: sd.DeepNetwork(b, "bp"),
        "Network.parse": lambda b: sd.Network.parse(b),
        "Moments": lambda b: sd.Moments(Sigma_II=b, Sigma_TI=b),
        "Dataset": lambda b: sd.Dataset(X=b, Y=b),
        "Dataset.load": lambda b: sd.Dataset.load(b),
        "parse_expression": lambda b: sd.parse_expression(b, {}),
        "parse_expression(names)": lambda b: sd.parse_expression("a", b),
        # derived expressions only: text here was once run through sympify (b090f89)
        "sign_analysis": lambda b: sd.sign_analysis(b, x),
        "sign_analysis(x)": lambda b: sd.sign_analysis(x ** 2, b),
        "prove_nonnegative": lambda b: prove_nonnegative(b, [x]),
        "prove_nonnegative(assumptions)": lambda b: prove_nonnegative(x ** 2, [x], [b]),
        "follow_level_curve(laws)": lambda b: sd.follow_level_curve(system, [0.1, 0.1], vals,
                                                                    laws=[b]),
        "follow_level_curves(laws)": lambda b: follow_level_curves(system, [[0.1, 0.1]], vals,
                                                                   laws=[b]),
        "certify_periodic(laws)": lambda b: sd.certify_periodic(system, [0.1, 0.1], vals,
                                                                laws=[b]),
    }


def api_calls(files: dict[str, Path], stores: dict[str, Path],
              marker: Path) -> list[tuple[str, Callable]]:
    import symdyn as sd

    bad = [None, [1, 2], np.array([object(), None], dtype=object), "x", 5, {}, 1.5, b"x",
           (1,), np.nan, float("inf"), -1, object(), np.ones((2, 2, 2)), sd.derive,
           injection(marker)]
    targets = api_targets(sd.derive("1-1-1", "rbp"))
    calls = [(f"{name}({b!r:.30})", lambda f=f, b=b: f(b)) for name, f in targets.items()
             for b in bad]
    calls += [(f"store: load_sweep({name})", lambda p=p: sd.load_sweep(p))
              for name, p in stores.items()]
    for name, p in files.items():
        if name.startswith(("mnist:", "cifar:")):
            spec = f"{name.split(':')[0].replace('cifar', 'cifar10')}:{p}"
        elif name.startswith("data:"):
            spec = str(p)
        else:
            continue
        calls.append((f"data: load_data({name})", lambda spec=spec: sd.load_data(spec)))
    return calls


def run_api(calls: list[tuple[str, Callable]], marker: Path) -> list[Tally]:
    from symdyn.errors import SymdynError

    tallies: dict[str, Tally] = {}
    for label, call in calls:
        name = {"store": "api store", "data": "api data"}.get(label.split(":")[0], "api types")
        t = tallies.setdefault(name, Tally(name))
        t.inputs += 1
        _run_call(t, label, call, SymdynError)
        _check_marker(t, marker, label)
    return list(tallies.values())


# -- data loss: two sweeps on one store -------------------------------------------------------


def run_shared_store(root: Path) -> Tally:
    """Two sweep processes on one store (the second started while the first runs) against a
    clean run: every chunk present and equal."""
    import subprocess

    from symdyn.sweep import _store, load_spec

    t = Tally("shared store (chunks)")  # inputs: the chunks compared with a clean run
    spec = {"rule": "arbp", "depth": 2, "alpha": 1.0, "beta": 1.0, "starts": 60, "chunk": 1,
            "t_final": 50.0, "tail": 20.0}
    (root / "shared.json").write_text(json.dumps(spec))
    code = ("import json, sys, symdyn as sd; sd.sweep(json.load(open(sys.argv[1])), "
            "sys.argv[2], scheduler='sync', progress=False)")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    shared = root / "shared"
    procs = [subprocess.Popen([sys.executable, "-c", code, str(root / "shared.json"),
                               str(shared)], env=env, stderr=subprocess.PIPE, text=True)]
    deadline = time.time() + 300
    while time.time() < deadline and len(_store.done_chunks(shared)) < 3 and \
            procs[0].poll() is None:
        time.sleep(0.05)
    procs.append(subprocess.Popen([sys.executable, "-c", code, str(root / "shared.json"),
                                   str(shared)], env=env, stderr=subprocess.PIPE, text=True))
    for p in procs:
        err = p.communicate(timeout=900)[1]
        if p.returncode != 0:
            t.tracebacks += "Traceback" in err
            t.failures.append(("sweep failed", p.returncode, err[-300:]))
    import symdyn as sd

    sd.sweep(spec, root / "clean", scheduler="sync", progress=False)
    ident = load_spec(spec).identity
    for key in sorted(_store.done_chunks(root / "clean")):
        t.inputs += 1
        try:
            a = _store.read_chunk(shared, *key, ident, rows=1, n_state=3)
        except Exception:  # noqa: BLE001 - a missing or damaged chunk is lost data
            t.data_loss += 1
            continue
        b = _store.read_chunk(root / "clean", *key, ident, rows=1, n_state=3)
        if not all(np.array_equal(a[k], b[k], equal_nan=a[k].dtype.kind == "f") for k in a):
            t.data_loss += 1
    return t


def run_shared_results(root: Path) -> Tally:
    """Two experiment grids writing one ``--out`` at once (they share some runs) against
    each grid run alone: every run file of both present, readable and equal to the clean
    run's, and the shared directory's results table whole."""
    import subprocess

    from symdyn.training import ResultsTable

    t = Tally("shared results (runs)")  # inputs: the run files compared with clean runs
    base = [sys.executable, "-m", "symdyn", "experiment", "--data", "digits", "--arch",
            "64-16-10", "--variants", "derivative", "--epochs", "12", "--symmetry-scales",
            "none", "--baselines", "none", "--no-figures", "--out"]
    grids = {"a": ["--rules", "bp,rbp", "--seeds", "3"],
             "b": ["--rules", "rbp,srbp", "--seeds", "3"]}
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    shared = root / "exp-shared"
    procs = [subprocess.Popen([*base, str(shared), *g], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True) for g in grids.values()]
    for p in procs:
        err = p.communicate(timeout=900)[1]
        if p.returncode != 0:
            t.tracebacks += "Traceback" in err
            t.failures.append(("experiment failed", p.returncode, err[-300:]))
    for name, g in grids.items():
        subprocess.run([*base, str(root / f"exp-{name}"), *g], env=env, check=True,
                       capture_output=True)
        for clean in sorted((root / f"exp-{name}" / "runs").glob("*.json")):
            t.inputs += 1
            try:
                same = json.loads((shared / "runs" / clean.name).read_text()) == \
                    json.loads(clean.read_text())
            except (OSError, ValueError):
                same = False
            if not same:
                t.data_loss += 1
                t.failures.append(("run lost or differs", clean.name))
    for table in ("results.csv", "results.json"):
        t.inputs += 1
        try:
            ResultsTable.load(shared / table)
        except Exception as exc:  # noqa: BLE001 - a damaged table is lost data
            t.data_loss += 1
            t.failures.append(("table damaged", table, str(exc)[:120]))
    return t


# -- driver -----------------------------------------------------------------------------------


def run_all(every: int = 1, full: bool = False, root: Path | None = None) -> list[Tally]:
    """Every surface, one input in ``every``; ``full`` adds the shared-store run."""
    with contextlib.ExitStack() as stack:
        if root is None:
            root = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        cwd = os.getcwd()
        os.chdir(root)
        stack.callback(os.chdir, cwd)
        files = make_files(root)
        stores = make_stores(root)
        marker = root / "ran-as-code"
        api = api_calls(files, stores, marker)
        # every injection runs, whatever ``every`` samples of the rest
        api = api[::every] + ([c for c in api if "__import__" in c[0]] if every > 1 else [])
        cli = list(cli_inputs(files, stores, root))
        cli = cli[::every] + ([a for a in cli if any("__import__" in x for x in a)]
                              if every > 1 else [])
        tallies = [run_expressions((TOWERS + fuzzed_expressions(700))[::every], marker),
                   *run_cli(cli, marker), *run_api(api, marker)]
        if full:
            tallies += [run_shared_store(root), run_shared_results(root)]
        return tallies


def main() -> int:
    import argparse

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--every", type=int, default=1, help="one input in K of each surface")
    p.add_argument("--no-shared-store", action="store_true",
                   help="skip the two-process shared-store run")
    args = p.parse_args()
    start = time.process_time()
    tallies = run_all(args.every, full=not args.no_shared_store)
    for t in tallies:
        for f in t.failures:
            print("  ", *f)
    for t in sorted(tallies, key=lambda t: t.surface):
        print(t.line())
    total = Tally("all")
    for t in tallies:
        for k in ("inputs", "tracebacks", "hangs", "multiline", "data_loss", "code_run"):
            setattr(total, k, getattr(total, k) + getattr(t, k))
    print(total.line())
    print(f"CPU time: {time.process_time() - start:.0f} s")
    bad = sum(t.tracebacks + t.hangs + t.multiline + t.data_loss + t.code_run for t in tallies)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
