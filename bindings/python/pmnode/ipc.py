"""Sharing memory with other processes (libpmnode 0.4): IPC handles.

An object of an arena or slab over a *shareable* backing
(``Backing(ctx, node=N, shareable=True)``, or ``type="memfd"``), or a whole
region of one, can be handed to another process::

    # the owner
    handle, fd = pmnode.ipc_get(block)        # fd is the backing's: do not close it
    pmnode.ipc_send(sock, handle, fd)         # or pickle.dumps(handle) + socket.send_fds

    # or, for a peer that must only read (it then cannot write the file):
    ro = pmnode.ipc_fd_readonly(fd); pmnode.ipc_send(sock, handle, ro); os.close(ro)

    # the importer
    handle, fd = pmnode.ipc_recv(sock)        # fd is ours to close (None if none came)
    with pmnode.IpcCache() as cache:
        with cache.open(handle, fd) as m:     # maps, checks the generation and the node
            data = m.read()
            assert m.valid()                  # not freed by the owner meanwhile
        os.close(fd)

An :class:`IpcHandle` is the C ``struct pmn_ipc_handle``'s 192 bytes: it
pickles to them and back (``bytes(handle)``, ``IpcHandle(data)``), so it
travels by any means; the file descriptor travels separately, by
``socket.send_fds`` / ``socket.recv_fds`` (Python 3.9+) or
:func:`ipc_send` / :func:`ipc_recv` (one message with both).  Errors:
:class:`StaleHandleError` (the owner freed the object),
:class:`PlacementError` (PMN_E_NODE_CHANGED: a page is not on the handle's
node), :class:`InvalidArgumentError` (PMN_E_BAD_HANDLE: malformed, or the fd
is another file), :class:`NotSupportedError` (PMN_E_NOT_SHAREABLE).
"""
import ctypes
import errno
import threading

from . import errors
from ._lib import LIB, IpcCacheStats, IpcHandleStruct, sized
from .alloc import Block
from .memory import Memory, Region

#: pmn_ipc_open flag: fetch the fd from the owner (pidfd_getfd) when none
#: is given or cached.
FETCH_FD = 0x1
#: IpcHandle.kind: the memory is in the memfd passed with the handle.
KIND_MEMFD = 1
#: IpcHandle.kind: the memory is device-dax /dev/<dax_name>, which the
#: importer opens itself; the fd passed holds the generation table only.
KIND_DAX = 2


def _fileno(sock):
    return sock if isinstance(sock, int) else sock.fileno()


class IpcHandle:
    """A handle to exported memory: the 192 bytes of ``struct pmn_ipc_handle``.

    ``IpcHandle(data)`` takes the bytes (from ``bytes(handle)``, a pickle,
    a socket); the fields are read-only attributes.  Immutable, hashable,
    comparable.  The importer's library checks every field, so bytes from
    anywhere are safe to try.
    """

    SIZE = ctypes.sizeof(IpcHandleStruct)
    __slots__ = ("_raw",)

    def __init__(self, data):
        raw = bytes(data)
        if len(raw) != self.SIZE:
            raise ValueError("IpcHandle: %d bytes, want %d" % (len(raw), self.SIZE))
        self._raw = raw

    def __bytes__(self):
        return self._raw

    def __reduce__(self):
        return (IpcHandle, (self._raw,))

    def __eq__(self, other):
        return isinstance(other, IpcHandle) and other._raw == self._raw

    def __hash__(self):
        return hash(self._raw)

    def _struct(self):
        return IpcHandleStruct.from_buffer_copy(self._raw)

    def __getattr__(self, name):
        if name.startswith("_") or name not in dict(IpcHandleStruct._fields_):
            raise AttributeError(name)
        v = getattr(self._struct(), name)
        if name == "dax_name":  # a c_char array reads as bytes up to the NUL
            return v.decode("ascii", "replace")
        return bytes(v) if name == "reserved" else v

    def __repr__(self):
        s = self._struct()
        return ("<pmnode.IpcHandle %d bytes on node %d, backing %#x, slot %d gen %d, owner %d>"
                % (s.object_len, s.node, s.backing_id, s.slot, s.gen, s.owner_pid))


def ipc_get(obj):
    """Export a :class:`Block` (of an arena or slab) or a whole :class:`Region`.

    Returns ``(IpcHandle, fd)``; ``fd`` is the backing's file, BORROWED: the
    backing owns it (do not close it; ``os.dup`` it to keep it).  Raises
    :class:`NotSupportedError` for a backing that is not shareable,
    :class:`MisuseError` for a freed block, ``OSError`` (ENOSPC) when the
    backing's generation table is full.
    """
    st = IpcHandleStruct()
    fd = ctypes.c_int(-1)
    if isinstance(obj, Block):
        what = "ipc_get"
        with obj.owner._gate.use(what):
            obj._check_alive(what)
            errors.check(LIB.pmn_ipc_get(obj.address, ctypes.byref(st), ctypes.byref(fd)),
                         "pmn_ipc_get")
    elif isinstance(obj, Region):
        with obj._use("ipc_get") as h:
            errors.check(LIB.pmn_ipc_get_region(h, ctypes.byref(st), ctypes.byref(fd)),
                         "pmn_ipc_get_region")
    else:
        raise TypeError("ipc_get: expected a pmnode.Block or Region, got %s"
                        % type(obj).__name__)
    return IpcHandle(bytes(st)), fd.value


def ipc_fd_readonly(fd):
    """A read-only descriptor of the backing's file ``fd`` (from
    :func:`ipc_get`), to send instead of it to a peer that must only read.

    Returns a new descriptor, ours to close (close-on-exec).  Its holder can
    read the whole file but write none of it; the importer's
    :meth:`IpcCache.open` maps it read-only.  Sets the file's mode to 0600
    (so that a peer of another user cannot reopen it writable through
    /proc).  Raises ``InvalidArgumentError`` for a file that is not one of
    libpmnode's.  pmn_ipc(3), "Read-only peers".
    """
    out = ctypes.c_int(-1)
    errors.check(LIB.pmn_ipc_fd_readonly(fd, ctypes.byref(out)), "pmn_ipc_fd_readonly")
    return out.value


def ipc_send(sock, handle, fd=None):
    """Send ``handle`` and ``fd`` (None: the handle alone) as one message on a
    connected UNIX socket (a ``socket.socket`` or a descriptor number)."""
    st = handle._struct()
    errors.check(LIB.pmn_ipc_send(_fileno(sock), ctypes.byref(st), -1 if fd is None else fd),
                 "pmn_ipc_send")


def ipc_recv(sock):
    """Receive one message :func:`ipc_send` (or ``pmn_ipc_send``) sent.

    Returns ``(IpcHandle, fd)`` with ``fd`` the received descriptor (ours to
    close; close-on-exec) or None; returns None when the peer closed the
    socket.  A malformed message raises ``Error`` (EBADMSG) and closes any
    descriptor that came with it.
    """
    st = IpcHandleStruct()
    fd = ctypes.c_int(-1)
    rc = LIB.pmn_ipc_recv(_fileno(sock), ctypes.byref(st), ctypes.byref(fd))
    if rc == -errno.ECONNRESET:
        return None
    errors.check(rc, "pmn_ipc_recv")
    return IpcHandle(bytes(st)), (None if fd.value < 0 else fd.value)


class IpcMapping(Memory):
    """An opened handle: the object's bytes in this process.

    ``view`` gives writable memoryviews (released on close), ``read`` and
    ``write`` copy; :meth:`valid` asks whether the owner still has the
    object.  Opened with a read-only descriptor (:func:`ipc_fd_readonly`)
    it is mapped read-only: ``writable`` is False, views are read-only and
    ``write`` raises ``TypeError``.  Close it (or use it as a context
    manager); the last mapping of a region unmaps it.
    """

    def __init__(self, cache, addr, handle, writable=True):
        self._cache = cache
        self._handle = handle
        self._open = True
        self._init_memory(addr, handle.object_len, cache._lock)
        self._readonly = not writable

    @property
    def writable(self):
        """False when the region is mapped read-only (pmn_ipc_writable)."""
        return not self._readonly

    @property
    def handle(self):
        """The :class:`IpcHandle` this was opened from."""
        return self._handle

    def valid(self):
        """True while the owner has not freed the object (pmn_ipc_valid)."""
        with self._lock:
            if not self._open:
                return False
            return LIB.pmn_ipc_valid(self._cache._handle, self._addr) == 0

    def close(self):
        """Close (BufferError while a view is still exported); idempotent."""
        with self._lock:
            if not self._open:
                return
            self._revoke("IpcMapping.close")
            self._open = False
            self._cache._mappings.discard(self)
            rc = LIB.pmn_ipc_close(self._cache._handle, self._addr)
            self._kill("the mapping is closed")
            errors.check(rc, "pmn_ipc_close")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return "<pmnode.IpcMapping %d bytes at %#x%s>" % (
            self._size, self._addr, "" if self._open else " (closed)")


class IpcCache:
    """An importer's cache of opened handles (``struct pmn_ipc_cache``).

    It maps each region of an owner's file once, however many objects of it
    are open, and keeps one descriptor per owner's backing.  Thread-safe.
    ``close()`` (or leaving the ``with`` block) closes every mapping still
    open and frees the cache.
    """

    def __init__(self):
        h = ctypes.c_void_p()
        errors.check(LIB.pmn_ipc_cache_new(ctypes.byref(h)), "pmn_ipc_cache_new")
        self._handle = h.value
        self._lock = threading.RLock()
        self._mappings = set()

    def _live(self, what):
        if self._handle is None:
            raise errors.closed(what, "the IPC cache is closed")
        return self._handle

    def open(self, handle, fd=None, fetch=False):
        """Open ``handle`` (an :class:`IpcHandle` or its bytes).

        ``fd``: the owner's file as received (the cache keeps its own
        duplicate: close yours when you like), or None for the one the
        cache holds for that backing; ``fetch=True`` lets the library fetch
        it from the owner by pidfd_getfd (same user and ptrace permission).
        Returns an :class:`IpcMapping`.
        """
        if not isinstance(handle, IpcHandle):
            handle = IpcHandle(handle)
        st = handle._struct()
        addr = ctypes.c_void_p()
        with self._lock:
            c = self._live("IpcCache.open")
            errors.check(LIB.pmn_ipc_open(c, ctypes.byref(st), -1 if fd is None else fd,
                                          FETCH_FD if fetch else 0, ctypes.byref(addr)),
                         "pmn_ipc_open")
            m = IpcMapping(self, addr.value, handle,
                           writable=LIB.pmn_ipc_writable(c, addr.value) == 1)
            self._mappings.add(m)
            return m

    def stats(self):
        """The cache's counters as a dict (opens, closes, maps, unmaps,
        failures, fetched, backings, mapped)."""
        st = sized(IpcCacheStats)
        with self._lock:
            errors.check(LIB.pmn_ipc_cache_stats(self._live("IpcCache.stats"),
                                                 ctypes.byref(st)), "pmn_ipc_cache_stats")
        return {name: getattr(st, name) for name, _ in IpcCacheStats._fields_
                if name != "struct_size"}

    def close(self):
        """Close every mapping still open, then free the cache; idempotent."""
        with self._lock:
            if self._handle is None:
                return
            for m in list(self._mappings):
                m.close()
            LIB.pmn_ipc_cache_free(self._handle)
            self._handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            if getattr(self, "_handle", None) is not None and not self._mappings:
                self.close()
        except Exception:
            pass
