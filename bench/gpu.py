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

On a machine without a CUDA GPU it says so and exits 0 (nothing is measured). `--smoke` runs every
part with tiny random configs of the same classes on whatever device there is (CPU here), so the
code paths are proven before a GPU session spends its budget on them (`tests/test_bench_gpu.py`);
its figures mean nothing.

    python bench/gpu.py [--images 256] [--batch 32] [--skip imagebind t5 whisper] [--smoke]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))


# Tiny random configs for --smoke (the same classes, a fraction of the compute).
SMOKE_IMAGEBIND = {
    "out_embed_dim": 32, "vision_embed_dim": 32, "vision_num_blocks": 1, "vision_num_heads": 2,
    "text_embed_dim": 32, "text_num_blocks": 1, "text_num_heads": 2, "audio_embed_dim": 32,
    "audio_num_blocks": 1, "audio_num_heads": 2, "depth_embed_dim": 32, "depth_num_blocks": 1,
    "depth_num_heads": 2, "thermal_embed_dim": 32, "thermal_num_blocks": 1, "thermal_num_heads": 2,
    "imu_embed_dim": 32, "imu_num_blocks": 1, "imu_num_heads": 2,
}  # fmt: skip
SMOKE_T5 = {
    "vocab_size": 32128, "d_model": 32, "d_kv": 8, "d_ff": 64, "num_layers": 1, "num_decoder_layers": 1,
    "num_heads": 2, "feed_forward_proj": "gated-gelu", "tie_word_embeddings": False,
    "decoder_start_token_id": 0, "eos_token_id": 1, "pad_token_id": 0,
}  # fmt: skip
SMOKE_WHISPER = {"d_model": 64, "layers": 1, "heads": 2, "ffn": 128}
WHISPER_SMALL = {"d_model": 768, "layers": 12, "heads": 12, "ffn": 3072}


def sync(device: str) -> None:
    """Wait for queued GPU work (a no-op on CPU), so timings cover the work itself."""
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def cuda_name() -> str | None:
    try:
        import torch
    except ImportError:
        return None
    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


def imagebind_rows(
    n_images: int, batch: int, device: str = "cuda", smoke: bool = False
) -> list[tuple[str, str]]:
    import numpy as np
    import torch
    from PIL import Image

    from core.config import Limits
    from retrieval.embedders.imagebind import HUGE, ImageBindArch, ImageBindEmbedder, build_imagebind
    from retrieval.ingest import Ingestor
    from retrieval.manifest import Manifest
    from retrieval.stores.milvus import MilvusStore

    torch.manual_seed(0)
    model = build_imagebind(ImageBindArch(**SMOKE_IMAGEBIND) if smoke else HUGE).eval()
    embedder = ImageBindEmbedder(device=device, batch_size=batch, model=model, name="imagebind-huge-random")
    embedder.load()
    raw_model = embedder._model
    assert raw_model is not None
    from imagebind.models.imagebind_model import ModalityType

    dtype = next(raw_model.parameters()).dtype  # float16 on CUDA by the precision policy
    size = "tiny" if smoke else "huge"
    label = "huge fp16" if dtype == torch.float16 else f"{size} {str(dtype).replace('torch.', '')}"
    pixels = torch.randn(batch, 3, 224, 224, device=device, dtype=dtype)
    with torch.inference_mode():
        raw_model({ModalityType.VISION: pixels})  # warm-up
        sync(device)
        started = time.perf_counter()
        steps = max(1, n_images // batch)
        for _ in range(steps):
            raw_model({ModalityType.VISION: pixels})
        sync(device)
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
        (f"ImageBind {label}, raw forward, batch {batch}", f"{raw:.1f} images/s"),
        (
            f"ImageBind {label}, product ingest, batch {batch}",
            f"{product:.1f} images/s ({product / raw:.0%} of raw)",
        ),
    ]


def t5_rows(device: str = "cuda", smoke: bool = False) -> list[tuple[str, str]]:
    import statistics

    import t5_decode as t5
    import torch

    cuda = device.startswith("cuda")
    ids = [3 + (i * 7919) % 32000 for i in range(t5.INPUT_TOKENS - 1)] + [1]
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-gpu-t5-") as tmp:
        folder, target = Path(tmp) / "hf", Path(tmp) / "ct2"
        dtype = torch.bfloat16 if cuda else torch.float32
        model = t5.save_random_model(folder, config=SMOKE_T5 if smoke else None).to(device, dtype)
        t5.convert(folder, target)
        t5.time_hf(model, ids[:32], False, device)
        seconds = statistics.median(t5.time_hf(model, ids, False, device)[0] for _ in range(3))
        rows.append((f"T5 HF generate {str(dtype)[6:]}", f"{seconds / t5.NEW_TOKENS * 1000:.1f} ms/token"))
        del model
        for compute_type in ("float16", "bfloat16") if cuda else ("float32", "int8"):
            seconds = statistics.median(
                t5.time_ct2(target, ids, compute_type, "cuda" if cuda else "cpu", 0)[0] for _ in range(3)
            )
            rows.append((f"T5 CTranslate2 {compute_type}", f"{seconds / t5.NEW_TOKENS * 1000:.1f} ms/token"))
    return rows


def whisper_rows(device: str = "cuda", smoke: bool = False) -> list[tuple[str, str]]:
    import numpy as np
    import torch
    from ctranslate2.converters import TransformersConverter
    from faster_whisper import WhisperModel
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    from retrieval.asr.faster_whisper import bundled_tiny_en

    tokenizer_dir = bundled_tiny_en()  # the English vocabulary small.en shares with tiny.en
    torch.manual_seed(0)
    size = SMOKE_WHISPER if smoke else WHISPER_SMALL
    config = WhisperConfig(  # whisper small.en's sizes (tiny ones under --smoke)
        vocab_size=51864,
        d_model=size["d_model"],
        encoder_layers=size["layers"],
        decoder_layers=size["layers"],
        encoder_attention_heads=size["heads"],
        decoder_attention_heads=size["heads"],
        encoder_ffn_dim=size["ffn"],
        decoder_ffn_dim=size["ffn"],
        num_mel_bins=80,
        max_target_positions=448,
    )
    cuda = device.startswith("cuda")
    compute_type = "float16" if cuda else "int8"
    with tempfile.TemporaryDirectory(prefix="bench-gpu-whisper-") as tmp:
        hf, target = Path(tmp) / "hf", Path(tmp) / "ct2"
        WhisperForConditionalGeneration(config).save_pretrained(hf)
        if (tokenizer_dir / "tokenizer.json").is_file():
            (hf / "tokenizer.json").write_bytes((tokenizer_dir / "tokenizer.json").read_bytes())
        TransformersConverter(str(hf), copy_files=["tokenizer.json"]).convert(
            str(target), quantization=compute_type
        )
        model = WhisperModel(str(target), device="cuda" if cuda else "cpu", compute_type=compute_type)
        audio = (0.1 * np.random.default_rng(0).standard_normal(16000 * 60)).astype(np.float32)
        list(model.transcribe(audio[: 16000 * 5], beam_size=1, max_new_tokens=8, language="en")[0])
        started = time.perf_counter()
        segments, _ = model.transcribe(
            audio, beam_size=1, max_new_tokens=64, language="en", without_timestamps=True, vad_filter=False
        )
        list(segments)
        rtf = (time.perf_counter() - started) / 60.0
    label = "tiny-config" if smoke else "small.en-sized"
    return [(f"faster-whisper {label} {compute_type}, 60 s audio", f"real-time factor {rtf:.3f}")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--skip", nargs="*", default=[], choices=["imagebind", "t5", "whisper"])
    parser.add_argument("--smoke", action="store_true", help="tiny configs on any device (proves the paths)")
    args = parser.parse_args(argv)
    name = cuda_name()
    if name is None and not args.smoke:
        print("bench/gpu.py: no CUDA GPU on this machine; nothing measured (run it on a GPU machine)")
        return 0
    device = "cuda" if name else "cpu"
    where = f"GPU: {name}" if name else "CPU"
    print(f"{where}{' (smoke: tiny configs)' if args.smoke else ''}, {time.strftime('%Y-%m-%d')}")
    images, batch = (8, 4) if args.smoke else (args.images, args.batch)
    rows: list[tuple[str, str]] = []
    parts: list[tuple[str, Any]] = [
        ("imagebind", lambda: imagebind_rows(images, batch, device, args.smoke)),
        ("t5", lambda: t5_rows(device, args.smoke)),
        ("whisper", lambda: whisper_rows(device, args.smoke)),
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
    return 1 if any(value.startswith("FAILED") for _, value in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
