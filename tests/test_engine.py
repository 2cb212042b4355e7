"""The conversation engine over a small KB ingested into the in-memory store of `tests/fakes.py` (BM25
only; the store is not the subject): streaming, grounding with a tiny random T5, extractive citations,
the trace, human handoff, session isolation and input limits."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from app.runtime import Runtime
from chatbot.answers.wording import OFFER_BUTTONS
from chatbot.engine import HANDOFF_MESSAGE, ChatEngine, EngineOptions
from chatbot.generators.composer import ComposerGenerator
from chatbot.generators.prompt import INSTRUCTION
from chatbot.generators.t5 import T5Generator
from chatbot.sessions import SessionLimits
from core.config import Settings
from core.errors import InputError
from tests.fakes import fake_runtime
from tests.tiny_t5 import tiny_t5, tiny_tokenizer, wordy_generation

DOCS = {
    "troubleshooting/e42.md": (
        "---\ntitle: Error E-42 mesh link lost\nproduct: X200\n---\n# Error E-42: mesh link lost\n\n"
        "E-42 means the M10 mesh extender lost its link to the X200 router. Move the extender closer to "
        "the router and press the mesh button on both devices.\n"
    ),
    "policies/refunds.md": (
        "# Refunds\n\nRefunds are paid to the original payment method within 14 days after the return "
        "reaches our warehouse.\n"
    ),
    "manuals/reset.md": (
        "# Resetting the X200 router\n\nHold the reset button for ten seconds until the power light "
        "blinks amber. A factory reset erases the Wi-Fi name and password.\n"
    ),
}
E42_QUESTION = "my M10 extender shows error E-42, the mesh link is lost"


@dataclass
class Kit:
    runtime: Runtime
    extractive: ChatEngine
    t5: ChatEngine
    t5_generator: T5Generator


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kit]:
    root = tmp_path_factory.mktemp("engine")
    kb = root / "kb"
    for rel, text in DOCS.items():
        (kb / rel).parent.mkdir(parents=True, exist_ok=True)
        (kb / rel).write_text(text, encoding="utf-8")
    tokenizer = tiny_tokenizer(DOCS.values())
    model = tiny_t5(tokenizer)
    wordy_generation(model, tokenizer)
    t5 = T5Generator(model_obj=model, tokenizer_obj=tokenizer, device="cpu", max_new_tokens=12)
    settings = Settings(data_dir=root / "data", allow_missing_models=True, generator="extractive")
    with fake_runtime(settings) as runtime:  # in-memory store: the store is not the subject here
        runtime.ingest(kb, progress=False)
        extractive = runtime.engine(generator=ComposerGenerator())
        t5_engine = runtime.engine(generator=t5)
        yield Kit(runtime, extractive, t5_engine, t5)


def test_t5_streams_growing_text_then_replaces_an_ungrounded_answer(kit: Kit) -> None:
    stream = kit.t5.turn("t5-session", E42_QUESTION)
    texts = list(stream)
    result = stream.result
    assert len(texts) >= 3, texts
    drafts = texts[:-1]
    assert all(b.startswith(a) and len(b) > len(a) for a, b in zip(drafts, drafts[1:], strict=False)), drafts
    generation = result.trace.generation
    assert generation.generator == "t5"
    assert generation.output == drafts[-1], "the trace keeps the raw model output"
    assert generation.grounded is False and generation.reason
    # The random model's garbage is never the final word: the abstain/handoff message replaces it.
    assert texts[-1] == result.text and not result.text.startswith(drafts[-1])
    assert "person" in result.text and result.abstained and not result.handoff, (
        "a person is offered, not forced"
    )
    assert result.options == OFFER_BUTTONS and result.trace.handoff is None
    assert "grounded" not in result.text and "%" not in result.text, "no internal reason reaches the customer"
    assert result.trace.answer.text == result.text
    assert result.trace.retrieval.confidence >= 0.6, "retrieval was fine: the grounding check refused"


def test_extractive_answer_cites_numbers_that_map_to_the_citations(kit: Kit) -> None:
    result = kit.extractive.turn("ex-1", E42_QUESTION).finish()
    assert not result.abstained and "(extractive" not in result.text
    numbers = [c.number for c in result.citations]
    assert numbers and all(f"[{n}]" in result.text for n in numbers)
    hits = result.trace.retrieval.hits
    for citation in result.citations:
        assert citation.doc_id in {h.doc_id for h in hits}
    assert result.citations[0].doc_id == "troubleshooting/e42.md"
    assert result.trace.answer.citations == result.citations


def test_trace_has_every_stage(kit: Kit) -> None:
    result = kit.extractive.turn("trace-1", "how do I reset the X200 router?").finish()
    trace = result.trace
    assert trace.inputs.typed_text == "how do I reset the X200 router?"
    assert trace.context.resolved_query
    retrieval = trace.retrieval
    assert retrieval.dense is False and "bm25" in retrieval.sources
    assert any("dense retrieval OFF" in n for n in retrieval.notes)
    top = retrieval.hits[0]
    assert top.doc_id == "manuals/reset.md"
    assert top.sources["bm25"].rank == 1 and top.sources["bm25"].score > 0
    prompt = trace.generation.input
    assert prompt.startswith(INSTRUCTION) and "question: how do I reset the X200 router?" in prompt
    assert "[1]" in prompt and "Hold the reset button for ten seconds" in prompt
    assert trace.generation.output and trace.generation.grounded is True
    assert trace.answer.citations[0].doc_id == "manuals/reset.md"
    assert set(trace.timings_ms) >= {"understand", "context", "retrieve", "judge", "generate"}
    assert all(v >= 0 for v in trace.timings_ms.values())
    stored = kit.runtime.traces.get(result.turn_id, session_id="trace-1")
    assert stored is not None and stored.trace.generation.input == prompt


def test_t5_prompt_in_the_trace_is_the_exact_model_input(kit: Kit) -> None:
    result = kit.t5.turn("t5-prompt", "how long do refunds take?").finish()
    prompt = result.trace.generation.input
    assert "question: how long do refunds take?" in prompt and "Refunds are paid" in prompt
    assert "plan: fact from [1] Refunds" in prompt, "the composer's plan feeds T5: kind and section"
    assert prompt.index("[1] ") < prompt.index("Refunds are paid"), "the planned section is passage [1]"
    tokens = kit.t5_generator._tokenizer(prompt)["input_ids"]
    assert len(tokens) <= kit.t5_generator.max_input_tokens


def test_request_human_attaches_a_packet_to_the_latest_turn(kit: Kit) -> None:
    engine = kit.extractive
    first = engine.turn("human-1", "how long do refunds take?").finish()
    second = engine.turn("human-1", "and how do I reset the X200?").finish()
    assert not second.handoff
    assert engine.request_human("human-1") == HANDOFF_MESSAGE
    latest = kit.runtime.traces.get(second.turn_id, session_id="human-1")
    assert latest is not None and latest.handoff
    packet = latest.trace.handoff
    assert packet.reason == "the customer asked for a human"
    assert packet.customer_inputs.typed_text == "and how do I reset the X200?"
    assert packet.top_evidence and packet.session_id == "human-1" and packet.turn_index == 2
    earlier = kit.runtime.traces.get(first.turn_id, session_id="human-1")
    assert earlier is not None and not earlier.handoff


def test_sessions_are_isolated(kit: Kit) -> None:
    engine = kit.extractive
    a = engine.turn("session-A", "how long do refunds take?").finish()
    b = engine.turn("session-B", E42_QUESTION).finish()
    assert "refund" not in b.trace.generation.input.lower(), "A's question is not in B's history"
    b_ids = {row.id for row in kit.runtime.traces.turns_for_session("session-B")}
    assert b.turn_id in b_ids and a.turn_id not in b_ids
    assert kit.runtime.traces.get(a.turn_id, session_id="session-B") is None
    assert kit.runtime.traces.get(a.turn_id, session_id="session-A") is not None
    with pytest.raises(InputError, match="no turn"):
        engine.feedback("session-B", a.turn_id, thumbs_up=False)
    engine.request_human("session-B", turn_id=a.turn_id)  # another session's turn id: not reachable
    row_a = kit.runtime.traces.get(a.turn_id, session_id="session-A")
    assert row_a is not None and not row_a.handoff
    row_b = kit.runtime.traces.get(b.turn_id, session_id="session-B")
    assert row_b is not None and row_b.handoff


def test_follow_up_keeps_history_in_the_prompt(kit: Kit) -> None:
    engine = kit.extractive
    engine.turn("history-1", "how do I reset the X200 router?").finish()
    second = engine.turn("history-1", "does a reset erase the wifi password?").finish()
    assert "customer: how do I reset the X200 router?" in second.trace.generation.input
    assert second.trace.turn_index == 2


def test_max_turns_gives_a_clear_error(kit: Kit) -> None:
    options = EngineOptions(limits=SessionLimits(max_turns=2))
    engine = kit.runtime.engine(generator=ComposerGenerator(), options=options)
    for _ in range(2):
        engine.turn("limited", "how long do refunds take?").finish()
    with pytest.raises(InputError, match="limit of 2 turns; please start a new conversation"):
        engine.turn("limited", "how long do refunds take?")
    engine.turn("another", "how long do refunds take?").finish()  # other sessions are unaffected


@pytest.mark.parametrize("text", ["", "   \n\t "])
def test_an_empty_message_is_an_input_error(kit: Kit, text: str) -> None:
    with pytest.raises(InputError, match="empty message"):
        kit.extractive.turn("empty", text)


def _never_streamed(kit: Kit, session: str) -> None:
    assert not kit.runtime.traces.turns_for_session(session)


def test_a_three_hour_voice_note_is_refused_before_streaming(kit: Kit, tmp_path: Path) -> None:
    path = tmp_path / "long.wav"
    rate = 200  # a low rate keeps three hours of audio at ~4 MB, under the file-size limit
    sf.write(path, np.zeros(3 * 3600 * rate, dtype=np.int16), rate, subtype="PCM_16")
    with pytest.raises(InputError, match="longer than the 600-second limit"):
        kit.extractive.turn("long-audio", "listen to this", audio=path)
    _never_streamed(kit, "long-audio")


def test_an_oversized_image_is_refused_before_streaming(kit: Kit, tmp_path: Path) -> None:
    path = tmp_path / "huge.png"
    Image.new("1", (8000, 6000)).save(path)  # 48 megapixels, a few kB on disk
    with pytest.raises(InputError, match="pixel"):
        kit.extractive.turn("big-image", "what is this", image=path)
    _never_streamed(kit, "big-image")


def test_a_stream_result_is_only_known_after_reading(kit: Kit) -> None:
    stream = kit.extractive.turn("early", "how long do refunds take?")
    with pytest.raises(RuntimeError, match="after the stream has been read"):
        _ = stream.result
    pieces: list[Any] = list(stream)
    assert pieces[-1] == stream.result.text
