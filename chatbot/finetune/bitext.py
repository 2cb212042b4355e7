"""The Bitext customer-support CSV (instruction, intent, response) as generator training examples.

Each response is the gold passage among distractor responses of other intents (at a seeded random
position, so the model learns to cite the right number); the answer is its lead sentences with the
gold passage's citation. Bitext's {{Order Number}}-style slots are filled with plausible values.
"""

from __future__ import annotations

import csv
import random
import re
from collections.abc import Mapping
from pathlib import Path

from chatbot.finetune.data import MAX_PASSAGE_WORDS, Example, Passage, assemble, cap_sentences, lead
from core.errors import InputError

_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")
PLACEHOLDER_VALUES: Mapping[str, str] = {
    "order number": "ORD-48213",
    "invoice number": "INV-20931",
    "refund amount": "$49.99",
    "money amount": "$25",
    "currency symbol": "$",
    "customer support phone number": "1-800-555-0199",
    "customer support email": "support@example.com",
    "email address": "support@example.com",
    "customer support hours": "8 am to 6 pm, Monday to Friday",
    "website url": "www.example.com",
    "online company portal info": "the account portal on our website",
    "online order interaction": "Order History",
    "online payment method": "credit card",
    "live chat support": "live chat",
    "account type": "Premium",
    "account category": "Premium",
    "person name": "Alex",
    "client first name": "Alex",
    "client last name": "Smith",
    "delivery city": "Springfield",
    "delivery country": "the United States",
    "date": "March 3",
    "date range": "the last 30 days",
    "company name": "our company",
    "store location": "the nearest store",
}


def fill_placeholders(text: str) -> str:
    """Replace Bitext's {{Order Number}}-style slots with plausible values ("the <slot>" if unknown)."""

    def value(match: re.Match[str]) -> str:
        name = " ".join(match.group(1).split())
        return PLACEHOLDER_VALUES.get(name.lower(), f"the {name.lower()}")

    return _PLACEHOLDER.sub(value, text)


def bitext_to_examples(
    csv_path: Path,
    *,
    distractors: int = 2,
    abstain_fraction: float = 0.1,
    seed: int = 0,
    limit: int | None = None,
    gold_first: bool = False,
) -> list[Example]:
    """Examples from a Bitext-style CSV with columns instruction, response and (optionally) intent.

    The gold passage goes to a random position (seeded) so the model learns to cite the right number;
    `gold_first=True` always makes it [1]. A fraction of examples drop the gold passage and abstain.
    """
    path = Path(csv_path)
    if not path.is_file():
        raise InputError(f"Bitext CSV {path} does not exist")
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        header = [h.strip().lower() for h in reader.fieldnames or []]
        if "instruction" not in header or "response" not in header:
            raise InputError(f"{path}: needs 'instruction' and 'response' columns, found {header or 'none'}")
        rows: list[tuple[str, str, str]] = []
        for line_no, raw in enumerate(reader, start=2):
            row = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items()}
            if not row["instruction"] or not row["response"]:
                raise InputError(f"{path}:{line_no}: empty instruction or response; fix or remove the row")
            intent = row.get("intent", "") or f"row-{line_no}"
            rows.append((fill_placeholders(row["instruction"]), fill_placeholders(row["response"]), intent))
    if len(rows) < 2:
        raise InputError(f"{path}: needs at least 2 rows (distractors come from other rows)")
    rng = random.Random(seed)
    examples: list[Example] = []
    for index, (instruction, response, intent) in enumerate(rows):
        if limit is not None and len(examples) >= limit:
            break
        pool = [i for i, r in enumerate(rows) if r[2] != intent and i != index] or [
            i for i in range(len(rows)) if i != index
        ]
        picked = rng.sample(pool, min(distractors, len(pool)))
        others = [
            Passage(rows[i][2].replace("_", " "), cap_sentences(rows[i][1], MAX_PASSAGE_WORDS))
            for i in picked
        ]
        gold: Passage | None = Passage(intent.replace("_", " "), cap_sentences(response, MAX_PASSAGE_WORDS))
        if rng.random() < abstain_fraction:
            gold = None
        examples.append(assemble(rng, instruction, gold, others, lead(response), gold_first))
    return examples
