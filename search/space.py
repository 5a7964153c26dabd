"""The documents a query's evidence is gathered over: every one, or the candidates.

Gathering the evidence is a few dozen array operations per word of the query, each over
every document (128,061 at archive scale) while a query of a few words matches a few
per cent of them. A short query needs every word (`scoring.MIN_SHOULD_MATCH` aside), and
a document can hold a word only where some field holds its rarest syllable: the
documents holding, for every word, that syllable in some field are the only ones that
can match. Over them, every array is their length, and each document's evidence is
computed by the same operations in the same order as over all documents, so its
float32 sums are the same to the last bit (tests/test_scoring_paths.py).
"""
from __future__ import annotations

import numpy as np

from vnsearch.search.ranker import Snapshot

_EMPTY_IDS, _EMPTY_SCORES = np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.float32)


class Space:
    """Every document of `snapshot` (docs None), or the sorted document numbers `docs`.

    Arrays over a space have one element per document of it, in document order."""

    def __init__(self, snapshot: Snapshot, docs: np.ndarray | None = None):
        self.snapshot = snapshot
        self.docs = docs
        self.size = snapshot.size if docs is None else len(docs)
        self._slots: np.ndarray | None = None

    @property
    def narrowed(self) -> bool:
        return self.docs is not None

    def zeros(self, dtype=np.float32) -> np.ndarray:
        return np.zeros(self.size, dtype=dtype)

    def of(self, array: np.ndarray) -> np.ndarray:
        """An array over every document, over this space (itself, when that is every document)."""
        return array if self.docs is None else array[self.docs]

    def numbers(self, places: np.ndarray) -> np.ndarray:
        """The document numbers at `places` in this space."""
        return places if self.docs is None else self.docs[places]

    def place(self, doc: int) -> int:
        """Where document `doc` (one of this space's) is in it."""
        return doc if self.docs is None else int(self._slot_of()[doc])

    def places(self, docs: np.ndarray) -> np.ndarray:
        """Where the documents `docs` (all of this space's) are in it."""
        return docs if self.docs is None else self._slot_of()[docs]

    def _slot_of(self) -> np.ndarray:
        if self._slots is None:
            self._slots = np.full(self.snapshot.size, -1, dtype=np.intp)
            self._slots[self.docs] = np.arange(len(self.docs))
        return self._slots

    def scatter(self, field: str, term: str) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
        """A term's BM25 in the field over this space: (its dense array, for a common term:
        `Snapshot.dense`) or, without one, (places, scores)."""
        snapshot = self.snapshot
        dense = snapshot.dense(field, term)
        if dense is not None:
            return self.of(dense), _EMPTY_IDS, _EMPTY_SCORES
        ids, scores = snapshot.bm25(field, term)
        if self.docs is None:
            return None, ids, scores
        slots = self._slot_of()[ids]
        inside = slots >= 0
        return None, slots[inside], scores[inside]
