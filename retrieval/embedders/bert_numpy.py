"""A torch-free forward pass of a BERT encoder: numpy for the maths, the `tokenizers` package for the text.

It lets a command that only embeds a query (`supportbot search`, a chat turn) skip importing torch and
transformers, which cost most of a cold start (seconds), while giving the vectors the transformers
path gives: the same tokenizer file, the same weights (`model.safetensors`, read with
a memory map), the same layer maths in float32 (`tests/test_text_embedder.py` checks them
against transformers on a tiny random BERT and on the bundled all-MiniLM-L6-v2).

Only what sentence-embedding BERTs use is supported: `model_type` "bert", absolute position
embeddings, a `tokenizer.json` and safetensors weights, activations gelu / gelu_new / relu.
`unsupported_reason()` names what is missing so the caller falls back to transformers.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import ConfigError

WEIGHTS_FILE = "model.safetensors"
TOKENIZER_FILE = "tokenizer.json"
ACTIVATIONS = ("gelu", "gelu_new", "gelu_pytorch_tanh", "relu")
MASKED = np.float32(-1e30)  # added to the attention score of a padding position


@dataclass(frozen=True)
class BertShape:
    """The parts of a BERT config.json the forward pass reads."""

    layers: int
    heads: int
    hidden: int
    eps: float
    activation: str

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> BertShape:
        try:
            shape = cls(
                layers=int(config["num_hidden_layers"]),
                heads=int(config["num_attention_heads"]),
                hidden=int(config["hidden_size"]),
                eps=float(config.get("layer_norm_eps", 1e-12)),
                activation=str(config.get("hidden_act", "gelu")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"the text embedder's config.json lacks a BERT field: {exc}") from exc
        if shape.hidden % shape.heads:
            raise ConfigError(f"hidden_size {shape.hidden} is not a multiple of {shape.heads} heads")
        return shape


def unsupported_reason(root: Path, config: dict[str, Any]) -> str | None:
    """Why the numpy path cannot run the model in `root` (None: it can)."""
    if config.get("model_type") != "bert":
        return f"model_type {config.get('model_type')!r} is not bert"
    if config.get("position_embedding_type", "absolute") != "absolute":
        return "position embeddings are not absolute"
    if config.get("hidden_act", "gelu") not in ACTIVATIONS:
        return f"activation {config.get('hidden_act')!r} is not one of {', '.join(ACTIVATIONS)}"
    for name in (WEIGHTS_FILE, TOKENIZER_FILE):
        if not (root / name).is_file():
            return f"no {name}"
    return None


def erf(x: np.ndarray) -> np.ndarray:
    """The error function to 1.5e-7 (Abramowitz & Stegun 7.1.26; 4e-7 in float32); numpy has none."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return (sign * (1.0 - poly * np.exp(-a * a))).astype(x.dtype, copy=False)


def activate(x: np.ndarray, name: str) -> np.ndarray:
    if name == "gelu":  # transformers' exact GELU
        return x * 0.5 * (1.0 + erf(x * np.float32(1.0 / math.sqrt(2.0))))
    if name in ("gelu_new", "gelu_pytorch_tanh"):
        inner = np.float32(math.sqrt(2.0 / math.pi)) * (x + np.float32(0.044715) * x * x * x)
        return 0.5 * x * (1.0 + np.tanh(inner))
    return np.maximum(x, 0)


def layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    var = (centred * centred).mean(axis=-1, keepdims=True)
    return centred / np.sqrt(var + np.float32(eps)) * weight + bias


SAFETENSORS_DTYPES: dict[str, Any] = {
    "F32": np.float32,
    "F16": np.float16,
    "F64": np.float64,
    "I64": np.int64,
}


def map_safetensors(path: Path) -> dict[str, np.ndarray]:
    """The tensors of a safetensors file as read-only arrays over a memory map: pages are read when
    used (a query touches a few rows of the 47 MB word-embedding table, not all of it). The format:
    an 8-byte little-endian header length, a JSON header of dtype / shape / byte offsets, the data."""
    try:
        total = path.stat().st_size
        with path.open("rb") as handle:
            size = int.from_bytes(handle.read(8), "little")
            if not 2 <= size <= total - 8:
                raise ValueError(f"header length {size} does not fit a {total}-byte file")
            header = json.loads(handle.read(size))
        data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + size) if total > 8 + size else None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    if not isinstance(header, dict):
        raise ConfigError(f"cannot read {path}: its header is not a JSON object")
    tensors: dict[str, np.ndarray] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            begin, end = (int(x) for x in info["data_offsets"])
            shape = tuple(int(x) for x in info["shape"])
            kind = info["dtype"]
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"cannot read {path}: tensor {name!r} is described badly ({exc})") from exc
        if data is None or not 0 <= begin <= end <= len(data):
            raise ConfigError(f"cannot read {path}: tensor {name!r} lies outside the file")
        raw = data[begin:end]
        if kind == "BF16":  # the top half of a float32
            array = (raw.view(np.uint16).astype(np.uint32) << 16).view(np.float32)
        elif kind in SAFETENSORS_DTYPES:
            array = raw.view(SAFETENSORS_DTYPES[kind])
        else:
            raise ConfigError(f"cannot read {path}: tensor {name!r} has dtype {kind}, not a float")
        tensors[name] = array.reshape(shape)
    return tensors


def _read_weights(path: Path) -> dict[str, np.ndarray]:
    raw = map_safetensors(path)
    prefix = "bert." if any(k.startswith("bert.embeddings.") for k in raw) else ""
    return {k[len(prefix) :]: v for k, v in raw.items() if k.startswith(prefix)}


class NumpyBert:
    """A BERT encoder's last hidden states from numpy; cheap constructor, `load()` reads the files."""

    def __init__(self, root: Path, config: dict[str, Any], *, max_tokens: int) -> None:
        self.root = root
        self.shape = BertShape.from_config(config)
        self.max_tokens = max_tokens
        self._w: dict[str, np.ndarray] = {}
        self._tokenizer: Any = None
        self._pad_id = 0

    @property
    def loaded(self) -> bool:
        return bool(self._w)

    def load(self) -> None:
        if self._w:
            return
        weights = _read_weights(self.root / WEIGHTS_FILE)
        try:
            self._w = self._arrange(weights)
        except KeyError as exc:
            raise ConfigError(f"{self.root / WEIGHTS_FILE} lacks the BERT tensor {exc}") from exc
        self._tokenizer = self._open_tokenizer()

    def _arrange(self, raw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """float32 tensors by name, linear weights as transposed views (x @ W) and Q, K, V fused."""
        w = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in raw.items() if "pooler" not in k}
        for i in range(self.shape.layers):
            p = f"encoder.layer.{i}."
            a = p + "attention.self."
            w[a + "qkv.weight"] = np.ascontiguousarray(
                np.concatenate([w[a + n + ".weight"] for n in ("query", "key", "value")], axis=0).T
            )
            w[a + "qkv.bias"] = np.concatenate([w[a + n + ".bias"] for n in ("query", "key", "value")])
            for name in ("attention.output.dense", "intermediate.dense", "output.dense"):
                w[p + name + ".weight"] = w[p + name + ".weight"].T  # BLAS reads it transposed, no copy
        return w

    def _open_tokenizer(self) -> Any:
        """The model's tokenizer.json with this encoder's truncation and no fixed padding; the
        lower-casing / accent settings of tokenizer_config.json win, as transformers lets them."""
        from tokenizers import Tokenizer, normalizers

        try:
            tokenizer = Tokenizer.from_file(str(self.root / TOKENIZER_FILE))
        except Exception as exc:  # the tokenizers package raises a bare Exception on a bad file
            raise ConfigError(f"cannot read {self.root / TOKENIZER_FILE}: {exc}") from exc
        options_path = self.root / "tokenizer_config.json"
        options = json.loads(options_path.read_text(encoding="utf-8")) if options_path.is_file() else {}
        current = tokenizer.normalizer
        if isinstance(current, normalizers.BertNormalizer):
            state = {k: getattr(current, k) for k in ("lowercase", "strip_accents", "handle_chinese_chars")}
            wanted = {
                "lowercase": options.get("do_lower_case", state["lowercase"]),
                "strip_accents": options.get("strip_accents", state["strip_accents"]),
                "handle_chinese_chars": options.get("tokenize_chinese_chars", state["handle_chinese_chars"]),
            }
            if wanted != state:
                tokenizer.normalizer = normalizers.BertNormalizer(clean_text=current.clean_text, **wanted)
        pad_token = options.get("pad_token", "[PAD]")
        pad_token = pad_token.get("content", "[PAD]") if isinstance(pad_token, dict) else pad_token
        self._pad_id = tokenizer.token_to_id(pad_token) or 0
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=self.max_tokens)
        return tokenizer

    def tokenize(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(token ids, attention mask), each (batch, longest), padded on the right."""
        encodings = self._tokenizer.encode_batch(list(texts))
        longest = max(len(e.ids) for e in encodings)
        ids = np.full((len(encodings), longest), self._pad_id, dtype=np.int64)
        mask = np.zeros((len(encodings), longest), dtype=np.float32)
        for row, enc in enumerate(encodings):
            ids[row, : len(enc.ids)] = enc.ids
            mask[row, : len(enc.ids)] = enc.attention_mask
        return ids, mask

    def hidden_states(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The last hidden states, (batch, tokens, hidden) float32."""
        w, s = self._w, self.shape
        e = "embeddings."
        x = (
            w[e + "word_embeddings.weight"][ids]
            + w[e + "position_embeddings.weight"][: ids.shape[1]]
            + w[e + "token_type_embeddings.weight"][0]
        )
        x = layer_norm(x, w[e + "LayerNorm.weight"], w[e + "LayerNorm.bias"], s.eps)
        bias = np.where(mask[:, None, None, :] > 0, np.float32(0), MASKED)
        for i in range(s.layers):
            x = self._layer(x, bias, f"encoder.layer.{i}.")
        return x

    def _layer(self, x: np.ndarray, bias: np.ndarray, p: str) -> np.ndarray:
        w, s = self._w, self.shape
        batch, tokens, hidden = x.shape
        head = hidden // s.heads
        qkv = x @ w[p + "attention.self.qkv.weight"] + w[p + "attention.self.qkv.bias"]
        qkv = qkv.reshape(batch, tokens, 3, s.heads, head).transpose(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]  # (batch, heads, tokens, head)
        scores = (q @ k.transpose(0, 1, 3, 2)) * np.float32(1.0 / math.sqrt(head)) + bias
        scores -= scores.max(axis=-1, keepdims=True)
        probs = np.exp(scores)
        probs /= probs.sum(axis=-1, keepdims=True)
        context = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, tokens, hidden)
        a = p + "attention.output."
        x = layer_norm(
            context @ w[a + "dense.weight"] + w[a + "dense.bias"] + x,
            w[a + "LayerNorm.weight"],
            w[a + "LayerNorm.bias"],
            s.eps,
        )
        inner = activate(
            x @ w[p + "intermediate.dense.weight"] + w[p + "intermediate.dense.bias"], s.activation
        )
        o = p + "output."
        return layer_norm(
            inner @ w[o + "dense.weight"] + w[o + "dense.bias"] + x,
            w[o + "LayerNorm.weight"],
            w[o + "LayerNorm.bias"],
            s.eps,
        )
