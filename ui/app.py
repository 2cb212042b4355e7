"""The served web app: the public customer chat at `/` and the staff console at `/staff`, hardened.

`build_app` returns one FastAPI app with two Gradio apps mounted on it. The staff console is a
separate Blocks with its own login (`gr.mount_gradio_app(..., auth=...)`), because Gradio's auth
covers a whole app and the chat must stay public; without staff credentials `/staff` only says
how to enable it. Hardening follows Gradio's own guides: `max_file_size`, a bounded queue,
concurrency limits on the model-running events, no share link, no analytics, no run history, no
MCP server, and the data dir, model dir, trace DB and KB folder listed as blocked paths. KB files
are served only by the `/kb/<doc_id>` route of `ui.kb_files`: ingested files, looked up by doc_id.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from gradio.utils import get_upload_folder

from chatbot.engine import ChatEngine
from chatbot.traces import TraceStore
from core import checkpoints
from core.config import Settings
from core.errors import ConfigError
from ui.chat_view import ChatConfig, build_chat_blocks
from ui.kb_files import KBFiles, add_kb_route
from ui.login_throttle import LoginThrottle, ThrottledLogin
from ui.staff_view import build_staff_blocks
from ui.uploads import DEFAULT_CAP_BYTES, UploadGuard, UploadRegistry

ENV_STAFF_USER = "SUPPORTBOT_STAFF_USER"
ENV_STAFF_PASSWORD = "SUPPORTBOT_STAFF_PASSWORD"
MIN_PASSWORD_CHARS = 8
STAFF_PATH = "/staff"
STAFF_DISABLED = (
    f"The staff console is disabled: set {ENV_STAFF_USER} and {ENV_STAFF_PASSWORD} in the server's "
    "environment and restart it."
)
CSS = """
#degraded-banner { background: #fff4e5; border: 1px solid #f0a020; border-radius: 8px; padding: 4px 12px; }
#chat strong, #chat b {
  font-family: inherit !important; font-size: inherit !important; line-height: inherit !important;
  font-weight: 600; letter-spacing: normal !important; font-synthesis: weight style !important;
}
#chat mark { background: #fff3a0; color: inherit; }
"""


@dataclass(frozen=True)
class StaffLogin:
    """The staff console's one account (from the environment; never a default in code)."""

    user: str
    password: str = field(repr=False)

    def __post_init__(self) -> None:
        if not self.user.strip():
            raise ConfigError(f"{ENV_STAFF_USER} is empty; set it to the staff console's user name")
        if len(self.password) < MIN_PASSWORD_CHARS:
            raise ConfigError(
                f"{ENV_STAFF_PASSWORD} must be at least {MIN_PASSWORD_CHARS} characters; choose a longer one"
            )

    def check(self, user: str, password: str) -> bool:
        """Constant-time comparison of both fields (Gradio's auth callback)."""
        same_user = hmac.compare_digest(user.encode("utf-8"), self.user.encode("utf-8"))
        same_password = hmac.compare_digest(password.encode("utf-8"), self.password.encode("utf-8"))
        return same_user and same_password


@dataclass(frozen=True)
class AppOptions:
    """`queue_size` waiting events per app; `concurrency` chat turns at once (each runs the models);
    `max_file_bytes` per upload (None: the settings' input limit)."""

    kb_dir: Path | None = None
    staff: StaffLogin | None = None
    queue_size: int = 32
    concurrency: int = 2
    staff_concurrency: int = 2
    max_file_bytes: int | None = None
    notices: tuple[str, ...] = ()  # the operator's reduced-mode notices: staff console (and the log)
    public_notes: tuple[str, ...] = ()  # the public page's neutral line(s), in customer words
    login_throttle: LoginThrottle | None = None
    upload_cap_bytes: int = DEFAULT_CAP_BYTES

    def __post_init__(self) -> None:
        if self.queue_size < 1 or self.concurrency < 1 or self.staff_concurrency < 1:
            raise ConfigError("queue_size, concurrency and staff_concurrency must be >= 1")
        if self.kb_dir is not None and not self.kb_dir.is_dir():
            raise ConfigError(f"KB folder {self.kb_dir} does not exist; pass the folder you ingested")


def blocked_paths(settings: Settings, kb_dir: Path | None = None) -> list[str]:
    """Never servable by Gradio's file route: the data dir (index, manifest, graph, trace DB), the
    model dir and the KB folder (its ingested files go through `/kb/<doc_id>` only)."""
    paths = [settings.data_dir, settings.traces_path, checkpoints.model_dir(settings.model_dir)]
    if kb_dir is not None:
        paths.append(kb_dir)
    if settings.milvus_uri is not None and settings.milvus_uri.endswith(".db"):
        paths.append(Path(settings.milvus_uri))
    return [str(Path(p).expanduser().resolve()) for p in dict.fromkeys(paths)]


def _staff_disabled_route() -> Callable[[], PlainTextResponse]:
    def disabled() -> PlainTextResponse:
        return PlainTextResponse(STAFF_DISABLED, status_code=404)

    return disabled


def build_app(
    engine: ChatEngine,
    settings: Settings,
    options: AppOptions | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 7860,
    upload_roots: Sequence[Path] | None = None,
    traces: TraceStore | None = None,
) -> FastAPI:
    """The ASGI app to serve: chat at `/`, staff console at `/staff` (with `options.staff` only; it
    reads `traces`, the store the engine records into)."""
    # Long by nature: the mounting of both Gradio apps and the routes around them, in serving order.
    options = options or AppOptions()
    if options.staff is not None and traces is None:
        raise ConfigError("the staff console needs the trace store the engine records into")
    max_bytes = options.max_file_bytes or settings.limits.max_file_bytes
    blocked = blocked_paths(settings, options.kb_dir)
    kb = KBFiles(options.kb_dir, settings.manifest_path) if options.kb_dir is not None else None
    roots = tuple(upload_roots) if upload_roots is not None else (Path(get_upload_folder()),)
    common = {
        "server_name": host,
        "server_port": port,
        "footer_links": ["api"],
        "run_history": False,
        "blocked_paths": blocked,
        "max_file_size": max_bytes,
        "ssr_mode": False,
        "pwa": False,
        "mcp_server": False,
        "enable_monitoring": False,
        "css": CSS,
    }
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    add_kb_route(app, kb)
    mounted: list[gr.Blocks] = []

    if options.staff is not None:
        assert traces is not None  # checked above
        staff = build_staff_blocks(traces, concurrency=options.staff_concurrency, notices=options.notices)
        staff.queue(max_size=options.queue_size, default_concurrency_limit=options.staff_concurrency)
        gr.mount_gradio_app(
            app,
            staff,
            path=STAFF_PATH,
            auth=options.staff.check,
            auth_message="Staff console: log in with the staff account.",
            show_error=True,
            **common,
        )
        mounted.append(staff)
        app.add_middleware(ThrottledLogin, login_path=STAFF_PATH + "/login", throttle=options.login_throttle)
    else:
        disabled = _staff_disabled_route()
        app.add_api_route(STAFF_PATH, disabled, methods=["GET"], include_in_schema=False)
        app.add_api_route(
            STAFF_PATH + "/{rest:path}", disabled, methods=["GET", "POST"], include_in_schema=False
        )

    uploads = UploadRegistry(roots[0], options.upload_cap_bytes)
    app.add_middleware(UploadGuard, registry=uploads)
    config = ChatConfig(kb, roots, options.notices, options.public_notes, uploads)
    chat = build_chat_blocks(engine, config, concurrency=options.concurrency)
    chat.queue(max_size=options.queue_size, default_concurrency_limit=options.concurrency)
    # show_error: the handlers turn their own failures into customer-worded replies, so what reaches
    # Gradio is its own input checks (a file the client never uploaded, a wrong type), whose reason
    # an API client needs.
    gr.mount_gradio_app(app, chat, path="/", show_error=True, **common)
    for blocks in (*mounted, chat):
        _enforce_file_checks(blocks)
    return app


def _enforce_file_checks(blocks: gr.Blocks) -> None:
    """Gradio checks every file path a client sends (only its own uploads) and every file an event
    returns (not a blocked path) only once `has_launched` is set, which `launch()` does and
    `mount_gradio_app` does not (Gradio 6.31, measured: a client-sent path in the data dir was
    copied into the cache and served). Set it, so a mounted app is as strict as a launched one."""
    blocks.has_launched = True
