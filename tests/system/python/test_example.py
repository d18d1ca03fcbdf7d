"""bindings/python/examples/hello.py runs, on this host, as documented."""
import os
import subprocess
import sys

import pytest

import pmnode
from conftest import REPO

HELLO = REPO / "bindings" / "python" / "examples" / "hello.py"


def run(*args, **env):
    e = {k: v for k, v in os.environ.items() if k != "PMNODE_PRIVATE_NODES"}
    e.update(env)
    return subprocess.run([sys.executable, str(HELLO)] + list(args), env=e,
                          capture_output=True, text=True, timeout=120)


def has_private_node():
    with pmnode.Context() as ctx:
        return any(n.is_private for n in ctx.nodes)


def test_hello_allow_shared_allocates_and_verifies(host):
    p = run("--allow-shared", "--size", "300000")
    assert p.returncode == 0, p.stderr
    assert "libpmnode %s" % pmnode.version() in p.stdout
    assert "wrote 300000 bytes" in p.stdout
    assert "placement: ok, every page is on node" in p.stdout
    assert '"objects": 1' in p.stdout


def test_hello_without_private_node_explains(host):
    if has_private_node():
        pytest.skip("this host has a private node")
    p = run()
    assert p.returncode == 1
    assert "no private memory node" in p.stderr and "--allow-shared" in p.stderr
    assert "wrote" not in p.stdout


def test_hello_uses_a_private_node(host):
    p = run("--size", "65536", PMNODE_PRIVATE_NODES="0")   # node 0 declared private
    assert p.returncode == 0, p.stderr
    assert "using node 0 (private)" in p.stdout
    assert "every page is on node 0" in p.stdout


def test_hello_unknown_node_is_bad_input(host):
    p = run("--node", "9999")
    assert p.returncode == 2 and "no node 9999" in p.stderr
