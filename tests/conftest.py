"""Test profiles: quick by default; ``--runslow`` (or SYMDYN_SLOW=1) adds exhaustive checks
and draws more hypothesis examples.

The quick profile is derandomised: hypothesis draws the same examples on every machine, so
the README's test command on a fresh clone sees exactly what CI saw. The slow profile
explores with fresh random draws (and keeps hypothesis's example database, so a failure it
finds is replayed first next time)."""

import os

import pytest
from hypothesis import HealthCheck, settings

SLOW = os.environ.get("SYMDYN_SLOW") == "1"

settings.register_profile(
    "quick", max_examples=15, deadline=None, derandomize=True, database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "slow", max_examples=200, deadline=None, derandomize=False,
    suppress_health_check=[HealthCheck.too_slow],
)


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False,
                     help="run the slow exhaustive checks")


def pytest_configure(config):
    slow = SLOW or config.getoption("--runslow")
    settings.load_profile("slow" if slow else "quick")
    os.environ["SYMDYN_SLOW"] = "1" if slow else "0"  # tests size their domains by it


def pytest_collection_modifyitems(config, items):
    if SLOW or config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


# The oracle module sits beside the tests; make it importable under --import-mode=importlib.
import sys  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
