"""Fine-tuning: metrics, the JSONL format, the Bitext and KB converters, the training loop on a tiny T5."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from chatbot.finetune.bitext import bitext_to_examples, fill_placeholders
from chatbot.finetune.data import (
    Example,
    Passage,
    kb_examples,
    load_examples,
    write_examples,
)
from chatbot.finetune.metrics import citation_accuracy, citation_correct, lcs_length, rouge_l
from chatbot.finetune.train import FinetuneOptions, finetune, latest_checkpoint, split_examples
from chatbot.generators.grounding import parse_citations
from chatbot.generators.prompt import build_prompt
from chatbot.generators.protocol import ABSTAIN_TEXT
from core.errors import ConfigError, InputError
from core.types import Chunk
from tests.tiny_t5 import save_tiny_t5

RESET = "To reset the X200 router, hold the reset button for ten seconds."
RETURNS = "Returns are accepted within 30 days of delivery."
CAMERA = "The C5 camera stores clips on a microSD card."
PLUG = "The P2 smart plug works with 2.4 GHz Wi-Fi only."


def _examples() -> list[Example]:
    return [
        Example(
            "How do I reset my router?",
            (Passage("Returns", RETURNS), Passage("Reset", RESET)),
            f"{RESET} [2]",
        ),
        Example(
            "How long do I have to return it?",
            (Passage("Returns", RETURNS), Passage("Plug", PLUG)),
            "30 days [1]",
        ),
        Example(
            "Where are camera clips stored?",
            (Passage("Plug", PLUG), Passage("Camera", CAMERA)),
            f"{CAMERA} [2]",
        ),
        Example("Does the plug support 5 GHz?", (Passage("Plug", PLUG),), f"{PLUG} [1]"),
        Example("What is the capital of France?", (Passage("Reset", RESET),), ABSTAIN_TEXT),
        Example("Tell me a joke", (Passage("Camera", CAMERA),), ABSTAIN_TEXT, ("hi",)),
    ]


def test_lcs_and_rouge_l() -> None:
    assert lcs_length(["a", "b", "c", "d"], ["a", "c", "d", "e"]) == 3
    assert rouge_l("the cat sat on the mat [1]", "The cat sat on the mat.") == 1.0
    assert rouge_l("the cat sat on the mat", "the cat is on the mat") == pytest.approx(5 / 6)
    assert rouge_l("completely different words", "nothing shared here") == 0.0


def test_citation_accuracy() -> None:
    assert citation_correct("Hold it [2].", "Hold the button [2].", {1, 2})
    assert not citation_correct("Hold it [1].", "Hold the button [2].", {1, 2})
    assert not citation_correct("Hold it [3].", "Hold it [3].", {1, 2}), (
        "a citation must name a given passage"
    )
    assert not citation_correct("Hold it.", "Hold it [1].", {1})
    assert citation_correct(ABSTAIN_TEXT, ABSTAIN_TEXT, {1})
    assert not citation_correct("Hold it [1].", ABSTAIN_TEXT, {1})
    assert citation_accuracy(["a [1]", "b [2]"], ["x [1]", "y [1]"], [{1, 2}, {1, 2}]) == 0.5


def test_examples_round_trip_and_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    write_examples(path, _examples())
    assert load_examples(path) == _examples()
    first = json.loads(path.read_text().splitlines()[0])
    assert first["evidence"][0] == {"title": "Returns", "text": RETURNS}

    lines = path.read_text().splitlines()
    (tmp_path / "bad_json.jsonl").write_text(lines[0] + "\n{not json\n")
    with pytest.raises(InputError, match=r"bad_json\.jsonl:2: not valid JSON"):
        load_examples(tmp_path / "bad_json.jsonl")
    bad_cite = {"question": "q", "evidence": ["only one"], "answer": "see [3]"}
    (tmp_path / "bad_cite.jsonl").write_text("\n" + json.dumps(bad_cite) + "\n")
    with pytest.raises(InputError, match=r"bad_cite\.jsonl:2: answer cites \[3\] but the example has 1"):
        load_examples(tmp_path / "bad_cite.jsonl")
    typo = {"question": "q", "evidence": ["p"], "anwser": "a [1]"}
    (tmp_path / "typo.jsonl").write_text(json.dumps(typo) + "\n")
    with pytest.raises(InputError, match=r"typo\.jsonl:1: unknown key\(s\) \['anwser'\]"):
        load_examples(tmp_path / "typo.jsonl")


def _write_bitext(path: Path) -> None:
    rows = [
        (
            "B",
            "cancel my order {{Order Number}}",
            "ORDER",
            "cancel_order",
            "I can help you cancel order {{Order Number}}. "
            "Open {{Online Company Portal Info}} and choose Cancel.",
        ),
        (
            "B",
            "how do I get a refund",
            "REFUND",
            "get_refund",
            "Refunds of {{Refund Amount}} are paid within five days. "
            "Contact us at {{Customer Support Phone Number}}.",
        ),
        (
            "B",
            "I forgot my password",
            "ACCOUNT",
            "recover_password",
            "Choose Forgot password on the sign-in page. We send a reset link to your e-mail.",
        ),
        (
            "B",
            "track my parcel",
            "DELIVERY",
            "track_order",
            "Track the parcel under {{Online Order Interaction}}. The {{Tracking Widget}} shows where it is.",
        ),
        (
            "B",
            "change my shipping address",
            "DELIVERY",
            "change_shipping_address",
            "You can change the address until the order ships. Go to Orders and edit the address.",
        ),
    ]
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["flags", "instruction", "category", "intent", "response"])
        writer.writerows(rows)


def test_bitext_converter(tmp_path: Path) -> None:
    path = tmp_path / "bitext.csv"
    _write_bitext(path)
    examples = bitext_to_examples(path, distractors=2, abstain_fraction=0.0, seed=3)
    assert len(examples) == 5
    for example in examples:
        assert "{{" not in example.question and "{{" not in example.answer
        assert all("{{" not in p.text for p in example.evidence)
        (gold,) = parse_citations(example.answer)
        assert example.answer.endswith(f" [{gold}]") and len(example.evidence) == 3
        answer_text = example.answer.rsplit(" [", 1)[0]
        assert example.evidence[gold - 1].text.startswith(answer_text)
        others = [p.title for i, p in enumerate(example.evidence, start=1) if i != gold]
        assert example.evidence[gold - 1].title not in others, "distractors come from other intents"
    assert examples[0].question == "cancel my order ORD-48213"
    assert (
        "the tracking widget"
        in examples[3].evidence[[p.title for p in examples[3].evidence].index("track order")].text
    )
    assert {parse_citations(e.answer)[0] for e in examples} != {1}, "the gold passage is not always first"

    first = bitext_to_examples(path, gold_first=True, abstain_fraction=0.0)
    assert all(e.answer.endswith(" [1]") for e in first)
    abstaining = bitext_to_examples(path, abstain_fraction=1.0)
    assert all(e.answer == ABSTAIN_TEXT and e.abstention for e in abstaining)
    assert fill_placeholders("call {{ Customer Support Phone Number }}") == "call 1-800-555-0199"


def test_kb_examples_from_faq_rows_and_sections() -> None:
    faq = Chunk(
        "faq.csv#row-1",
        0,
        "text",
        "Q: How do I reset my X200?\nA: " + RESET + " Then set it up again.",
        "reset",
        "faq.csv",
        "How do I reset my X200?",
        metadata={"kind": "table"},
    )
    section = Chunk(
        "manuals/c5.md",
        0,
        "text",
        "C5 camera setup > Storage\n\n" + CAMERA + " Format the card in the app. Use cards up to 256 GB.",
        "storage",
        "manuals/c5.md",
        "C5 camera setup",
        metadata={"kind": "document", "heading_path": ["Storage"]},
    )
    other = Chunk(
        "policies/returns.md",
        0,
        "text",
        "Returns policy\n\n" + RETURNS + " Keep the receipt please.",
        "returns",
        "policies/returns.md",
        "Returns policy",
        metadata={"kind": "document"},
    )
    examples = kb_examples([faq, section, other], distractors=1, abstentions=4, seed=1)
    by_question = {e.question: e for e in examples if not e.abstention and not e.hint}
    reset = by_question["How do I reset my X200?"]
    (n,) = parse_citations(reset.answer)
    assert reset.answer.startswith(RESET) and reset.evidence[n - 1].text.startswith("Q: How do I reset")
    storage = next(e for q, e in by_question.items() if "Storage" in q and "C5 camera setup" in q)
    (n,) = parse_citations(storage.answer)
    assert storage.answer.startswith(CAMERA) and "C5 camera setup" in storage.evidence[n - 1].text
    abstentions = [e for e in examples if e.abstention]
    assert len(abstentions) == 4 and all(e.answer == ABSTAIN_TEXT for e in abstentions)


def test_options_are_validated(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="epochs"):
        FinetuneOptions(tmp_path / "t.jsonl", tmp_path / "out", epochs=0)
    with pytest.raises(ConfigError, match="eval fraction"):
        FinetuneOptions(tmp_path / "t.jsonl", tmp_path / "out", eval_fraction=1.0)


def test_split_is_seeded_and_holds_out_at_least_one() -> None:
    train, held = split_examples(_examples(), 0.1, seed=5)
    assert len(held) == 1 and len(train) == 5 and held[0] not in train
    assert split_examples(_examples(), 0.1, seed=5) == (train, held)


@pytest.mark.slow
def test_finetune_tiny_t5_loss_falls_checkpoints_and_resumes(tmp_path: Path) -> None:
    train_file, eval_file = tmp_path / "train.jsonl", tmp_path / "eval.jsonl"
    write_examples(train_file, _examples())
    write_examples(eval_file, _examples()[:2])
    base = save_tiny_t5(tmp_path / "base", extra_texts=[RESET, RETURNS, CAMERA, PLUG])
    out = tmp_path / "out"

    def options(max_steps: int, resume: bool) -> FinetuneOptions:
        return FinetuneOptions(
            train_file, out, base_model=str(base), eval_file=eval_file, epochs=1, batch_size=6, lr=3e-3,
            max_steps=max_steps, seed=1, resume=resume, device="cpu", max_new_tokens=8, warmup_fraction=0.0,
        )  # fmt: skip

    first = finetune(options(4, resume=False), progress=False)
    assert first.steps == 4 and first.resumed_from is None
    checkpoint = latest_checkpoint(out)
    assert checkpoint is not None and checkpoint.name == "step-0000004"
    assert (checkpoint / "model.safetensors").is_file() and (checkpoint / "training_state.pt").is_file()

    with pytest.raises(ConfigError, match="--resume"):
        finetune(options(8, resume=False), progress=False)

    second = finetune(options(12, resume=True), progress=False)
    assert second.resumed_from == checkpoint and second.steps == 12
    assert latest_checkpoint(out).name == "step-0000012"  # type: ignore[union-attr]
    assert second.train_loss_first is not None and second.train_loss_last is not None
    assert second.train_loss_last < second.train_loss_first, (
        "training on one repeated batch must lower the loss"
    )
    assert second.eval_examples == 2 and second.eval_loss is not None
    assert second.rouge_l is not None and 0.0 <= second.rouge_l <= 1.0
    assert second.citation_accuracy is not None and 0.0 <= second.citation_accuracy <= 1.0
    assert (out / "model.safetensors").is_file() and (out / "config.json").is_file()
    report = json.loads((out / "finetune_report.json").read_text())
    assert report["steps"] == 12 and report["output_dir"] == str(out)


@pytest.mark.slow
def test_resume_after_an_interruption_matches_an_uninterrupted_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from safetensors.torch import load_file

    import chatbot.finetune.train as train

    train_file = tmp_path / "train.jsonl"
    write_examples(train_file, _examples())
    base = save_tiny_t5(tmp_path / "base", extra_texts=[RESET, RETURNS, CAMERA, PLUG])

    def options(out: Path, resume: bool) -> FinetuneOptions:
        return FinetuneOptions(
            train_file, out, base_model=str(base), eval_fraction=0.0, epochs=2, batch_size=3, lr=3e-3,
            seed=2, resume=resume, device="cpu",
        )  # fmt: skip

    straight = finetune(options(tmp_path / "a", resume=False), progress=False)

    real_save = train._save_checkpoint

    def save_then_stop(*args: object, **kwargs: object) -> Path:
        # Simulates the process being killed right after the first epoch's checkpoint is written.
        real_save(*args, **kwargs)  # type: ignore[arg-type]
        raise KeyboardInterrupt

    monkeypatch.setattr(train, "_save_checkpoint", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        finetune(options(tmp_path / "b", resume=False), progress=False)
    monkeypatch.setattr(train, "_save_checkpoint", real_save)
    resumed = finetune(options(tmp_path / "b", resume=True), progress=False)

    assert resumed.resumed_from is not None and resumed.resumed_from.name == "step-0000002"
    assert straight.steps == resumed.steps == 4
    assert straight.train_loss_last == resumed.train_loss_last
    a = load_file(tmp_path / "a" / "model.safetensors")
    b = load_file(tmp_path / "b" / "model.safetensors")
    assert all(bool((a[key] == b[key]).all()) for key in a), "resumed weights equal the uninterrupted run's"


def test_data_command_converts_a_bitext_csv(tmp_path: Path) -> None:
    from chatbot.finetune.data import load_examples
    from chatbot.finetune.make_data import main

    csv_path = tmp_path / "bitext.csv"
    rows = [
        ("how do I cancel my order?", "cancel_order", "Go to {{Order History}} and press Cancel."),
        ("i want a refund", "get_refund", "Open {{Refunds}} and pick the item."),
        ("where is my parcel", "track_order", "Use the tracking link in your e-mail."),
    ]
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["instruction", "intent", "response"])
        writer.writerows(rows)
    out = tmp_path / "train.jsonl"
    assert main([str(csv_path), str(out)]) == 0
    examples = load_examples(out)
    assert len(examples) == 3
    assert all("{{" not in e.answer for e in examples)


def _q7_chunks() -> list[Chunk]:
    meta = {"kind": "document", "products": ["R1", "R9"], "entities": ["R1", "R9"]}
    texts = [
        ("Error Q-7", "Error Q-7\n\nQ-7 means the link to the router is lost."),
        (
            "Fix for the R1",
            "Error Q-7 > Fix for the R1\n\n1. Press **Link** on the R1.\n2. Wait two minutes.",
        ),
        ("Fix for the R9", "Error Q-7 > Fix for the R9\n\n1. Open the R9 app.\n2. Tap **Relink**."),
    ]
    chunks = [
        Chunk(
            "q7.md", i, "text", text, text, "q7.md", "Error Q-7", metadata={**meta, "heading_path": ["Q", h]}
        )
        for i, (h, text) in enumerate(texts)
    ]
    row = "Q: Can the R9 use the R1 adapter?\nA: No. The R9 needs the AD-19 adapter."
    faq = Chunk(
        "faq.csv#row-1", 0, "text", row, "", "faq.csv", "Can the R9 use the R1 adapter?",
        metadata={"kind": "table", "products": ["R9"]},
    )  # fmt: skip
    return [*chunks, faq]


def test_kb_examples_in_the_composers_shapes_with_the_plan_hint() -> None:
    examples = kb_examples(_q7_chunks(), distractors=1, abstentions=2, seed=3)
    shaped = {e.question: e for e in examples if e.hint}
    asked = shaped["How do I fix Error Q-7?"]
    assert asked.hint == "ask back" and asked.answer.endswith("**R1**, or **R9**?"), "a question back"
    steps = shaped["How do I fix Error Q-7? R9"]
    assert steps.answer == "**Fix for the R9** [1]\n\n1. Open the R9 app.\n2. Tap **Relink**."
    assert steps.hint == "steps from [1] Error Q-7 > Fix for the R9"
    yes_no = shaped["Can the R9 use the R1 adapter?"]
    assert yes_no.answer.startswith("No. The R9 needs the AD-19 adapter.") and yes_no.hint.startswith(
        "yes/no"
    )
    assert sum(e.answer == ABSTAIN_TEXT for e in examples) == 2, "refusals"
    prompt = build_prompt(steps.request()).text
    assert "plan: steps from [1] Error Q-7 > Fix for the R9" in prompt, "the same plan T5 sees at chat time"
    assert Example.from_dict(steps.to_dict()) == steps


def test_tiny_t5_finetunes_on_the_shaped_examples(tmp_path: Path) -> None:
    examples = [e for e in kb_examples(_q7_chunks(), distractors=1, abstentions=2, seed=3)]
    train_file = tmp_path / "train.jsonl"
    write_examples(train_file, examples)
    base = save_tiny_t5(tmp_path / "base", extra_texts=[e.answer for e in examples])
    options = FinetuneOptions(
        train_file, tmp_path / "out", base_model=str(base), epochs=1, batch_size=4, lr=3e-3, max_steps=3,
        seed=1, device="cpu", max_new_tokens=8, warmup_fraction=0.0,
    )  # fmt: skip
    report = finetune(options, progress=False)
    assert report.steps == 3 and report.train_loss_first is not None
