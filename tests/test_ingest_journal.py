"""An ingest killed between two commits and resumed ends in the state of a clean run, even when a file
it had half-written shrank or vanished before the resume (the manifest's write journal).

The store is the in-memory fake (the store is not the subject here; the ingestor's bookkeeping is).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from core.config import Limits
from core.types import Record
from retrieval.ingest import Ingestor
from retrieval.manifest import Manifest
from tests.fakes import InMemoryStore


class Killed(BaseException):
    """Stands in for kill -9: not an Exception, so nothing in the ingestor catches it."""


class DiesOnUpsert(InMemoryStore):
    """Fake store that writes the n-th upsert and then 'dies'."""

    def __init__(self, dim: int, die_at: int) -> None:
        super().__init__(dim, dense_enabled=False)
        self.die_at = die_at
        self.upserts = 0

    def upsert(self, records: Sequence[Record]) -> None:
        super().upsert(records)
        self.upserts += 1
        if self.upserts == self.die_at:
            raise Killed


def _article(title: str, sections: int) -> str:
    step = "Do thing number {i} for the {title} router, then wait until its light turns green. "
    body = "\n\n".join(f"## Step {i}\n\n" + step.format(i=i, title=title) * 12 for i in range(sections))
    return f"# {title}\n\n{body}\n"


def test_articles_have_one_chunk_per_section(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "a.md").write_text(_article("alpha", 6), encoding="utf-8")
    store = InMemoryStore(dim=8, dense_enabled=False)
    _ingest(store, kb, tmp_path / "manifest.json")
    assert store.count() >= 6  # so a shrinking file really leaves chunks behind


def _state(store: InMemoryStore) -> list[tuple[str, int, str]]:
    hits = store.document_chunks(sorted(store.doc_ids()))
    return sorted((h.doc_id, h.chunk_id, h.text) for h in hits)


def _ingest(store: InMemoryStore, kb: Path, manifest_path: Path) -> None:
    ingestor = Ingestor(store, Manifest.load(manifest_path), None, Limits(), progress=False, commit_every=100)
    ingestor.run(kb)


@pytest.mark.parametrize("change", ["shrinks", "vanishes", "unchanged"])
def test_resume_after_a_kill_equals_a_clean_run(tmp_path: Path, change: str) -> None:
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "a.md").write_text(_article("alpha", 6), encoding="utf-8")
    (kb / "b.md").write_text(_article("beta", 2), encoding="utf-8")
    (kb / "c.md").write_text(_article("gamma", 2), encoding="utf-8")
    manifest_path = tmp_path / "data" / "manifest.json"

    dying = DiesOnUpsert(dim=8, die_at=2)  # a.md written, killed while writing b.md; nothing committed
    with pytest.raises(Killed):
        _ingest(dying, kb, manifest_path)
    assert Manifest(manifest_path).journal_path.exists(), "the killed run left its write journal"

    if change == "shrinks":
        (kb / "a.md").write_text(_article("alpha", 1), encoding="utf-8")
    elif change == "vanishes":
        (kb / "a.md").unlink()
    resumed = InMemoryStore(dim=8, dense_enabled=False)
    resumed._rows = dying._rows  # the same index the killed run wrote into
    _ingest(resumed, kb, manifest_path)

    clean = InMemoryStore(dim=8, dense_enabled=False)
    _ingest(clean, kb, tmp_path / "clean" / "manifest.json")
    assert _state(resumed) == _state(clean)
    assert not Manifest(manifest_path).journal_path.exists(), "a finished run leaves no journal"


def test_a_killed_update_is_redone_even_if_the_file_changes_back(tmp_path: Path) -> None:
    """The killed run had replaced part of a committed file's chunks; the resume rewrites that file
    although its bytes match the manifest again."""
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "a.md").write_text(_article("alpha", 3), encoding="utf-8")
    manifest_path = tmp_path / "data" / "manifest.json"
    store = InMemoryStore(dim=8, dense_enabled=False)
    _ingest(store, kb, manifest_path)
    committed = _state(store)

    (kb / "a.md").write_text(_article("alpha", 3).replace("Do thing", "Skip thing"), encoding="utf-8")
    dying = DiesOnUpsert(dim=8, die_at=1)
    dying._rows = store._rows
    with pytest.raises(Killed):
        _ingest(dying, kb, manifest_path)
    assert _state(store) != committed  # half of an update reached the index

    (kb / "a.md").write_text(_article("alpha", 3), encoding="utf-8")  # back to the committed bytes
    _ingest(store, kb, manifest_path)
    assert _state(store) == committed
