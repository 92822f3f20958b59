"""A blocking, thread-safe client for edged (docs/protocol.md).

How frames are routed
---------------------
One UNIX socket per client. Every request gets a fresh request id and a route (a queue) registered under that id
*before* it is sent. A single background **reader thread** owns the receiving side: it cuts the byte stream into
frames (``frames.FrameDecoder``) and puts each frame into the queue of the route registered under its request id.
The caller that sent the request blocks on its own queue (with a timeout), so any number of threads can have
requests in flight at once and the daemon may answer them in any order.

A subscription is a route that stays registered: its queue receives the ``subscribe`` acknowledgement, then every
``event`` frame (type 10) the daemon sends under the subscribe's request id, while other requests on the same
connection are answered through their own routes in between. The reader never waits for a consumer, so a program
that is busy in ``infer()`` cannot stall its subscription or vice versa; the price is that events the program has
not consumed yet are held in memory (a subscription with ``since=0`` over a large store buffers its backlog).
A generation (``generate``) is routed the same way: its queue receives every ``token`` frame and then the summary
(or an error), which ends the route.

Why a thread rather than a demultiplexing read loop run by whichever caller is waiting: the thread keeps the
locking trivial (one lock around the route table, one around sends) and notices a lost connection at once, failing
every waiter and subscription instead of leaving them to time out.

Frames for ids no longer routed (an answer that arrives after its request timed out, an event that crossed an
``unsubscribe``) are counted in ``EdgeClient.stray_frames`` and dropped. A frame under request id 0 is the daemon
refusing the connection (``busy``, ``peer_not_allowed``, ``bad_frame``); it fails every request.
"""

import os
import queue
import socket
import threading
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Type

from . import frames as _frames
from .errors import EdgeConnectionError, EdgeError, EdgeTimeout, ProtocolError
from .frames import Frame, MessageType
from .generation import Chat, Generation, generate_request
from .pipelines import pipeline_run_request
from .shared import RegionTensor, SharedRegion
from .tensors import align_up, pack_tensors, resolve_use_numpy, unpack_tensors

__all__ = [
    "EdgeClient", "Subscription", "Event", "InferResult", "Generation", "Chat", "connect", "default_socket_path",
    "encode_infer_request", "DEFAULT_TIMEOUT", "SERVICE_SOCKET_PATH", "SOCKET_ENV",
]

#: Seconds a request waits for its answer unless told otherwise.
DEFAULT_TIMEOUT = 30.0

#: Environment variables naming the socket, in order of precedence. EDGED_SOCKET is the daemon's own.
SOCKET_ENV = ("EDGERUNTIME_SOCKET", "EDGED_SOCKET")

#: The packaged system service's socket (and every board profile's socketPath).
SERVICE_SOCKET_PATH = "/run/edgeruntime/edged.sock"

_RECEIVE_CHUNK = 256 * 1024
_IOV_MAX = 512  # well under Linux's 1024 buffers per sendmsg


def default_socket_path():
    # type: () -> str
    """The socket a client connects to when given no path: the C# client's rule (DefaultSocketPath.ResolveForClient).

    ``$EDGERUNTIME_SOCKET``, else ``$EDGED_SOCKET``; under systemd (``$RUNTIME_DIRECTORY``) ``edged.sock`` in it;
    else ``$XDG_RUNTIME_DIR/edgeruntime/edged.sock``; else ``./run/edged.sock`` (absolute). When no variable named
    the socket and nothing exists at that path but the system service's socket does, that one is used, so a client
    finds an installed daemon without configuration.
    """
    for variable in SOCKET_ENV:
        explicit = os.environ.get(variable)
        if explicit:
            return explicit
    runtime_directory = os.environ.get("RUNTIME_DIRECTORY")
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if runtime_directory:
        path = os.path.join(runtime_directory.split(":")[0], "edged.sock")
    elif xdg:
        path = os.path.join(xdg, "edgeruntime", "edged.sock")
    else:
        path = os.path.abspath(os.path.join("run", "edged.sock"))
    if not os.path.exists(path) and os.path.exists(SERVICE_SOCKET_PATH):
        return SERVICE_SOCKET_PATH
    return path


class InferResult(dict):
    """The outputs of ``infer``: a dict of output name -> tensor (NumPy array or :class:`Tensor`), plus
    ``timing`` (``queuedUs``, ``inferenceUs``, ``totalUs`` as measured by the daemon), ``model`` and ``json`` (the
    whole response header)."""

    def __init__(self, outputs, timing, model, json):
        # type: (Dict[str, Any], Dict[str, Any], Optional[str], Dict[str, Any]) -> None
        super().__init__(outputs)
        self.timing = timing
        self.model = model
        self.json = json


class Event:
    """One stored result, as delivered to a subscription (an ``event`` frame).

    ``id`` (increasing, durable once delivered), ``trigger``, ``cause``, ``model``, ``fired_at`` / ``stored_at``
    (ISO 8601 strings as sent), ``window`` (dict or None), ``outputs`` (dict of name -> tensor, empty when the run
    failed), ``timing`` (dict), ``summary`` (list of ``{channel, value}``), ``error`` (None unless the run failed),
    ``pipeline`` (the pipeline result dict as sent, for a pipeline's results; ``trigger`` is then the pipeline's
    name; None otherwise), ``caption`` (a caption trigger's ``{text, tokens, firstTokenMs, totalMs}`` dict as sent,
    ``model`` being the language model; None otherwise) and ``json`` (the whole JSON header).
    """

    __slots__ = ("id", "trigger", "cause", "model", "fired_at", "stored_at", "window", "outputs", "timing",
                 "summary", "error", "pipeline", "caption", "json")

    def __init__(self, json, outputs):
        # type: (Dict[str, Any], Dict[str, Any]) -> None
        event_id = json.get("id")
        if not isinstance(event_id, int) or isinstance(event_id, bool):
            raise ProtocolError("An event frame has no integer 'id': {!r}".format(json))
        self.id = event_id
        self.trigger = json.get("trigger")  # type: Optional[str]
        self.cause = json.get("cause")  # type: Optional[str]
        self.model = json.get("model")  # type: Optional[str]
        self.fired_at = json.get("firedAt")  # type: Optional[str]
        self.stored_at = json.get("storedAt")  # type: Optional[str]
        self.window = json.get("window")  # type: Optional[Dict[str, Any]]
        self.timing = json.get("timing") or {}  # type: Dict[str, Any]
        self.summary = json.get("summary") or []  # type: List[Dict[str, Any]]
        self.error = json.get("error")  # type: Optional[str]
        self.pipeline = json.get("pipeline")  # type: Optional[Dict[str, Any]]
        self.caption = json.get("caption")  # type: Optional[Dict[str, Any]]
        self.outputs = outputs
        self.json = json

    @classmethod
    def from_frame(cls, frame, use_numpy=None):
        # type: (Frame, Optional[bool]) -> Event
        body = frame.json_object()
        if not isinstance(body, dict):
            raise ProtocolError("An event's JSON header is not an object.")
        return cls(body, unpack_tensors(body.get("outputs") or [], frame.payload, use_numpy))

    @property
    def ok(self):
        # type: () -> bool
        return self.error is None

    def __repr__(self):
        what = ("error={!r}".format(self.error) if self.error
                else "caption={!r}".format(self.caption["text"]) if self.caption
                else "outputs={}".format(list(self.outputs)))
        return "Event(id={}, trigger={!r}, storedAt={!r}, {})".format(self.id, self.trigger, self.stored_at, what)


class _Failure:
    """Why the connection is unusable. Stored as class + code + message so that every waiting thread raises its own
    exception object (one object raised in several threads would share and mangle its traceback)."""

    __slots__ = ("cls", "code", "message")

    def __init__(self, cls, code, message):
        # type: (Type[EdgeError], str, str) -> None
        self.cls, self.code, self.message = cls, code, message

    def error(self):
        # type: () -> EdgeError
        return self.cls(self.code, self.message)


class _Route:
    __slots__ = ("queue", "stream", "final_type")

    def __init__(self, stream, final_type=None):
        # type: (bool, Optional[int]) -> None
        self.queue = queue.SimpleQueue()  # type: queue.SimpleQueue
        self.stream = stream  # a subscription or a generation: stays routed after its first frame
        self.final_type = final_type  # a frame of this type ends the stream (a generation's summary)


_END = object()  # put into a subscription's queue to wake its reader when it is closed locally
_UNSET = object()


def _infer_request(model, inputs, outputs, region=None, output_offset=None, output_length=None):
    # type: (str, Mapping[str, Any], Optional[Sequence[str]], Optional[SharedRegion], Optional[int], Optional[int]) -> Tuple[Dict[str, Any], List[Any]]
    if not isinstance(model, str) or not model:
        raise ValueError("model must be a non-empty name")
    if not isinstance(inputs, Mapping):
        raise TypeError("inputs must be a dict of input name -> tensor")
    if region is not None and not isinstance(region, SharedRegion):
        raise TypeError("region must be a SharedRegion (from register_region), got {}".format(type(region).__name__))
    in_region = {name for name, value in inputs.items() if isinstance(value, RegionTensor)}
    if (in_region or output_offset is not None) and region is None:
        raise ValueError("RegionTensor inputs and output_offset need the region they lie in")
    descriptors, parts, _ = pack_tensors({n: v for n, v in inputs.items() if n not in in_region})
    packed = {d["name"]: d for d in descriptors}
    # Input order as given, whether a tensor travels in the payload or lies in the region.
    header = {"model": model, "inputs": [inputs[n].descriptor(n, region.name) if n in in_region else packed[n]
                                         for n in inputs]}  # type: Dict[str, Any]
    if outputs is not None:
        if isinstance(outputs, str):
            outputs = [outputs]
        header["outputs"] = list(outputs)
    if output_offset is not None:
        length = region.size - output_offset if output_length is None else output_length
        header["outputRegion"] = {"region": region.name, "offset": output_offset, "length": length}
    return header, parts


def _byte_view(buffer):
    # type: (Any) -> memoryview
    view = memoryview(buffer)
    return view if view.format == "B" and view.ndim == 1 else view.cast("B")


def encode_infer_request(request_id, model, inputs, outputs=None, region=None, output_offset=None,
                         output_length=None):
    # type: (int, str, Mapping[str, Any], Optional[Sequence[str]], Optional[SharedRegion], Optional[int], Optional[int]) -> bytes
    """The exact bytes ``EdgeClient.infer`` (or, with ``region``, ``infer_region``) sends for this request (pure; for
    tests and tools)."""
    header, parts = _infer_request(model, inputs, outputs, region, output_offset, output_length)
    return _frames.encode_frame(MessageType.INFER, request_id, header, parts)


class EdgeClient:
    """A connection to edged. Connects on construction; use as a context manager or call :meth:`close`.

    >>> with EdgeClient.connect() as client:
    ...     client.load("vad", "silero_vad_v5.onnx")
    ...     out = client.infer("vad", {"input": frame, "state": state, "sr": sr})

    Thread-safe: any number of threads may call it at once. Daemon errors are raised as :class:`EdgeError`
    (``code``, ``message``); a connection that cannot be made or is lost as :class:`EdgeConnectionError` (also a
    ``ConnectionError``); no answer within ``timeout`` seconds as :class:`EdgeTimeout` (also a ``TimeoutError``).

    ``use_numpy``: outputs as NumPy arrays (True) or :class:`Tensor` (False); default: NumPy when it can be imported
    and ``EDGERUNTIME_NO_NUMPY`` is not set.
    """

    def __init__(self, path=None, timeout=DEFAULT_TIMEOUT, use_numpy=None):
        # type: (Optional[str], Optional[float], Optional[bool]) -> None
        self.path = os.fspath(path) if path is not None else default_socket_path()
        self.timeout = timeout
        self.use_numpy = resolve_use_numpy(use_numpy)
        self.stray_frames = 0
        self._lock = threading.Lock()  # guards _routes, _regions, _next_id, _failure, _closed
        self._send_lock = threading.Lock()  # one frame on the wire at a time
        self._routes = {}  # type: Dict[int, _Route]
        self._regions = {}  # type: Dict[str, SharedRegion]  # registered on this connection, by name
        self._next_id = 0
        self._failure = None  # type: Optional[_Failure]
        self._closed = False
        self._sock = self._connect(self.path, timeout)
        self._reader = threading.Thread(target=self._read_loop, name="edgeruntime-reader", daemon=True)
        self._reader.start()

    @classmethod
    def connect(cls, path=None, timeout=DEFAULT_TIMEOUT, use_numpy=None):
        # type: (Optional[str], Optional[float], Optional[bool]) -> EdgeClient
        """Connects to edged at ``path`` (default: :func:`default_socket_path`)."""
        return cls(path, timeout=timeout, use_numpy=use_numpy)

    # -- lifecycle ------------------------------------------------------------------------------------------------

    @staticmethod
    def _connect(path, timeout):
        # type: (str, Optional[float]) -> socket.socket
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)  # a UNIX connect only waits when the daemon's backlog is full
            sock.connect(path)
            sock.settimeout(None)  # the reader thread blocks in recv; requests time out on their queues
        except OSError as e:
            sock.close()
            if isinstance(e, FileNotFoundError):
                hint = ("no socket there. Is edged running? Start it, pass the path, or set EDGERUNTIME_SOCKET")
            elif isinstance(e, ConnectionRefusedError):
                hint = "the socket file exists but nothing accepts on it (edged is not running, a stale socket)"
            elif isinstance(e, PermissionError):
                hint = ("permission denied: your user must be allowed by the daemon (its group, e.g. edgeruntime, "
                        "or allowedUids/allowedGids)")
            elif isinstance(e, socket.timeout):
                hint = "timed out: edged accepts no more connections right now"
            else:
                hint = str(e)
            raise EdgeConnectionError("connect_failed", "Cannot connect to edged at {}: {}.".format(path, hint)) from e
        return sock

    def close(self):
        # type: () -> None
        """Closes the connection. Requests in flight fail with ``connection_closed``; subscriptions end."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._failure is None:
                self._failure = _Failure(EdgeConnectionError, "connection_closed", "This client has been closed.")
        try:
            # shutdown() rather than close() wakes the reader thread blocked in recv.
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # the daemon may already have gone
        if threading.current_thread() is not self._reader:
            self._reader.join(5.0)
        self._sock.close()

    def __enter__(self):
        # type: () -> EdgeClient
        return self

    def __exit__(self, *exc_info):
        # type: (Any) -> None
        self.close()

    @property
    def closed(self):
        # type: () -> bool
        return self._closed

    # -- the protocol's messages ----------------------------------------------------------------------------------

    def hello(self, client_name="edgeruntime-python"):
        # type: (Optional[str]) -> Dict[str, Any]
        """Negotiates the protocol version: ``protocolVersion``, ``daemonVersion``, ``board``, ``providers``,
        ``peer``, ``platform``, ``features`` (e.g. ``shared-memory`` when :meth:`register_region` is allowed)."""
        header = {"protocolVersions": [_frames.VERSION]}  # type: Dict[str, Any]
        if client_name:
            header["client"] = client_name
        return self._json_request(MessageType.HELLO, header)

    def models(self):
        # type: () -> List[Dict[str, Any]]
        """The loaded models: ``[{name, path, providers, loadedAt}]``."""
        return self._json_request(MessageType.MODELS, {}).get("models") or []

    def load(self, name, path, providers=None, on_missing_provider=None, kernel_fallback=None, timeout=_UNSET,
             max_batch=None, batch_axes=None):
        # type: (str, str, Optional[Sequence[str]], Optional[str], Optional[str], Any, Optional[int], Optional[Mapping[str, int]]) -> Dict[str, Any]
        """Loads a model (a relative path is taken from the daemon's model directory); returns its info.

        ``providers`` (e.g. ``["qnn", "cpu"]``), ``on_missing_provider`` (``fallback``/``fail``) and
        ``kernel_fallback`` (``auto``/``force``/``off``) override the board profile for this model.
        ``max_batch`` lets the daemon run up to that many waiting requests as one batch, joined along each port's
        first dimension or the axes ``batch_axes`` names (``{"state": 1, ...}``; see docs/protocol.md, Batching).
        """
        header = {"name": name, "path": os.fspath(path)}  # type: Dict[str, Any]
        if providers is not None:
            header["providers"] = [providers] if isinstance(providers, str) else list(providers)
        if on_missing_provider is not None:
            header["onMissingProvider"] = on_missing_provider
        if kernel_fallback is not None:
            header["kernelFallback"] = kernel_fallback
        if max_batch is not None:
            header["maxBatch"] = int(max_batch)
        if batch_axes is not None:
            header["batchAxes"] = {str(port): int(axis) for port, axis in batch_axes.items()}
        return self._json_request(MessageType.LOAD, header, timeout=timeout)

    def unload(self, name):
        # type: (str) -> Dict[str, Any]
        return self._json_request(MessageType.UNLOAD, {"name": name})

    def info(self, name):
        # type: (str) -> Dict[str, Any]
        """A model's signature and placement: ``inputs``/``outputs`` as ``{name, dtype, shape, symbolicShape}``,
        ``providers``, ``nodes``, ``warnings``..."""
        return self._json_request(MessageType.INFO, {"name": name})

    def infer(self, model, inputs, outputs=None, timeout=_UNSET, region=None):
        # type: (str, Mapping[str, Any], Optional[Sequence[str]], Any, Optional[SharedRegion]) -> InferResult
        """Runs ``model`` on ``inputs`` (name -> NumPy array, :class:`Tensor` or ``(dtype, shape, data)``).

        ``outputs`` names the outputs wanted (default: all). Returns an :class:`InferResult` (a dict of output
        name -> tensor, plus ``timing``). The inputs are sent in place, without being copied into one buffer.

        ``region`` (a registered :class:`SharedRegion`): the tensors go through it instead of the socket. The inputs
        are copied into it from offset 0 (8-byte aligned), the daemon writes the outputs into the rest of it, and
        they are returned as copies, so the region can be reused at once. Such calls on one region take turns (each
        uses all of it); give each concurrent caller its own region. For inputs already in a region, see
        :meth:`infer_region`.
        """
        if region is None:
            return self._infer(model, inputs, outputs, timeout)
        if not isinstance(inputs, Mapping):
            raise TypeError("inputs must be a dict of input name -> tensor")
        with region._layout_lock:  # every such call uses the whole region: one at a time
            placed = {}  # type: Dict[str, RegionTensor]
            end = 0
            for name, value in inputs.items():
                placed[name] = region._write(name, value, align_up(end))
                end = placed[name].offset + placed[name].nbytes
            outputs_at = min(align_up(end), region.size)
            return self._infer(model, placed, outputs, timeout, region, outputs_at, region.size - outputs_at,
                               copy_outputs=True)

    def infer_region(self, model, region, inputs, output_offset=None, output_length=None, outputs=None,
                     timeout=_UNSET):
        # type: (str, SharedRegion, Mapping[str, Any], Optional[int], Optional[int], Optional[Sequence[str]], Any) -> InferResult
        """Runs ``model`` on inputs that are already in ``region``, without copying them: each input is a
        :class:`RegionTensor` ``(dtype, shape, offset)`` naming where its bytes lie (``region.write`` returns one),
        or any tensor ``infer`` takes, which is sent in the payload as usual.

        With ``output_offset`` (a multiple of 8) the daemon writes the outputs into the region from there, within
        ``output_length`` bytes (default: to the region's end), and the returned tensors are views on the region:
        valid until that range is written again. Without it the outputs come over the socket.
        """
        return self._infer(model, inputs, outputs, timeout, region, output_offset, output_length)

    def _infer(self, model, inputs, outputs, timeout, region=None, output_offset=None, output_length=None,
               copy_outputs=False):
        # type: (str, Mapping[str, Any], Optional[Sequence[str]], Any, Optional[SharedRegion], Optional[int], Optional[int], bool) -> InferResult
        header, parts = _infer_request(model, inputs, outputs, region, output_offset, output_length)
        frame = self._request(MessageType.INFER, header, parts, timeout)
        body = self._body(frame)
        regions = {region.name: region.buffer} if region is not None else None
        tensors = unpack_tensors(body.get("outputs") or [], frame.payload, self.use_numpy, regions, copy_outputs)
        return InferResult(tensors, body.get("timing") or {}, body.get("model"), body)

    def register_region(self, name, size, timeout=_UNSET):
        # type: (str, int, Any) -> SharedRegion
        """Creates ``size`` bytes of memory shared with the daemon and registers it under ``name`` (1 to 64
        characters, unique on this connection). Returns the :class:`SharedRegion`; use it in a ``with`` block or
        call its ``close()``, which unregisters and unmaps it.

        Needs a daemon whose configuration sets ``sharedMemory.enabled`` (``shared-memory`` in
        ``hello()["features"]``); otherwise :class:`EdgeError` ``shared_memory_disabled``. ``region_invalid``: the
        name is taken, the size is over the daemon's limit, or the connection holds its most regions.
        """
        region = SharedRegion(name, size)
        try:
            # The memfd rides on the frame's first bytes as SCM_RIGHTS: that is how the daemon gets the memory.
            self._json_request(MessageType.REGION_REGISTER, {"name": name}, timeout, fds=[region.fd])
        except BaseException:
            region.close()  # refused (or no answer): the memory is of no use to anyone
            raise
        region.close_fd()  # the daemon has mapped it; the mappings keep the memory alive
        region.client = self
        with self._lock:
            self._regions[name] = region
        return region

    def unregister_region(self, region, timeout=_UNSET):
        # type: (Any, Any) -> Dict[str, Any]
        """Releases a region (a :class:`SharedRegion` or its name) on the daemon's side, after the requests already
        using it; returns ``{"name", "unregistered"}``. The memory stays mapped here until the region's
        ``close()``. Raises :class:`EdgeError` ``unknown_region`` for a name this connection has not registered."""
        name = region.name if isinstance(region, SharedRegion) else region
        answer = self._json_request(MessageType.REGION_UNREGISTER, {"name": name}, timeout)
        with self._lock:
            owned = self._regions.pop(name, None)
        if owned is not None:
            owned.client = None
        return answer

    def stats(self):
        # type: () -> List[Dict[str, Any]]
        """Per-model counters: ``[{name, count, errors, meanUs, p50Us, p99Us}]``."""
        return self._json_request(MessageType.STATS, {}).get("models") or []

    def health(self):
        # type: () -> Dict[str, Any]
        """``status`` (``ok``/``degraded``), ``problems``, ``warnings``, ``sensors``, ``triggers``, ``store``..."""
        return self._json_request(MessageType.HEALTH, {})

    def inject(self, sensor, edge=None, values=None):
        # type: (str, Optional[str], Any) -> Dict[str, Any]
        """Feeds a simulated sensor: an ``edge`` (``rising``/``falling``) into a GPIO input, or ``values`` into an
        I2C device (a dict channel -> value, or a list of ``{"channel", "value"}`` dicts or ``(channel, value)``
        pairs). Returns ``{"sensor", "at"}``."""
        header = {"sensor": sensor}  # type: Dict[str, Any]
        if edge is not None:
            header["edge"] = edge
        if values is not None:
            if isinstance(values, Mapping):
                items = [{"channel": str(k), "value": float(v)} for k, v in values.items()]
            else:
                items = [dict(v) if isinstance(v, Mapping) else {"channel": str(v[0]), "value": float(v[1])}
                         for v in values]
            header["values"] = items
        return self._json_request(MessageType.INJECT, header)

    def pipelines(self):
        # type: () -> List[Dict[str, Any]]
        """The pipelines the daemon runs: ``[{name, kind, manifest, runs, failures, budgetMs, lastConfiguration,
        profiles, latencyTable}]``."""
        return self._json_request(MessageType.PIPELINES, {}).get("pipelines") or []

    def load_pipeline(self, definition, timeout=_UNSET):
        # type: (Mapping[str, Any], Any) -> Dict[str, Any]
        """Declares a pipeline: ``definition`` is the JSON of a ``pipelines`` entry of the daemon's configuration
        (``name``, ``kind``, ``manifest``, optional ``budgetMs``, ``configuration``, ``skip``, ``clock``, ``gate``,
        ``inputs``, ``driftTolerance``), sent as is. Paths are the daemon's. Returns the pipeline's status (as listed by
        :meth:`pipelines`); loading profiles the models, so it may take a while."""
        if not isinstance(definition, Mapping):
            raise TypeError("definition must be a dict (the JSON of a pipelines entry)")
        return self._json_request(MessageType.PIPELINE_LOAD, dict(definition), timeout=timeout)

    def run_pipeline(self, name, inputs=None, index=None, mode=None, skip=None, budget_ms=None, configuration=None,
                     clock=None, timeout=_UNSET, live=None, pre_ms=None):
        # type: (str, Optional[Mapping[str, Any]], Optional[int], Optional[str], Optional[bool], Optional[float], Any, Optional[str], Any, Optional[bool], Optional[float]) -> Dict[str, Any]
        """Runs a pipeline once over replayed or live input and returns ``{"id": stored result id (0 without a store),
        "result": {pipeline, kind, mode, prediction, scores, sensingEndMs, resultMs, postSensingMs, configuration,
        decision, stages, units, checkpoints, counts, path, confidence, ...}}``.

        ``inputs``: input name (a modality, or ``image``) -> replay file or frame folder on the daemon's machine, or
        ``edgeruntime.pipelines.sensor(NAME)`` for one of its sensors read live, each replacing the pipeline's
        configured input of that name; ``live``: insist every input is a sensor (the run starts now); ``pre_ms``: a
        live run starts this far back, with what the sensors' buffers hold; ``index``: the item
        of a multi-item input; ``mode``: ``pipelined``/``sequential`` (mmedge) or ``cascade``/``full``/``light``/
        ``early-exit`` (cbnet); ``skip``: speculative skipping on or off; ``budget_ms``: the post-sensing budget the
        optimizer fits into; ``configuration``: a fixed configuration (``"audio=large:100,vision=small:/2"``, a dict
        with ``modalities``, or a list of ``(modality, encoder, unit_ms, stride)``); ``clock``: ``realtime`` (input
        arrives at its recorded rate, so the call lasts as long as the recording) or ``fast``. What is not given is
        the pipeline's own setting. Raises :class:`EdgeError` ``unknown_pipeline`` for a name the daemon lacks.
        """
        header = pipeline_run_request(name, inputs, index, mode, skip, budget_ms, configuration, clock, live, pre_ms)
        return self._json_request(MessageType.PIPELINE_RUN, header, timeout=timeout)

    def subscribe(self, since=None, triggers=None, timeout=None):
        # type: (Optional[int], Optional[Iterable[str]], Optional[float]) -> Subscription
        """Streams stored results. Returns a :class:`Subscription` (iterate it for :class:`Event` objects).

        ``since``: deliver every retained result with id > since first, oldest first, then new ones as they are
        stored, with no gap and no duplicate; pass the id of the last event you processed to resume after a
        restart of either side. Without it, only results stored from now on. ``triggers`` keeps only those
        triggers' results. ``timeout``: the longest iteration waits for the next event before raising
        :class:`EdgeTimeout` (None: forever).
        """
        header = {}  # type: Dict[str, Any]
        if since is not None:
            if isinstance(since, bool) or not isinstance(since, int) or since < 0:
                raise ValueError("since must be a result id >= 0, got {!r}".format(since))
            header["since"] = since
        trigger_list = None
        if triggers is not None:
            trigger_list = [triggers] if isinstance(triggers, str) else list(triggers)
            header["triggers"] = trigger_list
        request_id, route = self._register(stream=True)
        try:
            self._send(MessageType.SUBSCRIBE, request_id, header)
            frame = self._wait(route, self.timeout, "subscribe", request_id)
            ack = self._body(frame)
        except BaseException:
            self._unroute(request_id)
            raise
        return Subscription(self, request_id, route, ack, since, trigger_list, timeout)

    def generate(self, model, prompt=None, messages=None, session=None, keep=False, max_tokens=None, stop=None,
                 stop_token_ids=None, timeout=_UNSET, image=None, **sampling):
        # type: (str, Optional[str], Optional[Iterable[Any]], Optional[str], bool, Optional[int], Any, Optional[Sequence[int]], Any, Any, Any) -> Generation
        """Generates text with a loaded language model. Returns a :class:`Generation`: iterate it for the text pieces
        as they are produced; afterwards ``summary`` holds the daemon's final answer and ``text`` the whole text.

        Exactly one of ``prompt`` (raw text, tokenized as is) or ``messages`` (a chat: ``{"role", "content"}``
        dicts or ``(role, content)`` pairs, rendered with the model's template). ``keep=True`` asks the daemon to keep
        the session (its id comes back as ``summary["session"]``); ``session=ID`` continues one with only the new
        text. Sampling keywords: ``temperature`` (0: greedy), ``top_k``, ``top_p``, ``min_p``,
        ``repetition_penalty``, ``seed``. ``stop``: text(s) that end the answer. ``timeout``: the longest wait for
        each token (default: the client's). ``image``: for a vision-language model (``info(model)["image"]`` gives
        its size), a uint8 (0-255) or float32 (0-1) array shaped [h, w], [c, h, w] or [1, c, h, w], or a
        ``(dtype, shape, data)`` tuple; it goes before the prompt, starts the session, and ``prompt=""`` is allowed.

        >>> with client.generate("bitnet", prompt="The capital of France is", max_tokens=8) as generation:
        ...     for piece in generation:
        ...         print(piece, end="", flush=True)
        >>> generation.summary["decodeTokensPerSecond"]
        """
        header = generate_request(model, prompt, messages, session, keep, max_tokens, stop, stop_token_ids, **sampling)
        parts = []  # type: List[Any]
        if image is not None:
            descriptors, parts, _ = pack_tensors({"image": image})
            header["image"] = descriptors[0]
        return self._start_generation(header, timeout, payload_parts=parts)

    def chat(self, model, system=None, **options):
        # type: (str, Optional[str], Any) -> Chat
        """A :class:`Chat`: a conversation with a language model whose session the daemon keeps. ``options`` are
        :meth:`generate`'s (``max_tokens``, ``temperature``, ``stop``, ...), used for every turn."""
        return Chat(self, model, system, **options)

    def cancel(self, request_id):
        # type: (int) -> Dict[str, Any]
        """Asks the daemon to stop the generate with this request id (``Generation.request_id``); its stream then
        ends with stop reason ``cancelled``. Returns ``{"requestId", "cancelled"}`` (False: it had already ended)."""
        return self._json_request(MessageType.CANCEL, {"requestId": request_id})

    def request(self, message_type, header=None, payload=(), timeout=_UNSET):
        # type: (int, Any, Sequence[Any], Any) -> Frame
        """Sends any request and returns the response frame (raw JSON bytes and payload). Raises EdgeError for an
        error response. For message types this class has no method for."""
        return self._request(message_type, header if header is not None else {}, list(payload), timeout)

    # -- machinery ------------------------------------------------------------------------------------------------

    def _json_request(self, message_type, header, timeout=_UNSET, fds=()):
        # type: (int, Dict[str, Any], Any, Sequence[int]) -> Dict[str, Any]
        return self._body(self._request(message_type, header, (), timeout, fds))

    @staticmethod
    def _body(frame):
        # type: (Frame) -> Dict[str, Any]
        body = frame.json_object()
        if not isinstance(body, dict):
            raise ProtocolError("The {} response's JSON header is not an object.".format(MessageType.name(frame.type)))
        return body

    def _request(self, message_type, header, payload_parts, timeout=_UNSET, fds=()):
        # type: (int, Any, Sequence[Any], Any, Sequence[int]) -> Frame
        request_id, route = self._register(stream=False)
        try:
            self._send(message_type, request_id, header, payload_parts, fds)
            return self._wait(route, self.timeout if timeout is _UNSET else timeout,
                              MessageType.name(message_type), request_id)
        finally:
            self._unroute(request_id)

    def _start_generation(self, header, timeout=_UNSET, on_end=None, payload_parts=()):
        # type: (Dict[str, Any], Any, Any, Sequence[Any]) -> Generation
        request_id, route = self._register(stream=True, final_type=MessageType.GENERATE)
        try:
            self._send(MessageType.GENERATE, request_id, header, payload_parts)
        except BaseException:
            self._unroute(request_id)
            raise
        return Generation(self, request_id, route, self.timeout if timeout is _UNSET else timeout, on_end)

    def _register(self, stream, final_type=None):
        # type: (bool, Optional[int]) -> Tuple[int, _Route]
        with self._lock:
            if self._failure is not None:
                raise self._failure.error()
            self._next_id += 1
            route = _Route(stream, final_type)
            self._routes[self._next_id] = route
            return self._next_id, route

    def _unroute(self, request_id):
        # type: (int) -> None
        with self._lock:
            self._routes.pop(request_id, None)

    def _wait(self, route, timeout, what, request_id):
        # type: (_Route, Optional[float], str, int) -> Frame
        try:
            item = route.queue.get(timeout=timeout)
        except queue.Empty:
            raise EdgeTimeout("No answer from edged at {} to {} (request {}) within {} s.".format(
                self.path, what, request_id, timeout))
        if isinstance(item, _Failure):
            raise item.error()
        if item.is_error:
            raise item.error()
        return item

    def _send(self, message_type, request_id, header, payload_parts=(), fds=()):
        # type: (int, int, Any, Sequence[Any], Sequence[int]) -> None
        views = [_byte_view(p) for p in _frames.encode_frame_parts(message_type, request_id, header, payload_parts)]
        with self._send_lock:
            try:
                # Scatter send: the header and each tensor go out as they are, with no joined copy.
                while views:
                    if fds:
                        # The descriptors ride on the frame's first bytes, once: where the daemon looks for them.
                        sent = socket.send_fds(self._sock, views[:_IOV_MAX], list(fds))
                        fds = ()
                    else:
                        sent = self._sock.sendmsg(views[:_IOV_MAX])
                    while sent:
                        if sent >= views[0].nbytes:
                            sent -= views[0].nbytes
                            views.pop(0)
                        else:
                            views[0] = views[0][sent:]
                            sent = 0
            except OSError as e:
                with self._lock:
                    failure = self._failure
                if failure is not None:
                    raise failure.error() from e
                raise EdgeConnectionError("connection_lost", "Cannot send to edged at {}: {}.".format(self.path, e)) from e

    def _read_loop(self):
        # type: () -> None
        decoder = _frames.FrameDecoder()
        buffer = bytearray(_RECEIVE_CHUNK)
        view = memoryview(buffer)
        failure = None  # type: Optional[_Failure]
        try:
            while True:
                n = self._sock.recv_into(buffer)
                if n == 0:
                    failure = _Failure(EdgeConnectionError, "connection_lost",
                                       "edged at {} closed the connection.".format(self.path))
                    return
                decoder.feed(view[:n])
                for frame in decoder:
                    self._deliver(frame)
        except ProtocolError as e:
            failure = _Failure(EdgeConnectionError, e.code, "edged at {} sent bytes that are not a frame: {}".format(
                self.path, e.message))
        except OSError as e:
            failure = _Failure(EdgeConnectionError, "connection_lost",
                               "The connection to edged at {} broke: {}.".format(self.path, e))
        except BaseException as e:  # a bug here must not leave every caller waiting for their timeout
            failure = _Failure(EdgeError, "internal", "The client's reader thread failed: {!r}".format(e))
            raise
        finally:
            self._fail(failure)

    def _deliver(self, frame):
        # type: (Frame) -> None
        if frame.request_id == 0:
            # The daemon speaking before any request (busy, peer_not_allowed, bad_frame): it concerns every request;
            # the daemon closes the connection next. Its explanation outranks the bare "connection lost" that follows.
            if frame.is_error:
                error = frame.error()
                refusal = _Failure(EdgeConnectionError, error.code, error.message)
            else:
                refusal = _Failure(EdgeConnectionError, "connection_refused", "edged refused the connection.")
            self._fail(refusal)
            return
        with self._lock:
            route = self._routes.get(frame.request_id)
            if route is None:
                self.stray_frames += 1
                return
            if not route.stream or frame.is_error or frame.type == route.final_type:
                # One answer per request; an error ends a subscription or a generation, and so does a generation's
                # summary: nothing follows it under that id.
                del self._routes[frame.request_id]
            if frame.type == MessageType.UNSUBSCRIBE and not frame.is_error:
                # After acknowledging an unsubscribe the daemon sends nothing more under that subscription: stop
                # routing it here, in order with the stream, so a late frame is a stray and not a ghost event.
                self._end_stream(frame)
        route.queue.put(frame)

    def _end_stream(self, unsubscribe_ack):
        # type: (Frame) -> None
        try:
            target = unsubscribe_ack.json_object().get("requestId")
        except (ProtocolError, AttributeError):
            return
        stream = self._routes.get(target) if isinstance(target, int) else None
        if stream is not None and stream.stream:
            del self._routes[target]

    def _fail(self, failure):
        # type: (Optional[_Failure]) -> None
        """Marks the connection failed (first reason wins) and wakes everything waiting on it."""
        with self._lock:
            if self._failure is None:
                self._failure = failure or _Failure(EdgeConnectionError, "connection_lost",
                                                    "The connection to edged at {} ended.".format(self.path))
            routes = list(self._routes.values())
            self._routes.clear()
            reason = self._failure
        for route in routes:
            route.queue.put(reason)


class Subscription:
    """Stored results streaming from one ``subscribe``. Iterate it for :class:`Event` objects, oldest first.

    ``first_id`` / ``last_id``: the daemon's acknowledgement (oldest retained result, 0 for an empty store; newest
    stored when the subscription began). ``missed``: results removed by retention between ``since`` and
    ``first_id``. ``last_event_id``: the id of the last event handed out.

    Iteration waits up to ``timeout`` seconds per event and raises :class:`EdgeTimeout` when none came (None: waits
    forever); it stops (StopIteration) once the subscription is closed here, and raises :class:`EdgeConnectionError`
    when the connection is lost (the daemon stopped: reconnect and resume with ``since=last_event_id``).
    :meth:`get` is the polling form: an Event, or None on timeout or once closed.

    :meth:`close` (alias :meth:`unsubscribe`) tells the daemon to send nothing more. Also a context manager.
    """

    def __init__(self, client, request_id, route, ack, since, triggers, timeout):
        # type: (EdgeClient, int, _Route, Dict[str, Any], Optional[int], Optional[List[str]], Optional[float]) -> None
        self.client = client
        self.request_id = request_id
        self.first_id = int(ack.get("firstId") or 0)
        self.last_id = int(ack.get("lastId") or 0)
        self.since = since
        self.triggers = triggers
        self.timeout = timeout
        self.last_event_id = None  # type: Optional[int]
        self.ack = ack
        self._route = route
        self._closed = False  # closed here: hand out nothing more
        self._ended = False  # the daemon will send nothing more (error, connection gone, unsubscribed)

    @property
    def closed(self):
        # type: () -> bool
        return self._closed or self._ended

    @property
    def missed(self):
        # type: () -> int
        """How many results after ``since`` were removed by retention before this subscription could see them."""
        if self.since is None or self.first_id == 0:
            return 0
        return max(0, self.first_id - 1 - self.since)

    def __iter__(self):
        # type: () -> Subscription
        return self

    def __next__(self):
        # type: () -> Event
        event = self._next(self.timeout, raise_timeout=True)
        if event is None:
            raise StopIteration
        return event

    def get(self, timeout=_UNSET):
        # type: (Any) -> Optional[Event]
        """The next event, or None if none arrives within ``timeout`` (default: the subscription's) or the
        subscription is closed (see ``closed``). Raises on errors as iteration does."""
        return self._next(self.timeout if timeout is _UNSET else timeout, raise_timeout=False)

    def _next(self, timeout, raise_timeout):
        # type: (Optional[float], bool) -> Optional[Event]
        if self.closed:
            return None
        try:
            item = self._route.queue.get(timeout=timeout)
        except queue.Empty:
            if raise_timeout:
                raise EdgeTimeout("No event on subscription {} from edged at {} within {} s.".format(
                    self.request_id, self.client.path, timeout))
            return None
        if item is _END or self._closed:
            return None
        if isinstance(item, _Failure):
            self._ended = True
            if item.code == "connection_closed":  # our own client.close(): a normal end
                return None
            raise item.error()
        if item.is_error:
            # The daemon ended the subscription with an error (e.g. shutting_down).
            self._ended = True
            self.client._unroute(self.request_id)
            raise item.error()
        if item.type != MessageType.EVENT:
            raise ProtocolError("Subscription {} received a {} frame, expected event.".format(
                self.request_id, MessageType.name(item.type)))
        event = Event.from_frame(item, self.client.use_numpy)
        self.last_event_id = event.id
        return event

    def close(self):
        # type: () -> Optional[Dict[str, Any]]
        """Unsubscribes: the daemon sends nothing more. Events received but not yet taken are dropped. Returns the
        daemon's acknowledgement (``{"requestId", "unsubscribed"}``), or None when there was nothing to
        unsubscribe (already closed, ended, or the connection is gone). Safe to call twice and from another thread
        than the iterating one."""
        if self._closed:
            return None
        self._closed = True
        ack = None
        try:
            if not self._ended and not self.client.closed:
                ack = self.client._json_request(MessageType.UNSUBSCRIBE, {"requestId": self.request_id})
        except EdgeConnectionError:
            pass  # the connection is gone, and the subscription with it
        finally:
            self._ended = True
            self.client._unroute(self.request_id)
            self._route.queue.put(_END)  # wake a thread blocked in iteration
        return ack

    unsubscribe = close

    def __enter__(self):
        # type: () -> Subscription
        return self

    def __exit__(self, *exc_info):
        # type: (Any) -> None
        self.close()

    def __repr__(self):
        return "Subscription(request_id={}, since={}, first_id={}, last_id={}, closed={})".format(
            self.request_id, self.since, self.first_id, self.last_id, self.closed)


def connect(path=None, timeout=DEFAULT_TIMEOUT, use_numpy=None):
    # type: (Optional[str], Optional[float], Optional[bool]) -> EdgeClient
    """Connects to edged: ``EdgeClient.connect``."""
    return EdgeClient(path, timeout=timeout, use_numpy=use_numpy)
