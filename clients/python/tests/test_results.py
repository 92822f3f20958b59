"""Results: subscribe / event / unsubscribe / inject against the real edged (docs/protocol.md "Results").

These need the daemon's sensors, triggers and result store. Each test starts edged with support.results_config():
a simulated GPIO button whose rising edge runs Silero VAD over the last 256 ms of looping speech and stores the
result. Pressing the button is ``inject("button", edge="rising")``; each press is one stored result, delivered to
subscribers as an ``event`` with trigger "press" and the outputs ``output`` and ``stateN``.

A daemon without these features refuses the configuration at start; then every test here fails (never skips)
with edged's message.
"""

import shutil
import socket
import tempfile
import time
import unittest
import wave
from pathlib import Path

import support
from support import Edged, basic_config, results_config
from edgeruntime import EdgeError, Tensor
from edgeruntime.frames import FLAG_RESPONSE, FrameDecoder, MessageType, encode_frame

EVENT_TIMEOUT = 10.0  # one press -> one stored result takes milliseconds; this only bounds a failure
QUIET = 0.5  # how long "nothing more arrives" is watched for
PRE_MS = 256  # the trigger's window: the last 256 ms of speech before the press


class ResultsTestCase(unittest.TestCase):
    """edged with the results configuration and a store in a fresh temporary directory."""

    def setUp(self):
        support.require(support.SILERO_VAD)
        support.require(support.SPEECH_WAV)
        self.directory = tempfile.mkdtemp(prefix="edgeruntime-py-results-")
        self.addCleanup(shutil.rmtree, self.directory, True)
        self.store = Path(self.directory) / "results"
        self.edged = Edged(results_config(self.store), self.directory)
        self.addCleanup(self.edged.kill)
        self.clients = []
        self.start_edged()

    def start_edged(self):
        """Starts edged and waits until the speech sensor has sensed a whole trigger window, so that a press
        captures the 256 ms it asks for (a press at the very start would find only what has been sensed since;
        test_results_press_before_the_window_is_sensed_is_still_stored covers that case)."""
        self.edged.start()
        with wave.open(str(support.SPEECH_WAV)) as wav:
            needed = wav.getframerate() * (PRE_MS + 100) // 1000
        with self.edged.client() as client:
            deadline = time.monotonic() + 5.0
            while True:
                speech = [s for s in client.health().get("sensors", []) if s["name"] == "speech"]
                sensed = speech[0].get("readings", 0) if speech else 0
                if sensed >= needed:
                    return
                if time.monotonic() > deadline:
                    self.fail("the speech sensor sensed {} samples in 5 s, a window needs {}: {}".format(
                        sensed, needed, speech))
                time.sleep(0.05)  # the realtime WAV source delivers in chunks; poll gently

    def tearDown(self):
        self.close_clients()
        if self.edged.process is not None:
            self.assert_stops_cleanly()

    def close_clients(self):
        for client in self.clients:
            client.close()
        self.clients = []

    def assert_stops_cleanly(self):
        code = self.edged.stop()
        self.assertEqual(code, 0, "edged exited with {} on SIGTERM.\nlog:\n{}".format(code, self.edged.log))

    def connect(self):
        client = self.edged.client(use_numpy=False)
        self.clients.append(client)
        return client

    def wait_for_sensor(self, client, name):
        """Polls health until the named sensor is open ("ok"), failing with its last status after EVENT_TIMEOUT."""
        deadline = time.monotonic() + EVENT_TIMEOUT
        while True:
            sensor = next((s for s in client.health().get("sensors", []) if s["name"] == name), None)
            if sensor is not None and sensor.get("state") == "ok":
                return
            if time.monotonic() > deadline:
                self.fail("sensor {} did not open in {} s: {}".format(name, EVENT_TIMEOUT, sensor))
            time.sleep(0.01)

    def press(self, client):
        answer = client.inject("button", edge="rising")
        self.assertEqual(answer["sensor"], "button")
        self.assertIsInstance(answer["at"], str)
        return answer

    def press_and_receive(self, client, subscription, count):
        """Presses the button count times, each time waiting for its result to be delivered (one press at a time,
        so no press can land while the previous run is still in progress)."""
        events = []
        for _ in range(count):
            self.press(client)
            event = next(subscription)
            self.assert_press_result(event)
            events.append(event)
        return events

    def assert_press_result(self, event):
        self.assertEqual(event.trigger, "press")
        self.assertTrue(event.ok, "the triggered run failed: {}".format(event.error))
        self.assertEqual(event.model, "vad")
        self.assertIn("button", event.cause or "")
        self.assertIsInstance(event.stored_at, str)
        self.assertEqual((event.window or {}).get("sensor"), "speech")
        self.assertEqual(set(event.outputs), {"output", "stateN"})
        output, state = event.outputs["output"], event.outputs["stateN"]
        self.assertIsInstance(output, Tensor)
        self.assertEqual((output.dtype, state.dtype), ("float32", "float32"))
        self.assertGreater(output.size, 0)
        self.assertTrue(all(0.0 <= p <= 1.0 for p in output.values), "probabilities out of [0, 1]: {}".format(output))
        self.assertEqual(state.size % 256, 0)
        self.assertGreater(state.size, 0)

    def assert_nothing_more(self, subscription):
        self.assertIsNone(subscription.get(timeout=QUIET), "an event arrived that should not have")

    def assert_ids_increase(self, ids):
        self.assertEqual(ids, sorted(set(ids)), "ids not strictly increasing: {}".format(ids))


class ResultsSubscribeTests(ResultsTestCase):
    def test_results_subscribe_without_since_gets_new_results_in_order(self):
        client = self.connect()
        subscription = client.subscribe(timeout=EVENT_TIMEOUT)
        self.assertEqual((subscription.first_id, subscription.last_id), (0, 0))  # a fresh store is empty
        events = self.press_and_receive(client, subscription, 3)
        ids = [e.id for e in events]
        self.assertEqual(ids, [1, 2, 3])
        for event in events:
            self.assert_press_result(event)
        self.assert_nothing_more(subscription)

    def test_results_subscribe_since_0_replays_everything_stored_oldest_first_then_new(self):
        producer = self.connect()
        witness = producer.subscribe(timeout=EVENT_TIMEOUT)
        stored = self.press_and_receive(producer, witness, 3)

        replay = self.connect().subscribe(since=0, timeout=EVENT_TIMEOUT)
        self.assertEqual((replay.first_id, replay.last_id), (1, 3))
        self.assertEqual(replay.missed, 0)
        replayed = [next(replay) for _ in range(3)]
        self.assertEqual([e.id for e in replayed], [e.id for e in stored])
        for original, again in zip(stored, replayed):
            self.assert_press_result(again)
            self.assertEqual(again.stored_at, original.stored_at)
            self.assertEqual(again.outputs["stateN"], original.outputs["stateN"])  # the stored bytes themselves
        # then live results follow the backlog without a gap
        self.press(producer)
        self.assertEqual(next(replay).id, 4)
        self.assertEqual(next(witness).id, 4)
        self.assert_nothing_more(replay)

    def test_results_resume_with_since_after_the_client_reconnects(self):
        first = self.connect()
        subscription = first.subscribe(timeout=EVENT_TIMEOUT)
        processed = self.press_and_receive(first, subscription, 2)
        last_processed = processed[-1].id
        first.close()  # the app stops; results keep being stored meanwhile

        other = self.connect()
        meanwhile = self.press_and_receive(other, other.subscribe(timeout=EVENT_TIMEOUT), 2)
        self.assertEqual([e.id for e in meanwhile], [last_processed + 1, last_processed + 2])

        resumed = self.connect().subscribe(since=last_processed, timeout=EVENT_TIMEOUT)
        self.assertEqual(resumed.last_id, meanwhile[-1].id)
        received = [next(resumed) for _ in range(2)]
        self.assertEqual([e.id for e in received], [e.id for e in meanwhile])  # no gap
        self.assert_nothing_more(resumed)  # and no duplicate

    def test_results_resume_with_since_after_edged_restarts(self):
        client = self.connect()
        subscription = client.subscribe(timeout=EVENT_TIMEOUT)
        before = self.press_and_receive(client, subscription, 3)
        self.assertEqual([e.id for e in before], [1, 2, 3])
        last_processed = before[1].id  # say the app had processed 2 when edged went down

        self.assert_stops_cleanly()
        with self.assertRaises(EdgeError) as raised:  # the subscription ends with the daemon
            next(subscription)
        self.assertIn(raised.exception.code, ("connection_lost", "shutting_down"))
        self.close_clients()

        self.start_edged()  # same configuration, same store
        client = self.connect()
        resumed = client.subscribe(since=last_processed, timeout=EVENT_TIMEOUT)
        self.assertEqual((resumed.first_id, resumed.last_id), (1, 3))
        again = next(resumed)
        self.assertEqual(again.id, 3)
        self.assert_press_result(again)
        self.assertEqual(again.stored_at, before[2].stored_at)
        self.assertEqual(again.outputs["stateN"], before[2].outputs["stateN"])
        self.press(client)
        after = next(resumed)
        self.assertEqual(after.id, 4)  # ids continue after the restart, none reused
        self.assert_press_result(after)
        self.assert_nothing_more(resumed)
        everything = client.subscribe(since=0, timeout=EVENT_TIMEOUT)
        self.assertEqual([next(everything).id for _ in range(4)], [1, 2, 3, 4])

    def test_results_unsubscribe_stops_events(self):
        client = self.connect()
        subscription = client.subscribe(timeout=EVENT_TIMEOUT)
        first = self.press_and_receive(client, subscription, 1)[0]
        ack = subscription.close()
        self.assertEqual(ack, {"requestId": subscription.request_id, "unsubscribed": True})

        # Another subscription on the same connection sees the next result; the closed one must get nothing.
        watcher = client.subscribe(since=first.id, timeout=EVENT_TIMEOUT)
        self.press(client)
        self.assertEqual(next(watcher).id, first.id + 1)
        self.assert_nothing_more(watcher)
        self.assertEqual(client.stray_frames, 0, "edged sent frames under the unsubscribed request id")
        with self.assertRaises(StopIteration):
            next(subscription)

    def test_results_several_subscriptions_and_requests_share_one_connection(self):
        client = self.connect()
        a = client.subscribe(timeout=EVENT_TIMEOUT)
        b = client.subscribe(triggers=["press"], timeout=EVENT_TIMEOUT)
        self.assertNotEqual(a.request_id, b.request_id)
        self.press(client)
        # requests answered while events are on their way
        state = Tensor.zeros("float32", [2, 1, 128])
        for _ in range(5):
            out = client.infer("vad", {"input": ("float32", [1, 512], [0.0] * 512), "state": state,
                                       "sr": ("int64", [], [16000])})
            state = out["stateN"]
        event_a, event_b = next(a), next(b)
        self.assertEqual(event_a.id, event_b.id)
        self.assert_press_result(event_b)

    def test_results_trigger_filter(self):
        client = self.connect()
        try:
            other = client.subscribe(triggers=["no-such-trigger"], timeout=EVENT_TIMEOUT)
        except EdgeError as e:
            # A daemon may refuse an unknown trigger name outright; that is a valid answer too.
            self.assertEqual(e.code, "bad_request")
            other = None
        press_only = client.subscribe(triggers=["press"], timeout=EVENT_TIMEOUT)
        self.press(client)
        self.assertEqual(next(press_only).trigger, "press")
        if other is not None:
            self.assert_nothing_more(other)

    def test_results_inject_into_an_unknown_or_real_sensor_is_unknown_sensor(self):
        client = self.connect()
        for sensor in ("no-such-sensor", "speech"):  # "speech" exists but is not simulated
            with self.subTest(sensor=sensor), self.assertRaises(EdgeError) as raised:
                client.inject(sensor, edge="rising")
            self.assertEqual(raised.exception.code, "unknown_sensor")
            self.assertIn(sensor, raised.exception.message)
        self.assertEqual(client.health()["status"], "ok")  # the connection stays open

    def test_results_health_reports_sensors_triggers_and_store(self):
        client = self.connect()
        subscription = client.subscribe(timeout=EVENT_TIMEOUT)
        event = self.press_and_receive(client, subscription, 1)[0]
        # The trigger's counters are updated just after the result is stored (and so maybe after its delivery).
        deadline = time.monotonic() + 2.0
        while True:
            health = client.health()
            press = [t for t in health["triggers"] if t["name"] == "press"]
            if (press and press[0]["completed"] + press[0]["failed"] >= 1) or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        self.assertEqual(health["status"], "ok", health.get("problems"))
        sensors = {s["name"]: s for s in health["sensors"]}
        self.assertEqual(set(sensors), {"button", "speech"})
        self.assertEqual(sensors["speech"]["state"], "ok")
        self.assertGreater(sensors["speech"]["readings"], 0)
        triggers = {t["name"]: t for t in health["triggers"]}
        self.assertEqual(triggers["press"]["fired"], 1)
        self.assertEqual(triggers["press"]["completed"], 1)
        self.assertEqual(triggers["press"]["failed"], 0)
        self.assertEqual(health["store"]["lastId"], event.id)
        self.assertEqual(health["store"]["firstId"], 1)

    def test_results_press_before_the_window_is_sensed_is_still_stored(self):
        # Restart and press at once: the window reaches back before the speech sensor started. Whether the run
        # copes with the short window or fails, the result is stored and delivered ("the failure is stored too").
        self.assert_stops_cleanly()
        self.edged.start()
        client = self.connect()
        subscription = client.subscribe(since=0, timeout=EVENT_TIMEOUT)
        # A press is delivered only once the button has opened (edged serves after its sensors settle, but say so
        # here rather than rely on it); the speech sensor is deliberately not waited for.
        self.wait_for_sensor(client, "button")
        self.press(client)
        event = next(subscription)
        self.assertEqual((event.id, event.trigger), (1, "press"))
        if event.ok:
            self.assertEqual(set(event.outputs), {"output", "stateN"})
        else:
            self.assertEqual(event.outputs, {})
            self.assertIsInstance(event.error, str)

    def test_results_event_frames_on_the_wire(self):
        # The frames module alone: the acknowledgement and each event come under the subscribe's request id.
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as raw:
            raw.settimeout(EVENT_TIMEOUT)
            raw.connect(str(self.edged.socket_path))
            raw.sendall(encode_frame(MessageType.SUBSCRIBE, 5, {"since": 0}))
            raw.sendall(encode_frame(MessageType.INJECT, 6, {"sensor": "button", "edge": "rising"}))
            decoder, frames = FrameDecoder(), []
            deadline = time.monotonic() + EVENT_TIMEOUT
            while not any(f.type == MessageType.EVENT for f in frames) and time.monotonic() < deadline:
                frames.extend(decoder.frames(raw.recv(65536)))
        by_type = {}
        for frame in frames:
            by_type.setdefault(frame.type, frame)
        self.assertEqual(set(by_type), {MessageType.SUBSCRIBE, MessageType.INJECT, MessageType.EVENT})
        ack, event = by_type[MessageType.SUBSCRIBE], by_type[MessageType.EVENT]
        self.assertEqual((ack.request_id, ack.flags), (5, FLAG_RESPONSE))
        self.assertEqual(ack.json_object(), {"firstId": 0, "lastId": 0})
        self.assertEqual(by_type[MessageType.INJECT].request_id, 6)
        self.assertEqual((event.request_id, event.flags), (5, FLAG_RESPONSE))
        body = event.json_object()
        self.assertEqual((body["id"], body["trigger"]), (1, "press"))
        for descriptor in body["outputs"]:
            self.assertEqual(descriptor["offset"] % 8, 0)
            self.assertLessEqual(descriptor["offset"] + descriptor["length"], len(event.payload))


class ResultsWithoutStoreTests(unittest.TestCase):
    def test_results_subscribe_without_a_store_is_bad_request(self):
        edged = Edged(basic_config())
        self.addCleanup(edged.cleanup)
        edged.start()
        with edged.client() as client:
            with self.assertRaises(EdgeError) as raised:
                client.subscribe()
            self.assertEqual(raised.exception.code, "bad_request")
            self.assertEqual(client.health()["status"], "ok")
        self.assertEqual(edged.stop(), 0)


if __name__ == "__main__":
    unittest.main()
