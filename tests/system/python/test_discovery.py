"""Discovery: this host (against sysfs and the CLI) and every fixture tree
(against its expected.json and truth.json, as tests/fixtures/check-fixture.py
judges the CLI)."""
import errno
import json
import os
import subprocess
import threading
import time

import pytest

import pmnode
from conftest import fixture_json, fixture_names, fixture_root, open_fixture

SYS_NODE = "/sys/devices/system/node"
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def parse_list(s):
    out = []
    for part in filter(None, s.strip().split(",")):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


# ---- this host ----

def test_host_nodes_match_sysfs(host):
    with open(os.path.join(SYS_NODE, "online")) as f:
        online = parse_list(f.read())
    assert [n.id for n in host.nodes] == online
    assert host.node_count == len(online)
    assert host.root == "/" and host.is_local
    assert "mainline" in host.abi
    for n in host.nodes:
        d = os.path.join(SYS_NODE, "node%d" % n.id)
        with open(os.path.join(d, "cpulist")) as f:
            cpus = f.read().strip()
        assert n.cpulist == cpus
        assert n.cpu_count == len(parse_list(cpus))
        with open(os.path.join(d, "meminfo")) as f:
            total = [int(line.split()[3]) for line in f if "MemTotal:" in line][0]
        assert n.capacity == total * 1024
        assert 0 < n.free <= n.capacity
        with open(os.path.join(d, "distance")) as f:
            row = [int(x) for x in f.read().split()]
        assert [n.distance(m) for m in host.nodes] == row
        assert n.distance(host.nodes[0]) == row[0]     # a Node works as well as an id


def test_host_node0_is_ordinary_memory(host):
    n = host.node(0)
    assert n.id == 0
    assert n.kind in pmnode.KINDS
    # Nothing on this host marks node 0 private (no PMNODE_* variables,
    # no config file, and mainline kernels have no private-node ABI).
    if not host.abi & {"private_memory", "common_memory"}:
        assert not n.is_private and n.isolation == "none"
    free_now = n.read_free()
    assert free_now is not None and 0 < free_now <= n.capacity
    assert host.read_free(0) is not None
    # what the free-memory check compares: this host has /proc/zoneinfo
    avail = n.read_available()
    assert avail is not None and 0 <= avail <= n.capacity
    for pool in n.hugepools:
        assert pool.page_size > PAGE_SIZE and pool.page_size & (pool.page_size - 1) == 0
        if pool.free is not None and pool.total is not None:
            assert pool.free <= pool.total


def test_host_matches_pmnode_list(host):
    cli = os.environ.get("PMN_PMNODE_CLI")
    if not cli:
        pytest.skip("PMN_PMNODE_CLI (the built pmnode tool) is not set")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PMNODE_")}
    out = json.loads(subprocess.run([cli, "list", "--json"], env=env, check=True,
                                    capture_output=True, text=True).stdout)
    mine = host.to_dict()
    for d in (out, mine):           # free memory moves between the two snapshots
        for n in d["nodes"]:
            n["free_bytes"] = None
            n["available_bytes"] = None
    assert mine == out


def test_unknown_node_raises(host):
    with pytest.raises(pmnode.NotFoundError) as ei:
        host.node(99999)
    assert ei.value.code == pmnode.E_NO_NODE
    assert 99999 not in host
    with pytest.raises(pmnode.NotFoundError):
        host.read_free(99999)
    with pytest.raises(pmnode.NotFoundError):
        host.read_available(99999)
    assert host.node(0).distance(99999) is None


def test_closed_context_refuses_use():
    ctx = pmnode.Context("/", ignore_env=True, no_config=True)
    node = ctx.node(0)
    ctx.close()
    ctx.close()                      # twice is harmless
    assert ctx.closed
    for use in (lambda: ctx.nodes, lambda: ctx.root, lambda: node.kind,
                lambda: node.capacity, lambda: pmnode.Backing(ctx, node=0)):
        with pytest.raises(pmnode.MisuseError) as ei:
            use()
        assert ei.value.code == pmnode.E_DESTROYED


def test_context_from_environment(monkeypatch):
    monkeypatch.setenv("PMNODE_SYSFS_ROOT", fixture_root("gpu-sparse"))
    with pmnode.Context() as ctx:            # pmn_ctx_new: reads the variable
        assert ctx.node_count == 6
    with pmnode.Context(ignore_env=True) as ctx:
        assert ctx.root == "/"
    monkeypatch.setenv("PMNODE_PRIVATE_NODES", "1-x")
    with pytest.raises(pmnode.InvalidArgumentError) as ei:
        pmnode.Context(fixture_root("two-socket-cxl"))
    assert ei.value.code == pmnode.E_CONFIG
    monkeypatch.setenv("PMNODE_PRIVATE_NODES", "1")
    with pmnode.Context(fixture_root("two-socket-cxl")) as ctx:
        assert ctx.node(1).isolation == "config"


def test_bad_roots():
    with pytest.raises(pmnode.NotFoundError) as ei:
        pmnode.Context("/nonexistent/pmnode-root")
    assert ei.value.code == -errno.ENOENT
    with pytest.raises(pmnode.NotFoundError) as ei:
        open_fixture("no-sysfs")
    assert ei.value.code == pmnode.E_NO_NUMA


# ---- every fixture against its golden files ----

def normalise(value, root):
    """Replace the checkout-dependent root as check-fixture.py does."""
    if isinstance(value, str):
        return value.replace(root, "FIXTURE/root")
    if isinstance(value, list):
        return [normalise(v, root) for v in value]
    if isinstance(value, dict):
        return {k: normalise(v, root) for k, v in value.items()}
    return value


def truth_match(want, got):
    if isinstance(want, list) and isinstance(got, list):
        return len(want) == len(got) and all(w == "*" or truth_match(w, g)
                                             for w, g in zip(want, got))
    if isinstance(want, bool) or isinstance(got, bool):
        return type(want) is type(got) and want == got
    return want == got


@pytest.mark.parametrize("name", fixture_names())
def test_fixture_matches_expected_and_truth(name):
    truth = fixture_json(name, "truth") or {}
    expected = fixture_json(name, "expected")
    if truth.get("exit_status", 0) != 0:
        # The CLI refuses such a root with exit status 2: so must we.
        with pytest.raises(pmnode.NotFoundError):
            open_fixture(name)
        return
    with open_fixture(name) as ctx:
        got = normalise(ctx.to_dict(), fixture_root(name))
        problems = ctx.problems
    assert got["root"] == "FIXTURE/root"
    assert got == expected
    assert (truth.get("stderr") != "nonempty") or problems
    if truth.get("stderr") == "empty":
        assert problems == []
    for key, section, field in (("node_ids", "nodes", "id"), ("dax_names", "dax", "name"),
                                ("cxl_names", "cxl", "name")):
        if key in truth:
            assert truth_match(truth[key], [x[field] for x in got[section]]), key
    for section, label in (("nodes", "id"), ("dax", "name"), ("cxl", "name")):
        by = {str(x[label]): x for x in got[section]}
        for ident, fields in truth.get(section, {}).items():
            for field, want in fields.items():
                if not field.startswith("_"):
                    assert truth_match(want, by[ident][field]), (section, ident, field)


# ---- getters and helpers on particular fixtures ----

def test_cpuless_cxl_node_and_its_devices():
    with open_fixture("two-socket-cxl", no_hwloc=True) as ctx:
        n = ctx.node(2)
        assert n.kind == "cxl" and n.cpulist == "" and n.cpu_count == 0
        assert n.tier > ctx.node(0).tier
        assert ctx.node(0).distance(2) > 10 and n.distance(77) is None
        assert n.dax is not None and n.dax.name == "dax0.0"
        assert ctx.nodes_of_kind("cxl") == [2] and ctx.nodes_of_kind("CXL") == [2]
        assert ctx.nodes_of_kind("gpu") == []
        assert ctx.read_free(2) == n.free
        assert ctx.read_available(2) == n.free   # no /proc/zoneinfo in the tree
        assert not ctx.is_local
        (r,) = ctx.cxl_regions
        assert (r.name, r.mode, r.node, r.size) == ("region0", "ram", 2, 64 << 30)
        assert r.targets == ["decoder5.0", "decoder6.0"]
        assert r.dax == n.dax and r.dax.cxl_region == "region0"


def test_hmat_perf_and_ranking():
    with open_fixture("two-socket-cxl") as ctx:
        p = ctx.node(2).perf
        # nodeN/access0/initiators/{read,write}_{bandwidth,latency} of the tree
        assert p == pmnode.Perf(25600, 24000, 255, 270)
        assert ctx.best_node("latency", kind="cxl") == 2
        assert ctx.best_node("bandwidth") in (0, 1)
        assert ctx.best_node("capacity") in (0, 1, 2)
        pools = ctx.node(0).hugepools
        assert pools[0] == pmnode.HugePagePool(2 << 20, 512, 500, 0)
        assert [p.page_size for p in pools] == sorted(p.page_size for p in pools)


def test_memory_side_caches():
    # hbm-cache: HBM as a memory-side cache of each DRAM node (issue 18)
    with open_fixture("hbm-cache") as ctx:
        for nid in (0, 1):
            assert ctx.node(nid).side_caches == [
                pmnode.SideCache(1, 64 << 30, 64, "direct-mapped", "write-back")]
        assert ctx.node(0).hugepools == [pmnode.HugePagePool(2 << 20, 512, 500, 0),
                                         pmnode.HugePagePool(1 << 30, 4, 4, 0)]
    # the same names as `pmnode list --json`
    assert pmnode.SideCache._fields == ("level", "size", "line_size", "indexing",
                                        "write_policy")
    with open_fixture("two-socket-cxl") as ctx:
        assert all(n.side_caches == [] for n in ctx.nodes)


def test_selection_without_data_never_guesses():
    with open_fixture("one-node-dram") as ctx:
        with pytest.raises(pmnode.UnknownValueError) as ei:
            ctx.best_node("bandwidth")
        assert ei.value.code == pmnode.E_UNKNOWN
        assert ctx.best_node("capacity") == 0
        with pytest.raises(pmnode.NotFoundError) as ei:
            ctx.best_node("capacity", private=True)
        assert ei.value.code == pmnode.E_NO_MATCH
        with pytest.raises(pmnode.NotFoundError) as ei:
            ctx.nearest_private_node(0)
        assert ei.value.code == pmnode.E_NO_MATCH
        with pytest.raises(pmnode.InvalidArgumentError):
            ctx.best_node("fastest")
        assert ctx.node(0).perf == pmnode.Perf(None, None, None, None)


def test_private_nodes_param_and_nearest():
    with open_fixture("two-socket-cxl", private_nodes="2", no_hwloc=True) as ctx:
        assert ctx.node(2).is_private and ctx.node(2).isolation == "config"
        assert ctx.node(1).isolation == "none"
        assert ctx.nearest_private_node(0) == 2
        assert ctx.nearest_private_to_cpu(5) == 2
        with pytest.raises(pmnode.NotFoundError) as ei:
            ctx.nearest_private_node(9)
        assert ei.value.code == pmnode.E_NO_NODE
        assert ctx.best_node("capacity", private=True) == 2
    with open_fixture("two-socket-cxl", private_nodes=[1, 2]) as ctx:
        assert [n.id for n in ctx.nodes if n.is_private] == [1, 2]
    with pytest.raises(pmnode.InvalidArgumentError):
        open_fixture("two-socket-cxl", private_nodes="2-")


def test_node_kinds_param():
    with open_fixture("two-socket-cxl", node_kinds={2: "compressed", 1: "hbm"}) as ctx:
        assert ctx.node(2).kind == "compressed" and ctx.node(1).kind == "hbm"
        assert ctx.nodes_of_kind("compressed") == [2]
    for bad in ({1: "ram"}, {-1: "dram"}, {1: 42}):
        with pytest.raises(pmnode.InvalidArgumentError):
            open_fixture("two-socket-cxl", node_kinds=bad)
    with pytest.raises(pmnode.InvalidArgumentError):
        with open_fixture("two-socket-cxl") as ctx:
            ctx.nodes_of_kind("ram")


def test_config_file(tmp_path):
    with open_fixture("admin-config") as ctx:         # ROOT/etc/pmnode.conf
        assert ctx.node(1).isolation == "config" and ctx.node(2).kind == "compressed"
    with open_fixture("admin-config", no_config=True) as ctx:
        assert ctx.node(1).isolation == "none"
    conf = tmp_path / "pmnode.conf"
    conf.write_text("private 2\nkind 2 gpu\n")
    with open_fixture("two-socket-cxl", config=str(conf)) as ctx:
        assert ctx.node(2).is_private and ctx.node(2).kind == "gpu"


def test_sparse_gpu_nodes():
    with open_fixture("gpu-sparse") as ctx:
        assert [n.id for n in ctx.nodes] == [0, 8, 252, 253, 254, 255]
        assert ctx.nodes_of_kind("gpu") == [252, 253, 254, 255]
        assert ctx.node(252).hwloc_subtype == "GPUMemory"
    with open_fixture("gpu-sparse", no_hwloc=True) as ctx:
        assert ctx.node(253).kind == "gpu" and ctx.node(253).hwloc_subtype is None


def test_later_draft_attributes():
    with open_fixture("common-memory") as ctx:
        assert {"common_memory", "user_memory", "mem_features"} <= ctx.abi
        # nodeN/mem_features of the tree: 0x0 0x0 0x3 0x1
        assert [n.mem_features for n in ctx.nodes] == [0, 0, 3, 1]
        assert [n.user_allowed for n in ctx.nodes] == [True, True, True, False]
        assert [n.isolation for n in ctx.nodes] == ["none", "none", "kernel", "kernel"]
        d = ctx.dax("dax2.0")
        assert d.mode == "anondax" and d.mode_class == "other" and d.is_private
    with open_fixture("two-socket-cxl") as ctx:
        assert ctx.node(0).mem_features is None and ctx.node(0).user_allowed is None


def test_cramdax_compressed_node():
    with open_fixture("cramdax") as ctx:
        n = ctx.node(3)
        assert n.kind == "compressed" and n.isolation == "kernel" and n.is_private
        assert n.zratio == pytest.approx(2.5)          # dax0.0/zratio of the tree
        assert ctx.node(0).zratio is None
        assert "cramdax" in ctx.abi
        assert n.dax.mode == "cramdax" and n.dax.cxl_region == "region0"


def test_devdax_and_kmem_devices():
    with open_fixture("devdax-kmem") as ctx:
        d0, d1 = ctx.dax("dax0.0"), ctx.dax("dax1.0")
        assert [d.name for d in ctx.dax_devices] == ["dax0.0", "dax1.0"]
        assert (d0.mode, d0.mode_class, d0.path, d0.is_private, d0.node) == \
            ("devdax", "devdax", "/dev/dax0.0", True, None)
        assert d0.align is not None and d0.align & (d0.align - 1) == 0
        assert (d1.mode_class, d1.node, d1.type) == ("system-ram", 2, "nvm")
        assert ctx.node(2).dax == d1
        with pytest.raises(pmnode.NotFoundError) as ei:
            ctx.dax("dax7.7")
        assert ei.value.code == pmnode.E_NO_DEVICE


def test_v4_private_memory_is_kernel_isolation():
    with open_fixture("v4-private") as ctx:
        assert "private_memory" in ctx.abi
        private = [n for n in ctx.nodes if n.is_private]
        assert private and all(n.isolation == "kernel" for n in private)
        assert not ctx.node(0).is_private


def test_broken_tree_reports_problems():
    with open_fixture("broken") as ctx:
        problems = ctx.problems
        assert problems and all(isinstance(p, str) and p for p in problems)
        assert ctx.node(0).capacity is None and ctx.node(0).free is None
        assert ctx.node(2).tier is None


def test_close_while_other_threads_read():
    ctx = open_fixture("gpu-sparse")
    outcomes, started = [], threading.Barrier(4)

    def reader():
        started.wait()
        try:
            while True:
                for n in ctx.nodes:
                    assert n.kind in pmnode.KINDS and n.distance(0) is not None
        except pmnode.MisuseError as e:
            outcomes.append(e.code)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    started.wait()
    time.sleep(0.05)
    ctx.close()
    for t in threads:
        t.join(timeout=60)
    assert outcomes == [pmnode.E_DESTROYED] * 3
    assert ctx._handle is None


def test_configuration_error_names_file_and_line(tmp_path):
    """A malformed configuration file raises with the library's own words:
    the file, the line and what is wrong (pmn_ctx_params_set_error_buffer)."""
    conf = tmp_path / "pmnode.conf"
    conf.write_text("# comment\nprivat 0\n")
    root = fixture_root("one-node-dram")
    with pytest.raises(pmnode.InvalidArgumentError) as e:
        pmnode.Context(root, config=str(conf))
    assert "%s:2:" % conf in str(e.value)
    assert "privat" in str(e.value)


# ---- device locality and spill lists (0.3) ----

def test_device_locality_on_fixture():
    with open_fixture("two-socket-cxl", private_nodes="2") as ctx:
        assert ctx.device_node("eth0") == 1
        assert ctx.device_node("3b:00.0") == 1
        assert ctx.device_node("eth1") == 0            # through virtio0's PCI function
        assert ctx.device_node("01:00.0") == 0         # -1 on the GPU, its bridge knows
        assert ctx.device_node("/sys/class/net/eth0") == 1
        assert ctx.nearest_node_to_device("eth0") == 1
        assert ctx.nearest_private_to_device("eth0") == 2
        with pytest.raises(pmnode.UnknownValueError):
            ctx.device_node("0000:00:04.0")            # -1 all the way up: no guess
        with pytest.raises(pmnode.UnknownValueError):
            ctx.device_node("lo")
        with pytest.raises(pmnode.NotFoundError) as ei:
            ctx.device_node("nosuch0")
        assert ei.value.code == pmnode.E_NO_DEVICE
        for bad in ("../x", "a/b", "x" * 16, "/etc/passwd", "/sys/../../.."):
            with pytest.raises(pmnode.InvalidArgumentError):
                ctx.device_node(bad)
        devs = ctx.devices
        assert [(d.name, d.type, d.pci, d.node) for d in devs] == [
            ("eth0", "net", "0000:3b:00.0", 1), ("eth1", "net", "0000:00:03.0", 0),
            ("0000:00:04.0", "accel", "0000:00:04.0", None),
            ("0000:01:00.0", "gpu", "0000:01:00.0", 0),
            ("0000:3b:00.1", "nvme", "0000:3b:00.1", 1)]


def test_spill_list_on_fixture():
    with open_fixture("two-socket-cxl") as ctx:
        assert ctx.spill_list(0) == [0, 2, 1]
        assert ctx.spill_list(1) == [1, 0, 2]
        assert ctx.spill_list(2, kinds=["dram"]) == [0, 1]
        with pytest.raises(pmnode.NotFoundError):
            ctx.spill_list(0, private=True)
        with pytest.raises(pmnode.NotFoundError):
            ctx.spill_list(3)
    with open_fixture("two-socket-cxl", private_nodes="1-2") as ctx:
        assert ctx.spill_list(0, private=True) == [2, 1]
    with open_fixture("broken") as ctx:
        with pytest.raises(pmnode.UnknownValueError):
            ctx.spill_list(1)


def test_device_node_on_this_host(host):
    """Every interface backed by a PCI device gets a node on "/" (hwloc
    answers where sysfs says -1), and that node is one of this host's."""
    devs = [d for d in host.devices if d.type == "net" and d.pci]
    if not devs:
        pytest.skip("this host exposes no PCI network interface")
    for d in devs:
        assert host.device_node(d.name) in [n.id for n in host.nodes], d
