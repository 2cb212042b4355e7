"""Building a `ContextGraph` by backend name, and loading the saved one (empty when there is none)."""

from __future__ import annotations

from pathlib import Path

from core.errors import ConfigError
from knowledge_graph.graph import GRAPH_FILE, NetworkxGraph
from knowledge_graph.protocol import ContextGraph

BACKENDS: tuple[str, ...] = ("networkx",)


def make_graph(name: str = "networkx") -> ContextGraph:
    """An empty graph of the named backend."""
    if name == "networkx":
        return NetworkxGraph()
    raise ConfigError(f"unknown knowledge-graph backend {name!r}; use one of {', '.join(BACKENDS)}")


def load_graph(path: str | Path, name: str = "networkx") -> ContextGraph:
    """The graph saved at `path` (a `graph.json` file or the directory holding it); empty when missing."""
    source = Path(path)
    file = source / GRAPH_FILE if source.is_dir() or not source.suffix else source
    graph = make_graph(name)
    if not file.is_file():
        return graph
    return type(graph).load(file)
