"""ImageBind on CPU, float32 against dynamic int8 linear layers (`--precision int8`), side by side.

Builds ImageBind huge (the real architecture; random weights unless `--checkpoint` names a real
`imagebind_huge.pth`, since the model hub is out of reach here), embeds the same texts, images and audio
clips through the product's `ImageBindEmbedder` in float32, then quantises the same network's linear
layers to int8 (`core.devices.quantize_linear_int8`, what `--precision int8` does on CPU) and embeds them
again. Prints per modality: ms per item at batch 1 for both, the speed-up, and the cosine agreement of
int8 with float32 embeddings of the same inputs (mean and worst), plus the process RSS after each.

    python bench/imagebind_int8.py [--texts 6] [--images 3] [--clips 3] [--threads N] [--checkpoint PATH]

The inputs are the sample KB's screenshots and device sounds and support-style sentences. With random
weights the agreement measures how far quantisation noise moves an embedding through the real depth of
every trunk; real weights have outlier activations that can make int8 worse, so rerun with
`--checkpoint` before relying on it for a KB.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

TEXTS = (
    "My camera says the SD card cannot be read",
    "How do I reset the hub to factory settings?",
    "The doorbell beeps three times and the light blinks red",
    "Can I return an order after thirty days?",
    "The app shows error E-42 when I pair the mesh extender",
    "What does a long beep mean on the X300?",
    "I want to change the shipping address of my order",
    "The thermostat display is blank after the update",
)


def rss_gib() -> float:
    """This process's resident memory now (GiB; `bench.load.rss_mb` reads it from /proc)."""
    from bench.load import rss_mb

    return rss_mb() / 1024


def weight_gib(model: Any) -> float:
    """Bytes of every tensor in `model`'s state dict (int8 packed weights count one byte each)."""
    import torch

    def size(value: Any) -> int:
        if isinstance(value, torch.Tensor):
            return value.numel() * value.element_size()
        if isinstance(value, (tuple, list)):
            return sum(size(v) for v in value)
        return 0

    return sum(size(v) for v in model.state_dict().values()) / 1024**3


def inputs(n_texts: int, n_images: int, n_clips: int) -> tuple[list[str], list[Any], list[Any]]:
    from PIL import Image

    from core.config import Limits
    from retrieval.media import load_audio

    images = [
        Image.open(p).convert("RGB") for p in sorted((REPO / "data/kb/screenshots").glob("*.png"))[:n_images]
    ]
    sounds = sorted((REPO / "data/kb/sounds").glob("*.wav"))[:n_clips]
    clips = [load_audio(p, Limits()) for p in sounds]
    return list(TEXTS[:n_texts]), images, clips


def timed(embed: Callable[[Sequence[Any]], Any], items: Sequence[Any]) -> tuple[Any, float]:
    """Embeddings of `items` one at a time (batch 1) and the median ms per item (after one warm-up)."""
    import numpy as np

    embed(items[:1])
    rows, times = [], []
    for item in items:
        started = time.perf_counter()
        rows.append(embed([item]))
        times.append((time.perf_counter() - started) * 1000)
    return np.concatenate(rows, axis=0), statistics.median(times)


def run_all(embedder: Any, data: tuple[list[str], list[Any], list[Any]]) -> dict[str, tuple[Any, float]]:
    texts, images, clips = data
    out = {"text": timed(embedder.embed_text, texts)}
    if images:
        out["image"] = timed(embedder.embed_images, images)
    if clips:
        out["audio"] = timed(embedder.embed_audio, clips)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=6)
    parser.add_argument("--images", type=int, default=3)
    parser.add_argument("--clips", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: core.threads policy)")
    parser.add_argument("--checkpoint", type=Path, help="a real imagebind_huge.pth (default: random weights)")
    args = parser.parse_args(argv)

    import numpy as np
    import torch

    from core.devices import quantize_linear_int8
    from core.threads import apply_torch
    from retrieval.embedders.imagebind import HUGE, ImageBindEmbedder, assign_weights, build_imagebind

    apply_torch(args.threads)
    data = inputs(args.texts, args.images, args.clips)
    started = time.perf_counter()
    torch.manual_seed(0)
    if args.checkpoint:
        state = torch.load(args.checkpoint, map_location="cpu", weights_only=True, mmap=True)
        model = assign_weights(HUGE, state, str(args.checkpoint))
        weights = f"weights {args.checkpoint.name}"
    else:
        model = build_imagebind(HUGE)
        weights = "random weights"
    print(
        f"built ImageBind huge ({weights}) in {time.perf_counter() - started:.0f} s; "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads",
        flush=True,
    )
    embedder = ImageBindEmbedder(device="cpu", batch_size=1, model=model, name="imagebind-huge")
    embedder.load()
    fp32 = run_all(embedder, data)
    rss_fp32, weights_fp32 = rss_gib(), weight_gib(model)
    print(f"float32 done (RSS {rss_fp32:.2f} GiB)", flush=True)
    quantize_linear_int8(model)
    gc.collect()
    int8 = run_all(embedder, data)
    rss_int8, weights_int8 = rss_gib(), weight_gib(model)

    print()
    print("| modality | n | float32 ms/item | int8 ms/item | speed-up | cosine mean | cosine worst |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for modality, (vectors, ms) in fp32.items():
        q_vectors, q_ms = int8[modality]
        cosine = np.sum(vectors * q_vectors, axis=1)  # both L2-normalised by the embedder
        print(
            f"| {modality} | {len(vectors)} | {ms:,.0f} | {q_ms:,.0f} | {ms / q_ms:.2f}x | "
            f"{cosine.mean():.4f} | {cosine.min():.4f} |"
        )
    print(
        f"\nweights: {weights_fp32:.2f} GiB float32, {weights_int8:.2f} GiB int8; "
        f"process RSS: {rss_fp32:.2f} GiB after float32, {rss_int8:.2f} GiB after int8"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
