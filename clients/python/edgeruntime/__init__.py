"""Python client for edged, the EdgeRuntime daemon: ONNX models served over a UNIX socket (docs/protocol.md).

Stdlib only; NumPy is used when importable. Quick start::

    import numpy as np
    import edgeruntime

    with edgeruntime.connect() as client:          # $EDGERUNTIME_SOCKET or the daemon's default path
        client.load("vad", "silero_vad_v5.onnx")
        out = client.infer("vad", {"input": np.zeros((1, 512), np.float32),
                                   "state": np.zeros((2, 1, 128), np.float32),
                                   "sr": np.array(16000, np.int64)})
        print(out["output"], out.timing)

        with client.subscribe(since=41) as events:  # stored results after id 41, then new ones
            for event in events:
                print(event.id, event.trigger, event.outputs)

        for piece in client.generate("bitnet", prompt="The capital of France is", max_tokens=8):
            print(piece, end="", flush=True)   # a language model's answer, as it is produced

        with client.register_region("cam", 1 << 20) as cam:  # tensors through shared memory, not the socket
            out = client.infer("detector", {"image": np.zeros((1, 3, 480, 640), np.uint8)}, region=cam)
"""

from .client import (DEFAULT_TIMEOUT, EdgeClient, Event, InferResult, Subscription, connect, default_socket_path,
                     encode_infer_request)
from .errors import EdgeConnectionError, EdgeError, EdgeTimeout, ProtocolError
from .generation import Chat, Generation
from .frames import MessageType
from .pipelines import parse_configuration
from .shared import RegionTensor, SharedRegion
from .tensors import HAVE_NUMPY, Tensor

__version__ = "0.1.0"

__all__ = [
    "EdgeClient", "Subscription", "Event", "InferResult", "Generation", "Chat", "Tensor", "connect", "default_socket_path",
    "encode_infer_request", "EdgeError", "EdgeConnectionError", "EdgeTimeout", "ProtocolError", "MessageType",
    "HAVE_NUMPY", "DEFAULT_TIMEOUT", "parse_configuration", "SharedRegion", "RegionTensor", "__version__",
]
