#!/usr/bin/env python3
"""Trains a small AutoNeural-shaped vision-language model on Fashion-MNIST and exports it for edge-convert.

Three parts are trained together on one loss (the caption tokens):
  * a MobileNet-style encoder: a strided 3x3 stem, then depthwise-separable blocks (depthwise 3x3 + pointwise 1x1),
    every conv with batch norm (folded into its weight and bias at export) and ReLU, then a 4x4/3 average pool that
    leaves 2x2 = 4 image tokens;
  * a connector: two linear layers with a ReLU between, from the encoder's channels to the language model's width;
  * a small LFM2 hybrid decoder (tools/lfm2/train.py's modules: gated short convs and one attention layer).
The language model reads [4 image embeddings][BOS] and learns to say "a {shade} {item}" then EOS.

The caption's attribute is one the pixels carry: the shade, from the mean value of the garment's pixels (those >= 16),
cut at the train set's tertiles. Fashion-MNIST stores the photos inverted (background 0), so a high value is a dark
garment: "light", "medium" or "dark" in the photo's sense.

A plain classifier is trained alongside for comparison: the same encoder with a linear head over the 30 captions.
Both are scored on the 10 000 test images (exact caption, item, shade).

Export (--checkpoint-dir): config.json (LFM2's keys plus "vision_config"), model.safetensors (BF16; language model
under transformers' LFM2 names, encoder under vision_tower.layers.N, connector under multi_modal_projector.linear_1/2),
tokenizer.json (the BitNet model's), and calibration-images-idx3-ubyte (256 train images for edge-convert's W8A16
calibration). CI never runs this script. Use Debian's /usr/bin/python3 (python3-torch 1.13, python3-numpy).

    /usr/bin/python3 tools/vlm/train.py --epochs 8 --threads 2
"""
from __future__ import annotations

import argparse
import copy
import gzip
import importlib.util
import json
import math
import struct
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
DATA = Path("/usr/share/datasets/fashion-mnist")
TOKENIZER = HERE.parent / "bitnet" / "checkpoint" / "tokenizer.json"


def _load(name: str, path: Path):
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


lfm2_train = _load("lfm2_train", HERE.parent / "lfm2" / "train.py")  # modules, safetensors writer, bf16 rounding
bitnet_train = lfm2_train.bitnet_train
bpe = lfm2_train.bpe

ITEMS = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot"]
SHADES = ["light", "medium", "dark"]
INK = 16  # pixels at or above this belong to the garment

LM_SHAPE = dict(hidden_size=128, intermediate_size=384, num_hidden_layers=4, num_attention_heads=4,
                num_key_value_heads=2, head_dim=32, context=64, rope_theta=10000.0, norm_eps=1e-5, conv_L_cache=3,
                layer_types=["conv", "conv", "full_attention", "conv"])

# (kind, output channels, stride): conv = full 3x3, depthwise = 3x3 per channel, pointwise = 1x1; all pad to "same".
VISION_LAYERS = [("conv", 16, 2), ("depthwise", 16, 1), ("pointwise", 32, 1), ("depthwise", 32, 2),
                 ("pointwise", 64, 1), ("depthwise", 64, 1), ("pointwise", 96, 1)]
POOL = dict(kernel=4, stride=3)  # 7x7 -> 2x2
IMAGE_TOKENS = 4


# ------------------------------------------------------------------------------------------------------------------
# Data
# ------------------------------------------------------------------------------------------------------------------

def read_idx(images: Path, labels: Path) -> tuple[np.ndarray, np.ndarray]:
    with gzip.open(images) as f:
        raw = f.read()
    count, rows, cols = struct.unpack(">III", raw[4:16])
    pixels = np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(count, rows, cols)
    with gzip.open(labels) as f:
        lab = np.frombuffer(f.read(), dtype=np.uint8, offset=8)
    return pixels, lab


def garment_mean(pixels: np.ndarray) -> np.ndarray:
    ink = pixels >= INK
    return (pixels * ink).reshape(len(pixels), -1).sum(1) / np.maximum(1, ink.reshape(len(pixels), -1).sum(1))


def shades(pixels: np.ndarray, cuts: list[float]) -> np.ndarray:
    return np.digitize(garment_mean(pixels), cuts)  # 0 light, 1 medium, 2 dark


def caption(item: int, shade: int) -> str:
    return f"a {SHADES[shade]} {ITEMS[item]}"


# ------------------------------------------------------------------------------------------------------------------
# Model
# ------------------------------------------------------------------------------------------------------------------

class VisionEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        layers, channels = [], 1
        for kind, out, stride in VISION_LAYERS:
            if kind == "pointwise":
                layers.append(nn.Conv2d(channels, out, 1))
            elif kind == "depthwise":
                assert out == channels
                layers.append(nn.Conv2d(channels, out, 3, stride, 1, groups=channels))
            else:
                layers.append(nn.Conv2d(channels, out, 3, stride, 1))
            channels = out
        self.layers = nn.ModuleList(layers)
        # Batch norm while training, folded into each conv's weight and bias for export (fold_norms)
        self.norms = nn.ModuleList(nn.BatchNorm2d(layer.out_channels) for layer in layers)
        self.channels = channels

    def forward(self, images):  # [batch, 1, 28, 28] in [0, 1] -> [batch, 4, channels]
        x = images
        for layer, norm in zip(self.layers, self.norms):
            x = F.relu(norm(layer(x)))
        x = F.avg_pool2d(x, POOL["kernel"], POOL["stride"])
        return x.flatten(2).transpose(1, 2)


@torch.no_grad()
def fold_norms(encoder: VisionEncoder) -> None:
    """Folds each (eval-mode) batch norm into the conv before it: w' = w * g, b' = (b - mean) * g + beta with
    g = gamma / sqrt(var + eps), then drops the norms (identity), so the exported encoder is conv, bias, ReLU."""
    for i, (conv, norm) in enumerate(zip(encoder.layers, encoder.norms)):
        g = norm.weight / torch.sqrt(norm.running_var + norm.eps)
        conv.weight.mul_(g[:, None, None, None])
        conv.bias.copy_((conv.bias - norm.running_mean) * g + norm.bias)
        encoder.norms[i] = nn.Identity()


class Connector(nn.Module):
    def __init__(self, channels: int, hidden: int):
        super().__init__()
        self.linear_1 = nn.Linear(channels, hidden)
        self.linear_2 = nn.Linear(hidden, hidden)

    def forward(self, x):
        return self.linear_2(F.relu(self.linear_1(x)))


class CaptionModel(nn.Module):
    def __init__(self, vocab: int):
        super().__init__()
        self.vision_tower = VisionEncoder()
        self.multi_modal_projector = Connector(self.vision_tower.channels, LM_SHAPE["hidden_size"])
        self.lm = lfm2_train.Lfm2(LM_SHAPE, vocab)

    def logits(self, images, ids):
        """Next-token logits at every position of [image tokens][ids]."""
        h = torch.cat([self.multi_modal_projector(self.vision_tower(images)), self.lm.model.embed_tokens(ids)], dim=1)
        t = h.shape[1]
        cos, sin = self.lm.cos[:t].to(h.dtype), self.lm.sin[:t].to(h.dtype)
        for layer in self.lm.model.layers:
            h = layer(h, cos, sin)
        return self.lm.model.embedding_norm(h) @ self.lm.model.embed_tokens.weight.T


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.vision_tower = VisionEncoder()
        self.head = nn.Linear(IMAGE_TOKENS * self.vision_tower.channels, len(ITEMS) * len(SHADES))

    def forward(self, images):
        return self.head(self.vision_tower(images).flatten(1))


# ------------------------------------------------------------------------------------------------------------------
# Training and scoring
# ------------------------------------------------------------------------------------------------------------------

def caption_batch(tok, bos: int, eos: int, items: np.ndarray, shade: np.ndarray):
    """Inputs [BOS, caption..., EOS-padding] and targets [caption..., EOS, -100...] for the token part."""
    seqs = [tok.encode(caption(int(i), int(s))) for i, s in zip(items, shade)]
    width = max(map(len, seqs)) + 1
    ids = torch.full((len(seqs), width), eos, dtype=torch.long)
    targets = torch.full((len(seqs), width), -100, dtype=torch.long)
    for row, seq in enumerate(seqs):
        ids[row, 0] = bos
        ids[row, 1:len(seq) + 1] = torch.tensor(seq)
        targets[row, :len(seq)] = torch.tensor(seq)
        targets[row, len(seq)] = eos
    return ids, targets


def to_images(pixels: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(pixels.astype(np.float32) / 255.0)[:, None]


def run_schedule(model, params, steps_per_epoch: int, args, step_fn, log, name: str):
    opt = torch.optim.AdamW(params, lr=args.lr, betas=(0.9, 0.95), weight_decay=0.01)
    total = steps_per_epoch * args.epochs
    rng = np.random.default_rng(args.seed)
    t0, step, running = time.time(), 0, None
    for epoch in range(args.epochs):
        order = rng.permutation(steps_per_epoch * args.batch)
        for b in range(steps_per_epoch):
            lr = bitnet_train.lr_at(step, total, args.lr, 100, "cosine", 0.05)
            for g in opt.param_groups:
                g["lr"] = lr
            loss = step_fn(order[b * args.batch:(b + 1) * args.batch])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
            step += 1
            if step % 100 == 0:
                log(f"[{name}] epoch {epoch + 1} step {step}/{total} loss {running:.4f} lr {lr:.5f} "
                    f"{time.time() - t0:.0f} s")
    return {"steps": step, "epochs": args.epochs, "batch": args.batch, "lr": args.lr,
            "seconds": round(time.time() - t0, 1), "final_loss_running": running}


def longest_caption(tok) -> int:
    """Tokens of the longest of the 30 captions ("a medium t-shirt" is 11 with the BitNet BPE)."""
    return max(len(tok.encode(caption(i, s))) for i in range(len(ITEMS)) for s in range(len(SHADES)))


@torch.no_grad()
def greedy_captions(model: CaptionModel, tok, bos: int, eos: int, pixels: np.ndarray):
    # room for the longest caption and its EOS: a shorter cap cuts the longest ones and scores them wrong
    max_tokens = longest_caption(tok) + 1
    out = []
    for start in range(0, len(pixels), 500):
        images = to_images(pixels[start:start + 500])
        ids = torch.full((len(images), 1), bos, dtype=torch.long)
        done = torch.zeros(len(images), dtype=torch.bool)
        for _ in range(max_tokens):
            nxt = model.logits(images, ids)[:, -1].argmax(-1)
            nxt[done] = eos
            ids = torch.cat([ids, nxt[:, None]], dim=1)
            done |= nxt == eos
            if done.all():
                break
        for row in ids[:, 1:].tolist():
            out.append(tok.decode(row[:row.index(eos)] if eos in row else row))
    return out


def score(predicted: list[str], items: np.ndarray, shade: np.ndarray) -> dict:
    truth = [caption(int(i), int(s)) for i, s in zip(items, shade)]
    item_names = [ITEMS[int(i)] for i in items]
    shade_names = [SHADES[int(s)] for s in shade]
    n = len(truth)
    return {
        "images": n,
        "caption_exact": sum(p == t for p, t in zip(predicted, truth)) / n,
        "item": sum(p.endswith(" " + i) for p, i in zip(predicted, item_names)) / n,
        "shade": sum(p.startswith(f"a {s} ") for p, s in zip(predicted, shade_names)) / n,
        "well_formed": sum(p in set(caption(i, s) for i in range(10) for s in range(3)) for p in predicted) / n,
    }


# ------------------------------------------------------------------------------------------------------------------
# Export
# ------------------------------------------------------------------------------------------------------------------

def export(model: CaptionModel, tok, out: Path, cuts: list[float], calibration: np.ndarray) -> CaptionModel:
    out.mkdir(parents=True, exist_ok=True)
    exported = copy.deepcopy(model)
    exported.eval()
    fold_norms(exported.vision_tower)
    lm_dir = out / "lm-only"
    # tools/lfm2's exporter writes the language model's config.json, tokenizer.json and tensors
    lfm2_train.export_checkpoint(exported.lm, TOKENIZER, lm_dir, "BF16")
    config = json.loads((lm_dir / "config.json").read_text())
    config["architectures"] = ["Lfm2VlForConditionalGeneration"]
    config["vision_config"] = {
        "model_type": "edgeruntime_mobilenet",
        "image_size": 28,
        "num_channels": 1,
        "layers": [{"kind": k, "channels": c, "stride": s} for k, c, s in VISION_LAYERS],
        "pool_kernel": POOL["kernel"],
        "pool_stride": POOL["stride"],
        "image_tokens": IMAGE_TOKENS,
        "projector_hidden_size": LM_SHAPE["hidden_size"],
    }
    config["caption_labels"] = {"items": ITEMS, "shades": SHADES, "ink_threshold": INK, "shade_cuts": cuts}
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    (out / "tokenizer.json").write_bytes(TOKENIZER.read_bytes())

    tensors = {}
    with torch.no_grad():
        for name, param in exported.state_dict().items():
            key = name[len("lm."):] if name.startswith("lm.") else name
            tensors[key] = ("BF16", bitnet_train.to_bf16_bits(param.numpy()))
            param.copy_(bitnet_train.bf16_round(param))
    bitnet_train.write_safetensors(out / "model.safetensors", tensors)
    for f in lm_dir.iterdir():
        f.unlink()
    lm_dir.rmdir()

    header = struct.pack(">IIII", 2051, len(calibration), 28, 28)
    (out / "calibration-images-idx3-ubyte").write_bytes(header + calibration.astype(np.uint8).tobytes())
    exported.eval()
    return exported


def load_exported(checkpoint: Path, vocab: int) -> CaptionModel:
    """The exported model back from model.safetensors (norms folded, weights as stored)."""
    model = CaptionModel(vocab)
    fold_norms(model.vision_tower)
    tensors = lfm2_train.lfm2_reference._bitnet.read_safetensors(checkpoint / "model.safetensors")
    state = {(k if k.startswith(("vision_tower.", "multi_modal_projector.")) else "lm." + k): torch.from_numpy(v.copy())
             for k, (_, v) in tensors.items()}
    model.load_state_dict(state)
    model.eval()
    return model


def rescore(args, log) -> int:
    """Scores the exported checkpoint again on the test set and updates report.json's vlm_exported_bf16."""
    data = Path(args.data)
    test_px, test_items = read_idx(data / "t10k-images-idx3-ubyte.gz", data / "t10k-labels-idx1-ubyte.gz")
    report = json.loads(Path(args.report).read_text())
    test_shade = shades(test_px, report["data"]["shade_cuts"])
    tok = bpe.ByteLevelBpe.load(TOKENIZER)
    bos, eos = tok.special["<|begin_of_text|>"], tok.special["<|end_of_text|>"]
    model = load_exported(Path(args.checkpoint_dir), tok.size)
    captions = greedy_captions(model, tok, bos, eos, test_px)
    report["test"]["vlm_exported_bf16"] = score(captions, test_items, test_shade)
    report["samples"] = [{"index": i, "truth": caption(int(test_items[i]), int(test_shade[i])), "vlm": captions[i]}
                         for i in range(10)]
    Path(args.report).write_text(json.dumps(report, indent=2) + "\n")
    log(f"rescored {args.checkpoint_dir}: {report['test']['vlm_exported_bf16']}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--data", default=str(DATA), help="folder with Fashion-MNIST's four .gz files")
    parser.add_argument("--checkpoint-dir", default=str(HERE / "checkpoint"))
    parser.add_argument("--report", default=str(HERE / "report.json"))
    parser.add_argument("--train-limit", type=int, default=0, help="use only the first N train images (a smoke run)")
    parser.add_argument("--rescore", action="store_true",
                        help="no training: score the exported checkpoint on the test set again and update the report")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    def log(msg: str):
        print(f"{time.strftime('%H:%M:%S')} {msg}", flush=True)

    if args.rescore:
        return rescore(args, log)

    data = Path(args.data)
    train_px, train_items = read_idx(data / "train-images-idx3-ubyte.gz", data / "train-labels-idx1-ubyte.gz")
    test_px, test_items = read_idx(data / "t10k-images-idx3-ubyte.gz", data / "t10k-labels-idx1-ubyte.gz")
    if args.train_limit:
        train_px, train_items = train_px[:args.train_limit], train_items[:args.train_limit]
    cuts = [float(c) for c in np.quantile(garment_mean(train_px), [1 / 3, 2 / 3])]
    train_shade, test_shade = shades(train_px, cuts), shades(test_px, cuts)
    log(f"shade cuts (mean garment pixel): {cuts[0]:.2f}, {cuts[1]:.2f}; test shades "
        f"{np.bincount(test_shade, minlength=3).tolist()}")

    tok = bpe.ByteLevelBpe.load(TOKENIZER)
    bos, eos = tok.special["<|begin_of_text|>"], tok.special["<|end_of_text|>"]
    steps_per_epoch = len(train_px) // args.batch
    train_images = to_images(train_px)

    model = CaptionModel(tok.size)
    params = sum(p.numel() for p in model.parameters())

    def caption_step(rows):
        ids, targets = caption_batch(tok, bos, eos, train_items[rows], train_shade[rows])
        logits = model.logits(train_images[rows], ids)[:, IMAGE_TOKENS:]
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100)

    log(f"caption model: {params} parameters, {args.epochs} epochs of {steps_per_epoch} steps")
    vlm_run = run_schedule(model, model.parameters(), steps_per_epoch, args, caption_step, log, "vlm")
    model.eval()

    classifier = Classifier()
    classes = torch.from_numpy(train_items.astype(np.int64) * len(SHADES) + train_shade)

    def classifier_step(rows):
        return F.cross_entropy(classifier(train_images[rows]), classes[rows])

    cls_run = run_schedule(classifier, classifier.parameters(), steps_per_epoch, args, classifier_step, log,
                           "classifier")
    classifier.eval()

    rng = np.random.default_rng(args.seed + 1)
    calibration = train_px[rng.choice(len(train_px), 256, replace=False)]
    exported = export(model, tok, Path(args.checkpoint_dir), cuts, calibration)

    float_scores = score(greedy_captions(model, tok, bos, eos, test_px), test_items, test_shade)
    exported_captions = greedy_captions(exported, tok, bos, eos, test_px)
    exported_scores = score(exported_captions, test_items, test_shade)
    with torch.no_grad():
        predicted = torch.cat([classifier(to_images(test_px[i:i + 1000])).argmax(-1) for i in range(0, 10000, 1000)])
    cls_captions = [caption(int(c) // 3, int(c) % 3) for c in predicted]
    classifier_scores = score(cls_captions, test_items, test_shade)
    log(f"test: vlm float {float_scores}; exported (bf16) {exported_scores}; classifier {classifier_scores}")

    report = {
        "data": {"set": "Fashion-MNIST", "train_images": len(train_px), "test_images": len(test_px),
                 "caption": "a {shade} {item}", "shade_cuts": cuts, "ink_threshold": INK,
                 "test_shade_counts": np.bincount(test_shade, minlength=3).tolist()},
        "model": {"parameters": params, "language_model": LM_SHAPE,
                  "vision_layers": [list(v) for v in VISION_LAYERS], "pool": POOL, "image_tokens": IMAGE_TOKENS,
                  "vocab": tok.size},
        "training": {"caption_model": vlm_run, "classifier": cls_run, "threads": args.threads, "seed": args.seed},
        "test": {"vlm_float32": float_scores, "vlm_exported_bf16": exported_scores,
                 "classifier_float32": classifier_scores},
        "samples": [{"index": i, "truth": caption(int(test_items[i]), int(test_shade[i])),
                     "vlm": exported_captions[i]} for i in range(10)],
    }
    Path(args.report).write_text(json.dumps(report, indent=2) + "\n")
    log(f"wrote {args.checkpoint_dir} and {args.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
