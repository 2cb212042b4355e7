"""Tiny, randomly initialised models of the real architectures, for fast deterministic tests only.

The weights are random: embeddings are well-formed (shape, dtype, norm, determinism) but carry no
meaning, so these must never stand in for real weights outside tests.
"""

from __future__ import annotations

import torch

from retrieval.embedders.imagebind import ImageBindArch, ImageBindEmbedder, build_imagebind

TINY_SEED = 1234

# The real `ImageBindModel` class at toy width/depth (~1.7M parameters, builds in well under a second).
TINY_ARCH = ImageBindArch(
    out_embed_dim=32,
    vision_embed_dim=32,
    vision_num_blocks=1,
    vision_num_heads=2,
    text_embed_dim=32,
    text_num_blocks=1,
    text_num_heads=2,
    audio_embed_dim=32,
    audio_num_blocks=1,
    audio_num_heads=2,
    depth_embed_dim=16,
    depth_num_blocks=1,
    depth_num_heads=2,
    thermal_embed_dim=16,
    thermal_num_blocks=1,
    thermal_num_heads=2,
    imu_embed_dim=16,
    imu_num_blocks=1,
    imu_num_heads=2,
)


def tiny_imagebind_model(seed: int = TINY_SEED) -> torch.nn.Module:
    """A tiny `imagebind.models.imagebind_model.ImageBindModel` with seeded random weights, in eval mode."""
    generator_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        model = build_imagebind(TINY_ARCH)
    finally:
        torch.random.set_rng_state(generator_state)
    return model.eval()


def tiny_imagebind_embedder(seed: int = TINY_SEED, batch_size: int = 4) -> ImageBindEmbedder:
    """A loaded CPU `ImageBindEmbedder` around `tiny_imagebind_model(seed)`; deterministic."""
    embedder = ImageBindEmbedder(
        checkpoint="tiny-random",
        device="cpu",
        batch_size=batch_size,
        model=tiny_imagebind_model(seed),
        name="imagebind-tiny-random",
    )
    embedder.load()
    return embedder
