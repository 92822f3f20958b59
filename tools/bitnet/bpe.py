"""Byte-level BPE in pure Python: training, encoding, decoding, and the Hugging Face tokenizer.json we write.

The tokenizer.json has exactly the layout of tools/EdgeRuntime.TestModels/Language/ByteTokenizerJson.cs: model BPE
(ignore_merges true), ids 0..255 are the bytes spelled with GPT-2's byte-to-character table, merge k adds token
256 + k, special tokens take the ids after the vocabulary; pre_tokenizer = Sequence[Split(Llama-3 regex, Isolated),
ByteLevel(use_regex false)]; decoder ByteLevel.

The Split regex is written into the JSON verbatim (the C# side applies it with .NET regex). Python's `re` has no
\\p{L} / \\p{N}, so the encoder here uses an approximation that is exact for ASCII text:

    \\p{L}  ->  [^\\W\\d_]   (word characters that are not decimal digits or '_': str.isalpha() plus a few numerics)
    \\p{N}  ->  \\d         (Unicode decimal digits only; .NET's \\p{N} also has Nl/No such as '²' or 'Ⅻ')

and \\s differs slightly (Python's \\s also matches U+001C..U+001F). None of these differences can occur in the KJV
text (ASCII letters, digits, punctuation, spaces, newlines), which is what this tokenizer is trained and used on.
"""
from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from pathlib import Path

SPECIAL_TOKENS = ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"]

# Written into tokenizer.json as is (the Llama-3 pre-tokenizer regex; .NET / Oniguruma syntax).
SPLIT_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)

# The same pattern for Python's re. "letter or number" = [^\W_]; "not letter, number, CR or LF" = [^\w\r\n]|_;
# "not whitespace, letter or number" = [^\s\w]|_.
_PY_PATTERN = re.compile(
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|(?:[^\w\r\n]|_)?[^\W\d_]+|\d{1,3}| ?(?:[^\s\w]|_)+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)


def byte_to_char() -> list[str]:
    """GPT-2's reversible byte -> printable character table."""
    table = []
    extra = 256
    for b in range(256):
        if ord("!") <= b <= ord("~") or 0xA1 <= b <= 0xAC or 0xAE <= b <= 0xFF:
            table.append(chr(b))
        else:
            table.append(chr(extra))
            extra += 1
    return table


BYTE_TO_CHAR = byte_to_char()
CHAR_TO_BYTE = {c: b for b, c in enumerate(BYTE_TO_CHAR)}


def spell(text: str) -> str:
    return "".join(BYTE_TO_CHAR[b] for b in text.encode("utf-8"))


def pre_tokenize(text: str) -> list[str]:
    """Split (behavior Isolated): every match is a piece, and so is any text between matches."""
    pieces = []
    last = 0
    for m in _PY_PATTERN.finditer(text):
        if m.start() > last:
            pieces.append(text[last : m.start()])
        if m.end() > m.start():
            pieces.append(m.group())
        last = m.end()
    if last < len(text):
        pieces.append(text[last:])
    return pieces


def train_merges(texts, merges_wanted: int, log=None) -> list[tuple[str, str]]:
    """Classic BPE training on pre-tokenized words (byte-level spelled). Each step merges the most frequent adjacent
    pair (ties: the lexicographically smallest pair). A pair whose merged string is already a token is never merged,
    so every merge adds a new token and ids stay 256 + merge index (the ByteTokenizerJson layout)."""
    word_counts = Counter()
    for text in texts:
        word_counts.update(pre_tokenize(text))
    words = [list(spell(w)) for w in word_counts]
    freqs = [word_counts[w] for w in word_counts]
    vocab = set(BYTE_TO_CHAR)

    pair_counts = Counter()
    pair_words = defaultdict(set)
    for wi, symbols in enumerate(words):
        for a, b in zip(symbols, symbols[1:]):
            pair_counts[(a, b)] += freqs[wi]
            pair_words[(a, b)].add(wi)

    merges = []
    banned = set()
    while len(merges) < merges_wanted:
        best = None
        best_count = 0
        for pair, count in pair_counts.items():
            if count <= 0 or pair in banned:
                continue
            if count > best_count or (count == best_count and pair < best):
                best, best_count = pair, count
        if best is None:
            break
        a, b = best
        merged = a + b
        if merged in vocab:
            banned.add(best)
            continue
        vocab.add(merged)
        merges.append(best)
        for wi in list(pair_words[best]):
            symbols = words[wi]
            f = freqs[wi]
            for x, y in zip(symbols, symbols[1:]):
                pair_counts[(x, y)] -= f
            out = []
            i = 0
            while i < len(symbols):
                if i + 1 < len(symbols) and symbols[i] == a and symbols[i + 1] == b:
                    out.append(merged)
                    i += 2
                else:
                    out.append(symbols[i])
                    i += 1
            words[wi] = out
            for x, y in zip(out, out[1:]):
                pair_counts[(x, y)] += f
                pair_words[(x, y)].add(wi)
        del pair_counts[best]
        del pair_words[best]
        if log and len(merges) % 500 == 0:
            log(f"  {len(merges)} merges, last {best!r} x{best_count}")
    return merges


class ByteLevelBpe:
    def __init__(self, vocab: dict[str, int], merges: list[tuple[str, str]], special: dict[str, int],
                 ignore_merges: bool = True):
        self.vocab = vocab
        self.id_to_token = {i: t for t, i in vocab.items()}
        self.ranks = {pair: r for r, pair in enumerate(merges)}
        self.merges = merges
        self.special = special
        self.id_to_special = {i: t for t, i in special.items()}
        self.ignore_merges = ignore_merges
        self._cache: dict[str, list[int]] = {}
        self._special_re = (
            re.compile("(" + "|".join(re.escape(s) for s in sorted(special, key=len, reverse=True)) + ")")
            if special else None
        )

    @property
    def size(self) -> int:
        return len(self.vocab) + len(self.special)

    @staticmethod
    def from_merges(merges: list[tuple[str, str]], special_tokens=SPECIAL_TOKENS) -> "ByteLevelBpe":
        vocab = {c: b for b, c in enumerate(BYTE_TO_CHAR)}
        for a, b in merges:
            if a + b in vocab:
                raise ValueError(f"merge {a!r} + {b!r} repeats a token")
            vocab[a + b] = len(vocab)
        special = {s: len(vocab) + i for i, s in enumerate(special_tokens)}
        return ByteLevelBpe(vocab, merges, special)

    @staticmethod
    def load(path: str | Path) -> "ByteLevelBpe":
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        model = raw["model"]
        if model["type"] != "BPE":
            raise ValueError("not a BPE tokenizer.json")
        merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ", 1)) for m in model["merges"]]
        special = {t["content"]: t["id"] for t in raw.get("added_tokens", [])}
        return ByteLevelBpe(dict(model["vocab"]), merges, special, bool(model.get("ignore_merges", False)))

    def write(self, path: str | Path) -> None:
        """tokenizer.json in the field order of ByteTokenizerJson.cs."""
        doc = {
            "version": "1.0",
            "added_tokens": [
                {"id": i, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
                 "normalized": False, "special": True}
                for s, i in sorted(self.special.items(), key=lambda kv: kv[1])
            ],
            "normalizer": None,
            "pre_tokenizer": {
                "type": "Sequence",
                "pretokenizers": [
                    {"type": "Split", "pattern": {"Regex": SPLIT_PATTERN}, "behavior": "Isolated", "invert": False},
                    {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
                ],
            },
            "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
            "model": {
                "type": "BPE",
                "dropout": None,
                "unk_token": None,
                "continuing_subword_prefix": None,
                "end_of_word_suffix": None,
                "fuse_unk": False,
                "byte_fallback": False,
                "ignore_merges": self.ignore_merges,
                "vocab": dict(sorted(self.vocab.items(), key=lambda kv: kv[1])),
                "merges": [[a, b] for a, b in self.merges],
            },
        }
        Path(path).write_text(json.dumps(doc, indent=2, ensure_ascii=True) + "\n", encoding="utf-8")

    def _bpe(self, piece: str) -> list[int]:
        cached = self._cache.get(piece)
        if cached is not None:
            return cached
        spelled = spell(piece)
        if self.ignore_merges and spelled in self.vocab:
            ids = [self.vocab[spelled]]
        else:
            symbols = list(spelled)
            while len(symbols) > 1:
                best_rank, best_i = None, -1
                for i in range(len(symbols) - 1):
                    rank = self.ranks.get((symbols[i], symbols[i + 1]))
                    if rank is not None and (best_rank is None or rank < best_rank):
                        best_rank, best_i = rank, i
                if best_rank is None:
                    break
                a, b = self.merges[best_rank]
                out = []
                i = 0
                while i < len(symbols):  # merge every occurrence of the pair, left to right
                    if i + 1 < len(symbols) and symbols[i] == a and symbols[i + 1] == b:
                        out.append(a + b)
                        i += 2
                    else:
                        out.append(symbols[i])
                        i += 1
                symbols = out
            ids = [self.vocab[s] for s in symbols]
        self._cache[piece] = ids
        return ids

    def encode(self, text: str) -> list[int]:
        """Special tokens in the text are matched first (added_tokens), the rest is split and BPE-encoded."""
        ids = []
        parts = self._special_re.split(text) if self._special_re else [text]
        for part in parts:
            if not part:
                continue
            if part in self.special:
                ids.append(self.special[part])
                continue
            for piece in pre_tokenize(part):
                ids.extend(self._bpe(piece))
        return ids

    def decode(self, ids: list[int], skip_special: bool = False) -> str:
        out = bytearray()
        text = []
        for i in ids:
            if i in self.id_to_special:
                if not skip_special:
                    text.append(out.decode("utf-8", errors="replace"))
                    out = bytearray()
                    text.append(self.id_to_special[i])
                continue
            out.extend(CHAR_TO_BYTE[c] for c in self.id_to_token[i])
        text.append(out.decode("utf-8", errors="replace"))
        return "".join(text)
