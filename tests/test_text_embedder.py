"""The sentence-embedding text backend: contract on a tiny random BERT saved locally; the real bundled
all-MiniLM-L6-v2 in a slow test; errors for a missing or broken model directory; the factory."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from core.config import Settings
from core.errors import ConfigError, ModelMissingError
from retrieval.embedders.factory import make_text_embedder
from retrieval.embedders.sentence import SentenceEmbedder
from tests.contract_text_embedder import TextEmbedderContract, sample_texts

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
    BertTokenizerFast(vocab=str(root / "vocab.txt")).save_pretrained(str(root))  # transformers 5: `vocab`
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


# The torch-free query path (retrieval/embedders/bert_numpy.py) against the transformers reference.

PARITY_TEXTS = [
    *sample_texts(),
    "Router RESET, then: error E-42?",
    "café déjà-vu naïve 東京 résumé",
    "a" * 300,
]


def _pair(root: Path | None) -> tuple[SentenceEmbedder, SentenceEmbedder]:
    fast = SentenceEmbedder(root, device="cpu", runtime="numpy")
    reference = SentenceEmbedder(root, device="cpu", runtime="torch")
    fast.load()
    reference.load()
    return fast, reference


def _assert_same_vectors(fast: SentenceEmbedder, reference: SentenceEmbedder) -> None:
    singles = np.concatenate([fast.embed_text([t]) for t in PARITY_TEXTS])
    together = fast.embed_text(PARITY_TEXTS)
    expected = np.concatenate([reference.embed_text([t]) for t in PARITY_TEXTS])
    for got in (singles, together):
        assert float(np.min(np.sum(got * expected, axis=1))) >= 0.9999
        np.testing.assert_allclose(got, expected, atol=1e-5)


class TestTinyBertNumpyContract(TextEmbedderContract):
    @pytest.fixture
    def embedder(self, tiny_dir: Path) -> SentenceEmbedder:
        return SentenceEmbedder(tiny_dir, device="cpu", batch_size=2, runtime="numpy")


def test_numpy_path_gives_the_transformers_vectors_on_a_tiny_bert(tiny_dir: Path) -> None:
    fast, reference = _pair(tiny_dir)
    assert fast.dim == reference.dim == 32 and fast.max_tokens == reference.max_tokens == 64
    _assert_same_vectors(fast, reference)


def test_numpy_tokens_are_the_transformers_tokens(tiny_dir: Path, tmp_path: Path) -> None:
    import shutil

    from transformers import AutoTokenizer

    cased = shutil.copytree(tiny_dir, tmp_path / "cased")
    config_path = cased / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config_path.write_text(json.dumps({**config, "do_lower_case": False}), encoding="utf-8")
    for root in (tiny_dir, cased):
        fast = SentenceEmbedder(root, device="cpu", runtime="numpy")
        fast.load()
        assert fast._numpy is not None
        ids, mask = fast._numpy.tokenize(PARITY_TEXTS)
        hf = AutoTokenizer.from_pretrained(str(root), local_files_only=True)
        expected = hf(PARITY_TEXTS, truncation=True, max_length=fast.max_tokens)["input_ids"]
        got = [row[: int(m.sum())].tolist() for row, m in zip(ids, mask, strict=True)]
        assert got == expected
    lower = SentenceEmbedder(tiny_dir, device="cpu", runtime="numpy")
    lower.load()
    upper = SentenceEmbedder(cased, device="cpu", runtime="numpy")
    upper.load()
    assert lower._numpy is not None and upper._numpy is not None
    assert lower._numpy.tokenize(["RESET"])[0].tolist() != upper._numpy.tokenize(["RESET"])[0].tolist()


def test_auto_embeds_a_query_without_importing_torch(tiny_dir: Path) -> None:
    import subprocess
    import sys

    code = (
        "import sys\nfrom pathlib import Path\n"
        "from retrieval.embedders.sentence import SentenceEmbedder\n"
        f"e = SentenceEmbedder(Path({str(tiny_dir)!r}), device='cpu')\n"
        "v = e.embed_text(['router reset', 'refund policy'])\n"
        "assert v.shape == (2, 32), v.shape\n"
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_auto_runs_big_batches_on_transformers_with_the_same_vectors(tiny_dir: Path) -> None:
    auto = SentenceEmbedder(tiny_dir, device="cpu")
    query = auto.embed_text(["router reset"])
    assert auto._model is None  # a query alone never loads the transformers model
    batch = auto.embed_text(PARITY_TEXTS)
    assert auto._model is not None
    np.testing.assert_allclose(batch[5:6], auto.embed_text([PARITY_TEXTS[5]]), atol=1e-5)
    np.testing.assert_allclose(
        query,
        SentenceEmbedder(tiny_dir, device="cpu", runtime="torch").embed_text(["router reset"]),
        atol=1e-5,
    )


def test_a_model_the_numpy_path_cannot_run_falls_back_or_says_why(tiny_dir: Path, tmp_path: Path) -> None:
    import shutil

    root = shutil.copytree(tiny_dir, tmp_path / "no-tokenizer-json")
    (root / "tokenizer.json").unlink()
    auto = SentenceEmbedder(root, device="cpu")
    assert auto.embed_text(["router reset"]).shape == (1, 32)  # transformers builds the tokenizer itself
    with pytest.raises(ConfigError, match="cannot run without torch: no tokenizer.json"):
        SentenceEmbedder(root, device="cpu", runtime="numpy").load()
    with pytest.raises(ConfigError, match="runtime must be one of"):
        SentenceEmbedder(root, runtime="onnx")


@pytest.mark.slow
def test_numpy_path_gives_the_transformers_vectors_on_the_bundled_model() -> None:
    fast, reference = _pair(None)
    assert fast.dim == 384 and fast.max_tokens == 256
    _assert_same_vectors(fast, reference)


def test_an_alternative_model_imported_by_name_is_the_text_embedder(tiny_dir: Path, tmp_path: Path) -> None:
    """`models import all-mpnet-base-v2 ZIP`, then `--text-embedder all-mpnet-base-v2`: the name resolves to
    the imported folder in the model dir. The tiny random BERT stands in for mpnet's weights (plumbing)."""
    from app.cli import main

    archive = tmp_path / "all-mpnet-base-v2.zip"
    with zipfile.ZipFile(archive, "w") as z:  # the layout of a downloaded folder, zipped whole
        for f in tiny_dir.iterdir():
            z.write(f, f"all-mpnet-base-v2/{f.name}")
    models = tmp_path / "models"
    assert main(["models", "import", "all-mpnet-base-v2", str(archive), "--model-dir", str(models)]) == 0

    built = make_text_embedder(Settings(text_embedder="all-mpnet-base-v2", model_dir=models))
    assert isinstance(built, SentenceEmbedder)
    assert built.model_dir == models / "text-embedder" / "all-mpnet-base-v2"
    vectors = built.embed_text(["router reset", "refund policy"])
    assert vectors.shape == (2, 32)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
