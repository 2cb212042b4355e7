"""Tests of the knowledge-base file side: discovery, front-matter, loaders per file type, chunking."""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

import pytest

from core.config import Limits
from core.errors import ConfigError, InputError
from core.types import Chunk
from retrieval.documents.chunking import (
    DEFAULT_DENSE_CHARS,
    cap_words,
    chunk_document,
    markdown_blocks,
)
from retrieval.documents.frontmatter import parse_front_matter, split_front_matter
from retrieval.documents.loaders import ChunkOptions, load_chunks
from retrieval.documents.walk import KBFile, discover

LIMITS = Limits()


# ---------------------------------------------------------------------------------------------- helpers


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def kb_file(root: Path, rel: str) -> KBFile:
    """The KBFile `discover` gives for `rel` (so the loaders are tested on real discovery output)."""
    matches = [f for f in discover(root) if f.doc_id == rel]
    assert matches, f"{rel} not discovered"
    return matches[0]


def chunks_of(file: KBFile, limits: Limits = LIMITS) -> list[Chunk]:
    result = load_chunks(file, limits)
    assert isinstance(result.chunks, tuple) and isinstance(result.warnings, tuple)
    return list(result.chunks)


def make_pdf(page_streams: list[bytes], title: str | None = None) -> bytes:
    """A minimal valid PDF, built object by object, with one page per content stream (Helvetica)."""
    n_pages = len(page_streams)
    first_page = 4
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids ["
        + b" ".join(b"%d 0 R" % (first_page + 2 * i) for i in range(n_pages))
        + b"] /Count %d >>" % n_pages,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for i, stream in enumerate(page_streams):
        content_obj = first_page + 2 * i + 1
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % content_obj
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    info_ref = b""
    if title is not None:
        objects.append(b"<< /Title (" + title.encode("latin-1") + b") >>")
        info_ref = b" /Info %d 0 R" % len(objects)
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R" % (len(objects) + 1) + info_ref + b" >>\n"
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def text_stream(*lines: str) -> bytes:
    parts = [b"BT /F1 12 Tf 72 720 Td 14 TL"]
    for line in lines:
        parts.append(b"(" + line.encode("latin-1") + b") Tj T*")
    parts.append(b"ET")
    return b"\n".join(parts)


# ---------------------------------------------------------------------------------------------- discovery


def test_discover_types_sidecars_hidden_and_order(tmp_path: Path) -> None:
    write(tmp_path / "b.md", "# B\n\nbody")
    write(tmp_path / "a.txt", "plain")
    write(tmp_path / "faq" / "qa.csv", "question,answer\nq,a\n")
    write(tmp_path / "img" / "e42_mesh_link.png", b"\x89PNG fake bytes")
    write(tmp_path / "img" / "e42_mesh_link.md", "Caption")
    write(tmp_path / "img" / "Other.JPG", b"jpeg")
    write(tmp_path / "sounds" / "beep.wav", b"RIFF")
    write(tmp_path / ".hidden.md", "secret")
    write(tmp_path / ".git" / "notes.md", "internal")
    write(tmp_path / "docs" / ".draft" / "x.md", "draft")
    write(tmp_path / "notes.docx", b"PK")

    files = discover(tmp_path)
    ids = [f.doc_id for f in files]
    assert ids == sorted(ids)
    assert ids == [
        "a.txt",
        "b.md",
        "faq/qa.csv",
        "img/Other.JPG",
        "img/e42_mesh_link.png",
        "notes.docx",
        "sounds/beep.wav",
    ]
    kinds = {f.doc_id: f.kind for f in files}
    assert kinds["a.txt"] == "document"
    assert kinds["faq/qa.csv"] == "table"
    assert kinds["img/Other.JPG"] == "image"  # extension matched case-insensitively
    assert kinds["sounds/beep.wav"] == "audio"
    assert kinds["notes.docx"] == "unknown"
    by_id = {f.doc_id: f for f in files}
    assert by_id["img/e42_mesh_link.png"].sidecar == (tmp_path / "img" / "e42_mesh_link.md").resolve()
    assert by_id["sounds/beep.wav"].sidecar is None
    assert ".docx" in by_id["notes.docx"].reason
    assert all(f.path.is_absolute() for f in files)
    assert discover(tmp_path) == files  # deterministic


def test_discover_symlinks_are_not_followed_outside(tmp_path: Path) -> None:
    root = tmp_path / "kb"
    outside = write(tmp_path / "outside" / "secret.md", "not part of the KB")
    inside = write(root / "real.md", "# Real\n\ntext")
    (root / "escape.md").symlink_to(outside)
    (root / "alias.md").symlink_to(inside)
    (root / "outdir").symlink_to(outside.parent, target_is_directory=True)
    (root / "broken.md").symlink_to(root / "missing.md")

    by_id = {f.doc_id: f for f in discover(root)}
    assert by_id["escape.md"].kind == "unknown"
    assert "outside" in by_id["escape.md"].reason
    assert by_id["outdir"].kind == "unknown"
    assert "outdir/secret.md" not in by_id
    assert by_id["broken.md"].kind == "unknown"
    assert "broken" in by_id["broken.md"].reason
    assert by_id["alias.md"].kind == "document"
    with pytest.raises(InputError, match="outside the knowledge base"):
        chunks_of(by_id["escape.md"], LIMITS)


def test_discover_rejects_missing_or_file_root(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        discover(tmp_path / "nope")
    with pytest.raises(InputError, match="not a folder"):
        discover(write(tmp_path / "f.md", "x"))


def test_unicode_file_names(tmp_path: Path) -> None:
    decomposed = unicodedata.normalize("NFD", "Ünïcødé 手册")
    write(tmp_path / f"{decomposed}.md", "# Händbuch\n\nÄrger mit dem Router? Neu starten.")
    write(tmp_path / "zürich" / "ça_va.png", b"png")
    files = discover(tmp_path)
    ids = [f.doc_id for f in files]
    assert ids == sorted(ids)
    assert unicodedata.normalize("NFC", "Ünïcødé 手册.md") in ids
    doc = next(f for f in files if f.kind == "document")
    chunks = chunks_of(doc, LIMITS)
    assert chunks[0].title == "Händbuch"
    assert chunks[0].source == doc.doc_id
    image = chunks_of(next(f for f in files if f.kind == "image"), LIMITS)[0]
    assert image.text == "ça va"


# ---------------------------------------------------------------------------------------------- front-matter


def test_front_matter_fields() -> None:
    data, body = split_front_matter(
        "---\ntitle: Reset the X200\nproduct: X200\nentities: [E-42, M10]\ntags: wifi; reset, mesh\n"
        "extra: ignored\n---\n# Body\n\ntext\n"
    )
    assert body == "# Body\n\ntext\n"
    front = parse_front_matter(data)
    assert front.title == "Reset the X200"
    assert front.product == "X200"
    assert front.entities == ("E-42", "M10")
    assert front.tags == ("wifi", "reset", "mesh")
    several = parse_front_matter({"product": ["X200", "M10"], "tags": ["a", "a", " b "]})
    assert several.products == ("X200", "M10")
    assert several.product == "X200, M10"
    assert several.tags == ("a", "b")


def test_front_matter_absent_or_empty() -> None:
    assert split_front_matter("# No front-matter\n---\n") == ({}, "# No front-matter\n---\n")
    assert split_front_matter("---\n---\nbody") == ({}, "body")
    assert split_front_matter("\ufeff---\ntitle: x\n...\nbody")[0] == {"title": "x"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("---\ntitle: [unclosed\n---\nbody", "malformed YAML front-matter on line"),
        ("---\ntitle: a\n  bad: indent\n---\nbody", "malformed YAML"),
        ("---\n- a\n- b\n---\nbody", "must be a YAML mapping"),
        ("---\njust a string\n---\nbody", "must be a YAML mapping"),
        ("---\ntitle: x\nbody without closing line", "no closing '---'"),
    ],
)
def test_front_matter_malformed(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as info:
        split_front_matter(text, source="guide.md")
    assert "guide.md" in str(info.value)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"title": ["a", "b"]}, "'title' must be a single text value"),
        ({"entities": {"a": 1}}, "'entities' must be a list"),
        ({"tags": [["nested"]]}, "'tags' must list plain text items"),
    ],
)
def test_front_matter_bad_types(data: dict[str, object], message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_front_matter(data, source="x.md")


# ---------------------------------------------------------------------------------------------- documents


def test_markdown_document(tmp_path: Path) -> None:
    sections = "\n\n".join(
        f"## Step {n}\n\n" + " ".join(f"Sentence {n}.{k} about the router setup." for k in range(12))
        for n in range(4)
    )
    write(
        tmp_path / "manuals" / "x200.md",
        "---\ntitle: X200 setup\nproduct: X200\nentities: [X200]\ntags: [setup]\n---\n"
        f"# Setup\n\n{sections}\n",
    )
    chunks = chunks_of(kb_file(tmp_path, "manuals/x200.md"), LIMITS)
    assert len(chunks) >= 4
    assert [c.chunk_id for c in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert chunk.doc_id == "manuals/x200.md"
        assert chunk.source == "manuals/x200.md"
        assert chunk.modality == "text"
        assert chunk.title == "X200 setup"
        assert chunk.media_path is None
        assert chunk.metadata["product"] == "X200"
        assert chunk.metadata["entities"] == ["X200"]
        assert chunk.metadata["tags"] == ["setup"]
        assert chunk.metadata["kind"] == "document"
        assert chunk.metadata["title"] == "X200 setup"
        assert len(chunk.text) <= 1200
    assert chunks[0].metadata["heading_path"] == ["Setup", "Step 0"]
    assert chunks[0].text.startswith("X200 setup > Setup > Step 0\n\n")
    assert chunks[0].dense_text.startswith("X200 setup — Step 0: Sentence 0.0")


def test_title_falls_back_to_h1_then_file_name(tmp_path: Path) -> None:
    write(tmp_path / "with_h1.md", "Intro line.\n\n# The Real Title\n\nBody.")
    write(tmp_path / "slow-wifi_checklist.txt", "Move the router higher.")
    assert chunks_of(kb_file(tmp_path, "with_h1.md"), LIMITS)[0].title == "The Real Title"
    plain = chunks_of(kb_file(tmp_path, "slow-wifi_checklist.txt"), LIMITS)
    assert plain[0].title == "slow wifi checklist"
    assert plain[0].text == "slow wifi checklist\n\nMove the router higher."


def test_plain_text_setext_headings(tmp_path: Path) -> None:
    text = "Wall mount kit\n==============\n\nProducts: X200\n\nUsage\n-----\n\nDrill.\n"
    write(tmp_path / "kit.txt", text)
    [chunk] = chunks_of(kb_file(tmp_path, "kit.txt"), LIMITS)
    assert chunk.title == "Wall mount kit"
    assert "=====" not in chunk.text and "-----" not in chunk.text
    assert "Usage" in chunk.text


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    write(tmp_path / "bom.md", "\ufeff---\ntitle: With BOM\n---\nHello.".encode())
    [chunk] = chunks_of(kb_file(tmp_path, "bom.md"), LIMITS)
    assert chunk.title == "With BOM"
    assert "\ufeff" not in chunk.text


def test_html_visible_text_only(tmp_path: Path) -> None:
    html = """<!doctype html><html><head><title>Error &amp; codes</title>
    <style>body { color: red }</style><script>var secret = "SCRIPTTEXT";</script></head>
    <body><nav><a href="/">NAVTEXT home</a></nav>
    <h1>Error codes</h1><p>Every device reports problems with a code.</p>
    <h2>E-42</h2><p>Mesh link lost.<br>Move the extender closer.</p>
    <ul><li>Restart the router</li><li>Check cables</li></ul>
    <script>document.write("SCRIPT2")</script></body></html>"""
    write(tmp_path / "codes.html", html)
    chunks = chunks_of(kb_file(tmp_path, "codes.html"), LIMITS)
    joined = "\n".join(c.text for c in chunks)
    for hidden in ("SCRIPTTEXT", "SCRIPT2", "NAVTEXT", "color: red"):
        assert hidden not in joined
    assert chunks[0].title == "Error & codes"
    assert "Mesh link lost.\nMove the extender closer." in joined
    assert "- Restart the router" in joined


def test_html_sections_and_h1_title(tmp_path: Path) -> None:
    body = "".join(f"<h2>Part {n}</h2><p>{'Words here. ' * 60}</p>" for n in range(3))
    write(tmp_path / "page.htm", f"<html><body><h1>Catalog</h1>{body}</body></html>")
    chunks = chunks_of(kb_file(tmp_path, "page.htm"), LIMITS)
    assert chunks[0].title == "Catalog"
    assert [c.metadata["heading_path"] for c in chunks] == [["Catalog", f"Part {n}"] for n in range(3)]


def test_pdf_with_text_layer(tmp_path: Path) -> None:
    pdf = make_pdf(
        [text_stream("Resetting the X200 router.", "Hold the reset button."), text_stream("Page two text.")],
        title="X200 quick guide",
    )
    write(tmp_path / "guide.pdf", pdf)
    chunks = chunks_of(kb_file(tmp_path, "guide.pdf"), LIMITS)
    joined = "\n".join(c.text for c in chunks)
    assert "Resetting the X200 router." in joined
    assert "Page two text." in joined
    assert chunks[0].title == "X200 quick guide"
    assert chunks[0].metadata["pages"] == 2


def test_pdf_without_text_layer(tmp_path: Path) -> None:
    write(tmp_path / "scan.pdf", make_pdf([b"0 0 m 100 100 l S"]))
    with pytest.raises(InputError, match="no text layer"):
        chunks_of(kb_file(tmp_path, "scan.pdf"), LIMITS)


def test_pdf_unreadable(tmp_path: Path) -> None:
    write(tmp_path / "broken.pdf", b"%PDF-1.4\nthis is not really a pdf\n")
    with pytest.raises(InputError, match="broken.pdf: PDF cannot be read"):
        chunks_of(kb_file(tmp_path, "broken.pdf"), LIMITS)


# ---------------------------------------------------------------------------------------------- tables


def test_csv_rows(tmp_path: Path) -> None:
    write(
        tmp_path / "faq" / "qa.csv",
        "Question,Answer,Product,Tags\n"
        '"How do I reset?","Hold the button, 10 s.",X200,reset; wifi\n'
        ",,,\n"
        "What is E-42?,,X200,\n"
        "Where is the serial?,On the bottom.,,\n",
    )
    result = load_chunks(kb_file(tmp_path, "faq/qa.csv"), LIMITS)
    ids = [c.doc_id for c in result.chunks]
    assert ids == ["faq/qa.csv#row-1", "faq/qa.csv#row-4"]
    first = result.chunks[0]
    assert first.chunk_id == 0
    assert first.text == "Q: How do I reset?\nA: Hold the button, 10 s."
    assert first.title == "How do I reset?"
    assert first.source == "faq/qa.csv"
    assert first.metadata["product"] == "X200"
    assert first.metadata["tags"] == ["reset", "wifi"]
    assert first.metadata["kind"] == "table"
    assert first.metadata["row"] == 1
    assert first.dense_text.startswith("How do I reset?")
    assert result.chunks[1].metadata["product"] == ""
    assert result.warnings == ("row 3: empty answer; row skipped",)


def test_csv_aliases_and_semicolons(tmp_path: Path) -> None:
    write(tmp_path / "ft.csv", "INSTRUCTION;Response\nTurn on the camera;Press power, then wait.\n")
    [chunk] = chunks_of(kb_file(tmp_path, "ft.csv"), LIMITS)
    assert chunk.doc_id == "ft.csv#row-1"
    assert chunk.text == "Q: Turn on the camera\nA: Press power, then wait."


def test_csv_without_required_columns(tmp_path: Path) -> None:
    write(tmp_path / "bad.csv", "q,a\nhow?,so.\n")
    with pytest.raises(InputError, match="needs a 'question' and an 'answer' column.*found 'q', 'a'"):
        chunks_of(kb_file(tmp_path, "bad.csv"), LIMITS)


def test_csv_without_usable_rows(tmp_path: Path) -> None:
    write(tmp_path / "empty.csv", "question,answer\n,only answer\n")
    with pytest.raises(InputError, match="no row with both a question and an answer"):
        chunks_of(kb_file(tmp_path, "empty.csv"), LIMITS)


# ---------------------------------------------------------------------------------------------- media


def test_image_with_sidecar(tmp_path: Path) -> None:
    write(tmp_path / "shots" / "app_error.png", b"\x89PNG not decoded here")
    write(
        tmp_path / "shots" / "app_error.md",
        "---\ntitle: App error screen\nproduct: X200\nentities: [E-42]\ntags: screenshot\n---\n"
        "The app shows **Error E-42: Mesh link lost** in red.\n",
    )
    files = discover(tmp_path)
    assert [f.doc_id for f in files] == ["shots/app_error.png"]  # the sidecar is no document
    [chunk] = chunks_of(files[0], LIMITS)
    assert chunk.modality == "image"
    assert chunk.chunk_id == 0
    assert chunk.media_path == str((tmp_path / "shots" / "app_error.png").resolve())
    assert Path(chunk.media_path).is_absolute()
    assert chunk.text == "App error screen\n\nThe app shows **Error E-42: Mesh link lost** in red."
    assert chunk.title == "App error screen"
    assert chunk.dense_text == "App error screen: The app shows Error E-42: Mesh link lost in red."
    assert chunk.metadata["product"] == "X200"
    assert chunk.metadata["entities"] == ["E-42"]
    assert chunk.metadata["tags"] == ["screenshot"]
    assert chunk.metadata["kind"] == "image"


def test_audio_caption_from_file_name(tmp_path: Path) -> None:
    write(tmp_path / "sounds" / "e42_mesh_link.wav", b"RIFF not decoded here")
    [chunk] = chunks_of(kb_file(tmp_path, "sounds/e42_mesh_link.wav"), LIMITS)
    assert chunk.modality == "audio"
    assert chunk.text == "e42 mesh link"
    assert chunk.title == "e42 mesh link"
    assert chunk.dense_text == "e42 mesh link"
    assert chunk.metadata["product"] == ""


def test_media_with_malformed_sidecar(tmp_path: Path) -> None:
    write(tmp_path / "a.png", b"png")
    write(tmp_path / "a.md", "---\ntags: [unclosed\n---\ncaption")
    with pytest.raises(InputError, match=r"a\.png \(caption file a\.md\): malformed YAML"):
        chunks_of(kb_file(tmp_path, "a.png"), LIMITS)


# ---------------------------------------------------------------------------------------------- bad files


def test_size_is_checked_before_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "big.md", "x" * 200)
    write(tmp_path / "huge.png", b"p" * 200)
    files = {f.doc_id: f for f in discover(tmp_path)}

    def no_reading(*args: object, **kwargs: object) -> object:
        raise AssertionError("the file was opened although it is over the size limit")

    monkeypatch.setattr(Path, "open", no_reading)
    for doc_id in ("big.md", "huge.png"):
        with pytest.raises(InputError, match=f"{doc_id}: file is 200 bytes, over the limit of 100 bytes"):
            chunks_of(files[doc_id], Limits(max_file_bytes=100))


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("latin1.md", "café crème".encode("latin-1"), "not valid UTF-8 text"),
        ("nul.txt", b"text\x00with nul", "NUL bytes"),
        ("controls.txt", bytes(range(1, 9)) * 10 + b"abc", "control characters"),
        ("zero.md", b"", "file is empty"),
        ("only_front.md", b"---\ntitle: Nothing\n---\n\n\n", "no text"),
        ("blank.txt", b"   \n\n\t\n", "no text"),
        ("empty.html", b"<html><head><title>T</title></head><body><script>x()</script>", "no visible"),
        ("bad_yaml.md", b"---\ntitle: : :\n  - x\n---\nbody", "malformed YAML"),
        ("list_yaml.md", b"---\n[1, 2]\n---\nbody", "mapping"),
        ("table.xlsx", b"PK\x03\x04", "unsupported file type .xlsx"),
        ("bin.csv", b"\x00\x01\x02", "NUL bytes"),
    ],
)
def test_bad_files_raise_input_error(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    write(tmp_path / name, content)
    with pytest.raises(InputError, match=message) as info:
        chunks_of(kb_file(tmp_path, name), LIMITS)
    assert str(info.value).startswith(name)


def test_document_over_char_limit(tmp_path: Path) -> None:
    write(tmp_path / "long.md", "word " * 100)
    with pytest.raises(InputError, match="over 50 characters"):
        chunks_of(kb_file(tmp_path, "long.md"), Limits(max_document_chars=50))
    write(tmp_path / "long.pdf", make_pdf([text_stream("A line of text that is long enough.")] * 3))
    with pytest.raises(InputError, match="long.pdf: has over 50 characters"):
        chunks_of(kb_file(tmp_path, "long.pdf"), Limits(max_document_chars=50))


def test_unreadable_file_is_input_error(tmp_path: Path) -> None:
    path = write(tmp_path / "gone.md", "text")
    file = kb_file(tmp_path, "gone.md")
    os.remove(path)
    with pytest.raises(InputError, match="gone.md: cannot read the file"):
        chunks_of(file, LIMITS)


# ---------------------------------------------------------------------------------------------- chunking


def _long_doc() -> str:
    intro = " ".join(f"Intro sentence number {k} explains the product." for k in range(40))
    setup = " ".join(f"Setup step {k} is short." for k in range(10))
    tail = "### Wi-Fi\n\nJoin the network.\n\n## Reset\n\nHold it."
    return f"# Guide\n\n{intro}\n\n## Setup\n\n{setup}\n\n{tail}"


def test_chunking_by_headings_and_paragraphs() -> None:
    sections = chunk_document("Guide", _long_doc(), max_chars=400)
    paths = [s.heading_path for s in sections]
    assert paths[0] == ("Guide",)
    assert ("Guide", "Setup") in paths
    assert ("Guide", "Setup", "Wi-Fi") in paths
    assert paths[-1] == ("Guide", "Reset")
    assert sum(1 for p in paths if p == ("Guide",)) >= 4  # the long intro paragraph was split
    for section in sections:
        assert len(section.text) <= 400
        assert section.text.endswith(section.body)
    # Overlong paragraphs are split on sentence boundaries.
    intro = [s for s in sections if s.heading_path == ("Guide",)]
    assert all(s.body.endswith("product.") for s in intro)
    wifi = next(s for s in sections if s.heading_path[-1:] == ("Wi-Fi",))
    assert wifi.text == "Guide > Setup > Wi-Fi\n\nJoin the network."
    assert wifi.dense_text == "Guide — Wi-Fi: Join the network."
    assert chunk_document("Guide", _long_doc(), max_chars=400) == sections  # deterministic


def test_chunking_hard_splits_giant_words_and_respects_max_chars() -> None:
    body = "## Blob\n\n" + "x" * 1000 + "\n\n" + " ".join(["supercalifragilistic"] * 200)
    sections = chunk_document("T", body, max_chars=150)
    assert all(len(s.text) <= 150 for s in sections)
    assert "".join(s.body for s in sections).count("x") == 1000
    assert all(len(s.dense_text) <= DEFAULT_DENSE_CHARS for s in sections)


def test_tiny_document_is_one_chunk() -> None:
    [section] = chunk_document("FAQ", "# FAQ\n\nShort answer.\n\n## More\n\nAnother line.")
    assert section.heading_path == ()
    assert section.text == "FAQ\n\nShort answer.\n\n## More\n\nAnother line.", "headings keep their marks"
    assert section.dense_text == "FAQ — More: Short answer. Another line."
    assert chunk_document("T", "   \n\n") == []


def test_dense_text_is_short_and_word_bounded() -> None:
    long_sentence = " ".join(["troubleshooting"] * 60) + "."
    [section] = chunk_document("A rather long article title", f"## Heading\n\n{long_sentence}")
    assert len(section.dense_text) <= DEFAULT_DENSE_CHARS
    assert section.dense_text.startswith("A rather long article title — Heading: troubleshooting")
    assert section.dense_text.endswith("troubleshooting")  # no word cut in half
    assert cap_words("one two three", 9) == "one two"


def test_fenced_code_is_not_split_into_headings() -> None:
    blocks = markdown_blocks("# Real\n\n```bash\n# not a heading\n\necho hi\n```\n\nAfter.")
    assert [b.kind for b in blocks] == ["heading", "paragraph", "paragraph"]
    assert "# not a heading" in blocks[1].text


def test_overlap_repeats_trailing_sentences() -> None:
    body = " ".join(f"Sentence {k} is here." for k in range(40))
    sections = chunk_document("", body, max_chars=200, overlap=60)
    assert len(sections) > 2
    for previous, current in zip(sections, sections[1:], strict=False):
        # The next piece starts with whole trailing sentences of the previous one, at most 60 chars.
        start = previous.body.rfind(current.body.split(". ")[0] + ".")
        assert start > 0
        shared = previous.body[start:]
        assert current.body.startswith(shared)
        assert len(shared) <= 60
        assert len(current.text) <= 200
    without = chunk_document("", body, max_chars=200)
    assert len(without) < len(sections)


def test_chunk_options_are_validated() -> None:
    with pytest.raises(ConfigError, match="max_chars"):
        ChunkOptions(max_chars=10)
    with pytest.raises(ConfigError, match="overlap"):
        ChunkOptions(max_chars=200, overlap=150)
    with pytest.raises(ConfigError, match="max_chars"):
        chunk_document("t", "body", max_chars=5)


# ---------------------------------------------------------------------------------------------- sample KB


def test_sample_kb_loads_without_errors(sample_kb: Path) -> None:
    files = discover(sample_kb)
    assert files
    total = 0
    for file in files:
        assert file.kind != "unknown", f"{file.doc_id}: {file.reason}"
        chunks = chunks_of(file, LIMITS)
        assert chunks, file.doc_id
        for chunk in chunks:
            assert chunk.text.strip() and chunk.dense_text.strip()
            assert len(chunk.dense_text) <= DEFAULT_DENSE_CHARS
        total += len(chunks)
    assert total >= len(files)
