"""Building a `ContextGraph` by backend name (`core.registry` convention), and loading the saved one."""

from __future__ import annotations

from pathlib import Path

from core.config import Settings
from core.registry import Registry
from knowledge_graph.graph import GRAPH_FILE, NetworkxGraph
from knowledge_graph.protocol import ContextGraph

DEFAULT_GRAPH = "networkx"


def _networkx(settings: Settings) -> ContextGraph:
    return NetworkxGraph()


GRAPHS: Registry[ContextGraph] = Registry("knowledge-graph backend", {"networkx": _networkx})
BACKENDS: tuple[str, ...] = GRAPHS.names


def make_graph(settings: Settings | None = None, name: str | None = None) -> ContextGraph:
    """An empty graph of the named backend (default networkx)."""
    return GRAPHS.build(name or DEFAULT_GRAPH, settings or Settings())


def load_graph(path: str | Path, name: str = DEFAULT_GRAPH) -> ContextGraph:
    """The graph saved at `path` (a `graph.json` file or the directory holding it); empty when missing."""
    source = Path(path)
    file = source / GRAPH_FILE if source.is_dir() or not source.suffix else source
    graph = make_graph(None, name)
    if not file.is_file():
        return graph
    return type(graph).load(file)
