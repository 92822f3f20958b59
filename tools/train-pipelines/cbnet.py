#!/usr/bin/python3
"""CBNet on Fashion-MNIST: a full CNN, a lightweight MLP classifier, a converting
autoencoder that turns images into "easy" images for the light classifier, and a
two-stage early-exit version of the full CNN as the baseline. Exports ONNX models,
cbnet.json and 1000 replay test images for the C# side.

Run:  /usr/bin/python3 tools/train-pipelines/cbnet.py            (full run)
      /usr/bin/python3 tools/train-pipelines/cbnet.py --quick    (smoke run, writes to /tmp unless --out-* given)
"""
from __future__ import annotations

import argparse
import csv
import gzip
import os
import sys

# The 2 cores are shared with other work: idle OpenMP threads must sleep, not spin,
# or a busy core slows every parallel region several-fold. Set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

SEED = 20240612
DATA = Path("/usr/share/datasets/fashion-mnist")
EASY_CONF = 0.95   # "easy" = light classifier right with max softmax >= this


def load_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def to_tensor(u8: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(u8.astype(np.float32) / np.float32(255.0)).unsqueeze(1)   # [N,1,28,28]


# ---------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------
def cbr(cin, cout, stride=1):
    return [nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]


class FullCNN(nn.Module):
    """~22 M MACs. block1 is cheap on purpose, so the early exit after it saves most of the work."""

    def __init__(self):
        super().__init__()
        self.block1 = nn.Sequential(*cbr(1, 32), nn.MaxPool2d(2))                       # -> [N,32,14,14]
        self.rest = nn.Sequential(*cbr(32, 64), *cbr(64, 64), *cbr(64, 64), nn.MaxPool2d(2),
                                  *cbr(64, 128), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                  nn.Dropout(0.2), nn.Linear(128, 10))
        self.exit = nn.Sequential(*cbr(32, 32, stride=2), nn.Flatten(), nn.Dropout(0.2), nn.Linear(32 * 49, 10))

    def forward(self, image):
        return self.rest(self.block1(image))

    def both(self, image):
        f = self.block1(image)
        return self.rest(f), self.exit(f)


class Stage1(nn.Module):
    def __init__(self, full: FullCNN):
        super().__init__()
        self.block1, self.exit = full.block1, full.exit

    def forward(self, image):
        f = self.block1(image)
        return f, self.exit(f)


class Stage2(nn.Module):
    def __init__(self, full: FullCNN):
        super().__init__()
        self.rest = full.rest

    def forward(self, features):
        return self.rest(features)


class Light(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))

    def forward(self, image):
        return self.net(image)


class AutoEncoder(nn.Module):
    """Tiny conv encoder (two stride-2 convs) + MLP decoder, sigmoid output image."""

    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(*cbr(1, 16, stride=2), *cbr(16, 32, stride=2), nn.Flatten(),
                                 nn.Linear(32 * 49, 64), nn.ReLU())
        self.dec = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 784), nn.Sigmoid())

    def forward(self, image):
        return self.dec(self.enc(image)).reshape(image.shape[0], 1, 28, 28)


# ---------------------------------------------------------------------------
def batches(n, bsz, rng):
    perm = rng.permutation(n)
    for i in range(0, n - bsz + 1, bsz):
        yield perm[i:i + bsz]


def predict(fn, x, bsz=1000):
    outs = []
    with torch.no_grad():
        for i in range(0, len(x), bsz):
            o = fn(x[i:i + bsz])
            outs.append(o if isinstance(o, tuple) else (o,))
    return [torch.cat([o[j] for o in outs]) for j in range(len(outs[0]))]


def train(model, params, loss_fn, n, epochs, bsz, lr, seed, log, name, timer, eval_fn=None, wd=1e-4):
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    steps = epochs * (n // bsz)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.25)
    for ep in range(epochs):
        model.train()
        tot, cnt = 0.0, 0
        for idx in batches(n, bsz, np.random.default_rng([seed, ep])):
            loss = loss_fn(torch.from_numpy(idx))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot, cnt = tot + loss.item(), cnt + 1
        model.eval()
        extra = f" val {eval_fn():.4f}" if eval_fn else ""
        log(f"[{timer()}] {name} epoch {ep + 1}/{epochs} loss {tot / cnt:.4f}{extra}")


def pick_threshold(conf, cheap_pred, full_pred, y, grid):
    """Lowest threshold whose accuracy is within 0.5 points of the full model (keeps the cheap path
    whenever conf >= threshold). Returns (threshold, accuracy, fraction on the cheap path)."""
    acc_full = np.mean(full_pred == y)
    for t in grid:
        keep = conf >= t
        acc = np.mean(np.where(keep, cheap_pred, full_pred) == y)
        if acc >= acc_full - 0.005 - 1e-12:
            return float(t), float(acc), float(keep.mean())
    return 1.01, float(acc_full), 0.0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out-models", type=Path, default=None, help="default: <repo>/models/cbnet")
    ap.add_argument("--out-samples", type=Path, default=None, help="default: <repo>/samples/cbnet")
    ap.add_argument("--quick", action="store_true", help="tiny smoke run (outputs go to /tmp unless --out-* given)")
    args = ap.parse_args()
    quick_root = Path("/tmp/edgeruntime-train-quick")
    out_models = args.out_models or ((quick_root / "models/cbnet") if args.quick else common.REPO / "models/cbnet")
    out_samples = args.out_samples or ((quick_root / "samples/cbnet") if args.quick else common.REPO / "samples/cbnet")
    common.setup(SEED)
    timer = common.Timer()
    log = lambda s: print(s, flush=True)  # noqa: E731

    # ---- data ---------------------------------------------------------------------------------
    xtr_u8 = load_idx(DATA / "train-images-idx3-ubyte.gz")
    ytr_all = load_idx(DATA / "train-labels-idx1-ubyte.gz")
    xte_u8 = load_idx(DATA / "t10k-images-idx3-ubyte.gz")
    yte_np = load_idx(DATA / "t10k-labels-idx1-ubyte.gz")
    perm = np.random.default_rng([SEED, 0]).permutation(len(ytr_all))
    val_idx, tr_idx = np.sort(perm[:5000]), np.sort(perm[5000:])
    if args.quick:
        tr_idx = tr_idx[:5000]
    xtr, ytr = to_tensor(xtr_u8[tr_idx]), torch.from_numpy(ytr_all[tr_idx].astype(np.int64))
    xva, yva_np = to_tensor(xtr_u8[val_idx]), ytr_all[val_idx].astype(np.int64)
    xte = to_tensor(xte_u8)
    yte_np = yte_np.astype(np.int64)
    n = len(ytr)
    log(f"[{timer()}] Fashion-MNIST train {n}, val {len(yva_np)}, test {len(yte_np)}")
    ep = (lambda e: 1) if args.quick else (lambda e: e)

    def acc_of(fn, x, y):
        return float(np.mean(predict(fn, x)[0].argmax(1).numpy() == y))

    # ---- full CNN with its early-exit branch (trained jointly, BranchyNet style) ------------------
    torch.manual_seed(SEED + 1)
    full = FullCNN()

    def full_loss(idx):
        x = xtr[idx]
        flip = torch.rand(len(idx)) < 0.5            # horizontal flips: the classes are left/right symmetric
        x = torch.where(flip[:, None, None, None], x.flip(3), x)
        main_logits, exit_logits = full.both(x)
        return F.cross_entropy(main_logits, ytr[idx]) + 0.5 * F.cross_entropy(exit_logits, ytr[idx])
    train(full, full.parameters(), full_loss, n, ep(4), 128, 4e-3, SEED + 1, log, "full+exit", timer,
          eval_fn=lambda: acc_of(full, xva, yva_np), wd=5e-4)
    full.eval()
    stage1, stage2 = Stage1(full).eval(), Stage2(full).eval()

    # ---- light classifier -------------------------------------------------------------------
    torch.manual_seed(SEED + 2)
    light = Light()
    train(light, light.parameters(), lambda idx: F.cross_entropy(light(xtr[idx]), ytr[idx]), n, ep(12), 128, 2e-3,
          SEED + 2, log, "light", timer, eval_fn=lambda: acc_of(light, xva, yva_np))
    light.eval()
    light_raw_test_before = acc_of(light, xte, yte_np)

    # ---- easy images and conversion targets -------------------------------------------------
    with torch.no_grad():
        p = torch.cat([F.softmax(light(xtr[i:i + 5000]), 1) for i in range(0, n, 5000)])
    conf, pred = p.max(1)
    easy = (pred == ytr) & (conf >= EASY_CONF)
    log(f"easy training images (light right with p >= {EASY_CONF}): {easy.float().mean() * 100:.1f}%")
    # target of each training image = nearest (L2, pixel space) easy image of the same class;
    # an easy image is its own target.
    flat = xtr.reshape(n, -1)
    target_idx = torch.zeros(n, dtype=torch.long)
    for c in range(10):
        members = torch.nonzero(ytr == c)[:, 0]
        easy_c = torch.nonzero((ytr == c) & easy)[:, 0]
        if len(easy_c) < 10:   # only in --quick runs: fall back to the 10 most confident images of the class
            easy_c = members[p[members, c].argsort(descending=True)[:10]]
        e = flat[easy_c]
        e2 = (e * e).sum(1)
        for i in range(0, len(members), 2000):
            mb = members[i:i + 2000]
            d = e2[None, :] - 2 * flat[mb] @ e.T        # |x|^2 is constant per row
            target_idx[mb] = easy_c[d.argmin(1)]
    targets = xtr[target_idx]
    changed = (target_idx != torch.arange(n)).float().mean()
    log(f"[{timer()}] conversion targets: {changed * 100:.1f}% of training images map to another (easy) image")

    # ---- converting autoencoder: reconstruct the easy target + light's CE (light frozen) -------
    torch.manual_seed(SEED + 3)
    ae = AutoEncoder()
    for q in light.parameters():
        q.requires_grad_(False)

    def ae_loss(idx):
        out = ae(xtr[idx])
        return F.binary_cross_entropy(out, targets[idx]) + 0.5 * F.cross_entropy(light(out), ytr[idx])
    cb = lambda x: light(ae(x))  # noqa: E731
    train(ae, ae.parameters(), ae_loss, n, ep(10), 128, 3e-3, SEED + 3, log, "autoencoder", timer,
          eval_fn=lambda: acc_of(cb, xva, yva_np))
    ae.eval()
    for q in light.parameters():
        q.requires_grad_(True)

    # ---- optional: fine-tune the light classifier on converted images (kept only if val improves)
    cb_val_before = acc_of(cb, xva, yva_np)
    state_before = {k: v.clone() for k, v in light.state_dict().items()}
    with torch.no_grad():
        conv_tr = torch.cat([ae(xtr[i:i + 5000]) for i in range(0, n, 5000)])
    torch.manual_seed(SEED + 4)
    train(light, light.parameters(), lambda idx: F.cross_entropy(light(conv_tr[idx]), ytr[idx]), n, ep(2), 128,
          3e-4, SEED + 4, log, "light fine-tune on converted", timer, eval_fn=lambda: acc_of(cb, xva, yva_np))
    light.eval()
    cb_val_after = acc_of(cb, xva, yva_np)
    finetuned = cb_val_after > cb_val_before
    if not finetuned:
        light.load_state_dict(state_before)
    log(f"light fine-tune: val light(ae(x)) {cb_val_before:.4f} -> {cb_val_after:.4f}; "
        f"{'kept' if finetuned else 'discarded'}")

    # ---- thresholds on validation -------------------------------------------------------------
    def outputs(x):
        full_l = predict(full, x)[0]
        light_l = predict(light, x)[0]
        cb_l = predict(cb, x)[0]
        _, exit_l = predict(stage1, x)
        return {k: v.numpy() for k, v in dict(full=full_l, light=light_l, cbnet=cb_l, exit=exit_l).items()}

    def softmax_max(logits):
        return F.softmax(torch.from_numpy(logits), 1).max(1).values.numpy().astype(np.float64)

    ov, ot = outputs(xva), outputs(xte)
    grid = [round(float(t), 3) for t in np.arange(0.0, 1.0, 0.001)] + [0.9995, 0.9999]
    gate_thr, gate_val_acc, gate_val_keep = pick_threshold(softmax_max(ov["cbnet"]), ov["cbnet"].argmax(1),
                                                           ov["full"].argmax(1), yva_np, grid)
    exit_thr, exit_val_acc, exit_val_keep = pick_threshold(softmax_max(ov["exit"]), ov["exit"].argmax(1),
                                                           ov["full"].argmax(1), yva_np, grid)
    val_acc = {k: float(np.mean(v.argmax(1) == yva_np)) for k, v in ov.items()}
    log(f"val accuracy: " + ", ".join(f"{k} {v:.4f}" for k, v in val_acc.items()))
    log(f"gateThreshold {gate_thr}: val acc {gate_val_acc:.4f}, fallback {100 * (1 - gate_val_keep):.1f}%")
    log(f"exitThreshold {exit_thr}: val acc {exit_val_acc:.4f}, exit {100 * exit_val_keep:.1f}%")

    # ---- test -------------------------------------------------------------------------------
    preds = {k: v.argmax(1) for k, v in ot.items()}
    cb_conf, ex_conf = softmax_max(ot["cbnet"]), softmax_max(ot["exit"])
    gated = np.where(cb_conf >= gate_thr, preds["cbnet"], preds["full"])
    early = np.where(ex_conf >= exit_thr, preds["exit"], preds["full"])
    test_acc = {"full": np.mean(preds["full"] == yte_np), "light": np.mean(preds["light"] == yte_np),
                "cbnet": np.mean(preds["cbnet"] == yte_np), "cbnetGated": np.mean(gated == yte_np),
                "earlyExit": np.mean(early == yte_np)}
    test_acc = {k: float(v) for k, v in test_acc.items()}
    fallback_pct = float(100 * np.mean(cb_conf < gate_thr))
    exit_pct = float(100 * np.mean(ex_conf >= exit_thr))
    margin_gate = float(np.min(np.abs(cb_conf - gate_thr)))
    margin_exit = float(np.min(np.abs(ex_conf - exit_thr)))

    # ---- export -------------------------------------------------------------------------------
    out_models.mkdir(parents=True, exist_ok=True)
    dummy = torch.zeros(2, 1, 28, 28)
    img_axes = {"image": {0: "N"}}
    common.export(full, (dummy,), out_models / "full.onnx", ["image"], ["logits"], {**img_axes, "logits": {0: "N"}})
    common.export(light, (dummy,), out_models / "light.onnx", ["image"], ["logits"], {**img_axes, "logits": {0: "N"}})
    common.export(ae, (dummy,), out_models / "autoencoder.onnx", ["image"], ["converted"],
                  {**img_axes, "converted": {0: "N"}})
    common.export(stage1, (dummy,), out_models / "early_exit_stage1.onnx", ["image"], ["features", "exit_logits"],
                  {**img_axes, "features": {0: "N"}, "exit_logits": {0: "N"}})
    common.export(stage2, (torch.zeros(2, 32, 14, 14),), out_models / "early_exit_stage2.onnx", ["features"],
                  ["logits"], {"features": {0: "N"}, "logits": {0: "N"}})
    one = torch.zeros(1, 1, 28, 28)
    macs = {"full": common.count_macs(full, one), "light": common.count_macs(light, one),
            "autoencoder": common.count_macs(ae, one), "earlyExitStage1": common.count_macs(stage1, one),
            "earlyExitStage2": common.count_macs(stage2, torch.zeros(1, 32, 14, 14))}

    easy_text = (f"An image is easy when the light classifier (before any fine-tuning) classifies it correctly with "
                 f"max softmax >= {EASY_CONF}. The autoencoder's target for each training image is the nearest easy "
                 f"training image of the same class in pixel space (L2); easy images are their own target. Loss: "
                 f"BCE to that target + 0.5 x light classifier's cross-entropy on the converted image (light frozen)."
                 + (" The light classifier was then fine-tuned on converted images." if finetuned else ""))
    meta = {
        "task": "CBNet on Fashion-MNIST (10 classes): light MLP on autoencoder-converted images, confidence gate "
                "falling back to the full CNN; two-stage early-exit CNN as the baseline",
        "input": {"name": "image", "shape": [1, 1, 28, 28], "scale": "pixel/255"},
        "models": {"full": "full.onnx", "light": "light.onnx", "autoencoder": "autoencoder.onnx",
                   "earlyExitStage1": "early_exit_stage1.onnx", "earlyExitStage2": "early_exit_stage2.onnx"},
        "macs": macs,
        "gateThreshold": gate_thr, "exitThreshold": exit_thr,
        "easyDefinition": easy_text,
        "testAccuracy": {k: round(v, 4) for k, v in test_acc.items()},
        "testFallbackPct": round(fallback_pct, 2), "testExitPct": round(exit_pct, 2),
    }
    common.write_json(out_models / "cbnet.json", meta)

    # ---- replay samples -----------------------------------------------------------------------
    out_samples.mkdir(parents=True, exist_ok=True)
    np.save(out_samples / "test_images_1000.npy", np.ascontiguousarray(xte_u8[:1000]))
    np.save(out_samples / "test_labels_1000.npy", yte_np[:1000].astype(np.uint8))
    with open(out_samples / "expected.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["index", "full", "light", "cbnet"])
        for i in range(1000):
            w.writerow([i, int(preds["full"][i]), int(preds["light"][i]), int(preds["cbnet"][i])])

    # ---- checks: numpy re-run of the exported graphs on 16 saved test images (batch 16) ---------
    imgs = np.load(out_samples / "test_images_1000.npy")[:16].astype(np.float32)[:, None] / np.float32(255.0)
    xt = torch.from_numpy(imgs)
    diffs = {}
    with torch.no_grad():
        f1, e1 = stage1(xt)
        ref = {"full.onnx": [full(xt)], "light.onnx": [light(xt)], "autoencoder.onnx": [ae(xt)],
               "early_exit_stage1.onnx": [f1, e1]}
        for name, outs in ref.items():
            got = common.run_onnx(out_models / name, {"image": imgs})
            diffs[name] = max(float(np.abs(g - o.numpy()).max()) for g, o in zip(got, outs))
        got = common.run_onnx(out_models / "early_exit_stage2.onnx", {"features": f1.numpy()})[0]
        diffs["early_exit_stage2.onnx"] = float(np.abs(got - stage2(f1).numpy()).max())
        split_vs_full = float(np.abs(stage2(f1) - full(xt)).abs().max())
        cb_onnx = common.run_onnx(out_models / "light.onnx",
                                  {"image": common.run_onnx(out_models / "autoencoder.onnx", {"image": imgs})[0]})[0]
        diffs["light(autoencoder)"] = float(np.abs(cb_onnx - cb(xt).numpy()).max())
    log("numpy re-run of exported graphs vs torch, max abs diff: " + ", ".join(f"{k} {v:.1e}" for k, v in diffs.items())
        + f"; stage2(stage1) vs full {split_vs_full:.1e}")
    log(f"closest test confidence to gateThreshold {margin_gate:.1e}, to exitThreshold {margin_exit:.1e}")

    # ---- report -------------------------------------------------------------------------------
    log("\nexported models:")
    for pth in sorted(out_models.glob("*.onnx")):
        log("  " + common.describe(pth))
    log("\nMACs per image: " + ", ".join(f"{k} {v:,}" for k, v in macs.items()))
    cb_macs = macs["light"] + macs["autoencoder"]
    log(f"\n{'model':32s} {'val':>7s} {'test':>7s}  avg MACs/image on test")
    log(f"{'full CNN':32s} {val_acc['full']:7.4f} {test_acc['full']:7.4f}  {macs['full']:,}")
    log(f"{'light MLP (raw images)':32s} {val_acc['light']:7.4f} {test_acc['light']:7.4f}  {macs['light']:,}"
        f"   (before fine-tune: test {light_raw_test_before:.4f})")
    log(f"{'cbnet light(ae(x))':32s} {val_acc['cbnet']:7.4f} {test_acc['cbnet']:7.4f}  {cb_macs:,}")
    log(f"{'cbnet gated (fallback to full)':32s} {gate_val_acc:7.4f} {test_acc['cbnetGated']:7.4f}  "
        f"{cb_macs + fallback_pct / 100 * macs['full']:,.0f}   fallback {fallback_pct:.1f}% (thr {gate_thr})")
    log(f"{'early-exit stage 1 alone':32s} {val_acc['exit']:7.4f} {np.mean(preds['exit'] == yte_np):7.4f}  "
        f"{macs['earlyExitStage1']:,}")
    log(f"{'early exit (thr)':32s} {exit_val_acc:7.4f} {test_acc['earlyExit']:7.4f}  "
        f"{macs['earlyExitStage1'] + (1 - exit_pct / 100) * macs['earlyExitStage2']:,.0f}   exit {exit_pct:.1f}% (thr {exit_thr})")
    total = sum(pth.stat().st_size for pth in out_samples.rglob("*") if pth.is_file())
    log(f"\nsamples: {total / 1e6:.2f} MB in {out_samples}")
    log(f"wall time {timer()}")


if __name__ == "__main__":
    main()
