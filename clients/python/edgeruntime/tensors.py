"""Tensors on the wire: raw little-endian C-order bytes in the frame payload, described in the JSON header as
``{"name", "dtype", "shape", "offset", "length"}`` with every offset a multiple of 8 (docs/protocol.md "Tensors").

NumPy is used when it can be imported: outputs come back as ``numpy.ndarray`` views on the received payload.
Without it (or with ``EDGERUNTIME_NO_NUMPY=1`` in the environment, or ``EdgeClient(use_numpy=False)``) outputs
are :class:`Tensor` objects. Inputs may be NumPy arrays, :class:`Tensor` objects or ``(dtype, shape, data)``
tuples whose data is bytes-like (raw little-endian bytes) or a sequence of numbers.
"""

import array
import os
import struct
import sys
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from .errors import ProtocolError

try:  # NumPy is optional: the client is stdlib-only and merely prefers ndarrays when they are available.
    import numpy as _np
except ImportError:  # pragma: no cover - depends on the machine
    _np = None

__all__ = [
    "ALIGNMENT", "DTYPES", "HAVE_NUMPY", "Tensor", "align_up", "element_count", "itemsize", "numpy_default",
    "pack_tensors", "unpack_tensors", "to_wire",
]

ALIGNMENT = 8

HAVE_NUMPY = _np is not None

# dtype name -> (struct code, element size). Names are NumPy's, as on the wire.
DTYPES = {
    "float32": ("f", 4),
    "float16": ("e", 2),
    "float64": ("d", 8),
    "int8": ("b", 1),
    "uint8": ("B", 1),
    "int16": ("h", 2),
    "uint16": ("H", 2),
    "int32": ("i", 4),
    "uint32": ("I", 4),
    "int64": ("q", 8),
    "uint64": ("Q", 8),
    "bool": ("?", 1),
}

# memoryview.cast() knows every code above except float16 ("e"); for that one Tensor.values decodes with struct.
_MEMORYVIEW_CODES = {name: code for name, (code, _) in DTYPES.items() if code != "e"}

# array.array typecodes whose native layout equals the wire layout on this host (little-endian hosts only): an
# array.array input of such a type is sent as it is instead of being repacked value by value.
_ARRAY_CODES = set()
if sys.byteorder == "little":
    for _dtype, _codes in (("float32", "f"), ("float64", "d"), ("int8", "b"), ("uint8", "B"), ("int16", "h"),
                           ("uint16", "H"), ("int32", "il"), ("uint32", "IL"), ("int64", "ql"), ("uint64", "QL")):
        for _code in _codes:
            if array.array(_code).itemsize == DTYPES[_dtype][1]:
                _ARRAY_CODES.add((_code, _dtype))


def numpy_default():
    # type: () -> bool
    """Whether outputs are NumPy arrays by default: NumPy importable and ``EDGERUNTIME_NO_NUMPY`` unset (or 0)."""
    return HAVE_NUMPY and os.environ.get("EDGERUNTIME_NO_NUMPY", "").strip() in ("", "0")


def resolve_use_numpy(use_numpy):
    # type: (Optional[bool]) -> bool
    if use_numpy is None:
        return numpy_default()
    if use_numpy and not HAVE_NUMPY:
        raise ValueError("use_numpy=True, but numpy cannot be imported")
    return bool(use_numpy)


def align_up(offset, alignment=ALIGNMENT):
    # type: (int, int) -> int
    return (offset + alignment - 1) // alignment * alignment


def itemsize(dtype):
    # type: (str) -> int
    try:
        return DTYPES[dtype][1]
    except KeyError:
        raise ValueError("dtype {!r} is not one of the protocol's: {}".format(dtype, ", ".join(DTYPES)))


def element_count(shape):
    # type: (Sequence[int]) -> int
    """Elements in a tensor of this shape; ``[]`` (a scalar) has one."""
    count = 1
    for dim in shape:
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 0:
            raise ValueError("shape {!r}: every dimension must be an integer >= 0".format(list(shape)))
        count *= dim
    return count


def _nest(flat, shape):
    # type: (List[Any], Sequence[int]) -> Any
    if not shape:
        return flat[0]
    if len(shape) == 1:
        return list(flat)
    step = len(flat) // shape[0] if shape[0] else 0
    return [_nest(flat[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])]


class Tensor:
    """A tensor without NumPy: ``dtype`` (a protocol dtype name), ``shape`` (a tuple) and ``data`` (a read-only or
    writable ``memoryview`` of the raw little-endian bytes, C order).

    ``values`` is a flat memoryview of the elements (a list for float16, which memoryview cannot cast to);
    ``tolist()`` nests them by shape like ``numpy.ndarray.tolist()``; ``item()`` returns the only element.
    A Tensor can be passed straight back as an ``infer`` input (e.g. to carry a model's state).
    """

    __slots__ = ("dtype", "shape", "data")

    def __init__(self, dtype, shape, data):
        # type: (str, Sequence[int], Any) -> None
        size = itemsize(dtype)
        shape = tuple(shape)
        count = element_count(shape)
        view = memoryview(data)
        if not view.c_contiguous:
            raise ValueError("tensor data must be C-contiguous")
        view = view.cast("B") if view.format != "B" or view.ndim != 1 else view
        if view.nbytes != count * size:
            raise ValueError("a {} tensor of shape {} needs {} bytes, got {}".format(
                dtype, list(shape), count * size, view.nbytes))
        self.dtype = dtype
        self.shape = shape
        self.data = view

    @classmethod
    def from_values(cls, dtype, shape, values):
        # type: (str, Sequence[int], Any) -> Tensor
        """Packs numbers (a flat or nested sequence, an array.array, or one number for a one-element shape)."""
        return cls(dtype, shape, _pack_values("tensor", dtype, tuple(shape), values))

    @classmethod
    def zeros(cls, dtype, shape):
        # type: (str, Sequence[int]) -> Tensor
        return cls(dtype, shape, bytearray(element_count(shape) * itemsize(dtype)))

    @property
    def ndim(self):
        # type: () -> int
        return len(self.shape)

    @property
    def size(self):
        # type: () -> int
        return element_count(self.shape)

    @property
    def nbytes(self):
        # type: () -> int
        return self.data.nbytes

    @property
    def values(self):
        # type: () -> Any
        """The elements, flat: a memoryview cast to the element type (a list for float16)."""
        code = _MEMORYVIEW_CODES.get(self.dtype)
        if code is None or sys.byteorder != "little":
            return list(struct.unpack("<{}{}".format(self.size, DTYPES[self.dtype][0]), self.data))
        return self.data.cast(code)

    def tolist(self):
        # type: () -> Any
        """Elements nested by shape; a plain number for a scalar (shape ``()``)."""
        return _nest(list(self.values), self.shape)

    def item(self):
        # type: () -> Any
        if self.size != 1:
            raise ValueError("item() needs a one-element tensor, this one has shape {}".format(list(self.shape)))
        return self.values[0]

    def tobytes(self):
        # type: () -> bytes
        return self.data.tobytes()

    def numpy(self):
        # type: () -> Any
        """A NumPy array sharing this tensor's bytes (requires NumPy)."""
        if _np is None:
            raise ImportError("numpy is not installed")
        return _np.frombuffer(self.data, dtype=_np.dtype(self.dtype).newbyteorder("<")).reshape(self.shape)

    def __eq__(self, other):
        if not isinstance(other, Tensor):
            return NotImplemented
        return self.dtype == other.dtype and self.shape == other.shape and self.data == other.data

    __hash__ = None  # type: ignore  # mutable (the bytes may be writable)

    def __repr__(self):
        shown = self.values
        preview = list(shown[:8])
        more = ", ..." if self.size > 8 else ""
        return "Tensor(dtype={!r}, shape={}, values=[{}{}])".format(
            self.dtype, list(self.shape), ", ".join(repr(v) for v in preview), more)


def _flatten(values):
    # type: (Any) -> List[Any]
    if isinstance(values, (list, tuple)) and values and isinstance(values[0], (list, tuple)):
        flat = []  # type: List[Any]
        for row in values:
            flat.extend(_flatten(row))
        return flat
    return list(values)


def _pack_values(name, dtype, shape, values):
    # type: (str, str, Tuple[int, ...], Any) -> Any
    """Raw little-endian bytes for ``values`` (numbers, or raw bytes already)."""
    code, size = DTYPES.get(dtype, (None, 0))
    if code is None:
        raise ValueError("input {!r}: dtype {!r} is not one of the protocol's: {}".format(name, dtype, ", ".join(DTYPES)))
    count = element_count(shape)
    if isinstance(values, (bytes, bytearray, memoryview)):
        view = memoryview(values)
        if view.format != "B" or view.ndim != 1:
            view = view.cast("B")
        return view
    if isinstance(values, array.array) and (values.typecode, dtype) in _ARRAY_CODES:
        return memoryview(values).cast("B")
    if isinstance(values, (int, float)):  # one number for a scalar or one-element tensor
        values = [values]
    flat = _flatten(values)
    if len(flat) != count:
        raise ValueError("input {!r}: shape {} holds {} elements, {} values were given".format(
            name, list(shape), count, len(flat)))
    try:
        return struct.pack("<{}{}".format(count, code), *flat)
    except struct.error as e:
        raise ValueError("input {!r}: values do not fit {}: {}".format(name, dtype, e))


def to_wire(name, value):
    # type: (str, Any) -> Tuple[str, List[int], memoryview]
    """(dtype, shape, raw bytes as a 1-D byte memoryview) for one input. Accepts a NumPy array, a Tensor, or a
    ``(dtype, shape, data)`` tuple (data: bytes-like raw little-endian bytes, or a sequence of numbers)."""
    if _np is not None and isinstance(value, _np.ndarray):
        dtype = value.dtype.name
        if dtype not in DTYPES:
            raise TypeError("input {!r}: numpy dtype {} is not supported; use one of {}".format(
                name, value.dtype, ", ".join(DTYPES)))
        if value.dtype.byteorder == ">" or (value.dtype.byteorder == "=" and sys.byteorder == "big"):
            value = value.astype(value.dtype.newbyteorder("<"))
        # A C-contiguous array is sent in place (no copy); reshape(-1) also makes a 0-d array viewable as bytes.
        flat = _np.ascontiguousarray(value).reshape(-1)
        return dtype, [int(d) for d in value.shape], memoryview(flat.view(_np.uint8))
    if isinstance(value, Tensor):
        return value.dtype, list(value.shape), value.data
    if isinstance(value, (tuple, list)) and len(value) == 3 and isinstance(value[0], str):
        dtype, shape, data = value
        shape = [int(d) for d in shape] if not isinstance(shape, int) else [shape]
        data = memoryview(_pack_values(name, dtype, tuple(shape), data))
        if data.format != "B" or data.ndim != 1:
            data = data.cast("B")
        expected = element_count(shape) * DTYPES[dtype][1]
        if data.nbytes != expected:
            raise ValueError("input {!r}: a {} tensor of shape {} needs {} bytes, got {}".format(
                name, dtype, shape, expected, data.nbytes))
        return dtype, shape, data
    raise TypeError("input {!r}: expected a numpy array, an edgeruntime.Tensor or a (dtype, shape, data) tuple, "
                    "got {}".format(name, type(value).__name__))


def pack_tensors(inputs):
    # type: (Mapping[str, Any]) -> Tuple[List[Dict[str, Any]], List[Any], int]
    """Lays out named inputs in one payload.

    Returns ``(descriptors, parts, payload_length)``: the JSON descriptors in input order (each offset a multiple
    of 8), the buffers to send end to end (tensor bytes, uncopied, and zero padding between them), and their total
    length. No padding follows the last tensor.
    """
    descriptors = []  # type: List[Dict[str, Any]]
    parts = []  # type: List[Any]
    offset = 0
    for name, value in inputs.items():
        if not isinstance(name, str):
            raise TypeError("input names must be strings, got {!r}".format(name))
        dtype, shape, data = to_wire(name, value)
        aligned = align_up(offset)
        if aligned > offset:
            parts.append(bytes(aligned - offset))
        length = data.nbytes
        descriptors.append({"name": name, "dtype": dtype, "shape": shape, "offset": aligned, "length": length})
        if length:
            parts.append(data)
        offset = aligned + length
    return descriptors, parts, offset


def _bad(message):
    # type: (str) -> ProtocolError
    return ProtocolError("The daemon described a tensor inconsistently: " + message)


def _byte_view(buffer):
    # type: (Any) -> memoryview
    view = memoryview(buffer)
    return view if view.format == "B" and view.ndim == 1 else view.cast("B")


def unpack_tensors(descriptors, payload, use_numpy=None, regions=None, copy_regions=False):
    # type: (Any, Any, Optional[bool], Optional[Mapping[str, Any]], bool) -> Dict[str, Any]
    """name -> tensor for each descriptor, as views on ``payload`` (no copy). NumPy arrays when ``use_numpy``
    (default: :func:`numpy_default`), else :class:`Tensor`. Raises ProtocolError when a descriptor does not fit
    the payload.

    A descriptor with ``"region"`` lies in that shared-memory region instead: ``regions`` maps the names of the
    regions the request used to their buffers. Such tensors are views on the region too, unless ``copy_regions``
    (then they are copies, which the region's next use cannot change)."""
    numpy_out = resolve_use_numpy(use_numpy)
    view = _byte_view(payload)
    if descriptors is None:
        descriptors = []
    if not isinstance(descriptors, list):
        raise _bad("'outputs' is not a list")
    result = {}  # type: Dict[str, Any]
    for d in descriptors:
        if not isinstance(d, dict):
            raise _bad("{!r} is not an object".format(d))
        name, dtype, shape = d.get("name"), d.get("dtype"), d.get("shape")
        offset, length = d.get("offset"), d.get("length")
        if not isinstance(name, str):
            raise _bad("a tensor has no name")
        if dtype not in DTYPES:
            raise _bad("{!r} has unknown dtype {!r}".format(name, dtype))
        if not isinstance(shape, list):
            raise _bad("{!r} has no shape".format(name))
        try:
            count = element_count(shape)
        except ValueError:
            raise _bad("{!r} has shape {!r}".format(name, shape))
        source, where = view, "a payload"
        region = d.get("region")
        if region is not None:
            if not isinstance(region, str) or region not in (regions or {}):
                raise _bad("{!r} lies in region {!r}, which the request did not use".format(name, region))
            source = _byte_view(regions[region])
            where = "region {!r}".format(region)
        if (not isinstance(offset, int) or not isinstance(length, int) or isinstance(offset, bool)
                or offset < 0 or length < 0 or offset + length > source.nbytes):
            raise _bad("{!r} lies at offset {!r}, length {!r} in {} of {} bytes".format(
                name, offset, length, where, source.nbytes))
        if length != count * DTYPES[dtype][1]:
            raise _bad("{!r} is {} {} with shape {}, which needs {} bytes, not {}".format(
                name, count, dtype, shape, count * DTYPES[dtype][1], length))
        data = source[offset:offset + length]
        if region is not None and copy_regions:
            data = memoryview(bytearray(data))
        if numpy_out:
            result[name] = _np.frombuffer(data, dtype=_np.dtype(dtype).newbyteorder("<"), count=count).reshape(shape)
        else:
            result[name] = Tensor(dtype, shape, data)
    return result
