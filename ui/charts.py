"""Pictures for the staff console: the knowledge-graph paths of a turn and its timings per stage.

Drawn with networkx + matplotlib's object API (a `Figure` per call, Agg canvas, no pyplot), so
two staff members rendering at once never share a global figure. Each function returns a PIL
image, or None when the trace has nothing to draw.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from typing import Any

import networkx as nx
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

# "a -rel-> b <-rel- c": relation markers between node ids (node ids may contain spaces).
_RELATION = re.compile(r"\s+(-[A-Za-z_]+->|<-[A-Za-z_]+-)\s+")
TYPE_COLOURS = {
    "product": "#4C78A8",
    "error_code": "#E45756",
    "version": "#72B7B2",
    "fix": "#54A24B",
    "doc": "#B0B0B0",
    "chunk": "#D8D8D8",
}
OTHER_COLOUR = "#F2CF5B"
STAGE_ORDER = ("understand", "ocr", "asr", "context", "retrieve", "generate")


def parse_path(reason: str) -> list[tuple[str, str, str]]:
    """Edges (source, relation, target) of one path string, in the direction each relation points."""
    parts = _RELATION.split(reason.strip())
    edges: list[tuple[str, str, str]] = []
    for i in range(1, len(parts) - 1, 2):
        left, marker, right = parts[i - 1], parts[i], parts[i + 1]
        if marker.startswith("<-"):
            edges.append((right, marker[2:-1], left))
        else:
            edges.append((left, marker[1:-2], right))
    return edges


def node_type(node: str) -> str:
    return node.split(":", 1)[0] if ":" in node else "other"


def node_label(node: str) -> str:
    kind, _, name = node.partition(":")
    if kind in ("doc", "chunk"):
        name = name.rsplit("/", 1)[-1]
    name = name or node
    return name if len(name) <= 28 else name[:27] + "…"


def _to_image(fig: Figure) -> Image.Image:
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    buffer.seek(0)
    image = Image.open(buffer)
    image.load()
    return image


def graph_picture(
    graph_paths: Sequence[Mapping[str, Any]], active_entities: Sequence[Mapping[str, Any]] = ()
) -> Image.Image | None:
    """The graph paths that proposed documents, drawn left (active entities) to right (documents)."""
    graph = nx.DiGraph()
    depth: dict[str, int] = {}
    for entity in active_entities:
        node = str(entity.get("id", ""))
        if node:
            graph.add_node(node)
            depth[node] = 0
    for item in graph_paths:
        reason = str(item.get("reason", ""))
        nodes = _RELATION.split(reason.strip())[::2]
        for hop, node in enumerate(n for n in nodes if n):
            depth[node] = min(depth.get(node, hop), hop)
            graph.add_node(node)
        for source, relation, target in parse_path(reason):
            graph.add_edge(source, target, relation=relation)
    if graph.number_of_nodes() == 0:
        return None
    for node in graph.nodes:
        graph.nodes[node]["layer"] = depth.get(node, 0)
    positions = nx.multipartite_layout(graph, subset_key="layer", align="vertical", scale=1.0)
    layers = max(depth.values(), default=0) + 1
    tallest = max(sum(1 for d in depth.values() if d == layer) for layer in range(layers))
    fig = Figure(figsize=(max(6.0, 3.2 * layers), max(3.0, 0.75 * tallest + 1.2)))
    ax = fig.add_subplot()
    active = {str(e.get("id", "")) for e in active_entities}
    colours = [TYPE_COLOURS.get(node_type(n), OTHER_COLOUR) for n in graph.nodes]
    widths = [3.0 if n in active else 0.8 for n in graph.nodes]
    nx.draw_networkx_edges(
        graph, positions, ax=ax, arrows=True, arrowsize=14, edge_color="#666666", node_size=900
    )
    nx.draw_networkx_nodes(
        graph, positions, ax=ax, node_color=colours, edgecolors="#222222", linewidths=widths, node_size=900
    )
    nx.draw_networkx_labels(
        graph,
        positions,
        labels={n: node_label(n) for n in graph.nodes},
        ax=ax,
        font_size=8,
        verticalalignment="bottom",
        bbox={"boxstyle": "round,pad=0.15", "fc": "white", "alpha": 0.75, "lw": 0},
    )
    nx.draw_networkx_edge_labels(
        graph, positions, edge_labels=nx.get_edge_attributes(graph, "relation"), ax=ax, font_size=7
    )
    kinds = sorted({node_type(n) for n in graph.nodes})
    for kind in kinds:
        ax.scatter([], [], color=TYPE_COLOURS.get(kind, OTHER_COLOUR), label=kind, s=60)
    ax.legend(
        loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=max(1, len(kinds)), frameon=False, fontsize=8
    )
    ax.set_title("Knowledge-graph paths (thick border: active entity)", fontsize=10)
    ax.margins(0.2, 0.15)
    ax.set_axis_off()
    return _to_image(fig)


def timings_chart(timings_ms: Mapping[str, float]) -> Image.Image | None:
    """Horizontal bars, one per stage, in pipeline order, each labelled with its milliseconds."""
    if not timings_ms:
        return None
    stages = [s for s in STAGE_ORDER if s in timings_ms] + sorted(
        k for k in timings_ms if k not in STAGE_ORDER
    )
    values = [float(timings_ms[s]) for s in stages]
    fig = Figure(figsize=(6.0, 0.45 * len(stages) + 1.0))
    ax = fig.add_subplot()
    positions = list(range(len(stages)))
    ax.barh(positions, values, color="#4C78A8")
    ax.set_yticks(positions, labels=stages)
    ax.invert_yaxis()
    top = max(values) if max(values) > 0 else 1.0
    for y, value in zip(positions, values, strict=True):
        ax.text(value + top * 0.01, y, f"{value:.1f} ms", va="center", fontsize=8)
    ax.set_xlim(0, top * 1.2)
    ax.set_xlabel("milliseconds (OCR and ASR are part of understand)")
    ax.set_title("Time per stage", fontsize=10)
    return _to_image(fig)
