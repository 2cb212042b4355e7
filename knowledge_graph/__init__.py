"""Knowledge graph of the support domain and per-conversation context (networkx)."""
