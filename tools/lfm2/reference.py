#!/usr/bin/env python3
"""A plain PyTorch (float64) reference of Liquid AI's LFM2 hybrid decoder that reads the Hugging Face checkpoint layout.

Written from the published checkpoint layout of the LiquidAI/LFM2 models (``config.json`` + ``model.safetensors``,
transformers' ``Lfm2ForCausalLM`` tensor names). It is the independent check of our C# importer and engine, so it
follows the published layout, not our C# code. The safetensors reader and the int8 embedding rounding are the ones of
tools/bitnet/reference.py (imported, not copied), because those define our folder format for both families.

Architecture (pre-norm decoder; every layer's mixer is either a gated short convolution or attention):

    h = E[token]
    per layer i:
        h += mixer_i(RMSNorm(h; operator_norm))       # layer_types[i]: "conv" or "full_attention"
        h += w2(silu(w1 x) * w3 x)   with x = RMSNorm(h; ffn_norm)
    logits = RMSNorm(h; embedding_norm) . E^T         # tied (lm_head.weight if the file has an untied one)

    RMSNorm(x; w) = w * x / sqrt(mean(x^2) + norm_eps)        (plain w, not 1 + w)

    conv mixer (model.layers.i.conv.*), hidden size H, kernel L = conv_L_cache:
        B, C, X = split(in_proj x, [H, H, H])                 # along features, in this order
        u = B * X
        c[t] = sum_k w[:, k] * u[t - (L-1) + k]               # causal depthwise Conv1d, u[<0] = 0 (+ bias)
        out  = out_proj(C * c)                                 # no activation anywhere
        cache: the last L-1 rows of u

    attention mixer (model.layers.i.self_attn.*), head dim d:
        q, k, v = q_proj x, k_proj x, v_proj x                 # nh query heads, nkv key/value heads
        q, k = RMSNorm(q; q_layernorm), RMSNorm(k; k_layernorm)   per head, over d
        q, k = RoPE(q), RoPE(k)                                # rotate_half pairs (j, j + d/2), pos * theta^(-2j/d)
        a = softmax(q k^T / sqrt(d) + causal) v                # query head j uses KV head j // (nh / nkv)
        out = out_proj(a)

Decoding keeps an incremental cache (keys and values of attention layers, the L-1-row state of conv layers) and
feeds one token at a time after the prompt; ``--no-cache`` recomputes the whole sequence at every step instead (the
convolution then through torch.nn.functional.conv1d with zero padding), an independent path for the same numbers.

Checkpoints that do not fit are refused with a message and exit code 2: a missing tensor, a tensor the architecture
does not use, a wrong shape or dtype, or a config this reference does not implement (RoPE scaling, another
model_type, unknown layer types).

Usage:
    python3 tools/lfm2/reference.py --checkpoint DIR --tokens 1,2,3 [--greedy N] [--out logits.npy]
    python3 tools/lfm2/reference.py --checkpoint DIR --tokens 1,2,3 --greedy 64 --no-stop --out-steps steps.json \
        [--embedding int8] [--threads 1] [--no-cache]
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F


def _load_bitnet_reference():
    """tools/bitnet/reference.py under a module name of its own: this file is also called reference.py, so a plain
    `import reference` would find whichever of the two comes first on sys.path."""
    name = "bitnet_reference"
    if name in sys.modules:
        return sys.modules[name]
    path = Path(__file__).resolve().parent.parent / "bitnet" / "reference.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # before exec: its dataclasses look their module up in sys.modules
    spec.loader.exec_module(module)
    return module


_bitnet = _load_bitnet_reference()
read_safetensors = _bitnet.read_safetensors  # {name: (dtype, float32 ndarray)}; BF16/F16 widened exactly
quantize_embedding_int8 = _bitnet.quantize_embedding_int8  # our int8 folder format, computed in float32
# RoPE as LFM2 and BitNet both apply it (Llama's rotate_half: pairs (j, j + d/2), angle pos * theta^(-2j/d)), float64.
rope = _bitnet.rope

EMBEDDING_FORMATS = ("float32", "int8")
LAYER_TYPES = ("conv", "full_attention")
FLOAT_DTYPES = ("F32", "BF16", "F16")


class CheckpointError(ValueError):
    """A checkpoint or config this reference refuses (main exits with code 2)."""


# ----------------------------------------------------------------------------------------------------------------
# Config
# ----------------------------------------------------------------------------------------------------------------


@dataclass
class Config:
    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    norm_eps: float
    conv_L_cache: int
    conv_bias: bool
    layer_types: tuple[str, ...]
    rope_theta: float
    tie_word_embeddings: bool
    bos_token_id: int | None
    eos_token_ids: tuple[int, ...]

    @staticmethod
    def from_json(raw: dict) -> "Config":
        model_type = raw.get("model_type", "lfm2")
        if model_type != "lfm2":
            raise CheckpointError(f"model_type {model_type!r} is not lfm2")
        if raw.get("rope_scaling") not in (None, {}):
            raise CheckpointError("rope_scaling is not supported by this reference")
        for key in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads"):
            if key not in raw:
                raise CheckpointError(f"config.json has no {key}")
        # LFM2 configs carry original keys next to the transformers ones; readers differ on which wins, so a
        # disagreement is refused instead of resolved
        for a, b in (("tie_embedding", "tie_word_embeddings"), ("num_heads", "num_attention_heads"),
                     ("block_norm_eps", "norm_eps")):
            if raw.get(a) is not None and raw.get(b) is not None and raw[a] != raw[b]:
                raise CheckpointError(f"config.json: {a} {raw[a]!r} disagrees with {b} {raw[b]!r}")
        hidden = int(raw["hidden_size"])
        layers = int(raw["num_hidden_layers"])
        heads = int(raw["num_attention_heads"])
        kv_heads = int(raw.get("num_key_value_heads") or heads)
        head_dim = int(raw.get("head_dim") or hidden // heads)
        if heads <= 0 or kv_heads <= 0 or heads % kv_heads != 0:
            raise CheckpointError(f"num_attention_heads {heads} is not a multiple of num_key_value_heads {kv_heads}")
        if head_dim <= 0 or head_dim % 2 != 0:
            raise CheckpointError(f"head dim {head_dim} must be even (RoPE rotates pairs (j, j + d/2))")
        conv_l = int(raw.get("conv_L_cache", 3))
        if conv_l < 1:
            raise CheckpointError(f"conv_L_cache {conv_l} must be at least 1")
        # transformers' Lfm2Config: the original key "tie_embedding" wins over tie_word_embeddings (default true).
        tie = bool(raw.get("tie_embedding", raw.get("tie_word_embeddings", True)))
        eos = raw.get("eos_token_id")
        eos_ids = () if eos is None else tuple(int(e) for e in (eos if isinstance(eos, list) else [eos]))
        bos = raw.get("bos_token_id")
        return Config(
            vocab_size=int(raw["vocab_size"]),
            hidden_size=hidden,
            num_hidden_layers=layers,
            num_attention_heads=heads,
            num_key_value_heads=kv_heads,
            head_dim=head_dim,
            norm_eps=float(raw.get("norm_eps", 1e-5)),
            conv_L_cache=conv_l,
            conv_bias=bool(raw.get("conv_bias", False)),
            layer_types=_layer_types(raw, layers),
            rope_theta=_rope_theta(raw),
            tie_word_embeddings=tie,
            bos_token_id=None if bos is None else int(bos),
            eos_token_ids=eos_ids,
        )


def _layer_types(raw: dict, layers: int) -> tuple[str, ...]:
    """layer_types if present; else full_attn_idxs (the attention layers' indices); else every layer attention."""
    types = raw.get("layer_types")
    if types is not None:
        types = tuple(str(t) for t in types)
        if len(types) != layers:
            raise CheckpointError(f"layer_types has {len(types)} entries for {layers} layers")
        unknown = sorted(set(types) - set(LAYER_TYPES))
        if unknown:
            raise CheckpointError(f"layer_types holds {unknown}; known: {list(LAYER_TYPES)}")
        if raw.get("full_attn_idxs") is not None and _attention_indices(raw, layers) != types:
            raise CheckpointError(f"config.json: full_attn_idxs {raw['full_attn_idxs']} disagrees with layer_types")
        return types
    if raw.get("full_attn_idxs") is None:
        return ("full_attention",) * layers
    return _attention_indices(raw, layers)


def _attention_indices(raw: dict, layers: int) -> tuple[str, ...]:
    """The layer types full_attn_idxs (the indices of the attention layers) describes."""
    indices = {int(i) for i in raw["full_attn_idxs"]}
    if any(i < 0 or i >= layers for i in indices):
        raise CheckpointError(f"full_attn_idxs {sorted(indices)} out of range for {layers} layers")
    return tuple("full_attention" if i in indices else "conv" for i in range(layers))


def _rope_theta(raw: dict) -> float:
    """RoPE base from rope_theta, theta (the original config key) or rope_parameters; default 1e6. Several keys with
    different values are refused rather than guessed between."""
    found = {}
    for key in ("rope_theta", "theta"):
        if raw.get(key) is not None:
            found[key] = float(raw[key])
    params = raw.get("rope_parameters")
    if isinstance(params, dict):
        # either {"rope_type": ..., "rope_theta": ...} or keyed by layer type, {"full_attention": {...}, ...}
        inner = params.get("full_attention") if isinstance(params.get("full_attention"), dict) else params
        rope_type = inner.get("rope_type", inner.get("type", "default"))
        if rope_type != "default":
            raise CheckpointError(f"rope_parameters.rope_type {rope_type!r} is not supported (only default)")
        if inner.get("rope_theta") is not None:
            found["rope_parameters.rope_theta"] = float(inner["rope_theta"])
    if len(set(found.values())) > 1:
        raise CheckpointError(f"config.json gives different RoPE bases: {found}")
    return next(iter(found.values()), 1e6)


# ----------------------------------------------------------------------------------------------------------------
# Building blocks (all float64)
# ----------------------------------------------------------------------------------------------------------------


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """weight * x / sqrt(mean(x^2) + eps) over the last dimension."""
    return weight * (x / torch.sqrt((x * x).mean(dim=-1, keepdim=True) + eps))


class Linear:
    """y = x W^T (+ b), float64."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None = None):
        self.weight = weight
        self.bias = bias

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        y = x @ self.weight.T
        return y if self.bias is None else y + self.bias


class ConvMixer:
    """LFM2's gated short convolution. weight: [H, L] (the checkpoint's [H, 1, L] without the group axis)."""

    def __init__(self, in_proj: Linear, weight: torch.Tensor, bias: torch.Tensor | None, out_proj: Linear):
        self.in_proj, self.weight, self.bias, self.out_proj = in_proj, weight, bias, out_proj

    @property
    def kernel(self) -> int:
        return self.weight.shape[1]

    def _gates(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(u = B * X, C) for x [T, H]."""
        hidden = self.weight.shape[0]
        y = self.in_proj(x)  # [T, 3H]
        b, c, xx = y[:, :hidden], y[:, hidden : 2 * hidden], y[:, 2 * hidden :]
        return b * xx, c

    def full(self, x: torch.Tensor) -> torch.Tensor:
        """x: the whole sequence [T, H] from position 0. The causal convolution as torch's Conv1d computes it: zero
        padding of L-1 on both sides, the first T outputs kept (the rest would see the future)."""
        u, c = self._gates(x)
        n = x.shape[0]
        conv = F.conv1d(u.T[None], self.weight[:, None, :], self.bias, padding=self.kernel - 1,
                        groups=self.weight.shape[0])[0, :, :n].T
        return self.out_proj(c * conv)

    def step(self, x: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: [T, H] following the sequence that left `state` ([L-1, H]: the last L-1 rows of u, zeros at the start).
        Returns (output, the new state). The window sum is written out, independently of full()."""
        u, c = self._gates(x)
        n = x.shape[0]
        window = torch.cat([state, u], dim=0)  # [L-1+T, H]: row r holds position r - (L-1) relative to this chunk
        conv = sum(window[k : k + n] * self.weight[:, k] for k in range(self.kernel))
        if self.bias is not None:
            conv = conv + self.bias
        return self.out_proj(c * conv), window[n:]  # window[n:] is the last L-1 rows


class AttentionMixer:
    def __init__(self, config: Config, q: Linear, k: Linear, v: Linear, out: Linear, q_norm: torch.Tensor,
                 k_norm: torch.Tensor):
        self.config = config
        self.q, self.k, self.v, self.out = q, k, v, out
        self.q_norm, self.k_norm = q_norm, k_norm

    def __call__(self, x: torch.Tensor, positions: torch.Tensor, past: tuple[torch.Tensor, torch.Tensor] | None):
        """x: [T, H] at `positions`. past: (keys, values) [P, nkv, d] of positions 0..P-1 (P = positions[0]), or None
        when x is the whole sequence. Returns (output [T, H], (keys, values) including this call's)."""
        c = self.config
        n, heads, kv_heads, d = x.shape[0], c.num_attention_heads, c.num_key_value_heads, c.head_dim
        q = rms_norm(self.q(x).view(n, heads, d), self.q_norm, c.norm_eps)  # per-head norm BEFORE RoPE
        k = rms_norm(self.k(x).view(n, kv_heads, d), self.k_norm, c.norm_eps)
        v = self.v(x).view(n, kv_heads, d)
        q, k = rope(q, positions, c.rope_theta), rope(k, positions, c.rope_theta)
        if past is not None:
            k, v = torch.cat([past[0], k], dim=0), torch.cat([past[1], v], dim=0)
        total = k.shape[0]
        mask = torch.arange(total)[None, :] > positions[:, None]  # query at position p sees keys 0..p
        group = heads // kv_heads
        out = torch.empty(n, heads, d, dtype=torch.float64)
        for hq in range(heads):
            hk = hq // group  # grouped-query: query head hq uses key/value head hq // (nh / nkv)
            scores = (q[:, hq, :] @ k[:, hk, :].T) / math.sqrt(d)
            out[:, hq, :] = torch.softmax(scores.masked_fill(mask, float("-inf")), dim=-1) @ v[:, hk, :]
        return self.out(out.reshape(n, heads * d)), (k, v)


class Layer:
    def __init__(self, kind: str, mixer, operator_norm, ffn_norm, w1: Linear, w2: Linear, w3: Linear):
        self.kind, self.mixer = kind, mixer
        self.operator_norm, self.ffn_norm = operator_norm, ffn_norm
        self.w1, self.w2, self.w3 = w1, w2, w3

    def mlp(self, x: torch.Tensor) -> torch.Tensor:
        """SwiGLU: w2(silu(w1 x) * w3 x); silu(z) = z * sigmoid(z)."""
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class Cache:
    """Per layer: (keys, values) [P, nkv, d] for attention, the conv state [L-1, H] for conv; `position` = P tokens
    seen so far."""

    def __init__(self, model: "Lfm2Model"):
        c = model.config
        self.position = 0
        self.layers = []
        for layer in model.layers:
            if layer.kind == "conv":
                self.layers.append(torch.zeros(layer.mixer.kernel - 1, c.hidden_size, dtype=torch.float64))
            else:
                empty = torch.zeros(0, c.num_key_value_heads, c.head_dim, dtype=torch.float64)
                self.layers.append((empty, empty))


# ----------------------------------------------------------------------------------------------------------------
# The model
# ----------------------------------------------------------------------------------------------------------------


class Lfm2Model:
    def __init__(self, config: Config, tensors: dict[str, tuple[str, np.ndarray]], embedding: str = "float32"):
        """embedding: "float32" uses the checkpoint's table as stored (widened exactly); "int8" first applies
        quantize_embedding_int8 to it, so to the lookup and the tied head alike (an untied lm_head.weight is left as
        stored). Raises CheckpointError for a missing, unused, wrongly shaped or non-float tensor."""
        if embedding not in EMBEDDING_FORMATS:
            raise ValueError(f"embedding must be one of {EMBEDDING_FORMATS}, not {embedding!r}")
        self.config = c = config
        used = set()

        def get(name: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
            if name not in tensors:
                raise CheckpointError(f"checkpoint has no tensor {name}")
            dtype, array = tensors[name]
            if dtype not in FLOAT_DTYPES:
                raise CheckpointError(f"{name} is {dtype}; this reference reads {list(FLOAT_DTYPES)}")
            if shape is not None and tuple(array.shape) != tuple(shape):
                raise CheckpointError(f"{name} has shape {list(array.shape)}, expected {list(shape)}")
            used.add(name)
            return array

        def f64(name: str, shape: tuple[int, ...] | None = None) -> torch.Tensor:
            return torch.from_numpy(get(name, shape).astype(np.float64))

        def linear(prefix: str, out_features: int | None, in_features: int, bias: bool = False) -> Linear:
            weight = get(prefix + ".weight")
            if weight.ndim != 2 or weight.shape[1] != in_features or out_features not in (None, weight.shape[0]):
                raise CheckpointError(f"{prefix}.weight has shape {list(weight.shape)}, expected "
                                      f"[{out_features if out_features is not None else 'any'}, {in_features}]")
            b = f64(prefix + ".bias", (weight.shape[0],)) if bias else None
            return Linear(torch.from_numpy(weight.astype(np.float64)), b)

        hidden, d, L = c.hidden_size, c.head_dim, c.conv_L_cache
        table = get("model.embed_tokens.weight", (c.vocab_size, hidden))
        # kept float32 (exact for every checkpoint dtype) and widened in slices: a 65536-row table is large in float64
        self.embed = torch.from_numpy(np.ascontiguousarray(table, dtype=np.float32))
        if embedding == "int8":
            self.embed = quantize_embedding_int8(self.embed)
        if "lm_head.weight" in tensors and not c.tie_word_embeddings:
            self.lm_head = torch.from_numpy(np.ascontiguousarray(get("lm_head.weight", (c.vocab_size, hidden)),
                                                                 dtype=np.float32))
        elif "lm_head.weight" in tensors:
            # tied, and the exporter wrote the head anyway: fine only if it is the embedding (else ambiguous)
            if not np.array_equal(get("lm_head.weight", (c.vocab_size, hidden)), table):
                raise CheckpointError("tie_word_embeddings is true but lm_head.weight differs from the embedding")
            self.lm_head = self.embed
        elif not c.tie_word_embeddings:
            raise CheckpointError("tie_word_embeddings is false but the checkpoint has no tensor lm_head.weight")
        else:
            self.lm_head = self.embed

        self.layers = []
        for i, kind in enumerate(c.layer_types):
            p = f"model.layers.{i}"
            if kind == "conv":
                weight = f64(f"{p}.conv.conv.weight", (hidden, 1, L))[:, 0, :]
                mixer = ConvMixer(
                    linear(f"{p}.conv.in_proj", 3 * hidden, hidden, c.conv_bias),
                    weight,
                    f64(f"{p}.conv.conv.bias", (hidden,)) if c.conv_bias else None,
                    linear(f"{p}.conv.out_proj", hidden, hidden, c.conv_bias),
                )
            else:
                q_out, kv_out = c.num_attention_heads * d, c.num_key_value_heads * d
                mixer = AttentionMixer(
                    c,
                    linear(f"{p}.self_attn.q_proj", q_out, hidden),
                    linear(f"{p}.self_attn.k_proj", kv_out, hidden),
                    linear(f"{p}.self_attn.v_proj", kv_out, hidden),
                    linear(f"{p}.self_attn.out_proj", hidden, q_out),
                    f64(f"{p}.self_attn.q_layernorm.weight", (d,)),
                    f64(f"{p}.self_attn.k_layernorm.weight", (d,)),
                )
            w1 = linear(f"{p}.feed_forward.w1", None, hidden)  # the intermediate size is w1's row count
            inner = w1.weight.shape[0]
            self.layers.append(Layer(
                kind, mixer,
                f64(f"{p}.operator_norm.weight", (hidden,)),
                f64(f"{p}.ffn_norm.weight", (hidden,)),
                w1,
                linear(f"{p}.feed_forward.w2", hidden, inner),
                linear(f"{p}.feed_forward.w3", inner, hidden),
            ))
        self.final_norm = f64("model.embedding_norm.weight", (hidden,))
        unused = sorted(set(tensors) - used)
        if unused:
            more = f" and {len(unused) - 5} more" if len(unused) > 5 else ""
            raise CheckpointError(f"checkpoint has tensors the LFM2 architecture does not use: {unused[:5]}{more}")

    @staticmethod
    def load(checkpoint: str | os.PathLike, embedding: str = "float32") -> "Lfm2Model":
        directory = Path(checkpoint)
        config_path, weights_path = directory / "config.json", directory / "model.safetensors"
        if not config_path.is_file():
            raise CheckpointError(f"{config_path} does not exist")
        if not weights_path.is_file():
            raise CheckpointError(f"{weights_path} does not exist (sharded checkpoints are not supported)")
        try:
            raw = json.loads(config_path.read_text())
        except ValueError as error:
            raise CheckpointError(f"{config_path}: {error}") from error
        config = Config.from_json(raw)
        try:
            tensors = read_safetensors(weights_path)
        except ValueError as error:  # unsupported dtype, inconsistent offsets, short file
            raise CheckpointError(str(error)) from error
        return Lfm2Model(config, tensors, embedding)

    def new_cache(self) -> Cache:
        return Cache(self)

    def forward(self, tokens: list[int], cache: Cache | None = None) -> torch.Tensor:
        """Next-token logits [len(tokens), vocab] (float64).

        With a cache (from new_cache), the tokens continue the sequence the cache has seen (any number at a time: a
        whole prompt, a chunk of it, one generated token) and the cache is advanced. Without one, the tokens are the
        whole sequence, computed from scratch (the convolution through F.conv1d).
        """
        c = self.config
        if any(t < 0 or t >= c.vocab_size for t in tokens):
            raise ValueError(f"token id out of range 0..{c.vocab_size - 1}")
        n = len(tokens)
        start = cache.position if cache is not None else 0
        positions = torch.arange(start, start + n)
        h = self.embed[torch.tensor(tokens, dtype=torch.long)].to(torch.float64)  # [T, H]
        for li, layer in enumerate(self.layers):
            x = rms_norm(h, layer.operator_norm, c.norm_eps)
            if layer.kind == "conv":
                if cache is None:
                    h = h + layer.mixer.full(x)
                else:
                    out, cache.layers[li] = layer.mixer.step(x, cache.layers[li])
                    h = h + out
            else:
                out, kv = layer.mixer(x, positions, cache.layers[li] if cache is not None else None)
                if cache is not None:
                    cache.layers[li] = kv
                h = h + out
            x = rms_norm(h, layer.ffn_norm, c.norm_eps)
            h = h + layer.mlp(x)
        if cache is not None:
            cache.position += n
        h = rms_norm(h, self.final_norm, c.norm_eps)
        logits = torch.empty(n, c.vocab_size, dtype=torch.float64)
        chunk = 16384  # widen the float32 head to float64 a slice at a time
        for r in range(0, c.vocab_size, chunk):
            logits[:, r : r + chunk] = h @ self.lm_head[r : r + chunk].to(torch.float64).T
        return logits

    def greedy(self, tokens: list[int], steps: int, use_cache: bool = True, stop: set[int] | None = None,
               step_logits: list[np.ndarray] | None = None):
        """(prompt logits [T, vocab], generated ids). Each id is the argmax (the first maximum, numpy's) of the logits
        after the sequence so far; with a `step_logits` list, those float64 logits are appended to it, one [vocab]
        array per generated id. With the cache the prompt goes in at once and then one token per step; without it
        every step recomputes the whole sequence."""
        cache = self.new_cache() if use_cache else None
        logits = self.forward(tokens, cache)
        prompt_logits = logits
        sequence = list(tokens)
        generated = []
        for _ in range(steps):
            last = logits[-1].numpy()
            if step_logits is not None:
                step_logits.append(last.copy())
            nxt = int(np.argmax(last))
            generated.append(nxt)
            sequence.append(nxt)
            if stop and nxt in stop:
                break
            logits = self.forward([nxt], cache) if use_cache else self.forward(sequence)
        return prompt_logits, generated


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True, help="folder with config.json and model.safetensors")
    parser.add_argument("--tokens", required=True, help="comma-separated token ids, e.g. 1,2,3")
    parser.add_argument("--bos", action="store_true", help="prepend config.json's bos_token_id to --tokens")
    parser.add_argument("--greedy", type=int, default=0, metavar="N", help="continue greedily for N tokens")
    parser.add_argument("--no-stop", action="store_true", help="with --greedy: generate all N tokens even past "
                        "config.json's eos_token_id (a comparison over a fixed number of steps)")
    parser.add_argument("--no-cache", action="store_true", help="recompute the whole sequence for every generated "
                        "token instead of the incremental KV / conv-state cache")
    parser.add_argument("--out", help="write next-token logits of the given tokens: float32 [positions, vocab] .npy")
    parser.add_argument("--out-tokens", help="write {prompt, generated} token ids as JSON")
    parser.add_argument("--out-steps", help="with --greedy: write {prompt, generated, embedding, logits} as JSON: "
                        "logits[i] are the float64 logits generated[i] was the argmax of (i = 0: after the prompt)")
    parser.add_argument("--embedding", choices=EMBEDDING_FORMATS, default="float32",
                        help="the token embedding (and tied head) as a model folder stores it: float32 as in the "
                        "checkpoint (default), or int8 per row (scale = max|row| / 127, round half to even)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: the machine is shared)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.out_steps and not args.greedy:
        parser.error("--out-steps needs --greedy N")
    try:
        tokens = [int(t) for t in args.tokens.split(",") if t.strip()]
    except ValueError:
        parser.error(f"--tokens {args.tokens!r} is not a comma-separated list of integers")

    try:
        model = Lfm2Model.load(args.checkpoint, embedding=args.embedding)
    except CheckpointError as error:
        print(f"{parser.prog}: refused checkpoint {args.checkpoint}: {error}", file=sys.stderr)
        return 2
    config = model.config
    if args.bos:
        if config.bos_token_id is None:
            parser.error("--bos: config.json has no bos_token_id")
        tokens = [config.bos_token_id] + tokens
    if not tokens:
        parser.error("no tokens")
    if any(t < 0 or t >= config.vocab_size for t in tokens):
        parser.error(f"token ids must be in 0..{config.vocab_size - 1}")

    stop = set() if args.no_stop else set(config.eos_token_ids)
    steps: list[np.ndarray] = []
    with torch.no_grad():
        logits, generated = model.greedy(tokens, args.greedy, use_cache=not args.no_cache, stop=stop,
                                         step_logits=steps)
    if args.out_steps:
        # json writes a float as its shortest round-trip repr: the float64 values exactly
        record = {"prompt": tokens, "generated": generated, "embedding": args.embedding,
                  "logits": [row.tolist() for row in steps]}
        Path(args.out_steps).write_text(json.dumps(record) + "\n")
    if args.out:
        np.save(args.out, logits.to(torch.float32).numpy())
    if args.out_tokens:
        Path(args.out_tokens).write_text(json.dumps({"prompt": tokens, "generated": generated}) + "\n")
    print(f"prompt tokens: {tokens}")
    print(f"next token after the prompt: {int(np.argmax(logits[-1].numpy()))}")
    if args.greedy:
        print(f"generated: {generated}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
