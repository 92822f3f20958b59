"""Unit tests for reference.py (no pytest needed).

    cd tools/lfm2 && /usr/bin/python3 -m unittest -v test_reference
"""
from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import math
import struct
import sys
import tempfile
import unittest
from pathlib import Path

import numpy as np
import torch


def _load(name: str, path: Path):
    # tools/bitnet has a reference.py too: load ours under a name of its own so the two never shadow each other
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


ref = _load("lfm2_reference", Path(__file__).resolve().parent / "reference.py")

# The tiny model: hidden 32, 4 layers (conv, conv, attention, conv), 4 query / 2 KV heads of 8, FFN 48, vocabulary 50.
H, HEADS, KV_HEADS, D, FF, VOCAB, KERNEL = 32, 4, 2, 8, 48, 50, 3
TYPES = ["conv", "conv", "full_attention", "conv"]


def bf16_bits(values) -> np.ndarray:
    """float32 -> bf16 bit patterns by truncation (the value written is then exactly bf16_round(values))."""
    return (np.asarray(values, dtype=np.float32).view(np.uint32) >> 16).astype(np.uint16)


def bf16_round(values) -> np.ndarray:
    return (bf16_bits(values).astype(np.uint32) << 16).view(np.float32)


def write_safetensors(path: Path, tensors: dict[str, tuple[str, np.ndarray]]) -> None:
    """A deliberately separate, minimal writer (unsorted, unpadded) so reading is not tested against itself."""
    header, blobs, offset = {}, [], 0
    for name, (dtype, values) in tensors.items():
        if dtype == "BF16":
            raw = bf16_bits(values).tobytes()
        elif dtype == "F16":
            raw = np.asarray(values, dtype="<f2").tobytes()
        else:
            raw = np.asarray(values, dtype="<f4").tobytes()
        header[name] = {"dtype": dtype, "shape": list(np.shape(values)), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def tiny_config(types=TYPES, **changes) -> dict:
    """config.json of the tiny model with `types` as layer_types; a change to None removes that key."""
    cfg = {"model_type": "lfm2", "architectures": ["Lfm2ForCausalLM"], "vocab_size": VOCAB, "hidden_size": H,
           "intermediate_size": FF, "block_auto_adjust_ff_dim": False, "num_hidden_layers": len(types),
           "num_attention_heads": HEADS, "num_key_value_heads": KV_HEADS, "norm_eps": 1e-5, "conv_L_cache": KERNEL,
           "conv_bias": False, "layer_types": list(types), "rope_theta": 10000.0, "bos_token_id": 1,
           "eos_token_id": 7, "tie_embedding": True, "max_position_embeddings": 128}
    cfg.update(changes)
    return {k: v for k, v in cfg.items() if v is not None}


def tiny_tensors(seed: int = 0, dtype: str = "mixed", layer_types=TYPES, conv_bias: bool = False) -> dict:
    """{name: (dtype, float32 values exactly representable in dtype)} in the HF layout. dtype "mixed" cycles the
    tensors through F32, BF16 and F16."""
    rng = np.random.default_rng(seed)
    shapes = {"model.embed_tokens.weight": ((VOCAB, H), 1.0), "model.embedding_norm.weight": ((H,), None)}
    for i, kind in enumerate(layer_types):
        p = f"model.layers.{i}"
        shapes[f"{p}.operator_norm.weight"] = ((H,), None)
        shapes[f"{p}.ffn_norm.weight"] = ((H,), None)
        if kind == "conv":
            shapes[f"{p}.conv.in_proj.weight"] = ((3 * H, H), H ** -0.5)
            shapes[f"{p}.conv.conv.weight"] = ((H, 1, KERNEL), 0.5)
            shapes[f"{p}.conv.out_proj.weight"] = ((H, H), H ** -0.5)
            if conv_bias:
                for name, size in (("in_proj", 3 * H), ("conv", H), ("out_proj", H)):
                    shapes[f"{p}.conv.{name}.bias"] = ((size,), 0.1)
        else:
            shapes[f"{p}.self_attn.q_proj.weight"] = ((HEADS * D, H), H ** -0.5)
            shapes[f"{p}.self_attn.k_proj.weight"] = ((KV_HEADS * D, H), H ** -0.5)
            shapes[f"{p}.self_attn.v_proj.weight"] = ((KV_HEADS * D, H), H ** -0.5)
            shapes[f"{p}.self_attn.out_proj.weight"] = ((H, HEADS * D), (HEADS * D) ** -0.5)
            shapes[f"{p}.self_attn.q_layernorm.weight"] = ((D,), None)
            shapes[f"{p}.self_attn.k_layernorm.weight"] = ((D,), None)
        shapes[f"{p}.feed_forward.w1.weight"] = ((FF, H), H ** -0.5)
        shapes[f"{p}.feed_forward.w3.weight"] = ((FF, H), H ** -0.5)
        shapes[f"{p}.feed_forward.w2.weight"] = ((H, FF), FF ** -0.5)
    cycle = ["F32", "BF16", "F16"]
    tensors = {}
    for n, (name, (shape, std)) in enumerate(shapes.items()):
        # norm weights near 1, everything else N(0, std^2)
        values = (1 + 0.1 * rng.normal(size=shape) if std is None else std * rng.normal(size=shape)).astype(np.float32)
        kind = cycle[n % 3] if dtype == "mixed" else dtype
        if kind == "BF16":
            values = bf16_round(values)
        elif kind == "F16":
            values = values.astype(np.float16).astype(np.float32)
        tensors[name] = (kind, values)
    return tensors


def write_checkpoint(directory: Path, tensors: dict, config: dict) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(config))
    write_safetensors(directory / "model.safetensors", tensors)
    return directory


def assert_relative(test: unittest.TestCase, actual, expected, rel: float = 1e-12) -> None:
    """max |actual - expected| <= rel * max |expected|."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    test.assertEqual(actual.shape, expected.shape)
    error = float(np.abs(actual - expected).max())
    test.assertLessEqual(error, rel * float(np.abs(expected).max()), f"max difference {error:.3e}")


def run_main(args: list[str]) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = ref.main(args)
        except SystemExit as exit_:  # argparse errors
            code = exit_.code
    return code, err.getvalue()


TOKENS = [3, 17, 42, 0, 9, 9, 31, 5, 48, 12, 26]


class MathTests(unittest.TestCase):
    def test_rms_norm_by_hand(self):
        x = torch.tensor([[3.0, 4.0]], dtype=torch.float64)
        w = torch.tensor([1.0, 2.0], dtype=torch.float64)
        # mean square = (9 + 16) / 2 = 12.5; the weight multiplies as is (not 1 + w)
        expected = [3 / math.sqrt(12.5 + 0.5), 2 * 4 / math.sqrt(12.5 + 0.5)]
        np.testing.assert_allclose(ref.rms_norm(x, w, 0.5).numpy()[0], expected, rtol=1e-15)

    def test_rope_by_hand(self):
        # d = 4: pairs (0, 2) and (1, 3); frequencies theta^0 = 1 and theta^(-2/4) = 1/10 for theta = 100
        x = torch.tensor([[[1.0, 2.0, 3.0, 4.0]]], dtype=torch.float64)
        pos = 3
        y = ref.rope(x, torch.tensor([pos]), 100.0)[0, 0].numpy()
        a0, a1 = pos * 1.0, pos * 0.1
        expected = [1 * math.cos(a0) - 3 * math.sin(a0), 2 * math.cos(a1) - 4 * math.sin(a1),
                    3 * math.cos(a0) + 1 * math.sin(a0), 4 * math.cos(a1) + 2 * math.sin(a1)]
        np.testing.assert_allclose(y, expected, rtol=1e-14)
        np.testing.assert_array_equal(ref.rope(x, torch.tensor([0]), 100.0).numpy(), x.numpy())

    def test_mlp_by_hand(self):
        # H = 2, FFN 1: w1 x = 2, w3 x = 3 for x = [1, 0]; silu(2) = 2 / (1 + e^-2); w2 = [[1], [-0.5]]
        t = lambda a: ref.Linear(torch.tensor(a, dtype=torch.float64))  # noqa: E731
        layer = ref.Layer("conv", None, None, None, t([[2.0, 5.0]]), t([[1.0], [-0.5]]), t([[3.0, 7.0]]))
        inner = 2 / (1 + math.exp(-2)) * 3
        np.testing.assert_allclose(layer.mlp(torch.tensor([[1.0, 0.0]], dtype=torch.float64)).numpy()[0],
                                   [inner, -0.5 * inner], rtol=1e-15)

    def test_grouped_query_heads_by_hand(self):
        # One token at position 0: each query head's softmax is [1], so its output is its KV head's v. 4 query heads of
        # d = 2 share 2 KV heads: query heads 0, 1 read KV head 0 and 2, 3 read KV head 1 (not 0, 1, 0, 1).
        config = ref.Config(vocab_size=1, hidden_size=4, num_hidden_layers=1, num_attention_heads=4,
                            num_key_value_heads=2, head_dim=2, norm_eps=1e-5, conv_L_cache=3, conv_bias=False,
                            layer_types=("full_attention",), rope_theta=1e6, tie_word_embeddings=True,
                            bos_token_id=None, eos_token_ids=())
        eye = torch.eye(4, dtype=torch.float64)
        rng = np.random.default_rng(1)
        q = ref.Linear(torch.from_numpy(rng.normal(size=(8, 4))))
        k = ref.Linear(torch.from_numpy(rng.normal(size=(4, 4))))
        v = ref.Linear(eye)  # v = x: KV head 0 = x[0:2], KV head 1 = x[2:4]
        out = ref.Linear(torch.eye(8, dtype=torch.float64))  # out = the concatenated heads
        mixer = ref.AttentionMixer(config, q, k, v, out, torch.ones(2, dtype=torch.float64),
                                   torch.ones(2, dtype=torch.float64))
        x = torch.tensor([[1.0, 2.0, 3.0, 4.0]], dtype=torch.float64)
        y, _ = mixer(x, torch.tensor([0]), None)
        np.testing.assert_allclose(y.numpy()[0], [1, 2, 1, 2, 3, 4, 3, 4], rtol=1e-15)

    def test_attention_against_scalar_loops(self):
        # The attention mixer on 3 tokens at positions 5..7 after 5 cached ones, against plain Python loops written
        # from the description: per-head RMSNorm of q and k (non-uniform weights) BEFORE RoPE, then softmax.
        rng = np.random.default_rng(2)
        hidden, heads, kv_heads, d, theta, eps = 6, 4, 2, 4, 50.0, 1e-5
        config = ref.Config(vocab_size=1, hidden_size=hidden, num_hidden_layers=1, num_attention_heads=heads,
                            num_key_value_heads=kv_heads, head_dim=d, norm_eps=eps, conv_L_cache=3, conv_bias=False,
                            layer_types=("full_attention",), rope_theta=theta, tie_word_embeddings=True,
                            bos_token_id=None, eos_token_ids=())
        wq, wk, wv = rng.normal(size=(heads * d, hidden)), rng.normal(size=(kv_heads * d, hidden)), \
            rng.normal(size=(kv_heads * d, hidden))
        wo, qn, kn = rng.normal(size=(hidden, heads * d)), 1 + 0.5 * rng.normal(size=d), 1 + 0.5 * rng.normal(size=d)
        xs = rng.normal(size=(8, hidden))
        t = torch.from_numpy
        mixer = ref.AttentionMixer(config, ref.Linear(t(wq)), ref.Linear(t(wk)), ref.Linear(t(wv)), ref.Linear(t(wo)),
                                   t(qn), t(kn))
        _, past = mixer(t(xs[:5]), torch.arange(5), None)
        got, _ = mixer(t(xs[5:]), torch.arange(5, 8), past)

        def head(w, x, h, norm=None, pos=None):
            v = [sum(w[h * d + j, c] * x[c] for c in range(hidden)) for j in range(d)]
            if norm is not None:
                r = math.sqrt(sum(a * a for a in v) / d + eps)
                v = [norm[j] * v[j] / r for j in range(d)]
                rotated = list(v)
                for j in range(d // 2):
                    angle = pos * theta ** (-2 * j / d)
                    rotated[j] = v[j] * math.cos(angle) - v[j + d // 2] * math.sin(angle)
                    rotated[j + d // 2] = v[j + d // 2] * math.cos(angle) + v[j] * math.sin(angle)
                v = rotated
            return v

        for row, p in enumerate(range(5, 8)):
            concat = []
            for h in range(heads):
                g = h // (heads // kv_heads)
                q = head(wq, xs[p], h, qn, p)
                scores = [sum(a * b for a, b in zip(q, head(wk, xs[s], g, kn, s))) / math.sqrt(d) for s in range(p + 1)]
                top = max(scores)
                weights = [math.exp(s - top) for s in scores]
                total = sum(weights)
                values = [head(wv, xs[s], g) for s in range(p + 1)]
                concat += [sum(weights[s] * values[s][j] for s in range(p + 1)) / total for j in range(d)]
            expected = [sum(wo[o, c] * concat[c] for c in range(heads * d)) for o in range(hidden)]
            np.testing.assert_allclose(got.numpy()[row], expected, rtol=1e-12, atol=1e-12)


class ConvMixerTests(unittest.TestCase):
    """The conv mixer alone, H = 2, kernel 3, three tokens; every number below worked out by hand."""

    # in_proj rows: B = [x_a, x_b]; C = [x_a + x_b, 2 x_a]; X = [2 x_b, x_a - x_b]
    IN_PROJ = [[1, 0], [0, 1], [1, 1], [2, 0], [0, 2], [1, -1]]
    CONV = [[0.5, -1, 2], [1, 0, -1]]  # channel a, channel b; w[k] multiplies u[t - 2 + k]
    OUT_PROJ = [[1, 0], [1, 1]]  # out = [y_a, y_a + y_b]
    X = [[1, 2], [-1, 1], [2, 1]]

    def mixer(self, bias=None):
        t = lambda a: torch.tensor(a, dtype=torch.float64)  # noqa: E731
        return ref.ConvMixer(ref.Linear(t(self.IN_PROJ)), t(self.CONV), None if bias is None else t(bias),
                             ref.Linear(t(self.OUT_PROJ)))

    def test_by_hand(self):
        # t0: x = [1, 2]:  B = [1, 2],  C = [3, 2],  X = [4, -1] -> u = B * X = [4, -2]
        # t1: x = [-1, 1]: B = [-1, 1], C = [0, -2], X = [2, -2] -> u = [-2, -2]
        # t2: x = [2, 1]:  B = [2, 1],  C = [3, 4],  X = [2, 1]  -> u = [4, 1]
        # channel a, u = 4, -2, 4, w = (0.5, -1, 2): t0 2*4 = 8; t1 -1*4 + 2*-2 = -8; t2 0.5*4 - 1*-2 + 2*4 = 12
        # channel b, u = -2, -2, 1, w = (1, 0, -1): t0 -1*-2 = 2; t1 0*-2 - 1*-2 = 2; t2 1*-2 + 0*-2 - 1*1 = -3
        # C * conv: t0 [3*8, 2*2] = [24, 4]; t1 [0*-8, -2*2] = [0, -4]; t2 [3*12, 4*-3] = [36, -12]
        # out_proj: [y_a, y_a + y_b] -> [24, 28], [0, -4], [36, 24]
        expected = [[24, 28], [0, -4], [36, 24]]
        self.check(self.mixer(), expected, final_state=[[-2, -2], [4, 1]])

    def test_by_hand_with_conv_bias(self):
        # the same with conv bias [1, -1]: conv = [9, 1], [-7, 1], [13, -4]; C * conv = [27, 2], [0, -2], [39, -16]
        expected = [[27, 29], [0, -2], [39, 23]]
        self.check(self.mixer(bias=[1, -1]), expected, final_state=[[-2, -2], [4, 1]])

    def check(self, mixer, expected, final_state):
        x = torch.tensor(self.X, dtype=torch.float64)
        np.testing.assert_allclose(mixer.full(x).numpy(), expected, rtol=1e-15)
        zero = torch.zeros(2, 2, dtype=torch.float64)
        out, state = mixer.step(x, zero)  # all three at once from the zero state
        np.testing.assert_allclose(out.numpy(), expected, rtol=1e-15)
        np.testing.assert_array_equal(state.numpy(), final_state)  # the last L-1 = 2 rows of u
        state = zero
        for t in range(3):  # one token at a time
            out, state = mixer.step(x[t : t + 1], state)
            np.testing.assert_allclose(out.numpy()[0], expected[t], rtol=1e-15)
        np.testing.assert_array_equal(state.numpy(), final_state)


class ModelTests(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)

    def tearDown(self):
        self.tmp.cleanup()

    def checkpoint(self, name: str, tensors=None, config=None) -> Path:
        return write_checkpoint(self.dir / name, tiny_tensors() if tensors is None else tensors,
                                tiny_config() if config is None else config)

    def test_reads_the_stored_values(self):
        tensors = tiny_tensors(dtype="mixed")
        model = ref.Lfm2Model.load(self.checkpoint("m", tensors))
        self.assertEqual([layer.kind for layer in model.layers], TYPES)
        self.assertEqual({dtype for dtype, _ in tensors.values()}, {"F32", "BF16", "F16"})
        np.testing.assert_array_equal(model.embed.numpy(), tensors["model.embed_tokens.weight"][1])
        self.assertIs(model.lm_head, model.embed)
        np.testing.assert_array_equal(model.layers[1].mixer.weight.numpy(),
                                      tensors["model.layers.1.conv.conv.weight"][1][:, 0, :])
        np.testing.assert_array_equal(model.layers[2].mixer.k_norm.numpy(),
                                      tensors["model.layers.2.self_attn.k_layernorm.weight"][1])
        self.assertEqual(model.config.rope_theta, 10000.0)
        self.assertEqual(model.config.eos_token_ids, (7,))

    def test_whole_model_against_numpy(self):
        # The tiny hybrid model straight from the tensor names, in numpy (explicit loops for the convolution and the
        # causal mask): pins which tensor plays which role, the residual structure and the final norm and head.
        tensors, cfg = tiny_tensors(seed=9), tiny_config()
        model = ref.Lfm2Model.load(self.checkpoint("m", tensors, cfg))
        w = lambda name: tensors[name][1].astype(np.float64)  # noqa: E731
        eps, theta, n = cfg["norm_eps"], cfg["rope_theta"], len(TOKENS)

        def norm(x, weight):
            return weight * x / np.sqrt((x ** 2).mean(axis=-1, keepdims=True) + eps)

        def rotate(x):  # x [T, heads, D] at positions 0..T-1
            angle = np.arange(n)[:, None] * theta ** (-2 * np.arange(D // 2) / D)  # [T, D/2]
            cos, sin = np.cos(angle)[:, None, :], np.sin(angle)[:, None, :]
            a, b = x[..., : D // 2], x[..., D // 2 :]
            return np.concatenate([a * cos - b * sin, b * cos + a * sin], axis=-1)

        h = w("model.embed_tokens.weight")[TOKENS]
        for i, kind in enumerate(TYPES):
            p = f"model.layers.{i}."
            x = norm(h, w(p + "operator_norm.weight"))
            if kind == "conv":
                gate_b, gate_c, xx = np.split(x @ w(p + "conv.in_proj.weight").T, 3, axis=1)
                u, taps = gate_b * xx, w(p + "conv.conv.weight")[:, 0, :]
                conv = np.zeros_like(u)
                for t in range(n):
                    for k in range(KERNEL):
                        if t - (KERNEL - 1) + k >= 0:
                            conv[t] += taps[:, k] * u[t - (KERNEL - 1) + k]
                mix = (gate_c * conv) @ w(p + "conv.out_proj.weight").T
            else:
                a = p + "self_attn."
                q = rotate(norm((x @ w(a + "q_proj.weight").T).reshape(n, HEADS, D), w(a + "q_layernorm.weight")))
                k = rotate(norm((x @ w(a + "k_proj.weight").T).reshape(n, KV_HEADS, D), w(a + "k_layernorm.weight")))
                v = (x @ w(a + "v_proj.weight").T).reshape(n, KV_HEADS, D)
                out = np.zeros((n, HEADS, D))
                for hq in range(HEADS):
                    g = hq // (HEADS // KV_HEADS)
                    scores = q[:, hq] @ k[:, g].T / math.sqrt(D)
                    scores[np.triu_indices(n, 1)] = -np.inf
                    e = np.exp(scores - scores.max(axis=1, keepdims=True))
                    out[:, hq] = (e / e.sum(axis=1, keepdims=True)) @ v[:, g]
                mix = out.reshape(n, HEADS * D) @ w(a + "out_proj.weight").T
            h = h + mix
            x = norm(h, w(p + "ffn_norm.weight"))
            gate = x @ w(p + "feed_forward.w1.weight").T
            h = h + (gate / (1 + np.exp(-gate)) * (x @ w(p + "feed_forward.w3.weight").T)) @ \
                w(p + "feed_forward.w2.weight").T
        expected = norm(h, w("model.embedding_norm.weight")) @ w("model.embed_tokens.weight").T
        assert_relative(self, model.forward(TOKENS).numpy(), expected)
        cache = model.new_cache()
        assert_relative(self, torch.cat([model.forward([t], cache) for t in TOKENS]).numpy(), expected)

    def test_cache_matches_recompute(self):
        for dtype in ("F32", "BF16", "mixed"):
            with self.subTest(dtype=dtype):
                model = ref.Lfm2Model.load(self.checkpoint(dtype, tiny_tensors(seed=2, dtype=dtype)))
                full = model.forward(TOKENS).numpy()
                self.assertEqual(full.shape, (len(TOKENS), VOCAB))
                cache = model.new_cache()
                rows = [model.forward(TOKENS[:4], cache)] + [model.forward([t], cache) for t in TOKENS[4:]]
                self.assertEqual(cache.position, len(TOKENS))
                assert_relative(self, torch.cat(rows).numpy(), full)
                # causality: logits at a position do not depend on later tokens
                assert_relative(self, model.forward(TOKENS[:5]).numpy(), full[:5])

    def test_prompt_in_chunks_equals_all_at_once(self):
        model = ref.Lfm2Model.load(self.checkpoint("m"))
        cache = model.new_cache()
        whole = model.forward(TOKENS, cache).numpy()
        for sizes in ((3, 1, 4, 3), (1,) * len(TOKENS), (2, 9)):
            cache, rows, at = model.new_cache(), [], 0
            for size in sizes:
                rows.append(model.forward(TOKENS[at : at + size], cache))
                at += size
            assert_relative(self, torch.cat(rows).numpy(), whole)
        assert_relative(self, whole, model.forward(TOKENS).numpy())

    def test_conv_bias_and_other_kernel(self):
        tensors = tiny_tensors(seed=3, conv_bias=True)
        model = ref.Lfm2Model.load(self.checkpoint("bias", tensors, tiny_config(conv_bias=True)))
        self.assertIsNotNone(model.layers[0].mixer.bias)
        self.assertIsNotNone(model.layers[0].mixer.in_proj.bias)
        cache = model.new_cache()
        stepped = torch.cat([model.forward(TOKENS[:2], cache)] + [model.forward([t], cache) for t in TOKENS[2:]])
        assert_relative(self, stepped.numpy(), model.forward(TOKENS).numpy())
        # the same biases in a checkpoint whose config says conv_bias false are tensors the model does not use
        with self.assertRaisesRegex(ref.CheckpointError, "does not use"):
            ref.Lfm2Model.load(self.checkpoint("nobias", tensors, tiny_config(conv_bias=False)))

    def test_full_attn_idxs_equals_layer_types(self):
        tensors = tiny_tensors(seed=4)
        a = ref.Lfm2Model.load(self.checkpoint("types", tensors))
        b = ref.Lfm2Model.load(self.checkpoint("idxs", tensors, tiny_config(layer_types=None, full_attn_idxs=[2])))
        self.assertEqual([layer.kind for layer in b.layers], TYPES)
        both = ref.Lfm2Model.load(self.checkpoint("both", tensors, tiny_config(full_attn_idxs=[2])))  # agreeing
        self.assertEqual([layer.kind for layer in both.layers], TYPES)
        np.testing.assert_array_equal(a.forward(TOKENS).numpy(), b.forward(TOKENS).numpy())
        # neither key: every layer is attention
        attention = ["full_attention"] * 4
        tensors = tiny_tensors(seed=4, layer_types=attention)
        c = ref.Lfm2Model.load(self.checkpoint("explicit", tensors, tiny_config(attention)))
        d = ref.Lfm2Model.load(self.checkpoint("default", tensors, tiny_config(attention, layer_types=None)))
        np.testing.assert_array_equal(c.forward(TOKENS).numpy(), d.forward(TOKENS).numpy())
        # and such a model is not the hybrid one
        self.assertFalse(np.allclose(a.forward(TOKENS).numpy(), c.forward(TOKENS).numpy()))

    def test_refuses_missing_extra_and_misshapen_tensors(self):
        good = tiny_tensors()
        cases = {}
        missing = dict(good)
        del missing["model.layers.1.conv.conv.weight"]
        cases["missing"] = (missing, tiny_config(), "has no tensor model.layers.1.conv.conv.weight")
        extra = dict(good)
        extra["model.layers.0.self_attn.q_proj.weight"] = ("F32", np.zeros((HEADS * D, H), np.float32))
        cases["extra"] = (extra, tiny_config(), "does not use.*model.layers.0.self_attn.q_proj.weight")
        shape = dict(good)
        shape["model.layers.3.conv.conv.weight"] = ("F32", np.zeros((H, KERNEL), np.float32))  # no group axis
        cases["shape"] = (shape, tiny_config(), "conv.conv.weight has shape")
        untied = dict(good)
        untied["lm_head.weight"] = ("F32", np.ones((VOCAB, H), np.float32))
        cases["tied head differs"] = (untied, tiny_config(), "lm_head.weight differs")
        cases["untied head missing"] = (good, tiny_config(tie_embedding=False), "no tensor lm_head.weight")
        cases["two thetas"] = (good, tiny_config(theta=500000.0), "different RoPE bases")
        cases["unknown layer type"] = (good, tiny_config(["conv", "conv", "sliding_attention", "conv"]),
                                       "sliding_attention")
        cases["idxs disagree"] = (good, tiny_config(full_attn_idxs=[1]), "full_attn_idxs .* disagrees")
        cases["tie disagrees"] = (good, tiny_config(tie_word_embeddings=False), "tie_embedding True disagrees")
        cases["rope scaling"] = (good, tiny_config(rope_scaling={"rope_type": "yarn", "factor": 2.0}), "rope_scaling")
        for name, (tensors, config, message) in cases.items():
            with self.subTest(name):
                folder = self.checkpoint(name.replace(" ", "-"), tensors, config)
                with self.assertRaisesRegex(ref.CheckpointError, message):
                    ref.Lfm2Model.load(folder)
                code, stderr = run_main(["--checkpoint", str(folder), "--tokens", "1,2"])
                self.assertEqual(code, 2)
                self.assertRegex(stderr, "refused checkpoint")

    def test_untied_head_and_theta_spellings(self):
        tensors = dict(tiny_tensors(seed=5))
        head = np.random.default_rng(6).normal(size=(VOCAB, H)).astype(np.float32)
        tensors["lm_head.weight"] = ("F32", head)
        model = ref.Lfm2Model.load(self.checkpoint("untied", tensors, tiny_config(tie_embedding=False)))
        np.testing.assert_array_equal(model.lm_head.numpy(), head)
        int8 = ref.Lfm2Model.load(self.dir / "untied", embedding="int8")
        np.testing.assert_array_equal(int8.lm_head.numpy(), head)  # an untied head is left as stored
        # a tied checkpoint that also stores the head (equal to the embedding) is accepted and stays tied
        tied = dict(tiny_tensors(seed=5))
        tied["lm_head.weight"] = tied["model.embed_tokens.weight"]
        model = ref.Lfm2Model.load(self.checkpoint("tied", tied), embedding="int8")
        self.assertIs(model.lm_head, model.embed)
        for raw, theta in (({}, 1e6), ({"rope_theta": 5.0}, 5.0), ({"theta": 6.0}, 6.0),
                           ({"rope_parameters": {"rope_type": "default", "rope_theta": 7.0}}, 7.0),
                           ({"rope_parameters": {"full_attention": {"rope_theta": 8.0}}, "rope_theta": 8.0}, 8.0)):
            cfg = tiny_config(rope_theta=None)
            cfg.update(raw)
            self.assertEqual(ref.Config.from_json(cfg).rope_theta, theta)
        self.assertEqual(ref.Config.from_json(tiny_config(eos_token_id=[7, 2])).eos_token_ids, (7, 2))
        self.assertEqual(ref.Config.from_json(tiny_config(norm_eps=None)).norm_eps, 1e-5)
        self.assertEqual(ref.Config.from_json(tiny_config(conv_L_cache=None)).conv_L_cache, 3)


class EmbeddingAndCliTests(unittest.TestCase):
    def test_int8_changes_the_logits_slightly(self):
        with tempfile.TemporaryDirectory() as d:
            write_checkpoint(Path(d), tiny_tensors(seed=7, dtype="BF16"), tiny_config())
            full = ref.Lfm2Model.load(d)
            int8 = ref.Lfm2Model.load(d, embedding="int8")
            with self.assertRaises(ValueError):
                ref.Lfm2Model.load(d, embedding="int4")
        np.testing.assert_array_equal(int8.embed.numpy(), ref.quantize_embedding_int8(full.embed).numpy())
        self.assertIs(int8.lm_head, int8.embed)  # the tied head is the rounded table too
        a, b = full.forward(TOKENS).numpy(), int8.forward(TOKENS).numpy()
        spread = (a.max(axis=1) - a.min(axis=1))[:, None]
        change = float((np.abs(a - b) / spread).max())
        self.assertGreater(change, 1e-5)  # the rounding is seen
        self.assertLess(change, 5e-2)  # but it is a rounding, not another model

    def test_out_steps_schema_cache_and_stop(self):
        with tempfile.TemporaryDirectory() as d:
            write_checkpoint(Path(d), tiny_tensors(seed=8), tiny_config())
            records = {}
            for name, extra in (("cached", []), ("uncached", ["--no-cache"])):
                out = Path(d) / f"{name}.json"
                code, err = run_main(["--checkpoint", d, "--tokens", "1,5,2", "--greedy", "8", "--no-stop",
                                      "--embedding", "int8", "--out-steps", str(out), "--threads", "1"] + extra)
                self.assertEqual(code, 0, err)
                records[name] = json.loads(out.read_text())
            model = ref.Lfm2Model.load(d, embedding="int8")
            # without --no-stop, decoding ends at config.json's eos_token_id (7 here: make it the first id)
            first = records["cached"]["generated"][0]
            config = tiny_config(eos_token_id=[first, 2])
            (Path(d) / "config.json").write_text(json.dumps(config))
            out = Path(d) / "stop.json"
            code, err = run_main(["--checkpoint", d, "--tokens", "1,5,2", "--greedy", "8", "--out-steps", str(out)])
            self.assertEqual(code, 0, err)
            stopped = json.loads(out.read_text())
        record = records["cached"]
        self.assertEqual(set(record), {"prompt", "generated", "embedding", "logits"})
        self.assertEqual(record["prompt"], [1, 5, 2])
        self.assertEqual(record["embedding"], "int8")
        self.assertEqual(len(record["generated"]), 8)
        self.assertEqual(len(record["logits"]), 8)
        self.assertEqual(records["uncached"]["generated"], record["generated"])
        assert_relative(self, records["uncached"]["logits"], record["logits"])
        full = model.forward([1, 5, 2] + record["generated"]).numpy()
        for i, row in enumerate(record["logits"]):
            self.assertEqual(len(row), VOCAB)
            self.assertEqual(int(np.argmax(row)), record["generated"][i])
            assert_relative(self, row, full[2 + i])
        self.assertEqual(stopped["generated"], [first])
        self.assertEqual(len(stopped["logits"]), 1)

    def test_cli_errors(self):
        with tempfile.TemporaryDirectory() as d:
            write_checkpoint(Path(d), tiny_tensors(), tiny_config())
            self.assertEqual(run_main(["--checkpoint", d, "--tokens", "1,50"])[0], 2)  # out of range
            self.assertEqual(run_main(["--checkpoint", d, "--tokens", "1", "--out-steps", "x.json"])[0], 2)
            self.assertEqual(run_main(["--checkpoint", str(Path(d) / "absent"), "--tokens", "1"])[0], 2)
            out = Path(d) / "logits.npy"
            self.assertEqual(run_main(["--checkpoint", d, "--tokens", "4,5", "--bos", "--out", str(out)])[0], 0)
            logits = np.load(out)
        self.assertEqual(logits.shape, (3, VOCAB))  # bos_token_id 1 prepended
        self.assertEqual(logits.dtype, np.float32)


if __name__ == "__main__":
    unittest.main()
