"""The one URL shape for a knowledge-base file the web app serves: `kb/<doc_id>` (relative to the chat
page), e.g. `kb/manuals/x200.md` or `kb/faq.csv%23row-3`.

The route looks the doc_id up among what was ingested (never by a file path), so anything may
build such a link: citations, previews, a "read the full article" link.
"""

from __future__ import annotations

from urllib.parse import quote

KB_ROUTE = "kb"


def kb_link(doc_id: str) -> str:
    """The page-relative link to an ingested KB file (works behind a proxy that mounts the app on a
    sub-path); the part after '#' (a row or section) is kept, percent-encoded."""
    return f"{KB_ROUTE}/" + quote(doc_id, safe="/")


# The media types of KB images and sounds, for the file route and for previews in chat.
MEDIA_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".gif": "image/gif",
    ".bmp": "image/bmp",
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    ".flac": "audio/flac",
    ".m4a": "audio/mp4",
    ".webm": "audio/webm",
    ".opus": "audio/ogg",
}
