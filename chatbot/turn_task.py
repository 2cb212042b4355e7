"""One customer turn as named steps, each returning a value (the shape of whisper's `DecodingTask`):

    context   -> TurnContext      entities linked and observed, references resolved, graph documents
    pending   -> PendingReply     what this turn answers: the offer of a person, or a question back
    retrieve  -> RetrievalResult  dense + BM25 + graph, fused
    decide    -> Verdict          abstain or not (a short reply to our question back is not refused)
    answer    -> TurnOutcome      streamed drafts; shown text, citations, plan, offer of a person
    record    -> TurnResult       session history updated, the `TurnTrace` built once and stored

(`understand`, reading OCR and ASR, runs before, in `ChatEngine.turn`, so bad input fails before
anything streams.) A reply to the offer of a person skips retrieve, decide and answer: `answer_offer`
hands over or carries on. `TurnTask.run` yields the answer text so far, then sets the result.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Generator as Gen
from collections.abc import Iterator
from dataclasses import replace

from chatbot.abstention import Verdict, judge, unknown_words
from chatbot.answer_step import (
    PendingReply,
    answer_evidence,
    asked_attributes,
    finish_citations,
    pending_reply,
    plan_answer,
)
from chatbot.answers.compose import plan_hint
from chatbot.answers.scope import Scoper
from chatbot.answers.wording import CONTINUE, NO_GENERATOR, OFFER_BUTTONS, branch_question, refusal
from chatbot.followups import Carry, shares_terms
from chatbot.followups import decide as decide_carry
from chatbot.generators.protocol import GenerationRequest, evidence_from_hits
from chatbot.sessions import Session
from chatbot.turn_record import TurnContext, TurnOutcome, build_trace
from chatbot.turn_trace import TurnTrace
from chatbot.turn_types import TurnParts, TurnResult, TurnStream
from knowledge_graph.context import TurnInput
from retrieval.retriever import LinkedDoc, RetrievalResult
from retrieval.understand import Understanding

log = logging.getLogger(__name__)

HANDOFF_MESSAGE = (
    "I'll hand this conversation to a member of our support team. They can see what you sent and what I "
    "found, so you won't have to repeat yourself."
)


# A bare "it" is matched anywhere ("is it going to rain?"); "this error", "the same fix", "that" are
# references the context resolved to something said before, which make a message a follow-up.
_WEAK_REFERENCES = frozenset({"", "it", "its", "it's"})


# What a resolved reference may stand for to let the graph count more: an error code, a fix or a
# symptom is one page's subject; a product is what most pages are about, so its graph is no clue.
_SPECIFIC = frozenset({"error_code", "fix", "symptom"})


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


class TurnTask:
    """The steps of one turn over the engine's parts; `timings` collects each step's milliseconds."""

    def __init__(self, parts: TurnParts, session: Session, u: Understanding, timings: dict[str, float]):
        self.parts = parts
        self.options = parts.options
        self.session = session
        self.u = u
        self.timings = timings

    def run(self, stream: TurnStream) -> Iterator[str]:
        with self.session.lock:
            started = time.perf_counter()
            turn = self.context()
            self.timings["context"] = _ms(started)
            reply = self.pending()
            if reply.kind in ("accept", "decline"):
                out = yield from self.answer_offer(reply)
                empty = RetrievalResult((), False, ())
                stream.set_result(self.record(turn, empty, Verdict(False, "", 0.0), out))
                return
            started = time.perf_counter()
            result = self.retrieve(turn, reply)
            self.timings["retrieve"] = _ms(started)
            started = time.perf_counter()
            verdict = self.decide(turn, result, reply)
            self.timings["judge"] = _ms(started)
            started = time.perf_counter()
            out = yield from self.answer(turn, result, verdict, reply)
            self.timings["generate"] = _ms(started)
            stream.set_result(self.record(turn, result, verdict, out))

    def context(self) -> TurnContext:
        """Records the turn's entities (typed, heard or read on screen) and resolves its references."""
        u, ctx, graph = self.u, self.session.context, self.parts.graph
        screen_text = u.screen_text
        spoken = u.transcript.text if u.transcript is not None else ""
        fields = u.ocr.fields.error_codes + u.ocr.fields.products if u.ocr is not None else ()
        linked_ids = tuple(m.entity.id for m in graph.link(" ".join(fields)))
        observed = ctx.observe(
            TurnInput(
                text=u.query.text or screen_text,
                modality=u.query.modality,
                source_text=screen_text or spoken or (u.sound or ""),
                entity_ids=linked_ids,
            )
        )
        carry = self._carry()
        off_topic = carry.off_topic
        message = u.query.text or " ".join(fields) or screen_text[:200] or u.sound or ""
        resolved = ctx.resolve(message, ellipsis=not off_topic)
        phrase = next((s for s, _ in resolved.substituted if s.casefold() not in _WEAK_REFERENCES), "")
        if carry.kind == "new_topic" and phrase:  # "does the same fix work for ...?", "will that break it?"
            carry = self._carry(phrase)
            off_topic = carry.off_topic
        surfaces = [s for s, e in resolved.substituted if s and e.partition(":")[0] in _SPECIFIC]
        if carry.kind == "follow_up" and surfaces:
            carry = carry.boosted(self.options.carry.graph_boost, surfaces)
        graph_hits = ctx.graph_hits(hops=self.options.graph_hops, limit=self.options.graph_k)
        linked = () if off_topic else tuple(LinkedDoc(g.doc_id, g.score, g.reason) for g in graph_hits)
        if carry.kind != "follow_up" and message.strip():
            ctx.questions.append(resolved.text or message)
        active = tuple(ctx.active_entities())
        return TurnContext(observed.entity_ids, active, resolved, linked, screen_text, carry)

    def _carry(self, refers_to: str = "") -> Carry:
        """Which recent questions this turn carries into retrieval (see `chatbot.followups`)."""
        if not self.u.query.text.strip():
            return Carry("new_topic", (), "a screenshot or sound states its own topic")
        recent = list(self.session.context.questions)
        known = self.parts.retriever.knows
        return decide_carry(self.u.query.text, recent, known, self.options.carry, self._same_topic, refers_to)

    def _same_topic(self, older: str, newer: str) -> bool:
        """Two questions that both name products or error codes are on one topic only if they share
        one ("my X200 shows E-42", then "my C5 camera shows E-57" switched); else a common content term."""
        named = [
            {m.entity.id for m in self.parts.graph.link(q) if m.entity.type in ("product", "error_code")}
            for q in (older, newer)
        ]
        if named[0] and named[1]:
            return bool(named[0] & named[1])
        return shares_terms(older, newer)

    def pending(self) -> PendingReply:
        """What this turn answers of the bot's last turn (an offer of a person, a question back)."""
        return pending_reply(self.session, self.u.query.text, Scoper(self.parts.graph))

    def retrieve(self, turn: TurnContext, reply: PendingReply) -> RetrievalResult:
        query = self.u.query
        resolved_text = turn.resolved.text
        if reply.branch is not None and reply.option is not None:
            resolved_text = f"{reply.branch.question} {reply.option.label}"
        if resolved_text and resolved_text != query.text:
            query = replace(query, text=resolved_text, dense_text=query.text or None)
        query = replace(
            query,
            context=self._carried(turn),
            own_weight=turn.carry.own_weight,
            graph_boost=turn.carry.graph_boost,
        )
        return self.parts.retriever.search(query, top_k=self.options.top_k, linked=turn.linked)

    @staticmethod
    def _carried(turn: TurnContext) -> tuple[tuple[str, float], ...]:
        """The carried questions; for a follow-up whose own words are left out of the search, the names
        its references resolved to ("it" -> "E-57") join the latest one, so they are searched too."""
        carried, names = turn.carry.texts, turn.resolved.appended
        if not carried or turn.carry.own_weight > 0 or not names:
            return carried
        latest, weight = carried[0]
        if names.casefold() in latest.casefold():
            return carried
        return ((f"{latest} {names}", weight), *carried[1:])

    def decide(self, turn: TurnContext, result: RetrievalResult, reply: PendingReply) -> Verdict:
        policy = self.options.policy
        judged = self._judged_text(turn)
        carry = turn.carry
        unknown = unknown_words(self.u.query.text, carry.unknown_terms, self.parts.retriever.speller.reading)
        share = len(unknown) / len(carry.terms) if carry.terms else 0.0
        verdict = judge(policy, self.u, judged, result.hits, unknown, share)
        if reply.kind == "choice" and verdict.kind in ("out_of_scope", "not_found") and result.hits:
            verdict = replace(verdict, abstain=False, reason="", kind="")  # a short reply to our question
        return verdict

    def _judged_text(self, turn: TurnContext) -> str:
        """What the customer said plus what their pronouns ("it", "this error") stand for and, for a
        follow-up, the question it carries. Names appended for an ellipsis are left out, so "what's the
        weather?" after a router question stays out of scope."""
        referred = [self.parts.graph.entity(e) for surface, e in turn.resolved.substituted if surface]
        carried = [turn.carry.texts[0][0]] if turn.carry.texts else []
        names = [e.name for e in referred if e is not None]
        return " ".join([self.u.query.text, *names, *carried]).strip()

    def answer(
        self, turn: TurnContext, result: RetrievalResult, verdict: Verdict, reply: PendingReply
    ) -> Gen[str, None, TurnOutcome]:
        """Yields the answer so far. Without a generator the customer is pointed at the articles found;
        an abstention refuses in the customer's words and offers a person."""
        out = TurnOutcome()
        if self.parts.generator is None:
            out.shown = NO_GENERATOR
            yield out.shown
        elif verdict.abstain:
            out.shown = refusal(verdict.kind, products=verdict.subject)
            out.offer = verdict.reason
            yield out.shown
        else:
            yield from self._generate(turn, result, reply, out)
        return out

    def _generate(
        self, turn: TurnContext, result: RetrievalResult, reply: PendingReply, out: TurnOutcome
    ) -> Iterator[str]:
        """Plans, then asks back or generates; fills `out` (shown text, citations, plan, answer)."""
        u, session, generator = self.u, self.session, self.parts.generator
        assert generator is not None
        question = reply.branch.question if reply.branch is not None else (u.query.text or turn.resolved.text)
        out.plan = plan_answer(
            self.parts.retriever,
            self.parts.graph,
            result.hits,
            text=question or turn.resolved.text or u.query.full_text,
            resolved=turn.resolved.text
            if reply.branch is None
            else f"{question} {reply.option.label if reply.option else ''}",
            asked=asked_attributes(session, turn.linked_entities, self.parts.graph),
            chosen=reply.option,
            branch_doc=reply.branch.doc_id if reply.branch is not None else None,
        )
        if out.plan.branch is not None:
            session.branch = out.plan.branch
            out.shown = branch_question(out.plan.branch)
            out.options = tuple(o.label for o in out.plan.branch.options)
            yield out.shown
            return
        if out.plan.items:
            evidence = answer_evidence(
                out.plan, result.hits, self.options.evidence_k - len(out.plan.sections)
            )
        else:
            evidence = evidence_from_hits(result.hits[: self.options.evidence_k])
        request = GenerationRequest(
            question=turn.resolved.text or u.query.full_text or "(screenshot or voice note)",
            history=session.recent_history(self.options.limits),
            evidence=evidence,
            plan=out.plan if out.plan.items else None,
            hint=plan_hint(out.plan) if out.plan.items else "",
        )
        answer_stream = generator.stream(request)
        so_far = ""
        for piece in answer_stream:
            so_far += piece
            yield so_far
        out.answer = answer = answer_stream.answer
        if answer.abstained or not answer.grounded:
            out.shown = refusal("not_found")
            out.offer = answer.reason or "the answer could not be checked"
            yield out.shown
            return
        out.shown, out.citations = finish_citations(answer.text, answer.citations, evidence)
        if out.shown != so_far:
            yield out.shown

    def answer_offer(self, reply: PendingReply) -> Gen[str, None, TurnOutcome]:
        """The customer answered our offer of a person: hand over (yes) or carry on (no)."""
        session = self.session
        out = TurnOutcome(shown=HANDOFF_MESSAGE if reply.kind == "accept" else CONTINUE)
        yield out.shown
        if reply.kind == "accept":
            out.handoff_reasons = (*session.offer_reasons, "the customer accepted the offer of a person")
            offered = self.parts.traces.turns_for_session(session.id)
            out.handoff_source = offered[0].trace if offered else None  # the turn the bot could not answer
        session.offer_reasons = ()
        return out

    def record(
        self, turn: TurnContext, result: RetrievalResult, verdict: Verdict, out: TurnOutcome
    ) -> TurnResult:
        session, u = self.session, self.u
        abstained = out.offer is not None or (self.parts.generator is None and verdict.abstain)
        options = out.options
        if out.offer is not None:
            session.offer = out.offer
            session.offer_reasons = (f"the bot could not answer: {out.offer}",)
            options = OFFER_BUTTONS
        session.context.mark_shown(c.doc_id for c in out.citations)
        session.turns += 1
        session.history.append(("user", u.query.text or turn.screen_text))
        session.history.append(("assistant", out.shown))
        generator = self.parts.generator.name if self.parts.generator is not None else None
        trace = build_trace(
            session,
            u,
            turn,
            result,
            verdict,
            generator,
            out,
            options,
            abstained,
            self.timings,
            self.parts.models,
        )
        turn_id = self._store(trace)
        asked_back = out.plan.branch is not None if out.plan is not None else False
        return TurnResult(
            turn_id,
            session.id,
            out.shown,
            out.citations,
            abstained,
            trace.handoff is not None,
            trace,
            options,
            asked_back,
        )

    def _store(self, trace: TurnTrace) -> int:
        """Stores the trace; a failure to store it is logged for staff and never breaks the turn or
        the session (the customer still gets the answer; turn id 0 means "not recorded")."""
        try:
            return self.parts.traces.record(trace)
        except Exception:  # noqa: BLE001 - any store failure: the conversation must go on
            log.exception("could not record the trace of a turn in session %s", trace.session_id)
            return 0
