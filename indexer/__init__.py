"""Vietnamese text analysis, the Whoosh schema, and building the index."""
