"""Sharing with other processes (issue 15): IpcHandle, IpcCache, ipc_get/send/recv.

Node 0 of this host; the second process is a fresh Python (subprocess) that
gets the handle as pickled bytes and the fd by socket.send_fds.
"""
import os
import pickle
import socket
import subprocess
import sys

import pytest

import pmnode
from conftest import MiB


@pytest.fixture
def shared(host):
    """An arena over a shareable backing on node 0."""
    with pmnode.Backing(host, node=0, shareable=True) as b, pmnode.Arena(b) as a:
        yield a


def test_handle_pickles_to_its_bytes():
    raw = bytes(range(192))
    h = pmnode.IpcHandle(raw)
    assert bytes(h) == raw and pmnode.IpcHandle.SIZE == 192
    back = pickle.loads(pickle.dumps(h))
    assert back == h and bytes(back) == raw and hash(back) == hash(h)
    assert h.magic == int.from_bytes(raw[:4], sys.byteorder)
    with pytest.raises(ValueError):
        pmnode.IpcHandle(raw[:-1])


def test_export_open_in_this_process(shared):
    blk = shared.malloc(5000)
    blk.write(bytes(i % 251 for i in range(5000)))
    other = shared.malloc(300)
    other.write(b"\x5a" * 300)
    h, fd = pmnode.ipc_get(blk)
    h2, fd2 = pmnode.ipc_get(other)
    assert fd >= 0 and fd2 == fd and h.node == 0 and h.object_len >= 5000
    assert pmnode.ipc_get(blk)[0] == h                  # the same slot and generation
    with pmnode.IpcCache() as cache:
        with cache.open(h, fd) as m, cache.open(bytes(h2)) as m2:
            assert m.read(5000) == blk.read(5000) and m2.read(300) == b"\x5a" * 300
            assert m.address != blk.address and pmnode.where(m, 5000).all_on(0)
            m.write(b"zz", 10)                           # the same pages
            assert blk.read(2, 10) == b"zz"
            assert m.valid() and m2.valid()
            st = cache.stats()
            assert st["opens"] == 2 and st["maps"] == 1 and st["mapped"] == 1
            view = m.view
        with pytest.raises(ValueError):                  # released by the close
            view[0]
        assert cache.stats()["closes"] == 2 and cache.stats()["mapped"] == 0
        blk.free()                                       # the handle goes stale
        with pytest.raises(pmnode.StaleHandleError) as e:
            cache.open(h)
        assert e.value.code == pmnode.E_STALE_HANDLE


def test_read_only_descriptor_maps_read_only(shared, tmp_path):
    import fcntl
    blk = shared.malloc(4096)
    blk.write(b"\x11" * 4096)
    h, fd = pmnode.ipc_get(blk)
    ro = pmnode.ipc_fd_readonly(fd)
    try:
        assert ro != fd and fcntl.fcntl(ro, fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDONLY
        assert os.fstat(fd).st_mode & 0o7777 == 0o600
        with pmnode.IpcCache() as cache:
            with cache.open(h, ro) as m:
                assert not m.writable and m.read(16) == b"\x11" * 16
                with pytest.raises(TypeError):          # not a SIGSEGV
                    m.write(b"x")
                with m.view as v:
                    assert v.readonly
        with pmnode.IpcCache() as cache:                # the backing's own fd: writable
            with cache.open(h, fd) as m:
                assert m.writable
                m.write(b"y")
        assert blk.read(1) == b"y"
    finally:
        os.close(ro)
    f = tmp_path / "plain"
    f.write_bytes(b"x")
    with open(f, "rb") as plain, pytest.raises(pmnode.InvalidArgumentError):
        pmnode.ipc_fd_readonly(plain.fileno())          # not one of libpmnode's files


def test_not_shareable_backing_is_refused(arena):
    blk = arena.malloc(64)
    with pytest.raises(pmnode.NotSupportedError) as e:
        pmnode.ipc_get(blk)
    assert e.value.code == pmnode.E_NOT_SHAREABLE


def test_send_recv_and_end_of_stream(shared):
    blk = shared.malloc(100)
    h, fd = pmnode.ipc_get(blk)
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    with a, b:
        pmnode.ipc_send(a, h, fd)
        pmnode.ipc_send(a.fileno(), h)
        got, rfd = pmnode.ipc_recv(b)
        assert got == h and rfd is not None and rfd != fd
        assert os.fstat(rfd).st_ino == os.fstat(fd).st_ino
        os.close(rfd)
        got, rfd = pmnode.ipc_recv(b)
        assert got == h and rfd is None
        a.close()
        assert pmnode.ipc_recv(b) is None


CHILD = r"""
import os, pickle, socket, sys
import pmnode
s = socket.socket(fileno=int(sys.argv[1]))
data, fds, _, _ = socket.recv_fds(s, 4096, 1)
h = pickle.loads(data)
with pmnode.IpcCache() as cache, cache.open(h, fds[0]) as m:
    os.close(fds[0])
    assert pmnode.where(m, h.object_len).all_on(h.node), "pages off the handle's node"
    text = m.read(11)
    m.write(b"from child")
    s.sendall(b"%d %s %d" % (h.node, text, int(m.valid())))
"""


def test_another_process_reads_and_writes(shared):
    if not hasattr(socket, "send_fds"):
        pytest.skip("socket.send_fds needs Python 3.9")
    blk = shared.malloc(MiB)
    blk.write(b"from parent")
    h, fd = pmnode.ipc_get(blk)
    a, b = socket.socketpair()
    with a:
        p = subprocess.Popen([sys.executable, "-c", CHILD, str(b.fileno())],
                             pass_fds=[b.fileno()])
        b.close()
        socket.send_fds(a, [pickle.dumps(h)], [fd])
        reply = a.recv(100)
        assert p.wait(timeout=60) == 0
    assert reply == b"0 from parent 1"
    assert blk.read(10) == b"from child"


def test_dax_handle_fields_and_checks(shared):
    """Device-dax handles (0.4): kind, device name and st_rdev read back; a
    forged name is refused before anything is opened."""
    blk = shared.malloc(64)
    h, fd = pmnode.ipc_get(blk)
    assert h.kind == pmnode.KIND_MEMFD and h.dax_name == "" and h.dax_rdev == 0
    raw = bytearray(bytes(h))
    raw[4 + 2:4 + 4] = pmnode.KIND_DAX.to_bytes(2, sys.byteorder)
    raw[104:112] = (0x1234).to_bytes(8, sys.byteorder)
    raw[112:144] = b"dax0.0".ljust(32, b"\0")
    d = pmnode.IpcHandle(bytes(raw))
    assert d.kind == pmnode.KIND_DAX and d.dax_name == "dax0.0" and d.dax_rdev == 0x1234
    assert len(d.reserved) == 48
    raw[112:144] = b"../null".ljust(32, b"\0")
    with pmnode.IpcCache() as cache:
        with pytest.raises(pmnode.InvalidArgumentError) as e:
            cache.open(pmnode.IpcHandle(bytes(raw)), fd)
        assert e.value.code == pmnode.E_BAD_HANDLE
        raw[112:144] = b"pmnode-no-such-dax0.0".ljust(32, b"\0")   # '-' is not allowed either
        with pytest.raises(pmnode.InvalidArgumentError):
            cache.open(pmnode.IpcHandle(bytes(raw)), fd)
        raw[112:144] = b"pmnode_no_such_dax0.0".ljust(32, b"\0")
        with pytest.raises(pmnode.NotFoundError):              # /dev/<name> is not there
            cache.open(pmnode.IpcHandle(bytes(raw)), fd)
        assert cache.stats()["backings"] == 0 and cache.stats()["mapped"] == 0
