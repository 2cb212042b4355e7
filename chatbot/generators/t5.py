"""The T5 generator: a local Flan-T5 (or a `supportbot finetune` output) writes the cited answer.

Weights are only ever read from a local directory (`local_files_only=True`, safetensors only); a
hub name such as "google/flan-t5-base" is looked up as `<model_dir>/flan-t5-base/` and, when the
files are not there, the model locator (`core.models`) says what to put where. The dtype follows the
precision policy of `core.devices` (auto: bfloat16 on CUDA where supported, float32 on CPU). Greedy
decoding, so the same request gives the same answer; streaming runs `generate` in a worker thread
feeding a `TextIteratorStreamer`.

Runtimes: when the model directory holds a CTranslate2 conversion (`<dir>/ctranslate2/`, made by
`supportbot models convert` or `t5_ct2.convert_t5`), decoding runs on CTranslate2 (int8 on CPU, ~3x
faster; see `t5_ct2`); Hugging Face transformers stays the reference path (`runtime="hf"`). The
tokenizer, prompt, streaming pieces and grounding are the same on both.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from chatbot.generators.grounding import DEFAULT_THRESHOLD, finish_answer
from chatbot.generators.prompt import DEFAULT_MAX_TOKENS, PackedPrompt, build_prompt, tokenizer_counter
from chatbot.generators.protocol import Answer, AnswerStream, GenerationRequest
from chatbot.generators.t5_ct2 import Ct2T5, converted_dir, text_pieces
from core.devices import best_device, check_precision, torch_dtype
from core.errors import ConfigError
from core.models import HUB_NAME, ModelLocator, where_to_keep

DEFAULT_MODEL = "google/flan-t5-base"
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json")
TOKENIZER_FILES = ("tokenizer.json", "spiece.model")
STREAM_TIMEOUT_S = 600.0
ROLE = "answer"
RUNTIMES = ("auto", "hf", "ctranslate2")


def missing_files(directory: Path) -> list[str]:
    """What a model directory lacks: config.json, safetensors weights, tokenizer files."""
    missing: list[str] = []
    if not (directory / "config.json").is_file():
        missing.append("config.json")
    if not any((directory / name).is_file() for name in WEIGHT_FILES):
        note = (
            " (only safetensors weights are loaded; pytorch_model.bin is not)"
            if (directory / "pytorch_model.bin").is_file()
            else ""
        )
        missing.append("model.safetensors" + note)
    if not any((directory / name).is_file() for name in TOKENIZER_FILES):
        missing.append("tokenizer files (tokenizer.json or spiece.model, with tokenizer_config.json)")
    return missing


def how_to_get(model: str, destination: Path) -> str:
    """What to download or pass so that `model` can be loaded."""
    source = f"https://huggingface.co/{model}" if HUB_NAME.match(model) else "a Hugging Face T5 checkpoint"
    by_hand = (
        f"ownload config.json, model.safetensors and the tokenizer files (tokenizer.json or spiece.model, "
        f"tokenizer_config.json, special_tokens_map.json) from {source} into {destination}/ "
        f"({where_to_keep()}), or pass --generator-model DIR naming a directory that holds them (e.g. the "
        f"output of `supportbot finetune`)"
    )
    if model in (DEFAULT_MODEL, DEFAULT_MODEL.split("/")[-1]):
        name = DEFAULT_MODEL.split("/")[-1]
        return (
            f"Run `supportbot models download {name}` (or, without internet, `supportbot models import "
            f"{name} PATH`), or d{by_hand}"
        )
    return "D" + by_hand


def resolve_model_path(model: str, model_dir: Path | None = None) -> Path:
    """The local directory holding `model` (a directory, or a hub name under the model dir)."""
    if not model.strip():
        raise ConfigError("generator model is empty: pass a directory or a name such as google/flan-t5-base")
    locator = ModelLocator.of(model_dir)
    given = Path(model).expanduser()
    target = given if given.is_dir() or not HUB_NAME.match(model) else locator.path(model.split("/")[-1])
    return locator.directory(ROLE, model, missing_files, how_to_get(model, target))


class T5Generator:
    """Flan-T5 / fine-tuned T5 answers with [n] citations; `model_obj`/`tokenizer_obj` inject loaded ones."""

    name = "t5"

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        model_dir: Path | None = None,
        device: str | None = None,
        max_new_tokens: int = 160,
        model_obj: Any = None,
        tokenizer_obj: Any = None,
        grounding_threshold: float = DEFAULT_THRESHOLD,
        precision: str = "auto",
        runtime: str = "auto",
        threads: int = 0,
    ) -> None:
        if runtime not in RUNTIMES:
            raise ConfigError(f"T5 runtime {runtime!r} is not one of {', '.join(RUNTIMES)}")
        if max_new_tokens < 1:
            raise ConfigError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        if (model_obj is None) != (tokenizer_obj is None):
            raise ConfigError("pass model_obj and tokenizer_obj together, or neither")
        self.model = model
        self.model_dir = model_dir
        self.device = device
        self.max_new_tokens = max_new_tokens
        self.grounding_threshold = grounding_threshold
        self.precision = check_precision(precision)
        self.runtime = runtime
        self.threads = threads
        self._model: Any = model_obj
        self._tokenizer: Any = tokenizer_obj
        self._ct2: Ct2T5 | None = None
        self._ready = False

    def locate(self) -> Path | None:
        """The model directory (cheap: nothing is read); None for an injected model."""
        if self._model is not None:
            return None
        return resolve_model_path(self.model, self.model_dir)

    @property
    def active_runtime(self) -> str:
        """ "ctranslate2" or "hf" once loaded."""
        return "ctranslate2" if self._ct2 is not None else "hf"

    def load(self) -> None:
        if self._ready:
            return
        if self._model is None and self.runtime != "hf" and self._load_ct2():
            self._ready = True
            return
        from core.threads import apply_torch

        apply_torch(self.threads)
        device = best_device(self.device)
        dtype = torch_dtype(device, self.precision, bf16_trained=True)
        if self._model is None:
            from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

            path = resolve_model_path(self.model, self.model_dir)
            self._tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            self._model = AutoModelForSeq2SeqLM.from_pretrained(
                path, local_files_only=True, use_safetensors=True, dtype=dtype
            )
        self._model.to(device=device, dtype=dtype)
        self._model.eval()
        self._ready = True

    def _load_ct2(self) -> bool:
        """Loads the CTranslate2 conversion when there is one (True), else leaves HF to `load`."""
        path = resolve_model_path(self.model, self.model_dir)
        folder = converted_dir(path)
        if folder is None:
            if self.runtime == "ctranslate2":
                raise ConfigError(
                    f"{path} holds no CTranslate2 conversion; run `supportbot models convert {path}` or "
                    "use the transformers runtime"
                )
            return False
        from transformers import AutoTokenizer

        self._tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self._ct2 = Ct2T5(path, self._tokenizer, self.device, self.precision, self.threads)
        return True

    def _input_ids(self, packed: PackedPrompt) -> list[int]:
        encoded = self._tokenizer(packed.text, truncation=True, max_length=self.max_input_tokens)
        return [int(i) for i in encoded["input_ids"]]

    @property
    def max_input_tokens(self) -> int:
        limit = int(getattr(self._tokenizer, "model_max_length", DEFAULT_MAX_TOKENS) or DEFAULT_MAX_TOKENS)
        return min(limit, DEFAULT_MAX_TOKENS)

    def pack(self, request: GenerationRequest) -> PackedPrompt:
        """The exact model input for `request` (loads the tokenizer if needed)."""
        self.load()
        return build_prompt(request, tokenizer_counter(self._tokenizer), self.max_input_tokens)

    def _inputs(self, packed: PackedPrompt) -> dict[str, Any]:
        encoded = self._tokenizer(
            packed.text, return_tensors="pt", truncation=True, max_length=self.max_input_tokens
        )
        device = next(self._model.parameters()).device
        return {key: value.to(device) for key, value in encoded.items()}

    def _generate_kwargs(self) -> dict[str, Any]:
        return {"max_new_tokens": self.max_new_tokens, "do_sample": False, "num_beams": 1}

    def _finish(self, request: GenerationRequest, prompt: str) -> Any:
        def finish(text: str) -> Answer:
            return finish_answer(
                text, request, generator=self.name, prompt=prompt, threshold=self.grounding_threshold
            )

        return finish

    def generate(self, request: GenerationRequest) -> Answer:
        packed = self.pack(request)
        finish = self._finish(request, packed.text)
        if not packed.evidence:
            return finish("")  # nothing to ground an answer in: abstain without running the model
        if self._ct2 is not None:
            ids = self._ct2.generate_ids(self._input_ids(packed), self.max_new_tokens)
            return finish(self._tokenizer.decode(ids, skip_special_tokens=True))
        import torch

        with torch.inference_mode():
            output = self._model.generate(**self._inputs(packed), **self._generate_kwargs())
        return finish(self._tokenizer.decode(output[0], skip_special_tokens=True))

    def stream(self, request: GenerationRequest) -> AnswerStream:
        packed = self.pack(request)
        finish = self._finish(request, packed.text)
        if not packed.evidence:
            return AnswerStream((), finish)
        if self._ct2 is not None:
            ids = self._ct2.stream_ids(self._input_ids(packed), self.max_new_tokens)
            return AnswerStream(text_pieces(self._tokenizer, ids), finish)
        return AnswerStream(self._pieces(packed), finish)

    def _pieces(self, packed: PackedPrompt) -> Iterator[str]:
        import torch
        from transformers import TextIteratorStreamer

        streamer = TextIteratorStreamer(
            self._tokenizer, skip_prompt=True, timeout=STREAM_TIMEOUT_S, skip_special_tokens=True
        )
        failure: list[BaseException] = []
        kwargs = {**self._inputs(packed), **self._generate_kwargs(), "streamer": streamer}

        def work() -> None:
            try:
                with torch.inference_mode():
                    self._model.generate(**kwargs)
            except BaseException as exc:  # re-raised in the reading thread below
                failure.append(exc)
                streamer.end()

        worker = threading.Thread(target=work, name="t5-generate", daemon=True)
        worker.start()
        yield from streamer
        worker.join()
        if failure:
            raise failure[0]
