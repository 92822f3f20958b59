"""Just enough audio for audio models (Silero VAD): PCM WAV in, mono float32 frames out. Stdlib only.

The resampler is the same linear interpolation as the C# client's ``WavAudio.Resample``, so both clients feed a
model the same samples.
"""

import array
import struct
import sys
import wave
from typing import Iterator, Tuple

__all__ = ["read_wav", "resample", "frames"]


def read_wav(path):
    # type: (str) -> Tuple[array.array, int]
    """Reads a PCM WAV file (8/16/24/32-bit integer samples) as (mono float32 samples in [-1, 1], sample rate).
    Channels are averaged."""
    with wave.open(path, "rb") as wav:
        channels, width, rate, count = wav.getnchannels(), wav.getsampwidth(), wav.getframerate(), wav.getnframes()
        raw = wav.readframes(count)
    count = len(raw) // (width * channels)
    if width == 1:
        ints = [b - 128 for b in raw]  # 8-bit WAV is unsigned
        scale = 128.0
    elif width == 2:
        ints = array.array("h", raw[:count * channels * 2])
        if sys.byteorder != "little":
            ints.byteswap()
        scale = 32768.0
    elif width == 3:
        ints = [int.from_bytes(raw[i:i + 3], "little", signed=True) for i in range(0, count * channels * 3, 3)]
        scale = 8388608.0
    elif width == 4:
        ints = struct.unpack("<{}i".format(count * channels), raw[:count * channels * 4])
        scale = 2147483648.0
    else:
        raise ValueError("{}: {}-byte samples are not supported".format(path, width))
    if channels == 1:
        samples = array.array("f", (v / scale for v in ints))
    else:
        samples = array.array("f", (sum(ints[i * channels:(i + 1) * channels]) / (scale * channels)
                                    for i in range(count)))
    return samples, rate


def resample(samples, rate, target_rate):
    # type: (array.array, int, int) -> array.array
    """Linear-interpolation resampling; adequate for speech models at 8-48 kHz."""
    if rate == target_rate or not samples:
        return array.array("f", samples)
    length = len(samples) * target_rate // rate
    step = rate / target_rate
    last = len(samples) - 1
    out = array.array("f", bytes(4 * length))
    for i in range(length):
        source = i * step
        left = int(source)
        right = left + 1 if left < last else last
        fraction = source - left
        out[i] = samples[left] * (1 - fraction) + samples[right] * fraction
    return out


def frames(samples, frame_length):
    # type: (array.array, int) -> Iterator[array.array]
    """Consecutive frames of ``frame_length`` samples; the last one is zero-padded."""
    for start in range(0, len(samples), frame_length):
        frame = array.array("f", samples[start:start + frame_length])
        if len(frame) < frame_length:
            frame.extend([0.0] * (frame_length - len(frame)))
        yield frame
