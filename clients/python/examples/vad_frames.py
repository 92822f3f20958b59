#!/usr/bin/env python3
"""Silero VAD over a WAV file through edged, frame by frame, carrying the model's state.

    PYTHONPATH=clients/python python3 clients/python/examples/vad_frames.py artifacts/assets/audio/speech.wav

Loads the model under --model if the daemon does not have it yet (a relative --path is taken from the daemon's
model directory), then prints the speech segments and how many 32 ms frames scored >= --threshold.
Works with or without NumPy.
"""

import argparse
import sys
from os.path import abspath, dirname

sys.path.insert(0, dirname(dirname(abspath(__file__))))  # run from a checkout without installing

import edgeruntime  # noqa: E402
from edgeruntime import audio  # noqa: E402

RATE, FRAME = 16000, 512


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("wav")
    parser.add_argument("--socket", help="edged's socket (default: $EDGERUNTIME_SOCKET or the daemon's default)")
    parser.add_argument("--model", default="vad", help="the model's name in edged")
    parser.add_argument("--path", default="silero_vad_v5.onnx", help="loaded from here when not loaded yet")
    parser.add_argument("--threshold", type=float, default=0.5)
    args = parser.parse_args()

    samples, rate = audio.read_wav(args.wav)
    samples = audio.resample(samples, rate, RATE)

    try:
        client = edgeruntime.connect(args.socket)
    except ConnectionError as e:
        sys.exit(str(e))
    with client:
        if args.model not in {m["name"] for m in client.models()}:
            client.load(args.model, args.path)

        state = edgeruntime.Tensor.zeros("float32", [2, 1, 128])  # NumPy arrays work the same way
        speaking, start, frames = 0, None, 0
        for i, frame in enumerate(audio.frames(samples, FRAME)):
            out = client.infer(args.model, {"input": ("float32", [1, FRAME], frame), "state": state,
                                            "sr": ("int64", [], [RATE])})
            state = out["stateN"]  # carried into the next frame
            probability = out["output"].item()  # a numpy array and a Tensor both have item()
            t = i * FRAME / RATE
            frames += 1
            if probability >= args.threshold:
                speaking += 1
                if start is None:
                    start = t
            elif start is not None:
                print("speech {:6.2f} s - {:6.2f} s".format(start, t))
                start = None
        if start is not None:
            print("speech {:6.2f} s - {:6.2f} s".format(start, frames * FRAME / RATE))
        print("{} of {} frames scored >= {}".format(speaking, frames, args.threshold))


if __name__ == "__main__":
    main()
