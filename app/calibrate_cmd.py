"""`supportbot calibrate CASES.jsonl`: this knowledge base's abstention thresholds, from its own questions.

Runs every case (and, unless `--no-off-topic`, the general questions of `chatbot.off_topic`) through
the conversation engine once, with the default thresholds, the offline composer (the verdict comes
before any answer, so no T5 time is spent) and a throw-away trace store (the staff console never
sees calibration questions), fits the thresholds (`chatbot.calibration.fit`) and
saves them in the data dir, where every later engine of this data dir applies them
(`app.calibration_state`).
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.config import Settings
from core.errors import ConfigError, InputError
from retrieval.manifest import Manifest

if TYPE_CHECKING:
    from chatbot.calibration import Calibration, Observation
    from chatbot.engine import ChatEngine
    from retrieval.evaluation import EvalCase


def _in_scope(case: EvalCase) -> bool:
    return case.answerable if case.answerable is not None else bool(case.expected)


def _observe(
    engine: ChatEngine, cases: list[EvalCase], bundled: list[EvalCase]
) -> tuple[list[Observation], list[str]]:
    """Each case asked once in a fresh conversation; a case whose inputs are rejected (a corrupt
    screenshot, an over-long message) is skipped with its reason instead of ending the run."""
    from chatbot.calibration import observation

    seen: list[Observation] = []
    skipped: list[str] = []
    for case, is_bundled in [(c, False) for c in cases] + [(c, True) for c in bundled]:
        try:
            verdict = engine.replay(case).trace.abstention
        except InputError as exc:
            skipped.append(f"{case.id}: {' '.join(str(exc).split())}")
            continue
        in_scope = False if is_bundled else _in_scope(case)
        seen.append(observation(case.text, in_scope, verdict, bundled=is_bundled))
    return seen, skipped


def calibrate(
    settings: Settings,
    cases_file: Path,
    *,
    max_false_answer: float = 0.05,
    off_topic: bool = True,
    dry_run: bool = False,
) -> Calibration:
    """Fits and (unless `dry_run`) saves this data dir's thresholds; returns what was fitted."""
    from app import reduced
    from app.commands import announce
    from app.runtime import open_runtime
    from chatbot.calibration import fit, save
    from chatbot.engine import EngineOptions
    from chatbot.generators.factory import make_generator
    from chatbot.off_topic import OFF_TOPIC
    from chatbot.traces import TraceStore
    from retrieval.evaluation import EvalCase, load_cases

    if not 0.0 <= max_false_answer <= 1.0:
        raise ConfigError(f"--max-false-answer must be a share from 0 to 1, got {max_false_answer}")
    if not settings.manifest_path.exists():
        raise InputError(
            f"no knowledge base is indexed in {settings.data_dir}; run `supportbot ingest KB_DIR` first"
        )
    cases = load_cases(cases_file)
    extra = [EvalCase(f"off-topic-{i}", (), text, answerable=False) for i, text in enumerate(OFF_TOPIC)]
    with (
        tempfile.TemporaryDirectory(prefix="supportbot-calibrate-") as tmp,
        open_runtime(settings) as runtime,
    ):
        announce(runtime, (reduced.CROSS_MODAL, reduced.TEXT, reduced.SPEECH, reduced.OCR))
        traces = TraceStore(Path(tmp) / "traces.sqlite")
        traces.open()
        composer = make_generator(settings, "composer")  # abstention is judged before any answer
        composer.load()
        try:
            engine = runtime.engine(composer, EngineOptions(), traces)
            seen, skipped = _observe(engine, cases, extra if off_topic else [])
        finally:
            traces.close()
    fitted = fit(seen, max_false_answer)
    fingerprint = Manifest.load(settings.manifest_path).fingerprint()
    fitted = dataclasses.replace(fitted, kb=fingerprint, skipped=tuple(skipped))
    if not dry_run:
        save(settings.calibration_path, fitted)
    return fitted


def run(settings: Settings, args: Any) -> int:
    """The command (`args`: its parsed flags): fit, save, and print what was chosen."""
    max_false_answer, dry_run = args.max_false_answer, args.dry_run
    fitted = calibrate(
        settings,
        args.cases,
        max_false_answer=max_false_answer,
        off_topic=not args.no_off_topic,
        dry_run=dry_run,
    )
    print(f"calibrated: {fitted.summary()}")
    if not fitted.met:
        print(
            f"warning: no thresholds keep false answers at or under {max_false_answer:.0%} on these "
            "questions; the ones with the fewest false answers were chosen. Add in-scope wordings to the "
            "knowledge base or more questions to the cases file."
        )
    if fitted.false_refusal > 0.25:
        print(
            f"warning: {fitted.false_refusal:.0%} of your in-scope questions would be refused; their "
            "wordings are far from the knowledge base's, so add pages or headings in your customers' words"
        )
    for line in fitted.skipped:
        print(f"skipped (its input was rejected): {line}")
    if fitted.dropped:
        print(f"left out {len(fitted.dropped)} general question(s) your knowledge base answers like its own:")
        for text in fitted.dropped:
            print(f"  - {text}")
    if dry_run:
        print("thresholds not saved (--dry-run)")
    else:
        print(
            f"thresholds saved to {settings.calibration_path}; `supportbot chat`, `serve` and "
            "`eval --data-dir` on this data dir use them"
        )
    return 0
