#!/usr/bin/env python3
"""A plain PyTorch reference of BitNet b1.58 that reads the Hugging Face checkpoint layout.

Written from the BitNet b1.58 2B4T model card / technical report (arXiv 2504.12285) and the published checkpoint
layout of microsoft/bitnet-b1.58-2B-4T (``config.json`` + ``model.safetensors``). It is the independent check of our
C# importer, so it follows the published layout, not our C# code.

Architecture (Llama-like decoder, pre-norm):

    h = E[token]
    per layer:
        x  = RMSNorm(h; input_layernorm)
        q, k, v = BitLinear(x)            # grouped-query heads, RoPE on q and k (rotate_half pairs (i, i + d/2))
        a  = softmax(q k^T / sqrt(d) + causal) v
        h += o_proj(RMSNorm(a; attn_sub_norm))
        x  = RMSNorm(h; post_attention_layernorm)
        h += down_proj(RMSNorm(relu(gate_proj x)^2 * up_proj x; ffn_sub_norm))
    logits = RMSNorm(h; norm) . E^T       # tied embeddings (lm_head.weight is used instead if the file has one)

Every projection is a BitLinear W1.58A8:

    s   = 127 / max(max|x|, 1e-5)                  per token
    x_q = clamp(round(x * s), -128, 127)           round half to even (torch.round)
    y   = (x_q . W_q^T) / s  (*|/)  weight_scale   W_q ternary, unpacked from uint8

How ``weight_scale`` is applied is decided by ``config.json``'s ``quantization_config.linear_class``, exactly as in
Hugging Face transformers, ``src/transformers/integrations/bitnet.py``:

* ``"autobitlinear"`` (what microsoft/bitnet-b1.58-2B-4T ships: ``{"quant_method": "bitnet", "linear_class":
  "autobitlinear", "quantization_mode": "offline"}``): ``AutoBitLinear.forward`` computes
  ``F.linear(ActQuant(x), W_ternary) * self.weight_scale`` -- the output is MULTIPLIED by weight_scale, which is
  therefore beta = mean|W| of the latent weights.
* ``"bitlinear"`` (``BitNetQuantConfig``'s default, the older packed checkpoints): ``BitLinear.forward`` calls
  ``post_quant_process(y, weight_scale, input_scale)`` = ``y / (input_scale * weight_scale)`` -- the output is
  DIVIDED by weight_scale (which is then 1/beta).

Packed weights (``pack_weights`` / ``unpack_weights`` in the same file): a uint8 tensor [out/4, in]; the 2-bit field
i (bits 2i..2i+1) of packed[r, c] holds W[i*(out/4) + r, c] + 1.

Usage:
    python3 tools/bitnet/reference.py --checkpoint DIR --tokens 1,2,3 [--greedy N] --out logits.npy \
        [--out-tokens tokens.json]
    python3 tools/bitnet/reference.py --checkpoint DIR --tokens 1,2,3 --greedy 64 --no-stop --out-steps steps.json \
        [--embedding int8]
    python3 tools/bitnet/reference.py --checkpoint DIR --prompt "In the beginning" --bos --greedy 40 \
        [--temperature 0.8 --seed 1]
"""
from __future__ import annotations

import argparse
import json
import math
import mmap
import os
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

# ----------------------------------------------------------------------------------------------------------------
# safetensors: 8-byte little-endian header length, a JSON header {name: {dtype, shape, data_offsets}}, raw data.
# ----------------------------------------------------------------------------------------------------------------

_ITEM_SIZE = {"BF16": 2, "F16": 2, "F32": 4, "U8": 1}


def _decode(dtype: str, raw: bytes | memoryview, shape: list[int]) -> np.ndarray:
    if dtype == "BF16":
        # bf16 is the top half of an IEEE float32: widening is exact.
        bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
        array = bits.view(np.float32)
    elif dtype == "F16":
        array = np.frombuffer(raw, dtype="<f2").astype(np.float32)
    elif dtype == "F32":
        array = np.frombuffer(raw, dtype="<f4").astype(np.float32)
    elif dtype == "U8":
        array = np.frombuffer(raw, dtype=np.uint8).copy()
    else:
        raise ValueError(f"unsupported safetensors dtype {dtype}")
    return array.reshape(shape)


def read_safetensors(path: str | os.PathLike) -> dict[str, tuple[str, np.ndarray]]:
    """Returns {name: (dtype, array)}; floats widened to float32, U8 kept as uint8."""
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        size = len(data)
        if size < 8:
            raise ValueError(f"{path}: too short for a safetensors file")
        (header_len,) = struct.unpack("<Q", data[:8])
        if 8 + header_len > size:
            raise ValueError(f"{path}: header length {header_len} runs past the end of the file")
        header = json.loads(bytes(data[8 : 8 + header_len]).decode("utf-8"))
        base = 8 + header_len
        tensors = {}
        for name, info in header.items():
            if name == "__metadata__":
                continue
            dtype, shape = info["dtype"], [int(d) for d in info["shape"]]
            start, end = (int(o) for o in info["data_offsets"])
            if dtype not in _ITEM_SIZE:
                raise ValueError(f"{path}: {name} has unsupported dtype {dtype}")
            expected = math.prod(shape) * _ITEM_SIZE[dtype]
            if end - start != expected or base + end > size or start < 0:
                raise ValueError(f"{path}: {name} data_offsets {start}..{end} do not hold {dtype}{shape}")
            tensors[name] = (dtype, _decode(dtype, data[base + start : base + end], shape))
        return tensors


# ----------------------------------------------------------------------------------------------------------------
# Ternary packing: uint8 [out/4, in]; field i (bits 2i..2i+1) of packed[r, c] = W[i*(out/4) + r, c] + 1.
# ----------------------------------------------------------------------------------------------------------------


def unpack_ternary(packed: np.ndarray) -> np.ndarray:
    """uint8 [R, C] -> int8 [4R, C] with values in {-1, 0, 1}."""
    if packed.dtype != np.uint8 or packed.ndim != 2:
        raise ValueError("packed ternary weights must be a 2-D uint8 array")
    rows = packed.shape[0]
    out = np.empty((4 * rows, packed.shape[1]), dtype=np.int8)
    for i in range(4):
        field = (packed >> (2 * i)) & 3
        if np.any(field == 3):
            raise ValueError("packed ternary weights hold the invalid 2-bit value 3")
        out[i * rows : (i + 1) * rows] = field.astype(np.int8) - 1
    return out


def pack_ternary(ternary: np.ndarray) -> np.ndarray:
    """int [out, in] with values in {-1, 0, 1}, out divisible by 4 -> uint8 [out/4, in]."""
    ternary = np.asarray(ternary)
    if ternary.ndim != 2 or ternary.shape[0] % 4 != 0:
        raise ValueError("ternary weights must be 2-D with a row count divisible by 4")
    if not np.all(np.isin(ternary, (-1, 0, 1))):
        raise ValueError("weights are not ternary")
    rows = ternary.shape[0] // 4
    packed = np.zeros((rows, ternary.shape[1]), dtype=np.uint8)
    for i in range(4):
        packed |= ((ternary[i * rows : (i + 1) * rows] + 1).astype(np.uint8)) << (2 * i)
    return packed


# ----------------------------------------------------------------------------------------------------------------
# The model
# ----------------------------------------------------------------------------------------------------------------


@dataclass
class Config:
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    vocab_size: int
    rope_theta: float
    rms_norm_eps: float
    tie_word_embeddings: bool
    linear_class: str  # "autobitlinear": y *= weight_scale; "bitlinear": y /= weight_scale

    @staticmethod
    def from_json(raw: dict) -> "Config":
        act = raw.get("hidden_act", "relu2")
        if act != "relu2":
            raise ValueError(f"hidden_act {act!r} is not BitNet's relu2")
        if raw.get("rope_scaling") not in (None, {}):
            raise ValueError("rope_scaling is not supported by this reference")
        quant = raw.get("quantization_config") or {}
        if quant.get("quant_method", "bitnet") != "bitnet":
            raise ValueError(f"quant_method {quant.get('quant_method')!r} is not bitnet")
        if quant.get("quantization_mode", "offline") != "offline":
            raise ValueError("only offline (pre-quantized, packed) checkpoints are supported")
        if quant.get("use_rms_norm"):
            raise ValueError("quantization_config.use_rms_norm (an RMSNorm inside each BitLinear) is not supported")
        # BitNetQuantConfig's default linear_class is "bitlinear" (transformers utils/quantization_config.py).
        linear_class = quant.get("linear_class", "bitlinear")
        if linear_class not in ("bitlinear", "autobitlinear"):
            raise ValueError(f"unknown linear_class {linear_class!r}")
        heads = int(raw["num_attention_heads"])
        hidden = int(raw["hidden_size"])
        return Config(
            hidden_size=hidden,
            intermediate_size=int(raw["intermediate_size"]),
            num_hidden_layers=int(raw["num_hidden_layers"]),
            num_attention_heads=heads,
            num_key_value_heads=int(raw.get("num_key_value_heads") or heads),
            head_dim=int(raw.get("head_dim") or hidden // heads),
            vocab_size=int(raw["vocab_size"]),
            rope_theta=float(raw["rope_theta"]),
            rms_norm_eps=float(raw["rms_norm_eps"]),
            tie_word_embeddings=bool(raw.get("tie_word_embeddings", True)),
            linear_class=linear_class,
        )


def quantize_embedding_int8(embed: torch.Tensor) -> torch.Tensor:
    """The token embedding as a model folder with ``"embeddingFormat": "int8"`` stores it (our C# engine), widened back.

    Per vocabulary row r: scale_r = max_k |E[r, k]| / 127 in float32 (0 for an all-zero row), q[r, k] =
    clamp(round(E[r, k] / scale_r), -127, 127) with round half to even (torch.round), and E'[r, k] = q[r, k] * scale_r
    in float32. Everything stays float32 on purpose: these are the operations that define the int8 folder format, so
    an engine that follows them and this reference hold the same E' bit for bit (a float64 division could round a few
    E / scale differently at .5 ties).
    """
    e = embed.to(torch.float32)
    scale = e.abs().amax(dim=1, keepdim=True) / 127.0  # torch divides exactly here (no reciprocal multiply)
    divisor = torch.where(scale > 0, scale, torch.ones_like(scale))  # an all-zero row: q = 0, E' = 0 * 0 = 0
    q = torch.round(e / divisor).clamp(-127, 127)
    return q * scale


EMBEDDING_FORMATS = ("float32", "int8")


class TieWatch:
    """The distance |x*s - (k + 1/2)| of the activation nearest to a rounding tie, over the BitLinear calls since reset.

    An activation that close to k + 1/2 may round the other way in an implementation with other float arithmetic
    (float32, another summation order); comparing one with this reference, a deviation can only start where this is
    small."""

    def __init__(self):
        self.nearest = math.inf

    def reset(self) -> None:
        self.nearest = math.inf


class BitLinear:
    """W1.58A8 projection: ternary weights (int8 in memory), one per-tensor weight_scale."""

    def __init__(self, ternary: np.ndarray, weight_scale: float, multiply: bool, ties: TieWatch | None = None):
        self.ternary = torch.from_numpy(np.ascontiguousarray(ternary, dtype=np.int8))
        self.weight_scale = float(weight_scale)
        self.multiply = multiply
        self.ties = ties

    @property
    def out_features(self) -> int:
        return self.ternary.shape[0]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(torch.float64)
        s = 127.0 / x.abs().amax(dim=-1, keepdim=True).clamp(min=1e-5)  # per-token absmax scale
        t = x * s
        if self.ties is not None and t.numel():
            self.ties.nearest = min(self.ties.nearest, float((t - torch.floor(t) - 0.5).abs().min()))
        x_q = torch.round(t).clamp(-128, 127)  # integers in [-128, 127]; torch.round is half-to-even
        acc = x_q @ self.ternary.to(torch.float64).T  # exact: integer sums far below 2^53
        if self.multiply:  # AutoBitLinear (linear_class "autobitlinear"): output * weight_scale
            return acc / s * self.weight_scale
        return acc / (s * self.weight_scale)  # BitLinear (linear_class "bitlinear"): y / (s_x * weight_scale)


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    return x / torch.sqrt((x * x).mean(dim=-1, keepdim=True) + eps) * weight


def rope(x: torch.Tensor, positions: torch.Tensor, theta: float) -> torch.Tensor:
    """x: [T, heads, d]. Pairs (i, i + d/2) rotate by angle pos * theta^(-2i/d) (the "rotate_half" form)."""
    d = x.shape[-1]
    half = d // 2
    inv_freq = theta ** (-torch.arange(half, dtype=torch.float64) * 2.0 / d)  # [d/2]
    angle = positions.to(torch.float64)[:, None] * inv_freq[None, :]  # [T, d/2]
    cos = torch.cos(angle)[:, None, :]
    sin = torch.sin(angle)[:, None, :]
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


class Layer:
    pass


class BitNetModel:
    def __init__(self, config: Config, tensors: dict[str, tuple[str, np.ndarray]], embedding: str = "float32"):
        """embedding: "float32" uses the checkpoint's table as stored; "int8" first applies quantize_embedding_int8
        (to the embedding and so to the tied head; a separate lm_head.weight is left as stored)."""
        if embedding not in EMBEDDING_FORMATS:
            raise ValueError(f"embedding must be one of {EMBEDDING_FORMATS}, not {embedding!r}")
        self.config = config
        self.ties = TieWatch()
        used = set()

        def get(name: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
            if name not in tensors:
                raise KeyError(f"checkpoint has no tensor {name}")
            used.add(name)
            dtype, array = tensors[name]
            if shape is not None and tuple(array.shape) != tuple(shape):
                raise ValueError(f"{name} has shape {list(array.shape)}, expected {list(shape)}")
            return array

        def norm(name: str, size: int) -> torch.Tensor:
            return torch.from_numpy(get(name, (size,)).astype(np.float64))

        def linear(prefix: str, out_features: int, in_features: int) -> BitLinear:
            name = prefix + ".weight"
            if name not in tensors:
                raise KeyError(f"checkpoint has no tensor {name}")
            dtype, array = tensors[name]
            if dtype == "U8":
                packed = get(name, ((out_features + 3) // 4, in_features))
                ternary = unpack_ternary(packed)[:out_features]
            else:  # already unpacked ternary values stored as floats
                array = get(name, (out_features, in_features))
                if not np.all(np.isin(array, (-1.0, 0.0, 1.0))):
                    raise ValueError(f"{name} is neither packed uint8 nor ternary")
                ternary = array.astype(np.int8)
            scale = get(prefix + ".weight_scale")
            if scale.size != 1:
                raise ValueError(f"{prefix}.weight_scale must hold one value (per-tensor scale)")
            return BitLinear(ternary, float(scale.reshape(-1)[0]), config.linear_class == "autobitlinear", self.ties)

        c = config
        self.embed = torch.from_numpy(get("model.embed_tokens.weight", (c.vocab_size, c.hidden_size)))  # float32
        if embedding == "int8":
            self.embed = quantize_embedding_int8(self.embed)
        if not c.tie_word_embeddings and "lm_head.weight" in tensors:
            self.lm_head = torch.from_numpy(get("lm_head.weight", (c.vocab_size, c.hidden_size)))
        else:
            self.lm_head = self.embed
        q_out, kv_out = c.num_attention_heads * c.head_dim, c.num_key_value_heads * c.head_dim
        self.layers = []
        for i in range(c.num_hidden_layers):
            p = f"model.layers.{i}"
            layer = Layer()
            layer.input_norm = norm(f"{p}.input_layernorm.weight", c.hidden_size)
            layer.q = linear(f"{p}.self_attn.q_proj", q_out, c.hidden_size)
            layer.k = linear(f"{p}.self_attn.k_proj", kv_out, c.hidden_size)
            layer.v = linear(f"{p}.self_attn.v_proj", kv_out, c.hidden_size)
            layer.attn_sub_norm = norm(f"{p}.self_attn.attn_sub_norm.weight", q_out)
            layer.o = linear(f"{p}.self_attn.o_proj", c.hidden_size, q_out)
            layer.post_norm = norm(f"{p}.post_attention_layernorm.weight", c.hidden_size)
            layer.gate = linear(f"{p}.mlp.gate_proj", c.intermediate_size, c.hidden_size)
            layer.up = linear(f"{p}.mlp.up_proj", c.intermediate_size, c.hidden_size)
            layer.ffn_sub_norm = norm(f"{p}.mlp.ffn_sub_norm.weight", c.intermediate_size)
            layer.down = linear(f"{p}.mlp.down_proj", c.hidden_size, c.intermediate_size)
            self.layers.append(layer)
        self.final_norm = norm("model.norm.weight", c.hidden_size)
        unused = sorted(set(tensors) - used - {"lm_head.weight"})
        if unused:
            raise ValueError(f"checkpoint has tensors this reference does not use: {unused[:5]}")

    @staticmethod
    def load(checkpoint: str | os.PathLike, embedding: str = "float32") -> "BitNetModel":
        directory = Path(checkpoint)
        config = Config.from_json(json.loads((directory / "config.json").read_text()))
        return BitNetModel(config, read_safetensors(directory / "model.safetensors"), embedding)

    def new_cache(self) -> list[list[torch.Tensor | None]]:
        return [[None, None] for _ in self.layers]

    def forward(self, tokens: list[int], cache=None, start: int = 0) -> torch.Tensor:
        """Next-token logits [len(tokens), vocab] (float64) for tokens at positions start, start+1, ...

        With a cache (from new_cache), keys and values of earlier calls are attended to and this call's are appended;
        without one, the tokens are the whole sequence (start must be 0).
        """
        c = self.config
        if any(t < 0 or t >= c.vocab_size for t in tokens):
            raise ValueError("token id out of range")
        if cache is None and start != 0:
            raise ValueError("start > 0 needs a cache")
        n = len(tokens)
        positions = torch.arange(start, start + n)
        h = self.embed[torch.tensor(tokens, dtype=torch.long)].to(torch.float64)  # [T, H]
        heads, kv_heads, d = c.num_attention_heads, c.num_key_value_heads, c.head_dim
        group = heads // kv_heads
        for li, layer in enumerate(self.layers):
            x = rms_norm(h, layer.input_norm, c.rms_norm_eps)
            q = rope(layer.q(x).view(n, heads, d), positions, c.rope_theta)
            k = rope(layer.k(x).view(n, kv_heads, d), positions, c.rope_theta)
            v = layer.v(x).view(n, kv_heads, d)
            if cache is not None:
                if cache[li][0] is not None:
                    k = torch.cat([cache[li][0], k], dim=0)
                    v = torch.cat([cache[li][1], v], dim=0)
                cache[li][0], cache[li][1] = k, v
            total = k.shape[0]
            if total != start + n:
                raise ValueError("cache length does not match start")
            # query position start+t sees key positions 0..start+t
            mask = torch.arange(total)[None, :] > positions[:, None]  # [T, total]
            out = torch.empty(n, heads, d, dtype=torch.float64)
            for hq in range(heads):
                hk = hq // group  # grouped-query: query head hq uses key/value head hq // (heads / kv_heads)
                scores = (q[:, hq, :] @ k[:, hk, :].T) / math.sqrt(d)
                scores = scores.masked_fill(mask, float("-inf"))
                out[:, hq, :] = torch.softmax(scores, dim=-1) @ v[:, hk, :]
            a = rms_norm(out.reshape(n, heads * d), layer.attn_sub_norm, c.rms_norm_eps)
            h = h + layer.o(a)
            x = rms_norm(h, layer.post_norm, c.rms_norm_eps)
            inner = torch.relu(layer.gate(x)) ** 2 * layer.up(x)
            h = h + layer.down(rms_norm(inner, layer.ffn_sub_norm, c.rms_norm_eps))
        h = rms_norm(h, self.final_norm, c.rms_norm_eps)
        logits = torch.empty(n, c.vocab_size, dtype=torch.float64)
        chunk = 16384  # a 128256-row embedding would be 2.6 GB as float64: widen it in slices
        for r in range(0, c.vocab_size, chunk):
            logits[:, r : r + chunk] = h @ self.lm_head[r : r + chunk].to(torch.float64).T
        return logits

    def greedy(self, tokens: list[int], steps: int, use_cache: bool = True, stop: set[int] | None = None,
               temperature: float = 0.0, seed: int = 0, step_logits: list[np.ndarray] | None = None,
               step_ties: list[float] | None = None):
        """(prompt logits [T, vocab], generated ids). temperature 0: argmax (lowest id on ties); otherwise samples
        from softmax(logits / temperature) with numpy's generator seeded by `seed`. With a `step_logits` list, the
        float64 logits each generated token was chosen from are appended to it (one [vocab] array per token); with a
        `step_ties` list, the TieWatch distance of the forward pass that computed them."""
        rng = np.random.default_rng(seed)
        cache = self.new_cache() if use_cache else None
        self.ties.reset()
        logits = self.forward(tokens, cache)
        prompt_logits = logits
        sequence = list(tokens)
        generated = []
        for _ in range(steps):
            last = logits[-1].numpy()
            if step_logits is not None:
                step_logits.append(last.copy())
            if step_ties is not None:
                step_ties.append(self.ties.nearest)
            if temperature > 0:
                p = np.exp((last - last.max()) / temperature)
                nxt = int(rng.choice(len(p), p=p / p.sum()))
            else:
                nxt = int(np.argmax(last))  # np.argmax returns the first maximum
            generated.append(nxt)
            sequence.append(nxt)
            if stop and nxt in stop:
                break
            self.ties.reset()
            if use_cache:
                logits = self.forward([nxt], cache, start=len(sequence) - 1)
            else:
                logits = self.forward(sequence)
        return prompt_logits, generated


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True, help="folder with config.json and model.safetensors")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--tokens", help="comma-separated token ids, e.g. 1,2,3")
    source.add_argument("--prompt", help="text, tokenized with the checkpoint's tokenizer.json")
    parser.add_argument("--bos", action="store_true", help="with --prompt: prepend <|begin_of_text|>")
    parser.add_argument("--greedy", type=int, default=0, metavar="N", help="continue greedily for N tokens")
    parser.add_argument("--temperature", type=float, default=0.0, help="with --greedy: sample at this temperature "
                        "instead of taking the argmax (0, the default, is greedy)")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed")
    parser.add_argument("--no-cache", action="store_true", help="recompute from scratch for every generated token")
    parser.add_argument("--out", help="write next-token logits of the given tokens: float32 [positions, vocab] .npy")
    parser.add_argument("--out-tokens", help="write {prompt, generated} token ids (and the text) as JSON")
    parser.add_argument("--no-stop", action="store_true", help="with --greedy: generate all N tokens even past "
                        "<|end_of_text|> / <|eot_id|> (a comparison over a fixed number of steps)")
    parser.add_argument("--out-steps", help="with --greedy: write {prompt, generated, embedding, logits, ties} as "
                        "JSON: logits[i] are the float64 logits generated[i] was chosen from (i = 0: after the "
                        "prompt), ties[i] the distance |x*s - (k + 1/2)| of the activation nearest to a rounding tie "
                        "in the forward pass that computed them")
    parser.add_argument("--embedding", choices=EMBEDDING_FORMATS, default="float32",
                        help="the token embedding (and tied head) as a model folder stores it: float32 as in the "
                        "checkpoint (default), or int8 per row (scale = max|row| / 127, round half to even)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: the machine is shared)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.out_steps and not args.greedy:
        parser.error("--out-steps needs --greedy N")

    model = BitNetModel.load(args.checkpoint, embedding=args.embedding)
    tokenizer = None
    if args.prompt is not None or (Path(args.checkpoint) / "tokenizer.json").exists():
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from bpe import ByteLevelBpe  # our own tokenizer.json reader (tools/bitnet/bpe.py)

        if (Path(args.checkpoint) / "tokenizer.json").exists():
            tokenizer = ByteLevelBpe.load(Path(args.checkpoint) / "tokenizer.json")
    if args.prompt is not None:
        if tokenizer is None:
            parser.error("--prompt needs tokenizer.json in the checkpoint folder")
        tokens = tokenizer.encode(args.prompt)
        if args.bos:
            tokens = [tokenizer.special["<|begin_of_text|>"]] + tokens
    else:
        tokens = [int(t) for t in args.tokens.split(",") if t.strip()]
    if not tokens:
        parser.error("no tokens")

    stop = set()
    if tokenizer is not None and not args.no_stop:
        stop = {tokenizer.special[s] for s in ("<|end_of_text|>", "<|eot_id|>") if s in tokenizer.special}
    steps: list[np.ndarray] = []
    ties: list[float] = []
    with torch.no_grad():
        logits, generated = model.greedy(tokens, args.greedy, use_cache=not args.no_cache, stop=stop,
                                         temperature=args.temperature, seed=args.seed, step_logits=steps,
                                         step_ties=ties)
    if args.out_steps:
        # json writes a float as its shortest round-trip repr: the float64 values exactly. "ties"[i]: how close the
        # forward pass that computed logits[i] came to a rounding tie (TieWatch; step 0 is the whole prompt).
        record = {"prompt": tokens, "generated": generated, "embedding": args.embedding,
                  "logits": [row.tolist() for row in steps], "ties": ties}
        Path(args.out_steps).write_text(json.dumps(record) + "\n")
    if args.out:
        np.save(args.out, logits.to(torch.float32).numpy())
    print(f"prompt tokens: {tokens}")
    print(f"next token after the prompt: {int(np.argmax(logits[-1].numpy()))}")
    if args.greedy:
        print(f"generated: {generated}")
        if tokenizer is not None:
            print("text: " + repr(tokenizer.decode(tokens + generated)))
    if args.out_tokens:
        record = {"prompt": tokens, "generated": generated}
        if tokenizer is not None:
            record["text"] = tokenizer.decode(tokens + generated)
        Path(args.out_tokens).write_text(json.dumps(record) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
