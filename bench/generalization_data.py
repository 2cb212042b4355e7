"""The knowledge bases and questions of `bench/generalization.py`, built from outside data in a temp dir.

* Bitext FAQ pages: one page per intent, as a help centre writes it — one customer question as its
  title and one agent answer. The questions asked are *other* rows' instructions (other customers'
  wordings), split into development and test halves by a fixed seed.
* Generic follow-ups: a Bitext question, then a follow-up phrasing that names no topic ("please help
  me with that"). The phrasings are written here (below), and split by the same seed so the test
  split's phrasings were never seen while tuning.
* Out-of-scope questions (weather, recipes, trivia, ...), written here and split the same way; with
  the in-scope Bitext questions they score abstention.
* ABCD guidelines: one page per flow (its description and every sub-flow's agent steps); questions are
  the ontology's sub-flow names as a customer would say them and the sample dialogues' first customer
  messages, expected to find their flow's page; with the split's out-of-scope questions (the same half
  as Bitext's) they score ABCD's abstention.
The data is read in place from `../shared/eval`, never copied into the repository.
"""

from __future__ import annotations

import csv
import json
import random
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SHARED = Path(__file__).resolve().parents[2] / "shared" / "eval"
BITEXT_CSV = SHARED / "bitext" / "customer_support_sample.csv"
ABCD_DIR = SHARED / "abcd"

# Written for this benchmark: follow-ups that carry no topic of their own.
FOLLOW_UPS = (
    "please help me with that",
    "can you walk me through it?",
    "what do I do now?",
    "how do I do that?",
    "can you explain the steps?",
    "ok, what's next?",
    "could you help me with this please",
    "I need help with that",
    "tell me more",
    "how does that work?",
    "and then what?",
    "can you guide me through the process?",
    "what are the steps?",
    "show me how",
    "I still don't get it, can you explain?",
    "sure, go ahead",
    "yes please, help me with it",
    "where do I start?",
    "can you give me more details?",
    "what should I do first?",
    "how would I go about that?",
    "I'm stuck, what now?",
    "could you assist me with it?",
    "walk me through this one",
)

# Written for this benchmark: questions no customer-support knowledge base of a shop answers.
OUT_OF_SCOPE = (
    "what's the weather in Paris tomorrow?",
    "will it rain in London this weekend?",
    "how do I make a chocolate cake?",
    "what is a good recipe for lasagna?",
    "who won the football world cup in 2018?",
    "what is the capital of Australia?",
    "how tall is Mount Everest?",
    "who wrote Pride and Prejudice?",
    "what's the best way to learn the guitar?",
    "can you recommend a good movie for tonight?",
    "how many moons does Jupiter have?",
    "what is the square root of 144?",
    "translate good morning into Japanese",
    "tell me a joke about cats",
    "what time is sunset in Tokyo?",
    "how do I grow tomatoes on a balcony?",
    "what's the population of Brazil?",
    "who painted the Mona Lisa?",
    "how long should I boil an egg?",
    "what are the symptoms of the flu?",
    "which planet is closest to the sun?",
    "how do I change a flat bicycle tyre?",
    "what is the speed of light?",
    "recommend a hiking trail near Denver",
    "how do I train my puppy to sit?",
    "what's the exchange rate between euro and yen?",
    "who is the president of France?",
    "how do I knit a scarf?",
    "what's a good name for a goldfish?",
    "how many calories are in a banana?",
    "explain the theory of relativity",
    "when did the Roman empire fall?",
    "what is the best pizza topping?",
    "how do volcanoes form?",
    "write me a poem about the sea",
    "what's the score of the basketball game?",
    "how do I fix a leaking kitchen tap?",
    "is it safe to swim with dolphins?",
    "what language is spoken in Brazil?",
    "how far is the moon from earth?",
)


@dataclass
class CaseSet:
    """One named set of eval cases (JSONL lines) over one knowledge base."""

    name: str
    kb: str
    cases: list[dict[str, Any]] = field(default_factory=list)


def _halves(items: list[Any], rng: random.Random) -> tuple[list[Any], list[Any]]:
    items = list(items)
    rng.shuffle(items)
    return items[::2], items[1::2]


def _written(rng: random.Random, split: str) -> tuple[list[str], list[str]]:
    """`split`'s half of the follow-up phrasings and of the out-of-scope questions (drawn in this order
    from `rng`, so every KB's out-of-scope questions of a split are the same half)."""
    phrases = dict(zip(("dev", "test"), _halves(list(FOLLOW_UPS), rng), strict=True))[split]
    outside = dict(zip(("dev", "test"), _halves(list(OUT_OF_SCOPE), rng), strict=True))[split]
    return phrases, outside


def bitext(out: Path, split: str, per_intent: int, seed: int) -> tuple[Path, list[CaseSet]]:
    """Bitext FAQ pages in `out/bitext`, with typed, follow-up and out-of-scope case sets for `split`."""
    rows = list(csv.DictReader(BITEXT_CSV.open(encoding="utf-8")))
    by_intent: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        by_intent[row["intent"]].append(row)
    rng = random.Random(seed)
    kb = out / "bitext"
    kb.mkdir(parents=True)
    typed = CaseSet("bitext typed", "bitext")
    follow = CaseSet("bitext follow-ups", "bitext")
    scope = CaseSet("abstention", "bitext")
    phrases, outside = _written(rng, split)
    for intent, items in sorted(by_intent.items()):
        rng.shuffle(items)
        page, rest = items[0], items[1:]
        title = page["instruction"].strip()
        body = f"---\ntitle: {json.dumps(title)}\n---\n# {title}\n\n{page['response'].strip()}\n"
        (kb / f"{intent}.md").write_text(body, encoding="utf-8")
        pool = dict(zip(("dev", "test"), _halves(rest, rng), strict=True))[split][: per_intent + 2]
        doc = f"{intent}.md"
        for i, row in enumerate(pool[:per_intent]):
            case = {"id": f"{intent}-{i}", "text": row["instruction"], "expected": [doc], "answerable": True}
            typed.cases.append(case)
            scope.cases.append(case)
        for i, row in enumerate(pool[per_intent : per_intent + 2]):
            follow.cases.append(
                {
                    "id": f"{intent}-follow-{i}",
                    "history": [{"text": row["instruction"]}],
                    "text": rng.choice(phrases),
                    "expected": [doc],
                }
            )
    for i, text in enumerate(outside):
        scope.cases.append({"id": f"outside-{i}", "text": text, "expected": [], "answerable": False})
    return kb, [typed, follow, scope]


def _flow_page(flow: str, data: dict[str, Any]) -> str:
    lines = [
        f"---\ntitle: {json.dumps(flow)}\n---\n# {flow}\n",
        str(data.get("description", "")).capitalize(),
    ]
    for name, sub in data.get("subflows", {}).items():
        lines.append(f"\n## {name}\n")
        for action in sub.get("actions", []):
            lines.append(str(action.get("text", "")))
            lines.extend(f"- {s}" for s in action.get("subtext", []))
    return "\n".join(lines) + "\n"


def abcd(out: Path, split: str, seed: int) -> tuple[Path, list[CaseSet]]:
    """ABCD's agent guidelines as one page per flow, with questions from its ontology and dialogues."""
    guidelines = json.loads((ABCD_DIR / "guidelines.json").read_text(encoding="utf-8"))
    ontology = json.loads((ABCD_DIR / "ontology.json").read_text(encoding="utf-8"))
    dialogues = json.loads((ABCD_DIR / "abcd_sample.json").read_text(encoding="utf-8"))
    kb = out / "abcd"
    kb.mkdir(parents=True)
    doc_of: dict[str, str] = {}
    for flow, data in guidelines.items():
        slug = flow.lower().replace(" ", "_").replace("-", "_")
        doc_of[slug] = f"{slug}.md"
        (kb / f"{slug}.md").write_text(_flow_page(flow, data), encoding="utf-8")
    cases = []
    for flow, subflows in ontology["intents"]["subflows"].items():
        for sub in subflows:
            words = sub.replace("_", " ")
            cases.append({"id": f"{flow}-{sub}", "text": f"I have a question about {words}", "flow": flow})
    for dialogue in dialogues:
        first = next(text for who, text in dialogue["original"] if who == "customer")
        cases.append(
            {"id": f"dialogue-{dialogue['convo_id']}", "text": first, "flow": dialogue["scenario"]["flow"]}
        )
    rng = random.Random(seed)
    chosen = dict(zip(("dev", "test"), _halves(cases, rng), strict=True))[split]
    out_set = CaseSet("abcd guidelines", "abcd")
    scope = CaseSet("abcd abstention", "abcd")
    for c in chosen:
        if c["flow"] in doc_of:
            out_set.cases.append({"id": c["id"], "text": c["text"], "expected": [doc_of[c["flow"]]]})
            scope.cases.append({**out_set.cases[-1], "answerable": True})
    _, outside = _written(random.Random(seed), split)
    for i, text in enumerate(outside):
        scope.cases.append({"id": f"outside-{i}", "text": text, "expected": [], "answerable": False})
    return kb, [out_set, scope]


def write_cases(path: Path, cases: list[dict[str, Any]]) -> Path:
    path.write_text("\n".join(json.dumps(c) for c in cases) + "\n", encoding="utf-8")
    return path
