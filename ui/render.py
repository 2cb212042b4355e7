"""Chat-side rendering: answers, citation previews, the handoff message and the degraded-mode banner.

Everything here turns engine results into Gradio chat messages (plain `MessageDict`s) and
Markdown; nothing imports gradio, so it is cheap to test. Citation previews link to the `kb/<doc_id>`
route (see `ui.kb_files`), and only for doc_ids the KB lookup knows were ingested.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

from chatbot.answers.sections import split_sentences
from chatbot.engine import HANDOFF_MESSAGE
from chatbot.turn_trace import Citation, InputsRecord, TurnTrace
from core.links import MEDIA_TYPES, kb_link

Message = dict[str, Any]

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp"})
AUDIO_SUFFIXES = frozenset({".wav", ".mp3", ".ogg", ".flac", ".m4a", ".webm", ".opus"})
MIME_BY_SUFFIX = MEDIA_TYPES  # one table of media types (core.links)
HANDOFF_TITLE = "Handing you over to a person"
# Reader notes that mean a model is missing: they join the banner, not just the one answer.
MISSING_READER_PREFIXES = ("voice note not transcribed", "screenshot text not read")


class KBLookup(Protocol):
    """Finds the ingested KB file behind a doc_id (`ui.kb_files.KBFiles`)."""

    def lookup(self, doc_id: str) -> Path | None: ...


def file_content(path: Path) -> dict[str, Any]:
    """A chat message part that shows a file (image thumbnail, audio player, download link)."""
    content: dict[str, Any] = {"path": str(path), "orig_name": path.name}
    mime = MIME_BY_SUFFIX.get(path.suffix.lower())
    if mime:
        content["mime_type"] = mime
    return content


def preview_markdown(path: Path, doc_id: str, title: str) -> str:
    """An inline preview of a cited KB image (thumbnail) or sound (player), as chat Markdown/HTML."""
    suffix = path.suffix.lower()
    alt = html.escape(title, quote=True)
    url = html.escape(kb_link(doc_id.split("#", 1)[0]), quote=True)
    if suffix in IMAGE_SUFFIXES:
        return f'<img src="{url}" alt="{alt}" style="max-height: 220px; max-width: 100%;">'
    if suffix in AUDIO_SUFFIXES:
        return f'<audio controls preload="none" src="{url}" title="{alt}"></audio>'
    return ""


_LINE = re.compile(r"^(\s*(?:\d{1,3}[.)]|[-*+])\s+)?(.*)$")


def _plain(text: str) -> str:
    return " ".join(re.sub(r"[*_`]", "", text).casefold().split())


def highlighted(section: str, quoted: Iterable[str]) -> str:
    """The cited section as markdown with the sentences the answer quotes marked (`<mark>`): each
    matching sentence whole, so bold and links inside it stay intact; tables are left as they are."""
    wanted = [w for w in (_plain(q) for q in quoted) if len(w.split()) >= 3]
    out: list[str] = []
    for line in section.split("\n"):
        match = _LINE.match(line)
        prefix, body = (match.group(1) or "", match.group(2)) if match else ("", line)
        if not wanted or not body.strip() or body.lstrip().startswith("|"):
            out.append(line)
            continue
        marked = [
            f"<mark>{s}</mark>" if any(w in _plain(s) or _plain(s) in w for w in wanted) else s
            for s in split_sentences(body)
        ]
        out.append(prefix + " ".join(marked))
    return "\n".join(out)


def citation_messages(citations: Iterable[Citation], kb: KBLookup | None) -> list[Message]:
    """One collapsed, expandable message per citation: the whole cited section with the quoted sentences
    highlighted (else its snippet), a link that opens the full article read-only and, for KB images and
    sounds, a thumbnail or a player (ingested files only, served by doc_id)."""
    out: list[Message] = []
    for c in citations:
        doc_id = c.doc_id
        title = c.title or doc_id
        section = c.section.strip()
        snippet = " ".join(c.snippet.split())
        parts: list[str] = []
        path = kb.lookup(doc_id) if kb is not None else None
        preview = preview_markdown(path, doc_id, title) if path is not None else ""
        if preview:
            parts.append(preview)
        if section:
            parts.append(highlighted(section, c.quoted))
        elif snippet:
            parts.append(f"> {snippet}")
        if path is not None and not preview:
            link = html.escape(kb_link(doc_id.split("#", 1)[0]), quote=True)
            parts.append(f'<a href="{link}" target="_blank" rel="noopener">Open the full article</a>')
        out.append(
            {
                "role": "assistant",
                "content": "\n\n".join(parts),
                "metadata": {"title": f"Source [{c.number}] {title}", "status": "done"},
            }
        )
    return out


def answer_message(text: str, options: Sequence[str] = ()) -> Message:
    """The bot's reply; `options` (a question back's choices, the offer of a person) become buttons."""
    message: Message = {"role": "assistant", "content": text}
    if options:
        message["options"] = [{"label": o, "value": o} for o in options]
    return message


def handoff_message() -> Message:
    """The one handoff message, shown both when the customer asks and when the bot hands over."""
    return {"role": "assistant", "content": f"**{HANDOFF_TITLE}.** {HANDOFF_MESSAGE}"}


def understanding_message(inputs: InputsRecord) -> Message | None:
    """A collapsed "how I read your message" note: what was heard in a voice note and read on a screenshot
    (confidences and reader notes stay in the staff trace)."""
    lines: list[str] = []
    transcript = inputs.transcript
    if transcript is not None:
        heard = " ".join(transcript.text.split())
        lines.append(f"I heard: {heard}" if heard else "I heard no speech in your voice note.")
    ocr = inputs.ocr
    if ocr is not None:
        read = " ".join(ocr.text.split())
        read = (read[:300].rsplit(" ", 1)[0] + "…") if len(read) > 300 else read
        lines.append(f"I read on your image: {read}" if read else "I found no text on your image.")
    if not lines:
        return None
    return {
        "role": "assistant",
        "content": "\n\n".join(lines),
        "metadata": {"title": "How I read your message", "status": "done"},
    }


def user_message(text: str, attachments: Sequence[Path]) -> list[Message]:
    """The customer's turn as chat messages: attachments first (by name: uploads are deleted after
    the turn and never served back), then the text."""
    out: list[Message] = [{"role": "user", "content": f"📎 {p.name}"} for p in attachments]
    if text.strip():
        out.append({"role": "user", "content": text})
    return out


def error_message(reason: str) -> Message:
    return {"role": "assistant", "content": f"⚠ {' '.join(reason.split())}"}


def missing_reader_notes(notes: Iterable[str]) -> list[str]:
    """The notes of one turn that say a reading model (speech, OCR) is missing."""
    return [n for n in notes if n.startswith(MISSING_READER_PREFIXES)]


PUBLIC_READER_NOTES = {
    MISSING_READER_PREFIXES[0]: "Voice notes can't be transcribed right now, so please type your question.",
    MISSING_READER_PREFIXES[
        1
    ]: "Text on screenshots can't be read right now, so please type the message you see.",
}


def public_reader_notes(notes: Iterable[str]) -> list[str]:
    """Customer lines for the reader notes of one turn that say a reading model is missing."""
    return [PUBLIC_READER_NOTES[p] for n in notes for p in MISSING_READER_PREFIXES if n.startswith(p)]


def banner_markdown(lines: Sequence[str]) -> str:
    """The public page's line about how it answers (customer words), or empty when there is nothing to say."""
    return " ".join(dict.fromkeys(n for n in lines if n.strip()))


def staff_notice_markdown(notices: Sequence[str]) -> str:
    """The operator's reduced-mode notice on the staff console: every part that is off, as logged."""
    unique = list(dict.fromkeys(n for n in notices if n.strip()))
    if not unique:
        return ""
    items = "\n".join(f"- {n}" for n in unique)
    return f"**Reduced mode**: the assistant runs without some of its parts:\n\n{items}"


def turn_summary(trace: TurnTrace, turn_id: int) -> dict[str, Any]:
    """The machine-readable result of one chat turn (the `/chat` API's last output)."""
    return {
        "turn_id": turn_id,
        "answer": trace.answer.text,
        "citations": [c.to_dict() for c in trace.answer.citations],
        "abstained": trace.answer.abstained,
        "handoff": trace.handoff is not None,
        "asked_back": trace.answer.asked_back is not None,
        "options": list(trace.answer.options),
        "notes": list(trace.inputs.notes),
        "dense_retrieval": trace.retrieval.dense,
    }
