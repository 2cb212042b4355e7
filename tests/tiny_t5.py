"""A tiny, randomly initialised T5 and a tokenizer trained in-process: real code paths, no download.

The tokenizer is a `tokenizers` Unigram model with a Metaspace pre-tokenizer (the same scheme as the
real T5 SentencePiece vocabulary) trained on a small support-flavoured corpus plus any extra texts,
with every printable ASCII character in its alphabet so nothing in the tests maps to <unk>. It is
wrapped as a `PreTrainedTokenizerFast` with T5's special tokens (<pad>=0, </s>=1, <unk>=2).
"""

from __future__ import annotations

import json
import string
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from chatbot.generators.prompt import INSTRUCTION

CORPUS = (
    INSTRUCTION,
    "question: history: context: [1] [2] [3] [4] [5] [6] [7] [8] [9] [10]",
    "To reset the X200 router, hold the reset button for ten seconds until the light blinks amber.",
    "Returns are accepted within 30 days of delivery if the item is in its original packaging.",
    "Error E42 means the mesh link to the extender was lost; move the extender closer to the router.",
    "The smart plug supports 2.4 GHz Wi-Fi networks only and cannot join a 5 GHz network.",
    "Refunds are paid to the original payment method within five business days.",
    "The warranty covers manufacturing defects for two years from the date of purchase.",
    "Update the firmware from the app: open Settings, choose Firmware and tap Update now.",
    "Our support team is available Monday to Friday from 8 am to 6 pm.",
    "The camera stores clips on a microSD card; format the card if you see error E57.",
    "I can't answer that reliably from our support knowledge.",
    "How do I reset my router? What is the return policy? Why is my camera offline?",
)


def tiny_tokenizer(extra_texts: Iterable[str] = (), vocab_size: int = 400) -> Any:
    """A trained Unigram tokenizer wrapped as a fast Hugging Face tokenizer (model_max_length 512)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    special = ["<pad>", "</s>", "<unk>"]
    tokenizer = Tokenizer(models.Unigram())
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    trainer = trainers.UnigramTrainer(
        vocab_size=vocab_size,
        special_tokens=special,
        unk_token="<unk>",
        initial_alphabet=list(string.printable.strip()),
        show_progress=False,
    )
    tokenizer.train_from_iterator([*CORPUS, *extra_texts], trainer)
    # The trainer hands out ids (and the scores of alphabet characters it never merged) in a hash
    # map's order, different on every run; ids in token order, scores rounded, make the tiny models
    # (which are seeded) the same on every run.
    trained = json.loads(tokenizer.to_str())["model"]
    vocab = [(str(t), round(float(v), 6)) for t, v in trained["vocab"]]
    ordered = vocab[: len(special)] + sorted(vocab[len(special) :])
    tokenizer.model = models.Unigram(ordered, unk_id=trained["unk_id"], byte_fallback=False)
    eos_id = tokenizer.token_to_id("</s>")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", eos_id)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token="<pad>",
        eos_token="</s>",
        unk_token="<unk>",
        model_max_length=512,
    )


def tiny_t5(tokenizer: Any, seed: int = 0, layers: int = 1) -> Any:
    """A random T5ForConditionalGeneration with d_model 32 sized to `tokenizer`'s vocabulary."""
    import torch
    from transformers import T5Config, T5ForConditionalGeneration

    torch.manual_seed(seed)
    config = T5Config(  # type: ignore[call-arg]  # T5Config takes these through **kwargs
        vocab_size=len(tokenizer),
        d_model=32,
        d_ff=64,
        d_kv=8,
        num_heads=2,
        num_layers=layers,
        num_decoder_layers=layers,
        relative_attention_num_buckets=8,
        decoder_start_token_id=tokenizer.pad_token_id,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        dropout_rate=0.0,
    )
    model = T5ForConditionalGeneration(config)
    model.eval()
    return model


def wordy_generation(model: Any, tokenizer: Any) -> None:
    """Make the random model's greedy output several distinct letter/digit tokens (saved with the model).

    A random T5 tends to repeat one token, often punctuation, which a streamer holds back until a
    space: streaming tests would then see a single piece. This sets the model's own generation config
    (as real checkpoints carry one): no repeated token, no symbol-only tokens, at least 6 new tokens.
    """
    symbols = [
        token_id
        for token, token_id in tokenizer.get_vocab().items()
        if token_id not in tokenizer.all_special_ids
        and not any(ch.isalnum() for ch in tokenizer.convert_tokens_to_string([token]))
    ]
    model.generation_config.no_repeat_ngram_size = 1
    model.generation_config.suppress_tokens = symbols
    model.generation_config.min_new_tokens = 6


def save_tiny_t5(
    directory: Path, extra_texts: Iterable[str] = (), seed: int = 0, wordy: bool = False
) -> Path:
    """Write a tiny model + tokenizer as a local checkpoint directory (config, safetensors, tokenizer)."""
    tokenizer = tiny_tokenizer(extra_texts)
    model = tiny_t5(tokenizer, seed)
    if wordy:
        wordy_generation(model, tokenizer)
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory
