"""Whoosh's term table file (an ordered CDB-style hash), written in bulk.

Whoosh's OrderedHashWriter adds one key at a time and writes its 256 hash tables
slot by slot at close: about 10 µs a term in pure Python, a third of writing a
segment's postings, where most terms are pairs of syllables seen once or twice.
`BulkOrderedHashWriter` writes the same bytes (a test compares them) from lists of
keys, and its hash tables a table at a time.

Part of the `vnsearch.indexer.whoosh_format` adapter: it subclasses Whoosh 2.7's
OrderedHashWriter and writes its file format (see the package's docstring).
"""
from __future__ import annotations

from array import array
from hashlib import md5
from itertools import chain

import numpy as np
from whoosh.filedb.filetables import OrderedHashWriter, md5_hash

# A record's header: key length, value length (Whoosh's `_lengths`).
_RECORD_HEADER = np.dtype(">i4")
# A hash table slot: hash value, record position (Whoosh's `_pointer`).
_SLOT = np.dtype([("hash", ">u4"), ("position", ">i8")])


def _md5_hashes(keys: list[bytes]) -> list[int]:
    """Whoosh's md5_hash of each key: the digest's low 32 bits, without the hex round trip."""
    return [int.from_bytes(md5(key).digest()[12:], "big") for key in keys]


class BulkOrderedHashWriter(OrderedHashWriter):
    """OrderedHashWriter with `add_sorted` for many keys at once; same file format."""

    def add_sorted(self, keys: list[bytes], values: list[bytes]) -> None:
        """Add increasing `keys` (all greater than any added before) with their values."""
        if not keys:
            return
        if keys[0] <= self.lastkey:
            raise ValueError(f"keys must increase: {self.lastkey!r}..{keys[0]!r}")
        sizes = np.empty((len(keys), 2), dtype=np.int64)
        sizes[:, 0] = np.fromiter(map(len, keys), dtype=np.int64, count=len(keys))
        sizes[:, 1] = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
        headers = sizes.astype(_RECORD_HEADER).tobytes()
        start = self.dbfile.tell()
        positions = (start + np.r_[0, np.cumsum(sizes.sum(axis=1) + 8)[:-1]]).tolist()
        header_list = [headers[i:i + 8] for i in range(0, len(headers), 8)]
        self.dbfile.write(b"".join(chain.from_iterable(zip(header_list, keys, values))))

        hashes = _md5_hashes(keys) if self.hashfn is md5_hash else list(map(self.hashfn, keys))
        buckets = self.buckets
        for h, position in zip(hashes, positions):
            buckets[h & 255].append((h, position))
        self._extend_index(positions)
        self.lastkey = keys[-1]

    def _extend_index(self, positions: list[int]) -> None:
        index = self.index  # a GrowableArray: widen its type once, not per append
        if isinstance(index.array, array):
            try:
                index.array.extend(array(index.array.typecode, positions))
                return
            except OverflowError:
                index._retype(max(positions))
        index.array.extend(positions)

    def _write_hashes(self) -> None:
        # As HashWriter._write_hashes: per bucket a table of twice as many slots, each
        # entry at (hash >> 8) % slots or the next free slot; written in one piece.
        dbfile = self.dbfile
        for entries in self.buckets:
            numslots = 2 * len(entries)
            self.directory.append((dbfile.tell(), numslots))
            table = np.zeros(numslots, dtype=_SLOT)
            if entries:
                taken = bytearray(numslots)
                slots = []
                for hashval, _ in entries:
                    slot = (hashval >> 8) % numslots
                    while taken[slot]:
                        slot = (slot + 1) % numslots
                    taken[slot] = 1
                    slots.append(slot)
                hashes, positions = zip(*entries)
                table["hash"][slots] = hashes
                table["position"][slots] = positions
            dbfile.write(table.tobytes())
