"""The compressed tier on this host, with node 0 standing in for the
compressed node (as tests/system/test-ctier-system.c and `pmnode ctier --stand-in` do): the
context declares node 0 "compressed", the tier demotes to node 0 and
promotes to node 0.  Migrations are no-ops, but the estimate, the guard,
write protection (userfaultfd or mprotect), fault handling and the
accounting are real.  Tests skip where the host has no write control."""
import json
import os

import pytest

import pmnode
from conftest import PAGE, fixture_root

PARAGRAPH = (b"Cold data is the part of a working set that nobody has touched for a "
             b"while: yesterday's session records, the tail of a log, the pages of a "
             b"cache whose entries were popular an hour ago. ")


def text_pages(n):
    """n pages of compressible text, each page distinct."""
    out = bytearray()
    for i in range(n):
        page = (b"[page %d] " % i + PARAGRAPH * (PAGE // len(PARAGRAPH) + 1))[:PAGE]
        out += page
    return bytes(out)


@pytest.fixture
def standin():
    try:
        ctx = pmnode.Context("/", node_kinds={0: "compressed"}, ignore_env=True,
                             no_config=True)
    except pmnode.NotFoundError:
        pytest.skip("this host has no NUMA sysfs")
    with ctx:
        assert ctx.node(0).kind == "compressed"
        yield ctx


def open_tier(ctx, **kw):
    kw.setdefault("node", 0)
    kw.setdefault("promote_node", 0)
    try:
        return pmnode.CompressedTier(ctx, **kw)
    except pmnode.NotSupportedError as e:
        if e.code == pmnode.E_NO_WRITE_CONTROL:
            pytest.skip("no write control here (%s)" % e)
        raise


def test_estimate():
    zeros = pmnode.estimate(bytes(64 * PAGE))
    text = pmnode.estimate(text_pages(16))
    noise = pmnode.estimate(os.urandom(16 * PAGE))
    assert zeros > text > 1.5 > noise > 0.5
    assert pmnode.estimate(bytearray(text_pages(16)), samples=4) > 1.5
    with pytest.raises(TypeError):
        pmnode.estimate(0x1000)


@pytest.mark.parametrize("wc", ["auto", "uffd", "mprotect"])
def test_demote_write_promote(standin, wc):
    n = 64
    data = text_pages(n)
    with open_tier(standin, write_control=wc) as tier, \
            pmnode.Backing(standin, node=0) as b, b.map(n * PAGE) as r:
        assert tier.node == 0 and tier.context is standin
        assert tier.write_control in {"auto": ("userfaultfd-wp", "userfaultfd-wp-user",
                                               "mprotect"),
                                      "uffd": ("userfaultfd-wp", "userfaultfd-wp-user"),
                                      "mprotect": ("mprotect",)}[wc]
        r.write(data)
        assert pmnode.estimate(r) > 1.5
        tier.demote(r)
        st = tier.stats()
        assert (st["demotions"], st["demoted_pages"], st["logical_bytes"]) == (1, n, n * PAGE)
        assert 0 < st["physical_bytes"] < st["logical_bytes"]
        assert st["ratio"] == pytest.approx(st["logical_bytes"] / st["physical_bytes"], rel=1e-3)
        assert pmnode.where(r).all_on(0)

        assert r.read() == data                          # reads move nothing
        assert tier.stats()["write_promotions"] == 0
        shadow = bytearray(data)
        mv = r.view
        for i in range(0, n, 8):                         # one write per 8th page
            mv[i * PAGE + 100] = 0x21
            shadow[i * PAGE + 100] = 0x21
        st = tier.stats()
        assert st["write_promotions"] == n // 8
        assert st["logical_bytes"] == (n - n // 8) * PAGE
        assert r.read() == bytes(shadow)

        js = json.loads(tier.stats_json())
        assert {k: v for k, v in js.items() if k != "ratio"} == \
            {k: v for k, v in st.items() if k != "ratio"}
        tier.promote(r)
        st = tier.stats()
        assert st["promotions"] == 1 and st["logical_bytes"] == 0
        mv[0] = 0x22                                     # no longer protected
        assert tier.stats()["write_promotions"] == n // 8
        mv.release()


def test_demote_an_arena_block(standin):
    with open_tier(standin) as tier, pmnode.Backing(standin, node=0) as b, b.arena() as a:
        blk = a.aligned_alloc(PAGE, 8 * PAGE)
        blk.write(text_pages(8))
        tier.demote(blk)
        assert tier.stats()["demoted_pages"] == 8
        blk.view[PAGE] = 0                            # a write brings that page back
        assert tier.stats()["write_promotions"] == 1
        tier.promote(blk)
        blk.free()


def test_guard_refuses(standin):
    with open_tier(standin) as tier, pmnode.Backing(standin, node=0) as b:
        with b.map(16 * PAGE) as r:
            r.write(os.urandom(16 * PAGE))
            with pytest.raises(pmnode.IncompressibleError) as ei:
                tier.demote(r)
            assert ei.value.code == pmnode.E_INCOMPRESSIBLE
            assert tier.stats()["refusals"] == 1 and tier.stats()["demotions"] == 0
            r.write(text_pages(16))
            with pytest.raises(pmnode.InvalidArgumentError):
                tier.demote(r.address + 1, PAGE)             # not page-aligned
            tier.demote(r)
            with pytest.raises(pmnode.BusyError):
                tier.demote(r)                               # already demoted
            tier.promote(r)
    with open_tier(standin, capacity_bytes=16 * PAGE) as small, \
            pmnode.Backing(standin, node=0) as b, b.map(1024 * PAGE) as r:
        r.write(text_pages(1024))
        with pytest.raises(pmnode.OutOfMemoryError) as ei:
            small.demote(r)
        assert ei.value.code == pmnode.E_TIER_FULL
        assert small.stats()["capacity_bytes"] == 16 * PAGE


def test_open_errors(host, standin):
    if not host.nodes_of_kind("compressed"):
        with pytest.raises(pmnode.NotSupportedError) as ei:
            pmnode.CompressedTier(host)
        assert ei.value.code == pmnode.E_NOT_COMPRESSED
    with pytest.raises(pmnode.NotFoundError) as ei:
        pmnode.CompressedTier(standin, node=999)
    assert ei.value.code == pmnode.E_NO_NODE
    with pytest.raises(pmnode.InvalidArgumentError):
        pmnode.CompressedTier(standin, node=0, write_control="magic")
    with pytest.raises(pmnode.InvalidArgumentError):
        pmnode.CompressedTier(standin, node=0, reserve=1.0)
    with pmnode.Context(fixture_root("cramdax"), ignore_env=True) as remote:
        with pytest.raises(pmnode.NotSupportedError) as ei:
            pmnode.CompressedTier(remote)
        assert ei.value.code == pmnode.E_REMOTE_ROOT


def test_closed_tier(standin):
    tier = open_tier(standin)
    tier.close()
    tier.close()
    with pytest.raises(pmnode.MisuseError):
        tier.stats()
    with pytest.raises(pmnode.MisuseError):
        tier.demote(bytearray(PAGE))
