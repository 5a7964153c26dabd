"""What is decoded from each segment of the index, kept for every snapshot of this process.

A segment's files never change once written, so its decoded postings, field lengths,
columns and the block tables of its positions hold for as long as it is part of the
index: successive snapshots (`search.ranker.Snapshot`, one per generation) share them.
"""
from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
from whoosh.reading import TermNotFound

from vnsearch.indexer import postings_file
from vnsearch.indexer.whoosh_format.reading import (Blocks, block_positions, datetime_column, numeric_column,
                                                    posting_arrays, posting_positions, term_blocks)

# Decoded postings kept in memory, counted in postings (8 bytes each: about 130 MB).
# Decoding is the dearest step of a query (Whoosh unpickles every block), and a mix of
# a few hundred queries over the 22,643-article corpus touches about 10 million.
CACHE_POSTINGS = 16_000_000
# Where the blocks of recently read positions are (`reading.Blocks`), counted in blocks
# (about 25 bytes each: at most 25 MB).
CACHE_BLOCKS = 1_000_000

class SegmentCache:
    """Decoded postings and field lengths per segment, for every snapshot of this process.

    A segment's files never change once written, so what is decoded from it holds for as
    long as it is part of the index: an update adds a segment (and Whoosh's merge policy
    may fold small ones together), and the next snapshot decodes only what is new instead
    of starting again with an empty cache, which made each update's first searches
    slow. Keyed by the segment's id and its count of deleted documents (the reader
    leaves deleted documents out of the postings, and deletions only ever grow).
    Postings are kept least recently used first, at most CACHE_POSTINGS of them.

    A segment the build wrote a postings file for (`indexer.postings_file`) is read from
    that file instead: two reads, nothing decoded and nothing cached here.
    """

    def __init__(self, limit: int = CACHE_POSTINGS):
        self.limit = limit
        self._postings: OrderedDict[tuple, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._cached = 0
        self._lengths: dict[tuple, np.ndarray] = {}
        # Per segment (folder and id): its year, published and source columns.
        self._columns: dict[tuple, tuple[np.ndarray, ...]] = {}
        # Per segment key: its postings file (None: it has none) and its live documents
        # (None: none deleted).
        self._files: dict[tuple, tuple[postings_file.PostingsFile | None, np.ndarray | None]] = {}
        # (segment key, field, term): where its posting list's blocks are, for positions.
        self._blocks: OrderedDict[tuple, Blocks | None] = OrderedDict()
        self._blocks_count = 0

    @staticmethod
    def key(reader, folder: Path | None) -> tuple:
        """What identifies a segment's postings: the index folder it is in, its id, and
        which of its documents are deleted. A copy of an index has the same segment ids,
        yet its files may differ since (deletions, damage): the folder keeps them apart."""
        if not hasattr(reader, "segment") or folder is None:  # nothing to share with later snapshots
            return "reader", id(reader)
        segment = reader.segment()
        deleted = segment.deleted_docs() if segment.has_deletions() else ()
        return str(folder), segment.segment_id(), segment.deleted_count(), hash(frozenset(deleted))

    def postings(self, reader, segment: tuple, field: str, term: str) -> tuple[np.ndarray, np.ndarray]:
        """(document numbers within the segment as int32, term frequencies as float32);
        `segment` is the reader's `key`."""
        mapped, live = self._file(reader, segment)
        if mapped is not None:
            found = mapped.postings(field, term)
            if found is not None:
                docnums, weights = found
                if live is not None:
                    keep = live[docnums]
                    docnums, weights = docnums[keep], weights[keep]
                return docnums, weights
        key = (segment, field, term)
        if key in self._postings:
            self._postings.move_to_end(key)
            return self._postings[key]
        try:
            docnums, weights = posting_arrays(reader.postings(field, term))
        except TermNotFound:
            docnums, weights = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        value = (docnums.astype(np.int32), weights)
        self._postings[key] = value
        self._cached += len(docnums)
        while self._cached > self.limit and len(self._postings) > 1:
            _, (old, _) = self._postings.popitem(last=False)
            self._cached -= len(old)
        return value

    def positions(self, reader, segment: tuple, field: str, term: str, docs: list[int]) -> dict[int, list[int]]:
        """Positions of `term` in `field` for each of the (sorted) `docs`, within the segment,
        that has it; `segment` is the reader's `key`."""
        key = (segment, field, term)
        if key in self._blocks:
            self._blocks.move_to_end(key)
            blocks = self._blocks[key]
        else:
            blocks = self._blocks[key] = term_blocks(reader, field, term)
            self._blocks_count += len(blocks or ())
            while self._blocks_count > CACHE_BLOCKS and len(self._blocks) > 1:
                self._blocks_count -= len(self._blocks.popitem(last=False)[1] or ())
        if blocks is not None:
            return block_positions(reader, field, blocks, docs)
        try:
            return posting_positions(reader.postings(field, term), docs)
        except TermNotFound:
            return {}

    def _file(self, reader, segment: tuple) -> tuple[postings_file.PostingsFile | None, np.ndarray | None]:
        if segment not in self._files:
            mapped = live = None
            if segment[0] != "reader":  # an index folder's segment
                mapped = postings_file.open_for(Path(segment[0]), reader.segment().segment_id())
            if mapped is not None and reader.has_deletions():
                count = reader.doc_count_all()
                live = np.ones(count, dtype=bool)
                live[[d for d in reader.segment().deleted_docs() if d < count]] = False
            self._files[segment] = (mapped, live)
        return self._files[segment]

    def lengths(self, reader, segment: tuple, field: str) -> np.ndarray:
        """Each of the segment's documents' length in `field` (0 for documents without it)."""
        key = (segment, field)
        if key not in self._lengths:
            # Whoosh's codec gives None, not the default, for an article without the field
            # (a .txt article has no summary) when others in its segment have it: as a
            # float that was NaN, and so was the average and every score of the field.
            count = reader.doc_count_all()
            self._lengths[key] = np.fromiter((reader.doc_field_length(d, field, 0) or 0 for d in range(count)),
                                             dtype=np.float32, count=count)
        return self._lengths[key]

    def columns(self, reader, segment: tuple) -> tuple[np.ndarray, ...]:
        """The segment's year (0: none) and published (-1: none) per document, its sources'
        names ("": none) and each document's source as an index into them. Read once per
        segment, not per snapshot: at 128k articles reading them took a second, paid by
        the first search after every update."""
        key = segment[:2]
        if key not in self._columns:
            count = reader.doc_count_all()
            year = (numeric_column(reader, "year", count, missing=0) if reader.has_column("year")
                    else np.zeros(count, dtype=np.int64))
            published = (datetime_column(reader, "published", count, missing=-1) if reader.has_column("published")
                         else np.full(count, -1, dtype=np.int64))
            sources = list(reader.column_reader("source")) if reader.has_column("source") else [""] * count
            names, codes = np.unique(np.array(sources or [""], dtype=object), return_inverse=True)
            self._columns[key] = (year, published, names, codes[:count])
        return self._columns[key]

    def share_lengths(self, segment: tuple, field: str, lengths: np.ndarray) -> None:
        """Keep `lengths`, equal to those cached (a view of a snapshot's array of all its
        segments' lengths), instead of the segment's own copy."""
        self._lengths[(segment, field)] = lengths

    def forget(self, keep: set[tuple]) -> None:
        """Drop what belongs to segments no longer in `keep` (merged away, or a rebuild's)."""
        for key in [k for k in self._postings if k[0] not in keep]:
            self._cached -= len(self._postings.pop(key)[0])
        for key in [k for k in self._lengths if k[0] not in keep]:
            del self._lengths[key]
        for key in [k for k in self._files if k not in keep]:
            del self._files[key]
        for key in [k for k in self._blocks if k[0] not in keep]:
            self._blocks_count -= len(self._blocks.pop(key) or ())
        kept = {k[:2] for k in keep}
        for key in [k for k in self._columns if k not in kept]:
            del self._columns[key]


# One per process: snapshots of successive generations share it.
SEGMENTS = SegmentCache()
