"""Shared-memory regions against the real published edged (EDGERUNTIME_EDGED), one daemon per test: with
``"sharedMemory": {"enabled": true}`` in its configuration, and without it for ``shared_memory_disabled``. Silero VAD
from the assets is the model; what comes back through a region must equal the same request over the socket."""

import os
import socket
import unittest

import support
from support import basic_config
from edgeruntime import EdgeError, RegionTensor, SharedRegion, Tensor
from edgeruntime.frames import FrameDecoder, MessageType, encode_frame
from edgeruntime.shared import create_memfd
from edgeruntime.tensors import HAVE_NUMPY
from test_daemon import FRAME, RATE, DaemonTestCase, vad_inputs_plain, wav_16k

if HAVE_NUMPY:
    import numpy as np

SIZE = 16384
INPUTS_END = 4 * FRAME + 4 * 2 * 128 + 8  # input, state, sr laid out from 0 by infer(region=...): 3080, aligned


def speech_frames(count):
    """``count`` consecutive frames from inside the speech, so the outputs are not those of silence."""
    samples = wav_16k(support.SPEECH_WAV)
    start = 40 * FRAME
    return [samples[start + i * FRAME:start + (i + 1) * FRAME] for i in range(count)]


def as_bytes(result):
    return {name: tensor.tobytes() for name, tensor in result.items()}


class SharedMemoryDaemonTests(DaemonTestCase):
    config = dict(basic_config(), sharedMemory={"enabled": True})

    def region(self, client, name="cam", size=SIZE):
        region = client.register_region(name, size)
        self.addCleanup(region.close)
        return region

    def assert_code(self, code, call, *args, **kwargs):
        with self.assertRaises(EdgeError) as raised:
            call(*args, **kwargs)
        self.assertEqual(raised.exception.code, code, raised.exception.message)

    def test_hello_lists_the_feature(self):
        self.assertIn("shared-memory", self.connect().hello()["features"])

    def test_register_answers_the_name_and_size(self):
        fd = create_memfd("by-hand", SIZE)
        self.addCleanup(os.close, fd)
        answer = self.register_by_hand(fd, "cam")
        self.assertFalse(answer.is_error, answer.json)
        self.assertEqual(answer.json_object(), {"name": "cam", "size": SIZE})
        cam = self.region(self.connect(), size=SIZE)
        self.assertTrue(cam.registered)
        self.assertIsNone(cam.fd)  # the client's descriptor is closed once the daemon has the memory

    def test_infer_through_a_region_equals_infer_over_the_socket(self):
        client = self.connect(use_numpy=False)
        cam = self.region(client)
        state = Tensor.zeros("float32", [2, 1, 128])
        for samples in speech_frames(6):
            inputs = vad_inputs_plain(samples, state)
            over_socket = client.infer("vad", inputs)
            shared = client.infer("vad", inputs, region=cam)
            self.assertEqual(as_bytes(shared), as_bytes(over_socket))
            self.assertEqual(shared.model, "vad")
            for d in shared.json["outputs"]:
                self.assertEqual(d["region"], "cam")
                self.assertGreaterEqual(d["offset"], INPUTS_END)
                self.assertEqual(d["offset"] % 8, 0)
                self.assertLessEqual(d["offset"] + d["length"], SIZE)
            state = over_socket["stateN"]
        self.assertNotEqual(state.tobytes(), bytes(state.nbytes))  # the comparison was not of zeros

    def test_infer_region_reads_the_inputs_in_place_and_writes_the_outputs_in_place(self):
        client = self.connect(use_numpy=False)
        cam = self.region(client)
        state = Tensor.zeros("float32", [2, 1, 128])
        state_in_region = cam.write(state, 0)
        for samples in speech_frames(4):
            x = cam.write(("float32", [1, FRAME], samples), 1024)
            # sr travels in the payload: a request may mix both.
            out = client.infer_region("vad", cam, {"input": x, "state": state_in_region, "sr": ("int64", [], [RATE])},
                                      output_offset=8192, output_length=4096)
            expected = client.infer("vad", vad_inputs_plain(samples, state))
            self.assertEqual(as_bytes(out), as_bytes(expected))
            for d in out.json["outputs"]:
                self.assertEqual(d["region"], "cam")
                self.assertTrue(8192 <= d["offset"] and d["offset"] + d["length"] <= 8192 + 4096, d)
                self.assertEqual(d["offset"] % 8, 0)
                # The returned tensor is the region's bytes, not a copy.
                self.assertEqual(out[d["name"]].tobytes(), bytes(cam.buffer[d["offset"]:d["offset"] + d["length"]]))
            state = expected["stateN"]
            state_in_region = cam.write(out["stateN"], 0)

    @unittest.skipUnless(HAVE_NUMPY, "numpy is not installed (the plain path is tested without it)")
    def test_numpy_views_on_the_region(self):
        client = self.connect(use_numpy=True)
        cam = self.region(client)
        [samples] = speech_frames(1)
        x = cam.ndarray(np.float32, (1, FRAME), offset=0)  # filled in place, as a camera driver would
        x[:] = np.frombuffer(samples, dtype=np.float32)
        state = cam.ndarray("float32", (2, 1, 128), offset=2048)
        state[:] = 0
        out = client.infer_region("vad", cam, {"input": RegionTensor("float32", x.shape, 0),
                                               "state": RegionTensor("float32", state.shape, 2048),
                                               "sr": np.array(RATE, np.int64)}, output_offset=4096)
        expected = client.infer("vad", {"input": x.copy(), "state": np.zeros((2, 1, 128), np.float32),
                                        "sr": np.array(RATE, np.int64)})
        self.assertIsInstance(out["stateN"], np.ndarray)
        self.assertTrue(np.array_equal(out["stateN"], expected["stateN"]))
        self.assertTrue(np.array_equal(out["output"], expected["output"]))
        copied = client.infer("vad", {"input": x.copy(), "state": np.zeros((2, 1, 128), np.float32),
                                      "sr": np.array(RATE, np.int64)}, region=cam)
        self.assertTrue(np.array_equal(copied["stateN"], expected["stateN"]))
        del x, state

    def test_outputs_come_in_the_payload_without_an_output_region(self):
        client = self.connect(use_numpy=False)
        cam = self.region(client)
        [samples] = speech_frames(1)
        state = Tensor.zeros("float32", [2, 1, 128])
        inputs = {"input": cam.write(("float32", [1, FRAME], samples), 0), "state": cam.write(state, 2048),
                  "sr": cam.write(("int64", [], [RATE]), 3072)}
        out = client.infer_region("vad", cam, inputs)
        self.assertEqual(as_bytes(out), as_bytes(client.infer("vad", vad_inputs_plain(samples, state))))
        self.assertTrue(all("region" not in d for d in out.json["outputs"]))

    def test_an_output_region_leaves_the_response_payload_empty(self):
        client = self.connect(use_numpy=False)
        cam = self.region(client)
        inputs = [cam.write(("float32", [1, FRAME], [0.0] * FRAME), 0).descriptor("input", "cam"),
                  cam.write(Tensor.zeros("float32", [2, 1, 128]), 2048).descriptor("state", "cam"),
                  cam.write(("int64", [], [RATE]), 3072).descriptor("sr", "cam")]
        frame = client.request(MessageType.INFER, {"model": "vad", "inputs": inputs,
                                                   "outputRegion": {"region": "cam", "offset": 4096, "length": 4096}})
        self.assertEqual(frame.payload, bytearray())
        outputs = frame.json_object()["outputs"]
        self.assertEqual({d["name"] for d in outputs}, {"output", "stateN"})
        self.assertTrue(all(d["region"] == "cam" and d["offset"] >= 4096 for d in outputs), outputs)

    def test_bad_regions_and_ranges_are_refused_with_their_codes(self):
        client = self.connect(use_numpy=False)
        cam = self.region(client, size=8192)
        state = cam.write(Tensor.zeros("float32", [2, 1, 128]), 0)
        x = cam.write(("float32", [1, FRAME], [0.0] * FRAME), 1024)
        sr = ("int64", [], [RATE])
        ghost = SharedRegion("ghost", 8192)  # memory that was never registered
        self.addCleanup(ghost.close)
        ghost.write(Tensor.zeros("float32", [2, 1, 128]), 0)

        self.assert_code("unknown_region", client.infer_region, "vad", ghost, {"input": x, "state": state, "sr": sr})
        other = self.connect(use_numpy=False)  # a region belongs to the connection that registered it
        self.assert_code("unknown_region", other.infer_region, "vad", cam, {"input": x, "state": state, "sr": sr})
        cases = {
            "input past the end": ({"input": RegionTensor("float32", [1, FRAME], 8192 - 1024)}, {}),
            "input at an unaligned offset": ({"input": RegionTensor("float32", [1, FRAME], 1028)}, {}),
            "output range past the end": ({}, {"output_offset": 8192 - 64, "output_length": 128}),
            "output range at an unaligned offset": ({}, {"output_offset": 4100, "output_length": 2048}),
            "outputs larger than the output range": ({}, {"output_offset": 4096, "output_length": 8}),
        }
        for what, (changed, options) in cases.items():
            with self.subTest(what):
                inputs = dict({"input": x, "state": state, "sr": sr}, **changed)
                self.assert_code("region_out_of_bounds", client.infer_region, "vad", cam, inputs, **options)
        self.assertEqual(client.health()["status"], "ok")  # every refusal leaves the connection open
        out = client.infer_region("vad", cam, {"input": x, "state": state, "sr": sr}, output_offset=4096)
        self.assertEqual(set(out), {"output", "stateN"})

    def test_unregister(self):
        client = self.connect(use_numpy=False)
        cam = self.region(client)
        inputs = vad_inputs_plain([0.0] * FRAME, Tensor.zeros("float32", [2, 1, 128]))
        client.infer("vad", inputs, region=cam)
        self.assertEqual(client.unregister_region(cam), {"name": "cam", "unregistered": True})
        self.assertFalse(cam.registered)
        self.assert_code("unknown_region", client.infer, "vad", inputs, region=cam)
        self.assert_code("unknown_region", client.unregister_region, "cam")
        # The name is free again.
        again = self.region(client, "cam", 8192)
        self.assertEqual(set(client.infer("vad", inputs, region=again)), {"output", "stateN"})
        # Leaving a region's with block unregisters it.
        with client.register_region("brief", 4096):
            pass
        self.assert_code("unknown_region", client.unregister_region, "brief")
        self.assertEqual(client.health()["status"], "ok")

    def test_registrations_the_daemon_refuses_are_region_invalid(self):
        client = self.connect()
        self.region(client, "cam", 4096)
        self.assert_code("region_invalid", client.register_region, "cam", 4096)  # the name is taken
        self.assert_code("region_invalid", client.request, MessageType.REGION_REGISTER, {"name": "no-fd"})

        unsealed = os.memfd_create("edgeruntime-test-unsealed", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        os.ftruncate(unsealed, 4096)
        empty = create_memfd("empty", 0)
        sealed = create_memfd("long-name", 4096)
        for what, fd, name in (("not sealed", unsealed, "unsealed"), ("size 0", empty, "empty"),
                               ("a name over 64 characters", sealed, "x" * 65)):
            with self.subTest(what):
                answer = self.register_by_hand(fd, name)
                self.assertEqual(answer.error().code if answer.is_error else None, "region_invalid")
            os.close(fd)
        self.assertEqual(client.health()["status"], "ok")

    def register_by_hand(self, fd, name):
        """The answer frame to a region-register sent on a raw socket with ``fd`` attached."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as raw:
            raw.settimeout(10)
            raw.connect(str(self.edged.socket_path))
            socket.send_fds(raw, [encode_frame(MessageType.REGION_REGISTER, 1, {"name": name})], [fd])
            decoder = FrameDecoder()
            while True:
                data = raw.recv(65536)
                self.assertTrue(data, "edged closed the connection without answering")
                for frame in decoder.frames(data):
                    self.assertEqual((frame.request_id, frame.type), (1, MessageType.REGION_REGISTER))
                    return frame


class SharedMemoryDisabledTests(DaemonTestCase):
    """The default configuration: no regions."""

    def test_register_is_shared_memory_disabled(self):
        client = self.connect()
        self.assertNotIn("shared-memory", client.hello().get("features", []))
        with self.assertRaises(EdgeError) as raised:
            client.register_region("cam", 4096)
        self.assertEqual(raised.exception.code, "shared_memory_disabled")
        self.assertEqual(client.health()["status"], "ok")


if __name__ == "__main__":
    unittest.main()
