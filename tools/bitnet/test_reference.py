"""Unit tests for reference.py and bpe.py (no pytest needed).

    cd tools/bitnet && python3 -m unittest -v test_reference
    python3 -m unittest discover -s tools/bitnet -p 'test_*.py'
"""
from __future__ import annotations

import contextlib
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bpe  # noqa: E402
import reference as ref  # noqa: E402


def bf16_bits(values) -> np.ndarray:
    """float32 -> bf16 by truncation (the test values below are exact in bf16)."""
    return (np.asarray(values, dtype=np.float32).view(np.uint32) >> 16).astype(np.uint16)


def write_safetensors(path: Path, tensors: dict[str, tuple[str, np.ndarray]]) -> None:
    """A deliberately separate, minimal writer (unsorted, unpadded) so reading is not tested against itself."""
    header, blobs, offset = {}, [], 0
    for name, (dtype, array) in tensors.items():
        raw = np.ascontiguousarray(array).tobytes()
        header[name] = {"dtype": dtype, "shape": list(array.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(blobs))


class PackingTests(unittest.TestCase):
    def test_hand_packed_byte(self):
        # W is [8, 1]: rows 0..7 = [-1, 0, 1, 1, 0, -1, 1, 0]. out/4 = 2, so packed[r, 0] holds rows r, r+2, r+4, r+6
        # in bit fields 0..3, each as W + 1.
        # packed[0, 0]: rows 0, 2, 4, 6 = -1, 1, 0, 1 -> 0, 2, 1, 2 -> 0b10_01_10_00
        # packed[1, 0]: rows 1, 3, 5, 7 =  0, 1, -1, 0 -> 1, 2, 0, 1 -> 0b01_00_10_01
        w = np.array([[-1], [0], [1], [1], [0], [-1], [1], [0]])
        packed = np.array([[0b10011000], [0b01001001]], dtype=np.uint8)
        np.testing.assert_array_equal(ref.pack_ternary(w), packed)
        np.testing.assert_array_equal(ref.unpack_ternary(packed), w)

    def test_round_trip_random(self):
        rng = np.random.default_rng(0)
        for rows, cols in ((4, 1), (8, 3), (704, 256), (128, 64)):
            w = rng.integers(-1, 2, size=(rows, cols)).astype(np.int8)
            packed = ref.pack_ternary(w)
            self.assertEqual(packed.shape, (rows // 4, cols))
            self.assertEqual(packed.dtype, np.uint8)
            np.testing.assert_array_equal(ref.unpack_ternary(packed), w)

    def test_invalid_field_rejected(self):
        with self.assertRaises(ValueError):
            ref.unpack_ternary(np.array([[3]], dtype=np.uint8))


class MathTests(unittest.TestCase):
    def test_rms_norm_by_hand(self):
        x = torch.tensor([[3.0, 4.0]], dtype=torch.float64)
        w = torch.tensor([1.0, 2.0], dtype=torch.float64)
        # mean square = (9 + 16) / 2 = 12.5
        expected = [3 / math.sqrt(12.5 + 0.5), 2 * 4 / math.sqrt(12.5 + 0.5)]
        np.testing.assert_allclose(ref.rms_norm(x, w, 0.5).numpy()[0], expected, rtol=1e-15)

    def test_rope_by_hand(self):
        # d = 4: pairs (0, 2) and (1, 3); frequencies theta^0 = 1 and theta^(-2/4) = 1/10 for theta = 100
        x = torch.tensor([[[1.0, 2.0, 3.0, 4.0]]], dtype=torch.float64)  # [T=1, heads=1, d=4]
        pos = 3
        y = ref.rope(x, torch.tensor([pos]), 100.0)[0, 0].numpy()
        a0, a1 = pos * 1.0, pos * 0.1
        expected = [
            1 * math.cos(a0) - 3 * math.sin(a0),
            2 * math.cos(a1) - 4 * math.sin(a1),
            3 * math.cos(a0) + 1 * math.sin(a0),
            4 * math.cos(a1) + 2 * math.sin(a1),
        ]
        np.testing.assert_allclose(y, expected, rtol=1e-14)
        # position 0 is the identity
        np.testing.assert_array_equal(ref.rope(x, torch.tensor([0]), 100.0).numpy(), x.numpy())

    def test_bitlinear_by_hand(self):
        x = torch.tensor([[0.5, -1.0, 0.25]], dtype=torch.float64)
        w = np.array([[1, 0, -1], [1, 1, 1]], dtype=np.int8)
        # s = 127 / 1.0; x_q = round([63.5, -127, 31.75]) = [64 (half to even), -127, 32]
        x_q = np.array([64.0, -127.0, 32.0])
        acc = w.astype(np.float64) @ x_q  # [32, -31]
        mul = ref.BitLinear(w, 0.75, multiply=True)(x).numpy()[0]
        np.testing.assert_allclose(mul, acc / 127.0 * 0.75, rtol=1e-15)
        div = ref.BitLinear(w, 0.75, multiply=False)(x).numpy()[0]
        np.testing.assert_allclose(div, acc / (127.0 * 0.75), rtol=1e-15)

    def test_tie_watch_keeps_the_activation_nearest_to_a_rounding_tie(self):
        w = np.array([[1, 0, -1], [1, 1, 1]], dtype=np.int8)
        watch = ref.TieWatch()
        lin = ref.BitLinear(w, 0.75, multiply=True, ties=watch)
        lin(torch.tensor([[1.0, 0.3, 0.1]], dtype=torch.float64))  # x*s = [127, 38.1, 12.7]: 0.5, 0.4, 0.2 from k + 1/2
        self.assertAlmostEqual(watch.nearest, 0.2, places=9)
        lin(torch.tensor([[0.5, -1.0, 0.25]], dtype=torch.float64))  # x*s = [63.5, -127, 31.75]: 63.5 is a tie
        self.assertEqual(watch.nearest, 0.0)
        watch.reset()
        self.assertEqual(watch.nearest, math.inf)

    def test_round_half_to_even(self):
        # torch.round rounds halves to even, as the activation quantizer requires
        self.assertEqual(torch.round(torch.tensor([0.5, 1.5, 2.5, -0.5, -1.5])).tolist(), [0.0, 2.0, 2.0, -0.0, -2.0])


class SafetensorsTests(unittest.TestCase):
    def test_read_all_dtypes(self):
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "t.safetensors"
            write_safetensors(path, {
                "b": ("BF16", bf16_bits([1.5, -2.0, 0.15625])),
                "h": ("F16", np.array([[0.5, 3.0]], dtype=np.float16)),
                "f": ("F32", np.array([1e-7], dtype=np.float32)),
                "u": ("U8", np.array([[1, 2], [3, 255]], dtype=np.uint8)),
            })
            t = ref.read_safetensors(path)
        self.assertEqual(t["b"][0], "BF16")
        np.testing.assert_array_equal(t["b"][1], [1.5, -2.0, 0.15625])
        np.testing.assert_array_equal(t["h"][1], [[0.5, 3.0]])
        np.testing.assert_array_equal(t["f"][1], np.array([1e-7], dtype=np.float32))
        np.testing.assert_array_equal(t["u"][1], [[1, 2], [3, 255]])
        self.assertEqual(t["u"][1].dtype, np.uint8)


def tiny_checkpoint(directory: Path, linear_class: str, seed: int = 0) -> dict:
    """A random model in the HF layout: 2 layers, hidden 8, 2 query / 1 KV heads of 4, FFN 12, vocab 11."""
    rng = np.random.default_rng(seed)
    h, f, layers, heads, kv, d, vocab = 8, 12, 2, 2, 1, 4, 11
    cfg = {"hidden_size": h, "intermediate_size": f, "num_hidden_layers": layers, "num_attention_heads": heads,
           "num_key_value_heads": kv, "vocab_size": vocab, "rope_theta": 100.0, "rms_norm_eps": 1e-5,
           "hidden_act": "relu2", "tie_word_embeddings": True,
           "quantization_config": {"quant_method": "bitnet", "linear_class": linear_class,
                                   "quantization_mode": "offline"}}
    tensors = {"model.embed_tokens.weight": ("BF16", bf16_bits(rng.normal(size=(vocab, h)))),
               "model.norm.weight": ("BF16", bf16_bits(1 + 0.1 * rng.normal(size=h)))}
    for i in range(layers):
        p = f"model.layers.{i}"
        for name, size in (("input_layernorm", h), ("post_attention_layernorm", h),
                           ("self_attn.attn_sub_norm", h), ("mlp.ffn_sub_norm", f)):
            tensors[f"{p}.{name}.weight"] = ("BF16", bf16_bits(1 + 0.1 * rng.normal(size=size)))
        for name, (o, n) in (("self_attn.q_proj", (heads * d, h)), ("self_attn.k_proj", (kv * d, h)),
                             ("self_attn.v_proj", (kv * d, h)), ("self_attn.o_proj", (h, heads * d)),
                             ("mlp.gate_proj", (f, h)), ("mlp.up_proj", (f, h)), ("mlp.down_proj", (h, f))):
            tensors[f"{p}.{name}.weight"] = ("U8", ref.pack_ternary(rng.integers(-1, 2, size=(o, n))))
            tensors[f"{p}.{name}.weight_scale"] = ("BF16", bf16_bits([0.5 + rng.random()]))
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(cfg))
    write_safetensors(directory / "model.safetensors", tensors)
    return tensors


class ModelTests(unittest.TestCase):
    def test_cache_matches_recompute_and_scale_semantics(self):
        with tempfile.TemporaryDirectory() as d:
            tiny_checkpoint(Path(d) / "auto", "autobitlinear")
            tiny_checkpoint(Path(d) / "plain", "bitlinear")
            auto = ref.BitNetModel.load(Path(d) / "auto")
            plain = ref.BitNetModel.load(Path(d) / "plain")
        tokens = [1, 5, 2, 9, 0, 3]
        full = auto.forward(tokens)
        self.assertEqual(tuple(full.shape), (6, 11))
        cache = auto.new_cache()
        first = auto.forward(tokens[:4], cache)
        rest = [auto.forward([t], cache, start=4 + i) for i, t in enumerate(tokens[4:])]
        stepped = torch.cat([first] + rest)
        np.testing.assert_allclose(stepped.numpy(), full.numpy(), rtol=1e-12, atol=1e-12)
        # causality: logits at position t do not depend on later tokens
        np.testing.assert_allclose(auto.forward(tokens[:3]).numpy(), full[:3].numpy(), rtol=1e-12, atol=1e-12)
        # same file, the two published semantics: autobitlinear multiplies by weight_scale, bitlinear divides
        lin_auto = auto.layers[0].q
        lin_plain = plain.layers[0].q
        self.assertTrue(lin_auto.multiply)
        self.assertFalse(lin_plain.multiply)
        x = torch.linspace(-1, 1, 8, dtype=torch.float64)[None, :]
        np.testing.assert_allclose(lin_auto(x).numpy(), lin_plain(x).numpy() * lin_auto.weight_scale ** 2,
                                   rtol=1e-12)
        # greedy with and without the cache agree
        _, g1 = auto.greedy(tokens[:3], 5, use_cache=True)
        _, g2 = auto.greedy(tokens[:3], 5, use_cache=False)
        self.assertEqual(g1, g2)


class EmbeddingTests(unittest.TestCase):
    def test_int8_rows_by_hand(self):
        # Row 0: max|E| = 127/16 -> scale = 1/16 exactly, so E / scale = [127, 63.5, 62.5, 0.5, -1.5] holds exact
        # halves, which round to even: [127, 64, 62, 0, -2]. Row 1 is all zero: scale 0, the row stays 0. Row 2: one
        # nonzero value v, scale = |v| / 127, q = -127, E' = -127 * scale (v up to float32 rounding).
        e = torch.tensor([[127 / 16, 63.5 / 16, 62.5 / 16, 0.5 / 16, -1.5 / 16], [0.0] * 5, [0.0, -3.0, 0.0, 0.0, 0.0]],
                         dtype=torch.float32)
        out = ref.quantize_embedding_int8(e)
        self.assertEqual(out.dtype, torch.float32)
        np.testing.assert_array_equal(out[0].numpy(), np.array([127, 64, 62, 0, -2], dtype=np.float32) / 16)
        np.testing.assert_array_equal(out[1].numpy(), [0, 0, 0, 0, 0])
        scale = np.float32(3.0) / np.float32(127)
        np.testing.assert_array_equal(out[2].numpy(), np.array([0, -127 * scale, 0, 0, 0], dtype=np.float32))
        # every row's largest entry keeps its value up to float32 rounding of (127 * max / 127), and |q| <= 127
        e = torch.from_numpy(np.random.default_rng(3).normal(size=(50, 16)).astype(np.float32))
        out = ref.quantize_embedding_int8(e)
        scale = e.abs().amax(dim=1, keepdim=True) / 127
        self.assertLessEqual(float((out / scale).round().abs().max()), 127)
        self.assertLessEqual(float(((out - e).abs() / scale).max()), 0.5 + 1e-5)

    def test_int8_model_uses_the_rounded_table_for_lookup_and_tied_head(self):
        with tempfile.TemporaryDirectory() as d:
            tiny_checkpoint(Path(d), "autobitlinear")
            full = ref.BitNetModel.load(Path(d))
            int8 = ref.BitNetModel.load(Path(d), embedding="int8")
            with self.assertRaises(ValueError):
                ref.BitNetModel.load(Path(d), embedding="int4")
        np.testing.assert_array_equal(int8.embed.numpy(), ref.quantize_embedding_int8(full.embed).numpy())
        self.assertIs(int8.lm_head, int8.embed)
        self.assertFalse(torch.equal(int8.embed, full.embed))

    def test_out_steps_writes_every_step_and_no_stop_runs_all_steps(self):
        with tempfile.TemporaryDirectory() as d:
            tiny_checkpoint(Path(d), "autobitlinear")
            model = ref.BitNetModel.load(Path(d), embedding="int8")
            out = Path(d) / "steps.json"
            with contextlib.redirect_stdout(io.StringIO()):
                ref.main(["--checkpoint", d, "--tokens", "1,5,2", "--greedy", "6", "--no-stop", "--embedding", "int8",
                          "--out-steps", str(out)])
            record = json.loads(out.read_text())
        self.assertEqual(record["prompt"], [1, 5, 2])
        self.assertEqual(len(record["generated"]), 6)
        self.assertEqual(len(record["logits"]), 6)
        self.assertEqual(len(record["ties"]), 6)
        self.assertTrue(all(0 <= d <= 0.5 for d in record["ties"]))
        sequence = [1, 5, 2] + record["generated"]
        full = model.forward(sequence).numpy()
        for i, row in enumerate(record["logits"]):
            self.assertEqual(int(np.argmax(row)), record["generated"][i])
            np.testing.assert_allclose(row, full[2 + i], rtol=1e-12, atol=1e-12)


class TokenizerTests(unittest.TestCase):
    def test_byte_table(self):
        table = bpe.byte_to_char()
        self.assertEqual(len(set(table)), 256)
        self.assertEqual(table[ord("A")], "A")
        self.assertEqual(table[ord(" ")], "\u0120")  # 'Ġ'
        self.assertEqual(table[ord("\n")], "\u010a")  # 'Ċ'

    def test_pre_tokenizer_llama3_pieces(self):
        text = "In the beginning God's 1234 men,  (yea)\n\nAnd I'LL  go_now\t!!\n"
        self.assertEqual(bpe.pre_tokenize(text), [
            "In", " the", " beginning", " God", "'s", " ", "123", "4", " men", ",", " ", " (", "yea", ")\n\n",
            "And", " I", "'LL", " ", " go", "_now", "\t", "!!\n"])
        self.assertEqual("".join(bpe.pre_tokenize(text)), text)

    def test_bpe_encode_decode(self):
        merges = bpe.train_merges(["the cat the hat the theme\n"] * 3, 10)
        tok = bpe.ByteLevelBpe.from_merges(merges)
        self.assertEqual(tok.size, 256 + len(merges) + 3)
        ids = tok.encode("<|begin_of_text|>the theme hat")
        self.assertEqual(ids[0], tok.special["<|begin_of_text|>"])
        self.assertEqual(tok.decode(ids), "<|begin_of_text|>the theme hat")
        self.assertEqual(tok.id_to_token[ids[1]], "the")  # a whole vocabulary word is one token
        with tempfile.TemporaryDirectory() as d:
            tok.write(Path(d) / "tokenizer.json")
            loaded = bpe.ByteLevelBpe.load(Path(d) / "tokenizer.json")
            raw = json.loads((Path(d) / "tokenizer.json").read_text())
        self.assertEqual(loaded.encode("the theme hat, a cat"), tok.encode("the theme hat, a cat"))
        self.assertEqual(raw["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"], bpe.SPLIT_PATTERN)
        self.assertTrue(raw["model"]["ignore_merges"])
        self.assertEqual([t["id"] for t in raw["added_tokens"]], [tok.size - 3, tok.size - 2, tok.size - 1])


if __name__ == "__main__":
    unittest.main()
