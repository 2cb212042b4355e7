"""The torch-free BERT forward pass (retrieval/embedders/bert_numpy.py) on its own, with no torch at all:
its maths helpers, padding that changes nothing, and the errors for a model it cannot run. Its vectors
against transformers are checked in tests/test_text_embedder.py (slow: that needs torch)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from core.errors import ConfigError
from retrieval.embedders.bert_numpy import NumpyBert, activate, erf, map_safetensors, unsupported_reason

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "router", "reset", "refund", "error", "light", "orange"]
CONFIG = {
    "model_type": "bert",
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "hidden_size": 8,
    "intermediate_size": 16,
    "max_position_embeddings": 16,
    "hidden_act": "gelu",
}


def _tiny_numpy_bert(root: Path) -> Path:
    """Random BERT tensors in safetensors and a word-level WordPiece tokenizer: plumbing only."""
    from safetensors.numpy import save_file
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

    rng = np.random.default_rng(5)
    h, i = CONFIG["hidden_size"], CONFIG["intermediate_size"]

    def t(*shape: int) -> np.ndarray:
        return rng.normal(0, 0.3, shape).astype(np.float32)

    tensors = {
        "embeddings.word_embeddings.weight": t(len(VOCAB), h),
        "embeddings.position_embeddings.weight": t(16, h),
        "embeddings.token_type_embeddings.weight": t(2, h),
        "embeddings.LayerNorm.weight": np.ones(h, np.float32),
        "embeddings.LayerNorm.bias": np.zeros(h, np.float32),
    }
    for layer in range(CONFIG["num_hidden_layers"]):
        p = f"encoder.layer.{layer}."
        for name in ("query", "key", "value"):
            tensors[f"{p}attention.self.{name}.weight"], tensors[f"{p}attention.self.{name}.bias"] = (
                t(h, h),
                t(h),
            )
        for name, (rows, cols) in {
            "attention.output.dense": (h, h),
            "intermediate.dense": (i, h),
            "output.dense": (h, i),
        }.items():
            tensors[f"{p}{name}.weight"], tensors[f"{p}{name}.bias"] = t(rows, cols), t(rows)
        for name in ("attention.output.LayerNorm", "output.LayerNorm"):
            tensors[f"{p}{name}.weight"], tensors[f"{p}{name}.bias"] = t(h) + 1, t(h)
    root.mkdir(parents=True)
    save_file(tensors, str(root / "model.safetensors"))
    tokenizer = Tokenizer(models.WordPiece({w: n for n, w in enumerate(VOCAB)}, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    tokenizer.save(str(root / "tokenizer.json"))
    (root / "config.json").write_text(json.dumps(CONFIG), encoding="utf-8")
    return root


def test_erf_and_gelu_match_the_exact_functions() -> None:
    grid = np.linspace(-8, 8, 4001, dtype=np.float32)
    exact = np.array([math.erf(float(x)) for x in grid])
    assert np.max(np.abs(erf(grid) - exact)) < 5e-7  # 1.5e-7 plus float32 rounding
    gelu = np.array([0.5 * float(x) * (1 + math.erf(float(x) / math.sqrt(2))) for x in grid])
    assert np.max(np.abs(activate(grid, "gelu") - gelu)) < 1e-6
    assert activate(grid, "gelu").dtype == np.float32


def test_padding_changes_nothing_and_truncation_holds(tmp_path: Path) -> None:
    root = _tiny_numpy_bert(tmp_path / "bert")
    encoder = NumpyBert(root, CONFIG, max_tokens=6)
    encoder.load()
    ids, mask = encoder.tokenize(["router", "reset the router error orange light refund"])
    assert ids.shape == (2, 6) and mask.tolist()[0] == [1, 1, 1, 0, 0, 0]
    assert ids[1, -1] == 3  # [SEP] kept when cut to max_tokens
    batch = encoder.hidden_states(ids, mask)
    alone_ids, alone_mask = encoder.tokenize(["router"])
    alone = encoder.hidden_states(alone_ids, alone_mask)
    np.testing.assert_allclose(batch[0, :3], alone[0], atol=1e-6)
    assert batch.dtype == np.float32 and np.all(np.isfinite(batch))


def test_what_the_numpy_path_cannot_run_is_named(tmp_path: Path) -> None:
    root = _tiny_numpy_bert(tmp_path / "bert")
    assert unsupported_reason(root, CONFIG) is None
    assert "is not bert" in (unsupported_reason(root, {**CONFIG, "model_type": "mpnet"}) or "")
    assert "not absolute" in (unsupported_reason(root, {**CONFIG, "position_embedding_type": "rotary"}) or "")
    assert "activation 'silu'" in (unsupported_reason(root, {**CONFIG, "hidden_act": "silu"}) or "")
    (root / "tokenizer.json").unlink()
    assert unsupported_reason(root, CONFIG) == "no tokenizer.json"


def test_broken_weights_say_what_is_wrong(tmp_path: Path) -> None:
    from safetensors.numpy import save_file

    root = _tiny_numpy_bert(tmp_path / "bert")
    save_file(
        {"embeddings.word_embeddings.weight": np.zeros((3, 8), np.float32)}, str(root / "model.safetensors")
    )
    with pytest.raises(ConfigError, match="lacks the BERT tensor"):
        NumpyBert(root, CONFIG, max_tokens=8).load()
    (root / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ConfigError, match="cannot read"):
        NumpyBert(root, CONFIG, max_tokens=8).load()
    with pytest.raises(ConfigError, match="not a multiple"):
        NumpyBert(root, {**CONFIG, "num_attention_heads": 3}, max_tokens=8)


def test_the_memory_mapped_weights_are_the_safetensors_ones(tmp_path: Path) -> None:
    from safetensors.numpy import load_file, save_file

    rng = np.random.default_rng(2)
    tensors = {
        "a": rng.normal(size=(3, 5)).astype(np.float32),
        "b": rng.normal(size=(7,)).astype(np.float16),
        "ids": np.arange(6, dtype=np.int64).reshape(2, 3),
    }
    path = tmp_path / "w.safetensors"
    save_file(tensors, str(path))
    mapped, expected = map_safetensors(path), load_file(str(path))
    assert set(mapped) == set(expected)
    for name, array in expected.items():
        assert mapped[name].dtype == array.dtype and np.array_equal(mapped[name], array)
    header = json.dumps({"x": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}).encode()
    (tmp_path / "short.safetensors").write_bytes(len(header).to_bytes(8, "little") + header + b"\0" * 8)
    with pytest.raises(ConfigError, match="outside the file"):
        map_safetensors(tmp_path / "short.safetensors")
