"""Matching and ranking over the index's postings, vectorised with NumPy.

Whoosh stores the postings; we evaluate queries ourselves. Whoosh's own query
evaluation scores one document at a time in Python: on the 22,643-article corpus a
three-word query with proximity took about 300 ms and a common word about 1 s.
Here each term's postings are decoded once (and cached) into arrays, and a query is
a handful of array operations over all documents (a few milliseconds); positions are
read only where they matter (phrases, and the top candidates for proximity).

The score is BM25 over folded syllables in title, summary and body, plus:
- accent-exact matches of every syllable typed with diacritics ("đảng" over "đang");
- the typed words adjacent and in order (each pair, and the whole run);
- pyvi compounds ("chính phủ" as one word beats "phủ nhận … chính sách").
"""
from __future__ import annotations

import heapq
import math
from collections import Counter, OrderedDict
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
from whoosh.reading import TermNotFound

from vnsearch.indexer.analysis import fold_syllable, pair_terms
from vnsearch.indexer.fields import FIELD_WEIGHTS, view_field
from vnsearch.indexer.lexicon import SyllableStats
from vnsearch.indexer.normalize import has_diacritics
from vnsearch.search.accents import AccentModel
from vnsearch.search.syntax import Query, Text

K1, B = 1.2, 0.75
ACCENT_WEIGHT = 1.0
COMPOUND_WEIGHT = 1.0
# Words allowed between consecutive typed words for the whole-run bonus: "chỉ thị 35"
# still counts as together in "Chỉ thị số 35".
RUN_SLOP = 2
# How many of the best candidates get the (slower, position-based) whole-run check.
RERANK = 30
# Phrases of three or more syllables are checked against positions up to this many
# candidates; beyond, a document holding every adjacent pair of the phrase counts as
# holding the phrase (the pairs appearing apart from each other is rare, and reading
# positions costs about 0.1 ms per document and syllable).
VERIFY_PHRASES = 200
# Decoded postings kept in memory, counted in postings (8 bytes each: about 130 MB).
# Decoding is the dearest step of a query (Whoosh unpickles every block), and a mix of
# a few hundred queries over the 22,643-article corpus touches about 10 million.
CACHE_POSTINGS = 16_000_000
_MISSING_YEAR = 32767


class Snapshot:
    """One searcher's documents as arrays, plus a cache of decoded postings.

    Built once per index generation; a rebuild or update gets a new snapshot.
    """

    def __init__(self, searcher, folder: Path | None = None):
        self.searcher = searcher
        self.folder = folder
        self.size = searcher.doc_count_all()
        self.live = np.ones(self.size, dtype=bool)
        self.year = np.zeros(self.size, dtype=np.int32)
        self.published = np.full(self.size, -1, dtype=np.int64)
        sources: list[str] = []
        for reader, offset in self._leaves():
            count = reader.doc_count_all()
            if reader.has_deletions():
                for docnum in range(count):
                    self.live[offset + docnum] = not reader.is_deleted(docnum)
            if reader.has_column("year"):
                years = np.fromiter(reader.column_reader("year"), dtype=np.int32, count=count)
                self.year[offset:offset + count] = np.where(years == _MISSING_YEAR, 0, years)
            if reader.has_column("published"):
                raw = np.fromiter(reader.column_reader("published", translate=False), dtype=np.uint64, count=count)
                self.published[offset:offset + count] = np.where(raw >= 2**63, -1, raw).astype(np.int64)
            if reader.has_column("source"):
                sources.extend(reader.column_reader("source"))
            else:
                sources.extend([""] * count)
        self.source_names, codes = np.unique(np.array(sources or [""], dtype=object), return_inverse=True)
        self.source = codes.astype(np.int32) if sources else np.zeros(self.size, dtype=np.int32)
        self._lengths: dict[str, tuple[np.ndarray, float]] = {}
        self._postings: OrderedDict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._cached = 0

    @cached_property
    def accents(self) -> AccentModel | None:
        """The diacritics model of this index's text, if the index has one."""
        stats = SyllableStats.load(self.folder) if self.folder else None
        return AccentModel(stats) if stats else None

    def _leaves(self):
        return self.searcher.leafreaders if self.searcher.leafreaders else [(self.searcher.reader(), 0)]

    def lengths(self, field: str) -> tuple[np.ndarray, float]:
        """Each document's length in `field`, and the average over the documents that have it."""
        if field not in self._lengths:
            # Whoosh's codec gives None, not the default, for an article without the field
            # (a .txt article has no summary) when others in its segment have it: as a
            # float that was NaN, and so was the average and every score of the field.
            lengths = np.fromiter((self.searcher.doc_field_length(d, field, 0) or 0 for d in range(self.size)),
                                  dtype=np.float32, count=self.size)
            # As in Lucene's BM25: articles without the field do not make its average shorter.
            having = lengths[self.live & (lengths > 0)]
            average = float(having.mean()) if len(having) else 1.0
            self._lengths[field] = (lengths, max(average, 1.0))
        return self._lengths[field]

    def postings(self, field: str, term: str) -> tuple[np.ndarray, np.ndarray]:
        """(document numbers, term frequencies) of `term` in `field`, decoded once."""
        key = (field, term)
        if key in self._postings:
            self._postings.move_to_end(key)
            return self._postings[key]
        ids: list[int] = []
        freqs: list[float] = []
        for reader, offset in self._leaves():
            try:
                matcher = reader.postings(field, term)
            except TermNotFound:
                continue
            for docnums, weights in _blocks(matcher):
                ids.extend(d + offset for d in docnums)
                freqs.extend(weights)
        value = (np.array(ids, dtype=np.int32), np.array(freqs, dtype=np.float32))
        self._postings[key] = value
        self._cached += len(ids)
        while self._cached > CACHE_POSTINGS and len(self._postings) > 1:
            _, (old, _) = self._postings.popitem(last=False)
            self._cached -= len(old)
        return value

    def bm25(self, field: str, term: str) -> tuple[np.ndarray, np.ndarray]:
        ids, freqs = self.postings(field, term)
        if not len(ids):
            return ids, freqs
        lengths, average = self.lengths(field)
        idf = math.log(1 + (self.size - len(ids) + 0.5) / (len(ids) + 0.5))
        norm = K1 * (1 - B + B * lengths[ids] / average)
        return ids, idf * freqs * (K1 + 1) / (freqs + norm)

    def positions(self, field: str, term: str, docs: np.ndarray) -> dict[int, list[int]]:
        """Positions of `term` in `field` for each of the (sorted) `docs` that has it."""
        found: dict[int, list[int]] = {}
        for reader, offset in self._leaves():
            local = docs[(docs >= offset) & (docs < offset + reader.doc_count_all())] - offset
            if not len(local):
                continue
            try:
                matcher = reader.postings(field, term)
            except TermNotFound:
                continue
            for docnum in local.tolist():
                if not matcher.is_active():
                    break
                matcher.skip_to(docnum)
                if matcher.is_active() and matcher.id() == docnum:
                    found[docnum + offset] = matcher.value_as("positions")
        return found


def _blocks(matcher):
    """Whole posting blocks at a time: per posting, Whoosh's matcher API costs ~1 µs."""
    if not hasattr(matcher, "_read_ids"):  # not Whoosh's W3 codec: go posting by posting
        while matcher.is_active():
            yield [matcher.id()], [matcher.weight()]
            matcher.next()
        return
    while matcher.is_active():
        matcher._read_ids()
        matcher._read_weights()
        yield matcher._ids, matcher._weights
        if matcher._lastblock:
            break
        matcher._next_block()


@dataclass
class Ranking:
    docs: np.ndarray  # matching document numbers, best first
    scores: np.ndarray
    mask: np.ndarray  # all matching documents, for totals and facets


def _term_mask(snapshot: Snapshot, field: str, terms: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Documents having every term in `field`, and their summed BM25."""
    mask = np.ones(snapshot.size, dtype=bool)
    score = np.zeros(snapshot.size, dtype=np.float32)
    for term in terms:
        ids, scores = snapshot.bm25(field, term)
        has = np.zeros(snapshot.size, dtype=bool)
        has[ids] = True
        mask &= has
        score[ids] += scores
    return mask, score


def _phrase_docs(snapshot: Snapshot, field: str, terms: list[str], docs: np.ndarray, slop: int = 1) -> np.ndarray:
    """Which of `docs` hold `terms` in order, each within `slop` positions of the one before.

    Term by term, keeping for each document only the positions a chain has reached, so
    documents drop out early and later terms' positions are read for fewer of them.
    """
    if len(terms) < 2 or not len(docs):
        return docs
    reached = snapshot.positions(field, terms[0], docs)
    for term in terms[1:]:
        if not reached:
            break
        following = snapshot.positions(field, term, np.array(sorted(reached), dtype=np.int64))
        advanced = {}
        for doc, ends in reached.items():
            present = set(following.get(doc, ()))
            steps = {end + gap for end in ends for gap in range(1, slop + 1)} & present
            if steps:
                advanced[doc] = steps
        reached = advanced
    return np.array(sorted(reached), dtype=np.int64)


def _fields(text: Text) -> dict[str, float]:
    return {"title": FIELD_WEIGHTS["title"]} if text.title_only else FIELD_WEIGHTS


def text_scores(snapshot: Snapshot, text: Text) -> tuple[np.ndarray, np.ndarray]:
    """Documents matching `text` (accent-insensitive) and their scores (accent-aware)."""
    folded = text.folded
    mask = np.zeros(snapshot.size, dtype=bool)
    score = np.zeros(snapshot.size, dtype=np.float32)
    for name, weight in _fields(text).items():
        field_mask, field_score = _term_mask(snapshot, view_field(name, "fold"), folded)
        if text.phrase and len(folded) > 1:
            # Every adjacent pair present is the phrase itself for two syllables, and
            # nearly always for more; positions settle the rest where that is affordable.
            pairs_mask, _ = _term_mask(snapshot, view_field(name, "pairs"), text.pairs)
            field_mask &= pairs_mask
            candidates = np.flatnonzero(field_mask)
            if len(folded) > 2 and len(candidates) <= VERIFY_PHRASES:
                field_mask = np.zeros(snapshot.size, dtype=bool)
                field_mask[_phrase_docs(snapshot, view_field(name, "fold"), folded, candidates)] = True
        mask |= field_mask
        score += weight * np.where(field_mask, field_score, 0)
        for syllable in text.syllables:
            if has_diacritics(syllable):
                ids, exact = snapshot.bm25(view_field(name, "acc"), syllable)
                np.add.at(score, ids, weight * ACCENT_WEIGHT * exact)
    return mask, np.where(mask, score, 0)


def _runs(query: Query) -> list[list[str]]:
    """The words typed one after another (as typed, before abbreviation expansion):
    where order and closeness count."""
    runs: list[list[str]] = [[]]
    for group in query.groups:
        if group[0].title_only:
            runs.append([])
        else:
            runs[-1].extend(group[0].syllables)
    return [run for run in runs if len(run) > 1]


def _present(snapshot: Snapshot, view: str, term: str) -> np.ndarray:
    """Documents having `term` in any text field's `view`."""
    mask = np.zeros(snapshot.size, dtype=bool)
    for name in FIELD_WEIGHTS:
        mask[snapshot.postings(view_field(name, view), term)[0]] = True
    return mask


def pair_coverage(snapshot: Snapshot, runs: list[list[str]]) -> np.ndarray:
    """Per document, the share of the typed adjacent word pairs it holds side by side."""
    pairs = [p for run in runs for p in pair_terms([fold_syllable(s) for s in run])]
    coverage = np.zeros(snapshot.size, dtype=np.float32)
    for pair in pairs:
        coverage += _present(snapshot, "pairs", pair)
    return coverage / max(len(pairs), 1)


def accent_coverage(snapshot: Snapshot, query: Query) -> np.ndarray:
    """Per document, the share of the syllables typed with diacritics that it has exactly."""
    accented = {s for group in query.groups for s in group[0].syllables if has_diacritics(s)}
    coverage = np.zeros(snapshot.size, dtype=np.float32)
    for syllable in accented:
        coverage += _present(snapshot, "acc", syllable)
    return coverage / max(len(accented), 1)


def _compound_scores(snapshot: Snapshot, run: list[str], score: np.ndarray) -> None:
    """Reward typed words found as one pyvi compound ("chính phủ")."""
    # Compounds are stored with diacritics: only worth trying when the words were typed with them.
    if 2 * sum(map(has_diacritics, run)) < len(run):
        return
    for name, weight in FIELD_WEIGHTS.items():
        for size in (2, 3, 4):
            for k in range(len(run) - size + 1):
                ids, scores = snapshot.bm25(view_field(name, "words"), " ".join(run[k:k + size]))
                np.add.at(score, ids, weight * COMPOUND_WEIGHT * scores)


def _run_in_order(snapshot: Snapshot, run: list[str], docs: np.ndarray) -> np.ndarray:
    """Which of `docs` hold the whole run in order, a word or so apart at most, in the
    title or the body."""
    folded = [fold_syllable(s) for s in run]
    remaining = np.sort(docs)
    found: set[int] = set()
    for name in ("title", "body"):  # titles first: short, and whatever they settle is not read again
        found.update(_phrase_docs(snapshot, view_field(name, "fold"), folded, remaining, slop=RUN_SLOP).tolist())
        remaining = np.array([doc for doc in remaining.tolist() if doc not in found], dtype=np.int64)
    return np.array([doc in found for doc in docs.tolist()], dtype=bool)


def rank(snapshot: Snapshot, query: Query, filter_mask: np.ndarray | None = None,
         require_all: bool = True, by_date: bool = False) -> Ranking:
    """Every matching live document, best first (or newest first with `by_date`).

    The order is decided by, in turn: the share of syllables typed with diacritics that
    a document has exactly (so "đảng" puts every Đảng above any "đang"); how close
    together it holds the typed words (the share of adjacent pairs side by side, raised
    halfway to full when the whole run appears in order a word or so apart, as "chỉ thị
    số 35" for "chỉ thị 35"); then BM25 with a bonus for pyvi compounds.
    """
    allowed = snapshot.live if filter_mask is None else snapshot.live & filter_mask
    score = np.zeros(snapshot.size, dtype=np.float32)
    exact = np.zeros(snapshot.size, dtype=np.float32)
    together = np.zeros(snapshot.size, dtype=np.float32)
    if query.is_empty:
        mask = allowed.copy()
    else:
        masks = []
        for group in query.groups:
            group_mask = np.zeros(snapshot.size, dtype=bool)
            group_score = np.zeros(snapshot.size, dtype=np.float32)
            for text in group:
                text_mask, text_score = text_scores(snapshot, text)
                group_mask |= text_mask
                group_score = np.maximum(group_score, text_score)
            masks.append(group_mask)
            score += group_score
        if require_all:
            mask = np.logical_and.reduce(masks)
        else:
            matched = np.sum(masks, axis=0)
            mask = matched > 0
            score *= matched / len(masks)  # documents with more of the words first
        for text in query.excluded:
            mask &= ~text_scores(snapshot, text)[0]
        mask &= allowed
        runs = _runs(query)
        together = pair_coverage(snapshot, runs)
        for run in runs:
            _compound_scores(snapshot, run, score)
        exact = accent_coverage(snapshot, query)
    docs = np.flatnonzero(mask)
    if by_date:
        order = np.lexsort((docs, -snapshot.published[docs]))
        return Ranking(docs[order], score[docs][order], mask)
    order = np.lexsort((docs, -score[docs], -together[docs], -exact[docs]))
    docs = docs[order]
    runs = [run for run in _runs(query) if len(run) > 2]
    if runs and len(docs):
        # The whole run a word or so apart ("chỉ thị số 35" for "chỉ thị 35") needs
        # positions: only for the best candidates, and only where the pairs alone do not
        # already show the words side by side.
        top = docs[:RERANK]
        gapped = top[together[top] < 1]
        if len(gapped):
            in_order = np.logical_or.reduce([_run_in_order(snapshot, run, gapped) for run in runs])
            # Halfway between where the pairs put it and having every pair side by side.
            together[gapped[in_order]] = (1 + together[gapped[in_order]]) / 2
            order = np.lexsort((top, -score[top], -together[top], -exact[top]))
            docs = np.concatenate([top[order], docs[RERANK:]])
    return Ranking(docs, score[docs], mask)


# Words of an article that stand for it when looking for similar ones.
SIMILAR_TERMS = 20


def similar(snapshot: Snapshot, words: Counter, docnum: int | None, limit: int) -> list[tuple[int, float]]:
    """(document, score) of the live documents most like one whose pyvi words are `words`.

    Its most informative words (frequency in it times rarity in the index) are looked
    up as one OR query over the bodies' words view, BM25-scored; `docnum` itself is left out.
    """
    field = view_field("body", "words")
    weighted = []
    for word, count in words.items():
        frequency = snapshot.searcher.doc_frequency(field, word)
        if frequency:
            weighted.append((count * math.log(snapshot.size / frequency), word))
    score = np.zeros(snapshot.size, dtype=np.float32)
    for _, word in heapq.nlargest(SIMILAR_TERMS, weighted):
        ids, scores = snapshot.bm25(field, word)
        score[ids] += scores
    score[~snapshot.live] = 0
    if docnum is not None:
        score[docnum] = 0
    best = np.argsort(-score, kind="stable")[:limit]
    return [(int(doc), float(score[doc])) for doc in best if score[doc] > 0]
