"""The generalisation bench's modes: which settings each one runs with (no data, no models)."""

from __future__ import annotations

from pathlib import Path

from bench import generalization as bench


def test_a_chosen_text_embedder_replaces_the_bundled_one_in_after_only(tmp_path: Path) -> None:
    chosen = str(tmp_path / "all-mpnet-base-v2")
    after = bench.mode_settings(tmp_path / "a", "after", (), chosen)
    before = bench.mode_settings(tmp_path / "b", "before", (), chosen)
    default = bench.mode_settings(tmp_path / "c", "after", ())

    assert after.text_embedder == chosen
    assert before.text_embedder == "none"  # `before` is the behaviour with no text embedder at all
    assert default.text_embedder == "bundled-minilm"


def test_extra_settings_follow_the_mode_s_own(tmp_path: Path) -> None:
    before = bench.mode_settings(tmp_path / "b", "before", ("engine.top_k=50",))
    assert before.tuning[: len(bench.BEFORE)] == bench.BEFORE
    assert before.tuning[-1] == "engine.top_k=50"
    assert before.generator == "extractive" and before.allow_missing_models
