"""Training examples for the answer generator: the JSONL format, and two ways to make examples.

One example per line: {"question": str, "history": [str, ...] (optional), "evidence": [str or
{"title": str, "text": str}, ...], "answer": str}. Passages are numbered [1].. in order; the answer
cites them as [n]. An abstention example cites nothing and answers ABSTAIN_TEXT.

* `chatbot.finetune.bitext.bitext_to_examples` turns the Bitext customer-support CSV into examples.
* `kb_examples` writes question/answer examples from knowledge-base chunks (FAQ rows and document
  sections), examples in the answer composer's shapes (numbered steps, yes/no first, definitions,
  questions back and the replies that resolve them; `chatbot.finetune.shapes`, with the plan hint
  T5 sees at chat time), plus abstentions (out-of-scope questions, in-scope ones whose passage is
  missing).
  `kb_training_file` (also `python -m chatbot.finetune.make_data KB_DIR OUT.jsonl`) writes them to a file.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatbot.answers.sections import passage_body, split_sentences
from chatbot.finetune.shapes import composer_examples
from chatbot.generators.grounding import parse_citations
from chatbot.generators.protocol import ABSTAIN_TEXT, Evidence, GenerationRequest
from core.errors import InputError
from core.types import Chunk

KNOWN_KEYS = frozenset({"question", "history", "evidence", "answer", "id", "source", "hint"})
MAX_PASSAGE_WORDS = 120
ANSWER_SENTENCES = 3
ANSWER_WORDS = 70


OUT_OF_SCOPE_QUESTIONS: tuple[str, ...] = (
    "What will the weather be like in Paris tomorrow?",
    "Can you recommend a good pasta recipe for dinner?",
    "What is the current stock price of your company?",
    "Who won the football world cup in 2010?",
    "Can you write me a poem about the sea?",
    "How do I file my income tax return?",
    "What is the capital of Australia?",
    "Which laptop should I buy for gaming?",
    "How many calories are in a banana?",
    "Can you translate this sentence into Japanese for me?",
    "What is the best way to learn the guitar?",
    "How do I fix a leaking kitchen tap?",
    "When does your competitor release their next router?",
    "What is the meaning of life?",
    "Can you book me a flight to New York?",
    "How do I change the oil in my car?",
    "Is it going to rain this weekend?",
    "What are your CEO's political views?",
    "Can you help me with my math homework?",
    "Which cryptocurrency should I invest in?",
    "How do I unlock a phone from another carrier?",
    "What is a good name for my dog?",
)

QUESTION_TEMPLATES: tuple[str, ...] = (
    "What does the {title} say about {heading}?",
    "{title}: can you tell me about {heading}?",
    "I need help with {heading} ({title}). What should I do?",
)
TITLE_TEMPLATES: tuple[str, ...] = (
    "Tell me about the {title}.",
    "What should I know about the {title}?",
)
_EMPHASIS = re.compile(r"\*\*|__|`")


@dataclass(frozen=True)
class Passage:
    """One evidence passage of a training example."""

    title: str
    text: str


@dataclass(frozen=True)
class Example:
    """One training example; `answer` cites passages of `evidence` as [n] (1-based) or none at all."""

    question: str
    evidence: tuple[Passage, ...]
    answer: str
    history: tuple[str, ...] = ()
    hint: str = ""  # the answer plan the engine gives T5 ("steps from [1] Title > Heading")

    def __post_init__(self) -> None:
        if not self.question.strip():
            raise InputError("example has an empty question")
        if not self.answer.strip():
            raise InputError("example has an empty answer")
        bad = [n for n in parse_citations(self.answer) if not 1 <= n <= len(self.evidence)]
        if bad:
            raise InputError(
                f"answer cites {bad} but the example has {len(self.evidence)} evidence passage(s); "
                "cite [1]..[n] in the order the passages are listed"
            )

    @property
    def abstention(self) -> bool:
        return not parse_citations(self.answer)

    def request(self) -> GenerationRequest:
        """The generation request this example stands for (what the generator sees at chat time)."""
        evidence = tuple(
            Evidence(i, f"example-passage-{i}", p.text, p.title) for i, p in enumerate(self.evidence, start=1)
        )
        return GenerationRequest(self.question, self.history, evidence, hint=self.hint)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"question": self.question}
        if self.history:
            out["history"] = list(self.history)
        out["evidence"] = [{"title": p.title, "text": p.text} if p.title else p.text for p in self.evidence]
        out["answer"] = self.answer
        if self.hint:
            out["hint"] = self.hint
        return out

    @classmethod
    def from_dict(cls, obj: object) -> Example:
        if not isinstance(obj, dict):
            raise InputError(f"expected a JSON object, got {type(obj).__name__}")
        unknown = sorted(set(obj) - KNOWN_KEYS)
        if unknown:
            raise InputError(f"unknown key(s) {unknown}; allowed: {', '.join(sorted(KNOWN_KEYS))}")
        for key in ("question", "answer"):
            if not isinstance(obj.get(key), str):
                raise InputError(f"{key!r} must be a string")
        history = obj.get("history", [])
        if not isinstance(history, list) or not all(isinstance(t, str) for t in history):
            raise InputError("'history' must be a list of strings")
        evidence = obj.get("evidence", [])
        if not isinstance(evidence, list):
            raise InputError("'evidence' must be a list of strings or {title, text} objects")
        passages: list[Passage] = []
        for index, item in enumerate(evidence, start=1):
            if isinstance(item, str):
                passages.append(Passage("", item))
            elif isinstance(item, dict) and isinstance(item.get("text"), str):
                passages.append(Passage(str(item.get("title") or ""), item["text"]))
            else:
                raise InputError(
                    f"evidence passage {index} must be a string or an object with a 'text' string"
                )
            if not passages[-1].text.strip():
                raise InputError(f"evidence passage {index} is empty")
        hint = obj.get("hint", "")
        if not isinstance(hint, str):
            raise InputError("'hint' must be a string")
        return cls(obj["question"], tuple(passages), obj["answer"], tuple(history), hint)


def load_examples(path: Path) -> list[Example]:
    """Read and validate a JSONL file; errors name the file and line and say what to fix."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"training file {path} does not exist; give a JSONL file of examples")
    examples: list[Example] = []
    with path.open(encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                examples.append(Example.from_dict(json.loads(line)))
            except json.JSONDecodeError as exc:
                raise InputError(
                    f"{path}:{line_no}: not valid JSON ({exc.msg} at column {exc.colno})"
                ) from exc
            except InputError as exc:
                raise InputError(f"{path}:{line_no}: {exc}") from exc
    if not examples:
        raise InputError(f"{path} holds no examples; write one JSON object per line")
    return examples


def write_examples(path: Path, examples: Iterable[Example]) -> int:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8") as fh:
        for example in examples:
            fh.write(json.dumps(example.to_dict(), ensure_ascii=False) + "\n")
            count += 1
    return count


def cap_sentences(text: str, limit: int) -> str:
    """At most `limit` words, cut after the last whole sentence that fits (or at a word if none does)."""
    words = text.split()
    if len(words) <= limit:
        return " ".join(words)
    kept: list[str] = []
    for sentence in split_sentences(text):
        if len(" ".join([*kept, sentence]).split()) > limit:
            break
        kept.append(sentence)
    return " ".join(kept) if kept else " ".join(words[:limit])


def lead(text: str, sentences: int = ANSWER_SENTENCES, words: int = ANSWER_WORDS) -> str:
    """The first sentences of `text` (markdown emphasis removed), at most `words` words."""
    return cap_sentences(" ".join(split_sentences(_EMPHASIS.sub("", text))[:sentences]), words)


def assemble(
    rng: random.Random,
    question: str,
    gold: Passage | None,
    others: Sequence[Passage],
    answer: str,
    gold_first: bool,
) -> Example:
    passages = list(others)
    if gold is None:
        return Example(question, tuple(passages), ABSTAIN_TEXT)
    position = 0 if gold_first else rng.randint(0, len(passages))
    passages.insert(position, gold)
    return Example(question, tuple(passages), f"{answer} [{position + 1}]")


def _faq_pair(chunk: Chunk) -> tuple[str, str] | None:
    match = re.match(r"\s*Q:\s*(.+?)\s*\n\s*A:\s*(.+)\s*$", chunk.text, re.DOTALL)
    return (" ".join(match.group(1).split()), " ".join(match.group(2).split())) if match else None


def _doc_question(chunk: Chunk, rng: random.Random) -> str | None:
    title = " ".join(chunk.title.split())
    path = [" ".join(str(h).split()) for h in chunk.metadata.get("heading_path", []) if str(h).strip()]
    heading = path[-1] if path else title
    if not heading:
        return None
    if heading.endswith("?"):
        return heading
    if not title or heading.casefold() == title.casefold():
        return rng.choice(TITLE_TEMPLATES).format(title=heading)
    return rng.choice(QUESTION_TEMPLATES).format(title=title, heading=heading)


def kb_examples(
    chunks: Sequence[Chunk], *, distractors: int = 2, abstentions: int = 20, seed: int = 0
) -> list[Example]:
    """QA examples from KB text chunks (FAQ rows and document sections) plus `abstentions` abstentions."""
    text_chunks = [c for c in chunks if c.modality == "text" and c.text.strip()]
    if len(text_chunks) < 2:
        raise InputError("need at least 2 text chunks to build examples with distractor passages")
    rng = random.Random(seed)

    def passage(chunk: Chunk) -> Passage:
        return Passage(chunk.title, cap_sentences(chunk.text, MAX_PASSAGE_WORDS))

    def distractor_passages(gold: Chunk | None) -> list[Passage]:
        pool = [c for c in text_chunks if gold is None or c.source != gold.source]
        return [passage(c) for c in rng.sample(pool, min(distractors, len(pool)))]

    examples: list[Example] = []
    answerable: list[tuple[str, Chunk]] = []
    for chunk in text_chunks:
        pair = _faq_pair(chunk)
        if pair is not None:
            question, answer = pair[0], lead(pair[1])
        else:
            found = _doc_question(chunk, rng)
            body = " ".join(passage_body(chunk.text, chunk.title))
            if found is None or len(body.split()) < 8:
                continue
            question, answer = found, lead(body, sentences=2)
        answerable.append((question, chunk))
        examples.append(assemble(rng, question, passage(chunk), distractor_passages(chunk), answer, False))
    for question, answer, hint, texts in composer_examples(text_chunks, seed):
        gold = tuple(Passage("", t) for t in texts)
        examples.append(Example(question, gold + tuple(distractor_passages(None)[:1]), answer, (), hint))
    out_of_scope = list(OUT_OF_SCOPE_QUESTIONS)
    rng.shuffle(out_of_scope)
    for index in range(abstentions):
        if index % 2 == 0 and out_of_scope:
            question = out_of_scope.pop()
            examples.append(assemble(rng, question, None, distractor_passages(None), "", False))
        elif answerable:  # an in-scope question whose passage was not retrieved: abstain, don't guess
            question, chunk = rng.choice(answerable)
            examples.append(assemble(rng, question, None, distractor_passages(chunk), "", False))
    return examples


def kb_training_file(
    kb_dir: Path, out_path: Path, *, abstentions: int = 24, seed: int = 0
) -> tuple[int, int]:
    """Load a KB folder's documents and tables, write `kb_examples` to `out_path`; (examples, abstentions)."""
    from core.config import Limits
    from retrieval.documents.loaders import load_chunks
    from retrieval.documents.walk import discover

    chunks: list[Chunk] = []
    for kb_file in discover(kb_dir):
        if kb_file.kind in ("document", "table"):
            chunks.extend(load_chunks(kb_file, Limits()).chunks)
    examples = kb_examples(chunks, abstentions=abstentions, seed=seed)
    write_examples(out_path, examples)
    return len(examples), sum(e.abstention for e in examples)
