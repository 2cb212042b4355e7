"""Conversation context: activation with decay, and resolving follow-up questions, in scripted dialogues."""

from __future__ import annotations

import json

import pytest

from core.errors import ConfigError
from core.types import Chunk
from knowledge_graph.context import ContextOptions, ConversationContext, ResolvedQuery, TurnInput
from knowledge_graph.graph import NetworkxGraph


def _chunk(
    doc_id: str, n: int, body: str, title: str, product: str, entities: list[str], heading: str = ""
) -> Chunk:
    meta = {
        "title": title,
        "product": product,
        "entities": entities,
        "tags": ["troubleshooting"] if "Error" in title else [],
        "heading_path": [heading] if heading else [],
    }
    header = " > ".join(p for p in (title, heading) if p)
    return Chunk(doc_id, n, "text", f"{header}\n\n{body}", body[:50], doc_id, title, None, meta)


def _graph(with_editions: bool = True) -> NetworkxGraph:
    editions = ["X200 Blue", "X200 White"] if with_editions else []
    docs = [
        [
            _chunk(
                "e42.md",
                0,
                "E42 means the M10 Mesh Extender lost the X200 Router.",
                "Error E-42: Mesh link",
                "X200, M10",
                ["E-42", "M10"],
            ),
            _chunk(
                "e42.md",
                1,
                "Pair the M10 Mesh Extender again.",
                "Error E-42: Mesh link",
                "X200, M10",
                ["E-42"],
                "Fix",
            ),
        ],
        [
            _chunk(
                "x200.md",
                0,
                "The X200 Router runs firmware 2.1.7. The X200 Router shows E-35 on a weak adapter.",
                "X200 Router guide",
                "X200",
                ["X200", *editions],
            ),
        ],
        [
            _chunk(
                "c5.md",
                0,
                "The C5 Smart Camera records to microSD. The C5 Smart Camera has E-57.",
                "C5 Smart Camera guide",
                "C5",
                ["C5", "microSD"],
            )
        ],
        [_chunk("x300.md", 0, "The X300 Router runs firmware 3.0.1.", "X300 Router guide", "X300", ["X300"])],
    ]
    graph = NetworkxGraph()
    for chunks in docs:
        graph.upsert_document(chunks[0].doc_id, chunks)
    return graph


@pytest.fixture(scope="module")
def graph() -> NetworkxGraph:
    return _graph()


def subs(resolved: ResolvedQuery) -> dict[str, str]:
    return dict(resolved.substituted)


def test_screenshot_then_how_do_i_fix_this(graph: NetworkxGraph) -> None:
    ctx = ConversationContext(graph)
    ctx.observe(TurnInput("what is this?", "image", source_text="Aeris Home  Error E42: Mesh link lost"))
    resolved = ctx.resolve("How do I fix this?")
    assert subs(resolved) == {"this": "error_code:E-42"}
    assert resolved.text == "How do I fix this? E-42"
    assert resolved.original == "How do I fix this?"


def test_this_error_after_screenshot(graph: NetworkxGraph) -> None:
    ctx = ConversationContext(graph)
    ctx.observe(TurnInput("my X300 is fine", "text"))
    ctx.observe(TurnInput("", "image", source_text="ERROR CODE 42 - mesh"))
    resolved = ctx.resolve("what does this error mean on my router?")
    assert subs(resolved) == {"this error": "error_code:E-42", "my router": "product:X300"}


def test_voice_turn_then_does_it_also_fix_the_blue_one(graph: NetworkxGraph) -> None:
    ctx = ConversationContext(graph)
    ctx.observe(TurnInput("", "audio", source_text="my x 200 router keeps rebooting and shows error 35"))
    resolved = ctx.resolve("Does it also fix the blue one?")
    assert subs(resolved) == {"the blue one": "product:X200/blue", "it": "error_code:E-35"}
    assert resolved.text == "Does it also fix the blue one? X200 Blue E-35"
    assert resolved.entity_ids == ("product:X200/blue", "error_code:E-35")


def test_blue_one_without_a_blue_edition_is_left_alone() -> None:
    ctx = ConversationContext(_graph(with_editions=False))
    ctx.observe(TurnInput("my X200 Router shows E-35"))
    resolved = ctx.resolve("and the blue one?")
    assert "product:X200/blue" not in resolved.entity_ids
    assert "the blue one" not in subs(resolved)


def test_topic_switch_decays_the_old_entity(graph: NetworkxGraph) -> None:
    ctx = ConversationContext(graph)
    ctx.observe(TurnInput("my X200 shows E-42"))
    ctx.observe(TurnInput("ok thanks. another question about my C5 Smart Camera"))
    ctx.observe(TurnInput("it records at night"))
    ctx.observe(TurnInput("it has a memory card"))
    active = [e.id for e, _ in ctx.active_entities()]
    assert active == ["product:C5"]
    assert subs(ctx.resolve("is it waterproof?")) == {"it": "product:C5"}
    assert ctx.weights(threshold=0.0)["product:X200"] == pytest.approx(0.6**3)


def test_mesh_extender_follow_up_keeps_the_error(graph: NetworkxGraph) -> None:
    ctx = ConversationContext(graph)
    ctx.observe(TurnInput("the X200 Router shows E-42"))
    resolved = ctx.resolve("does it also work for the mesh extender")
    assert resolved.explicit == ("product:M10",)
    assert subs(resolved) == {"it": "error_code:E-42"}
    # resolving after observing the same turn gives the same answer
    ctx.observe(TurnInput("does it also work for the mesh extender"))
    assert subs(ctx.resolve("does it also work for the mesh extender")) == {"it": "error_code:E-42"}


def test_the_same_fix_prefers_an_active_fix(graph: NetworkxGraph) -> None:
    ctx = ConversationContext(graph)
    ctx.observe(TurnInput("E-42 on my X200"))
    ctx.observe(TurnInput("Pair the extender again.", role="assistant", entity_ids=("fix:e42.md#fix",)))
    assert subs(ctx.resolve("does the same fix work for the X300?")) == {"the same fix": "fix:e42.md#fix"}


def test_the_same_fix_falls_back_to_the_error(graph: NetworkxGraph) -> None:
    ctx = ConversationContext(graph)
    ctx.observe(TurnInput("E-35 on my X200"))
    assert subs(ctx.resolve("does the same fix apply to the X300?")) == {"the same fix": "error_code:E-35"}


def test_that_one_and_this_device_mean_the_product(graph: NetworkxGraph) -> None:
    ctx = ConversationContext(graph)
    ctx.observe(TurnInput("I bought a C5 Smart Camera"))
    assert subs(ctx.resolve("is that one waterproof?")) == {"that one": "product:C5"}
    assert subs(ctx.resolve("how do I reset this device")) == {"this device": "product:C5"}


def test_this_version(graph: NetworkxGraph) -> None:
    ctx = ConversationContext(graph)
    ctx.observe(TurnInput("my X300 Router runs firmware 3.0.1"))
    assert subs(ctx.resolve("is this version the latest?")) == {"this version": "version:3.0.1"}


def test_explicit_query_is_not_rewritten(graph: NetworkxGraph) -> None:
    ctx = ConversationContext(graph)
    ctx.observe(TurnInput("my X200 shows E-42"))
    resolved = ctx.resolve("What is error E-57 on the C5 camera?")
    assert resolved.substituted == ()
    assert resolved.text == "What is error E-57 on the C5 camera?"
    assert resolved.explicit == ("error_code:E-57", "product:C5")
    assert resolved.active == ("error_code:E-42", "product:X200")


def test_conjunction_that_is_not_a_pronoun(graph: NetworkxGraph) -> None:
    ctx = ConversationContext(graph)
    ctx.observe(TurnInput("E-35"))
    resolved = ctx.resolve("I think that the X300 Router is broken")
    assert resolved.substituted == ()


def test_ellipsis_adds_the_device_or_the_error(graph: NetworkxGraph) -> None:
    ctx = ConversationContext(graph)
    ctx.observe(TurnInput("my X200 shows E-35"))
    assert ctx.resolve("where is the reset button?").substituted == (("", "product:X200"),)
    assert ctx.resolve("how can I repair that").substituted == (("that", "error_code:E-35"),)
    assert ctx.resolve("any way to troubleshoot?").substituted == (("", "error_code:E-35"),)


def test_nothing_active_means_nothing_resolved(graph: NetworkxGraph) -> None:
    resolved = ConversationContext(graph).resolve("how do I fix it?")
    assert resolved.substituted == () and resolved.text == "how do I fix it?" and resolved.active == ()


def test_decay_and_boosts(graph: NetworkxGraph) -> None:
    ctx = ConversationContext(graph, ContextOptions(decay=0.5, threshold=0.2))
    ctx.observe(TurnInput("E-42"))
    assert ctx.weights() == {"error_code:E-42": 1.0}
    ctx.observe(TurnInput("E-42 again on the X300"))
    assert ctx.weights() == {"error_code:E-42": 1.5, "product:X300": 1.0}
    ctx.observe(TurnInput("The C5 Smart Camera is different.", role="assistant"))
    assert ctx.weights() == {"error_code:E-42": 0.75, "product:X300": 0.5, "product:C5": 0.5}
    for _ in range(3):
        ctx.observe(TurnInput("thanks"))
    assert ctx.weights() == {}
    assert set(ctx.weights(threshold=0.0)) == {"error_code:E-42", "product:X300", "product:C5"}
    assert [e.id for e, _ in ctx.active_entities(threshold=0.08)] == ["error_code:E-42"]


def test_extra_entity_ids_from_parsed_fields(graph: NetworkxGraph) -> None:
    ctx = ConversationContext(graph)
    turn = ctx.observe(TurnInput("", "image", entity_ids=("error_code:E57", "product:C5", "product:NOPE")))
    assert turn.entity_ids == ("error_code:E-57", "product:C5")  # canonical ids; unknown ones dropped
    assert [e.id for e, _ in ctx.active_entities()] == ["error_code:E-57", "product:C5"]
    assert subs(ctx.resolve("how do I fix it?")) == {"it": "error_code:E-57"}


def test_bounded_history_and_shown_documents(graph: NetworkxGraph) -> None:
    ctx = ConversationContext(graph, ContextOptions(max_turns=3))
    for n in range(5):
        ctx.observe(TurnInput(f"turn {n}"))
    assert [t.index for t in ctx.turns] == [3, 4, 5]
    ctx.mark_shown(["e42.md", "c5.md"])
    assert ctx.shown_documents == {"e42.md", "c5.md"}


def test_round_trip_through_dict(graph: NetworkxGraph) -> None:
    ctx = ConversationContext(graph)
    ctx.observe(TurnInput("", "audio", source_text="my X200 shows error 35"))
    ctx.observe(TurnInput("", "image", source_text="E-42"))
    ctx.mark_shown(["x200.md"])
    data = json.loads(json.dumps(ctx.to_dict()))
    again = ConversationContext.from_dict(data, graph)
    assert again.to_dict() == ctx.to_dict()
    assert again.resolve("does it also fix the blue one?") == ctx.resolve("does it also fix the blue one?")
    again.observe(TurnInput("thanks"))
    assert again.turns[-1].index == 3


def test_graph_hits_follow_activation(graph: NetworkxGraph) -> None:
    ctx = ConversationContext(graph)
    ctx.observe(TurnInput("", "image", source_text="E-42"))
    hits = ctx.graph_hits(limit=3)
    assert hits[0].doc_id == "e42.md"
    assert hits[0].reason.startswith("error_code:E-42")


def test_invalid_inputs() -> None:
    with pytest.raises(ConfigError, match="modality"):
        TurnInput("hi", "video")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="role"):
        TurnInput("hi", role="system")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="decay"):
        ContextOptions(decay=1.0)
    with pytest.raises(ConfigError, match="max_turns"):
        ContextOptions(max_turns=0)
