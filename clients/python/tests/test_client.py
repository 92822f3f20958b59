"""The client against a scripted fake daemon on a real UNIX socket (no edged needed): routing by request id,
answers in any order, events between answers, refusals, lost connections, timeouts, unsubscribe. Plus the
default socket path rule and connect errors."""

import os
import shutil
import socket
import struct
import tempfile
import threading
import unittest
from unittest import mock

import support  # noqa: F401
import edgeruntime
from edgeruntime import EdgeClient, EdgeConnectionError, EdgeError, EdgeTimeout, Tensor
from edgeruntime.client import SERVICE_SOCKET_PATH, default_socket_path
from edgeruntime.frames import FLAG_ERROR, FLAG_RESPONSE, FrameDecoder, MessageType, encode_frame
from edgeruntime.tensors import HAVE_NUMPY


class FakeDaemon:
    """Listens on a temporary UNIX socket; ``run(script)`` accepts one connection and runs script(self) on a
    thread. ``finish()`` joins it and re-raises whatever the script raised (its asserts count)."""

    def __init__(self):
        self.directory = tempfile.mkdtemp(prefix="edgeruntime-fake-")
        self.path = os.path.join(self.directory, "fake.sock")
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        self.listener.listen(4)
        self.listener.settimeout(5)
        self.conn = None
        self.decoder = FrameDecoder()
        self.error = None
        self.thread = None

    def run(self, script):
        def body():
            try:
                self.conn, _ = self.listener.accept()
                self.conn.settimeout(5)
                script(self)
            except BaseException as e:  # surfaced by finish()
                self.error = e

        self.thread = threading.Thread(target=body, daemon=True)
        self.thread.start()
        return self

    def receive(self):
        while True:
            frame = self.decoder.next_frame()
            if frame is not None:
                return frame
            data = self.conn.recv(65536)
            if not data:
                raise EOFError("the client closed the connection")
            self.decoder.feed(data)

    def wait_for_eof(self):
        while self.conn.recv(65536):
            pass

    def reply(self, request, header, payload=b"", flags=FLAG_RESPONSE, message_type=None, request_id=None):
        self.conn.sendall(encode_frame(request.type if message_type is None else message_type,
                                       request.request_id if request_id is None else request_id,
                                       header, payload, flags))

    def finish(self):
        self.thread.join(10)
        if self.thread.is_alive():
            raise AssertionError("the fake daemon's script did not finish")
        if self.error is not None:
            raise self.error

    def close(self):
        for s in (self.conn, self.listener):
            if s is not None:
                s.close()
        shutil.rmtree(self.directory, ignore_errors=True)


class RoutingTests(unittest.TestCase):
    def setUp(self):
        self.fake = FakeDaemon()
        self.addCleanup(self.fake.close)

    def client(self, **options):
        client = EdgeClient(self.fake.path, **options)
        self.addCleanup(client.close)
        return client

    def test_answers_in_reverse_order_reach_their_callers(self):
        def script(fake):
            first, second = fake.receive(), fake.receive()
            for request in (second, first):
                fake.reply(request, {"models": [{"name": "for-%d" % request.type}], "status": "for-%d" % request.type})

        self.fake.run(script)
        client = self.client(use_numpy=False)
        results = {}
        threads = [threading.Thread(target=lambda: results.update(health=client.health())),
                   threading.Thread(target=lambda: results.update(models=client.models()))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        self.fake.finish()
        self.assertEqual(results["health"]["status"], "for-%d" % MessageType.HEALTH)
        self.assertEqual(results["models"], [{"name": "for-%d" % MessageType.MODELS}])

    def test_events_reach_their_subscription_while_other_requests_are_answered(self):
        def script(fake):
            subscribe = fake.receive()
            assert subscribe.type == MessageType.SUBSCRIBE and subscribe.json_object() == {}, subscribe
            fake.reply(subscribe, {"firstId": 0, "lastId": 0})
            event = lambda i, outputs=(), payload=b"": fake.reply(
                subscribe, {"id": i, "trigger": "press", "outputs": list(outputs)}, payload,
                message_type=MessageType.EVENT)
            event(1)
            health = fake.receive()
            event(2, [{"name": "output", "dtype": "float32", "shape": [1, 1], "offset": 0, "length": 4}],
                  struct.pack("<f", 0.75))
            fake.reply(health, {"status": "ok"})
            event(3)

        self.fake.run(script)
        client = self.client(use_numpy=False)
        subscription = client.subscribe(timeout=5)
        self.assertEqual((subscription.first_id, subscription.last_id), (0, 0))
        self.assertEqual(client.health(), {"status": "ok"})
        events = [next(subscription) for _ in range(3)]
        self.fake.finish()
        self.assertEqual([e.id for e in events], [1, 2, 3])
        self.assertEqual(events[0].trigger, "press")
        self.assertEqual(events[1].outputs["output"].item(), 0.75)
        self.assertEqual(subscription.last_event_id, 3)
        self.assertEqual(client.stray_frames, 0)

    def test_error_answer_raises_edge_error_with_code_and_message(self):
        def script(fake):
            request = fake.receive()
            fake.reply(request, {"code": "unknown_model", "message": "No model named 'x' is loaded."},
                       flags=FLAG_RESPONSE | FLAG_ERROR)
            fake.reply(fake.receive(), {"status": "ok"})

        self.fake.run(script)
        client = self.client()
        with self.assertRaises(EdgeError) as raised:
            client.info("x")
        self.assertEqual(raised.exception.code, "unknown_model")
        self.assertEqual(raised.exception.message, "No model named 'x' is loaded.")
        self.assertEqual(client.health()["status"], "ok")  # the connection stays usable
        self.fake.finish()

    def test_refusal_under_request_id_0_fails_requests_with_its_code(self):
        def script(fake):
            fake.receive()
            fake.reply(None, {"code": "busy", "message": "Too many connections (64)."},
                       flags=FLAG_RESPONSE | FLAG_ERROR, message_type=MessageType.HELLO, request_id=0)
            fake.conn.close()

        self.fake.run(script)
        client = self.client()
        with self.assertRaises(EdgeConnectionError) as raised:
            client.hello()
        self.assertEqual(raised.exception.code, "busy")
        with self.assertRaises(ConnectionError) as again:  # also a built-in ConnectionError
            client.models()
        self.assertEqual(again.exception.code, "busy")
        self.fake.finish()

    def test_lost_connection_fails_requests_and_subscriptions(self):
        def script(fake):
            subscribe = fake.receive()
            fake.reply(subscribe, {"firstId": 1, "lastId": 4})
            fake.receive()
            fake.conn.shutdown(socket.SHUT_RDWR)

        self.fake.run(script)
        client = self.client()
        subscription = client.subscribe(since=4, timeout=5)
        with self.assertRaises(EdgeConnectionError) as raised:
            client.health()
        self.assertEqual(raised.exception.code, "connection_lost")
        self.assertIn(self.fake.path, raised.exception.message)
        with self.assertRaises(EdgeConnectionError):
            next(subscription)
        self.assertTrue(subscription.closed)
        self.fake.finish()

    def test_timeout_then_the_late_answer_is_dropped(self):
        timed_out = threading.Event()

        def script(fake):
            late = fake.receive()
            assert timed_out.wait(5)
            fake.reply(late, {"status": "late"})
            fake.reply(fake.receive(), {"models": [{"name": "vad"}]})

        self.fake.run(script)
        client = self.client(timeout=0.2)
        with self.assertRaises(TimeoutError) as raised:
            client.health()
        self.assertIsInstance(raised.exception, EdgeTimeout)
        timed_out.set()
        client.timeout = 5
        self.assertEqual(client.models(), [{"name": "vad"}])
        self.assertEqual(client.stray_frames, 1)
        self.fake.finish()

    def test_bytes_that_are_not_frames_break_the_connection(self):
        def script(fake):
            fake.receive()
            fake.conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")

        self.fake.run(script)
        client = self.client()
        with self.assertRaises(EdgeConnectionError) as raised:
            client.health()
        self.assertEqual(raised.exception.code, "bad_frame")
        self.fake.finish()

    def test_close_ends_iteration_and_fails_later_requests(self):
        def script(fake):
            fake.reply(fake.receive(), {"firstId": 0, "lastId": 0})
            fake.wait_for_eof()

        self.fake.run(script)
        client = self.client()
        subscription = client.subscribe()  # no timeout: iteration would wait forever
        received = []
        iterating = threading.Thread(target=lambda: received.extend(subscription))
        iterating.start()
        client.close()
        iterating.join(5)
        self.assertFalse(iterating.is_alive(), "closing the client must end iteration")
        self.assertEqual(received, [])
        with self.assertRaises(EdgeConnectionError) as raised:
            client.health()
        self.assertEqual(raised.exception.code, "connection_closed")
        self.fake.finish()

    def test_unsubscribe_names_the_subscription_and_drops_what_follows(self):
        def script(fake):
            subscribe = fake.receive()
            fake.reply(subscribe, {"firstId": 1, "lastId": 1})
            fake.reply(subscribe, {"id": 2}, message_type=MessageType.EVENT)
            unsubscribe = fake.receive()
            assert unsubscribe.type == MessageType.UNSUBSCRIBE
            assert unsubscribe.json_object() == {"requestId": subscribe.request_id}, unsubscribe.json_object()
            fake.reply(unsubscribe, {"requestId": subscribe.request_id, "unsubscribed": True})
            fake.reply(subscribe, {"id": 3}, message_type=MessageType.EVENT)  # as if it had crossed the unsubscribe
            fake.reply(fake.receive(), {"status": "ok"})

        self.fake.run(script)
        client = self.client()
        with client.subscribe(timeout=5) as subscription:
            self.assertEqual(next(subscription).id, 2)
            ack = subscription.close()
        self.assertEqual(ack, {"requestId": subscription.request_id, "unsubscribed": True})
        self.assertIsNone(subscription.close())  # twice is harmless and sends nothing
        with self.assertRaises(StopIteration):
            next(subscription)
        self.assertEqual(client.health(), {"status": "ok"})
        self.assertEqual(client.stray_frames, 1)
        self.fake.finish()

    def test_error_under_the_subscription_ends_it(self):
        def script(fake):
            subscribe = fake.receive()
            fake.reply(subscribe, {"firstId": 0, "lastId": 0})
            fake.reply(subscribe, {"code": "shutting_down", "message": "edged is stopping."},
                       flags=FLAG_RESPONSE | FLAG_ERROR, message_type=MessageType.EVENT)

        self.fake.run(script)
        subscription = self.client().subscribe(timeout=5)
        with self.assertRaises(EdgeError) as raised:
            next(subscription)
        self.assertEqual(raised.exception.code, "shutting_down")
        self.assertEqual(list(subscription), [])
        self.fake.finish()

    def test_subscribe_request_acknowledgement_and_timeouts(self):
        requests = []

        def script(fake):
            subscribe = fake.receive()
            requests.append(subscribe.json_object())
            fake.reply(subscribe, {"firstId": 5, "lastId": 9})
            fake.wait_for_eof()

        self.fake.run(script)
        client = self.client()
        subscription = client.subscribe(since=2, triggers=["press"], timeout=0.1)
        self.assertEqual((subscription.first_id, subscription.last_id), (5, 9))
        self.assertEqual(subscription.missed, 2)  # ids 3 and 4 were removed by retention
        with self.assertRaises(EdgeTimeout):
            next(subscription)
        self.assertIsNone(subscription.get(timeout=0.05))
        self.assertFalse(subscription.closed)
        client.close()
        self.fake.finish()
        self.assertEqual(requests, [{"since": 2, "triggers": ["press"]}])
        with self.assertRaises(ValueError):
            client.subscribe(since=-1)

    def test_subscribe_refused_raises_and_leaves_no_route(self):
        def script(fake):
            subscribe = fake.receive()
            fake.reply(subscribe, {"code": "bad_request", "message": "No result store is configured."},
                       flags=FLAG_RESPONSE | FLAG_ERROR)
            fake.reply(subscribe, {"id": 1}, message_type=MessageType.EVENT)
            fake.reply(fake.receive(), {"status": "ok"})

        self.fake.run(script)
        client = self.client()
        with self.assertRaises(EdgeError) as raised:
            client.subscribe()
        self.assertEqual(raised.exception.code, "bad_request")
        client.health()
        self.assertEqual(client.stray_frames, 1)
        self.fake.finish()

    def test_events_expose_a_caption_as_sent(self):
        caption = {"text": "a dark sneaker", "tokens": 4, "firstTokenMs": 12.5, "totalMs": 40.0}

        def script(fake):
            subscribe = fake.receive()
            fake.reply(subscribe, {"firstId": 1, "lastId": 2})
            fake.reply(subscribe, {"id": 1, "trigger": "press", "outputs": []}, message_type=MessageType.EVENT)
            fake.reply(subscribe, {"id": 2, "trigger": "door-camera", "model": "vlm-fashion", "outputs": [],
                                   "caption": caption}, message_type=MessageType.EVENT)
            fake.wait_for_eof()

        self.fake.run(script)
        client = self.client()
        subscription = client.subscribe(since=0, timeout=5)
        plain, captioned = next(subscription), next(subscription)
        client.close()
        self.fake.finish()
        self.assertIsNone(plain.caption)
        self.assertEqual((captioned.model, captioned.caption), ("vlm-fashion", caption))
        self.assertTrue(captioned.ok)
        self.assertIn("caption='a dark sneaker'", repr(captioned))

    def test_infer_and_inject_on_the_wire(self):
        seen = {}

        def script(fake):
            infer = fake.receive()
            seen["infer"] = infer.json_object()
            seen["payload"] = bytes(infer.payload)
            fake.reply(infer, {"model": "m", "timing": {"totalUs": 5.0}, "outputs": [
                {"name": "a", "dtype": "uint8", "shape": [3], "offset": 0, "length": 3},
                {"name": "b", "dtype": "int64", "shape": [], "offset": 8, "length": 8}]},
                b"\x01\x02\x03\x00\x00\x00\x00\x00" + struct.pack("<q", -9))
            inject = fake.receive()
            seen["inject"] = inject.json_object()
            fake.reply(inject, {"sensor": "env", "at": "2026-11-26T10:00:00+00:00"})

        self.fake.run(script)
        client = self.client(use_numpy=False)
        result = client.infer("m", {"x": ("uint8", [3], b"abc"), "y": ("float32", [1], [2.0])}, outputs=["a", "b"])
        self.assertEqual(result.timing, {"totalUs": 5.0})
        self.assertEqual(result["a"], Tensor("uint8", [3], b"\x01\x02\x03"))
        self.assertEqual(result["b"].item(), -9)
        answer = client.inject("env", values={"temperature": 31.5})
        self.fake.finish()
        self.assertEqual(answer["sensor"], "env")
        self.assertEqual([(d["name"], d["offset"], d["length"]) for d in seen["infer"]["inputs"]],
                         [("x", 0, 3), ("y", 8, 4)])
        self.assertEqual(seen["infer"]["outputs"], ["a", "b"])
        self.assertEqual(seen["payload"], b"abc\x00\x00\x00\x00\x00" + struct.pack("<f", 2.0))
        self.assertEqual(seen["inject"], {"sensor": "env", "values": [{"channel": "temperature", "value": 31.5}]})


class ConnectTests(unittest.TestCase):
    def test_missing_socket_names_the_path(self):
        path = os.path.join(tempfile.gettempdir(), "edgeruntime-no-such-dir", "edged.sock")
        with self.assertRaises(ConnectionError) as raised:
            EdgeClient(path)
        self.assertIsInstance(raised.exception, EdgeError)
        self.assertEqual(raised.exception.code, "connect_failed")
        self.assertIn(path, str(raised.exception))
        self.assertIn("Is edged running", str(raised.exception))

    def test_stale_socket_file_says_nothing_accepts(self):
        directory = tempfile.mkdtemp(prefix="edgeruntime-stale-")
        self.addCleanup(shutil.rmtree, directory, True)
        path = os.path.join(directory, "edged.sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        listener.close()  # the file stays, nobody listens: what a crashed daemon leaves
        with self.assertRaises(ConnectionError) as raised:
            edgeruntime.connect(path)
        self.assertIn("nothing accepts", str(raised.exception))

    def test_default_path_rule(self):
        cases = [
            ({"EDGERUNTIME_SOCKET": "/a.sock", "EDGED_SOCKET": "/b.sock", "XDG_RUNTIME_DIR": "/x"}, "/a.sock"),
            ({"EDGED_SOCKET": "/b.sock", "RUNTIME_DIRECTORY": "/r"}, "/b.sock"),
            ({"RUNTIME_DIRECTORY": "/r1:/r2", "XDG_RUNTIME_DIR": "/x"}, "/r1/edged.sock"),
            ({"XDG_RUNTIME_DIR": "/x"}, "/x/edgeruntime/edged.sock"),
            ({}, os.path.abspath(os.path.join("run", "edged.sock"))),
        ]
        for environment, expected in cases:
            with self.subTest(environment=environment), mock.patch.dict(os.environ, environment, clear=True), \
                    mock.patch("os.path.exists", return_value=False):
                self.assertEqual(default_socket_path(), expected)

    def test_default_path_falls_back_to_the_system_service(self):
        with mock.patch.dict(os.environ, {"XDG_RUNTIME_DIR": "/x"}, clear=True), \
                mock.patch("os.path.exists", side_effect=lambda p: p == SERVICE_SOCKET_PATH):
            self.assertEqual(default_socket_path(), SERVICE_SOCKET_PATH)
        # but never over a socket named explicitly
        with mock.patch.dict(os.environ, {"EDGERUNTIME_SOCKET": "/mine.sock"}, clear=True), \
                mock.patch("os.path.exists", side_effect=lambda p: p == SERVICE_SOCKET_PATH):
            self.assertEqual(default_socket_path(), "/mine.sock")

    def test_use_numpy_true_without_numpy_is_refused(self):
        if HAVE_NUMPY:
            self.skipTest("numpy is installed")
        with self.assertRaises(ValueError):
            EdgeClient("/nonexistent.sock", use_numpy=True)


if __name__ == "__main__":
    unittest.main()
