"""Test helpers: where the published edged and the assets are, and a real edged run as a subprocess.

Paths (each overridable by the environment):
  EDGERUNTIME_EDGED   the edged binary   (default <repo>/artifacts/publish/host/edged)
  EDGERUNTIME_ASSETS  the assets folder  (default <repo>/artifacts/assets; EDGERUNTIME_ASSETS_DIR, the C# tests'
                      variable, is honoured too)
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parent
CLIENT_DIR = TESTS_DIR.parent
REPO = TESTS_DIR.parents[2]

# The tests import the package from this checkout, whatever the working directory.
if str(CLIENT_DIR) not in sys.path:
    sys.path.insert(0, str(CLIENT_DIR))

EDGED = Path(os.environ.get("EDGERUNTIME_EDGED") or REPO / "artifacts" / "publish" / "host" / "edged")
ASSETS = Path(os.environ.get("EDGERUNTIME_ASSETS") or os.environ.get("EDGERUNTIME_ASSETS_DIR")
              or REPO / "artifacts" / "assets")
MODELS_DIR = ASSETS / "models"
SILERO_VAD = MODELS_DIR / "silero_vad_v5.onnx"
SPEECH_WAV = ASSETS / "audio" / "speech.wav"
SILENCE_WAV = ASSETS / "audio" / "silence.wav"

START_TIMEOUT = 20.0
STOP_TIMEOUT = 15.0


def require(path):
    """The path, or an AssertionError saying how to get it: a missing daemon or asset fails the test rather than
    skipping it, so a broken build cannot pass as green."""
    if not Path(path).exists():
        raise AssertionError("{} is missing. Run 'dotnet pwsh ./build.ps1 publish' (or set EDGERUNTIME_EDGED / "
                             "EDGERUNTIME_ASSETS).".format(path))
    return Path(path)


def basic_config(preload=True):
    """A configuration with no sensors: the model directory of the assets, Silero VAD preloaded as 'vad'."""
    return {
        "modelDirectory": str(MODELS_DIR),
        # Some tests write broken model files into their own temporary folder and load them by absolute path.
        "allowedModelRoots": [tempfile.gettempdir()],
        "models": [{"name": "vad", "path": "silero_vad_v5.onnx"}] if preload else [],
        "limits": {"shutdownTimeoutSeconds": 5},
    }


def results_config(store_path):
    """The sensors/triggers/store configuration of the results tests: a simulated button that, when pressed, runs
    VAD over the last 256 ms of looping speech and stores the result."""
    return {
        "modelDirectory": str(MODELS_DIR),
        "models": [{"name": "vad", "path": "silero_vad_v5.onnx"}],
        "store": {"path": str(store_path)},
        "sensors": [
            {"name": "button", "type": "gpio", "pin": 17, "edge": "rising", "debounceMs": 0, "simulated": True},
            {"name": "speech", "type": "wav", "path": str(SPEECH_WAV), "loop": True, "realtime": True,
             "bufferMs": 2000},
        ],
        "triggers": [
            {"name": "press", "on": {"gpio": "button"},
             "run": {"model": "vad", "input": "input", "frameSamples": 512, "carry": {"stateN": "state"},
                     "constants": {"sr": 16000},
                     "window": {"sensor": "speech", "preMs": 256, "postMs": 0}}},
        ],
    }


def accepts(path):
    """True when something accepts connections on the UNIX socket at path."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        probe.close()


class Edged:
    """The published edged in a temporary directory with its own configuration and socket.

    start() waits until the socket accepts; stop() sends SIGTERM (as systemd does) and returns the exit code.
    The daemon's stderr goes to edged.log in the directory; ``log`` reads it for failure messages.
    """

    def __init__(self, config, directory=None):
        self.config = config
        self._own_directory = directory is None
        self.directory = Path(directory or tempfile.mkdtemp(prefix="edgeruntime-py-"))
        self.socket_path = self.directory / "edged.sock"
        self.config_path = self.directory / "edged.json"
        self.log_path = self.directory / "edged.log"
        self.process = None

    @property
    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def start(self):
        require(EDGED)
        self.config_path.write_text(json.dumps(self.config, indent=2))
        with open(str(self.log_path), "ab") as log:
            self.process = subprocess.Popen(
                [str(EDGED), "--config", str(self.config_path), "--socket", str(self.socket_path)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=str(self.directory))
        deadline = time.monotonic() + START_TIMEOUT
        while not accepts(self.socket_path):
            code = self.process.poll()
            if code is not None:
                self.process = None
                raise AssertionError("edged exited with code {} before accepting connections.\n"
                                     "config: {}\nlog:\n{}".format(code, json.dumps(self.config), self.log))
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError("edged did not accept on {} within {} s.\nlog:\n{}".format(
                    self.socket_path, START_TIMEOUT, self.log))
            time.sleep(0.02)  # a short sleep between probes: edged usually listens within 0.3 s
        return self

    def stop(self):
        """SIGTERM, then the exit code (the daemon must stop cleanly with 0)."""
        if self.process is None:
            return None
        process, self.process = self.process, None
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise AssertionError("edged did not stop within {} s of SIGTERM.\nlog:\n{}".format(STOP_TIMEOUT, self.log))

    def kill(self):
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def cleanup(self):
        self.kill()
        if self._own_directory:
            shutil.rmtree(str(self.directory), ignore_errors=True)

    def client(self, **options):
        import edgeruntime
        options.setdefault("timeout", 15.0)
        return edgeruntime.EdgeClient(str(self.socket_path), **options)
