"""The contract every `TextEmbedder` backend must pass (text only), as a reusable pytest base class.

Subclass it in a `test_*.py` file and provide an `embedder` fixture returning an unloaded backend.
The class name does not start with `Test`, so importing it does not collect it twice.
"""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.embedders.protocol import TextEmbedder


def sample_texts() -> list[str]:
    return [
        "How do I reset the router to factory settings?",
        "The printer shows error E-42 and a blinking orange light.",
        "Refund policy for damaged items",
        "",
        "bluetooth headphones will not pair " * 200,  # longer than any model's token limit
    ]


class TextEmbedderContract:
    """Behaviour shared by all text backends. `atol` bounds float noise between batched and single runs."""

    atol: float = 1e-5

    @pytest.fixture
    def embedder(self) -> TextEmbedder:
        raise NotImplementedError("a subclass must provide the `embedder` fixture")

    def test_satisfies_protocol(self, embedder: TextEmbedder) -> None:
        embedder.load()
        assert isinstance(embedder, TextEmbedder)
        assert isinstance(embedder.name, str) and embedder.name
        assert embedder.dim > 0 and embedder.max_tokens >= 8

    def test_load_twice_is_safe(self, embedder: TextEmbedder) -> None:
        embedder.load()
        first = embedder.embed_text(["same text"])
        embedder.load()
        np.testing.assert_allclose(embedder.embed_text(["same text"]), first, atol=self.atol)

    def test_shape_dtype_and_unit_norm(self, embedder: TextEmbedder) -> None:
        vectors = embedder.embed_text(sample_texts())
        assert vectors.shape == (len(sample_texts()), embedder.dim)
        assert vectors.dtype == np.float32
        assert np.all(np.isfinite(vectors))
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)

    def test_empty_input_gives_zero_rows(self, embedder: TextEmbedder) -> None:
        embedder.load()
        vectors = embedder.embed_text([])
        assert vectors.shape == (0, embedder.dim) and vectors.dtype == np.float32

    def test_deterministic_and_batch_equals_one_at_a_time(self, embedder: TextEmbedder) -> None:
        texts = sample_texts()
        together = embedder.embed_text(texts)
        np.testing.assert_array_equal(together, embedder.embed_text(texts))
        alone = np.concatenate([embedder.embed_text([t]) for t in texts], axis=0)
        np.testing.assert_allclose(together, alone, atol=self.atol)

    def test_order_kept_and_inputs_distinguished(self, embedder: TextEmbedder) -> None:
        texts = sample_texts()
        forward = embedder.embed_text(texts)
        np.testing.assert_allclose(forward, embedder.embed_text(texts[::-1])[::-1], atol=self.atol)
        similarity = forward @ forward.T
        assert np.all(similarity[~np.eye(len(texts), dtype=bool)] < 1.0 - 1e-6)
