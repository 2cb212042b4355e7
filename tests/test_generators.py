"""Answer generators: prompt packing, citations, grounding, the extractive and T5 backends, the factory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chatbot.generators.composer import ComposerGenerator
from chatbot.generators.factory import make_generator
from chatbot.generators.grounding import check_grounding, finish_answer, is_abstention, parse_citations
from chatbot.generators.prompt import build_prompt, tokenizer_counter
from chatbot.generators.protocol import (
    ABSTAIN_TEXT,
    Answer,
    AnswerStream,
    Evidence,
    GenerationRequest,
    evidence_from_hits,
)
from chatbot.generators.t5 import T5Generator
from core.config import Settings
from core.errors import ConfigError, InputError, ModelMissingError
from core.types import Hit
from tests.contract_generator import RESET, RETURNS, GeneratorContract
from tests.fakes import ScriptedGenerator
from tests.tiny_t5 import save_tiny_t5, tiny_tokenizer


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    return tiny_tokenizer()


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_t5(tmp_path_factory.mktemp("tiny") / "tiny-t5", wordy=True)


class TestComposerContract(GeneratorContract):
    NAME = "composer"

    @pytest.fixture
    def generator(self) -> ComposerGenerator:
        return ComposerGenerator()


class TestTinyT5Contract(GeneratorContract):
    NAME = "t5"

    @pytest.fixture
    def generator(self, tiny_dir: Path) -> T5Generator:
        return T5Generator(str(tiny_dir), device="cpu", max_new_tokens=12)


class TestScriptedGeneratorContract(GeneratorContract):
    """The fake of `tests/fakes.py` keeps the same contract as the real backends."""

    NAME = "scripted"

    @pytest.fixture
    def generator(self) -> ScriptedGenerator:
        return ScriptedGenerator({"reset": "Hold the reset button for ten seconds [1]."})


def test_request_validation() -> None:
    with pytest.raises(InputError, match="question is empty"):
        GenerationRequest("   ")
    with pytest.raises(InputError, match="unique"):
        GenerationRequest("q", (), (RESET, RESET))
    with pytest.raises(InputError, match="start at 1"):
        Evidence(0, "d", "text")


def test_evidence_from_hits_numbers_best_first() -> None:
    hits = [
        Hit("a", "doc-a", 0, "text", "alpha text", "doc-a", 0.9, metadata={"title": "Alpha"}),
        Hit("b", "doc-b", 0, "image", "beta caption", "doc-b", 0.5),
    ]
    evidence = evidence_from_hits(hits)
    assert [(e.number, e.doc_id, e.title, e.modality) for e in evidence] == [
        (1, "doc-a", "Alpha", "text"),
        (2, "doc-b", "", "image"),
    ]


def test_prompt_format_when_everything_fits() -> None:
    request = GenerationRequest(
        "How do I reset it?", ("I have an X200.", "It keeps dropping."), (RESET, RETURNS)
    )
    packed = build_prompt(request, instruction="")
    assert packed.text.startswith(
        "question: How do I reset it? history: I have an X200. | It keeps dropping."
    )
    # RESET's text already starts with its title, so the title is not repeated; RETURNS' is added.
    assert " context: [1] X200 Router > Reset To reset the X200 router" in packed.text
    assert "[2] (Returns policy) Returns are accepted within 30 days" in packed.text
    assert packed.truncated == () and packed.dropped == ()
    assert [e.number for e in packed.evidence] == [1, 2]


def test_prompt_packing_respects_the_512_token_limit(tokenizer: Any) -> None:
    long_text = " ".join(f"step {i} press the reset button and wait for the amber light." for i in range(60))
    evidence = tuple(Evidence(n, f"doc-{n}", long_text, f"Guide {n}") for n in range(1, 13))
    request = GenerationRequest("How do I reset the router? " * 40, ("earlier turn " * 80,), evidence)
    count = tokenizer_counter(tokenizer)
    packed = build_prompt(request, count, 512)
    assert count(packed.text) <= 512
    assert packed.tokens == count(packed.text)
    kept = [e.number for e in packed.evidence]
    assert kept == list(range(1, len(kept) + 1)) and kept, "passages stay numbered 1..k, best first"
    assert packed.dropped == tuple(range(len(kept) + 1, 13))
    assert packed.truncated and set(packed.truncated) <= set(kept)
    for number in kept:
        assert f"[{number}] (Guide {number})" in packed.text
    assert f"[{len(kept) + 1}]" not in packed.text


def test_parse_citations_in_order_of_first_appearance() -> None:
    assert parse_citations("Hold it [2]. Then wait [1, 3]; see [2] again.") == (2, 1, 3)
    assert parse_citations("no citation here, only [a] and (1)") == ()


def test_grounding_accepts_supported_and_rejects_unsupported_answers() -> None:
    evidence = (RESET, RETURNS)
    grounded, support, bad = check_grounding("Hold the reset button for ten seconds [1].", evidence)
    assert grounded and support == 1.0 and bad == ()

    unsupported = "Unplug the modem, call your provider and ask for a replacement antenna [1]."
    grounded, support, bad = check_grounding(unsupported, evidence)
    assert not grounded and support < 0.5 and bad == ()

    # Supported words cited to the wrong passage are not support.
    assert not check_grounding("Hold the reset button for ten seconds [2].", evidence).grounded

    grounded, _, bad = check_grounding("Hold the reset button for ten seconds [7].", evidence)
    assert not grounded and bad == (7,)

    assert not check_grounding("Hold the reset button for ten seconds.", evidence).grounded


def test_finish_answer_reasons_and_abstention() -> None:
    request = GenerationRequest("How do I reset it?", (), (RESET, RETURNS))
    invented = finish_answer("Hold the reset button [4].", request, generator="t", prompt="p")
    assert not invented.grounded and "[4]" in invented.reason and invented.prompt == "p"
    abstained = finish_answer(ABSTAIN_TEXT, request, generator="t", prompt="p")
    assert abstained.abstained and not abstained.grounded
    assert is_abstention("Sorry, I cannot answer that.") and not is_abstention("Hold the button [1].")
    no_evidence = finish_answer("anything", GenerationRequest("q?"), generator="t", prompt="p")
    assert no_evidence.abstained and "no evidence" in no_evidence.reason


def test_composer_quotes_and_cites_the_right_passage() -> None:
    request = GenerationRequest(
        "How do I reset my X200 router?", (), (RETURNS, RESET_AS_2 := _renumber(RESET, 3))
    )
    answer = ComposerGenerator().generate(request)
    assert answer.citations == (RESET_AS_2.number,)
    assert "hold the reset button for ten seconds" in answer.text.lower() and "[3]" in answer.text
    assert "Returns" not in answer.text, "the other passage is not about resetting"
    assert answer.grounded and answer.support == 1.0 and not answer.abstained
    assert answer.generator == "composer" and "question: How do I reset" in answer.prompt


def test_composer_abstains_when_nothing_matches() -> None:
    answer = ComposerGenerator().generate(GenerationRequest("Which vacuum cleaner?", (), (RESET,)))
    assert answer.abstained and not answer.grounded and answer.citations == ()


def test_composer_stream_joins_to_the_answer() -> None:
    request = GenerationRequest(
        "Can I get a refund after 30 days of delivery? How do I reset it?", (), (RESET, RETURNS)
    )
    stream = ComposerGenerator().stream(request)
    with pytest.raises(RuntimeError):
        _ = stream.answer
    pieces = list(stream)
    assert len(pieces) >= 2 and "".join(pieces) == stream.answer.text
    assert stream.answer.citations == (2, 1)


def test_answer_stream_strips_like_the_final_answer() -> None:
    def finish(text: str) -> Answer:
        return Answer(text, (), False, 0.0, "test", prompt="")

    stream = AnswerStream(["  ", " Hold", " the ", " ", "button ", "  "], finish)
    pieces = list(stream)
    assert "".join(pieces) == stream.answer.text == "Hold the  button"
    with pytest.raises(RuntimeError, match="once"):
        list(stream)


def test_missing_flan_t5_says_what_to_put_where(tmp_path: Path) -> None:
    generator = T5Generator("google/flan-t5-base", model_dir=tmp_path)
    with pytest.raises(ModelMissingError) as info:
        generator.load()
    message = str(info.value)
    assert str(tmp_path / "flan-t5-base") in message
    for needle in (
        "config.json",
        "model.safetensors",
        "tokenizer",
        "--generator-model DIR",
        "supportbot models download flan-t5-base",
    ):
        assert needle in message


def test_incomplete_model_dir_lists_the_missing_files(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "pytorch_model.bin").write_bytes(b"")
    with pytest.raises(ModelMissingError) as info:
        T5Generator(str(tmp_path)).load()
    message = str(info.value)
    assert "model.safetensors (only safetensors" in message and "tokenizer files" in message
    missing_part = message.split("is missing")[1].split(". Download")[0]
    assert not missing_part.startswith(" config.json") and f"into {tmp_path}/" in message


def test_t5_generates_from_a_local_directory_and_streams_the_same_text(tiny_dir: Path) -> None:
    generator = T5Generator(str(tiny_dir), device="cpu", max_new_tokens=12)
    generator.load()
    generator.load()  # safe twice
    request = GenerationRequest("How do I reset the router?", ("hello",), (RESET, RETURNS))
    answer = generator.generate(request)
    assert answer.generator == "t5" and answer.prompt == generator.pack(request).text
    assert answer.text, "a random model still emits tokens"
    assert answer.citations == parse_citations(answer.text)
    assert not answer.grounded, "a random model's output is not supported by the evidence"

    stream = generator.stream(request)
    pieces = list(stream)
    assert len(pieces) > 1
    assert "".join(pieces) == stream.answer.text == answer.text


def test_t5_abstains_without_evidence(tiny_dir: Path) -> None:
    answer = T5Generator(str(tiny_dir), device="cpu").generate(GenerationRequest("Anything?"))
    assert answer.abstained and answer.text == "" and "no evidence" in answer.reason


def test_factory_builds_by_name_and_rejects_unknown() -> None:
    assert isinstance(make_generator(Settings(), "t5"), T5Generator)
    assert isinstance(make_generator(Settings(), "Extractive"), ComposerGenerator), "the old name still works"
    assert isinstance(make_generator(Settings(), "composer"), ComposerGenerator)
    with pytest.raises(ConfigError, match="unknown generator 'gpt'"):
        make_generator(Settings(), "gpt")
    with pytest.raises(ConfigError, match="uses no model"):
        make_generator(Settings(generator_model="some/dir"), "extractive")


def _renumber(evidence: Evidence, number: int) -> Evidence:
    return Evidence(number, evidence.doc_id, evidence.text, evidence.title, evidence.modality, evidence.score)


def test_t5_on_ctranslate2_decodes_and_streams_the_same_text_as_transformers(tmp_path: Path) -> None:
    from chatbot.generators.t5_ct2 import convert_t5, converted_dir

    model_dir = save_tiny_t5(tmp_path / "tiny-t5", wordy=True)
    request = GenerationRequest("How do I reset the router?", ("hello",), (RESET, RETURNS))
    reference = T5Generator(str(model_dir), device="cpu", max_new_tokens=12, runtime="hf")
    expected = reference.generate(request)
    assert converted_dir(model_dir) is None
    convert_t5(model_dir)
    assert converted_dir(model_dir) is not None
    fast = T5Generator(str(model_dir), device="cpu", max_new_tokens=12, precision="float32")
    answer = fast.generate(request)
    assert fast.active_runtime == "ctranslate2" and reference.active_runtime == "hf"
    assert answer.text == expected.text and answer.text
    assert answer.grounded == expected.grounded and answer.citations == expected.citations
    stream = fast.stream(request)
    pieces = list(stream)
    assert len(pieces) > 1 and "".join(pieces) == answer.text
    assert stream.answer == answer
    plain = save_tiny_t5(tmp_path / "plain-t5")
    with pytest.raises(ConfigError, match="no CTranslate2 conversion"):
        T5Generator(str(plain), device="cpu", runtime="ctranslate2").load()
