"""Pipelines against the real published edged: list, load over the socket, run, and the stored result reaching a
subscriber (docs/protocol.md "Pipelines"). Uses the committed trained models (models/) and replay samples (samples/)."""

import shutil
import tempfile
import unittest
from pathlib import Path

import support
from support import Edged
from edgeruntime import EdgeError

MODELS = support.REPO / "models"
EPISODES = support.REPO / "samples" / "mmedge" / "test"
FASHION = support.REPO / "samples" / "cbnet" / "test_images_1000.npy"
REFERENCE = "audio=large:100,vision=large:/1"


class PipelineDaemonTests(unittest.TestCase):
    def setUp(self):
        self.directory = tempfile.mkdtemp(prefix="edgeruntime-py-pipelines-")
        self.addCleanup(shutil.rmtree, self.directory, True)
        config = {
            "modelDirectory": str(MODELS),
            # The replay samples are named by absolute path, so their folder is an input root.
            "allowedInputRoots": [str(support.REPO / "samples")],
            "store": {"path": str(Path(self.directory) / "results")},
            "pipelines": [{"name": "digits", "kind": "mmedge", "manifest": "mmedge/mmedge.json", "clock": "fast"}],
            "limits": {"shutdownTimeoutSeconds": 5},
        }
        self.edged = Edged(config, self.directory)
        self.addCleanup(self.edged.kill)
        self.edged.start()
        self.client = self.edged.client()
        self.addCleanup(self.client.close)

    def tearDown(self):
        self.client.close()
        code = self.edged.stop()
        self.assertEqual(code, 0, "edged exited with {} on SIGTERM.\nlog:\n{}".format(code, self.edged.log))

    def episode(self, n):
        return {"audio": str(EPISODES / "{:04d}.wav".format(n)), "vision": str(EPISODES / "{:04d}.npy".format(n))}

    def test_a_run_is_answered_stored_and_delivered_to_a_subscriber(self):
        listed = self.client.pipelines()
        self.assertEqual([p["name"] for p in listed], ["digits"])
        # Every model profiled at load (12), beside the learned overhead entry, which is always listed.
        profiled = [e for e in listed[0]["latencyTable"] if not e["model"].startswith("overhead")]
        self.assertEqual(len(profiled), 12)
        self.assertTrue(all(e["ms"] > 0 for e in profiled), profiled)

        subscription = self.client.subscribe(since=0, triggers=["digits"], timeout=30)
        answer = self.client.run_pipeline("digits", inputs=self.episode(3), configuration=REFERENCE, skip=True)
        result = answer["result"]
        self.assertEqual(answer["id"], 1)
        self.assertEqual(result["mode"], "pipelined+skip")
        self.assertEqual(len(result["scores"]), 10)
        self.assertEqual(result["prediction"], max(range(10), key=lambda i: result["scores"][i]))
        audio = [c for c in result["counts"] if c["modality"] == "audio"][0]
        self.assertEqual(audio["sensed"] + audio["skipped"], 10)

        event = next(iter(subscription))
        self.assertEqual(event.id, 1)
        self.assertEqual(event.trigger, "digits")
        self.assertEqual(event.pipeline, result)

        # The same run without skipping encodes every audio unit.
        full = self.client.run_pipeline("digits", inputs=self.episode(3), configuration=REFERENCE, skip=False)
        self.assertEqual([c["encoded"] for c in full["result"]["counts"] if c["modality"] == "audio"], [10])

    def test_a_cbnet_pipeline_loaded_over_the_socket_runs_and_bad_requests_are_refused(self):
        status = self.client.load_pipeline({"name": "fashion", "kind": "cbnet", "manifest": "cbnet/cbnet.json"})
        self.assertEqual(status["kind"], "cbnet")
        answer = self.client.run_pipeline("fashion", inputs={"image": str(FASHION)}, index=11, mode="full")
        self.assertEqual(answer["result"]["mode"], "full")

        with self.assertRaises(EdgeError) as unknown:
            self.client.run_pipeline("nope")
        self.assertEqual(unknown.exception.code, "unknown_pipeline")
        with self.assertRaises(EdgeError) as missing:
            self.client.run_pipeline("digits", inputs={"audio": str(EPISODES / "nonexistent.wav"), "vision": self.episode(0)["vision"]})
        self.assertEqual(missing.exception.code, "invalid_input")
        with self.assertRaises(EdgeError) as outside:
            self.client.run_pipeline("digits", inputs={"audio": "/nonexistent.wav", "vision": self.episode(0)["vision"]})
        self.assertEqual(outside.exception.code, "path_not_allowed")


if __name__ == "__main__":
    unittest.main()
