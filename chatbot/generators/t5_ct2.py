"""T5 on CTranslate2: converting a local Hugging Face T5 and decoding with it (greedy, streamed).

`convert_t5(model_dir)` writes `<model_dir>/ctranslate2/` (float32 weights, so one conversion serves
every compute type); `T5Generator` then decodes with CTranslate2 whenever that folder is present:
int8 on CPU, bfloat16 (T5 was trained in it; float16 can overflow) or float16 on CUDA, as the
precision policy of `core.devices` says. The tokenizer stays the Hugging Face one, so prompts,
decoded text and grounding are the same on both runtimes. Measured by `bench/t5_decode.py`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from core.devices import ct2_compute_type, ct2_device
from core.errors import ConfigError, InputError
from core.threads import ct2_threads

CT2_SUBDIR = "ctranslate2"
CT2_FILES = ("model.bin", "config.json")


def converted_dir(model_dir: Path) -> Path | None:
    """The CTranslate2 conversion inside a T5 model directory, when one is there."""
    folder = model_dir / CT2_SUBDIR
    return folder if all((folder / name).is_file() for name in CT2_FILES) else None


def convert_t5(model_dir: Path, *, force: bool = False) -> Path:
    """Converts the Hugging Face T5 in `model_dir` (e.g. a `finetune` output) to `<model_dir>/ctranslate2`."""
    if not (model_dir / "config.json").is_file():
        raise InputError(f"{model_dir} holds no Hugging Face model (config.json is missing)")
    target = model_dir / CT2_SUBDIR
    if converted_dir(model_dir) is not None and not force:
        return target
    try:
        from ctranslate2.converters import TransformersConverter
    except ImportError as exc:
        raise ConfigError("converting needs ctranslate2: pip install 'ctranslate2>=4'") from exc
    TransformersConverter(str(model_dir)).convert(str(target), force=True)
    return target


def ct2_compute(device: str, precision: str) -> str:
    """T5's compute type: the policy's, except bfloat16 (not float16) under "auto" on CUDA."""
    if device == "cuda" and precision == "auto":
        import ctranslate2

        if "bfloat16" in ctranslate2.get_supported_compute_types("cuda"):
            return "bfloat16"
    return ct2_compute_type(device, precision)


def decoding_options(model_dir: Path, tokenizer: Any) -> dict[str, Any]:
    """The model's own `generation_config.json` rules (minimum length, banned tokens, no repeated
    n-grams, repetition penalty) as CTranslate2 decoding options, so both runtimes decode alike."""
    path = model_dir / "generation_config.json"
    config = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    options: dict[str, Any] = {
        "min_decoding_length": int(config.get("min_new_tokens") or 0),
        "no_repeat_ngram_size": int(config.get("no_repeat_ngram_size") or 0),
        "repetition_penalty": float(config.get("repetition_penalty") or 1.0),
    }
    banned = config.get("suppress_tokens") or []
    if banned:
        options["suppress_sequences"] = [[t] for t in tokenizer.convert_ids_to_tokens(list(banned))]
    return options


class Ct2T5:
    """A loaded CTranslate2 T5 translator fed token ids through the Hugging Face tokenizer's vocabulary."""

    def __init__(
        self, model_dir: Path, tokenizer: Any, device: str | None, precision: str, threads: int = 0
    ) -> None:
        import ctranslate2

        folder = converted_dir(model_dir)
        if folder is None:
            raise ConfigError(f"{model_dir} holds no CTranslate2 conversion ({CT2_SUBDIR}/model.bin)")
        kind, index = ct2_device(device)
        self.compute_type = ct2_compute(kind, precision)
        self.device = kind
        self._tokenizer = tokenizer
        self._options = decoding_options(model_dir, tokenizer)
        self._translator = ctranslate2.Translator(
            str(folder),
            device=kind,
            device_index=index,
            compute_type=self.compute_type,
            **ct2_threads(threads),
        )

    def _decoding(self, min_new_tokens: int) -> dict[str, Any]:
        options = dict(self._options)
        options["min_decoding_length"] = max(options["min_decoding_length"], min_new_tokens)
        return options

    def _source(self, input_ids: Sequence[int]) -> list[str]:
        return list(self._tokenizer.convert_ids_to_tokens(list(input_ids)))

    def generate_ids(
        self, input_ids: Sequence[int], max_new_tokens: int, min_new_tokens: int = 0
    ) -> list[int]:
        """Greedy decoding; the new token ids without the end token."""
        result = self._translator.translate_batch(
            [self._source(input_ids)],
            beam_size=1,
            max_decoding_length=max_new_tokens,
            max_input_length=0,
            **self._decoding(min_new_tokens),
        )
        ids = self._tokenizer.convert_tokens_to_ids(result[0].hypotheses[0])
        return [int(i) for i in ids]

    def stream_ids(
        self, input_ids: Sequence[int], max_new_tokens: int, min_new_tokens: int = 0
    ) -> Iterator[int]:
        """The same greedy tokens as `generate_ids`, one at a time as they are decoded."""
        eos = self._tokenizer.eos_token_id
        for step in self._translator.generate_tokens(
            self._source(input_ids),
            max_decoding_length=max_new_tokens,
            max_input_length=0,
            sampling_topk=1,
            **self._decoding(min_new_tokens),
        ):
            if step.token_id == eos:
                return
            yield int(step.token_id)


def text_pieces(tokenizer: Any, ids: Iterator[int]) -> Iterator[str]:
    """Decoded text as token ids arrive, up to the last space (a word is shown whole); the pieces join
    to `tokenizer.decode(all ids, skip_special_tokens=True)`."""
    seen: list[int] = []
    shown = ""
    for token in ids:
        seen.append(token)
        text = tokenizer.decode(seen, skip_special_tokens=True)
        cut = text.rfind(" ")
        if cut > len(shown) and text.startswith(shown):
            yield text[len(shown) : cut]
            shown = text[:cut]
    text = tokenizer.decode(seen, skip_special_tokens=True)
    if text.startswith(shown) and len(text) > len(shown):
        yield text[len(shown) :]
