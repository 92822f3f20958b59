"""Against the real published edged (EDGERUNTIME_EDGED), one daemon per test, started with a temporary
configuration and socket and stopped with SIGTERM, which must exit 0. Silero VAD from the assets is the model."""

import array
import os
import shutil
import socket
import tempfile
import threading
import unittest

import support
from support import Edged, basic_config
import edgeruntime
from edgeruntime import EdgeConnectionError, EdgeError, Tensor, audio
from edgeruntime.frames import FLAG_ERROR, FLAG_RESPONSE, FrameDecoder, MessageType, decode_frame, encode_frame
from edgeruntime.tensors import HAVE_NUMPY

if HAVE_NUMPY:
    import numpy as np

FRAME = 512
RATE = 16000


def vad_inputs_plain(samples, state):
    return {"input": ("float32", [1, FRAME], samples), "state": state, "sr": ("int64", [], [RATE])}


def run_vad(client, samples, use_numpy):
    """Silero VAD frame by frame over 16 kHz samples, carrying the state: one speech probability per frame."""
    probabilities = []
    if use_numpy:
        signal = np.frombuffer(samples, dtype=np.float32)
        state = np.zeros((2, 1, 128), np.float32)
        sr = np.array(RATE, np.int64)
        for start in range(0, len(signal) - FRAME + 1, FRAME):
            out = client.infer("vad", {"input": signal[start:start + FRAME].reshape(1, FRAME), "state": state, "sr": sr})
            probabilities.append(float(out["output"][0, 0]))
            state = out["stateN"]
    else:
        state = Tensor.zeros("float32", [2, 1, 128])
        for start in range(0, len(samples) - FRAME + 1, FRAME):
            out = client.infer("vad", vad_inputs_plain(samples[start:start + FRAME], state))
            probabilities.append(out["output"].item())
            state = out["stateN"]  # a Tensor goes straight back in
    return probabilities


def wav_16k(path):
    samples, rate = audio.read_wav(str(support.require(path)))
    return audio.resample(samples, rate, RATE)


class DaemonTestCase(unittest.TestCase):
    """Starts edged before each test; after it, SIGTERM must stop it with exit code 0."""

    config = None  # type: dict

    def setUp(self):
        support.require(support.SILERO_VAD)
        self.edged = Edged(self.config or basic_config())
        self.addCleanup(self.edged.cleanup)
        self.edged.start()
        self.clients = []

    def tearDown(self):
        for client in self.clients:
            client.close()
        if self.edged.process is not None:
            code = self.edged.stop()
            self.assertEqual(code, 0, "edged exited with {} on SIGTERM.\nlog:\n{}".format(code, self.edged.log))

    def connect(self, **options):
        client = self.edged.client(**options)
        self.clients.append(client)
        return client


class DaemonTests(DaemonTestCase):
    def test_hello(self):
        hello = self.connect().hello()
        self.assertEqual(hello["protocolVersion"], 1)
        self.assertIn(1, hello["protocolVersions"])
        self.assertIsInstance(hello["daemonVersion"], str)
        self.assertIn("CPUExecutionProvider", hello["providers"])
        self.assertEqual(hello["peer"]["pid"], os.getpid())
        self.assertEqual(hello["peer"]["uid"], os.getuid())

    def test_models_lists_the_preloaded_model(self):
        models = self.connect().models()
        self.assertEqual([m["name"] for m in models], ["vad"])
        self.assertTrue(models[0]["path"].endswith("silero_vad_v5.onnx"))
        self.assertIn("CPUExecutionProvider", models[0]["providers"])

    def test_load_info_unload(self):
        client = self.connect()
        loaded = client.load("vad2", str(support.SILERO_VAD), providers=["cpu"], on_missing_provider="fallback",
                             kernel_fallback="auto")
        self.assertEqual(loaded["name"], "vad2")
        self.assertEqual([i["name"] for i in loaded["inputs"]], ["input", "state", "sr"])
        info = client.info("vad2")
        state = [i for i in info["inputs"] if i["name"] == "state"][0]
        self.assertEqual((state["dtype"], state["shape"][0], state["shape"][2]), ("float32", 2, 128))
        sr = [i for i in info["inputs"] if i["name"] == "sr"][0]
        self.assertEqual((sr["dtype"], sr["shape"]), ("int64", []))
        self.assertEqual({o["name"] for o in info["outputs"]}, {"output", "stateN"})
        self.assertGreater(info["sizeBytes"], 0)
        self.assertEqual(sorted(m["name"] for m in client.models()), ["vad", "vad2"])
        self.assertEqual(client.unload("vad2"), {"name": "vad2", "unloaded": True})
        self.assertEqual([m["name"] for m in client.models()], ["vad"])
        with self.assertRaises(EdgeError) as raised:
            client.info("vad2")
        self.assertEqual(raised.exception.code, "unknown_model")

    def test_load_with_max_batch_and_batch_axes(self):
        client = self.connect()
        with self.assertRaises(EdgeError) as raised:
            client.load("vad4", "silero_vad_v5.onnx", max_batch=4)  # state's first dimension is 2, not the batch
        self.assertEqual(raised.exception.code, "bad_request")
        self.assertIn("Input 'state' [2,?,128]", raised.exception.message)
        loaded = client.load("vad4", "silero_vad_v5.onnx", max_batch=4,
                             batch_axes={"input": 0, "state": 1, "output": 0, "stateN": 1})
        self.assertEqual(loaded["maxBatch"], 4)
        self.assertEqual(client.info("vad4")["maxBatch"], 4)
        alone = client.infer("vad4", vad_inputs_plain([0.1] * FRAME, Tensor.zeros("float32", [2, 1, 128])))
        self.assertEqual(list(alone["stateN"].shape), [2, 1, 128])
        self.assertNotIn("maxBatch", client.info("vad"))

    def test_load_relative_path_from_the_model_directory(self):
        client = self.connect()
        self.assertEqual(client.load("again", "silero_vad_v5.onnx")["name"], "again")
        out = client.infer("again", vad_inputs_plain([0.0] * FRAME, Tensor.zeros("float32", [2, 1, 128])))
        self.assertEqual(set(out), {"output", "stateN"})

    def test_load_missing_file_is_model_not_found(self):
        client = self.connect()
        with self.assertRaises(EdgeError) as raised:
            client.load("ghost", "no_such_model.onnx")
        self.assertEqual(raised.exception.code, "model_not_found")
        self.assertIn("no_such_model.onnx", raised.exception.message)
        self.assertEqual([m["name"] for m in client.models()], ["vad"])  # and the connection stays usable

    def test_load_under_a_taken_name_is_model_exists(self):
        with self.assertRaises(EdgeError) as raised:
            self.connect().load("vad", "silero_vad_v5.onnx")
        self.assertEqual(raised.exception.code, "model_exists")

    def test_load_a_file_that_is_not_onnx_is_model_load_failed(self):
        bad = self.edged.directory / "corrupt.onnx"
        bad.write_bytes(b"ONNX? no: a truncated, corrupt file \x08\x07\xff")
        with self.assertRaises(EdgeError) as raised:
            self.connect().load("corrupt", str(bad))
        self.assertEqual(raised.exception.code, "model_load_failed")

    @unittest.skipUnless(HAVE_NUMPY, "numpy is not installed (the plain path is tested without it)")
    def test_infer_with_numpy(self):
        client = self.connect(use_numpy=True)
        out = client.infer("vad", {"input": np.zeros((1, FRAME), np.float32), "state": np.zeros((2, 1, 128), np.float32),
                                   "sr": np.array(RATE, np.int64)})
        self.assertIsInstance(out["output"], np.ndarray)
        self.assertEqual((out["output"].dtype, out["output"].shape), (np.float32, (1, 1)))
        self.assertEqual(out["stateN"].shape, (2, 1, 128))
        self.assertTrue(0.0 <= float(out["output"][0, 0]) < 0.5)  # zeros are not speech
        self.assertEqual(out.model, "vad")
        self.assertGreater(out.timing["totalUs"], 0)
        only = client.infer("vad", {"input": np.zeros((1, FRAME), np.float32), "state": out["stateN"],
                                    "sr": np.array(RATE, np.int64)}, outputs=["output"])
        self.assertEqual(list(only), ["output"])

    def test_infer_without_numpy(self):
        client = self.connect(use_numpy=False)
        out = client.infer("vad", vad_inputs_plain([0.0] * FRAME, Tensor.zeros("float32", [2, 1, 128])))
        self.assertIsInstance(out["output"], Tensor)
        self.assertEqual((out["output"].dtype, out["output"].shape), ("float32", (1, 1)))
        self.assertEqual((out["stateN"].dtype, out["stateN"].shape), ("float32", (2, 1, 128)))
        self.assertTrue(0.0 <= out["output"].item() < 0.5)
        self.assertIn("inferenceUs", out.timing)
        # a plain array.array of samples and a raw-bytes scalar work too
        again = client.infer("vad", {"input": ("float32", [1, FRAME], array.array("f", bytes(4 * FRAME))),
                                     "state": out["stateN"], "sr": ("int64", [], (RATE).to_bytes(8, "little"))})
        self.assertEqual(again["output"].shape, (1, 1))

    def test_vad_over_speech_and_silence_without_numpy(self):
        self.check_vad(use_numpy=False)

    @unittest.skipUnless(HAVE_NUMPY, "numpy is not installed (the plain path is tested without it)")
    def test_vad_over_speech_and_silence_with_numpy(self):
        self.check_vad(use_numpy=True)

    def check_vad(self, use_numpy):
        client = self.connect(use_numpy=use_numpy)
        speech = run_vad(client, wav_16k(support.SPEECH_WAV), use_numpy)
        silence = run_vad(client, wav_16k(support.SILENCE_WAV), use_numpy)
        speaking = sum(1 for p in speech if p >= 0.5)
        # espeak-ng leaves pauses between words, so not every frame is speech; most are.
        self.assertGreaterEqual(len(speech), 150)
        self.assertGreaterEqual(speaking / len(speech), 0.5, "only {} of {} speech frames scored >= 0.5".format(
            speaking, len(speech)))
        self.assertGreater(max(speech), 0.9)
        self.assertGreater(len(silence), 50)
        self.assertEqual([p for p in silence if p >= 0.5], [])

    @unittest.skipUnless(HAVE_NUMPY, "numpy is not installed")
    def test_numpy_and_plain_paths_give_identical_probabilities(self):
        samples = wav_16k(support.SPEECH_WAV)[:40 * FRAME]
        plain = run_vad(self.connect(use_numpy=False), samples, False)
        with_numpy = run_vad(self.connect(use_numpy=True), samples, True)
        self.assertEqual(len(plain), 40)
        self.assertEqual(plain, with_numpy)  # same model, same bytes in: bit-identical out

    def test_stats_count_requests_and_errors(self):
        client = self.connect()
        for _ in range(3):
            client.infer("vad", vad_inputs_plain([0.0] * FRAME, Tensor.zeros("float32", [2, 1, 128])))
        with self.assertRaises(EdgeError):
            client.infer("vad", {"input": ("float32", [1, FRAME], [0.0] * FRAME)})
        stats = {s["name"]: s for s in client.stats()}
        # count is successful runs; a refused request is counted in errors only
        self.assertEqual((stats["vad"]["count"], stats["vad"]["errors"]), (3, 1))
        self.assertGreater(stats["vad"]["p50Us"], 0)

    def test_health(self):
        client = self.connect()
        health = client.health()
        self.assertEqual(health["status"], "ok")
        self.assertEqual(health["models"], 1)
        self.assertGreaterEqual(health["connections"], 1)
        self.assertEqual(health["problems"], [])
        self.assertGreaterEqual(health["uptimeSeconds"], 0)

    def test_unknown_model(self):
        client = self.connect()
        for call in (lambda: client.infer("nope", vad_inputs_plain([0.0] * FRAME, Tensor.zeros("float32", [2, 1, 128]))),
                     lambda: client.info("nope"), lambda: client.unload("nope")):
            with self.assertRaises(EdgeError) as raised:
                call()
            self.assertEqual(raised.exception.code, "unknown_model")
            self.assertIn("nope", raised.exception.message)

    def test_invalid_input(self):
        client = self.connect()
        state = Tensor.zeros("float32", [2, 1, 128])
        wrong = {
            "wrong dtype": {"input": ("int32", [1, FRAME], [0] * FRAME), "state": state, "sr": ("int64", [], [RATE])},
            "missing input": {"input": ("float32", [1, FRAME], [0.0] * FRAME), "sr": ("int64", [], [RATE])},
            "unknown input": dict(vad_inputs_plain([0.0] * FRAME, state), extra=("float32", [1], [0.0])),
            "wrong fixed dimension": {"input": ("float32", [1, FRAME], [0.0] * FRAME),
                                      "state": Tensor.zeros("float32", [3, 1, 128]), "sr": ("int64", [], [RATE])},
            "wrong rank": {"input": ("float32", [FRAME], [0.0] * FRAME), "state": state, "sr": ("int64", [], [RATE])},
        }
        for what, inputs in wrong.items():
            with self.subTest(what), self.assertRaises(EdgeError) as raised:
                client.infer("vad", inputs)
            self.assertEqual(raised.exception.code, "invalid_input", what)
        self.assertEqual(client.health()["status"], "ok")

    def test_byte_length_that_does_not_match_the_shape_is_invalid_input(self):
        # The client refuses to build such a request, so send the frame by hand.
        client = self.connect()
        header = {"model": "vad", "inputs": [{"name": "sr", "dtype": "int64", "shape": [], "offset": 0, "length": 4}]}
        with self.assertRaises(EdgeError) as raised:
            client.request(MessageType.INFER, header, [b"\x80\x3e\x00\x00"])
        self.assertEqual(raised.exception.code, "invalid_input")

    def test_concurrent_requests_from_many_threads_share_one_connection(self):
        client = self.connect(use_numpy=False)
        inputs = [[(i + 1) * 0.01 * ((k % 7) - 3) for k in range(FRAME)] for i in range(4)]
        expected = [client.infer("vad", vad_inputs_plain(x, Tensor.zeros("float32", [2, 1, 128])))["stateN"].tobytes()
                    for x in inputs]
        failures = []

        def worker(i):
            try:
                for _ in range(25):
                    out = client.infer("vad", vad_inputs_plain(inputs[i], Tensor.zeros("float32", [2, 1, 128])))
                    if out["stateN"].tobytes() != expected[i]:
                        failures.append("thread {} got another request's answer".format(i))
            except Exception as e:  # noqa: BLE001 - reported below
                failures.append(repr(e))

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(failures, [])
        self.assertEqual(len(set(expected)), 4)  # the four answers really differ, so a mix-up would show

    def test_pure_frames_over_a_raw_socket(self):
        # The frames module alone is enough to talk to edged.
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as raw:
            raw.settimeout(10)
            raw.connect(str(self.edged.socket_path))
            raw.sendall(encode_frame(MessageType.HEALTH, 77, {}) + encode_frame(MessageType.MODELS, 78, {}))
            decoder, frames = FrameDecoder(), []
            while len(frames) < 2:
                frames.extend(decoder.frames(raw.recv(65536)))
            by_id = {f.request_id: f for f in frames}
            self.assertEqual(set(by_id), {77, 78})
            self.assertEqual((by_id[77].type, by_id[77].flags), (MessageType.HEALTH, FLAG_RESPONSE))
            self.assertEqual(by_id[78].json_object()["models"][0]["name"], "vad")

    def test_bytes_that_are_not_a_frame_get_bad_frame_under_id_0_and_a_closed_connection(self):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as raw:
            raw.settimeout(10)
            raw.connect(str(self.edged.socket_path))
            raw.sendall(b"GET / HTTP/1.1\r\nHost: edged\r\n\r\n")
            received = b""
            while True:
                chunk = raw.recv(65536)
                if not chunk:
                    break
                received += chunk
        frame = decode_frame(received)
        self.assertEqual(frame.request_id, 0)
        self.assertEqual(frame.flags, FLAG_RESPONSE | FLAG_ERROR)
        self.assertEqual(frame.error().code, "bad_frame")

    def test_requests_fail_with_connection_lost_when_edged_stops(self):
        client = self.connect()
        self.assertEqual(client.health()["status"], "ok")
        self.assertEqual(self.edged.stop(), 0)
        with self.assertRaises(EdgeConnectionError) as raised:
            client.health()
        self.assertEqual(raised.exception.code, "connection_lost")
        self.assertIn(str(self.edged.socket_path), raised.exception.message)

    def test_default_path_from_environment(self):
        old = os.environ.get("EDGERUNTIME_SOCKET")
        os.environ["EDGERUNTIME_SOCKET"] = str(self.edged.socket_path)
        try:
            with edgeruntime.connect() as client:
                self.assertEqual(client.path, str(self.edged.socket_path))
                self.assertEqual(client.hello()["protocolVersion"], 1)
        finally:
            if old is None:
                del os.environ["EDGERUNTIME_SOCKET"]
            else:
                os.environ["EDGERUNTIME_SOCKET"] = old


class ConfigurationRefusalTests(unittest.TestCase):
    def test_a_bad_configuration_exits_2_naming_the_field(self):
        directory = tempfile.mkdtemp(prefix="edgeruntime-py-")
        self.addCleanup(shutil.rmtree, directory, True)
        edged = Edged(dict(basic_config(), limits={"maxFrameBytes": 10}), directory)
        with self.assertRaises(AssertionError) as raised:
            edged.start()
        self.assertIn("exited with code 2", str(raised.exception))
        self.assertIn("maxFrameBytes", str(raised.exception))


if __name__ == "__main__":
    unittest.main()
