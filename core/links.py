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
