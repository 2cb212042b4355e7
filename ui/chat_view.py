"""The public customer chat: one message box (text, screenshot, audio file or microphone), streamed
cited answers with expandable source previews, thumbs up/down with a comment, "I want a human".

`ChatController` holds the handlers as plain methods over a `ChatEngine` (testable without a
browser); `build_chat_blocks` wires them to Gradio components. The conversation lives in a
server-side `gr.State`, never in what the browser sends back, so a client can neither forge
history nor point the chat at files it did not upload.

API endpoints (for `gradio_client`): `/chat` (message -> history, cleared box, turn summary),
`/feedback` (rating, comment -> status), `/human` and `/new_conversation`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr

from chatbot.engine import ChatEngine, TurnResult
from chatbot.sessions import new_session_id
from core.errors import InputError, SupportbotError
from core.sanitise import clean_text
from ui import render
from ui.uploads import UploadRegistry, session_of

log = logging.getLogger(__name__)

THUMBS_UP = "up"
THUMBS_DOWN = "down"
RATINGS = [("Helpful", THUMBS_UP), ("Not helpful", THUMBS_DOWN)]
PLACEHOLDER = "Ask a question — or attach a screenshot, an audio file, or record a voice note"
# By kind and by extension: Gradio checks uploads by the MIME type Python guesses, and it guesses
# video/webm for a browser's WebM/Opus voice note.
MESSAGE_FILE_TYPES = ["image", "audio", *sorted(render.IMAGE_SUFFIXES | render.AUDIO_SUFFIXES)]
# The web path (bench/web_path.py): while an answer streams, an update carries the chat only (the
# other outputs are `gr.skip()`: Gradio rebuilds a component for every banner update it is sent),
# and pieces that arrive within STREAM_INTERVAL_S of the last update wait for the next one; the
# first piece goes at once, and the final update carries the whole answer.
STREAM_INTERVAL_S = 0.1
UNEXPECTED = (
    "Sorry — something went wrong while I was answering this message. Please send it again, or ask "
    "for a human."
)


@dataclass
class ChatState:
    """One browser session's conversation (kept on the server by `gr.State`)."""

    session_id: str = ""
    messages: list[dict[str, Any]] = field(default_factory=list)
    turn_of_message: dict[int, int] = field(default_factory=dict)
    last_turn_id: int | None = None
    rated_turn_id: int | None = None
    reader_notices: list[str] = field(default_factory=list)
    owner: str = ""  # the browser session (cookie) this conversation belongs to

    def ensure_session(self) -> str:
        if not self.session_id:
            self.session_id = new_session_id()
        return self.session_id

    def snapshot(self) -> list[dict[str, Any]]:
        """A copy of the history as it is now (what one streamed update shows)."""
        return [dict(m) for m in self.messages]

    def add(self, messages: Sequence[dict[str, Any]], turn_id: int | None = None) -> None:
        for message in messages:
            if turn_id is not None:
                self.turn_of_message[len(self.messages)] = turn_id
            self.messages.append(message)


@dataclass(frozen=True)
class ChatConfig:
    """`kb` finds ingested KB files for citation previews (None: snippets only); `upload_roots`: where
    uploads may live."""

    kb: render.KBLookup | None
    upload_roots: tuple[Path, ...]
    notices: tuple[str, ...] = ()  # the operator's reduced-mode notices (staff console and log only)
    public: tuple[
        str, ...
    ] = ()  # customer lines for the banner ("Answers are quoted from our help articles.")
    uploads: UploadRegistry | None = None  # served: uploads and conversations bound to the cookie


def _message_parts(message: Any) -> tuple[str, list[str]]:
    if message is None:
        return "", []
    if isinstance(message, str):
        return clean_text(message), []
    if isinstance(message, dict):
        files = [f if isinstance(f, str) else str(f.get("path", "")) for f in message.get("files") or []]
        return clean_text(str(message.get("text") or "")), [clean_text(f) for f in files if f]
    raise InputError("the message must be text or {'text': ..., 'files': [...]}")


def _session(request: gr.Request | None) -> str | None:
    if request is None:
        return None
    return session_of(request.headers.get("cookie"))


class ChatController:
    """The chat's event handlers over one engine."""

    def __init__(self, engine: ChatEngine, config: ChatConfig) -> None:
        self.engine = engine
        self.config = config

    def banner_text(self, state: ChatState) -> str:
        return render.banner_markdown([*self.config.public, *state.reader_notices])

    def banner(self, state: ChatState) -> Any:
        """The banner as a component update: shown whenever there is something to say."""
        text = self.banner_text(state)
        return gr.Markdown(value=text, visible=bool(text))

    def own(self, state: ChatState | None, request: gr.Request | None) -> ChatState:
        """The state if it belongs to this browser session; a fresh one if it belongs to another
        (a client reusing someone's session_hash sees nothing of their conversation)."""
        state = state if state is not None else ChatState()
        if self.config.uploads is None:
            return state
        session = _session(request) or ""
        if state.owner and state.owner != session:
            return ChatState(owner=session)
        state.owner = session
        return state

    def attachments(
        self, files: Sequence[str], session: str | None = None
    ) -> tuple[Path | None, Path | None]:
        """(image, audio) from the uploaded files; refuses files that were not uploaded to this app
        (served: by this browser session)."""
        image = audio = None
        roots = [r.resolve() for r in self.config.upload_roots]
        for name in files:
            path = Path(name).resolve()
            owned = self.config.uploads is None or self.config.uploads.owned_by(session, path)
            if not any(path.is_relative_to(root) for root in roots) or not path.is_file() or not owned:
                raise InputError(
                    f"attachment {Path(name).name!r} was not uploaded in this conversation; attach it again"
                )
            suffix = path.suffix.lower()
            if suffix in render.IMAGE_SUFFIXES and image is None:
                image = path
            elif suffix in render.AUDIO_SUFFIXES and audio is None:
                audio = path
            else:
                raise InputError(
                    f"cannot use {path.name!r}: attach at most one image (png, jpg, webp) and one audio "
                    "file (wav, mp3, ogg, flac, m4a, webm) per message"
                )
        return image, audio

    def respond(
        self, message: Any, state: ChatState | None, request: gr.Request | None = None
    ) -> Iterator[tuple[list[dict[str, Any]], Any, ChatState, dict[str, Any], Any]]:
        """Streams (history, message box, state, turn summary, banner) while the answer grows; the
        turn's uploads are deleted when it ends."""
        state = self.own(state, request)
        files: list[str] = []
        try:
            try:
                text, files = _message_parts(message)
            except SupportbotError as exc:
                state.add([render.error_message(str(exc))])
                yield state.snapshot(), None, state, {"error": str(exc)}, self.banner(state)
                return
            yield from self._respond(text, files, state, _session(request))
        finally:  # this session's uploads only: someone else's path sent here is left alone
            uploads, session = self.config.uploads, _session(request)
            if uploads is not None:
                for name in files:
                    if uploads.owned_by(session, name):
                        uploads.release(name)

    def _respond(
        self, text: str, files: list[str], state: ChatState, session: str | None
    ) -> Iterator[tuple[list[dict[str, Any]], Any, ChatState, dict[str, Any], Any]]:
        session_id = state.ensure_session()
        try:
            image, audio = self.attachments(files, session)
        except SupportbotError as exc:
            state.add([render.error_message(str(exc))])
            yield state.snapshot(), None, state, {"error": str(exc)}, self.banner(state)
            return
        mark = len(state.messages)
        state.add(render.user_message(text, [p for p in (image, audio) if p is not None]))
        yield state.snapshot(), None, state, gr.skip(), gr.skip()
        streamed = False
        try:
            stream = self.engine.turn(
                session_id,
                text,
                image=image,
                audio=audio,
                image_name=image.name if image else None,
                audio_name=audio.name if audio else None,
            )
            draft = {"role": "assistant", "content": "…"}
            state.messages.append(draft)
            last_update = 0.0
            for so_far in stream:
                streamed = True
                draft["content"] = so_far
                if time.monotonic() - last_update >= STREAM_INTERVAL_S:
                    last_update = time.monotonic()
                    yield state.snapshot(), gr.skip(), state, gr.skip(), gr.skip()
            state.messages.pop()
            result = stream.result
        except Exception as exc:  # noqa: BLE001 - one failing turn never ends the session
            reason = self._failed(exc, state, session_id, mark, streamed)
            yield state.snapshot(), None, state, {"error": reason}, self.banner(state)
            return
        state.add(self._replies(result, state), result.turn_id)
        state.last_turn_id = result.turn_id
        yield (
            state.snapshot(),
            None,
            state,
            render.turn_summary(result.trace, result.turn_id),
            self.banner(state),
        )

    @staticmethod
    def _failed(exc: Exception, state: ChatState, session_id: str, mark: int, streamed: bool) -> str:
        """A failed turn's refusal in the chat (its draft gone, its message too if nothing streamed);
        the customer's reason."""
        if state.messages and state.messages[-1].get("content") == "…":
            state.messages.pop()
        reason = str(exc) if isinstance(exc, SupportbotError) else UNEXPECTED
        if not isinstance(exc, SupportbotError):
            log.exception("chat turn failed in session %s", session_id)
        if not streamed:  # refused before it began (turn limit, unreadable input): not kept
            del state.messages[mark:]
        refusal = render.error_message(reason)
        if not state.messages or state.messages[-1] != refusal:  # a repeated refusal is shown once
            state.add([refusal])
        return reason

    def _replies(self, result: TurnResult, state: ChatState) -> list[dict[str, Any]]:
        """The bot's messages for a finished turn: how it read the message, the reply, its sources."""
        inputs = result.trace.inputs
        for note in render.public_reader_notes(inputs.notes):
            if note not in state.reader_notices:
                state.reader_notices.append(note)
        # The customer said yes to a person: the handoff message is the reply.
        reply = (
            render.handoff_message() if result.handoff else render.answer_message(result.text, result.options)
        )
        replies = [reply]
        understood = render.understanding_message(inputs)
        if understood is not None:
            replies.insert(0, understood)
        replies.extend(render.citation_messages(result.citations, self.config.kb))
        return replies

    def choose(
        self, state: ChatState | None, data: gr.SelectData, request: gr.Request | None = None
    ) -> Iterator[tuple[list[dict[str, Any]], Any, ChatState, dict[str, Any], Any]]:
        """A button under the bot's message (a question back's option, the offer of a person) is the
        customer's reply, as if typed."""
        value = data.value if isinstance(data.value, str) else str(getattr(data, "value", "") or "")
        yield from self.respond(value, state, request)

    def like(
        self, state: ChatState | None, data: gr.LikeData, request: gr.Request | None = None
    ) -> tuple[ChatState, str | None, str]:
        """Built-in thumbs on an answer: stored at once; the comment box then refers to that answer."""
        state = self.own(state, request)
        index = data.index[0] if isinstance(data.index, (tuple, list)) else data.index
        turn_id = state.turn_of_message.get(int(index))
        if turn_id is None or not state.session_id:
            return state, None, "That message has no answer to rate."
        liked = data.liked is True or data.liked == "Like"
        self.engine.feedback(state.session_id, turn_id, liked)
        state.rated_turn_id = turn_id
        verdict = "thumbs up" if liked else "thumbs down"
        return (
            state,
            THUMBS_UP if liked else THUMBS_DOWN,
            f"Thanks — {verdict} saved. Add a comment below if you like.",
        )

    def feedback(
        self, rating: str | None, comment: str, state: ChatState | None, request: gr.Request | None = None
    ) -> tuple[str, str, ChatState]:
        """(status, cleared comment box, state): rates the answer last thumbed, else the latest answer."""
        state = self.own(state, request)
        turn_id = state.rated_turn_id or state.last_turn_id
        if turn_id is None or not state.session_id:
            return "There is no answer to rate yet.", comment, state
        if rating not in (THUMBS_UP, THUMBS_DOWN):
            return "Choose Helpful or Not helpful first.", comment, state
        thumbs_up = rating == THUMBS_UP
        try:
            self.engine.feedback(state.session_id, turn_id, thumbs_up, comment or "")
        except SupportbotError as exc:
            return f"⚠ {exc}", comment, state
        state.rated_turn_id = None
        return "Thank you — your feedback was saved.", "", state

    def human(
        self, state: ChatState | None, request: gr.Request | None = None
    ) -> tuple[list[dict[str, Any]], ChatState]:
        """ "I want a human": the latest turn gets a handoff packet; the same handoff message is shown."""
        state = self.own(state, request)
        session_id = state.ensure_session()
        self.engine.request_human(session_id, state.last_turn_id)
        state.add([{"role": "user", "content": "I want to talk to a human."}, render.handoff_message()])
        return state.messages, state

    def new_conversation(
        self, state: ChatState | None, request: gr.Request | None = None
    ) -> tuple[list[dict[str, Any]], ChatState, str, Any]:
        state = self.own(state, request)
        if state.session_id:
            self.engine.end_session(state.session_id)
        fresh = ChatState(owner=state.owner)
        return fresh.messages, fresh, "", self.banner(fresh)


def build_chat_blocks(engine: ChatEngine, config: ChatConfig, *, concurrency: int = 1) -> gr.Blocks:
    """The customer chat page. `concurrency`: chat turns running at once (they run the models)."""
    # Long by nature: the chat page layout, one declarative Gradio widget or event wiring per line.
    ctl = ChatController(engine, config)
    # delete_cache: whatever the turns did not delete (abandoned uploads) expires after an hour.
    with gr.Blocks(title="Support assistant", analytics_enabled=False, delete_cache=(600, 3600)) as demo:
        gr.Markdown(
            "## Support assistant\nAsk about your devices, orders and account. Answers cite our documents."
        )
        initial = ctl.banner_text(ChatState())
        banner = gr.Markdown(initial, visible=bool(initial), elem_id="degraded-banner")
        state = gr.State(ChatState())
        chatbot = gr.Chatbot(
            elem_id="chat",
            label="Conversation",
            show_label=False,
            height=600,
            feedback_options=("Like", "Dislike"),
            placeholder="Hello! How can I help you today?",
            buttons=["copy"],
        )
        box = gr.MultimodalTextbox(
            elem_id="message",
            sources=["upload", "microphone"],
            file_types=MESSAGE_FILE_TYPES,
            file_count="multiple",
            placeholder=PLACEHOLDER,
            show_label=False,
            autofocus=True,
        )
        with gr.Row():
            human = gr.Button("I want a human", elem_id="human", variant="secondary")
            restart = gr.Button("New conversation", elem_id="new-conversation", variant="secondary")
        with gr.Group(elem_id="feedback-panel"):
            gr.Markdown("**Rate an answer** — use the thumbs under it, or rate the latest answer here.")
            with gr.Row():
                rating = gr.Radio(RATINGS, label="Was the answer helpful?", elem_id="rating")
                comment = gr.Textbox(label="Comment (optional)", elem_id="comment", max_length=2000)
            send = gr.Button("Send feedback", elem_id="send-feedback")
            status = gr.Markdown(elem_id="feedback-status")
        summary = gr.JSON(visible=False)

        chatbot.option_select(
            ctl.choose,
            [state],
            [chatbot, box, state, summary, banner],
            api_visibility="private",
            concurrency_limit=concurrency,
            concurrency_id="models",
        )
        box.submit(
            ctl.respond,
            [box, state],
            [chatbot, box, state, summary, banner],
            api_name="chat",
            concurrency_limit=concurrency,
            concurrency_id="models",
        )
        chatbot.like(ctl.like, [state], [state, rating, status], api_visibility="private")
        send.click(ctl.feedback, [rating, comment, state], [status, comment, state], api_name="feedback")
        human.click(ctl.human, [state], [chatbot, state], api_name="human")
        restart.click(
            ctl.new_conversation, [state], [chatbot, state, status, banner], api_name="new_conversation"
        )
    return demo
