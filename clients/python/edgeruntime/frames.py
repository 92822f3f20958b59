"""Frame encoding and decoding for the edged socket protocol, version 1 (docs/protocol.md). Pure: no I/O.

A frame is a fixed 24-byte header, a UTF-8 JSON header and a payload of raw bytes::

    magic "EDGR" | version u8 | type u8 | flags u16 | request id u64 | JSON length u32 | payload length u32

All integers little-endian.
"""

import json
import struct
from typing import Any, Iterable, Iterator, List, NamedTuple, Optional, Sequence, Union

from .errors import EdgeError, ProtocolError

__all__ = [
    "MAGIC", "VERSION", "HEADER_SIZE", "MAX_LENGTH", "FLAG_RESPONSE", "FLAG_ERROR", "MessageType",
    "FrameHeader", "Frame", "FrameDecoder",
    "encode_json", "encode_header", "encode_frame", "encode_frame_parts", "decode_header", "decode_frame",
    "try_decode_frame",
]

MAGIC = b"EDGR"
VERSION = 1
HEADER_SIZE = 24

#: A length field above 2^31 - 1 marks a malformed stream: no frame is that large (the daemon's rule too).
MAX_LENGTH = 2 ** 31 - 1

FLAG_RESPONSE = 0x1
FLAG_ERROR = 0x2

_HEADER = struct.Struct("<4sBBHQII")

BytesLike = Union[bytes, bytearray, memoryview]


class MessageType:
    """Message type numbers (the header's type byte). A response carries its request's type."""

    HELLO = 1
    MODELS = 2
    LOAD = 3
    UNLOAD = 4
    INFO = 5
    INFER = 6
    STATS = 7
    HEALTH = 8
    SUBSCRIBE = 9
    EVENT = 10
    UNSUBSCRIBE = 11
    INJECT = 12
    PIPELINES = 13
    PIPELINE_LOAD = 14
    PIPELINE_RUN = 15
    GENERATE = 16
    TOKEN = 17
    CANCEL = 18
    REGION_REGISTER = 19
    REGION_UNREGISTER = 20

    _NAMES = {
        1: "hello", 2: "models", 3: "load", 4: "unload", 5: "info", 6: "infer", 7: "stats", 8: "health",
        9: "subscribe", 10: "event", 11: "unsubscribe", 12: "inject", 13: "pipelines", 14: "pipeline-load",
        15: "pipeline-run", 16: "generate", 17: "token", 18: "cancel", 19: "region-register", 20: "region-unregister",
    }

    @classmethod
    def name(cls, message_type):
        # type: (int) -> str
        return cls._NAMES.get(message_type, "type {}".format(message_type))


class FrameHeader(NamedTuple):
    """The fixed 24-byte header, decoded."""

    type: int
    flags: int
    request_id: int
    json_length: int
    payload_length: int

    @property
    def frame_length(self):
        # type: () -> int
        return HEADER_SIZE + self.json_length + self.payload_length

    @property
    def is_response(self):
        # type: () -> bool
        return bool(self.flags & FLAG_RESPONSE)

    @property
    def is_error(self):
        # type: () -> bool
        return bool(self.flags & FLAG_ERROR)


class Frame(NamedTuple):
    """One whole frame. ``json`` holds the raw JSON header bytes; ``payload`` the raw payload (a bytearray the
    receiver owns, so tensors decoded from it can be used, and written, in place)."""

    header: FrameHeader
    json: bytes
    payload: bytearray

    @property
    def type(self):
        # type: () -> int
        return self.header.type

    @property
    def flags(self):
        # type: () -> int
        return self.header.flags

    @property
    def request_id(self):
        # type: () -> int
        return self.header.request_id

    @property
    def is_error(self):
        # type: () -> bool
        return self.header.is_error

    def json_object(self):
        # type: () -> Any
        """The JSON header parsed; ``{}`` when it is empty. Raises ProtocolError when it is not JSON."""
        if not self.json:
            return {}
        try:
            return json.loads(self.json.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise ProtocolError("The JSON header of a {} frame is not valid UTF-8 JSON: {}".format(
                MessageType.name(self.type), e))

    def error(self):
        # type: () -> EdgeError
        """For a frame flagged error: the EdgeError it carries (``{"code":..., "message":...}``)."""
        body = self.json_object()
        if not isinstance(body, dict):
            body = {}
        return EdgeError(str(body.get("code") or "internal"), str(body.get("message") or "(no message)"))


def encode_json(obj):
    # type: (Any) -> bytes
    """Compact UTF-8 JSON, keys in the order given: the same bytes as the C# client writes."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def encode_header(message_type, request_id, json_length, payload_length, flags=0):
    # type: (int, int, int, int, int) -> bytes
    if not 0 <= message_type <= 0xFF:
        raise ValueError("message type {} does not fit in a byte".format(message_type))
    if not 0 <= request_id < 2 ** 64:
        raise ValueError("request id {} does not fit in 64 bits".format(request_id))
    if not 0 <= json_length <= MAX_LENGTH or not 0 <= payload_length <= MAX_LENGTH:
        raise ValueError("a frame's JSON and payload must each be under 2 GiB")
    return _HEADER.pack(MAGIC, VERSION, message_type, flags, request_id, json_length, payload_length)


def _json_bytes(header):
    # type: (Any) -> bytes
    if header is None:
        return b""
    if isinstance(header, (bytes, bytearray, memoryview)):
        return bytes(header)
    return encode_json(header)


def encode_frame_parts(message_type, request_id, header=None, payload_parts=(), flags=0):
    # type: (int, int, Any, Sequence[BytesLike], int) -> List[BytesLike]
    """A frame as a list of buffers (header + JSON first, then the payload parts as given, uncopied), for a
    scatter send. ``header`` is a JSON-serialisable object, raw JSON bytes, or None for an empty JSON header."""
    body = _json_bytes(header)
    payload_length = sum(memoryview(p).nbytes for p in payload_parts)
    first = encode_header(message_type, request_id, len(body), payload_length, flags) + body
    return [first] + [p for p in payload_parts if memoryview(p).nbytes]


def encode_frame(message_type, request_id, header=None, payload=b"", flags=0):
    # type: (int, int, Any, Union[BytesLike, Sequence[BytesLike]], int) -> bytes
    """A whole frame as one bytes object. ``payload`` is one buffer or a list of buffers laid end to end."""
    parts = [payload] if isinstance(payload, (bytes, bytearray, memoryview)) else list(payload)
    return b"".join(encode_frame_parts(message_type, request_id, header, parts, flags))


def decode_header(data):
    # type: (BytesLike) -> FrameHeader
    """Decodes the fixed header from the first 24 bytes of ``data``.

    Raises ProtocolError for bytes that are not a frame: bad magic, a version other than 1 (code
    ``unsupported_version``) or a length field above 2^31 - 1. After any of these the stream cannot be
    resynchronised. Raises ValueError when fewer than 24 bytes are given.
    """
    if len(data) < HEADER_SIZE:
        raise ValueError("a frame header needs {} bytes, got {}".format(HEADER_SIZE, len(data)))
    magic, version, message_type, flags, request_id, json_length, payload_length = _HEADER.unpack_from(data, 0)
    if magic != MAGIC:
        raise ProtocolError("Bad magic {!r}: the bytes are not an edged frame (expected {!r}).".format(
            bytes(magic), MAGIC))
    if version != VERSION:
        raise ProtocolError("Frame version {} is not spoken by this client (it speaks {}).".format(version, VERSION),
                            code="unsupported_version")
    if json_length > MAX_LENGTH or payload_length > MAX_LENGTH:
        raise ProtocolError("Frame length fields {} + {} are above 2^31 - 1: the stream is malformed.".format(
            json_length, payload_length))
    return FrameHeader(message_type, flags, request_id, json_length, payload_length)


def try_decode_frame(data, offset=0):
    # type: (BytesLike, int) -> Optional[Frame]
    """The frame starting at ``offset``, or None when ``data`` does not hold all of it yet.
    Raises ProtocolError as decode_header does."""
    if len(data) - offset < HEADER_SIZE:
        return None
    view = memoryview(data)
    header = decode_header(view[offset:offset + HEADER_SIZE])
    if len(data) - offset < header.frame_length:
        return None
    json_start = offset + HEADER_SIZE
    payload_start = json_start + header.json_length
    return Frame(header, bytes(view[json_start:payload_start]),
                 bytearray(view[payload_start:payload_start + header.payload_length]))


def decode_frame(data):
    # type: (BytesLike) -> Frame
    """Decodes exactly one whole frame. Raises ProtocolError when ``data`` is truncated, has bytes left over, or is
    not a frame."""
    frame = try_decode_frame(data)
    if frame is None:
        if len(data) < HEADER_SIZE:
            raise ProtocolError("Truncated frame: {} bytes, the header alone needs {}.".format(len(data), HEADER_SIZE))
        header = decode_header(data)
        raise ProtocolError("Truncated frame: {} bytes of {}.".format(len(data), header.frame_length))
    if frame.header.frame_length != len(data):
        raise ProtocolError("{} bytes follow the frame.".format(len(data) - frame.header.frame_length))
    return frame


class FrameDecoder:
    """Incremental decoder for a byte stream: feed() what the socket gave, then take whole frames.

    >>> decoder = FrameDecoder()
    >>> decoder.feed(chunk)
    >>> for frame in decoder: ...

    Bytes are kept until a whole frame is there; a frame split across any number of reads comes out once.
    After a ProtocolError the decoder is broken for good (the stream cannot be resynchronised).
    """

    def __init__(self):
        self._buffer = bytearray()
        self._start = 0  # bytes of _buffer already consumed; compacted lazily to avoid quadratic copying
        self._failure = None  # type: Optional[ProtocolError]

    @property
    def buffered(self):
        # type: () -> int
        """Bytes received that are not yet part of a returned frame."""
        return len(self._buffer) - self._start

    def feed(self, data):
        # type: (BytesLike) -> None
        if self._start and self._start * 2 >= len(self._buffer):
            del self._buffer[:self._start]
            self._start = 0
        self._buffer += data

    def next_frame(self):
        # type: () -> Optional[Frame]
        """The next whole frame, or None until more bytes are fed."""
        if self._failure is not None:
            raise self._failure
        try:
            frame = try_decode_frame(self._buffer, self._start)
        except ProtocolError as e:
            self._failure = e
            raise
        if frame is None:
            return None
        self._start += frame.header.frame_length
        if self._start == len(self._buffer):
            self._buffer.clear()
            self._start = 0
        return frame

    def __iter__(self):
        # type: () -> Iterator[Frame]
        while True:
            frame = self.next_frame()
            if frame is None:
                return
            yield frame

    def frames(self, data):
        # type: (BytesLike) -> List[Frame]
        """feed(data), then every whole frame now available."""
        self.feed(data)
        return list(self)


def iter_frames(chunks):
    # type: (Iterable[BytesLike]) -> Iterator[Frame]
    """Frames out of an iterable of byte chunks (cut anywhere)."""
    decoder = FrameDecoder()
    for chunk in chunks:
        decoder.feed(chunk)
        for frame in decoder:
            yield frame
    if decoder.buffered:
        raise ProtocolError("The stream ended inside a frame ({} bytes left over).".format(decoder.buffered))
