"""Pipelines: pipelines / pipeline-load / pipeline-run and the ``pipeline`` field of events, against the scripted
fake daemon of test_client (no edged needed), plus the pure request builders. The real-daemon tests live elsewhere."""

import unittest

import support  # noqa: F401
from edgeruntime import EdgeClient, EdgeError, parse_configuration
from edgeruntime.frames import FLAG_ERROR, FLAG_RESPONSE, MessageType
from edgeruntime.pipelines import configuration_header, pipeline_run_request, sensor
from test_client import FakeDaemon

RESULT = {
    "pipeline": "av", "kind": "mmedge", "mode": "pipelined", "prediction": 3, "scores": [0.1, 0.0, 0.02, 0.88],
    "sensingEndMs": 2000.0, "resultMs": 2011.1, "postSensingMs": 11.1,
    "configuration": {"modalities": [{"modality": "audio", "encoder": "large", "unitMs": 100.0, "stride": 1}]},
    "stages": [{"name": "fusion", "startMs": 2010.0, "endMs": 2011.0}],
    "units": [{"modality": "audio", "index": 0, "state": "encoded", "sensedMs": 100.0, "encodeStartMs": 100.2,
               "encodeEndMs": 108.1}],
    "checkpoints": [], "counts": [{"modality": "audio", "sensed": 20, "encoded": 20, "skipped": 0}],
}


class PipelineRequestTests(unittest.TestCase):
    def test_configuration_spec(self):
        self.assertEqual(parse_configuration("audio=large:100,vision=small:/2"), {"modalities": [
            {"modality": "audio", "encoder": "large", "unitMs": 100.0, "stride": 1},
            {"modality": "vision", "encoder": "small", "unitMs": 0.0, "stride": 2}]})
        self.assertEqual(parse_configuration(" audio = small : 62.5ms ")["modalities"],
                         [{"modality": "audio", "encoder": "small", "unitMs": 62.5, "stride": 1}])
        for bad in ("", "audio", "audio=large", "audio=large:", "=large:1", "audio=:1", "audio=large:0",
                    "audio=large:-5", "audio=large:fast", "vision=small:/0", "vision=small:/1.5", "a=b:1,",
                    "a=b:1;c=d:/2", "a=b:1,a=c:2"):
            with self.subTest(spec=bad), self.assertRaises(ValueError):
                parse_configuration(bad)

    def test_configuration_forms(self):
        expected = {"modalities": [{"modality": "vision", "encoder": "small", "unitMs": 0.0, "stride": 2}]}
        self.assertEqual(configuration_header("vision=small:/2"), expected)
        self.assertEqual(configuration_header([("vision", "small", 0, 2)]), expected)
        self.assertEqual(configuration_header(expected), expected)
        with self.assertRaises(ValueError):
            configuration_header({"audio": "large"})

    def test_run_request_sends_only_what_is_given_in_camel_case(self):
        self.assertEqual(pipeline_run_request("av"), {"pipeline": "av"})
        self.assertEqual(
            pipeline_run_request("av", inputs={"audio": "a.wav"}, index=0, mode="sequential", skip=False,
                                 budget_ms=50, configuration="audio=large:100", clock="fast"),
            {"pipeline": "av", "inputs": {"audio": "a.wav"}, "index": 0, "mode": "sequential", "skip": False,
             "budgetMs": 50.0, "clock": "fast",
             "configuration": {"modalities": [{"modality": "audio", "encoder": "large", "unitMs": 100.0,
                                               "stride": 1}]}})
        for bad in ({"index": -1}, {"index": True}, {"budget_ms": 0}, {"budget_ms": float("nan")},
                    {"clock": "slow"}):
            with self.subTest(arguments=bad), self.assertRaises(ValueError):
                pipeline_run_request("av", **bad)
        with self.assertRaises(ValueError):
            pipeline_run_request("")

    def test_a_live_run_names_sensors_and_its_window(self):
        self.assertEqual(
            pipeline_run_request("av", inputs={"audio": sensor("mic"), "vision": {"path": "frames/"}}, live=True,
                                 pre_ms=500),
            {"pipeline": "av", "inputs": {"audio": {"sensor": "mic"}, "vision": {"path": "frames/"}}, "live": True,
             "preMs": 500.0})
        for bad in ({"pre_ms": 0}, {"pre_ms": float("inf")}, {"inputs": {"audio": {"sensor": "mic", "path": "a"}}},
                    {"inputs": {"audio": {"camera": "c"}}}):
            with self.subTest(arguments=bad), self.assertRaises(ValueError):
                pipeline_run_request("av", **bad)
        with self.assertRaises(ValueError):
            sensor("")


class PipelineWireTests(unittest.TestCase):
    def setUp(self):
        self.fake = FakeDaemon()
        self.addCleanup(self.fake.close)

    def client(self):
        client = EdgeClient(self.fake.path, use_numpy=False)
        self.addCleanup(client.close)
        return client

    def test_list_load_and_run_use_types_13_14_15(self):
        seen = []
        status = {"name": "av", "kind": "mmedge", "manifest": "/m/manifest.json", "runs": 0, "failures": 0,
                  "profiles": 1, "latencyTable": [{"model": "audio-large", "unitMs": 100.0, "ms": 4.2}]}

        def script(fake):
            for answer in ({"pipelines": [status]}, status, {"id": 42, "result": RESULT}):
                request = fake.receive()
                seen.append((request.type, request.json_object()))
                fake.reply(request, answer)

        self.fake.run(script)
        client = self.client()
        self.assertEqual(client.pipelines(), [status])
        definition = {"name": "av", "kind": "mmedge", "manifest": "/m/manifest.json", "budgetMs": 50.0,
                      "inputs": {"audio": "a.wav", "vision": "v.npy"}}
        self.assertEqual(client.load_pipeline(definition), status)
        response = client.run_pipeline("av", inputs={"audio": "b.wav"}, skip=True, configuration="audio=large:100")
        self.fake.finish()

        self.assertEqual(response["id"], 42)
        self.assertEqual(response["result"]["postSensingMs"], 11.1)
        self.assertEqual([t for t, _ in seen], [13, 14, 15])
        self.assertEqual([t for t, _ in seen], [MessageType.PIPELINES, MessageType.PIPELINE_LOAD,
                                                MessageType.PIPELINE_RUN])
        self.assertEqual(seen[0][1], {})
        self.assertEqual(seen[1][1], definition)
        self.assertEqual(seen[2][1], {"pipeline": "av", "inputs": {"audio": "b.wav"}, "skip": True,
                                      "configuration": {"modalities": [{"modality": "audio", "encoder": "large",
                                                                        "unitMs": 100.0, "stride": 1}]}})

    def test_unknown_pipeline_is_an_edge_error(self):
        def script(fake):
            fake.reply(fake.receive(), {"code": "unknown_pipeline", "message": "No pipeline named 'x'."},
                       flags=FLAG_RESPONSE | FLAG_ERROR)

        self.fake.run(script)
        with self.assertRaises(EdgeError) as raised:
            self.client().run_pipeline("x")
        self.fake.finish()
        self.assertEqual(raised.exception.code, "unknown_pipeline")

    def test_events_expose_the_pipeline_result_as_sent(self):
        def script(fake):
            subscribe = fake.receive()
            fake.reply(subscribe, {"firstId": 1, "lastId": 2})
            fake.reply(subscribe, {"id": 1, "trigger": "press", "outputs": []}, message_type=MessageType.EVENT)
            fake.reply(subscribe, {"id": 2, "trigger": "av", "model": "av", "outputs": [], "pipeline": RESULT},
                       message_type=MessageType.EVENT)
            fake.wait_for_eof()

        self.fake.run(script)
        client = self.client()
        subscription = client.subscribe(since=0, timeout=5)
        plain, pipeline = next(subscription), next(subscription)
        client.close()
        self.fake.finish()
        self.assertIsNone(plain.pipeline)
        self.assertEqual(pipeline.trigger, "av")
        self.assertEqual(pipeline.pipeline, RESULT)
        self.assertTrue(pipeline.ok)


if __name__ == "__main__":
    unittest.main()
