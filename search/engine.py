"""The search call every surface uses: query text in, plain result objects out."""
from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from whoosh import query as q
from whoosh import sorting

from indexer import store
from indexer.normalize import fold
from search.query import expand_abbreviations, to_whoosh
from search.snippets import highlight, keys_for, snippet
from search.syntax import Query, parse

MAX_PER_PAGE = 100
# Deep pages cost as much as all the pages before them; nobody reads page 500.
MAX_RESULTS = 1000
# How often a searcher checks whether a rebuild or an update changed the index.
REFRESH_SECONDS = 1.0
SORTS = ("relevance", "date")


@dataclass
class Hit:
    id: str
    title: str
    date: str | None
    source: str | None
    url: str | None
    score: float
    snippet: str  # HTML: escaped text, matches in <mark>
    title_html: str


@dataclass
class Results:
    query: str
    total: int
    page: int
    per_page: int
    took_ms: float
    hits: list[Hit] = field(default_factory=list)
    facets: dict[str, dict[str, int]] = field(default_factory=dict)
    suggestion: str | None = None
    # True when no article had every word and the hits match only some of them.
    partial: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


class Engine:
    """Opens the index once and keeps one up-to-date searcher per thread."""

    def __init__(self, home: Path):
        self.home = Path(home)
        store.open_index(self.home)  # fail early, with the store's clear message
        self._local = threading.local()

    def searcher(self):
        local = self._local
        now = time.monotonic()
        if getattr(local, "searcher", None) is None or now - local.checked > REFRESH_SECONDS:
            build = store.current_build(self.home)
            if getattr(local, "searcher", None) is None or build != local.build:
                local.searcher = store.open_index(self.home).searcher()
                local.build = build
            elif not local.searcher.up_to_date():
                local.searcher = local.searcher.refresh()
            local.checked = now
        return local.searcher

    def sources(self) -> list[str]:
        return sorted(t.decode("utf-8") for t in self.searcher().lexicon("source"))

    def _filter(self, parsed: Query) -> q.Query | None:
        parts: list[q.Query] = []
        if parsed.sources:
            known = {fold(s): s for s in self.sources()}
            wanted = [known.get(fold(s), s) for s in parsed.sources]
            parts.append(q.Or([q.Term("source", s) for s in wanted]))
        if parsed.start or parsed.end:
            parts.append(q.DateRange("published", parsed.start, parsed.end, endexcl=True))
        return q.And(parts) if parts else None

    def search(self, text: str, page: int = 1, per_page: int = 10, sort: str = "relevance",
               source: str | None = None, year: int | None = None) -> Results:
        started = time.perf_counter()
        page = max(1, page)
        per_page = max(1, min(per_page, MAX_PER_PAGE))
        parsed = parse(text or "")
        if source:
            parsed.sources.append(source)
        if year:
            parsed.start, parsed.end = dt.datetime(year, 1, 1), dt.datetime(year + 1, 1, 1)
        results = Results(text or "", 0, page, per_page, 0.0)
        if parsed.is_empty and not (parsed.sources or parsed.start):
            results.took_ms = _ms_since(started)
            return results
        searcher = self.searcher()
        filter_ = self._filter(parsed)
        limit = min(page * per_page, MAX_RESULTS)
        facets = {"source": sorting.FieldFacet("source", maptype=sorting.Count),
                  "year": sorting.FieldFacet("year", maptype=sorting.Count)}
        sortedby = sorting.FieldFacet("published", reverse=True) if sort == "date" else None
        whoosh_query = to_whoosh(parsed) if not parsed.is_empty else q.Every()
        found = searcher.search(whoosh_query, limit=limit, filter=filter_, groupedby=facets, sortedby=sortedby)
        if found.is_empty() and len(parsed.groups) > 1:
            whoosh_query = to_whoosh(parsed, require_all=False)
            found = searcher.search(whoosh_query, limit=limit, filter=filter_, groupedby=facets, sortedby=sortedby)
            results.partial = not found.is_empty()
        results.total = len(found)
        keys = keys_for(s for group in expand_abbreviations(parsed).groups for t in group for s in t.syllables)
        for hit in found[(page - 1) * per_page: page * per_page]:
            results.hits.append(_hit(hit, keys))
        results.facets = {name: _facet(found, name) for name in facets}
        results.took_ms = _ms_since(started)
        return results

    def article(self, article_id: str) -> dict | None:
        return self.searcher().document(id=article_id)

    def related(self, article_id: str, limit: int = 5) -> list[Hit]:
        searcher = self.searcher()
        docnum = searcher.document_number(id=article_id)
        if docnum is None:
            return []
        stored = searcher.stored_fields(docnum)
        text = " ".join(stored.get(name) or "" for name in ("title", "summary", "body"))
        similar = searcher.more_like(docnum, "body_words", text=text, top=limit, numterms=20)
        return [_hit(hit, []) for hit in similar]


def _hit(hit, keys) -> Hit:
    body = hit.get("body") or ""
    summary = hit.get("summary") or ""
    # Show the body's best passage; fall back to the summary when only it matched.
    text_snippet = snippet(body, keys)
    if keys and "<mark>" not in text_snippet and summary:
        summary_snippet = snippet(summary, keys)
        if "<mark>" in summary_snippet:
            text_snippet = summary_snippet
    return Hit(
        id=hit["id"], title=hit.get("title", ""), date=hit.get("date"), source=hit.get("source"),
        url=hit.get("url"), score=round(float(hit.score or 0.0), 4), snippet=text_snippet,
        title_html=highlight(hit.get("title", ""), keys),
    )


def _facet(found, name: str) -> dict[str, int]:
    groups = found.groups(name)
    counts = {str(key): count for key, count in groups.items() if key is not None and key != ""}
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
