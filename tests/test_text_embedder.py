"""The sentence-embedding text backend: contract on a tiny random BERT saved locally; the real bundled
all-MiniLM-L6-v2 in a slow test; errors for a missing or broken model directory; the factory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.config import Settings
from core.errors import ConfigError, ModelMissingError
from retrieval.embedders.factory import make_text_embedder
from retrieval.embedders.sentence import SentenceEmbedder
from tests.contract_text_embedder import TextEmbedderContract

pytestmark = pytest.mark.slow  # the text embedder backend on a tiny real model

WORDS = "router reset factory settings printer error blinking orange light refund policy damaged items"


def save_tiny_bert(root: Path) -> Path:
    """A randomly initialised 2-layer BertModel and a word-level vocab: plumbing only, no meaning."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    root.mkdir(parents=True, exist_ok=True)
    vocab = [
        "[PAD]",
        "[UNK]",
        "[CLS]",
        "[SEP]",
        "[MASK]",
        *sorted(set(WORDS.split())),
        *"abcdefghijklmnopqrstuvwxyz",
    ]
    vocab += [f"##{c}" for c in "abcdefghijklmnopqrstuvwxyz"] + list("0123456789?.,-!")
    (root / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    BertTokenizerFast(vocab_file=str(root / "vocab.txt")).save_pretrained(str(root))
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    torch.manual_seed(3)
    BertModel(config).eval().save_pretrained(str(root))
    return root


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


class TestTinyBertContract(TextEmbedderContract):
    @pytest.fixture
    def embedder(self, tiny_dir: Path) -> SentenceEmbedder:
        return SentenceEmbedder(tiny_dir, device="cpu", batch_size=2)


def test_token_limit_comes_from_the_model(tiny_dir: Path) -> None:
    embedder = SentenceEmbedder(tiny_dir, device="cpu")
    embedder.load()
    assert embedder.dim == 32
    assert embedder.max_tokens == 64  # min(default 256, max_position_embeddings)


def test_missing_model_dir_says_what_to_give(tmp_path: Path) -> None:
    with pytest.raises(ModelMissingError, match="has no config.json"):
        SentenceEmbedder(tmp_path, device="cpu").load()


def test_factory_choices(tiny_dir: Path, tmp_path: Path) -> None:
    assert make_text_embedder(Settings(text_embedder="none")) is None
    built = make_text_embedder(Settings(text_embedder=str(tiny_dir)))
    assert isinstance(built, SentenceEmbedder) and built.model_dir == tiny_dir
    with pytest.raises(ConfigError, match="neither bundled-minilm"):
        make_text_embedder(Settings(text_embedder=str(tmp_path / "absent")))


@pytest.mark.slow
class TestBundledMiniLM(TextEmbedderContract):
    @pytest.fixture
    def embedder(self) -> SentenceEmbedder:
        return SentenceEmbedder(device="cpu")

    def test_paraphrases_are_closer_than_other_topics(self, embedder: SentenceEmbedder) -> None:
        a, b, c = embedder.embed_text(
            [
                "I want to cancel my order",
                "how can I cancel a purchase I made?",
                "what is the weather in Paris",
            ]
        )
        assert embedder.dim == 384 and embedder.max_tokens == 256
        assert float(a @ b) > float(a @ c) + 0.3
        assert np.isclose(np.linalg.norm(a), 1.0, atol=1e-4)
