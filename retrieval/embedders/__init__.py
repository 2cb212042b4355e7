"""Embedder backends (one file each) and the factory that picks one by name."""
