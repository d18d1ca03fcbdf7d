"""Lifetimes of the C objects behind the Python ones.

Every Python object that owns a C handle (context, backing, region, arena,
slab, compressed tier) derives from :class:`Owned`.  The rules:

* A child (a backing of a context, an arena of a backing...) holds its
  parent, so the parent stays alive as long as the child is referenced.
* ``close()`` stops the object from being used, immediately.  Its C handle
  is released once it is closed *and* every child has released its own:
  closing a backing while an arena over it is still open is allowed, the C
  backing is freed when that arena closes.  The C library requires exactly
  this order (``pmn_backing_free`` after ``pmn_arena_destroy``), and it
  holds whatever order the garbage collector finalises objects in.
* Finalisation (``__del__``) closes what the program forgot to close.

Each owner has a :class:`Gate`: any number of threads use the C object
concurrently (``with self._use(what) as handle:``), and ``close()`` (or an
arena's reset) waits for them to leave and keeps new ones out, so no C call
ever runs on a handle being freed.
"""
import threading
import warnings

from . import errors

# Guards every parent/child count; held only for bookkeeping, never across
# a C call that can block.
_TREE_LOCK = threading.RLock()


class Gate:
    """Concurrent users of a C object, and exclusive operations on it.

    ``with gate.use(what, value) as value:`` enters as one of many users
    (raises the MisuseError for a closed object).  ``with
    gate.exclusive(what):`` waits until no user is inside and keeps new
    users waiting until it leaves (new users do not starve it);
    ``gate.shut()`` does the same and closes the gate for good.
    """

    def __init__(self, kind):
        self._kind = kind
        self.cond = threading.Condition(threading.RLock())
        self._users = 0
        self._exclusive = 0     # exclusive operations waiting or running
        self.closed = False

    def _closed_error(self, what):
        return errors.closed(what, "the %s is closed" % self._kind)

    def use(self, what, value=None):
        return _Use(self, what, value)

    def exclusive(self, what):
        return _Exclusive(self, what)

    def shut(self):
        """Wait for the users to leave and close; False if already closed."""
        with self.cond:
            if self.closed:
                return False
            with self.exclusive("close"):
                self.closed = True
            return True


class _Use:
    __slots__ = ("gate", "what", "value")

    def __init__(self, gate, what, value):
        self.gate = gate
        self.what = what
        self.value = value

    def __enter__(self):
        g = self.gate
        with g.cond:
            g.cond.wait_for(lambda: g.closed or not g._exclusive)
            if g.closed:
                raise g._closed_error(self.what)
            g._users += 1
        return self.value

    def __exit__(self, *exc):
        g = self.gate
        with g.cond:
            g._users -= 1
            if g._users == 0:
                g.cond.notify_all()


class _Exclusive:
    """Holds the gate's lock from entry to exit (so nested calls from the
    same thread still work, and nobody else enters)."""

    __slots__ = ("gate", "what")

    def __init__(self, gate, what):
        self.gate = gate
        self.what = what

    def __enter__(self):
        g = self.gate
        g.cond.acquire()
        if g.closed:
            g.cond.release()
            raise g._closed_error(self.what)
        g._exclusive += 1
        try:
            g.cond.wait_for(lambda: g._users == 0)
        except BaseException:
            self.__exit__()
            raise

    def __exit__(self, *exc):
        g = self.gate
        g._exclusive -= 1
        g.cond.notify_all()
        g.cond.release()


class Owned:
    """Base of every object that owns one C handle (see the module notes).

    Subclasses call ``self._attach(parent)`` before creating the C object,
    set ``self._handle`` after, and implement ``_release_handle(handle)``
    (free the C object); ``_before_close()`` shuts the gate, and may be
    extended (revoke memory views; raise to refuse).
    """

    _handle = None
    _gate = None
    _parent = None
    _closed = True        # until __init__ succeeds
    _children = 0
    _kind = "object"

    def _attach(self, parent):
        """Become a child of ``parent`` (which must be open)."""
        self._gate = Gate(self._kind)
        with _TREE_LOCK:
            if parent is not None:
                if parent._closed:
                    raise errors.closed("%s()" % type(self).__name__,
                                        "the %s is closed" % parent._kind)
                parent._children += 1
            self._parent = parent
            self._closed = False

    def _detach_failed(self):
        """Undo _attach() when creating the C object failed."""
        with _TREE_LOCK:
            self._closed = True
            parent, self._parent = self._parent, None
            if parent is not None:
                parent._children -= 1
        if parent is not None:
            parent._release_if_done()

    @property
    def closed(self):
        """True once close() was called."""
        return self._closed

    def _use(self, what):
        """``with self._use(what) as handle:`` a C call on the open object."""
        if self._gate is None:
            raise errors.closed(what, "the %s is closed" % self._kind)
        return self._gate.use(what, self._handle)

    def _before_close(self):
        self._gate.shut()

    def close(self):
        """Close the object: no more use through it; the C object is
        released as soon as nothing made from it is still open.  Closing
        twice is harmless."""
        if self._closed:
            return
        self._before_close()
        with _TREE_LOCK:
            if self._closed:
                return
            self._closed = True
        self._release_if_done()

    def _release_if_done(self):
        with _TREE_LOCK:
            if not self._closed or self._children or self._handle is None:
                return
            handle, self._handle = self._handle, None
            parent = self._parent
        try:
            self._release_handle(handle)
        finally:
            if parent is not None:
                with _TREE_LOCK:
                    parent._children -= 1
                parent._release_if_done()

    def _release_handle(self, handle):
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        if self._closed and self._handle is None:
            return
        try:
            self.close()
        except BufferError:
            # A view of the memory is still exported from an object that is
            # itself garbage; leaking the C object is safe, freeing it not.
            warnings.warn("pmnode: %s not released: its memory is still exported"
                          % self._kind, ResourceWarning, stacklevel=1)
        except Exception:
            pass
