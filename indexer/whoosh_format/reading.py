"""Reading Whoosh 2.7's postings and columns faster than its public API does.

Part of the `vnsearch.indexer.whoosh_format` adapter: the names used here are
Whoosh 2.7's internals (see the package's docstring).
"""
from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np
# The unit of DATETIME columns (microseconds since datetime.min); a public function,
# here so that the dates compared with a column and the column itself come from one place.
from whoosh.util.times import datetime_to_long

__all__ = ["datetime_column", "datetime_to_long", "numeric_column", "posting_blocks"]


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
