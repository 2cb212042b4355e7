"""Issue 10's targets on knowledge nobody here wrote, held on the Bitext one-answer FAQ pages' test split.

The same run as `python bench/generalization.py --split test` for the Bitext KB (`after` mode: the
defaults, abstention calibrated on the dev split as `supportbot calibrate` does it), over real Milvus
Lite and the bundled text embedder. Skips where `../shared/eval` is absent (a user's clone). Typed
hit@1 is not held here: its 0.80 target is not met yet (see the README's generalisation table).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import generalization as bench

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("empty_model_dir")]


@pytest.mark.usefixtures("shared_eval")
def test_bitext_test_split_meets_the_retrieval_follow_up_and_abstention_targets(tmp_path: Path) -> None:
    kbs = bench.build(tmp_path, "test", per_intent=6, seed=13)
    kb, sets = next((kb, sets) for kb, sets in kbs if kb.name == "bitext")
    calibration = bench.calibration_sets(tmp_path, per_intent=6, seed=13)
    settings = bench.mode_settings(tmp_path / "data", "after", ())
    results = bench.run_kb(kb, sets, settings, calibrate_on=calibration["bitext"])

    typed, follow, scope = results["bitext typed"], results["bitext follow-ups"], results["abstention"]
    assert typed["n"] == 162 and typed["hit@5"] >= 0.95, typed
    assert follow["follow_up_hit@1"] >= 0.70, follow
    assert scope["abstention_accuracy"] >= 0.90 and scope["false_answer"] <= 0.05, scope
    assert "similarity" in results["calibration"]["thresholds"]
