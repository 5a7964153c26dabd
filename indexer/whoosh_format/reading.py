"""Reading Whoosh 2.7's postings and columns faster than its public API does.

Part of the `vnsearch.indexer.whoosh_format` adapter: the names used here are
Whoosh 2.7's internals (see the package's docstring).
"""
from __future__ import annotations

import bisect
import io
import itertools
import operator
import os
import pickle
import struct
import zlib
from typing import Iterator, NamedTuple, Sequence

import numpy as np
from whoosh.codec.whoosh3 import WHOOSH3_HEADER_MAGIC, W3LeafMatcher
from whoosh.filedb.structfile import BufferFile
# The unit of DATETIME columns (microseconds since datetime.min); a public function,
# here so that the dates compared with a column and the column itself come from one place.
from whoosh.util.times import datetime_to_long

__all__ = ["Blocks", "block_positions", "datetime_column", "datetime_to_long", "numeric_column", "posting_arrays",
           "posting_blocks", "posting_positions", "segment_postings", "term_blocks"]


def posting_blocks(matcher) -> Iterator[tuple[Sequence[int], Sequence[float]]]:
    """(document numbers, weights) of a fresh matcher's postings, a whole block at a time.

    Per posting, Whoosh's matcher API (`id()`, `weight()`, `next()`) costs about 1 µs;
    the W3 codec's matcher decodes a block's ids and weights in one go, so we take them
    from its private attributes. Any other matcher (a segment with deletions wraps its
    matcher in a FilterMatcher, which drops the deleted documents) goes posting by posting.
    """
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


def posting_arrays(matcher) -> tuple[np.ndarray, np.ndarray]:
    """(document numbers as int64, weights as float32) of all of a fresh matcher's postings.

    Decoding postings is most of a query's cost on a large index, and most of that was
    Whoosh's matcher walking from block to block: each step seeks the shared file object
    and unpickles the block's header from it, about 0.4 ms a block of 128 postings on a
    busy machine. Here the term's whole posting list (its extent is known) is read with
    one `os.pread`, which also leaves the file's offset alone (the descriptor may be
    shared with forked processes), and each block of the W3 format is parsed from those
    bytes: a 4-byte big-endian length (negative for the last block), the pickled block
    info (count, max id, max weight, compression, min and max length), then the block
    data, zlib-compressed when the info says so, a pickled (delta-encoded ids, weights,
    values) where weights are None when all are 1 and one float when all are equal. Any
    other matcher (a segment with deletions wraps it in a filter) goes through
    `posting_blocks`.
    """
    data = _extent(matcher) if type(matcher) is W3LeafMatcher and not matcher._byteids else None
    if data is None:
        ids: list[int] = []
        weights: list[float] = []
        for block_ids, block_weights in posting_blocks(matcher):
            ids.extend(block_ids)
            weights.extend(block_weights)
        return np.array(ids, dtype=np.int64), np.array(weights, dtype=np.float32)
    if data[:len(WHOOSH3_HEADER_MAGIC)] != WHOOSH3_HEADER_MAGIC:
        raise ValueError(f"not a W3 posting list at {matcher._startoffset}")
    view = memoryview(data)
    at = len(WHOOSH3_HEADER_MAGIC)
    id_blocks, weight_blocks = [], []
    while at < len(data):
        (length,) = _BLOCK_LENGTH.unpack_from(data, at)
        last, length = length < 0, abs(length)
        block = io.BytesIO(view[at + _BLOCK_LENGTH.size:at + _BLOCK_LENGTH.size + length])
        count, _, _, compression, _, _ = pickle.load(block)
        payload = block.read()
        deltas, weights, _ = pickle.loads(zlib.decompress(payload) if compression else payload)
        id_blocks.append(np.cumsum(np.array(deltas, dtype=np.int64)))
        if weights is None:
            weight_blocks.append(np.ones(count, dtype=np.float32))
        elif isinstance(weights, float):
            weight_blocks.append(np.full(count, weights, dtype=np.float32))
        else:
            weight_blocks.append(np.array(weights, dtype=np.float32))
        at += _BLOCK_LENGTH.size + length
        if last:
            break
    if not id_blocks:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    return np.concatenate(id_blocks), np.concatenate(weight_blocks)


_BLOCK_LENGTH = struct.Struct("!i")


def segment_postings(storage, schema, segment, fields) -> dict[str, tuple]:
    """Every term of a written segment's `fields` with its postings, as
    `indexer.postings_file.write` takes them: (terms, starts, docs, weights) per field.
    Term by term through Whoosh (about 0.1 ms a term, plus the decoding): for a segment
    that Whoosh's own writer or merge made."""
    from whoosh.reading import SegmentReader

    found = {}
    reader = SegmentReader(storage, schema, segment)
    try:
        for field in fields:
            terms, sizes, ids, weights = [], [], [], []
            for term in reader.lexicon(field):
                docnums, term_weights = posting_arrays(reader.postings(field, term))
                terms.append(term.decode("utf-8") if isinstance(term, bytes) else term)
                sizes.append(len(docnums))
                ids.append(docnums)
                weights.append(term_weights)
            if terms:
                found[field] = (terms, np.r_[0, np.cumsum(sizes)], np.concatenate(ids), np.concatenate(weights))
    finally:
        reader.close()
    return found


def posting_positions(matcher, docs: Sequence[int]) -> dict[int, list[int]]:
    """Positions of a fresh matcher's term in each of the (sorted) `docs` that has it,
    posting by posting with `skip_to` (any matcher: a term stored inline with its term
    info; a segment with deletions). `term_blocks` does it without walking the list."""
    found: dict[int, list[int]] = {}
    for docnum in docs:
        if not matcher.is_active():
            break
        matcher.skip_to(docnum)
        if matcher.is_active() and matcher.id() == docnum:
            found[docnum] = matcher.value_as("positions")
    return found


class Blocks(NamedTuple):
    """Where the blocks of one term's W3 posting list are in a segment's postings file:
    read once from the block headers, so that finding a document's positions later
    reads and decodes only its block. Walking the headers each time (unpickling every
    one) was most of the cost of a phrase: a common syllable has a thousand blocks."""
    max_ids: np.ndarray  # each block's largest document number
    starts: np.ndarray  # where each block's data (after its header) starts, in the file
    ends: np.ndarray
    compressed: list[bool]

    def __len__(self) -> int:
        return len(self.max_ids)


def term_blocks(reader, field: str, term: str) -> Blocks | None:
    """The blocks of `term`'s postings in a segment reader's `field` (empty if it has
    none), its deleted documents' included; None if the term has no W3 posting list of
    its own (stored inline with its term info) or its file cannot be read in place:
    `posting_positions` then. Deleted documents need no leaving out here, as positions
    are only ever asked for live ones."""
    from whoosh.reading import TermNotFound

    try:
        terms = reader._terms
        matcher = terms.matcher(field, reader._text_to_bytes(field, term), reader.schema[field].format)
    except (TermNotFound, KeyError):
        return Blocks(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), [])
    except AttributeError:  # not a Whoosh 2.7 segment reader
        return None
    if type(matcher) is not W3LeafMatcher or matcher._byteids or matcher._fixedsize is not None:
        return None
    data = _extent(matcher)
    if data is None:
        return None
    max_ids, starts, ends, compressed = [], [], [], []
    view = memoryview(data)
    at = len(WHOOSH3_HEADER_MAGIC)
    while at < len(data):
        (length,) = _BLOCK_LENGTH.unpack_from(data, at)
        last, length = length < 0, abs(length)
        block = io.BytesIO(view[at + _BLOCK_LENGTH.size:at + _BLOCK_LENGTH.size + length])
        _, max_id, _, compression, _, _ = pickle.load(block)
        max_ids.append(max_id)
        starts.append(matcher._startoffset + at + _BLOCK_LENGTH.size + block.tell())
        ends.append(matcher._startoffset + at + _BLOCK_LENGTH.size + length)
        compressed.append(bool(compression))
        at += _BLOCK_LENGTH.size + length
        if last:
            break
    return Blocks(np.array(max_ids, dtype=np.int64), np.array(starts, dtype=np.int64),
                  np.array(ends, dtype=np.int64), compressed)


def block_positions(reader, field: str, blocks: Blocks, docs: Sequence[int]) -> dict[int, list[int]]:
    """Positions in a segment reader's `field` of the term whose `blocks` these are, for
    each of the (sorted) `docs` that has it: only the blocks that may hold them are read."""
    found: dict[int, list[int]] = {}
    if not len(blocks):
        return found
    postfile = reader._terms._postfile
    decode = reader.schema[field].format.decoder("positions")
    # A handful of documents a block, 128 postings in it: lists, not arrays, whose every
    # call cost more than the work at this size (a fifth of reading a term's positions).
    which = np.searchsorted(blocks.max_ids, docs).tolist()  # the first block whose largest id is not below
    for b, here in itertools.groupby(zip(which, docs), key=operator.itemgetter(0)):
        if b >= len(blocks):  # beyond the last block, as every document after it (sorted)
            break
        payload = _read(postfile, int(blocks.starts[b]), int(blocks.ends[b] - blocks.starts[b]))
        deltas, _, values = pickle.loads(zlib.decompress(payload) if blocks.compressed[b] else payload)
        ids = list(itertools.accumulate(deltas))
        for _, doc in here:
            place = bisect.bisect_left(ids, doc)
            if place < len(ids) and ids[place] == doc:
                found[doc] = decode(values[place])
    return found


def _extent(matcher) -> bytes | None:
    """The bytes of a W3 matcher's whole posting list, read without moving any file offset;
    None if its file allows neither."""
    # Whoosh 2.7's term info reads the extent back as a 1-tuple (unpack's result, which
    # Whoosh itself never uses); a term written by Whoosh's own writer gives an int.
    length = matcher._length[0] if isinstance(matcher._length, tuple) else matcher._length
    return _read(matcher._postfile, matcher._startoffset, length)


def _read(postfile, offset: int, length: int) -> bytes | None:
    """`length` bytes of a postings file at `offset`, read without moving any file offset
    (the descriptor may be shared with forked processes); None if its file allows neither."""
    if isinstance(postfile, BufferFile):  # a segment inside a compound file: a slice of its mmap
        data = postfile.get(offset, length)
    else:
        try:
            descriptor = postfile.file.fileno()
        except (AttributeError, OSError, io.UnsupportedOperation):
            return None
        data = os.pread(descriptor, length, offset)
    if len(data) != length:
        # A truncated file: what Whoosh's reader raises there too, and the store reports
        # as a damaged index (never a search answered from part of a posting list).
        raise EOFError(f"posting list cut short: {len(data)} of {length} bytes at {offset}")
    return data


def numeric_column(reader, name: str, count: int, missing: int) -> np.ndarray:
    """A NUMERIC(int) field's sortable column for a leaf reader's `count` documents,
    `missing` for documents without a value."""
    field = reader.schema[name]
    values = np.fromiter(reader.column_reader(name), dtype=np.int64, count=count)
    # A document without the field holds the column's default: for NUMERIC(int) the
    # type code's largest value, which reads back through the field's signed offset
    # (32767 for a signed 16-bit field).
    absent = field.from_column_value(field.default)
    return np.where(values == absent, missing, values)


def datetime_column(reader, name: str, count: int, missing: int) -> np.ndarray:
    """A DATETIME field's sortable column in `datetime_to_long`'s unit, `missing` for
    documents without a value."""
    raw = np.fromiter(reader.column_reader(name, translate=False), dtype=np.uint64, count=count)
    # Untranslated, a missing date is the column's default, the largest unsigned 64-bit
    # value; real dates are far below 2**63 (datetime.max is under 2**59).
    return np.where(raw >= 2**63, missing, raw).astype(np.int64)
