"""Postings as plain arrays in one file, read by memory-mapping it.

Whoosh stores postings in pickled, zlib-compressed blocks of 128, and decoding them was
three quarters of a query's time on the 128,061-article index (`bench/perf_profile.py`):
a query mix of thousands of distinct queries touches more postings than any cache of
decoded ones holds, and each worker process decoded and cached its own. So a search
reads a term's postings as two ranges of a plain file instead: no decoding, and the
file's pages shared by every process through the page cache. Whoosh's files stay the
source of truth.

The directory of terms (keys and starts, 16 bytes a term) is memory-mapped: a look-up
touches a few of its pages. The postings themselves are read with `preadv` straight
into new arrays: a search copies them anyway (into NumPy's index type), and pages
mapped into a process count as its resident memory, so a server that had read most of
the 1.2 GB file at 128,061 articles showed 1.2 GB more per worker than it held (the
kernel's page cache holds them either way, shared and evictable).

Two kinds of file, one format:
- beside each segment a build's worker writes (`MAIN_<segment id>.vnp`), as it writes
  the segment's other files;
- one for the whole index (`postings.vnp`, FILE_NAME), which the build's commit and
  `vnsearch optimize` make by merging the segments' files in the index's order, so that
  a term is one look-up rather than one per segment (eleven at 128,061 articles, each
  a search of its own). It lists the segments it covers; an update's segments after
  them are read through Whoosh (their own few postings cost little to decode).

The file, all numbers little-endian:

    b"VNPOST2\n", then the arrays of each field, each padded to a multiple of 8:
        keys    uint64[n]    a hash of each term, sorted
        starts  int64[n + 1] where each term's postings begin in docs and freqs
        docs    int32[m]     document numbers, ascending per term: within the segment,
                             or in the covered segments one after another
        freqs   float32[m]   occurrences of the term in the document
    then a JSON directory, the arrays' offsets counted from the end of the magic, and
    its length (8 bytes): written last, so that a field at a time is merged and written:
        {"segments": [[segment id, documents], ...] or null (a segment's own file),
         "fields": {field: {"terms": n, "postings": m, "keys": offset, "starts": offset,
                            "docs": offset, "freqs": offset, "ambiguous": [key, ...]}}}
(b"VNPOST1\n" files, from before the index-wide file, have the fields' directory first,
after its length, and the arrays from the next multiple of 8.)

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
from typing import Iterable, NamedTuple

import numpy as np

EXTENSION = ".vnp"
FILE_NAME = "postings" + EXTENSION
MAGIC = b"VNPOST2\n"
_OLD_MAGIC = b"VNPOST1\n"
_LENGTH = struct.Struct("<Q")
_ALIGN = 8


@functools.lru_cache(maxsize=1 << 16)
def term_key(term: str) -> int:
    """The term's 64-bit key (a search asks each segment of the index for the same terms)."""
    return int.from_bytes(hashlib.blake2b(term.encode("utf-8"), digest_size=8).digest(), "little")


def _aligned(size: int) -> int:
    """`size` rounded up to a multiple of _ALIGN."""
    return -(-size // _ALIGN) * _ALIGN


# Where the arrays begin: after the magic (the directory follows them).
_DATA_START = len(MAGIC)


def _keys(terms: list[str]) -> np.ndarray:
    return np.fromiter((term_key(t) for t in terms), dtype=np.uint64, count=len(terms))


class Keyed(NamedTuple):
    """One field's postings as the file holds them."""
    keys: np.ndarray  # uint64, sorted
    starts: np.ndarray  # term i's postings are docs[starts[i]:starts[i + 1]]
    docs: np.ndarray
    freqs: np.ndarray
    ambiguous: frozenset  # keys of terms left out (two terms, one hash)


def keyed(terms: list[str], starts: np.ndarray, docs: np.ndarray, freqs: np.ndarray) -> Keyed:
    """A field's postings, (terms in any order, `starts[i]:starts[i + 1]` the i-th term's
    postings), ordered by the terms' keys."""
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
    return Keyed(keys, np.r_[0, np.cumsum(sizes)].astype(np.int64), np.asarray(docs)[take].astype(np.int32),
                 np.asarray(freqs)[take].astype(np.float32), frozenset(int(k) for k in ambiguous))


def merged(parts: list[tuple[Keyed | None, int]]) -> Keyed:
    """One field's postings from `parts` (each with its count of documents, numbered one
    part after another), a term's postings in the parts' order, so still ascending."""
    offsets = np.r_[0, np.cumsum([count for _, count in parts])[:-1]]
    present = [(part, int(offset)) for (part, _), offset in zip(parts, offsets) if part is not None]
    ambiguous = frozenset().union(*(part.ambiguous for part, _ in present))
    if not present:
        return Keyed(np.zeros(0, np.uint64), np.zeros(1, np.int64), np.zeros(0, np.int32), np.zeros(0, np.float32),
                     ambiguous)
    bases = np.r_[0, np.cumsum([len(part.docs) for part, _ in present])[:-1]]
    keys = np.concatenate([part.keys for part, _ in present])
    sizes = np.concatenate([np.diff(part.starts) for part, _ in present])
    sources = np.concatenate([part.starts[:-1] + base for (part, _), base in zip(present, bases)])
    docs = np.concatenate([part.docs.astype(np.int32) + offset for part, offset in present])
    freqs = np.concatenate([part.freqs for part, _ in present])
    keep = ~np.isin(keys, np.array(sorted(ambiguous), dtype=np.uint64))
    keys, sizes, sources = keys[keep], sizes[keep], sources[keep]
    order = np.argsort(keys, kind="stable")  # stable: a key's parts stay in order
    keys, sizes, sources = keys[order], sizes[order], sources[order]
    first = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]) if len(keys) else np.zeros(0, np.int64)
    ends = np.r_[0, np.cumsum(sizes)]
    take = np.repeat(sources - ends[:-1], sizes) + np.arange(ends[-1])
    return Keyed(keys[first], ends[np.r_[first, len(keys)]].astype(np.int64), docs[take], freqs[take], ambiguous)


def write(path: Path, fields: dict[str, tuple[list[str], np.ndarray, np.ndarray, np.ndarray]]) -> None:
    """Write a segment's file: `fields` maps each field to (terms, starts, docs, freqs),
    as `keyed` takes them."""
    write_keyed(path, ((name, keyed(*found)) for name, found in fields.items()))


def write_keyed(path: Path, fields: Iterable[tuple[str, Keyed]], segments: list[tuple[str, int]] | None = None) -> None:
    """Write `fields`, (name, postings) one at a time, so that only one field's postings
    need be in memory; `segments`: the (id, documents) of the segments the documents are
    numbered across, for the index-wide file. Written to a temporary name and renamed,
    so the file is whole or absent."""
    directory: dict[str, dict] = {}
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as out:
            out.write(MAGIC)

            def place(array: np.ndarray, dtype: str) -> int:
                at = out.tell() - _DATA_START
                data = array.astype(dtype, copy=False).tobytes()
                out.write(data + b"\0" * (-len(data) % _ALIGN))
                return at

            for name, found in fields:
                directory[name] = {
                    "terms": int(len(found.keys)), "postings": int(len(found.docs)),
                    "keys": place(found.keys, "<u8"), "starts": place(found.starts, "<i8"),
                    "docs": place(found.docs, "<i4"), "freqs": place(found.freqs, "<f4"),
                    "ambiguous": sorted(found.ambiguous),
                }
            header = json.dumps({"segments": segments, "fields": directory}).encode("utf-8")
            out.write(header + _LENGTH.pack(len(header)))
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class PostingsFile:
    """One segment's file, memory-mapped; `postings` is None for a term it cannot answer."""

    def __init__(self, path: Path):
        self.path = path
        with open(path, "rb") as handle:
            magic = handle.read(len(MAGIC))
            if magic == _OLD_MAGIC:  # the directory first
                (length,) = _LENGTH.unpack(handle.read(_LENGTH.size))
                directory = {"segments": None, "fields": json.loads(handle.read(length))}
                start = _aligned(len(MAGIC) + _LENGTH.size + length)
            elif magic == MAGIC:  # the directory last, then its length
                handle.seek(-_LENGTH.size, os.SEEK_END)
                (length,) = _LENGTH.unpack(handle.read(_LENGTH.size))
                handle.seek(-_LENGTH.size - length, os.SEEK_END)
                directory = json.loads(handle.read(length))
                start = _DATA_START
            else:
                raise ValueError(f"{path} is not a postings file")
            # The segments the documents are numbered across, in order: (id, documents).
            self.segments: list[tuple[str, int]] | None = (
                None if directory["segments"] is None else [(name, count) for name, count in directory["segments"]])
            self.directory = directory["fields"]
            # Read-only and shared: every process's pages of it are the page cache's.
            self._map = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        # For `postings`: reads at an offset, so one descriptor serves forked processes too.
        self._fd = os.open(path, os.O_RDONLY)
        self._fields = {}
        # field: (offset of its docs, offset of its freqs) in the file
        self._ranges: dict[str, tuple[int, int]] = {}
        for name, entry in self.directory.items():
            n, m = entry["terms"], entry["postings"]
            self._fields[name] = Keyed(self._array(start + entry["keys"], "<u8", n),
                                       self._array(start + entry["starts"], "<i8", n + 1),
                                       self._array(start + entry["docs"], "<i4", m),
                                       self._array(start + entry["freqs"], "<f4", m),
                                       frozenset(entry["ambiguous"]))
            self._ranges[name] = (start + entry["docs"], start + entry["freqs"])

    def __del__(self):
        fd = getattr(self, "_fd", None)
        if fd is not None:
            os.close(fd)

    def field(self, name: str) -> Keyed | None:
        """All of a field's postings (None: the file lacks the field)."""
        return self._fields.get(name)

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
        first, end = int(starts[at]), int(starts[at + 1])
        docs_at, freqs_at = self._ranges[field]
        return self._read(docs_at + 4 * first, "<i4", end - first), self._read(freqs_at + 4 * first, "<f4", end - first)

    def _read(self, offset: int, dtype: str, count: int) -> np.ndarray:
        array = np.empty(count, dtype=dtype)
        view, done = memoryview(array).cast("B"), 0
        while done < len(view):
            got = os.preadv(self._fd, [view[done:]], offset + done)
            if got == 0:
                raise ValueError(f"{self.path} ends before its postings do")
            done += got
        return array


def open_for(folder: Path, segment_name: str) -> PostingsFile | None:
    """The postings file of segment `segment_name` ("MAIN_k3x9") in `folder`, if it has one."""
    path = Path(folder) / f"{segment_name}{EXTENSION}"
    return PostingsFile(path) if path.exists() else None


def open_index_file(folder: Path) -> PostingsFile | None:
    """The index-wide postings file in `folder`, if it has one. Open it after the index's
    table of contents: a commit may replace it in between, so check which segments it covers."""
    try:
        return PostingsFile(Path(folder) / FILE_NAME)
    except FileNotFoundError:
        return None


def covered(segment_ids: list[str], mapped: PostingsFile | None) -> int:
    """How many of the first `segment_ids` (an index's segments, in order) `mapped`'s
    documents are numbered across, from the first: they must come first, in its order."""
    if mapped is None or mapped.segments is None:
        return 0
    count = 0
    for (name, _), segment_id in zip(mapped.segments, segment_ids):
        if name != segment_id:
            break
        count += 1
    return count
