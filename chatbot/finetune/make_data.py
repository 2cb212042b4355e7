"""`python -m chatbot.finetune.make_data SOURCE OUT.jsonl [--limit N]`: write a fine-tuning file from a KB
folder (`chatbot.finetune.data`) or a Bitext-format CSV (`chatbot.finetune.bitext`)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from chatbot.finetune.bitext import bitext_to_examples
from chatbot.finetune.data import kb_training_file, write_examples


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m chatbot.finetune.make_data SOURCE OUT.jsonl [--limit N]`: SOURCE is a KB folder (examples
    written from its FAQ rows and documents, plus abstentions) or a Bitext-format CSV (instruction ->
    response, with distractor passages)."""
    args = list(sys.argv[1:] if argv is None else argv)
    limit: int | None = None
    if "--limit" in args:
        at = args.index("--limit")
        limit = int(args[at + 1])
        del args[at : at + 2]
    if len(args) != 2:
        print(
            "usage: python -m chatbot.finetune.make_data KB_DIR|BITEXT.csv OUT.jsonl [--limit N]",
            file=sys.stderr,
        )
        return 2
    source, out = Path(args[0]), Path(args[1])
    if source.is_file() and source.suffix.lower() == ".csv":
        examples = bitext_to_examples(source, limit=limit)
        total = write_examples(out, examples)
        abstaining = sum(e.abstention for e in examples)
    else:
        total, abstaining = kb_training_file(source, out)
    print(f"wrote {total} examples ({abstaining} abstentions) to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
