"""The contract every `Embedder` backend must pass, as a reusable pytest base class.

Use it by subclassing in a `test_*.py` file and providing an `embedder` fixture:

    class TestMyBackendContract(EmbedderContract):
        @pytest.fixture
        def embedder(self) -> Embedder:
            return MyBackend(...)

The class name does not start with `Test`, so importing it does not collect it twice. Inputs are
generated in-process and are deterministic.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
from PIL import Image

from core.types import Waveform
from retrieval.embedders.protocol import Embedder

SAMPLE_RATE = 16000


def sample_texts() -> list[str]:
    return [
        "How do I reset the router to factory settings?",
        "The printer shows error E-42 and a blinking orange light.",
        "Refund policy for damaged items",
        "",
        "bluetooth headphones will not pair " * 30,  # longer than the text encoder's context
    ]


def sample_images() -> list[Image.Image]:
    """Five distinct RGB images of different sizes and aspect ratios."""
    rng = np.random.default_rng(7)
    shapes = [(224, 224), (96, 64), (200, 320), (17, 31), (480, 240)]
    images = []
    for i, (height, width) in enumerate(shapes):
        y, x = np.mgrid[0:height, 0:width]
        base = np.stack([(x * (i + 1)) % 256, (y * (5 - i)) % 256, ((x + y) * 3) % 256], axis=-1)
        noise = rng.integers(0, 40, size=base.shape)
        images.append(Image.fromarray(((base + noise) % 256).astype(np.uint8), mode="RGB"))
    return images


def sample_waveforms() -> list[Waveform]:
    """Five distinct 16 kHz mono clips, from shorter than one clip to longer than three clips."""
    rng = np.random.default_rng(11)
    waves = []
    for seconds, freq in [(0.5, 220.0), (2.0, 440.0), (3.3, 880.0), (9.0, 300.0), (0.03, 1000.0)]:
        t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
        signal = 0.5 * np.sin(2 * np.pi * freq * t) + 0.05 * rng.standard_normal(t.size)
        waves.append(Waveform(samples=signal.astype(np.float32), sample_rate=SAMPLE_RATE))
    return waves


MODALITIES = ["text", "image", "audio"]


def _inputs_and_method(
    embedder: Embedder, modality: str
) -> tuple[Sequence[Any], Callable[[Any], np.ndarray]]:
    if modality == "text":
        return sample_texts(), embedder.embed_text
    if modality == "image":
        return sample_images(), embedder.embed_images
    return sample_waveforms(), embedder.embed_audio


class EmbedderContract:
    """Behaviour shared by all backends. `atol` bounds float noise between batched and single runs."""

    atol: float = 1e-5

    @pytest.fixture
    def embedder(self) -> Embedder:
        raise NotImplementedError("a subclass must provide the `embedder` fixture")

    def test_satisfies_protocol(self, embedder: Embedder) -> None:
        assert isinstance(embedder, Embedder)
        assert isinstance(embedder.name, str) and embedder.name
        assert isinstance(embedder.dim, int) and embedder.dim > 0

    def test_load_twice_is_safe(self, embedder: Embedder) -> None:
        embedder.load()
        first = embedder.embed_text(["same text"])
        embedder.load()
        np.testing.assert_allclose(embedder.embed_text(["same text"]), first, atol=self.atol)

    @pytest.mark.parametrize("modality", MODALITIES)
    def test_shape_dtype_and_unit_norm(self, embedder: Embedder, modality: str) -> None:
        inputs, embed = _inputs_and_method(embedder, modality)
        vectors = embed(inputs)
        assert isinstance(vectors, np.ndarray)
        assert vectors.shape == (len(inputs), embedder.dim)
        assert vectors.dtype == np.float32
        assert np.all(np.isfinite(vectors))
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)

    @pytest.mark.parametrize("modality", MODALITIES)
    def test_empty_input_gives_zero_rows(self, embedder: Embedder, modality: str) -> None:
        _, embed = _inputs_and_method(embedder, modality)
        vectors = embed([])
        assert vectors.shape == (0, embedder.dim)
        assert vectors.dtype == np.float32

    @pytest.mark.parametrize("modality", MODALITIES)
    def test_deterministic(self, embedder: Embedder, modality: str) -> None:
        inputs, embed = _inputs_and_method(embedder, modality)
        np.testing.assert_array_equal(embed(inputs), embed(inputs))

    @pytest.mark.parametrize("modality", MODALITIES)
    def test_batch_equals_one_at_a_time(self, embedder: Embedder, modality: str) -> None:
        inputs, embed = _inputs_and_method(embedder, modality)
        together = embed(inputs)
        alone = np.concatenate([embed([item]) for item in inputs], axis=0)
        np.testing.assert_allclose(together, alone, atol=self.atol)

    @pytest.mark.parametrize("modality", MODALITIES)
    def test_order_kept_and_inputs_distinguished(self, embedder: Embedder, modality: str) -> None:
        inputs, embed = _inputs_and_method(embedder, modality)
        forward = embed(inputs)
        backward = embed(list(reversed(inputs)))
        np.testing.assert_allclose(forward, backward[::-1], atol=self.atol)
        similarity = forward @ forward.T
        off_diagonal = similarity[~np.eye(len(inputs), dtype=bool)]
        assert np.all(off_diagonal < 1.0 - 1e-6), "different inputs must not collapse onto one vector"

    def test_all_modalities_share_one_space(self, embedder: Embedder) -> None:
        text = embedder.embed_text(sample_texts()[:1])
        image = embedder.embed_images(sample_images()[:1])
        audio = embedder.embed_audio(sample_waveforms()[:1])
        assert text.shape[1] == image.shape[1] == audio.shape[1] == embedder.dim
        # Cross-modal scores are plain dot products of unit vectors.
        for score in ((text @ image.T).item(), (text @ audio.T).item(), (image @ audio.T).item()):
            assert -1.0 - 1e-5 <= score <= 1.0 + 1e-5
