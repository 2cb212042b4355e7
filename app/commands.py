"""What each `supportbot` command does, given validated settings; printing is plain text or JSON."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app import reduced
from app.runtime import Runtime, open_runtime
from core.config import Settings
from core.errors import InputError
from retrieval.retriever import RetrievalResult, check_top_k
from retrieval.understand import Understanding

if TYPE_CHECKING:  # imported where used, so `supportbot search` loads no engine, graph or ingestion code
    from chatbot.engine import ChatEngine, TurnResult
    from retrieval.evaluation import CaseOutcome, EvalCase
    from retrieval.ingest import IngestReport

NO_GENERATOR_NOTE = "answers not evaluated: no answer generator"
REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_KB = REPO_ROOT / "data" / "kb"


def _err(text: str) -> None:
    print(text, file=sys.stderr)


def print_failure(rel: str, reason: str) -> None:
    """One failed file, printed as it happens (an aborted run has reported what failed so far)."""
    print(f"failed: {rel}: {reason}", file=sys.stderr, flush=True)


def _print_ingest(report: IngestReport) -> None:
    for warning in report.warnings:
        _err(f"warning: {warning}")
    print(f"ingest: {report.summary()}")


def announce(runtime: Runtime, roles: tuple[str, ...] = reduced.ALL_ROLES) -> None:
    """Decide every part the command needs now (a missing model stops it here) and state, once,
    what runs reduced."""
    line = runtime.prepare(roles)
    if line:
        _err(f"note: {line}")
    if reduced.ANSWERS in roles:
        from app.calibration_state import calibration_note

        calibrated = calibration_note(runtime.settings)
        if calibrated:
            _err(f"note: {calibrated}")


def ingest(settings: Settings, kb_dir: Path, *, progress: bool = True) -> int:
    if not kb_dir.is_dir():
        raise InputError(f"knowledge-base folder {kb_dir} does not exist or is not a directory")
    with open_runtime(settings, rebuild_outdated=True) as runtime:
        announce(runtime, (reduced.CROSS_MODAL, reduced.TEXT, reduced.OCR))
        report = runtime.ingest(kb_dir, progress=progress, on_failure=print_failure)
    _print_ingest(report)
    return 0


def result_to_dict(understanding: Understanding, result: RetrievalResult) -> dict[str, Any]:
    return {
        "query": understanding.to_dict(),
        "dense_retrieval": result.dense,
        "sources": list(result.sources),
        "notes": list(result.notes),
        "timings_ms": {k: round(v, 2) for k, v in result.timings_ms.items()},
        "hits": [hit.to_dict() for hit in result.hits],
    }


def format_understanding(understanding: Understanding) -> str:
    lines = []
    if understanding.transcript is not None:
        t = understanding.transcript
        lines.append(f"heard (confidence {t.confidence:.2f}): {t.text or '(no speech)'}")
    if understanding.ocr is not None:
        o = understanding.ocr
        flat = " ".join(o.text.split())
        lines.append(f"read on the image (confidence {o.confidence:.2f}): {flat[:200] or '(no text)'}")
        found = o.fields.error_codes + o.fields.versions + o.fields.products
        if found:
            lines.append(f"found: {', '.join(found)}")
    lines.extend(f"note: {n}" for n in understanding.notes)
    return "\n".join(lines)


def format_hits(result: RetrievalResult) -> str:
    lines = []
    for rank, hit in enumerate(result.hits, start=1):
        per_source = ", ".join(f"{name} #{s.rank}" for name, s in sorted(hit.sources.items()))
        lines.append(f"{rank:>2}. {hit.doc_id} [{hit.modality}] score {hit.score:.4f} ({per_source})")
        lines.append(f"    {hit.snippet()}")
    if not result.hits:
        lines.append("no matching knowledge-base items")
    lines.append("ImageBind (cross-modal) dense retrieval: " + ("on" if result.dense else "OFF"))
    lines.extend(f"note: {note}" for note in result.notes)
    return "\n".join(lines)


def search(
    settings: Settings,
    text: str,
    *,
    image: Path | None = None,
    audio: Path | None = None,
    top_k: int = 5,
    as_json: bool = False,
) -> int:
    if not (text.strip() or image or audio):
        raise InputError("nothing to search for: give a question, --image or --audio")
    check_top_k(top_k)
    if not settings.manifest_path.exists():
        raise InputError(
            f"no knowledge base is indexed in {settings.data_dir}; run `supportbot ingest KB_DIR` first"
        )
    with open_runtime(settings) as runtime:
        announce(runtime, (reduced.CROSS_MODAL, reduced.SPEECH, reduced.OCR))
        reader = runtime.input_reader(screenshots=image is not None)
        understanding = reader.read(text, image=image, audio=audio)
        result = runtime.retriever().search(understanding.query, top_k=top_k)
    if as_json:
        print(json.dumps(result_to_dict(understanding, result), indent=2))
    else:
        print(format_understanding(understanding))
        print(format_hits(result))
    return 0


def evaluate(settings: Settings, kb: Path, queries: Path, *, out: Path | None, temp_data: bool) -> int:
    """Ingests `kb`, then runs every case through the conversation engine (history turns first)."""
    from retrieval.evaluation import evaluate as run_eval
    from retrieval.evaluation import format_table, load_cases

    cases = load_cases(queries)
    with tempfile.TemporaryDirectory(prefix="supportbot-eval-") as tmp:
        if temp_data:
            settings = settings.with_(data_dir=Path(tmp))
        with open_runtime(settings, rebuild_outdated=True) as runtime:
            _print_ingest(runtime.ingest(kb, progress=False, on_failure=print_failure))
            announce(runtime)
            engine = runtime.engine()
            report = run_eval(cases, lambda case: run_case(engine, case))
    print(format_table(report))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report.to_dict(), indent=2), encoding="utf-8")
        print(f"report written to {out}")
    return 0


def replay_case(engine: ChatEngine, case: EvalCase, *, with_history: bool = True) -> TurnResult:
    """One eval case as a fresh conversation (see `ChatEngine.replay`)."""
    return engine.replay(case, with_history=with_history)


def run_case(engine: ChatEngine, case: EvalCase) -> CaseOutcome:
    """One eval case scored: the ranked documents and, when answers were generated, the verdict."""
    from retrieval.evaluation import CaseOutcome

    result = replay_case(engine, case)
    retrieval = result.trace.retrieval
    generated = engine.status().generator is not None
    return CaseOutcome(
        ranked=tuple(h.doc_id for h in retrieval.hits),
        dense=retrieval.dense,
        notes=retrieval.notes + (() if generated else (NO_GENERATOR_NOTE,)),
        abstained=result.abstained if generated else None,
        cited=tuple(c.doc_id for c in result.citations),
        answer=result.text,
        citations=tuple(
            {"number": c.number, "doc_id": c.doc_id, "title": c.title, "snippet": c.snippet}
            for c in result.citations
        ),
        handoff=result.handoff,
        asked_back=result.asked_back,
    )


def demo(settings: Settings, host: str = "127.0.0.1", port: int = 7860) -> int:
    """Ingests the sample KB (data/kb), then serves the web app on it (the same reduced-mode rule as
    every command: with no speech model named, the best present one transcribes voice notes)."""
    if not SAMPLE_KB.is_dir():
        raise InputError(f"sample knowledge base {SAMPLE_KB} is missing; run from a full checkout")
    from app.serve import serve  # imports gradio; only the web commands need it

    return serve(settings, host, port, kb_dir=SAMPLE_KB, ingest=True)


def chat(settings: Settings) -> int:
    if not settings.manifest_path.exists():
        raise InputError(
            f"no knowledge base is indexed in {settings.data_dir}; run `supportbot ingest KB_DIR` first"
        )
    from app.terminal import chat_loop

    with open_runtime(settings) as runtime:
        announce(runtime)
        return chat_loop(runtime.engine())


def graph(settings: Settings, action: str, entity: str | None, hops: int) -> int:
    if not settings.graph_path.exists():
        raise InputError(f"no knowledge graph in {settings.data_dir}; run `supportbot ingest KB_DIR` first")
    from knowledge_graph.factory import load_graph

    kg = load_graph(settings.graph_path)
    if action == "stats":
        for kind, count in sorted(kg.stats().items()):
            print(f"{kind:<14} {count}")
        return 0
    if not entity:
        raise InputError("graph show needs an entity, e.g. `supportbot graph show E-42`")
    found = kg.entity(entity) or next((m.entity for m in kg.link(entity)), None)
    if found is None:
        raise InputError(f"no entity {entity!r} in the knowledge graph; try `supportbot graph stats`")
    print(f"{found.id}  ({found.type}: {found.name}; aliases: {', '.join(found.aliases) or '-'})")
    for path in kg.neighbours(found.id, hops=max(1, hops)):
        print("  " + " ".join(path))
    return 0


def finetune(args: Any, settings: Settings) -> int:
    from chatbot.finetune.train import FinetuneOptions
    from chatbot.finetune.train import finetune as run_finetune

    options = FinetuneOptions(
        train_file=args.train,
        eval_file=args.eval,
        output_dir=args.output,
        base_model=args.base_model,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        max_steps=args.max_steps,
        resume=args.resume,
        device=settings.device,
        model_dir=settings.model_dir,
    )
    report = run_finetune(options)
    print(json.dumps(report.to_dict(), indent=2, default=str))
    return 0
