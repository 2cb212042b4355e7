"""Retrieval: loading the knowledge base, embedding it, storing it in Milvus and searching it."""
