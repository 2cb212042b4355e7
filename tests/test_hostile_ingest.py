"""The hostile-input suite, ingest side (issue 12): one KB folder holding every hostile image, sound
and document of `tests.hostile_cases`, plus a too-long path and symlink loops, beside good articles,
ingested once with the real OCR reader. Each hostile file is ingested or reported with a clear
one-line reason; the run finishes; the good articles are indexed and stay indexed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from app.runtime import open_runtime
from core.config import Settings
from retrieval.ingest import Ingestor, IngestReport
from retrieval.manifest import Manifest
from retrieval.ocr.rapidocr import RapidOcrReader
from tests import hostile_cases as cases

pytestmark = pytest.mark.slow
GOOD = {
    "good/reset.md": "# Reset the X200\n\nHold the reset button for ten seconds.\n",
    "good/refunds.md": "# Refunds\n\nRefunds are paid within 14 days.\n",
}
LONG = "/".join(["d" * 231] * 5) + "/deep.md"
HOSTILE = sorted(
    [f"images/{n}" for n in cases.IMAGES]
    + [f"audio/{n}" for n in cases.AUDIO]
    + [f"docs/{n}" for n in cases.DOCUMENTS]
    + [LONG, "links/loop", "links/outside.md", "links/broken.md"]
)


@dataclass(frozen=True)
class Ingested:
    report: IngestReport
    manifest: Manifest
    second: IngestReport
    doc_ids: set[str]


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ingested]:
    root = tmp_path_factory.mktemp("hostile-ingest")
    kb = root / "kb"
    for rel, text in GOOD.items():
        cases.write(kb, rel, text.encode())
    for group, table in (("images", cases.IMAGES), ("audio", cases.AUDIO), ("docs", cases.DOCUMENTS)):
        for name, build in table.items():
            cases.write(kb, f"{group}/{name}", build())
    cases.write(kb, LONG, b"# Deep\n\nDeep text.\n")
    (kb / "links").mkdir()
    os.symlink(kb / "links", kb / "links" / "loop")
    (root / "outside.md").write_text("# Outside\n\nsecret\n", encoding="utf-8")
    os.symlink(root / "outside.md", kb / "links" / "outside.md")
    os.symlink(kb / "nowhere.md", kb / "links" / "broken.md")
    settings = Settings(data_dir=root / "data", allow_missing_models=True, generator="extractive")
    ocr = RapidOcrReader()
    with open_runtime(settings, load_models=False) as rt:
        manifest = Manifest.load(settings.manifest_path)
        report = Ingestor(rt.store, manifest, None, settings.limits, ocr=ocr, progress=False).run(kb)
        again = Ingestor(
            rt.store, Manifest.load(settings.manifest_path), None, settings.limits, ocr=ocr, progress=False
        )
        second = again.run(kb)
        yield Ingested(report, Manifest.load(settings.manifest_path), second, rt.store.doc_ids())


def test_the_run_finishes_and_keeps_the_good_articles(ingested: Ingested) -> None:
    assert set(GOOD) <= set(ingested.manifest.entries)
    assert set(GOOD) <= ingested.doc_ids
    assert ingested.second.added == ingested.second.updated == ingested.second.removed == 0
    assert set(GOOD) <= set(ingested.manifest.entries)  # a second run loses nothing


@pytest.mark.parametrize("rel", HOSTILE)
def test_each_hostile_file_is_ingested_or_refused_with_one_line(ingested: Ingested, rel: str) -> None:
    failed = dict(ingested.report.failed)
    ingested_ok = rel in ingested.manifest.entries
    refused = next((reason for path, reason in failed.items() if path == rel or path.startswith(rel)), None)
    if rel == "links/loop":  # a symlinked folder inside the KB is walked once, through the real folder
        assert not any(p.startswith("links/loop/") for p in ingested.manifest.entries)
        return
    assert ingested_ok or refused is not None, f"{rel}: neither ingested nor reported"
    if refused is not None:
        assert cases.one_line(refused), refused
    if rel == "links/outside.md":
        assert not ingested_ok and refused is not None and "outside" in refused
