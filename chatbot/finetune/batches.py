"""Fine-tuning batches: examples tokenised exactly as at chat time, padded into tensors, and the
mixed-precision context the training loop and its evaluation run in."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from chatbot.finetune.data import Example
from chatbot.generators.grounding import parse_citations
from chatbot.generators.prompt import DEFAULT_MAX_TOKENS, build_prompt, tokenizer_counter


@dataclass(frozen=True)
class Encoded:
    """One tokenised example: the prompt and answer ids, and the passage numbers it may cite."""

    input_ids: list[int]
    labels: list[int]
    prompt: str
    answer: str
    valid_numbers: tuple[int, ...]


def encode(examples: Sequence[Example], tokenizer: Any, max_target_tokens: int) -> tuple[list[Encoded], int]:
    """Tokenised examples, and how many were skipped because a cited passage did not fit the input."""
    count = tokenizer_counter(tokenizer)
    limit = min(int(getattr(tokenizer, "model_max_length", DEFAULT_MAX_TOKENS)), DEFAULT_MAX_TOKENS)
    out: list[Encoded] = []
    skipped = 0
    for example in examples:
        packed = build_prompt(example.request(), count, limit)
        numbers = tuple(e.number for e in packed.evidence)
        if not set(parse_citations(example.answer)) <= set(numbers):
            skipped += 1
            continue
        ids = tokenizer(packed.text, truncation=True, max_length=limit)["input_ids"]
        labels = tokenizer(example.answer, truncation=True, max_length=max_target_tokens)["input_ids"]
        out.append(Encoded(list(ids), list(labels), packed.text, example.answer, numbers))
    return out, skipped


def collate(batch: Sequence[Encoded], pad_id: int, device: Any) -> dict[str, Any]:
    import torch

    width = max(len(e.input_ids) for e in batch)
    target = max(len(e.labels) for e in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    labels = torch.full((len(batch), target), -100, dtype=torch.long)
    for row, e in enumerate(batch):
        ids[row, : len(e.input_ids)] = torch.tensor(e.input_ids)
        mask[row, : len(e.input_ids)] = 1
        labels[row, : len(e.labels)] = torch.tensor(e.labels)
    return {"input_ids": ids.to(device), "attention_mask": mask.to(device), "labels": labels.to(device)}


def autocast(device: Any) -> Any:
    """Mixed precision per the policy of `core.devices` (bfloat16 autocast on CUDA, none on CPU)."""
    import torch

    from core.devices import autocast_dtype

    dtype = autocast_dtype(device)
    if dtype is not None:
        return torch.autocast(device_type=device.type, dtype=dtype)
    return contextlib.nullcontext()
