"""Fine-tuning a T5 answer generator on JSONL examples: a plain torch loop, checkpoints, resume, metrics.

Inputs are built exactly as at chat time (`chatbot.generators.prompt.build_prompt`), so the model
learns the same "question: ... context: [1] ..." format it will see. AdamW with linear warm-up and
decay, gradient clipping at 1.0, bfloat16 autocast on CUDA (float32 on CPU). After every epoch (and
when `max_steps` stops training mid-epoch) a checkpoint is written to
`<output_dir>/checkpoints/step-NNNNNNN/`: the model and tokenizer as safetensors, plus
`training_state.pt` (optimizer, scheduler, step, position in the epoch, losses). `resume=True`
continues from the latest one, reproducing the same batch order. The final model goes to
`<output_dir>` itself (usable as `--generator-model <output_dir>`) with `finetune_report.json`.
"""

from __future__ import annotations

import json
import logging
import math
import random
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from chatbot.finetune.batches import Encoded, autocast, collate, encode
from chatbot.finetune.data import Example, load_examples
from chatbot.finetune.metrics import citation_accuracy, mean_rouge_l
from chatbot.generators.prompt import DEFAULT_MAX_TOKENS
from chatbot.generators.t5 import DEFAULT_MODEL, resolve_model_path
from core.errors import ConfigError, InputError

log = logging.getLogger(__name__)

CHECKPOINTS = "checkpoints"
STATE_FILE = "training_state.pt"
REPORT_FILE = "finetune_report.json"
KEEP_CHECKPOINTS = 2


@dataclass(frozen=True)
class FinetuneOptions:
    """What `supportbot finetune` was asked to do; validated when built."""

    train_file: Path
    output_dir: Path
    base_model: str = DEFAULT_MODEL
    eval_file: Path | None = None
    eval_fraction: float = 0.1
    epochs: int = 3
    batch_size: int = 8
    lr: float = 3e-4
    max_steps: int | None = None
    seed: int = 0
    resume: bool = False
    device: str | None = None
    model_dir: Path | None = None
    max_target_tokens: int = 192
    max_new_tokens: int = 160
    max_eval_examples: int = 200
    warmup_fraction: float = 0.06

    def __post_init__(self) -> None:
        checks = (
            (self.epochs >= 1, f"epochs must be >= 1, got {self.epochs}"),
            (self.batch_size >= 1, f"batch size must be >= 1, got {self.batch_size}"),
            (0 < self.lr < 1, f"learning rate must be in (0, 1), got {self.lr}"),
            (0 <= self.eval_fraction < 1, f"eval fraction must be in [0, 1), got {self.eval_fraction}"),
            (self.max_steps is None or self.max_steps >= 1, f"max steps must be >= 1, got {self.max_steps}"),
            (self.max_target_tokens >= 8, "max_target_tokens must be >= 8"),
            (self.max_new_tokens >= 1, "max_new_tokens must be >= 1"),
            (self.max_eval_examples >= 0, "max_eval_examples must be >= 0"),
            (0 <= self.warmup_fraction < 1, "warmup_fraction must be in [0, 1)"),
            (
                bool(self.base_model.strip()),
                "base model is empty: give a model directory or google/flan-t5-base",
            ),
        )
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)


@dataclass(frozen=True)
class FinetuneReport:
    """What a run did. Losses are means over the first/last 10% of the steps (at least one step each)."""

    steps: int
    epochs_done: int
    train_examples: int
    eval_examples: int
    skipped_examples: int
    train_loss_first: float | None
    train_loss_last: float | None
    eval_loss: float | None
    rouge_l: float | None
    citation_accuracy: float | None
    output_dir: Path
    resumed_from: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["output_dir"] = str(self.output_dir)
        out["resumed_from"] = str(self.resumed_from) if self.resumed_from else None
        return out


def split_examples(
    examples: Sequence[Example], fraction: float, seed: int
) -> tuple[list[Example], list[Example]]:
    """A seeded held-out split: (train, eval). With fraction > 0 and >= 2 examples, eval holds >= 1."""
    if fraction <= 0 or len(examples) < 2:
        return list(examples), []
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    n_eval = min(len(examples) - 1, max(1, round(len(examples) * fraction)))
    held = set(order[:n_eval])
    return [e for i, e in enumerate(examples) if i not in held], [examples[i] for i in order[:n_eval]]


def latest_checkpoint(output_dir: Path) -> Path | None:
    """The checkpoint with the highest step under `<output_dir>/checkpoints`, if any is complete."""
    root = Path(output_dir) / CHECKPOINTS
    found = [p for p in root.glob("step-*") if (p / STATE_FILE).is_file()] if root.is_dir() else []
    return max(found, key=lambda p: int(p.name.split("-")[1]), default=None)


def _save_checkpoint(
    output_dir: Path, model: Any, tokenizer: Any, optimizer: Any, scheduler: Any, state: dict[str, Any]
) -> Path:
    import torch

    path = Path(output_dir) / CHECKPOINTS / f"step-{state['step']:07d}"
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)  # safetensors: transformers writes model.safetensors by default
    tokenizer.save_pretrained(path)
    torch.save(
        {**state, "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}, path / STATE_FILE
    )
    older = sorted((Path(output_dir) / CHECKPOINTS).glob("step-*"), key=lambda p: int(p.name.split("-")[1]))
    for stale in older[:-KEEP_CHECKPOINTS]:
        shutil.rmtree(stale, ignore_errors=True)
    return path


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def evaluate(
    model: Any, tokenizer: Any, data: Sequence[Encoded], options: FinetuneOptions, device: Any
) -> tuple[float | None, float | None, float | None]:
    """(eval loss, ROUGE-L, citation accuracy) on held-out examples; all None without any."""
    import torch

    if not data:
        return None, None, None
    model.eval()
    losses: list[float] = []
    predictions: list[str] = []
    sample = list(data[: options.max_eval_examples])
    with torch.inference_mode(), autocast(device):
        for start in range(0, len(data), options.batch_size):
            batch = collate(data[start : start + options.batch_size], tokenizer.pad_token_id, device)
            losses.append(float(model(**batch).loss))
        for start in range(0, len(sample), options.batch_size):
            batch = collate(sample[start : start + options.batch_size], tokenizer.pad_token_id, device)
            output = model.generate(
                input_ids=batch["input_ids"],
                attention_mask=batch["attention_mask"],
                max_new_tokens=options.max_new_tokens,
                do_sample=False,
                num_beams=1,
            )
            predictions.extend(tokenizer.batch_decode(output, skip_special_tokens=True))
    model.train()
    references = [e.answer for e in sample]
    valid = [e.valid_numbers for e in sample]
    return (
        _mean(losses),
        mean_rouge_l(predictions, references),
        citation_accuracy(predictions, references, valid),
    )


def _load(source: Path, device: Any) -> tuple[Any, Any]:
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
    model = AutoModelForSeq2SeqLM.from_pretrained(source, local_files_only=True, use_safetensors=True)
    return model.to(device=device), tokenizer


def _examples(options: FinetuneOptions) -> tuple[list[Example], list[Example]]:
    """(train, eval) examples: the eval file's, or a seeded split of the training file."""
    train_examples = load_examples(options.train_file)
    if options.eval_file is not None:
        return train_examples, load_examples(options.eval_file)
    return split_examples(train_examples, options.eval_fraction, options.seed)


def _resume_from(options: FinetuneOptions) -> Path | None:
    """The checkpoint to continue from; one left without --resume is an error, not overwritten."""
    checkpoint = latest_checkpoint(Path(options.output_dir))
    if checkpoint is not None and not options.resume:
        raise ConfigError(
            f"{options.output_dir} already holds training checkpoints ({checkpoint.name}); pass --resume to "
            "continue from the latest one, or choose another output directory"
        )
    return checkpoint


def _encode_all(
    options: FinetuneOptions, tokenizer: Any, train: list[Example], held: list[Example]
) -> tuple[list[Encoded], list[Encoded], int]:
    """(train data, eval data, examples skipped); no usable training example is an error."""
    train_data, skipped = encode(train, tokenizer, options.max_target_tokens)
    eval_data, skipped_eval = encode(held, tokenizer, options.max_target_tokens)
    skipped += skipped_eval
    if not train_data:
        raise InputError(
            f"{options.train_file}: no usable training example (each answer must cite passages that fit the "
            f"{DEFAULT_MAX_TOKENS}-token input); shorten the evidence passages"
        )
    if skipped:
        log.warning("%d example(s) skipped: a cited passage did not fit the input limit", skipped)
    return train_data, eval_data, skipped


def _optimiser(model: Any, options: FinetuneOptions, total: int) -> tuple[Any, Any]:
    """AdamW with linear warm-up over `warmup_fraction` of the steps, then linear decay to 0."""
    import torch

    warmup = int(total * options.warmup_fraction)

    def schedule(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        return max(0.0, (total - step) / max(1, total - warmup))

    optimizer = torch.optim.AdamW(model.parameters(), lr=options.lr, weight_decay=0.01)
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)


def _start_state(
    options: FinetuneOptions, checkpoint: Path | None, optimizer: Any, scheduler: Any, device: Any
) -> dict[str, Any]:
    """The loop's position: fresh, or the checkpoint's (its optimizer and scheduler loaded too)."""
    import torch

    state: dict[str, Any] = {
        "step": 0,
        "epoch": 0,
        "batch_in_epoch": 0,
        "losses": [],
        "seed": options.seed,
        "batch_size": options.batch_size,
    }
    if checkpoint is None:
        return state
    saved = torch.load(checkpoint / STATE_FILE, map_location=device, weights_only=True)
    if saved["seed"] != options.seed or saved["batch_size"] != options.batch_size:
        raise ConfigError(
            f"{checkpoint} was trained with seed {saved['seed']} and batch size {saved['batch_size']}; "
            "resume with the same --seed and --batch-size"
        )
    optimizer.load_state_dict(saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
    log.info("resuming from %s at step %d", checkpoint, saved["step"])
    return {k: saved[k] for k in state}


@dataclass
class _Loop:
    """What the training loop works on; `state` is its position, saved with every checkpoint."""

    model: Any
    tokenizer: Any
    optimizer: Any
    scheduler: Any
    device: Any
    options: FinetuneOptions
    state: dict[str, Any]

    def step(self, batch: list[Encoded]) -> float:
        """One optimiser step on one batch; its loss."""
        import torch

        inputs = collate(batch, self.tokenizer.pad_token_id, self.device)
        with autocast(self.device):
            loss = self.model(**inputs).loss
        if not torch.isfinite(loss):
            raise ConfigError(
                f"training diverged at step {self.state['step'] + 1} (loss {float(loss)}); lower --lr"
            )
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return float(loss.detach())

    def epoch_batches(self, size: int) -> list[list[int]]:
        """This epoch's batches of example indices, in the seeded order a resumed run repeats."""
        import torch

        seed = self.options.seed + self.state["epoch"]
        order = torch.randperm(size, generator=torch.Generator().manual_seed(seed))
        step = self.options.batch_size
        return [order[i : i + step].tolist() for i in range(0, len(order), step)]


def _train(loop: _Loop, train_data: list[Encoded], total: int, output_dir: Path, progress: bool) -> None:
    """Epochs of steps from the loop's position to `total` steps, a checkpoint after each epoch."""
    from tqdm import tqdm

    options, state = loop.options, loop.state
    loop.model.train()
    bar = tqdm(
        total=total, initial=min(state["step"], total), desc="finetune", unit="step", disable=not progress
    )
    stop = state["step"] >= total
    # Like Hugging Face's Trainer, max_steps (when given) overrides the number of epochs.
    while not stop and (options.max_steps is not None or state["epoch"] < options.epochs):
        batches = loop.epoch_batches(len(train_data))
        for index in range(state["batch_in_epoch"], len(batches)):
            value = loop.step([train_data[i] for i in batches[index]])
            state["step"] += 1
            state["batch_in_epoch"] = index + 1
            state["losses"].append(value)
            bar.update(1)
            bar.set_postfix(loss=f"{value:.4f}", epoch=state["epoch"] + 1)
            if state["step"] >= total:
                stop = True
                break
        if state["batch_in_epoch"] >= len(batches):
            state["epoch"] += 1
            state["batch_in_epoch"] = 0
        _save_checkpoint(output_dir, loop.model, loop.tokenizer, loop.optimizer, loop.scheduler, state)
    bar.close()


def finetune(options: FinetuneOptions, *, progress: bool = True) -> FinetuneReport:
    """Train, checkpoint, evaluate and save; see the module doc. Raises SupportbotError subclasses."""
    import torch

    from core.devices import best_device

    output_dir = Path(options.output_dir)
    train_examples, eval_examples = _examples(options)
    checkpoint = _resume_from(options)
    device = best_device(options.device)
    source = (
        checkpoint if checkpoint is not None else resolve_model_path(options.base_model, options.model_dir)
    )
    torch.manual_seed(options.seed)
    model, tokenizer = _load(source, device)
    train_data, eval_data, skipped = _encode_all(options, tokenizer, train_examples, eval_examples)
    total = options.max_steps or options.epochs * math.ceil(len(train_data) / options.batch_size)
    optimizer, scheduler = _optimiser(model, options, total)
    state = _start_state(options, checkpoint, optimizer, scheduler, device)
    _train(
        _Loop(model, tokenizer, optimizer, scheduler, device, options, state),
        train_data,
        total,
        output_dir,
        progress,
    )

    eval_loss, rouge, citations = evaluate(model, tokenizer, eval_data, options, device)
    model.save_pretrained(output_dir)
    tokenizer.save_pretrained(output_dir)
    losses: list[float] = state["losses"]
    k = max(1, len(losses) // 10)
    report = FinetuneReport(
        steps=state["step"],
        epochs_done=state["epoch"],
        train_examples=len(train_data),
        eval_examples=len(eval_data),
        skipped_examples=skipped,
        train_loss_first=_mean(losses[:k]),
        train_loss_last=_mean(losses[-k:]),
        eval_loss=eval_loss,
        rouge_l=rouge,
        citation_accuracy=citations,
        output_dir=output_dir,
        resumed_from=checkpoint,
    )
    (output_dir / REPORT_FILE).write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
    return report
