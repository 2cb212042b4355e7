"""`supportbot chat`: a terminal conversation over the engine, streaming, with citations and traces.

Lines are questions; `/image PATH [question]` and `/audio PATH [question]` attach a screenshot or a
voice note; `/human` asks for a person; `/trace` prints the last turn's full trace as JSON;
`/quit` (or end of input) leaves. Bad input is reported and the conversation goes on.
"""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from chatbot.engine import ChatEngine, TurnResult
from chatbot.sessions import new_session_id
from core.errors import SupportbotError

HELP = "Ask a question. /image PATH [text], /audio PATH [text], /human, /trace, /quit"


def _print_stream(pieces: Iterable[str], out: TextIO) -> None:
    """Prints each growing text as a delta; a text that is not an extension (a replaced answer) is
    printed on a new line, marked."""
    shown = ""
    for text in pieces:
        if text.startswith(shown):
            out.write(text[len(shown) :])
        else:
            out.write("\n[replaced: the draft answer was not supported by our documents]\n" + text)
        shown = text
        out.flush()
    out.write("\n")


def _print_result(result: TurnResult, out: TextIO) -> None:
    for c in result.citations:
        out.write(f"  [{c.number}] {c.doc_id} ({c.modality}) {c.title}\n")
    trace = result.trace
    retrieval = trace.retrieval
    resolved = trace.context.resolved_query
    summary = (
        f"  trace #{result.turn_id}: resolved query {resolved!r}; sources {', '.join(retrieval.sources)}"
    )
    out.write(summary + ("" if retrieval.dense else " (dense retrieval OFF)") + "\n")
    for note in trace.inputs.notes + retrieval.notes:
        out.write(f"  note: {note}\n")


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
