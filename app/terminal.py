"""`supportbot chat`: a terminal conversation over the engine, streaming, with citations and traces.

Lines are questions; `/image PATH [question]` and `/audio PATH [question]` attach a screenshot or a
voice note; `/human` asks for a person; `/trace` prints the last turn's full trace as JSON;
`/quit` (or end of input) leaves. Bad input is reported and the conversation goes on. Answers print
as plain text (no markdown marks); the options of a question back are numbered and a number picks one.
"""

from __future__ import annotations

import json
import re
import shlex
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from chatbot.engine import ChatEngine, TurnResult
from chatbot.sessions import new_session_id
from core.errors import SupportbotError

HELP = "Ask a question. /image PATH [text], /audio PATH [text], /human, /trace, /quit"


_EMPHASIS = re.compile(r"(\*\*|__|\*|_)(?=\S)(.+?)(?<=\S)\1")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")


def plain(markdown: str) -> str:
    """Markdown as terminal text: emphasis and heading marks dropped, bullets as "•", numbered steps
    kept, table rows as "cell | cell" without the rule line, HTML tags removed."""
    out: list[str] = []
    for line in markdown.split("\n"):
        if _TABLE_RULE.match(line):
            continue
        text = re.sub(r"</?[A-Za-z][^>]*>", "", line)
        text = _EMPHASIS.sub(r"\2", _EMPHASIS.sub(r"\2", text))
        text = re.sub(r"^\s{0,3}#{1,6}\s+", "", text)
        text = re.sub(r"^(\s*)[-*+]\s+", r"\1• ", text)
        if text.strip().startswith("|"):
            text = " | ".join(c.strip() for c in text.strip().strip("|").split("|"))
        out.append(text)
    return "\n".join(out)


def _print_stream(pieces: Iterable[str], out: TextIO) -> None:
    """Prints the answer as plain text, paragraph by paragraph as they complete (so no half-written
    markdown shows); a text that is not an extension (a replaced answer) starts on a new line, marked."""
    shown = ""  # the raw text whose complete paragraphs were printed
    printed = 0  # characters of `shown` printed
    for text in pieces:
        if not text.startswith(shown[:printed]):
            out.write("\n[replaced: the draft answer was not supported by our documents]\n")
            printed = 0
        shown = text
        done = text.rfind("\n\n")
        if done > printed:
            out.write(plain(text[printed:done]) + "\n\n")
            printed = done + 2
            out.flush()
    out.write(plain(shown[printed:]) + "\n")


def _print_result(result: TurnResult, out: TextIO) -> None:
    for n, option in enumerate(result.options, start=1):
        out.write(f"  ({n}) {option}\n")
    for c in result.citations:
        out.write(f"  [{c.number}] {c.title or c.doc_id} ({c.doc_id})\n")


def chat_loop(engine: ChatEngine, lines: TextIO | None = None, out: TextIO | None = None) -> int:
    lines = sys.stdin if lines is None else lines
    out = sys.stdout if out is None else out
    session_id = new_session_id()
    last: TurnResult | None = None
    interactive = lines.isatty()
    out.write(HELP + "\n")
    while True:
        if interactive:
            out.write("you> ")
            out.flush()
        line = lines.readline()
        if not line:
            return 0
        line = line.strip()
        if not line:
            continue
        if line in ("/quit", "/exit"):
            return 0
        if line == "/trace":
            out.write(json.dumps(last.trace.to_dict() if last else {}, indent=2, default=str) + "\n")
            continue
        if line == "/human":
            out.write("bot> " + engine.request_human(session_id, last.turn_id if last else None) + "\n")
            continue
        text, image, audio = line, None, None
        if last is not None and line.isdigit() and 1 <= int(line) <= len(last.options):
            text = last.options[int(line) - 1]  # a numbered option of the bot's last message
        try:
            if line.startswith(("/image ", "/audio ")):
                parts = shlex.split(line)
                if len(parts) < 2:
                    raise SupportbotError(f"{parts[0]} needs a file path")
                path = Path(parts[1]).expanduser()
                text = " ".join(parts[2:])
                image, audio = (path, None) if parts[0] == "/image" else (None, path)
            elif line.startswith("/"):
                out.write(HELP + "\n")
                continue
            stream = engine.turn(session_id, text, image=image, audio=audio)
            out.write("bot> ")
            _print_stream(stream, out)
            last = stream.result
            _print_result(last, out)
        except (SupportbotError, ValueError) as exc:
            out.write(f"error: {' '.join(str(exc).split())}\n")
