"""Shared fixtures of the Python binding's tests (tests/system/python).

Run through meson (`meson test -C BUILD --suite python`, see
run-pytest.py), or by hand against a build directory:

    PMNODE_LIBRARY=$PWD/build-py/libpmnode/libpmnode.so PYTHONPATH=bindings/python \\
        /usr/bin/python3 -m pytest -p no:cacheprovider tests/system/python

Host tests use node 0 of this machine through a context that ignores the
PMNODE_* environment and the configuration file; fixture tests read the
trees under tests/fixtures.
"""
import json
import os
from pathlib import Path

import pytest

import pmnode

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "tests" / "fixtures"
PAGE = os.sysconf("SC_PAGE_SIZE")
MiB = 1 << 20


def fixture_names():
    return sorted(p.name for p in FIXTURES.iterdir() if (p / "root").is_dir())


def fixture_root(name):
    return str(FIXTURES / name / "root")


def fixture_json(name, what):
    path = FIXTURES / name / ("%s.json" % what)
    if not path.exists():
        return None
    with open(path) as f:
        return json.load(f)


def open_fixture(name, **kwargs):
    kwargs.setdefault("ignore_env", True)
    return pmnode.Context(fixture_root(name), **kwargs)


@pytest.fixture
def host():
    """A context for this machine (no PMNODE_* variables, no config file)."""
    try:
        ctx = pmnode.Context("/", ignore_env=True, no_config=True)
    except pmnode.NotFoundError as e:
        if e.code == pmnode.E_NO_NUMA:
            pytest.skip("this host has no /sys/devices/system/node")
        raise
    if 0 not in ctx:
        ctx.close()
        pytest.skip("this host has no node 0")
    with ctx:
        yield ctx


@pytest.fixture
def backing0(host):
    """An anonymous backing bound to node 0."""
    with pmnode.Backing(host, node=0) as b:
        yield b


@pytest.fixture
def arena(backing0):
    with pmnode.Arena(backing0) as a:
        yield a
