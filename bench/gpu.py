"""Benchmark for a CUDA GPU machine, one command, <= 8 minutes: what the product gets out of the GPU.

Prints one table:
1. ImageBind huge (the real architecture, random weights: the weights do not change the cost) in
   float16: images/s through the product's ingest path (`Ingestor` over a temp KB of PNGs: decode,
   preprocess, `ImageBindEmbedder.embed_images`, Milvus Lite write) against the raw model's
   `forward` on ready tensors at the same batch. Target: product >= 80 % of raw.
2. T5 (flan-t5-base config, random weights; 457 input tokens, 64 forced new tokens): ms/token of
   Hugging Face `generate` in bfloat16 against CTranslate2 float16 and bfloat16 (`bench/t5_decode.py`).
3. faster-whisper `small.en`-sized model (random weights converted to CTranslate2, float16): the
   real-time factor of transcribing 60 s of audio (encoder + a 64-token decode per 30 s window).

On a machine without a CUDA GPU it says so and exits 0 (nothing is measured).

    python bench/gpu.py [--images 256] [--batch 32] [--skip imagebind t5 whisper]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))


def cuda_name() -> str | None:
    try:
        import torch
    except ImportError:
        return None
    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


def imagebind_rows(n_images: int, batch: int) -> list[tuple[str, str]]:
    import numpy as np
    import torch
    from PIL import Image

    from core.config import Limits
    from retrieval.embedders.imagebind import HUGE, ImageBindEmbedder, build_imagebind
    from retrieval.ingest import Ingestor
    from retrieval.manifest import Manifest
    from retrieval.stores.milvus import MilvusStore

    torch.manual_seed(0)
    model = build_imagebind(HUGE).eval()
    embedder = ImageBindEmbedder(device="cuda", batch_size=batch, model=model, name="imagebind-huge-random")
    embedder.load()
    raw_model = embedder._model
    assert raw_model is not None
    from imagebind.models.imagebind_model import ModalityType

    pixels = torch.randn(batch, 3, 224, 224, device="cuda", dtype=torch.float16)
    with torch.inference_mode():
        raw_model({ModalityType.VISION: pixels})  # warm-up
        torch.cuda.synchronize()
        started = time.perf_counter()
        steps = max(1, n_images // batch)
        for _ in range(steps):
            raw_model({ModalityType.VISION: pixels})
        torch.cuda.synchronize()
    raw = steps * batch / (time.perf_counter() - started)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory(prefix="bench-gpu-") as tmp:
        kb = Path(tmp) / "kb"
        kb.mkdir()
        for i in range(n_images):
            array = rng.integers(0, 255, size=(480, 640, 3), dtype=np.uint8)
            Image.fromarray(array).save(kb / f"img{i:04d}.png")
            (kb / f"img{i:04d}.md").write_text(f"Photo {i} of a device.", encoding="utf-8")
        store = MilvusStore(str(Path(tmp) / "m.db"), dim=embedder.dim, timeout_s=120)
        store.open()
        try:
            ingestor = Ingestor(
                store,
                Manifest(Path(tmp) / "manifest.json"),
                embedder,
                Limits(),
                batch_size=batch,
                progress=False,
            )
            started = time.perf_counter()
            report = ingestor.run(kb)
            product = report.added / (time.perf_counter() - started)
        finally:
            store.close()
    return [
        (f"ImageBind huge fp16, raw forward, batch {batch}", f"{raw:.1f} images/s"),
        (
            f"ImageBind huge fp16, product ingest, batch {batch}",
            f"{product:.1f} images/s ({product / raw:.0%} of raw)",
        ),
    ]


def t5_rows() -> list[tuple[str, str]]:
    import statistics

    import t5_decode as t5
    import torch

    ids = [3 + (i * 7919) % 32000 for i in range(t5.INPUT_TOKENS - 1)] + [1]
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-gpu-t5-") as tmp:
        folder, target = Path(tmp) / "hf", Path(tmp) / "ct2"
        model = t5.save_random_model(folder).to("cuda", torch.bfloat16)
        t5.convert(folder, target)
        t5.time_hf(model, ids[:32], False)
        seconds = statistics.median(t5.time_hf(model, ids, False)[0] for _ in range(3))
        rows.append(("T5 HF generate bfloat16", f"{seconds / t5.NEW_TOKENS * 1000:.1f} ms/token"))
        del model
        for compute_type in ("float16", "bfloat16"):
            seconds = statistics.median(
                t5.time_ct2(target, ids, compute_type, "cuda", 0)[0] for _ in range(3)
            )
            rows.append((f"T5 CTranslate2 {compute_type}", f"{seconds / t5.NEW_TOKENS * 1000:.1f} ms/token"))
    return rows


def whisper_rows() -> list[tuple[str, str]]:
    import numpy as np
    import torch
    from ctranslate2.converters import TransformersConverter
    from faster_whisper import WhisperModel
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    from retrieval.asr.faster_whisper import bundled_tiny_en

    tokenizer_dir = bundled_tiny_en()  # the English vocabulary small.en shares with tiny.en
    torch.manual_seed(0)
    config = WhisperConfig(  # whisper small.en's sizes
        vocab_size=51864,
        d_model=768,
        encoder_layers=12,
        decoder_layers=12,
        encoder_attention_heads=12,
        decoder_attention_heads=12,
        encoder_ffn_dim=3072,
        decoder_ffn_dim=3072,
        num_mel_bins=80,
        max_target_positions=448,
    )
    with tempfile.TemporaryDirectory(prefix="bench-gpu-whisper-") as tmp:
        hf, target = Path(tmp) / "hf", Path(tmp) / "ct2"
        WhisperForConditionalGeneration(config).save_pretrained(hf)
        if (tokenizer_dir / "tokenizer.json").is_file():
            (hf / "tokenizer.json").write_bytes((tokenizer_dir / "tokenizer.json").read_bytes())
        TransformersConverter(str(hf), copy_files=["tokenizer.json"]).convert(
            str(target), quantization="float16"
        )
        model = WhisperModel(str(target), device="cuda", compute_type="float16")
        audio = (0.1 * np.random.default_rng(0).standard_normal(16000 * 60)).astype(np.float32)
        list(model.transcribe(audio[: 16000 * 5], beam_size=1, max_new_tokens=8, language="en")[0])
        started = time.perf_counter()
        segments, _ = model.transcribe(
            audio, beam_size=1, max_new_tokens=64, language="en", without_timestamps=True, vad_filter=False
        )
        list(segments)
        rtf = (time.perf_counter() - started) / 60.0
    return [("faster-whisper small.en-sized fp16, 60 s audio", f"real-time factor {rtf:.3f}")]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--skip", nargs="*", default=[], choices=["imagebind", "t5", "whisper"])
    args = parser.parse_args()
    name = cuda_name()
    if name is None:
        print("bench/gpu.py: no CUDA GPU on this machine; nothing measured (run it on a GPU machine)")
        return 0
    print(f"GPU: {name}, {time.strftime('%Y-%m-%d')}")
    rows: list[tuple[str, str]] = []
    parts: list[tuple[str, Any]] = [
        ("imagebind", lambda: imagebind_rows(args.images, args.batch)),
        ("t5", t5_rows),
        ("whisper", whisper_rows),
    ]
    for part, run in parts:
        if part in args.skip:
            continue
        started = time.perf_counter()
        try:
            rows += run()
        except Exception as exc:  # one part failing still prints the others
            rows.append((part, f"FAILED: {type(exc).__name__}: {str(exc)[:200]}"))
        print(f"  {part} done in {time.perf_counter() - started:.0f} s", flush=True)
    width = max(len(r[0]) for r in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
