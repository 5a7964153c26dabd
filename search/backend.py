"""Which store answers: the embedded index in a folder (the default), or an OpenSearch cluster.

A choice of storage, not of product: both engines take the same calls and return the
same `Results`, so the command line and the web app only ever ask `open_engine`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from vnsearch.indexer import store

BACKENDS = ("embedded", "opensearch")


@dataclass(frozen=True)
class Backend:
    kind: str = "embedded"
    # embedded: the index folder; opensearch: the alias searched (`vnsearch` by default).
    index: str | None = None
    # opensearch: the cluster's address, several nodes separated by commas.
    url: str | None = None

    @classmethod
    def chosen(cls, kind: str | None = None, index: str | None = None, url: str | None = None) -> "Backend":
        """The backend asked for, else $VNSEARCH_BACKEND and $VNSEARCH_OPENSEARCH_URL, else the embedded index."""
        kind = (kind or os.environ.get("VNSEARCH_BACKEND") or "embedded").lower()
        if kind not in BACKENDS:
            raise store.StoreError(f"unknown backend {kind!r}: choose one of {', '.join(BACKENDS)}")
        return cls(kind, index, url or os.environ.get("VNSEARCH_OPENSEARCH_URL") or None)

    @property
    def home(self) -> Path:
        """The embedded index's folder: --index, else $VNSEARCH_INDEX, else the per-user folder."""
        return Path(self.index).expanduser() if self.index else store.default_home()

    @property
    def alias(self) -> str:
        from vnsearch.indexer.opensearch_store import DEFAULT_ALIAS

        return self.index or os.environ.get("VNSEARCH_OPENSEARCH_INDEX") or DEFAULT_ALIAS

    def describe(self) -> str:
        """Where the index is, for messages."""
        if self.kind == "opensearch":
            from vnsearch.indexer.opensearch_store import DEFAULT_URL

            return f"{self.alias} at {self.url or DEFAULT_URL}"
        return str(self.home)


def open_engine(backend: Backend):
    """The search engine over `backend`'s index (raises store.StoreError when there is none)."""
    if backend.kind == "opensearch":
        from vnsearch.search.opensearch_engine import OpenSearchEngine  # opensearch-py is an optional extra

        return OpenSearchEngine(backend.url, backend.alias)
    from vnsearch.search.engine import Engine

    return Engine(backend.home)
