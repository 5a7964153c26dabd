"""A Whoosh segment writer that writes the analysed views' postings in bulk.

Whoosh's SegmentWriter sends every posting through a pure-Python pool: one tuple per
(term, document), an external sort of all of them, then one method call per posting to
encode it. On the full corpus that was three quarters of the build's time. Here the
views' postings (lists of terms from `indexer.analysis`, the bulk of the index) are
collected as flat arrays per field, documents arrive in docnum order so no sort by
document is needed, and at the end one NumPy sort orders them by term and the posting
blocks are encoded a block at a time.

The files are Whoosh's own W3 codec: with `WHOOSH_BLOCKS`, byte for byte what Whoosh's
writer produces for the same documents (a test compares them); the default
`FAST_BLOCKS` only encodes posting blocks differently, in ways Whoosh's reader takes
(a test reads every posting back). Whoosh reads, updates and merges the segment as any
other. The other fields (id, dates, source) still take Whoosh's path.

Part of the `vnsearch.indexer.whoosh_format` adapter: it subclasses Whoosh 2.7's
SegmentWriter and uses its internals (see the package's docstring).
"""
from __future__ import annotations

import pickle
import struct
import zlib
from array import array
from collections import Counter, defaultdict
from itertools import count, groupby, repeat
from operator import itemgetter
from pathlib import Path
from typing import NamedTuple

import numpy as np
from whoosh.codec.whoosh3 import WHOOSH3_HEADER_MAGIC, W3TermInfo
from whoosh.system import pack_int, pack_ushort
from whoosh.util.numeric import byte_to_length
from whoosh.writing import SegmentWriter

from vnsearch.indexer import postings_file
from vnsearch.indexer.whoosh_format.term_table import BulkOrderedHashWriter

_pack_uint = struct.Struct("!I").pack


class BlockEncoding(NamedTuple):
    """How posting blocks are encoded; Whoosh's reader takes any of these, block by block."""
    # Blocks with fewer postings are not compressed.
    compress_from: int
    # Pickle protocol of a block's data. Whoosh writes 2, where bytes (the postings'
    # values) pickle as a call to `_codecs.encode`: a third of the writing time.
    protocol: int


# What Whoosh's own writer produces (the tests compare bytes with it).
WHOOSH_BLOCKS = BlockEncoding(compress_from=1, protocol=2)
# Ours: most terms' lists are short (pairs of syllables seen once or twice), where zlib
# saved little (3% of the index on 5,000 articles) and cost a fifth of writing them;
# and protocol 3 pickles bytes as bytes.
FAST_BLOCKS = BlockEncoding(compress_from=16, protocol=3)
# Document field lengths as Whoosh stores them: one byte each, on a log scale. Whoosh's
# `length_to_byte` is the place of a length among the 256 lengths the bytes stand for
# (`byte_to_length`), 255 beyond the last: the same search, for a whole column at once
# (a table of its answers for every length cost 30 ms of every command's start).
_BYTE_LENGTHS = np.array([byte_to_length(b) for b in range(256)], dtype=np.int64)


def _length_bytes(lengths: np.ndarray) -> np.ndarray:
    return np.minimum(np.searchsorted(_BYTE_LENGTHS, lengths), 255).astype(np.uint8)


class _SinglePositions(dict):
    """position -> pickled [position], for the many terms found once in a document."""

    def __missing__(self, position: int) -> bytes:
        self[position] = pickled = pickle.dumps([position], 2)
        return pickled


_SINGLE_POSITIONS = _SinglePositions()
_ONCE = _pack_uint(1)


def _encode_positions(positions: list[int]) -> bytes:
    """Whoosh's Positions format: the count, then the pickled gaps between positions."""
    if len(positions) == 1:
        # A new bytes object each time: pickle would write a shared one as a reference.
        return _ONCE + _SINGLE_POSITIONS[positions[0]]
    gaps = [positions[0]] + [b - a for a, b in zip(positions, positions[1:])]
    return _pack_uint(len(positions)) + pickle.dumps(gaps, 2)


class _FieldPostings:
    """One view field's postings, appended document by document."""

    def __init__(self, positional: bool):
        self.positional = positional
        # term -> id, numbering new terms as they come (all in C: this runs per posting)
        self.vocabulary: dict[str, int] = defaultdict(count().__next__)
        self.terms = array("I")    # term id of each posting
        self.docs = array("I")     # its document number
        self.freqs = array("I")    # occurrences in the document
        self.values: list[bytes] = []  # encoded positions (positional fields only)
        self.lengths: dict[int, int] = {}  # document -> number of tokens

    def add(self, docnum: int, tokens: list[str]) -> int:
        """Record one document's tokens; returns the field's length in that document."""
        if not tokens:
            return 0
        if self.positional:
            positions = defaultdict(list)
            for position, token in enumerate(tokens):
                positions[token].append(position)
            counts = {token: len(found) for token, found in positions.items()}
            self.values.extend(map(_encode_positions, positions.values()))
        else:
            counts = Counter(tokens)
        self.terms.extend(map(self.vocabulary.__getitem__, counts))
        self.docs.extend(repeat(docnum, len(counts)))
        self.freqs.extend(counts.values())
        self.lengths[docnum] = len(tokens)
        return len(tokens)

    def write(self, fieldwriter, fieldname: str, fieldobj, doccount: int,
              encoding: BlockEncoding) -> tuple | None:
        """Write the postings, ordered by term bytes, into the field writer's files; return
        them as `indexer.postings_file` takes them (terms, starts, docs, weights)."""
        if not self.terms:
            return None
        boost = fieldobj.format.field_boost
        codec = fieldwriter._codec
        # Whoosh's W3 codec settings: postings per block, zlib level; postings are
        # inlined into the term table only below `_inlinelimit` (1 by default: never).
        block_size, compression = codec._blocklimit, codec._compression
        assert codec._inlinelimit <= 1, "inlined postings are not supported"

        words = [w.encode("utf-8") for w in self.vocabulary]
        by_bytes = sorted(range(len(words)), key=words.__getitem__)
        rank = np.empty(len(words), dtype=np.int64)
        rank[by_bytes] = np.arange(len(words))
        ranks = rank[np.frombuffer(self.terms, dtype=np.uint32)]
        order = np.argsort(ranks, kind="stable")  # by term, documents still in order
        ranks = ranks[order]
        docs = np.frombuffer(self.docs, dtype=np.uint32)[order].astype(np.int64)
        freqs = np.frombuffer(self.freqs, dtype=np.uint32)[order].astype(np.int64)
        weights = freqs * boost
        lengths = np.zeros(doccount, dtype=np.int64)
        lengths[list(self.lengths)] = list(self.lengths.values())
        length_bytes = _length_bytes(lengths)[docs]

        # Each term's postings, cut into blocks of at most `block_size`.
        term_starts = np.flatnonzero(np.r_[True, ranks[1:] != ranks[:-1]])
        term_sizes = np.diff(np.r_[term_starts, len(docs)])
        in_term = np.arange(len(docs)) - np.repeat(term_starts, term_sizes)
        block_starts = np.flatnonzero(in_term % block_size == 0)
        block_ends = np.r_[block_starts[1:], len(docs)]
        first_block = in_term[block_starts] == 0
        last_block = np.r_[first_block[1:], True]
        gaps = np.diff(docs, prepend=0)  # Whoosh delta-encodes the ids within a block
        gaps[block_starts] = docs[block_starts]

        def per_block(reduce, values):
            return reduce.reduceat(values, block_starts).tolist()

        block_max, block_min = per_block(np.maximum, weights), per_block(np.minimum, weights)
        block_short, block_long = per_block(np.minimum, length_bytes), per_block(np.maximum, length_bytes)
        gaps, docs_list, weight_list = gaps.tolist(), docs.tolist(), weights.tolist()
        if self.positional:
            values = [self.values[i] for i in order.tolist()]
        else:
            frequency_bytes = freqs.astype(">u4").tobytes()

        # The postings file: each term's blocks, as W3PostingsWriter writes them.
        fieldwriter.start_field(fieldname, fieldobj)
        postfile = fieldwriter._postfile
        offset = postfile.tell()
        term_offsets, term_extents, chunks = [], [], []
        for block, (s, e) in enumerate(zip(block_starts.tolist(), block_ends.tolist())):
            if first_block[block]:
                term_offsets.append(offset)
                chunks.append(WHOOSH3_HEADER_MAGIC)
                offset += len(WHOOSH3_HEADER_MAGIC)
            if block_min[block] == block_max[block]:
                # Whoosh's shorthand for equal weights, None when all are 1.0.
                block_weights = None if block_max[block] == 1.0 else block_max[block]
            else:
                block_weights = tuple(weight_list[s:e])
            block_values = tuple(values[s:e]) if self.positional else frequency_bytes[4 * s:4 * e]
            data = pickle.dumps((tuple(gaps[s:e]), block_weights, block_values), encoding.protocol)
            level = compression if e - s >= encoding.compress_from else 0
            if level:
                data = zlib.compress(data, level)
            info = pickle.dumps((e - s, docs_list[e - 1], block_max[block], level,
                                 block_short[block], block_long[block]), 2)
            size = len(info) + len(data)
            chunks += (pack_int(-size if last_block[block] else size), info, data)
            offset += 4 + size
            if last_block[block]:
                term_extents.append(offset - term_offsets[-1])
        postfile.write(b"".join(chunks))

        # The term table: a W3TermInfo per term, packed for all terms at once.
        term_ends = np.r_[term_starts[1:], len(docs)] - 1
        infos = np.zeros(len(term_starts), dtype=_TERM_INFO)
        infos["weight"] = np.add.reduceat(weights, term_starts)
        infos["df"] = term_sizes
        infos["short"] = np.minimum.reduceat(length_bytes, term_starts)
        infos["long"] = np.maximum.reduceat(length_bytes, term_starts)
        infos["max_weight"] = np.maximum.reduceat(weights, term_starts)
        infos["first"], infos["last"] = docs[term_starts], docs[term_ends]
        infos["offset"], infos["extent"] = term_offsets, term_extents
        packed = infos.tobytes()
        size = _TERM_INFO.itemsize
        fieldid = pack_ushort(fieldwriter._fieldid)
        fieldwriter._tindex.add_sorted([fieldid + words[i] for i in by_bytes],
                                       [packed[i:i + size] for i in range(0, len(packed), size)])
        fieldwriter.finish_field()
        terms = list(self.vocabulary)
        return [terms[i] for i in by_bytes], np.r_[term_starts, len(docs)], docs, weights


# W3TermInfo.to_bytes() of a term whose postings are in the postings file.
_TERM_INFO = np.dtype([("inlined", "u1"), ("weight", ">f4"), ("df", ">u4"), ("short", "u1"),
                       ("long", "u1"), ("max_weight", ">f4"), ("first", ">u4"), ("last", ">u4"),
                       ("offset", ">i8"), ("extent", ">i4")])
assert _TERM_INFO.itemsize == W3TermInfo._struct.size + 12


class ViewSegmentWriter(SegmentWriter):
    """SegmentWriter whose fields given as lists of terms bypass Whoosh's posting pool.

    Only for fields whose values arrive as already analysed term lists with no boosts,
    which is how `indexer.build` indexes every view.
    """

    def __init__(self, ix, view_fields, *, encoding: BlockEncoding = FAST_BLOCKS, lock: bool = True,
                 **kwargs):
        # Without `lock`, the writer does not take the index's write lock: one of several
        # writers whose segments a single commit adds (`finalize_segment`), as in Whoosh's
        # MultiSegmentWriter.
        super().__init__(ix, _lk=lock, **kwargs)
        self._encoding = encoding
        # The term table takes the views' terms in bulk (same file format, same state).
        self.fieldwriter._tindex.__class__ = BulkOrderedHashWriter
        self._views = {name: _FieldPostings(positional=self.schema[name].format.supports("positions"))
                       for name in view_fields}

    def add_document(self, **fields):
        self._check_state()
        docnum = self.docnum
        perdoc = self.perdocwriter
        # Whoosh's add_document, less what the schema does not use (boosts, vectors,
        # spelling), with the views' postings going to their own collectors.
        perdoc.start_doc(docnum)
        for name in sorted(fields):
            value = fields[name]
            if value is None:
                continue
            field = self.schema[name]
            length = 0
            if name in self._views:
                length = self._views[name].add(docnum, value)
            elif field.indexed:
                for tbytes, freq, weight, vbytes in field.index(value):
                    if field.scorable:
                        length += freq
                    self.pool.add((name, tbytes, docnum, weight, vbytes))
            perdoc.add_field(name, field, value if field.stored else None, length)
            if field.column_type:
                perdoc.add_column_value(name, field.column_type, field.to_column_value(value))
        perdoc.finish_doc()
        self._added = True
        self.docnum += 1

    def _flush_segment(self):
        self.perdocwriter.close()
        lengths = self.per_document_reader()
        # Fields in name order, as Whoosh's writer leaves them (readers merge term lists).
        pooled = {name: list(postings) for name, postings in groupby(self.pool.iter_postings(), itemgetter(0))}
        arrays = {}
        for name in sorted(set(pooled) | set(self._views)):
            if name in pooled:
                self.fieldwriter.add_postings(self.schema, lengths, pooled[name])
            else:
                arrays[name] = self._views[name].write(self.fieldwriter, name, self.schema[name], self.docnum,
                                                       self._encoding)
        self.fieldwriter.close()
        lengths.close()
        # The same postings as plain arrays beside the segment, for searches to map.
        postings_file.write(Path(self.storage.folder) / self.newsegment.make_filename(postings_file.EXTENSION),
                            {name: found for name, found in arrays.items() if found is not None})


def finalize_segment(writer: SegmentWriter):
    """Write out `writer`'s segment, complete on disk but not yet in the index: a
    worker's part of a build, which the parent commits with `add_segments`."""
    return writer._finalize_segment()


def add_segments(segments: list):
    """A `mergetype` for a writer's commit: the index's segments as they are, plus
    `segments` from `finalize_segment` (no merge)."""
    return lambda _writer, existing: existing + list(segments)


def merge_small(writer: SegmentWriter, segments: list, everything: bool = False) -> list:
    """Whoosh's MERGE_SMALL on `segments` (or, with `everything`, its OPTIMIZE, which
    drops the segments whose every document is deleted): the segments left as they are;
    those merged are added to `writer`'s new segment."""
    from whoosh.writing import MERGE_SMALL, OPTIMIZE

    if everything:
        return OPTIMIZE(writer, [segment for segment in segments if segment.doc_count()])
    return MERGE_SMALL(writer, segments)
