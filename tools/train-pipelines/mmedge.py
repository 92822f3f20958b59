#!/usr/bin/python3
"""MMEdge: build a two-modality spoken/handwritten digit data set, train the
per-modality encoders and aggregators, the fusion head and the skip gate, and
export them to ONNX together with mmedge.json and replay data for the C# side.

Episode = (1.0 s of 8 kHz audio with one spoken digit, 8 vision frames that
progressively reveal a handwritten digit, label). Both modalities show the same
digit. See README.md in this folder for the full description.

Run:  /usr/bin/python3 tools/train-pipelines/mmedge.py            (full run)
      /usr/bin/python3 tools/train-pipelines/mmedge.py --quick    (smoke run, writes to /tmp unless --out-* given)
"""
from __future__ import annotations

import argparse
import csv
import math
import os
import subprocess
import sys
import wave
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# The 2 cores are shared with other work: idle OpenMP threads must sleep, not spin,
# or a busy core slows every parallel region several-fold. Set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn
import torch.nn.functional as F
from scipy.signal import resample_poly
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

SEED = 20240611
WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
# English espeak-ng voices and variants whose output differs (checked by hashing all ten words).
VOICES = ["en", "en-gb-x-rp", "en-gb-scotland", "en-us", "en-us-nyc", "en-029", "en-gb-x-gbclan",
          "en-gb-x-gbcwmd", "en+f3", "en+m3", "en+f4", "en-us+f2", "en-us+m5", "en-029+f1", "en+klatt"]
SR = 8000
WIN = 8000                 # 1.000 s window
FRAMES = 8
UNIT_MS = [100, 200]
STRIDES = [1, 2]
SIZES = ["small", "large"]
CHECKPOINTS = [0.5, 0.7, 0.9]
EMB = 32
CLASSES = 10
SNR_RANGE = (-15.0, 15.0)  # dB, uniform per episode (white noise; -5 dB was still easy for both encoders)
GAIN_RANGE = (0.25, 0.7)   # speech peak relative to full scale
P_OCCLUDE = 0.6            # fraction of episodes with an occluding block
NOISE_SIGMA = (0.10, 0.50)  # per-episode std of the Gaussian pixel noise
REF = ("large", 100, "large", 1)  # reference configuration for expected.csv and the threshold


def unit_samples(ms: int) -> int:
    return SR * ms // 1000


def checkpoint_units(n: int) -> list[int]:
    """Checkpoint unit counts exactly as the C# side computes them."""
    ks = []
    for f in CHECKPOINTS:
        # A hair below the product: 0.7 * 10 is 7.000000000000001 in binary, and means 7 units, not 8.
        k = math.ceil(f * n - 1e-9)
        if 1 <= k < n and k not in ks:
            ks.append(k)
    return ks


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------
def synth(voice: str, word: str, speed: int, pitch: int) -> np.ndarray:
    """espeak-ng -> 8 kHz float32, leading/trailing silence trimmed, peak 1."""
    wav = subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout", word],
                         check=True, capture_output=True).stdout
    # espeak writes a streaming header (bogus length); take the bytes after the 'data' chunk id.
    pos = wav.find(b"data")
    rate = int.from_bytes(wav[24:28], "little")
    x = np.frombuffer(wav[pos + 8:], dtype="<i2").astype(np.float64)
    g = math.gcd(SR, rate)
    x = resample_poly(x, SR // g, rate // g)
    a = np.abs(x)
    idx = np.nonzero(a > 0.02 * a.max())[0]
    start, end = max(0, idx[0] - 80), min(len(x), idx[-1] + 80)   # keep 10 ms either side
    x = x[start:end]
    return (x / np.abs(x).max()).astype(np.float32)


def build_utterances(reps: int):
    specs = []
    for vi, voice in enumerate(VOICES):
        for d in range(10):
            for r in range(reps):
                rng = np.random.default_rng([SEED, vi, d, r])
                specs.append(dict(voice=voice, digit=d, speed=int(rng.integers(120, 221)),
                                  pitch=int(rng.integers(20, 81))))
    with ThreadPoolExecutor(max_workers=2) as ex:
        waves = list(ex.map(lambda s: synth(s["voice"], WORDS[s["digit"]], s["speed"], s["pitch"]), specs))
    for s, w in zip(specs, waves):
        s["wave"] = w
    return specs


def split_utterances(utts, n_test: int, n_val: int):
    """Per digit: n_test test, n_val val, rest train. Each utterance belongs to exactly one split."""
    rng = np.random.default_rng([SEED, 1])
    split = {"train": {}, "val": {}, "test": {}}
    for d in range(10):
        idx = np.array([i for i, u in enumerate(utts) if u["digit"] == d])
        idx = idx[rng.permutation(len(idx))]
        split["test"][d] = idx[:n_test]
        split["val"][d] = idx[n_test:n_test + n_val]
        split["train"][d] = idx[n_test + n_val:]
    return split


def split_images():
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)   # [1797, 64] in [0,1]
    y = digits.target
    idx = np.arange(len(y))
    rest, test = train_test_split(idx, test_size=0.2, stratify=y, random_state=SEED % 2**31)
    train, val = train_test_split(rest, test_size=0.25, stratify=y[rest], random_state=SEED % 2**31)
    split = {name: {d: part[y[part] == d] for d in range(10)}
             for name, part in (("train", train), ("val", val), ("test", test))}
    return x, y, split


def make_audio(wave_f: np.ndarray, rng, snr_range=SNR_RANGE) -> tuple[np.ndarray, float]:
    s = wave_f[:WIN] * rng.uniform(*GAIN_RANGE)
    off = int(rng.integers(0, WIN - len(s) + 1))
    sig = np.zeros(WIN)
    sig[off:off + len(s)] = s
    snr = float(rng.uniform(*snr_range))
    p_speech = float(np.mean(s.astype(np.float64) ** 2))   # power over the (trimmed) utterance
    sig += rng.normal(0.0, math.sqrt(p_speech / 10 ** (snr / 10)), WIN)
    return np.clip(np.round(sig * 32768), -32768, 32767).astype(np.int16), snr


def make_frames(img: np.ndarray, rng) -> np.ndarray:
    """8 frames revealing a growing random pixel subset (8*(k+1) pixels in frame k, nested),
    optional occluding block (dark or bright) and Gaussian noise, clipped to [0,1]."""
    x = img.reshape(8, 8).copy()
    if rng.random() < P_OCCLUDE:
        h, w = rng.integers(2, 5, size=2)
        r0, c0 = rng.integers(0, 9 - h), rng.integers(0, 9 - w)
        x[r0:r0 + h, c0:c0 + w] = 0.0 if rng.random() < 0.5 else 1.0
    order = rng.permutation(64)
    frames = np.zeros((FRAMES, 64))
    for k in range(FRAMES):
        shown = order[:8 * (k + 1)]
        frames[k, shown] = x.reshape(-1)[shown]
    frames += rng.normal(0.0, rng.uniform(*NOISE_SIGMA), frames.shape)
    return np.clip(frames, 0.0, 1.0).reshape(FRAMES, 8, 8).astype(np.float32)


def make_episodes(n, utts, usplit, imgs, isplit, rng, labels=None, utt_ids=None, img_ids=None, snr_range=SNR_RANGE):
    if labels is None:
        labels = rng.integers(0, 10, size=n)
    if utt_ids is None:
        utt_ids = np.array([rng.choice(usplit[d]) for d in labels])
    if img_ids is None:
        img_ids = np.array([rng.choice(isplit[d]) for d in labels])
    audio = np.zeros((n, WIN), np.int16)
    frames = np.zeros((n, FRAMES, 8, 8), np.float32)
    snr = np.zeros(n)
    for i in range(n):
        audio[i], snr[i] = make_audio(utts[utt_ids[i]]["wave"], rng, snr_range)
        frames[i] = make_frames(imgs[img_ids[i]], rng)
    return dict(label=np.asarray(labels), utt=np.asarray(utt_ids), img=np.asarray(img_ids),
                audio=audio, frames=frames, snr=snr)


def make_test(utts, usplit, imgs, isplit, per_digit):
    """Test: every test utterance exactly once, test images without repetition where possible."""
    rng = np.random.default_rng([SEED, 99])
    labels, uids, iids = [], [], []
    for d in range(10):
        u = usplit[d][:per_digit]
        im = isplit[d][rng.permutation(len(isplit[d]))]
        for j, ui in enumerate(u):
            labels.append(d)
            uids.append(ui)
            iids.append(im[j % len(im)])
    order = rng.permutation(len(labels))
    return make_episodes(len(labels), utts, None, imgs, None, rng, labels=np.array(labels)[order],
                         utt_ids=np.array(uids)[order], img_ids=np.array(iids)[order])


# ---------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------
def conv_bn(cin, cout, k, s):
    return [nn.Conv1d(cin, cout, k, s, padding=k // 2, bias=False), nn.BatchNorm1d(cout), nn.ReLU()]


# (in channels, out channels, kernel, stride) per conv layer; padding = kernel // 2
AUDIO_ARCH = {
    # 96 learned filters, 32-sample stride overall, receptive field 400 samples (50 ms)
    "large": [(1, 96, 32, 4), (96, 96, 5, 2), (96, 128, 5, 2), (128, 128, 5, 2), (128, 128, 5, 2), (128, 128, 3, 1)],
    # 12 learned filters, receptive field 192 samples (24 ms)
    "small": [(1, 12, 32, 8), (12, 24, 5, 2), (24, 32, 5, 2), (32, 40, 3, 1)],
}


class AudioEncoder(nn.Module):
    """Raw waveform -> learned filterbank (wide strided conv) -> strided convs ->
    mean and max over time -> 32-d embedding. Works for any chunk length."""

    def __init__(self, size: str):
        super().__init__()
        layers = []
        for cin, cout, k, s in AUDIO_ARCH[size]:
            layers += conv_bn(cin, cout, k, s)
        self.net = nn.Sequential(*layers)
        self.fc = nn.Linear(2 * AUDIO_ARCH[size][-1][1], EMB)

    def forward(self, chunk):                     # [B, N]
        h = self.net(chunk.unsqueeze(1))          # [B, C, L]
        return self.fc(torch.cat([h.mean(dim=2), h.amax(dim=2)], dim=1))


class VisionEncoder(nn.Module):
    def __init__(self, size: str):
        super().__init__()
        self.size = size
        if size == "large":
            self.net = nn.Sequential(
                nn.Conv2d(1, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
                nn.Conv2d(32, 48, 3, padding=1, bias=False), nn.BatchNorm2d(48), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(48, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                nn.Flatten(), nn.Linear(64 * 16, EMB))
        else:
            self.net = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, EMB))

    def forward(self, frame):                     # [B, 64]
        if self.size == "large":
            frame = frame.reshape(-1, 1, 8, 8)
        return self.net(frame)


class Aggregator(nn.Module):
    """1-layer GRU over unit embeddings; log-softmax class scores from the last state."""

    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(EMB, 64, batch_first=True)
        self.fc = nn.Linear(64, CLASSES)

    def forward(self, units):                     # [1, T, 32] -> [1, 10]
        _, h = self.gru(units)
        return F.log_softmax(self.fc(h[0]), dim=-1)

    def steps(self, units):                       # [B, T, 32] -> [B, T, 10]: scores after every prefix
        out, _ = self.gru(units)
        return F.log_softmax(self.fc(out), dim=-1)


FLOOR = -20.0   # log-probabilities below this carry no extra information; keeps the heads' inputs bounded


class Fusion(nn.Module):
    def __init__(self):
        super().__init__()
        self.wa = nn.Parameter(torch.ones(1))
        self.wv = nn.Parameter(torch.ones(1))
        self.mlp = nn.Sequential(nn.Linear(2 * CLASSES, 32), nn.ReLU(), nn.Linear(32, CLASSES))

    def forward(self, audio, vision):
        a, v = audio.clamp(min=FLOOR), vision.clamp(min=FLOOR)
        return self.wa * a + self.wv * v + self.mlp(torch.cat([a, v], dim=-1))


class Gate(nn.Module):
    def __init__(self):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(2 * CLASSES + 1, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                                 nn.Linear(64, 1))

    def forward(self, x):                         # [1, 21]
        z = torch.cat([x[:, :2 * CLASSES].clamp(min=FLOOR), x[:, 2 * CLASSES:]], dim=1)
        return torch.sigmoid(self.mlp(z))


# ---------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------
def prefix_loss(lp, y):
    """Full-sequence NLL plus half-weighted mean NLL of prefixes from 40% of the units."""
    n = lp.shape[1]
    loss = F.nll_loss(lp[:, -1], y)
    first = max(1, math.ceil(0.4 * n))
    if first < n:
        pre = lp[:, first - 1:n - 1]                                   # prefixes T = first .. n-1
        loss = loss + 0.5 * F.nll_loss(pre.reshape(-1, CLASSES), y.repeat_interleave(pre.shape[1]))
    return loss


def audio_scores(enc, agg, audio, ms, batch=16):
    """All-prefix log-probs [E, n, 10] for int16 audio [E, 8000]."""
    u = unit_samples(ms)
    n = WIN // u
    out = []
    enc.eval(), agg.eval()
    with torch.no_grad():
        for i in range(0, len(audio), batch):
            x = torch.from_numpy(audio[i:i + batch].astype(np.float32) / 32768.0)
            e = enc(x.reshape(-1, u)).reshape(x.shape[0], n, EMB)
            out.append(agg.steps(e))
    return torch.cat(out).numpy()


def vision_scores(enc, agg, frames, stride, batch=500):
    """Log-probs [E, 10] over the frames used with this stride."""
    out = []
    enc.eval(), agg.eval()
    with torch.no_grad():
        for i in range(0, len(frames), batch):
            f = torch.from_numpy(frames[i:i + batch, stride - 1::stride].reshape(-1, 64))
            m = FRAMES // stride
            e = enc(f).reshape(-1, m, EMB)
            out.append(agg.steps(e)[:, -1])
    return torch.cat(out).numpy()


def train_modality(kind, size, data_fn, n_train, epochs, val, log, timer):
    torch.manual_seed(SEED + (0 if kind == "audio" else 10) + (0 if size == "small" else 1))
    enc = AudioEncoder(size) if kind == "audio" else VisionEncoder(size)
    agg = Aggregator()
    params = list(enc.parameters()) + list(agg.parameters())
    bsz = 64 if kind == "audio" else 128
    steps_per_epoch = n_train // bsz
    opt = torch.optim.AdamW(params, lr=3e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=epochs * steps_per_epoch,
                                                pct_start=0.2)
    options = UNIT_MS if kind == "audio" else STRIDES
    for ep in range(epochs):
        data = data_fn(ep)
        y_all = torch.from_numpy(data["label"]).long()
        perm = np.random.default_rng([SEED, 7, ep]).permutation(n_train)
        enc.train(), agg.train()
        tot = 0.0
        for it in range(steps_per_epoch):
            idx = perm[it * bsz:(it + 1) * bsz]
            opt_ = options[it % 2]   # alternate unit size / stride batch by batch
            if kind == "audio":
                u = unit_samples(opt_)
                x = torch.from_numpy(data["audio"][idx].astype(np.float32) / 32768.0)
                e = enc(x.reshape(-1, u)).reshape(len(idx), WIN // u, EMB)
            else:
                f = torch.from_numpy(np.ascontiguousarray(data["frames"][idx, opt_ - 1::opt_]).reshape(-1, 64))
                e = enc(f).reshape(len(idx), FRAMES // opt_, EMB)
            loss = prefix_loss(agg.steps(e), y_all[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot += loss.item()
        accs = []
        for o in options:
            if kind == "audio":
                p = audio_scores(enc, agg, val["audio"], o)[:, -1].argmax(1)
            else:
                p = vision_scores(enc, agg, val["frames"], o).argmax(1)
            accs.append(f"{o}:{np.mean(p == val['label']):.3f}")
        log(f"[{timer()}] {kind} {size} epoch {ep + 1}/{epochs} loss {tot / steps_per_epoch:.3f} val acc {' '.join(accs)}")
    enc.eval(), agg.eval()
    return enc, agg


def fit_head(model, inputs, target, loss_fn, epochs, seed, lr=3e-3, bsz=512, log=None, name=""):
    """Mini-batch Adam for the small heads (full-batch steps on ~50k rows are needlessly slow on CPU)."""
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=1e-4)
    n = len(target)
    for ep in range(epochs):
        model.train()
        perm = torch.from_numpy(np.random.default_rng([seed, ep]).permutation(n))
        tot, cnt = 0.0, 0
        for i in range(0, n, bsz):
            idx = perm[i:i + bsz]
            loss = loss_fn(model(*[x[idx] for x in inputs]), target[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot, cnt = tot + loss.item(), cnt + 1
    model.eval()
    with torch.no_grad():
        final = loss_fn(model(*inputs), target).item()
    if log:
        log(f"{name}: training loss {final:.4f} after {epochs} epochs")
    return model


def configs():
    for ae in SIZES:
        for au in UNIT_MS:
            for ve in SIZES:
                for vs in STRIDES:
                    yield ae, au, ve, vs


def torch_fusion(fusion, a, v):
    with torch.no_grad():
        return fusion(torch.from_numpy(np.ascontiguousarray(a, np.float32)),
                      torch.from_numpy(np.ascontiguousarray(v, np.float32))).numpy()


def torch_gate(gate, x):
    with torch.no_grad():
        return gate(torch.from_numpy(np.ascontiguousarray(x, np.float32))).numpy()[:, 0]


def gate_inputs(v, a_steps, k):
    n = a_steps.shape[1]
    frac = np.full((len(v), 1), k / n, np.float32)   # k/n in float64, then float32 (as fed to the graph)
    return np.concatenate([v, a_steps[:, k - 1], frac], axis=1).astype(np.float32)


def simulate(fusion, gate, a_steps, v, thresholds):
    """Skipping policy. Returns full predictions and, per threshold, (predictions, units used)."""
    n = a_steps.shape[1]
    full = torch_fusion(fusion, a_steps[:, -1], v).argmax(1)
    ks = checkpoint_units(n)
    gate_out = {k: torch_gate(gate, gate_inputs(v, a_steps, k)).astype(np.float64) for k in ks}
    pref = {k: torch_fusion(fusion, a_steps[:, k - 1], v).argmax(1) for k in ks}
    res = []
    for thr in thresholds:
        pred, used = full.copy(), np.full(len(v), n)
        done = np.zeros(len(v), bool)
        for k in ks:
            fire = ~done & (gate_out[k] >= thr)
            pred[fire], used[fire] = pref[k][fire], k
            done |= fire
        res.append((pred, used))
    return full, res, gate_out


# ---------------------------------------------------------------------------
# Serving mirror (batch 1, one call per unit/frame, exactly what the C# side does)
# ---------------------------------------------------------------------------
def serve_episode(m, samples_f32, frames, cfg, thr):
    ae, au, ve, vs = cfg
    aenc, aagg = m["audioEncoder"][ae], m["audioAggregator"][ae]
    venc, vagg = m["visionEncoder"][ve], m["visionAggregator"][ve]
    with torch.no_grad():
        vemb = [venc(torch.from_numpy(frames[k].reshape(1, 64))) for k in range(FRAMES) if (k + 1) % vs == 0]
        v = vagg(torch.stack(vemb, dim=1))
        u = unit_samples(au)
        n = WIN // u
        aemb = [aenc(torch.from_numpy(samples_f32[i * u:(i + 1) * u].reshape(1, u))) for i in range(n)]
        a_full = aagg(torch.stack(aemb, dim=1))
        logits = m["fusion"](a_full, v)
        full_pred = int(logits.argmax())
        skip_pred, used, gates = full_pred, n, []
        for k in checkpoint_units(n):
            a_k = aagg(torch.stack(aemb[:k], dim=1))
            x = torch.cat([v, a_k, torch.tensor([[k / n]], dtype=torch.float32)], dim=1)
            g = float(m["gate"](x)[0, 0])
            gates.append(g)
            if g >= thr:
                skip_pred, used = int(m["fusion"](a_k, v).argmax()), k
                break
    return dict(full=full_pred, skip=skip_pred, used=used, logits=logits[0].numpy(),
                audio=a_full[0].numpy(), vision=v[0].numpy(), gates=gates)


def write_wav(path: Path, samples: np.ndarray) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes(samples.astype("<i2").tobytes())


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2 and w.getframerate() == SR
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")


# ---------------------------------------------------------------------------
def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out-models", type=Path, default=None, help="default: <repo>/models/mmedge")
    ap.add_argument("--out-samples", type=Path, default=None, help="default: <repo>/samples/mmedge/test")
    ap.add_argument("--quick", action="store_true", help="tiny smoke run (outputs go to /tmp unless --out-* given)")
    args = ap.parse_args()
    quick_root = Path("/tmp/edgeruntime-train-quick")
    out_models = args.out_models or ((quick_root / "models/mmedge") if args.quick else common.REPO / "models/mmedge")
    out_samples = args.out_samples or ((quick_root / "samples/mmedge/test") if args.quick
                                       else common.REPO / "samples/mmedge/test")
    common.setup(SEED)
    timer = common.Timer()
    log = lambda s: print(s, flush=True)  # noqa: E731

    reps = 6 if args.quick else 20
    n_train = 600 if args.quick else 6000
    n_val = 200 if args.quick else 1000
    epochs = dict(audio_large=1, audio_small=1, vision_large=1, vision_small=1) if args.quick else \
        dict(audio_large=7, audio_small=7, vision_large=8, vision_small=10)
    head_epochs = 2 if args.quick else 12

    # ---- data -------------------------------------------------------------------------------
    utts = build_utterances(reps)
    lens = np.array([len(u["wave"]) for u in utts]) / SR
    log(f"[{timer()}] synthesised {len(utts)} utterances ({len(VOICES)} voices), speech length "
        f"{lens.min():.2f}-{lens.max():.2f} s (mean {lens.mean():.2f}); {np.mean(lens > 1.0) * 100:.1f}% truncated to 1 s")
    usplit = split_utterances(utts, n_test=30, n_val=20 if args.quick else 60)
    imgs, img_y, isplit = split_images()
    log(f"utterances train/val/test: {sum(len(v) for v in usplit['train'].values())}/"
        f"{sum(len(v) for v in usplit['val'].values())}/{sum(len(v) for v in usplit['test'].values())}; "
        f"digit images train/val/test: {sum(len(v) for v in isplit['train'].values())}/"
        f"{sum(len(v) for v in isplit['val'].values())}/{sum(len(v) for v in isplit['test'].values())}")

    def train_data(ep):
        """Fresh noise, offsets, masks and pairings every epoch. SNR curriculum: the lowest training SNR
        goes 0, -4.3, -8.6, -12.9 dB in the first epochs, then the full range (converges faster)."""
        snr_low = max(SNR_RANGE[0], -15.0 * ep / 3.5)
        return make_episodes(n_train, utts, usplit["train"], imgs, isplit["train"],
                             np.random.default_rng([SEED, 2, ep]), snr_range=(snr_low, SNR_RANGE[1]))
    val = {name: make_episodes(n_val, utts, usplit["val"], imgs, isplit["val"], np.random.default_rng([SEED, 3, j]))
           for j, name in enumerate(["A", "B", "C"])}   # A: fusion, B: gate, C: threshold + reported val accuracy
    test = make_test(utts, usplit["test"], imgs, isplit["test"], per_digit=30)
    log(f"[{timer()}] episodes: train {n_train}/epoch (re-drawn each epoch), val A/B/C {n_val} each, test {len(test['label'])}")

    # ---- modality models --------------------------------------------------------------------
    m = {"audioEncoder": {}, "audioAggregator": {}, "visionEncoder": {}, "visionAggregator": {}}
    for kind in ["audio", "vision"]:
        for size in ["large", "small"]:
            enc, agg = train_modality(kind, size, train_data, n_train, epochs[f"{kind}_{size}"], val["C"], log, timer)
            m[f"{kind}Encoder"][size], m[f"{kind}Aggregator"][size] = enc, agg

    # ---- features for every split ----------------------------------------------------------
    feats = {}
    for name, data in [("A", val["A"]), ("B", val["B"]), ("C", val["C"]), ("test", test)]:
        f = {}
        for s in SIZES:
            for ms in UNIT_MS:
                f[("a", s, ms)] = audio_scores(m["audioEncoder"][s], m["audioAggregator"][s], data["audio"], ms)
            for st in STRIDES:
                f[("v", s, st)] = vision_scores(m["visionEncoder"][s], m["visionAggregator"][s], data["frames"], st)
        feats[name] = f
    log(f"[{timer()}] features computed")

    # ---- fusion head (val A): all 16 configurations, full and prefix audio --------------------
    fa, fv, fy = [], [], []
    for ae, au, ve, vs in configs():
        a = feats["A"][("a", ae, au)]
        n = a.shape[1]
        for t in range(max(1, math.ceil(0.4 * n)), n + 1):
            fa.append(a[:, t - 1])
            fv.append(feats["A"][("v", ve, vs)])
            fy.append(val["A"]["label"])
    torch.manual_seed(SEED + 20)
    fusion = fit_head(Fusion(), (torch.from_numpy(np.concatenate(fa)), torch.from_numpy(np.concatenate(fv))),
                      torch.from_numpy(np.concatenate(fy)).long(), F.cross_entropy, head_epochs, SEED + 20, log=log,
                      name="fusion")
    m["fusion"] = fusion

    # ---- skip gate (val B): label = prefix decision equals the all-units decision -----------
    gx, gy = [], []
    for ae, au, ve, vs in configs():
        a, v = feats["B"][("a", ae, au)], feats["B"][("v", ve, vs)]
        full = torch_fusion(fusion, a[:, -1], v).argmax(1)
        for k in checkpoint_units(a.shape[1]):
            gx.append(gate_inputs(v, a, k))
            gy.append((torch_fusion(fusion, a[:, k - 1], v).argmax(1) == full).astype(np.float32))
    gx, gy = np.concatenate(gx), np.concatenate(gy)
    log(f"gate training rows {len(gy)}, positive (prefix agrees with all units) {gy.mean() * 100:.1f}%")
    torch.manual_seed(SEED + 21)
    gate = fit_head(Gate(), (torch.from_numpy(gx),), torch.from_numpy(gy)[:, None], F.binary_cross_entropy,
                    head_epochs, SEED + 21, log=log, name="gate")
    m["gate"] = gate

    # ---- threshold (val C, reference configuration) ------------------------------------------
    a_ref, v_ref = feats["C"][("a", REF[0], REF[1])], feats["C"][("v", REF[2], REF[3])]
    grid = [round(t, 3) for t in np.arange(0.50, 0.99, 0.01)] + [0.99, 0.995, 0.999]
    full_c, res_c, _ = simulate(fusion, gate, a_ref, v_ref, grid)
    acc_full_c = np.mean(full_c == val["C"]["label"])
    best = None
    log("threshold sweep on val C (reference configuration): thr  acc  unitsSkipped%")
    for thr, (pred, used) in zip(grid, res_c):
        acc = np.mean(pred == val["C"]["label"])
        skipped = 100 * (1 - used.sum() / (len(used) * a_ref.shape[1]))
        if abs(thr * 20 - round(thr * 20)) < 1e-9 or thr >= 0.99:
            log(f"  {thr:.3f}  {acc:.4f}  {skipped:5.1f}")
        if acc_full_c - acc <= 0.005 + 1e-12 and (best is None or skipped > best[1]):
            best = (thr, skipped, acc)
    if best is None:
        threshold = 1.01   # never skip
        log("no threshold keeps the validation drop within 0.5 points; skipping disabled (threshold 1.01)")
    else:
        threshold = float(best[0])
        log(f"threshold {threshold} : val acc {best[2]:.4f} vs {acc_full_c:.4f} without skipping, "
            f"{best[1]:.1f}% audio units skipped")

    # ---- evaluation over all configurations -------------------------------------------------
    cfg_rows = []
    for cfg in configs():
        ae, au, ve, vs = cfg
        row = dict(audioEncoder=ae, audioUnitMs=au, visionEncoder=ve, visionStride=vs)
        a, v = feats["C"][("a", ae, au)], feats["C"][("v", ve, vs)]
        row["valAccuracy"] = float(np.mean(torch_fusion(fusion, a[:, -1], v).argmax(1) == val["C"]["label"]))
        a, v = feats["test"][("a", ae, au)], feats["test"][("v", ve, vs)]
        full, [(pred, used)], _ = simulate(fusion, gate, a, v, [threshold])
        row["testAccuracy"] = float(np.mean(full == test["label"]))
        row["testAccuracySkip"] = float(np.mean(pred == test["label"]))
        row["testAudioUnitsSkippedPct"] = float(100 * (1 - used.sum() / (len(used) * a.shape[1])))
        cfg_rows.append(row)

    modality = {"audioOnly": {}, "visionOnly": {}}
    for s in SIZES:
        for ms in UNIT_MS:
            key = s if ms == 100 else f"{s}{ms}ms"
            modality["audioOnly"][key] = float(np.mean(feats["test"][("a", s, ms)][:, -1].argmax(1) == test["label"]))
        for st in STRIDES:
            key = s if st == 1 else f"{s}Stride{st}"
            modality["visionOnly"][key] = float(np.mean(feats["test"][("v", s, st)].argmax(1) == test["label"]))

    # ---- export -----------------------------------------------------------------------------
    out_models.mkdir(parents=True, exist_ok=True)
    for s in SIZES:
        common.export(m["audioEncoder"][s], (torch.zeros(1, 800),), out_models / f"audio_enc_{s}.onnx",
                      ["chunk"], ["embedding"], {"chunk": {1: "N"}})
        common.export(m["visionEncoder"][s], (torch.zeros(1, 64),), out_models / f"vision_enc_{s}.onnx",
                      ["frame"], ["embedding"], None)
        for kind in ["audio", "vision"]:
            common.export(m[f"{kind}Aggregator"][s], (torch.zeros(1, 5, EMB),), out_models / f"{kind}_agg_{s}.onnx",
                          ["units"], ["features"], {"units": {1: "T"}})
    common.export(fusion, (torch.zeros(1, 10), torch.zeros(1, 10)), out_models / "fusion.onnx",
                  ["audio", "vision"], ["logits"], None)
    common.export(gate, (torch.zeros(1, 21),), out_models / "gate.onnx", ["x"], ["skip"], None)

    macs = {f"audio_enc_{s}": common.count_macs(m["audioEncoder"][s], torch.zeros(1, 800)) for s in SIZES}
    macs.update({f"vision_enc_{s}": common.count_macs(m["visionEncoder"][s], torch.zeros(1, 64)) for s in SIZES})
    agg_macs_step = common.count_macs(m["audioAggregator"]["large"], torch.zeros(1, 1, EMB))

    meta = {
        "task": "MMEdge spoken+handwritten digit (0-9): audio = espeak-ng digit word, 8 kHz, 1.0 s with noise "
                "(SNR -15..15 dB); vision = 8 frames progressively revealing an sklearn 8x8 digit",
        "sampleRate": SR, "audioMs": 1000, "frames": FRAMES, "frameIntervalMs": 62.5, "frameSize": 64,
        "embedding": EMB, "classes": CLASSES, "audioUnitMs": UNIT_MS, "visionStrides": STRIDES,
        "models": {
            "audioEncoder": {s: f"audio_enc_{s}.onnx" for s in SIZES},
            "visionEncoder": {s: f"vision_enc_{s}.onnx" for s in SIZES},
            "audioAggregator": {s: f"audio_agg_{s}.onnx" for s in SIZES},
            "visionAggregator": {s: f"vision_agg_{s}.onnx" for s in SIZES},
            "fusion": "fusion.onnx", "gate": "gate.onnx"},
        "macs": macs,
        "gate": {"input": ["vision[10]", "audioPrefix[10]", "fraction"], "checkpoints": CHECKPOINTS,
                 "threshold": threshold},
        "configurations": [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()} for r in cfg_rows],
        "modalityAccuracy": {k: {kk: round(vv, 4) for kk, vv in d.items()} for k, d in modality.items()},
    }
    common.write_json(out_models / "mmedge.json", meta)

    # ---- replay data --------------------------------------------------------------------------
    out_samples.mkdir(parents=True, exist_ok=True)
    with open(out_samples / "labels.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["episode", "label", "voice", "speed", "snrDb"])
        for i in range(len(test["label"])):
            u = utts[test["utt"][i]]
            write_wav(out_samples / f"{i:04d}.wav", test["audio"][i])
            np.save(out_samples / f"{i:04d}.npy", test["frames"][i])
            w.writerow([f"{i:04d}", int(test["label"][i]), u["voice"], u["speed"], f"{test['snr'][i]:.2f}"])

    # expected results: batch-1 serving mirror on the files just written
    served, gates_all = [], []
    for i in range(len(test["label"])):
        x = read_wav(out_samples / f"{i:04d}.wav").astype(np.float32) / np.float32(32768.0)
        fr = np.load(out_samples / f"{i:04d}.npy")
        served.append(serve_episode(m, x, fr, REF, threshold))
        gates_all += served[-1]["gates"]
    with open(out_samples / "expected.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["episode", "fullPrediction", "skipPrediction", "audioUnitsUsed"])
        for i, s in enumerate(served):
            w.writerow([f"{i:04d}", s["full"], s["skip"], s["used"]])
    common.write_json(out_samples / "expected_logits.json", {
        "configuration": {"audioEncoder": REF[0], "audioUnitMs": REF[1], "visionEncoder": REF[2], "visionStride": REF[3]},
        "tolerance": 1e-3,
        "episodes": [{"episode": i, "logits": [round(float(v), 6) for v in served[i]["logits"]],
                      "audioFeatures": [round(float(v), 6) for v in served[i]["audio"]],
                      "visionFeatures": [round(float(v), 6) for v in served[i]["vision"]]} for i in range(5)]})

    # ---- checks -------------------------------------------------------------------------------
    ref_row = next(r for r in cfg_rows if (r["audioEncoder"], r["audioUnitMs"], r["visionEncoder"],
                                           r["visionStride"]) == REF)
    full_pred_b, [(skip_pred_b, used_b)], _ = simulate(fusion, gate, feats["test"][("a", "large", 100)],
                                                       feats["test"][("v", "large", 1)], [threshold])
    mism = sum(int(s["full"] != a) + int(s["skip"] != b) + int(s["used"] != c)
               for s, a, b, c in zip(served, full_pred_b, skip_pred_b, used_b))
    acc_served = np.mean([s["full"] == y for s, y in zip(served, test["label"])])
    acc_served_skip = np.mean([s["skip"] == y for s, y in zip(served, test["label"])])
    margin = min(abs(g - threshold) for g in gates_all) if gates_all else float("nan")
    log(f"serving mirror vs batched evaluation: {mism} mismatches; mirror acc {acc_served:.4f} "
        f"skip {acc_served_skip:.4f} (batched {ref_row['testAccuracy']:.4f}/{ref_row['testAccuracySkip']:.4f}); "
        f"closest gate output to threshold on test: {margin:.2e}")
    # numpy interpretation of the exported graphs for episodes 0..4 of the reference configuration
    max_diff = 0.0
    for i in range(5):
        x = read_wav(out_samples / f"{i:04d}.wav").astype(np.float32) / np.float32(32768.0)
        fr = np.load(out_samples / f"{i:04d}.npy")
        ve = np.stack([common.run_onnx(out_models / "vision_enc_large.onnx", {"frame": fr[k].reshape(1, 64)})[0]
                       for k in range(FRAMES)], axis=1)
        v = common.run_onnx(out_models / "vision_agg_large.onnx", {"units": ve})[0]
        ae_ = np.stack([common.run_onnx(out_models / "audio_enc_large.onnx", {"chunk": x[j * 800:(j + 1) * 800][None]})[0]
                        for j in range(10)], axis=1)
        a = common.run_onnx(out_models / "audio_agg_large.onnx", {"units": ae_})[0]
        lg = common.run_onnx(out_models / "fusion.onnx", {"audio": a, "vision": v})[0]
        max_diff = max(max_diff, float(np.abs(lg[0] - served[i]["logits"]).max()))
        for j, k in enumerate(checkpoint_units(10)[:len(served[i]["gates"])]):
            ak = common.run_onnx(out_models / "audio_agg_large.onnx", {"units": ae_[:, :k]})[0]
            g = common.run_onnx(out_models / "gate.onnx", {"x": np.concatenate([v, ak, [[k / 10]]], 1)})[0]
            max_diff = max(max_diff, abs(float(g[0, 0]) - served[i]["gates"][j]))
    # dynamic shapes: small models, 1600-sample chunks, 4-frame vision sequence, odd T
    x = read_wav(out_samples / "0000.wav").astype(np.float32) / np.float32(32768.0)
    fr = np.load(out_samples / "0000.npy")
    with torch.no_grad():
        for s in SIZES:
            for u in (800, 1600, 1234):
                t = m["audioEncoder"][s](torch.from_numpy(x[:u][None])).numpy()
                o = common.run_onnx(out_models / f"audio_enc_{s}.onnx", {"chunk": x[:u][None]})[0]
                max_diff = max(max_diff, float(np.abs(t - o).max()))
            for kind in ["audio", "vision"]:
                for t_len in (1, 3, 4, 7):
                    uin = np.random.default_rng(t_len).normal(size=(1, t_len, EMB)).astype(np.float32)
                    t = m[f"{kind}Aggregator"][s](torch.from_numpy(uin)).numpy()
                    o = common.run_onnx(out_models / f"{kind}_agg_{s}.onnx", {"units": uin})[0]
                    max_diff = max(max_diff, float(np.abs(t - o).max()))
            t = m["visionEncoder"][s](torch.from_numpy(fr[3].reshape(1, 64))).numpy()
            o = common.run_onnx(out_models / f"vision_enc_{s}.onnx", {"frame": fr[3].reshape(1, 64)})[0]
            max_diff = max(max_diff, float(np.abs(t - o).max()))
    log(f"numpy re-run of the exported ONNX graphs vs torch: max abs difference {max_diff:.2e}")

    # ---- report -------------------------------------------------------------------------------
    log("\nexported models:")
    for p in sorted(out_models.glob("*.onnx")):
        log("  " + common.describe(p))
    log(f"\nMACs per call: " + ", ".join(f"{k} {v:,}" for k, v in macs.items())
        + f" (audio encoders per 800-sample unit); GRU aggregator {agg_macs_step:,} per unit")
    log(f"\nmodality accuracy on test ({len(test['label'])} episodes, all units):")
    for kind, d in modality.items():
        log(f"  {kind:11s} " + "  ".join(f"{k} {v:.3f}" for k, v in d.items()))
    # audio accuracy by SNR band: the large encoder should win on noisy audio
    bands = [(-15, -10), (-10, -5), (-5, 0), (0, 5), (5, 15)]
    for split, data in [("test", test), ("C", val["C"])]:
        for ms in UNIT_MS:
            cells = []
            for lo, hi in bands:
                mk = (data["snr"] >= lo) & (data["snr"] < hi)
                accs = [np.mean(feats[split][("a", s, ms)][mk, -1].argmax(1) == data["label"][mk]) for s in SIZES]
                cells.append(f"[{lo},{hi}) n={mk.sum()}: {accs[0]:.2f}/{accs[1]:.2f}")
            log(f"  audio-only accuracy by SNR, {'test' if split == 'test' else 'val C'}, {ms} ms units "
                f"(small/large): " + "  ".join(cells))
    log(f"\nconfigurations (threshold {threshold}):")
    log("  audioEnc unitMs visionEnc stride | valAcc testAcc testAccSkip unitsSkipped%")
    for r in cfg_rows:
        log(f"  {r['audioEncoder']:8s} {r['audioUnitMs']:6d} {r['visionEncoder']:9s} {r['visionStride']:6d} | "
            f"{r['valAccuracy']:.3f}  {r['testAccuracy']:.3f}   {r['testAccuracySkip']:.3f}      "
            f"{r['testAudioUnitsSkippedPct']:5.1f}")
    total = sum(p.stat().st_size for p in out_samples.rglob("*") if p.is_file())
    log(f"\nsamples: {len(list(out_samples.glob('*.wav')))} wav, {len(list(out_samples.glob('*.npy')))} npy, "
        f"{total / 1e6:.2f} MB in {out_samples}")
    log(f"wall time {timer()}")


if __name__ == "__main__":
    main()
