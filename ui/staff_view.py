"""The staff console (served behind a login): conversations, turns with filters, one turn's full trace,
and "export as eval case" so a bad answer becomes a regression test in one click.

`StaffController` holds the handlers over a `TraceStore`; `build_staff_blocks` lays them out.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from chatbot.traces import TraceStore
from core.errors import SupportbotError
from ui import render
from ui import trace_view as tv

ALL_CONVERSATIONS = "(all conversations)"


def _turn_id(value: object) -> int | None:
    """The turn picker's value (an id, or text typed into it) as a turn id; None if it is not one."""
    try:
        return int(str(value).strip().lstrip("#")) if value not in (None, "") else None
    except ValueError:
        return None


class StaffController:
    def __init__(self, traces: TraceStore) -> None:
        self.traces = traces

    def refresh(
        self, thumbs_down: bool, handoffs: bool, since: str, until: str, conversation: str | None
    ) -> tuple[Any, ...]:
        """(conversations table, turns table, turn picker, conversation picker, status)."""
        session = None if conversation in (None, "", ALL_CONVERSATIONS) else conversation
        sessions = tv.session_rows(self.traces)
        conversations = gr.Dropdown(
            choices=[ALL_CONVERSATIONS] + [s[0] for s in sessions], value=session or ALL_CONVERSATIONS
        )
        sessions_df = pd.DataFrame(sessions, columns=tv.SESSION_HEADERS)
        try:
            flt = tv.make_filter(thumbs_down, handoffs, since, until, session)
        except SupportbotError as exc:
            empty = pd.DataFrame([], columns=tv.TURN_HEADERS)
            return sessions_df, empty, gr.Dropdown(choices=[], value=None), conversations, f"⚠ {exc}"
        rows = self.traces.turns(flt)
        choices = [tv.turn_choice(r) for r in rows]
        picker = gr.Dropdown(choices=choices, value=choices[0][1] if choices else None)
        status = f"{len(rows)} turn(s) match." if rows else "No turns match these filters."
        return (
            sessions_df,
            pd.DataFrame(tv.turn_rows(rows), columns=tv.TURN_HEADERS),
            picker,
            conversations,
            status,
        )

    def pick(self, evt: gr.SelectData) -> Any:
        """Clicking a row of the turns table selects that turn."""
        row = evt.row_value or []
        return gr.Dropdown(value=int(row[0])) if row else gr.Dropdown()

    def show(self, turn: int | str | None) -> tuple[Any, ...]:
        """Every detail output for one turn (empty when none is selected)."""
        turn_id = _turn_id(turn)
        row = self.traces.get(turn_id) if turn_id is not None else None
        if row is None:
            nothing = "Select a turn above."
            empty = pd.DataFrame()
            return (nothing, "", "", empty, empty, empty, None, "", None, "", None, None)
        view = tv.turn_view(row)
        return (
            view.summary,
            view.understanding,
            view.context,
            pd.DataFrame(view.entities, columns=tv.ENTITY_HEADERS),
            pd.DataFrame(view.per_source, columns=tv.SOURCE_HEADERS),
            pd.DataFrame(view.fused, columns=tv.FUSED_HEADERS),
            view.graph,
            view.generator_input,
            view.timings,
            view.feedback,
            view.handoff,
            view.trace,
        )

    def export(self, turn: int | str | None, expected: str) -> tuple[str, str | None, str]:
        """(JSONL line, downloadable .jsonl file, status) for the selected turn."""
        turn_id = _turn_id(turn)
        if turn_id is None:
            return "", None, "Select a turn first."
        try:
            line = tv.eval_line(self.traces, turn_id, expected or "")
        except SupportbotError as exc:
            return "", None, f"⚠ {exc}"
        folder = Path(tempfile.mkdtemp(prefix="supportbot-eval-case-"))
        path = folder / f"turn-{turn_id}.jsonl"
        path.write_text(line + "\n", encoding="utf-8")
        return line, str(path), "Append this line to your `supportbot eval --queries` file."


def build_staff_blocks(
    traces: TraceStore, *, concurrency: int = 2, notices: tuple[str, ...] = ()
) -> gr.Blocks:
    """The staff console; `notices` (the reduced-mode notice: parts that are off) head the page."""
    # Long by nature: the console layout, one declarative Gradio widget or event wiring per line.
    ctl = StaffController(traces)
    with gr.Blocks(title="Support assistant — staff console", analytics_enabled=False) as demo:
        gr.Markdown("## Staff console\nConversations, per-turn traces, feedback and handoffs.")
        reduced_mode = render.staff_notice_markdown(notices)
        if reduced_mode:
            gr.Markdown(reduced_mode, elem_id="staff-reduced-mode")
        with gr.Row():
            thumbs_down = gr.Checkbox(label="Thumbs-down only", elem_id="f-thumbs-down")
            handoffs = gr.Checkbox(label="Handoffs only", elem_id="f-handoffs")
            since = gr.Textbox(label="From (YYYY-MM-DD)", elem_id="f-since", max_length=10)
            until = gr.Textbox(label="To (YYYY-MM-DD)", elem_id="f-until", max_length=10)
            conversation = gr.Dropdown(
                label="Conversation",
                choices=[ALL_CONVERSATIONS],
                value=ALL_CONVERSATIONS,
                elem_id="f-conversation",
            )
        refresh = gr.Button("Apply filters / refresh", elem_id="refresh", variant="primary")
        status = gr.Markdown(elem_id="staff-status")
        with gr.Accordion("Conversations", open=False):
            sessions = gr.Dataframe(headers=tv.SESSION_HEADERS, interactive=False, elem_id="sessions")
        turns = gr.Dataframe(
            headers=tv.TURN_HEADERS, interactive=False, elem_id="turns", label="Turns (click one)"
        )
        picker = gr.Dropdown(
            label="Turn (pick one, or type its number)",
            choices=[],
            allow_custom_value=True,
            elem_id="turn-picker",
        )
        summary = gr.Markdown(elem_id="turn-summary")
        with gr.Row():
            understanding = gr.Markdown(elem_id="turn-inputs", label="Inputs")
            context = gr.Markdown(elem_id="turn-context")
        entities = gr.Dataframe(headers=tv.ENTITY_HEADERS, interactive=False, label="Active entities")
        per_source = gr.Dataframe(
            headers=tv.SOURCE_HEADERS,
            interactive=False,
            label="Hits per source (rank and raw score)",
            elem_id="per-source",
        )
        fused = gr.Dataframe(
            headers=tv.FUSED_HEADERS, interactive=False, label="Fused ranking (RRF)", elem_id="fused"
        )
        with gr.Row():
            graph = gr.Image(
                label="Knowledge-graph path",
                type="pil",
                interactive=False,
                height=380,
                elem_id="graph-picture",
            )
            timings = gr.Image(
                label="Timings per stage", type="pil", interactive=False, height=380, elem_id="timings-chart"
            )
        generator_input = gr.Textbox(
            label="Generator input", lines=6, max_lines=20, interactive=False, elem_id="generator-input"
        )
        feedback = gr.Markdown(elem_id="turn-feedback")
        handoff = gr.JSON(label="Handoff packet", elem_id="handoff-packet")
        with gr.Row():
            expected = gr.Textbox(
                label="Expected doc_ids (comma-separated; default: what the bot cited)", elem_id="expected"
            )
            export = gr.Button("Export as eval case", elem_id="export")
        eval_line = gr.Code(
            label="supportbot eval JSONL line", language="json", interactive=False, elem_id="eval-line"
        )
        eval_file = gr.File(label="Download", interactive=False)
        export_status = gr.Markdown()
        with gr.Accordion("Full trace (JSON)", open=False):
            trace = gr.JSON()

        filters = [thumbs_down, handoffs, since, until, conversation]
        listing = [sessions, turns, picker, conversation, status]
        details = [
            summary,
            understanding,
            context,
            entities,
            per_source,
            fused,
            graph,
            generator_input,
            timings,
            feedback,
            handoff,
            trace,
        ]
        limits: dict[str, Any] = {"concurrency_limit": concurrency, "concurrency_id": "staff"}
        refresh.click(ctl.refresh, filters, listing, api_name="turns", **limits)
        demo.load(ctl.refresh, filters, listing, api_visibility="private", **limits)
        turns.select(ctl.pick, None, picker, api_visibility="private", **limits)
        picker.change(ctl.show, picker, details, api_name="turn", **limits)
        export.click(
            ctl.export,
            [picker, expected],
            [eval_line, eval_file, export_status],
            api_name="export_eval_case",
            **limits,
        )
    return demo
