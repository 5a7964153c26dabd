"""The engines the relevance benchmark compares, over the same articles.

Each answers `search(text)`, its top 10 ids, and `result_set(text, mode)`, every id
it returns (for topical precision and recall), in its own order:

- `VnSearch`: the engine as users meet it, `Engine.search` page after page.
- `PlainBm25`: an ablation over the same vnsearch index, BM25 of the folded syllables
  summed over title, summary and body with the peers' weights, nothing else: what
  vnsearch's ranking adds to (or takes from) plain BM25 over its own terms.
- `Fts5`: SQLite FTS5, unicode61 with remove_diacritics 2, column-weighted BM25.
- `Tantivy`: tantivy-py, simple tokenizer, lowercase, ASCII folding, BM25 with boosts.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np

from common import progress

from vnsearch.corpus import Article
from vnsearch.indexer import store
from vnsearch.indexer.analysis import analyse
from vnsearch.indexer.fields import view_field
from vnsearch.search.engine import Engine
from vnsearch.search.ranker import Snapshot

TOP = 10
# Title and summary weighted above the body, the same for every engine we configure.
TITLE_BOOST, SUMMARY_BOOST = 3.0, 1.5
WEIGHTS = {"title": TITLE_BOOST, "summary": SUMMARY_BOOST, "body": 1.0}
PAGE = 100  # Engine.search's largest page


class VnSearch:
    name = "vnsearch"
    modes = {"typed": "as typed", "quoted": '"quoted"'}

    def __init__(self, home: Path):
        self.engine = Engine(home)
        self.paged = 0  # result sets that had to be paged out through Engine.search
        self._doc_ids: tuple[object, list[str | None]] | None = None

    def search(self, text: str) -> list[str]:
        return [hit.id for hit in self.engine.search(text, per_page=TOP).hits]

    def result_set(self, text: str, mode: str = "typed") -> list[str]:
        """Every hit, in Engine.search's order; a partial answer (no article with every
        word) counts as returned.

        Paging out thousands of hits renders a snippet for each (seconds per query), so
        the hits come from the ranking directly, checked against Engine.search's total
        and first page; where they differ (the engine's internals changed), the hits
        are paged out through Engine.search after all.
        """
        query = f'"{text}"' if mode == "quoted" else text
        first = self.engine.search(query, per_page=TOP)
        ids = self._ranked(query)
        if ids is not None and len(ids) == first.total and ids[:TOP] == [hit.id for hit in first.hits]:
            return ids
        self.paged += 1
        ids, page = [], 1
        while True:
            results = self.engine.search(query, page=page, per_page=PAGE)
            ids.extend(hit.id for hit in results.hits)
            if not results.hits or len(ids) >= results.total:
                return ids
            page += 1

    def _ranked(self, query: str) -> list[str] | None:
        """All hits as Engine.search ranks them (the engine's matching and ranking steps,
        without snippets), or None; the caller checks them against Engine.search."""
        try:
            from vnsearch.search import abbreviations
            from vnsearch.search.scoring import rank
            from vnsearch.search.syntax import parse
            from vnsearch.search.words import join_words

            expanded = abbreviations.expand(parse(query))
            with self.engine._lock:
                snapshot = self.engine._current()
                ranking = rank(snapshot, join_words(expanded, snapshot.words))
                if self._doc_ids is None or self._doc_ids[0] is not snapshot:
                    self._doc_ids = (snapshot, [snapshot.searcher.stored_fields(d).get("id") if snapshot.live[d]
                                                else None for d in range(snapshot.size)])
                ids = self._doc_ids[1]
            return [ids[d] for d in ranking.docs.tolist()]
        except Exception:  # noqa: BLE001 - any change of the internals: use the public API
            return None

    def newest(self, text: str, mode: str = "typed") -> list[str]:
        """The first page sorted by date."""
        query = f'"{text}"' if mode == "quoted" else text
        return [hit.id for hit in self.engine.search(query, per_page=TOP, sort="date").hits]

    def suggestion(self, text: str) -> str | None:
        return self.engine.search(text, per_page=1).suggestion


class PlainBm25:
    """Ablation: OR of the query's folded syllables, sum of field-weighted BM25 from
    vnsearch's own index (`Snapshot.bm25` over `title_fold`, `summary_fold`,
    `body_fold`); each distinct syllable counted once. No accents, pairs, compounds,
    proximity or abbreviations."""
    name = "plain BM25 (ablation)"
    modes = {"or": "OR of words", "and": "AND of words"}

    def __init__(self, home: Path):
        searcher = store.open_index(home).searcher()
        self.snapshot = Snapshot(searcher, None)
        self.ids = [searcher.stored_fields(d).get("id") if self.snapshot.live[d] else None
                    for d in range(self.snapshot.size)]

    def _scores(self, text: str) -> tuple[np.ndarray, np.ndarray, int]:
        terms = list(dict.fromkeys(analyse(text).folded))
        score = np.zeros(self.snapshot.size, dtype=np.float64)
        matched = np.zeros(self.snapshot.size, dtype=np.int32)
        for term in terms:
            present = np.zeros(self.snapshot.size, dtype=bool)
            for field, weight in WEIGHTS.items():
                docs, scores = self.snapshot.bm25(view_field(field, "fold"), term)
                score[docs] += weight * scores
                present[docs] = True
            matched += present
        matched[~self.snapshot.live] = 0
        return score, matched, len(terms)

    def _ranked(self, score: np.ndarray, mask: np.ndarray) -> list[str]:
        docs = np.flatnonzero(mask)
        order = np.lexsort((docs, -score[docs]))
        return [self.ids[d] for d in docs[order]]

    def search(self, text: str) -> list[str]:
        score, matched, _ = self._scores(text)
        docs = np.flatnonzero(matched > 0)
        if len(docs) > TOP:
            docs = docs[np.argpartition(-score[docs], TOP)[:TOP]]
        order = np.lexsort((docs, -score[docs]))
        return [self.ids[d] for d in docs[order]]

    def result_set(self, text: str, mode: str = "or") -> list[str]:
        score, matched, terms = self._scores(text)
        return self._ranked(score, matched >= max(terms if mode == "and" else 1, 1))


def _fts5_string(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


class Fts5:
    """SQLite FTS5 with unicode61 and remove_diacritics 2, ranked by column-weighted BM25.

    unicode61 removes combining marks only: "đ" is a letter of its own and stays "đ", so
    a query typed "dang" does not find "Đảng". That is the peer's real behaviour, kept.
    """
    name = "SQLite FTS5"
    modes = {"and": "AND of words", "phrase": "phrase"}
    _RANKED = f"ORDER BY bm25(docs, 0, {TITLE_BOOST}, {SUMMARY_BOOST}, 1.0)"

    def __init__(self, articles: list[Article], quiet: bool):
        self.db = sqlite3.connect(":memory:")
        self.db.execute('CREATE VIRTUAL TABLE docs USING fts5(id UNINDEXED, title, summary, body, '
                        'tokenize="unicode61 remove_diacritics 2")')
        rows = ((a.id, a.title, a.summary or "", a.body) for a in progress(articles, quiet, desc="FTS5 index"))
        self.db.executemany("INSERT INTO docs VALUES (?, ?, ?, ?)", rows)
        self.db.commit()

    def _ids(self, match: str, limit: int | None) -> list[str]:
        sql = f"SELECT id FROM docs WHERE docs MATCH ? {self._RANKED}" + (f" LIMIT {limit}" if limit else "")
        return [row[0] for row in self.db.execute(sql, (match,))]

    def search(self, text: str) -> list[str]:
        # Every token an FTS5 string, so no query syntax leaks through: AND of all, else OR.
        tokens = [_fts5_string(token) for token in text.split()]
        if not tokens:
            return []
        for joiner in (" ", " OR "):
            ids = self._ids(joiner.join(tokens), TOP)
            if ids:
                return ids
        return []

    def result_set(self, text: str, mode: str = "and") -> list[str]:
        if not text.split():
            return []
        if mode == "phrase":
            return self._ids(_fts5_string(" ".join(text.split())), None)
        return self._ids(" ".join(_fts5_string(token) for token in text.split()), None)


class Tantivy:
    """tantivy-py with a simple tokenizer, lowercase and ASCII folding (which folds "đ"),
    ranked by BM25 with the same field boosts."""
    name = "tantivy"
    modes = {"and": "AND of words", "phrase": "phrase"}

    def __init__(self, articles: list[Article], quiet: bool):
        import tantivy  # the bench extra: pip install -e '.[bench]'

        analyzer = (tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
                    .filter(tantivy.Filter.lowercase()).filter(tantivy.Filter.ascii_fold()).build())
        builder = tantivy.SchemaBuilder()
        builder.add_text_field("id", stored=True, tokenizer_name="raw")
        for name in ("title", "summary", "body"):
            builder.add_text_field(name, tokenizer_name="vi_fold")
        self.index = tantivy.Index(builder.build())  # in RAM
        self.index.register_tokenizer("vi_fold", analyzer)
        writer = self.index.writer()
        for a in progress(articles, quiet, desc="tantivy index"):
            writer.add_document(tantivy.Document(id=a.id, title=a.title, summary=a.summary or "", body=a.body))
        writer.commit()
        writer.wait_merging_threads()
        self.index.reload()
        self.searcher = self.index.searcher()
        self.size = len(articles)

    def _ids(self, query_text: str, conjunction: bool, limit: int) -> list[str]:
        query = self.index.parse_query(query_text, ["title", "summary", "body"],
                                       field_boosts={"title": TITLE_BOOST, "summary": SUMMARY_BOOST},
                                       conjunction_by_default=conjunction)
        return [self.searcher.doc(address)["id"][0] for _, address in self.searcher.search(query, limit).hits]

    @staticmethod
    def _escaped(text: str) -> str:
        # Lowercase (the analyzer does anyway) so AND/OR/NOT/IN in a headline are words,
        # and escape every other character the query language could read as syntax.
        return "".join(c if c.isalnum() or c.isspace() else "\\" + c for c in text.lower())

    def search(self, text: str) -> list[str]:
        escaped = self._escaped(text)
        if not escaped.strip():
            return []
        for conjunction in (True, False):
            ids = self._ids(escaped, conjunction, TOP)
            if ids:
                return ids
        return []

    def result_set(self, text: str, mode: str = "and") -> list[str]:
        if mode == "phrase":
            syllables = " ".join(analyse(text).accented)
            return self._ids(f'"{syllables}"', True, self.size) if syllables else []
        escaped = self._escaped(text)
        return self._ids(escaped, True, self.size) if escaped.strip() else []
