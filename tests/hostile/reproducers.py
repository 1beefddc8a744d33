"""Every reproducer of issue 24 ("Why", items 1-6), issue 22's hostile sweep specs and a few
more, each run as its own process the way a user would run it, timed: exit code, lines on
stderr, CPU seconds (the child's user + system) and wall seconds, with the load average
(``uptime``) at its start. A command must end in one line on stderr with exit 2; an API call
runs in ``python -c`` and counts as one line (exit 2) when it raises a
:class:`~symdyn.SymdynError`. The shared store (item 1) runs two sweeps on one store at once
and compares every chunk with a clean run's.

Run by hand: ``python tests/hostile/reproducers.py [--only WORD]``; prints a table (times are
measurements of this machine under its load, not claims). ``test_reproducers.py`` runs the
same cases for exit code and one line, untimed."""

from __future__ import annotations

import argparse
import gzip
import io
import os
import pickle
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from corpus import make_files, make_stores  # noqa: E402

SPEC = ["--arch", "1-1-1", "--rule", "rbp"]
SWEEP = ["--set", "rule=arbp", "--set", "depth=2", "--set", "alpha=1", "--set", "beta=1",
         "--set", "starts=2", "--set", "t_final=5", "--set", "tail=2", "--no-progress"]
EXP = ["--arch", "2-2", "--rules", "bp", "--variants", "derivative", "--seeds", "1",
       "--epochs", "1", "--symmetry-scales", "none", "--no-figures"]
TOWER = "((((sqrt(2)**99)**99)**99)**99)**99"
#: the shared-store sweep of item 1 (120 chunks of one row)
SHARED = ["--set", "rule=arbp", "--set", "depth=2", "--set", "alpha=1", "--set", "beta=1",
          "--set", "starts=120", "--set", "chunk=1", "--set", "t_final=50", "--set",
          "tail=20", "--scheduler", "sync", "--no-progress"]
#: an API call: the call's one line on stderr and exit 2 when it raises a SymdynError
API = ("import sys, numpy as np, symdyn as sd\n"
       "try:\n    {call}\n"
       "except sd.SymdynError as exc:\n"
       "    print('symdyn: error:', str(exc).splitlines()[0], file=sys.stderr); sys.exit(2)\n")


@dataclass
class Case:
    item: str
    label: str
    argv: list[str]  # after ``python``
    want: int = 2  # exit code expected
    wall_limit: float = 5.0  # the issue's target (2 s for issue 22's sweep specs)


@dataclass
class Outcome:
    case: Case
    code: int
    lines: int
    cpu: float
    wall: float
    load: float
    last: str


def _sym(*args) -> list[str]:
    return ["-m", "symdyn", *map(str, args)]


def _api(call: str) -> list[str]:
    return ["-c", API.format(call=call)]


def _bad_files(root: Path) -> dict[str, Path]:
    """The data files of item 4 the corpus does not already make: a Keras-style mnist.npz
    with a negative label and one of 10^9, and a CIFAR batch pickling an array that claims
    a huge shape."""
    f = {}
    for name, y in (("neg", -1), ("huge", 10**9)):
        path = root / f"keras-{name}.npz"
        ytr = np.arange(20) % 10
        ytr[-1] = y
        np.savez(path, x_train=np.zeros((20, 4, 4), np.uint8), y_train=ytr,
                 x_test=np.zeros((10, 4, 4), np.uint8), y_test=np.arange(10))
        f[f"keras-{name}"] = path
    d = root / "cifar-crafted"
    d.mkdir()
    good = {b"data": np.zeros((4, 3072), np.uint8), b"labels": [0, 1, 2, 3]}
    for i in range(1, 6):
        (d / f"data_batch_{i}").write_bytes(pickle.dumps(good, protocol=2))
    raw = pickle.dumps({b"data": np.zeros((2, 3), np.uint8), b"labels": [0, 1]}, protocol=2)
    # the array's shape tuple (2, 3) pickled as BININT1 2, BININT1 3: claim (2**31-1, 2**31-1)
    shape = b"K\x02K\x03\x86"
    assert shape in raw
    big = b"J\xff\xff\xff\x7fJ\xff\xff\xff\x7f\x86"
    (d / "test_batch").write_bytes(raw.replace(shape, big))
    f["cifar-crafted"] = d
    ok = root / "cifar-ok"
    ok.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (ok / name).write_bytes(pickle.dumps(good, protocol=2))
    f["cifar-ok"] = ok
    gz = root / "mnist-gzip-bomb-images"
    gz.mkdir()
    head = bytes([0, 0, 8, 3]) + b"".join(n.to_bytes(4, "big") for n in (60000, 28, 28))
    for stem, content in (("train-images-idx3-ubyte", head + b"\0" * (64 * 2**20)),
                          ("train-labels-idx1-ubyte", bytes([0, 0, 8, 1]) +
                           (60000).to_bytes(4, "big") + bytes(60000)),
                          ("t10k-images-idx3-ubyte", bytes([0, 0, 8, 3]) + b"".join(
                              n.to_bytes(4, "big") for n in (10, 28, 28)) + bytes(7840)),
                          ("t10k-labels-idx1-ubyte", bytes([0, 0, 8, 1]) +
                           (10).to_bytes(4, "big") + bytes(10))):
        (gz / (stem + ".gz")).write_bytes(gzip.compress(content))
    f["mnist-gzip-bomb-images"] = gz
    zb = root / "zip-bomb.npz"
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False,
                                               "shape": (2**24, 2)})
    with zipfile.ZipFile(zb, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("X.npy", buf.getvalue() + bytes(2**26))
        z.writestr("Y.npy", b"")
    f["zip-bomb"] = zb
    return f


def cases(root: Path) -> list[Case]:
    """Every reproducer, by item of issue 24 (22: issue 22's sweep specs; own: added here)."""
    files = make_files(root)
    stores = make_stores(root)
    files.update(_bad_files(root))
    s = root / "out"
    chunk_names = ("from symdyn.sweep._store import chunk_name, parse_chunk_name\n    "
                   "got = [parse_chunk_name(chunk_name(*c)) for c in "
                   "((0, 100000), (100000, 0), (123456, 7), (10**9, 10**9))]\n    "
                   "assert got == [(0, 100000), (100000, 0), (123456, 7), (10**9, 10**9)], got")
    c = [
        Case("2", "chunk names at index >= 100,000 parse back", _api(chunk_names), want=0),
        Case("3", "integrate --values alpha=<sqrt tower>",
             _sym("integrate", *SPEC, "--values", f"alpha={TOWER},beta=1,c1=1")),
        Case("3", "invariants --check ((sqrt(2)**99)**99)**99",
             _sym("invariants", *SPEC, "--check", "((sqrt(2)**99)**99)**99")),
        Case("3", "parse_number(sqrt tower) (API)",
             _api(f"from symdyn.expressions import parse_number; parse_number({TOWER!r})")),
    ]
    exp = ["experiment", *EXP, "--out", s / "e", "--data"]
    for name, data in (("Keras mnist.npz, label -1", f"mnist:{files['keras-neg']}"),
                       ("Keras mnist.npz, label 10^9", f"mnist:{files['keras-huge']}"),
                       ("CIFAR test batch, label -1", f"cifar10:{files['cifar:labels-negative']}"),
                       ("CIFAR, float label", f"cifar10:{files['cifar:labels-float']}"),
                       ("CIFAR, bool label", f"cifar10:{files['cifar:labels-bool']}"),
                       ("CIFAR, label 10", f"cifar10:{files['cifar:labels-10']}"),
                       ("MNIST IDX, label 12", f"mnist:{files['mnist:label-12']}")):
        c.append(Case("4", f"experiment --data {name}", _sym(*exp, data)))
    million = ["--set", "alpha=" + ",".join(map(str, range(1, 101))),
               "--set", "beta=" + ",".join(map(str, range(1, 101))),
               "--set", "scale=" + ",".join(map(str, range(1, 101)))]
    sweep = ["sweep", "--set", "rule=arbp", "--set", "alpha=1", "--set", "beta=1",
             "--scheduler", "sync", "--store", s / "st"]
    c += [
        Case("5", "sweep: a million-cell grid",
             _sym("sweep", "--set", "rule=arbp", "--set", "depth=3", *million,
                  "--scheduler", "sync", "--store", s / "st"), wall_limit=2.0),
        Case("5", "sweep starts=1e9 (depth 3)",
             _sym(*sweep, "--set", "depth=3", "--set", "starts=1000000000"), wall_limit=2.0),
        Case("5", "sweep: a 20,000-value axis",
             _sym("sweep", "--set", "rule=arbp", "--set", "depth=3", "--set", "beta=1",
                  "--set", "alpha=" + ",".join(map(str, range(1, 20_001))),
                  "--scheduler", "sync", "--store", s / "st"), wall_limit=2.0),
        Case("5", "sweep depth=1000", _sym(*sweep, "--set", "depth=1000"), wall_limit=2.0),
        Case("5", "experiment --epochs 100000", _sym("experiment", "--epochs", "100000",
                                                     "--out", s / "e5")),
        Case("5", "experiment --seeds 10000", _sym("experiment", "--seeds", "10000",
                                                   "--out", s / "e5")),
        Case("5", "sweep --workers -3", _sym("sweep", *SWEEP, "--store", s / "w",
                                             "--workers", "-3")),
        Case("22", "sweep starts=1000000000000",
             _sym(*sweep, "--set", "depth=3", "--set", "starts=1000000000000"), wall_limit=2.0),
        Case("22", "sweep t_final=1e308",
             _sym(*sweep, "--set", "depth=3", "--set", "t_final=1e308"), wall_limit=2.0),
        Case("22", "sweep depth=200", _sym(*sweep, "--set", "depth=200"), wall_limit=2.0),
    ]
    for name in ("spec-5", "spec-no-keys", "spec-deep", "chunk-huge-header", "chunks-file",
                 "chunk-garbage", "chunk-fifo"):
        c.append(Case("6", f"store {name}: sweep --summary",
                      _sym("sweep", "--summary", stores[name])))
    c.append(Case("6", "store chunk-fifo: resume sweep", _sym("sweep", *SWEEP, "--store",
                                                              stores["chunk-fifo"],
                                                              "--scheduler", "sync")))
    for name in ("bad-utf8", "nested", "nested-table"):
        c.append(Case("6", f"TOML {name}", _sym("sweep", files[f"toml:{name}"], "--store",
                                                s / f"t-{name}", "--scheduler", "sync")))
    for name in ("labels-nan", "labels-inf", "object", "split-empty", "split-widths", "bomb"):
        c.append(Case("6", f"data .npz {name}", _sym(*exp, files[f"data:{name}"])))
    c += [
        Case("6", "IDX gzip bomb (labels)", _sym(*exp, f"mnist:{files['mnist:gzip-bomb']}")),
        Case("6", "IDX gzip bomb (images: 47 MB in 64 MB of zeros)",
             _sym(*exp, f"mnist:{files['mnist-gzip-bomb-images']}")),
        Case("6", "npz zip bomb (64 MiB of zeros, 256 MiB claimed)", _sym(*exp, files["zip-bomb"])),
        Case("6", "CIFAR pickle claiming (2^31-1)^2 values",
             _sym(*exp, f"cifar10:{files['cifar-crafted']}")),
        Case("6", "experiment --out under a regular file",
             _sym("experiment", *EXP, "--out", files["under-file"])),
        Case("6", "sweep --store on a read-only FS (/proc)",
             _sym("sweep", *SWEEP, "--store", "/proc/symdyn-x", "--scheduler", "sync")),
        Case("6", "sweep --scheduler foo://127.0.0.1:1",
             _sym("sweep", *SWEEP, "--store", s / "sc", "--scheduler", "foo://127.0.0.1:1")),
        Case("6", "sweep --scheduler '!!@@##'",
             _sym("sweep", *SWEEP, "--store", s / "sc", "--scheduler", "!!@@##")),
        Case("6", "sweep --scheduler tcp://127.0.0.1:1 (closed port)",
             _sym("sweep", *SWEEP, "--store", s / "sc", "--scheduler", "tcp://127.0.0.1:1")),
        Case("6", "verify --proofs DIR (syntax error)",
             _sym("verify", "--proofs", files["proofs:syntax"], "--quick")),
        Case("6", "verify --proofs DIR (empty)",
             _sym("verify", "--proofs", files["proofs:empty"], "--quick")),
        Case("6", "notebooks --timeout nan", _sym("notebooks", "--timeout", "nan", "--out",
                                                  s / "nb")),
        Case("6", "invariants(None) (API)", _api("sd.invariants(None)")),
        Case("6", "sweep(None, ...) (API)", _api("sd.sweep(None, '/nonexistent/s', "
                                                 "scheduler='sync', progress=False)")),
        Case("6", "system.numeric([1, 2]) (API)",
             _api("sd.derive('1-1-1', 'rbp').numeric([1, 2])")),
        Case("6", "load_data(object array) (API)",
             _api(f"sd.load_data({str(files['data:object'])!r})")),
    ]
    big_exp = ["experiment", "--suite", "quick", "--out", s / "e6"]
    c += [
        Case("own", "experiment --suite quick --seeds 10000 --epochs 100000",
             _sym(*big_exp, "--seeds", "10000", "--epochs", "100000")),
        Case("own", "experiment --arch 784-4096-4096-4096-10 --epochs 1000",
             _sym("experiment", "--arch", "784-4096-4096-4096-10", "--epochs", "1000",
                  "--out", s / "e7")),
        Case("own", "experiment --max-work 1e3 (digits)",
             _sym(*big_exp, "--max-work", "1e3")),
        Case("own", "experiment --data cifar10:DIR --epochs 100000 (no header: loads first)",
             _sym("experiment", "--data", f"cifar10:{files['cifar-ok']}", "--arch",
                  "3072-1000-10", "--epochs", "100000", "--out", s / "e8")),
        Case("own", "run_suite(100 runs x 100,000 epochs) (API)",
             _api("sd.run_suite([sd.Run(rule='bp', epochs=100000, seed=s) for s in "
                  "range(100)])")),
        Case("own", "sweep starts=1e9 chunk=1 (10^9 chunks)",
             _sym(*sweep, "--set", "depth=2", "--set", "starts=1000000000", "--set",
                  "chunk=1"), wall_limit=2.0),
        Case("own", "sweep tail=1e300", _sym(*sweep, "--set", "depth=3", "--set",
                                             "tail=1e300"), wall_limit=2.0),
        Case("own", "derive --arch 1-...-1 (101 layers)",
             _sym("derive", "--arch", "-".join(["1"] * 102), "--rule", "arbp")),
        Case("own", "verify --budget nan", _sym("verify", "--budget", "nan", "--quick")),
        Case("own", "verify --help (start-up, exit 0)", _sym("verify", "--help"), want=0),
        Case("own", "symdyn --help (start-up, exit 0)", _sym("--help"), want=0),
    ]
    return c


def run(case: Case, cwd: Path, timeout: float = 120.0) -> Outcome:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = os.getloadavg()[0]
    start = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, *case.argv], capture_output=True, text=True,
                              timeout=timeout, cwd=cwd, stdin=subprocess.DEVNULL)
        code, err = proc.returncode, proc.stderr
    except subprocess.TimeoutExpired as exc:
        code, err = -9, (exc.stderr or b"").decode(errors="replace") + "\n(hang: killed)"
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    return Outcome(case, code, len(lines), cpu, wall, load, lines[-1] if lines else "")


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        np.array_equal(a[k], b[k], equal_nan=a[k].dtype.kind in "fc") for k in a)


def shared_store(root: Path) -> tuple[str, bool, float]:
    """Item 1: two sweeps on one store at once (the second started while the first runs);
    both must exit 0 and every chunk equal a clean run's. Returns (summary, ok, wall)."""
    import symdyn  # noqa: F401 - the store reader below
    from symdyn.sweep._store import done_chunks, read_chunk, read_spec

    clean, shared = root / "clean", root / "shared"
    base = [sys.executable, "-m", "symdyn", "sweep", *SHARED, "--store"]
    subprocess.run([*base, str(clean)], check=True, capture_output=True)
    start = time.perf_counter()
    first = subprocess.Popen([*base, str(shared)], stderr=subprocess.PIPE, text=True)
    while not (shared / "chunks").is_dir() or len(list((shared / "chunks").iterdir())) < 5:
        if first.poll() is not None:
            break
        time.sleep(0.05)
    second = subprocess.run([*base, str(shared)], capture_output=True, text=True)
    first_err = first.communicate()[1]
    wall = time.perf_counter() - start
    identity = read_spec(clean)["identity"]
    want, got = done_chunks(clean), done_chunks(shared)
    same = want == got and all(_same(read_chunk(clean, *k, identity),
                                     read_chunk(shared, *k, identity)) for k in want)
    ok = first.returncode == 0 and second.returncode == 0 and same
    text = (f"exits {first.returncode} and {second.returncode}; chunks {len(got)} of "
            f"{len(want)}; every chunk equal to the clean run: {same}")
    if not ok:
        text += f"\n  first: {first_err[-300:]}\n  second: {second.stderr[-300:]}"
    return text, ok, wall


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default=None, help="run only cases whose label has this word")
    ap.add_argument("--no-shared", action="store_true", help="skip the shared-store run")
    args = ap.parse_args()
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        print(f"uptime: {os.getloadavg()}; cpus {os.cpu_count()}")
        print("| item | reproducer | exit | stderr lines | CPU-s | wall-s | load |")
        print("|---|---|---|---|---|---|---|")
        for case in cases(root):
            if args.only and args.only not in case.label:
                continue
            o = run(case, root)
            good = o.code == case.want and (o.lines == 1 or case.want == 0)
            slow = o.wall > case.wall_limit
            failed += not good
            mark = "" if good and not slow else (" FAIL" if not good else
                                                  f" (> {case.wall_limit:g} s wall)")
            print(f"| {case.item} | {case.label} | {o.code} | {o.lines} | {o.cpu:.2f} | "
                  f"{o.wall:.2f} | {o.load:.2f} |{mark}", flush=True)
            if not good:
                print(f"    last line: {o.last[:300]}")
        if not args.only and not args.no_shared:
            load = os.getloadavg()[0]
            text, ok, wall = shared_store(root)
            failed += not ok
            print(f"| 1 | two sweeps on one store (120 chunks) | {text} | | | {wall:.2f} | "
                  f"{load:.2f} |")
    print(f"{failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
