"""`retrieval.text_index`: each chunk's text-embedder vector is its whole text's vector blended with its
title and heading path's, one unit vector per chunk, named in the ingestion signature."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from core.types import Chunk
from retrieval.text_index import HEADING_WEIGHT, RECIPE, chunk_vectors, heading_of


class LetterEmbedder:
    """Fake text embedder (the model is not the subject here): a unit vector of letter counts."""

    name = "letters"
    dim = 26
    max_tokens = 512

    def load(self) -> None:
        return None

    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        rows = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for ch in text.lower():
                if "a" <= ch <= "z":
                    rows[i, ord(ch) - 97] += 1
        return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-9)


def _chunk(title: str, path: tuple[str, ...], body: str) -> Chunk:
    text = " > ".join([title, *path]) + "\n\n" + body if title else body
    return Chunk("doc.md", 0, "text", text, text[:50], "doc.md", title, metadata={"heading_path": list(path)})


def test_heading_is_title_and_path_with_a_repeated_heading_once() -> None:
    assert heading_of(_chunk("Setup", ("Setup", "Wi-Fi"), "Press the button.")) == "Setup > Wi-Fi"
    assert heading_of(_chunk("", (), "Just a body.")) == ""


def test_vectors_blend_text_and_heading_and_stay_unit_length() -> None:
    embedder = LetterEmbedder()
    chunks = [_chunk("Cancel an order", (), "zzzz yyyy xxxx"), _chunk("", (), "no title here")]
    vectors = chunk_vectors(embedder, chunks)
    assert vectors.shape == (2, 26) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    text, head = embedder.embed_text([chunks[0].text, "Cancel an order"])
    expected = (text + HEADING_WEIGHT * head) / np.linalg.norm(text + HEADING_WEIGHT * head)
    assert np.allclose(vectors[0], expected, atol=1e-6)
    assert np.allclose(vectors[1], embedder.embed_text([chunks[1].text])[0], atol=1e-6), "no heading: as is"
    assert float(vectors[0] @ head) > float(text @ head), "the heading pulls the vector towards itself"


def test_a_short_answer_from_the_embedder_is_an_error() -> None:
    class Short(LetterEmbedder):
        def embed_text(self, texts: Sequence[str]) -> np.ndarray:
            return super().embed_text(texts)[:-1]

    with pytest.raises(RuntimeError, match="returned 1 vectors for 2 texts"):
        chunk_vectors(Short(), [_chunk("A", (), "b"), _chunk("C", (), "d")])


def test_the_recipe_names_the_weight() -> None:
    assert f"heading{HEADING_WEIGHT:g}" == RECIPE
