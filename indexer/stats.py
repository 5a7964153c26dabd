"""Figures about an index: what is in it and how big it is."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from vnsearch.indexer import store

UNKNOWN_SOURCE = "(unknown)"


def index_stats(home: Path) -> dict:
    ix = store.open_index(home)
    sources: Counter[str] = Counter()
    dates = []
    with store.reading(home), ix.searcher() as searcher:
        for fields in searcher.all_stored_fields():
            sources[fields.get("source") or UNKNOWN_SOURCE] += 1
            if fields.get("date"):
                dates.append(fields["date"][:10])
        count = searcher.doc_count()
    build = store.current_build(home)
    return {
        "index": str(build),
        "articles": count,
        # Most articles first, ties by name; articles without a source last, whatever their number.
        "sources": dict(sorted(sources.items(), key=lambda kv: (kv[0] == UNKNOWN_SOURCE, -kv[1], kv[0]))),
        "dates": {"first": min(dates, default=None), "last": max(dates, default=None),
                  "undated": count - len(dates)},
        "bytes": store.disk_size(build),
    }
