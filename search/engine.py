"""The search call every surface uses: query text in, plain result objects out."""
from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from vnsearch.indexer import store
from vnsearch.indexer.analysis import analyse, folded_words
from vnsearch.indexer.fields import TEXT_FIELDS
from vnsearch.indexer.normalize import has_diacritics
from vnsearch.indexer.whoosh_format.reading import datetime_to_long
from vnsearch.search import abbreviations, sources
from vnsearch.search.limits import MAX_PER_PAGE
from vnsearch.search.ranker import Language, Snapshot, similar
from vnsearch.search.scoring import Evidence, Ranking, gather, holds_as_typed, rank, weigh
from vnsearch.search.snippets import Key, highlight, keys_for, snippet
from vnsearch.search.suggest import suggest
from vnsearch.search.syntax import Query, date_range, parse
from vnsearch.search.words import join_words

# How often a searcher checks whether a rebuild or an update changed the index: the
# check is a look at two files (0.5 ms), and an update should show within a second.
REFRESH_SECONDS = 0.2
# Related articles are found from the opening of an article's text: segmenting it is
# most of the cost (6 s for a 1,000,000-character article). Twice the longest article of
# the shared corpus, so that no real article is cut.
RELATED_TEXT_CHARS = 20_000
log = logging.getLogger(__name__)


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
    # The score's parts (search.scoring.PARTS), when asked to explain.
    explain: dict[str, float] | None = None
    # The publication's name for the `source` code, when search/sources.tsv knows it.
    source_name: str | None = None


@dataclass
class Results:
    query: str
    total: int
    page: int
    per_page: int
    took_ms: float
    hits: list[Hit] = field(default_factory=list)
    facets: dict[str, dict[str, int]] = field(default_factory=lambda: {"source": {}, "year": {}})
    # "Có phải bạn muốn tìm": the query with diacritics restored or a misspelling corrected.
    suggestion: str | None = None
    # The corrected query whose results these are, when the query as typed found too little.
    showing: str | None = None
    # True when no article had every word and the hits match only some of them.
    partial: bool = False
    # The typed words that no article holds.
    missing: list[str] = field(default_factory=list)
    # How many of the `total` articles have no date: sorting by date and the year facet
    # mean something only for the others.
    undated: int = 0

    def to_dict(self) -> dict:
        # Not `asdict`, which copies every value through a recursive walk: 0.3 ms a page of
        # ten hits, 2% of a search. The values are plain; their containers are copied.
        data = dict(vars(self))
        data["hits"] = [dict(vars(hit)) for hit in self.hits]
        data["facets"] = {name: dict(counts) for name, counts in self.facets.items()}
        data["missing"] = list(self.missing)
        return data


class Engine:
    """Opens the index once; every call sees the newest complete index.

    Whoosh's readers are not safe to share between threads and our postings cache is
    worth sharing, so index access is serialised by one lock; rendering snippets, the
    larger part of a request, runs outside it.
    """

    def __init__(self, home: Path):
        self.home = Path(home)
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._build: Path | None = None
        self._checked = 0.0
        self._ignored = ""  # the damage last reported while keeping the old snapshot
        with self._lock:
            self._current()  # fail early, with the store's clear message

    def after_fork(self) -> None:
        """In a forked server worker: a lock of its own, and files of its own under the
        snapshot loaded before the fork, whose arrays and caches it keeps sharing."""
        self._lock = threading.Lock()
        old = self._snapshot
        if old is None:
            return
        with store.reading(self.home):
            searcher = store.open_index(self.home).searcher() if store.current_build(self.home) == self._build \
                else None
            if searcher is None or not old.reopen(searcher):
                # The index changed since the fork: open the new one as any refresh would.
                if searcher is not None:
                    searcher.close()
                old.searcher.close()
                self._snapshot = None
                self._current()
            elif old.borrowed:  # forked while its statistics loaded: the thread stayed behind
                self._start_loading(old)

    def _current(self) -> Snapshot:
        """The snapshot of the newest index (call with the lock held)."""
        now = time.monotonic()
        if self._snapshot is None or now - self._checked > REFRESH_SECONDS:
            try:
                self._refresh()
            except store.DamagedIndex as error:
                if self._snapshot is None:
                    raise
                # A damaged new generation: keep answering from the one we have, and
                # look again at the next refresh (a rebuild may replace it).
                if str(error) != self._ignored:
                    log.warning("still searching the previous generation: %s", error)
                    self._ignored = str(error)
            self._checked = now
        return self._snapshot

    def _refresh(self) -> None:
        old = self._snapshot
        build = store.current_build(self.home)
        with store.reading(self.home):
            if old is None or build != self._build:
                self._snapshot = Snapshot(store.open_index(self.home).searcher(), build)
                self._build = build
                if old is not None:
                    # A rebuild: free the old build's files. Nobody else can be reading
                    # them, as all index access holds the lock.
                    old.searcher.close()
            elif not old.searcher.up_to_date():
                # An update: refresh() reuses the unchanged segments and closes the rest.
                self._snapshot = Snapshot(old.searcher.refresh(), build)
                if self._snapshot.borrow_language(old):
                    self._start_loading(self._snapshot)

    def _start_loading(self, snapshot: Snapshot) -> None:
        threading.Thread(target=self._load_language, args=(snapshot,), daemon=True).start()

    def _load_language(self, snapshot: Snapshot) -> None:
        """Give an update's snapshot its own syllable statistics, made outside the lock
        while it searches with the previous generation's (unless a later update has
        replaced it by then: its own thread loads the newer ones)."""
        if self._snapshot is not snapshot:
            return
        try:
            language = Language.load(snapshot.folder)
        except Exception as error:  # a damaged lexicon: the borrowed statistics stay
            log.warning("keeping the previous syllable statistics: %s", error)
            return
        with self._lock:
            snapshot.set_language(language)
        # Completion tables made with the borrowed statistics are made again on next use.
        from vnsearch.search import completions
        completions.forget(snapshot)

    def _filter(self, snapshot: Snapshot, parsed: Query) -> np.ndarray | None:
        mask = None
        if parsed.sources:
            # By code or by the publication's name: source:GLO, source:"Báo Gia Lai".
            wanted = {folded_words(s) for s in parsed.sources}
            codes = [i for i, code in enumerate(snapshot.source_names) if sources.keys(str(code)) & wanted]
            mask = np.isin(snapshot.source, codes)
        if parsed.start or parsed.end:
            start = datetime_to_long(parsed.start) if parsed.start else 0
            end = datetime_to_long(parsed.end) if parsed.end else 2**62
            in_range = (snapshot.published >= start) & (snapshot.published < end)
            mask = in_range if mask is None else mask & in_range
        return mask

    def search(self, text: str, page: int = 1, per_page: int = 10, sort: str = "relevance",
               source: str | None = None, year: int | None = None, explain: bool = False,
               correct: bool = True) -> Results:
        """One page of results. With `correct`, a query that finds nothing (or only some of
        its words) while a confident correction finds them all shows the correction's results."""
        started = time.perf_counter()
        page = max(1, page)
        per_page = max(1, min(per_page, MAX_PER_PAGE))
        results = Results(text or "", 0, page, per_page, 0.0)
        parsed = _filtered(text, source, year)
        if parsed is None:
            results.took_ms = _ms_since(started)
            return results
        with self._lock, store.reading(self.home):
            snapshot = self._current()
            first = (page - 1) * per_page
            planned, ranking = self._rank(snapshot, parsed, text, sort, correct, results, first + per_page)
            results.total = len(ranking.docs)
            page_docs = ranking.docs[first:first + per_page].tolist()
            page_scores = ranking.scores[first:first + per_page].tolist()
            explained = [ranking.explain(doc) for doc in page_docs] if explain else [None] * len(page_docs)
            stored = [snapshot.searcher.stored_fields(doc) for doc in page_docs]
            results.facets = _facets(snapshot, ranking.docs)
            results.undated = int(np.count_nonzero(snapshot.published[ranking.docs] < 0))
        keys = _keys(planned)
        results.hits = [_hit(fields, score, keys, parts)
                        for fields, score, parts in zip(stored, page_scores, explained)]
        results.took_ms = _ms_since(started)
        return results

    def export(self, text: str, limit: int, sort: str = "relevance", source: str | None = None,
               year: int | None = None, correct: bool = True) -> tuple[Results, Iterator[Hit]]:
        """Every hit up to `limit`, as the pages of `search` would list them one after
        another: the results without hits, and the hits, made one at a time as they are read."""
        results = Results(text or "", 0, 1, limit, 0.0)
        parsed = _filtered(text, source, year)
        if parsed is None:
            return results, iter(())
        with self._lock, store.reading(self.home):
            snapshot = self._current()
            planned, ranking = self._rank(snapshot, parsed, text, sort, correct, results, limit)
            results.total = len(ranking.docs)
            results.undated = int(np.count_nonzero(snapshot.published[ranking.docs] < 0))
            # Read here, under the lock and from this one snapshot: a rebuild or an update may
            # close its files as soon as the lock is let go. That is 0.05 ms of CPU an article
            # (half a second for 10,000); snippets, far dearer, are made later, outside it.
            found = [(snapshot.searcher.stored_fields(doc), score)
                     for doc, score in zip(ranking.docs[:limit].tolist(), ranking.scores[:limit].tolist())]
        keys = _keys(planned)
        return results, (_hit(fields, score, keys) for fields, score in found)

    def _rank(self, snapshot: Snapshot, parsed: Query, text: str, sort: str, correct: bool,
              results: Results, depth: int) -> tuple[Query, Ranking]:
        """The query as searched and its ranking, the first `depth` in order; fills in the
        results' suggestion, correction and partial match (call with the lock held)."""
        expanded = abbreviations.expand(parsed)
        mask = self._filter(snapshot, expanded)
        planned = join_words(expanded, snapshot.words)
        ranking = rank(snapshot, planned, mask, by_date=sort == "date", depth=depth)
        suggestion, fixed = self._suggestion(snapshot, text, mask, ranking)
        if fixed is not None and correct and (ranking.partial or not len(ranking.docs)):
            # The correction's evidence was gathered to decide on it: weighed again here,
            # in the order asked for, rather than gathered twice.
            fixed_query, evidence = fixed
            fixed_ranking = weigh(snapshot, fixed_query, evidence, by_date=sort == "date", depth=depth)
            # Shown instead only where the correction finds every word the query missed.
            if len(fixed_ranking.docs) and not fixed_ranking.partial:
                planned, ranking, results.showing = fixed_query, fixed_ranking, suggestion
        results.suggestion = suggestion
        results.partial, results.missing = ranking.partial, ranking.missing
        return planned, ranking

    @staticmethod
    def _suggestion(snapshot: Snapshot, text: str, mask: np.ndarray | None,
                    ranking: Ranking) -> tuple[str | None, tuple[Query, Evidence] | None]:
        """The query with diacritics restored and misspellings corrected, when that is likely
        better, and only if the suggestion finds articles holding all of its words; with the
        suggestion as searched and its evidence, where they were gathered. When a
        query typed with diacritics found articles holding its words exactly as typed, only
        a correction far likelier side by side (`suggest`'s `exact`): "hà nổi" is in articles
        that have "hà" and "nổi" apart, and means "hà nội"."""
        if snapshot.accents is None:
            return None, None
        exact = has_diacritics(text) and holds_as_typed(snapshot, parse(text), ranking)
        suggestion = suggest(snapshot.accents, text, exact)
        if suggestion is None:
            return None, None
        if folded_words(suggestion) == folded_words(text) and len(ranking.docs) and not ranking.partial:
            return suggestion, None  # diacritics only: matching ignores them, so it finds what the query found
        fixed = join_words(abbreviations.expand(parse(suggestion)), snapshot.words)
        if fixed.is_empty:
            return None, None
        # Only which articles match counts here, not their order: ranking by date skips the
        # whole-run re-ranking of the best candidates, which reads positions (the dearest
        # part of ranking a query of three or more syllables).
        evidence = gather(snapshot, fixed, mask)
        found = weigh(snapshot, fixed, evidence, by_date=True, depth=1)
        return (suggestion, (fixed, evidence)) if len(found.docs) and not found.partial else (None, None)

    def query_keys(self, text: str) -> list[Key]:
        """What to mark in a text for this query, as the search marked its snippets
        (the article page a search led to)."""
        expanded = abbreviations.expand(parse(text or ""))
        with self._lock, store.reading(self.home):
            words = self._current().words
        return _keys(join_words(expanded, words))

    def article(self, article_id: str) -> dict | None:
        with self._lock, store.reading(self.home):
            return self._current().searcher.document(id=article_id)

    def related(self, article_id: str, limit: int = 5) -> list[Hit]:
        """Articles sharing the most informative words of this one."""
        with self._lock, store.reading(self.home):
            searcher = self._current().searcher
            docnum = searcher.document_number(id=article_id)
            if docnum is None:
                return []
            stored = searcher.stored_fields(docnum)
        # Segmenting a whole article takes pyvi tens of milliseconds: not under the lock.
        text = "\n".join(stored.get(name) or "" for name in TEXT_FIELDS)[:RELATED_TEXT_CHARS]
        words = Counter(analyse(text).views().words)
        with self._lock, store.reading(self.home):
            snapshot = self._current()
            docnum = snapshot.searcher.document_number(id=article_id)  # a rebuild may have come between
            found = similar(snapshot, words, docnum, limit)
            hits = [(snapshot.searcher.stored_fields(doc), score) for doc, score in found]
        return [_hit(fields, score, []) for fields, score in hits]

    def changed(self) -> dt.datetime:
        """When the index last changed, by a build or an update (in UTC)."""
        with self._lock:
            folder = self._current().folder
        # A build's folder gains files with every update and changes no more after it.
        seconds = folder.stat().st_mtime if folder else time.time()
        return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).replace(microsecond=0)

    def complete(self, prefix: str, limit: int = 8, titles: int = 4) -> "completions.Completions":
        """Completions of a query being typed: phrases as articles write them, and titles,
        accent-insensitive."""
        from vnsearch.search import completions  # here, so that this method is all completions adds to the engine

        with self._lock:
            snapshot = self._current()

        def reading(look_up):
            # Reading the index shares the searcher, so under the lock, and only while this
            # snapshot is the current one (a rebuild closes the files of the one before).
            with self._lock, store.reading(self.home):
                return look_up(snapshot) if self._snapshot is snapshot else None

        # The tables are built once per index generation, with a reader of their own:
        # outside the lock, so searches do not wait for them.
        with store.reading(self.home):
            return completions.complete(snapshot, prefix, limit, titles, reading)


def _filtered(text: str | None, source: str | None, year: int | None) -> Query | None:
    """The parsed query with the page's source and year filters; None when it can find nothing."""
    parsed = parse(text or "")
    if source:
        parsed.sources.append(source)
    if year:
        bounds = date_range(f"{year:04d}")
        if bounds is None:  # year 0, or past 9999: no article can be from it
            return None
        parsed.start, parsed.end = bounds
    if parsed.is_empty and not (parsed.sources or parsed.start):
        return None
    return parsed


def _keys(parsed: Query) -> list[Key]:
    texts = [t for group in parsed.groups for t in group]
    return keys_for((s for t in texts if not t.phrase for s in t.syllables),
                    (t.syllables for t in texts if t.phrase))


def _hit(fields: dict, score: float, keys, explain: dict | None = None) -> Hit:
    body = fields.get("body") or ""
    summary = fields.get("summary") or ""
    # Show the body's best passage; fall back to the summary when only it matched.
    text_snippet = snippet(body, keys)
    if keys and "<mark>" not in text_snippet and summary:
        summary_snippet = snippet(summary, keys)
        if "<mark>" in summary_snippet:
            text_snippet = summary_snippet
    return Hit(
        id=fields["id"], title=fields.get("title", ""), date=fields.get("date"), source=fields.get("source"),
        url=fields.get("url"), score=round(float(score or 0.0), 4), snippet=text_snippet,
        title_html=highlight(fields.get("title", ""), keys), explain=explain,
        source_name=sources.name(fields.get("source")),
    )


def _facets(snapshot: Snapshot, docs: np.ndarray) -> dict[str, dict[str, int]]:
    """Counts by source and year of the matching `docs` (their numbers, not a mask over
    all documents: selecting by a mask a third full cost a millisecond)."""
    sources = np.bincount(snapshot.source[docs], minlength=len(snapshot.source_names))
    years = np.bincount(snapshot.year[docs]) if len(docs) else np.zeros(1, dtype=np.int64)
    by_source = {str(snapshot.source_names[i]): int(n) for i, n in enumerate(sources)
                 if n and snapshot.source_names[i]}
    by_year = {str(y): int(n) for y, n in enumerate(years) if n and y}
    return {
        "source": dict(sorted(by_source.items(), key=lambda kv: (-kv[1], kv[0]))),
        "year": dict(sorted(by_year.items(), reverse=True)),
    }


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
