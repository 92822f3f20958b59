"""Shared-memory tensor regions (docs/protocol.md "Shared-memory tensors"): memory this process shares with edged, so
that large tensors (a camera frame) are written once, in place, instead of crossing the socket.

A region is a sealed memfd mapped here and, once registered (``EdgeClient.register_region``), in the daemon. Tensors
in it are named by offset: :class:`RegionTensor` as an ``infer_region`` input, ``outputRegion`` for the outputs.
Linux only (``memfd_create``, ``SCM_RIGHTS``), as edged is.
"""

import fcntl
import mmap
import os
import sys
import threading
from typing import Any, NamedTuple, Optional, Sequence

from .errors import EdgeConnectionError, EdgeError
from .tensors import DTYPES, Tensor, element_count, itemsize, to_wire

try:
    import numpy as _np
except ImportError:  # pragma: no cover - depends on the machine
    _np = None

__all__ = ["SharedRegion", "RegionTensor", "create_memfd", "MAX_NAME_LENGTH"]

#: A region's name is 1 to 64 characters (the daemon's rule).
MAX_NAME_LENGTH = 64

# The fcntl module has these names on Linux since Python 3.8; the numbers are the kernel's, for older builds.
F_ADD_SEALS = getattr(fcntl, "F_ADD_SEALS", 1033)
F_SEAL_SHRINK = getattr(fcntl, "F_SEAL_SHRINK", 2)
F_SEAL_GROW = getattr(fcntl, "F_SEAL_GROW", 4)

# mmap keeps a duplicate of the descriptor (until close) unless told not to, which Python 3.13 can: then the mapping
# is the only thing holding the memory once our descriptor is closed.
_MMAP_OPTIONS = {"trackfd": False} if sys.version_info >= (3, 13) else {}


def create_memfd(name, size):
    # type: (str, int) -> int
    """A new memfd of ``size`` bytes (zeros), sealed against shrinking and growing; returns its descriptor.

    The seals are what make sharing safe: neither side can shrink the memory under the other's mapping (which would
    fault the reader), so the daemon refuses a region without them.
    """
    if not hasattr(os, "memfd_create"):
        raise NotImplementedError("shared-memory regions need Linux (os.memfd_create)")
    # The memfd's own name only shows in /proc/PID/fd and /proc/PID/maps: say whose it is.
    fd = os.memfd_create("edgeruntime:" + name, os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    try:
        os.ftruncate(fd, size)
        fcntl.fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW)
    except BaseException:
        os.close(fd)
        raise
    return fd


class RegionTensor(NamedTuple):
    """An ``infer_region`` input whose bytes are already in the request's region: ``dtype`` and ``shape`` as for any
    input, ``offset`` where its raw little-endian C-order bytes start (a multiple of 8). ``SharedRegion.write``
    returns one."""

    dtype: str
    shape: Sequence[int]
    offset: int

    @property
    def nbytes(self):
        # type: () -> int
        return element_count(self.shape) * itemsize(self.dtype)

    def descriptor(self, name, region):
        # type: (str, str) -> dict
        """The tensor descriptor of ``infer``'s ``inputs`` for this tensor in the region named ``region``."""
        return {"name": name, "dtype": self.dtype, "shape": [int(d) for d in self.shape], "region": region,
                "offset": self.offset, "length": self.nbytes}


class SharedRegion:
    """Memory shared with edged: a sealed memfd of ``size`` bytes, mapped read/write here.

    Get one from ``EdgeClient.register_region(name, size)``; constructing one directly creates the memory without
    registering it. ``buffer`` is a writable memoryview of all of it; :meth:`ndarray` (NumPy) and :meth:`tensor`
    view a tensor in it; :meth:`write` copies a tensor in. :meth:`close` (or leaving the ``with`` block) unregisters
    the region from the daemon if it is still registered, then unmaps it here.

    While a request that uses the region runs, the daemon reads its inputs and writes its outputs: do not change the
    inputs' bytes, or read the outputs', until the answer has arrived (so one request at a time per region range).
    """

    def __init__(self, name, size):
        # type: (str, int) -> None
        if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME_LENGTH or "\0" in name:
            raise ValueError("a region's name is 1 to {} characters (no NUL), got {!r}".format(MAX_NAME_LENGTH, name))
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            raise ValueError("a region's size is a number of bytes > 0, got {!r}".format(size))
        self.name = name
        self.size = size
        # EdgeClient.infer(region=) lays each request out from offset 0, so such calls on one region take turns.
        self._layout_lock = threading.Lock()
        self.fd = create_memfd(name, size)  # type: Optional[int]  # ours until the daemon has its own mapping
        try:
            # MAP_SHARED, read/write (mmap's defaults): the daemon sees what we write, and we what it writes.
            self._mmap = mmap.mmap(self.fd, size, **_MMAP_OPTIONS)
        except BaseException:
            self.close_fd()
            raise
        self._buffer = memoryview(self._mmap)  # type: Optional[memoryview]
        self.client = None  # type: Any  # the EdgeClient it is registered with, while it is

    @property
    def closed(self):
        # type: () -> bool
        return self._buffer is None

    @property
    def registered(self):
        # type: () -> bool
        """Registered with a client whose connection is open (the daemon releases a connection's regions)."""
        return self.client is not None and not self.client.closed

    @property
    def buffer(self):
        # type: () -> memoryview
        """All of the region, as a writable byte memoryview."""
        if self._buffer is None:
            raise ValueError("region {!r} is closed".format(self.name))
        return self._buffer

    def _range(self, offset, length):
        # type: (int, int) -> memoryview
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0 or offset + length > self.size:
            raise ValueError("{} bytes at offset {!r} do not fit in region {!r} of {} bytes".format(
                length, offset, self.name, self.size))
        return self.buffer[offset:offset + length]

    def ndarray(self, dtype, shape, offset=0):
        # type: (Any, Any, int) -> Any
        """A NumPy array viewing ``shape`` elements of ``dtype`` at ``offset``: writing to it writes the region."""
        if _np is None:
            raise ImportError("numpy is not installed (SharedRegion.tensor works without it)")
        dtype = _np.dtype(dtype)
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        if dtype.name not in DTYPES:
            raise ValueError("dtype {} is not one of the protocol's: {}".format(dtype, ", ".join(DTYPES)))
        count = element_count(shape)
        data = self._range(offset, count * dtype.itemsize)
        return _np.frombuffer(data, dtype=dtype.newbyteorder("<"), count=count).reshape(shape)

    def tensor(self, dtype, shape, offset=0):
        # type: (str, Sequence[int], int) -> Tensor
        """A :class:`Tensor` viewing ``shape`` elements of ``dtype`` at ``offset`` (no NumPy needed)."""
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        return Tensor(dtype, shape, self._range(offset, element_count(shape) * itemsize(dtype)))

    def write(self, value, offset=0):
        # type: (Any, int) -> RegionTensor
        """Copies a tensor (a NumPy array, :class:`Tensor` or ``(dtype, shape, data)`` tuple) into the region at
        ``offset``; returns the :class:`RegionTensor` that names it as an ``infer_region`` input."""
        return self._write("tensor", value, offset)

    def _write(self, name, value, offset):
        # type: (str, Any, int) -> RegionTensor
        if isinstance(value, RegionTensor):
            raise TypeError("{!r} is a RegionTensor, already in a region: pass it to infer_region".format(name))
        dtype, shape, data = to_wire(name, value)
        self._range(offset, data.nbytes)[:] = data
        return RegionTensor(dtype, shape, offset)

    def close_fd(self):
        # type: () -> None
        """Closes this process's descriptor of the memory (the mapping stays). Done once the daemon has its own."""
        fd, self.fd = self.fd, None
        if fd is not None:
            os.close(fd)

    def close(self):
        # type: () -> None
        """Unregisters the region (if it is registered and the connection is open), then unmaps it here.

        NumPy arrays and memoryviews still viewing the region stay valid: the mapping then goes with the last of
        them. Safe to call twice."""
        client = self.client
        try:
            if client is not None and not client.closed:
                try:
                    client.unregister_region(self)
                except EdgeConnectionError:
                    pass  # the connection is gone, and the daemon's mapping with it
                except EdgeError as e:
                    if e.code != "unknown_region":  # already released on the daemon's side: nothing to do
                        raise
        finally:
            self.client = None
            self.close_fd()
            buffer, self._buffer = self._buffer, None
            mapping, self._mmap = self._mmap, None
            if mapping is not None:
                try:
                    buffer.release()
                    mapping.close()
                except BufferError:
                    pass  # views of it are alive: unmapping now would leave them dangling, so the last of them will

    def __enter__(self):
        # type: () -> SharedRegion
        return self

    def __exit__(self, *exc_info):
        # type: (Any) -> None
        self.close()

    def __repr__(self):
        return "SharedRegion(name={!r}, size={}, registered={}, closed={})".format(
            self.name, self.size, self.registered, self.closed)
