"""A segment's postings as plain arrays in one file, read by memory-mapping it.

Whoosh stores postings in pickled, zlib-compressed blocks of 128, and decoding them was
three quarters of a query's time on the 128,061-article index (`bench/perf_profile.py`):
a query mix of thousands of distinct queries touches more postings than any cache of
decoded ones holds, and each worker process decoded and cached its own. Beside each
segment the build writes this file (`MAIN_<segment id>.vnp`, swept and checksummed with
the segment's other files), and a search reads a term's postings as two slices of it:
no decoding, nothing copied, and the pages shared by every process through the page
cache. Whoosh's files stay the source of truth: a segment without this file (one made by
an update or a merge) is read through Whoosh as before.

The file, all numbers little-endian:

    b"VNPOST1\\n", then the length of a JSON directory (8 bytes) and the directory:
        {field: {"terms": n, "postings": m, "keys": offset, "starts": offset,
                 "docs": offset, "freqs": offset, "ambiguous": [key, ...]}}
    then the arrays of each field, from the first multiple of 8 after the directory
    (which is where the directory's offsets count from), each padded to a multiple of 8:
        keys    uint64[n]    a hash of each term, sorted
        starts  int64[n + 1] where each term's postings begin in docs and freqs
        docs    int32[m]     document numbers within the segment, ascending per term
        freqs   float32[m]   occurrences of the term in the document

Terms are found by a 64-bit hash of their UTF-8 bytes, so the directory is a sorted
array (one `searchsorted`) rather than a table of millions of strings in each process.
Two terms of one field with the same hash are left out and listed as ambiguous; their
postings are read through Whoosh.
"""
from __future__ import annotations

import functools
import hashlib
import json
import mmap
import os
import struct
from pathlib import Path

import numpy as np

EXTENSION = ".vnp"
MAGIC = b"VNPOST1\n"
_LENGTH = struct.Struct("<Q")
_ALIGN = 8


@functools.lru_cache(maxsize=1 << 16)
def term_key(term: str) -> int:
    """The term's 64-bit key (a search asks each segment of the index for the same terms)."""
    return int.from_bytes(hashlib.blake2b(term.encode("utf-8"), digest_size=8).digest(), "little")


def _aligned(size: int) -> int:
    """`size` rounded up to a multiple of _ALIGN."""
    return -(-size // _ALIGN) * _ALIGN


def _data_start(header_length: int) -> int:
    """Where the arrays begin, after the magic, the directory's length and the directory."""
    return _aligned(len(MAGIC) + _LENGTH.size + header_length)


def _keys(terms: list[str]) -> np.ndarray:
    return np.fromiter((term_key(t) for t in terms), dtype=np.uint64, count=len(terms))


def write(path: Path, fields: dict[str, tuple[list[str], np.ndarray, np.ndarray, np.ndarray]]) -> None:
    """Write `fields`: for each, (terms, starts, docs, freqs) as in the file (terms in any
    order, `starts[i]:starts[i + 1]` the i-th term's postings). Written to a temporary name
    and renamed, so the file is whole or absent."""
    directory: dict[str, dict] = {}
    arrays: list[np.ndarray] = []
    offset = 0

    def place(array: np.ndarray) -> int:
        nonlocal offset
        at = offset
        arrays.append(array)
        offset += _aligned(array.nbytes)
        return at

    for name, (terms, starts, docs, freqs) in fields.items():
        keys = _keys(terms)
        order = np.argsort(keys, kind="stable")
        keys = keys[order]
        clash = keys[1:] == keys[:-1]
        ambiguous = np.unique(keys[1:][clash]) if clash.any() else np.zeros(0, dtype=np.uint64)
        keep = ~np.isin(keys, ambiguous)
        order, keys = order[keep], keys[keep]
        sizes = (starts[1:] - starts[:-1])[order]
        # The postings in key order: one gather of every kept term's range.
        take = np.repeat(starts[:-1][order] - np.r_[0, np.cumsum(sizes)[:-1]], sizes) + np.arange(sizes.sum())
        directory[name] = {
            "terms": int(len(keys)), "postings": int(sizes.sum()),
            "keys": place(keys), "starts": place(np.r_[0, np.cumsum(sizes)].astype("<i8")),
            "docs": place(np.asarray(docs)[take].astype("<i4")),
            "freqs": place(np.asarray(freqs)[take].astype("<f4")),
            "ambiguous": [int(k) for k in ambiguous],
        }
    header = json.dumps(directory).encode("utf-8")
    start = _data_start(len(header))
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as out:
        out.write(MAGIC + _LENGTH.pack(len(header)) + header)
        out.write(b"\0" * (start - out.tell()))
        for array in arrays:
            data = array.tobytes()
            out.write(data + b"\0" * (-len(data) % _ALIGN))
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


class PostingsFile:
    """One segment's file, memory-mapped; `postings` is None for a term it cannot answer."""

    def __init__(self, path: Path):
        self.path = path
        with open(path, "rb") as handle:
            if handle.read(len(MAGIC)) != MAGIC:
                raise ValueError(f"{path} is not a postings file")
            (length,) = _LENGTH.unpack(handle.read(_LENGTH.size))
            self.directory = json.loads(handle.read(length))
            start = _data_start(length)
            # Read-only and shared: every process's pages of it are the page cache's.
            self._map = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        self._fields = {}
        for name, entry in self.directory.items():
            n, m = entry["terms"], entry["postings"]
            self._fields[name] = (self._array(start + entry["keys"], "<u8", n),
                                  self._array(start + entry["starts"], "<i8", n + 1),
                                  self._array(start + entry["docs"], "<i4", m),
                                  self._array(start + entry["freqs"], "<f4", m),
                                  frozenset(entry["ambiguous"]))

    def _array(self, offset: int, dtype: str, count: int) -> np.ndarray:
        return np.frombuffer(self._map, dtype=dtype, count=count, offset=offset)

    def postings(self, field: str, term: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(document numbers as int32, frequencies as float32) of `term`, empty if the
        segment lacks it; None if the file does not hold the field or the term is ambiguous."""
        found = self._fields.get(field)
        if found is None:
            return None
        keys, starts, docs, freqs, ambiguous = found
        key = term_key(term)
        if key in ambiguous:
            return None
        at = int(np.searchsorted(keys, np.uint64(key)))
        if at == len(keys) or keys[at] != key:
            return docs[:0], freqs[:0]
        return docs[starts[at]:starts[at + 1]], freqs[starts[at]:starts[at + 1]]


def open_for(folder: Path, segment_name: str) -> PostingsFile | None:
    """The postings file of segment `segment_name` ("MAIN_k3x9") in `folder`, if it has one."""
    path = Path(folder) / f"{segment_name}{EXTENSION}"
    return PostingsFile(path) if path.exists() else None
