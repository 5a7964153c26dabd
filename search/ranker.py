"""The index's postings as NumPy arrays: what matching and ranking (`search.scoring`) read.

Whoosh stores the postings; we evaluate queries ourselves. Whoosh's own query
evaluation scores one document at a time in Python: on the 22,643-article corpus a
three-word query with proximity took about 300 ms and a common word about 1 s.
Here each term's postings are decoded once (and cached) into arrays, and a query is
a handful of array operations over all documents (a few milliseconds); positions are
read only where they matter (phrases, and the top candidates for proximity).
"""
from __future__ import annotations

import heapq
import math
from collections import Counter, OrderedDict
from functools import cached_property
from pathlib import Path
from typing import NamedTuple

import numpy as np

from vnsearch.indexer import postings_file
from vnsearch.indexer.fields import view_field
from vnsearch.indexer.lexicon import SyllableStats
from vnsearch.search.accents import AccentModel
from vnsearch.search.segments import SEGMENTS, SegmentCache
from vnsearch.search.words import WordStats

K1, B = 1.2, 0.75
# A snapshot's most recent terms' postings across all segments and their BM25, counted in
# postings (16 bytes each: at most 64 MB): a query looks each term up several times (its
# match in each field, its coverage, its pairs), and a mix of distinct queries repeats
# common syllables, whose long postings are the dearest to score (a word in half the
# articles is 64,000 of them at 128,061 articles).
RECENT_POSTINGS = 4_000_000
# A term in at least this share of the documents is also kept as one dense array of its
# BM25 over every document (0 where absent): adding 120,000 scattered postings into a
# score cost 0.9 ms and marking them in a mask 0.5 ms, adding a dense array 0.04 ms. The
# common syllables of a long query ("của", "và", "người") are such terms.
DENSE_SHARE = 1 / 16
# How many dense arrays a snapshot keeps (4 bytes a document: 128 MB at 128,061 articles).
# 600 queries of the 128k mix, alternating runs: 128 arrays 17-20 ms a query (mean), 256
# to 640 alike at 13-17 ms; a mix of distinct queries keeps coming back to a few hundred
# common syllables and pairs.
DENSE_TERMS = 256


class Language(NamedTuple):
    """An index's syllable statistics and the models made of them (None without them)."""
    stats: SyllableStats | None
    accents: AccentModel | None
    words: WordStats | None

    @staticmethod
    def load(folder: Path | None) -> "Language":
        stats = SyllableStats.load(folder) if folder else None
        return Language(stats, AccentModel(stats) if stats else None, WordStats(stats) if stats else None)


class Snapshot:
    """One searcher's documents as arrays, plus a cache of decoded postings.

    Built once per index generation; a rebuild or update gets a new snapshot.
    """

    def __init__(self, searcher, folder: Path | None = None):
        self.searcher = searcher
        # Each segment's reader and its first document number, listed once: the
        # searcher's segments never change.
        self._leaf_readers = searcher.reader().leaf_readers()
        self.folder = folder
        self.size = searcher.doc_count_all()
        self.segments = SEGMENTS
        self._segment_keys = [SegmentCache.key(reader, folder) for reader, _ in self._leaf_readers]
        self.live = np.ones(self.size, dtype=bool)
        columns = [self.segments.columns(reader, key) for (reader, _), key in zip(self._leaves(), self._segment_keys)]
        for reader, offset in self._leaves():
            if reader.has_deletions():
                deleted = [d for d in reader.segment().deleted_docs() if d < reader.doc_count_all()]
                self.live[np.array(deleted, dtype=np.int64) + offset] = False
        self.year = np.concatenate([c[0] for c in columns] or [np.zeros(0)]).astype(np.int32)
        self.published = np.concatenate([c[1] for c in columns] or [np.zeros(0)]).astype(np.int64)
        # Each segment's source codes, renumbered into the names of all segments.
        self.source_names = np.unique(np.concatenate([c[2] for c in columns] or [np.array([""], dtype=object)]))
        self.source = np.concatenate([np.searchsorted(self.source_names, names)[codes] for _, _, names, codes in columns]
                                     or [np.zeros(0)]).astype(np.int32)
        self._map_index_file()
        self._lengths: dict[str, tuple[np.ndarray, float]] = {}
        self._norms: dict[str, np.ndarray] = {}
        # (field, term): [document numbers, frequencies, BM25 or None until asked for]
        self._recent: OrderedDict[tuple[str, str], list] = OrderedDict()
        self._recent_count = 0
        self._dense: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        # True while the syllable statistics are an older generation's (`borrow_language`).
        self.borrowed = False
        # The segments of generations before this one are not read again: let them go.
        self.segments.forget(set(self._segment_keys))

    @cached_property
    def language(self) -> Language:
        """The syllable statistics of this index's text and the models made of them."""
        return Language.load(self.folder)

    @property
    def stats(self) -> SyllableStats | None:
        """The syllable statistics of this index's text, if the index has them."""
        return self.language.stats

    @property
    def accents(self) -> AccentModel | None:
        """The diacritics model of this index's text."""
        return self.language.accents

    @property
    def words(self) -> WordStats | None:
        """Which syllables form words, by this index's text."""
        return self.language.words

    def borrow_language(self, older: "Snapshot") -> bool:
        """Take `older`'s language, if it has it loaded and reads the same build (an
        update's new generation): whether it did.

        Loading it takes about half a second at 128,061 articles (110,000 syllables
        folded and hashed), which the first search after every update paid: most of the
        time until the update showed. An update changes a few articles' counts, so the
        older one serves until `set_language` gives this generation's."""
        if older.folder != self.folder or "language" not in older.__dict__:
            return False
        self.language, self.borrowed = older.language, True
        return True

    def set_language(self, language: Language) -> None:
        self.language, self.borrowed = language, False

    def _leaves(self):
        return self._leaf_readers

    def _map_index_file(self) -> None:
        """Read the first segments' postings from the index-wide postings file where it
        covers them (opened after the searcher, it may be a later generation's: it covers
        what the two share)."""
        self._mapped = postings_file.open_index_file(self.folder) if self.folder else None
        ids = [reader.segment().segment_id() if hasattr(reader, "segment") else None
               for reader, _ in self._leaves()]
        self._covered = postings_file.covered(ids, self._mapped)
        self._covered_end = sum(reader.doc_count_all() for reader, _ in self._leaves()[:self._covered])
        live = self.live[:self._covered_end]
        self._covered_live = None if live.all() else live

    def reopen(self, searcher) -> bool:
        """Read through `searcher` from now on, keeping every array and cache, if it sees
        the same generation of the index; else leave this snapshot as it was (False).

        For a forked server worker: the files a snapshot opened before `fork` share their
        offsets with every other process, and Whoosh reads by seeking."""
        if searcher.reader().generation() != self.searcher.reader().generation():
            return False
        self.searcher.close()  # this process's copies of the descriptors only
        self.searcher = searcher
        self._leaf_readers = searcher.reader().leaf_readers()
        return True

    def lengths(self, field: str) -> tuple[np.ndarray, float]:
        """Each document's length in `field`, and the average over the documents that have it."""
        if field not in self._lengths:
            parts = [self.segments.lengths(reader, key, field)
                     for (reader, _), key in zip(self._leaves(), self._segment_keys)]
            lengths = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
            # The segments' cached lengths become views of this array: one copy of them, not
            # two (6 MB at 128,061 articles). A later snapshot (after an update) makes its own
            # array, and its views replace these.
            for (reader, offset), key in zip(self._leaves(), self._segment_keys):
                self.segments.share_lengths(key, field, lengths[offset:offset + reader.doc_count_all()])
            # As in Lucene's BM25: articles without the field do not make its average shorter.
            having = lengths[self.live & (lengths > 0)]
            average = float(having.mean()) if len(having) else 1.0
            self._lengths[field] = (lengths, max(average, 1.0))
        return self._lengths[field]

    def postings(self, field: str, term: str) -> tuple[np.ndarray, np.ndarray]:
        """(document numbers, term frequencies) of `term` in `field`, decoded once per segment
        and kept a while (RECENT_POSTINGS): not to be changed in place."""
        ids, freqs, _ = self._entry(field, term)
        return ids, freqs

    def _entry(self, field: str, term: str) -> list:
        key = (field, term)
        found = self._recent.get(key)
        if found is not None:
            self._recent.move_to_end(key)
            return found
        ids, freqs = self._gathered(field, term)
        # As NumPy's own index type: indexing with int32 converts the ids on every use,
        # which made scoring a long posting list nearly twice as dear.
        found = self._recent[key] = [ids.astype(np.intp), freqs, None]
        self._recent_count += len(found[0])
        while self._recent_count > RECENT_POSTINGS and len(self._recent) > 1:
            self._recent_count -= len(self._recent.popitem(last=False)[1][0])
        return found

    def _gathered(self, field: str, term: str) -> tuple[np.ndarray, np.ndarray]:
        parts, first = [], 0
        found = self._mapped.postings(field, term) if self._covered else None
        if found is not None:
            docs, freqs = found
            if len(docs) and docs[-1] >= self._covered_end:  # segments this generation does not have
                cut = int(np.searchsorted(docs, self._covered_end))
                docs, freqs = docs[:cut], freqs[:cut]
            if self._covered_live is not None:
                keep = self._covered_live[docs]
                docs, freqs = docs[keep], freqs[keep]
            parts.append((docs, freqs))
            first = self._covered
        for (reader, offset), key in zip(self._leaves()[first:], self._segment_keys[first:]):
            docnums, weights = self.segments.postings(reader, key, field, term)
            if len(docnums):
                parts.append((docnums + offset if offset else docnums, weights))
        if len(parts) == 1:
            return parts[0]
        if not parts:
            return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32)
        return np.concatenate([ids for ids, _ in parts]), np.concatenate([freqs for _, freqs in parts])

    def idf(self, field: str, term: str) -> float:
        """BM25's inverse document frequency of `term` in `field`, over the live documents
        (as `bm25` counts it; Whoosh's doc_frequency counts deleted ones too, and looking it
        up in every segment's term table cost more than the postings)."""
        frequency = len(self.postings(field, term)[0])
        return math.log(1 + (self.size - frequency + 0.5) / (frequency + 0.5))

    def bm25(self, field: str, term: str) -> tuple[np.ndarray, np.ndarray]:
        """(document numbers, BM25 of `term` in `field`), computed once and kept with the
        postings: not to be changed in place."""
        entry = self._entry(field, term)
        ids, freqs, scores = entry
        if scores is None:
            idf = math.log(1 + (self.size - len(ids) + 0.5) / (len(ids) + 0.5))  # as idf(), without a look-up
            # idf (K1 + 1) freqs / (freqs + norm), with two arrays made where the plain
            # expression made four: a quarter of its cost, on every new term of a query.
            lengths = np.take(self._norm(field), ids)
            np.add(freqs, lengths, out=lengths)
            scores = idf * (K1 + 1) * freqs
            entry[2] = np.divide(scores, lengths, out=scores)
        return ids, scores

    def dense(self, field: str, term: str) -> np.ndarray | None:
        """BM25 of a common `term` in `field` for every document, 0 where it is absent (kept
        a while: not to be changed in place); None for a term in fewer than DENSE_SHARE of
        the documents, whose `bm25` postings are cheaper."""
        key = (field, term)
        found = self._dense.get(key)
        if found is not None:
            self._dense.move_to_end(key)
            return found
        ids, scores = self.bm25(field, term)
        if len(ids) < DENSE_SHARE * self.size:
            return None
        if len(self._dense) < DENSE_TERMS:
            found = np.zeros(self.size, dtype=np.float32)
        else:
            # The least recently used array, emptied: half the cost of a new one (its pages
            # are not faulted in again). Callers use an array at once, never keeping it
            # across calls.
            found = self._dense.popitem(last=False)[1]
            found.fill(0)
        found[ids] = scores  # BM25 is above 0 wherever the term is
        self._dense[key] = found
        return found

    def _norm(self, field: str) -> np.ndarray:
        """BM25's length normalisation of each document in `field`: K1 (1 - B + B len / avg)."""
        if field not in self._norms:
            lengths, average = self.lengths(field)
            self._norms[field] = (K1 * (1 - B + B * lengths / average)).astype(np.float32)
        return self._norms[field]

    def positions(self, field: str, term: str, docs: np.ndarray) -> dict[int, list[int]]:
        """Positions of `term` in `field` for each of the (sorted) `docs` that has it."""
        found: dict[int, list[int]] = {}
        docs = docs[self.live[docs]]  # the block tables hold deleted documents too
        for (reader, offset), key in zip(self._leaves(), self._segment_keys):
            local = docs[(docs >= offset) & (docs < offset + reader.doc_count_all())] - offset
            if len(local):
                for docnum, places in self.segments.positions(reader, key, field, term, local.tolist()).items():
                    found[docnum + offset] = places
        return found


def phrase_docs(snapshot: Snapshot, field: str, terms: list[str], docs: np.ndarray, slop: int = 1) -> np.ndarray:
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
