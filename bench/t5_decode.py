"""Benchmark: T5 answer decoding, Hugging Face transformers against CTranslate2, at equal output.

A randomly initialised T5 with flan-t5-base's exact configuration (no download: the weights do not
change the cost) reads a 457-token input and is forced to write 64 new tokens (end token banned
until then). Side by side, ms per new token for:
- HF `generate` (greedy);
- the product's HF streaming path (`generate` in a thread feeding `TextIteratorStreamer`);
- CTranslate2 float32 and int8 (the product's CPU default), streamed (`generate_tokens`);
and whether greedy int8 writes exactly the float32 tokens. Threads follow `core.threads`.

    python bench/t5_decode.py [--threads 0] [--repeats 2] [--device cpu]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from core.catalogue import FLAN_T5_BASE_CONFIG

FLAN_T5_BASE = FLAN_T5_BASE_CONFIG  # flan-t5-base's exact config (random weights)
INPUT_TOKENS = 457
NEW_TOKENS = 64


class IdTokenizer:
    """Just enough of a tokenizer for CTranslate2 and the streamer: token i is the string 't<i>'."""

    eos_token_id = 1

    def convert_ids_to_tokens(self, ids: list[int]) -> list[str]:
        return ["</s>" if i == 1 else "<pad>" if i == 0 else f"t{i}" for i in ids]

    def convert_tokens_to_ids(self, tokens: list[str]) -> list[int]:
        return [1 if t == "</s>" else 0 if t == "<pad>" else int(t[1:]) for t in tokens]

    def decode(self, ids: Any, skip_special_tokens: bool = True, **_: Any) -> str:
        values = ids.tolist() if hasattr(ids, "tolist") else list(ids)
        return " ".join(f"t{i}" for i in values if i > 1 or not skip_special_tokens)


def save_random_model(folder: Path, seed: int = 0, config: dict[str, Any] | None = None) -> Any:
    """A random-weight T5 of `config` (default flan-t5-base's) saved to `folder`, and returned."""
    import torch
    from transformers import T5Config, T5ForConditionalGeneration

    torch.manual_seed(seed)
    model = T5ForConditionalGeneration(T5Config(**(config or FLAN_T5_BASE))).eval()
    model.save_pretrained(folder)
    return model


class _VocabOnly(IdTokenizer):
    """What CTranslate2's T5 loader reads from a tokenizer (a random model comes without one)."""

    pad_token, eos_token, unk_token = "<pad>", "</s>", "<unk>"

    def get_vocab(self) -> dict[str, int]:
        return {
            token: i
            for i, token in enumerate(self.convert_ids_to_tokens(list(range(FLAN_T5_BASE["vocab_size"]))))
        }

    def convert_ids_to_tokens(self, ids: Any) -> Any:  # type: ignore[override]
        if isinstance(ids, int):
            return super().convert_ids_to_tokens([ids])[0]
        return [
            "<unk>" if i == 2 else t for i, t in zip(ids, super().convert_ids_to_tokens(ids), strict=True)
        ]


def convert(folder: Path, target: Path) -> None:
    from ctranslate2.converters import TransformersConverter

    class Converter(TransformersConverter):  # type: ignore[misc]
        def load_tokenizer(self, tokenizer_class: Any, model_name_or_path: str, **kwargs: Any) -> Any:
            return _VocabOnly()

    Converter(str(folder)).convert(str(target), force=True)


def time_hf(model: Any, ids: list[int], stream: bool, device: str = "cpu") -> tuple[float, list[int]]:
    import torch
    from transformers import TextIteratorStreamer

    inputs = torch.tensor([ids], device=device)
    kwargs = {"max_new_tokens": NEW_TOKENS, "min_new_tokens": NEW_TOKENS, "do_sample": False, "num_beams": 1}
    started = time.perf_counter()
    if not stream:
        with torch.inference_mode():
            out = model.generate(input_ids=inputs, **kwargs)
        return time.perf_counter() - started, out[0, 1:].tolist()
    streamer = TextIteratorStreamer(IdTokenizer(), skip_prompt=True, timeout=600)  # type: ignore[arg-type]

    def work() -> None:
        with torch.inference_mode():
            model.generate(input_ids=inputs, streamer=streamer, **kwargs)

    worker = threading.Thread(target=work)
    worker.start()
    text = "".join(streamer)
    worker.join()
    return time.perf_counter() - started, [int(t[1:]) for t in text.split()]


def time_ct2(
    folder: Path, ids: list[int], compute_type: str, device: str, threads: int
) -> tuple[float, list[int]]:
    import ctranslate2

    from core.threads import ct2_threads

    translator = ctranslate2.Translator(
        str(folder), device=device, compute_type=compute_type, **ct2_threads(threads)
    )
    source = IdTokenizer().convert_ids_to_tokens(ids)
    options = {"max_decoding_length": NEW_TOKENS, "min_decoding_length": NEW_TOKENS, "sampling_topk": 1}
    list(translator.generate_tokens(source, max_input_length=0, **options))  # warm-up (int8 packing)
    started = time.perf_counter()
    tokens = [step.token_id for step in translator.generate_tokens(source, max_input_length=0, **options)]
    return time.perf_counter() - started, tokens


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: the core.threads policy)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    args = parser.parse_args()
    import random

    import torch

    from core.threads import apply_torch

    threads = apply_torch(args.threads)
    ids = [random.Random(1).randrange(3, FLAN_T5_BASE["vocab_size"]) for _ in range(INPUT_TOKENS - 1)] + [1]
    rows: list[tuple[str, float]] = []
    tokens: dict[str, list[int]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-t5-") as tmp:
        folder, target = Path(tmp) / "hf", Path(tmp) / "ct2"
        model = save_random_model(folder).to(args.device)
        convert(folder, target)
        if args.device == "cuda":
            model = model.to(torch.bfloat16)
        for label, stream in (("HF generate", False), ("HF streaming (product today)", True)):
            time_hf(model, ids[:32], stream)  # warm-up
            runs = [time_hf(model, ids, stream) for _ in range(args.repeats)]
            rows.append((label, statistics.median(r[0] for r in runs)))
            tokens[label] = runs[0][1]
        del model
        types = ["float32", "int8"] if args.device == "cpu" else ["float32", "bfloat16", "float16"]
        for compute_type in types:
            runs = [time_ct2(target, ids, compute_type, args.device, threads) for _ in range(args.repeats)]
            label = f"CTranslate2 {compute_type} streaming"
            rows.append((label, statistics.median(r[0] for r in runs)))
            tokens[label] = runs[0][1]
    base = dict(rows)["HF streaming (product today)"]
    print(
        f"T5 (flan-t5-base config, random weights), {INPUT_TOKENS} input tokens, {NEW_TOKENS} forced tokens,"
    )
    print(f"device {args.device}, {threads} thread(s), median of {args.repeats}")
    print(f"{'path':<34} {'ms/token':>9} {'speed-up vs streaming today':>28}")
    for label, seconds in rows:
        print(f"{label:<34} {seconds / NEW_TOKENS * 1000:>9.1f} {base / seconds:>27.2f}x")
    low = "CTranslate2 int8 streaming" if args.device == "cpu" else "CTranslate2 bfloat16 streaming"
    same = sum(a == b for a, b in zip(tokens[low], tokens["CTranslate2 float32 streaming"], strict=False))
    print(f"{low} vs float32: {same}/{NEW_TOKENS} tokens identical (greedy)")
    hf_same = tokens["HF generate"] == tokens["CTranslate2 float32 streaming"]
    print(f"CTranslate2 float32 writes the HF tokens: {'yes' if hf_same else 'no'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
