"""Long lists of strings held as one UTF-8 buffer, for tables a server keeps for its lifetime.

A Python string costs some 50 bytes besides its text, and two bytes a character for
Vietnamese text where UTF-8 takes about 1.4; a dict of them costs as much again. Worse,
a server worker forked after loading them copies every page of them it reads, because
reading an object writes its reference count. Here a list of strings is one `bytes` and
one array of where each string ends: nothing per string for the reference counting to
touch, and 8 bytes a string besides its text (20 with `StringIndex`'s look-ups).
"""
from __future__ import annotations

import bisect
from array import array
from typing import Iterable, Iterator

import numpy as np

# Every string is encoded and decoded this way, so that any string comes back as it went
# in, even one holding a lone surrogate (text read from JSON may).
_ENCODING, _ERRORS = "utf-8", "surrogatepass"
# What `StringIndex` sorts strings by: the process's own string hash (salted per process,
# the same in the workers it forks), which is all a table built in the process needs. Never
# stored. A module attribute, so that a test can make every string collide.
_hash = hash


class Strings:
    """An immutable list of strings as one UTF-8 buffer and where each string begins."""

    def __init__(self, data: bytes, bounds: np.ndarray):
        """`bounds`: where each string begins in `data`, and where the last one ends."""
        self.data = data
        self.bounds = np.ascontiguousarray(bounds, dtype=np.int64)
        # Indexed through a memoryview: a Python int each, where NumPy would make a scalar
        # object, several times slower to slice with.
        self._bounds = memoryview(self.bounds)
        self._size = len(self.bounds) - 1

    @classmethod
    def of(cls, strings: Iterable[str]) -> "Strings":
        builder = StringsBuilder()
        for s in strings:
            builder.append(s)
        return builder.strings()

    @classmethod
    def split(cls, text: str, separator: str = "\n") -> "Strings":
        """The parts of `text` between `separator`s (none for an empty text), found with
        NumPy: no Python string per part, even while building."""
        if not text:
            return cls(b"", np.zeros(1, np.int64))
        (sep,) = separator.encode(_ENCODING)  # one byte: UTF-8 never uses it inside a character
        joined = text.encode(_ENCODING, _ERRORS)
        at = np.flatnonzero(np.frombuffer(joined, np.uint8) == sep)
        # Without the separators, part k ends where the k-th separator was, less the k before it.
        bounds = np.concatenate([[0], at - np.arange(len(at)), [len(joined) - len(at)]])
        return cls(joined.replace(bytes([sep]), b""), bounds)

    def __len__(self) -> int:
        return self._size

    def __getitem__(self, i: int) -> str:
        if not 0 <= i < self._size:
            raise IndexError(i)
        bounds = self._bounds
        return self.data[bounds[i]:bounds[i + 1]].decode(_ENCODING, _ERRORS)

    def encoded(self, i: int) -> bytes:
        """String i as UTF-8, to compare without decoding it: UTF-8 bytes sort as their
        strings do, character by character."""
        if not 0 <= i < self._size:
            raise IndexError(i)
        return self.data[self._bounds[i]:self._bounds[i + 1]]

    def __iter__(self) -> Iterator[str]:
        return map(self.__getitem__, range(len(self)))

    def take(self, order: np.ndarray) -> "Strings":
        """The strings in positions `order`, in that order."""
        builder = StringsBuilder()
        data, bounds = memoryview(self.data), self._bounds
        for i in memoryview(np.ascontiguousarray(order, dtype=np.int64)):  # one Python int at a time
            builder.append_bytes(data[bounds[i]:bounds[i + 1]])
        return builder.strings()


class StringsBuilder:
    """Strings appended one at a time: a list of them all would leave the memory it took
    scattered once freed (a few objects that outlive it keep whole arenas of Python's
    allocator from being given back)."""

    def __init__(self) -> None:
        self._data = bytearray()
        self._ends = array("q")

    def append(self, s: str) -> None:
        self.append_bytes(s.encode(_ENCODING, _ERRORS))

    def append_bytes(self, encoded) -> None:
        self._data += encoded
        self._ends.append(len(self._data))

    def strings(self) -> Strings:
        ends = np.frombuffer(self._ends, np.int64) if len(self._ends) else np.zeros(0, np.int64)
        return Strings(bytes(self._data), np.concatenate([[0], ends]))


class StringIndex(Strings):
    """`Strings` that also find a string's position, by a sorted array of their hashes
    (a bisection, then the strings of an equal hash compared): what a dict from each
    string to its position would answer, in 20 bytes a string and no Python object."""

    def __init__(self, data: bytes, bounds: np.ndarray):
        super().__init__(data, bounds)
        hashes = np.fromiter(map(_hash, self), dtype=np.int64, count=len(self))
        self._order = np.argsort(hashes, kind="stable").astype(np.int32)
        self._hashes = hashes[self._order]
        self._order_view, self._hashes_view = memoryview(self._order), memoryview(self._hashes)

    @classmethod
    def of(cls, strings: Iterable[str]) -> "StringIndex":
        found = Strings.of(strings)
        return cls(found.data, found.bounds)

    @classmethod
    def split(cls, text: str, separator: str = "\n") -> "StringIndex":
        found = Strings.split(text, separator)
        return cls(found.data, found.bounds)

    def find(self, s: str) -> int:
        """The position of `s`, or -1 if it is not one of the strings (the first, if it is several)."""
        h = _hash(s)
        hashes, order, bounds, data = self._hashes_view, self._order_view, self._bounds, self.data
        at = bisect.bisect_left(hashes, h)
        encoded = None
        # Strings of an equal hash, in their order (the sort is stable): rarely more than one.
        while at < self._size and hashes[at] == h:
            if encoded is None:
                encoded = s.encode(_ENCODING, _ERRORS)  # compared as UTF-8, one encoding to one string
            i = order[at]
            if data[bounds[i]:bounds[i + 1]] == encoded:
                return i
            at += 1
        return -1

    def find_all(self, strings: list[str]) -> np.ndarray:
        """`find` of each of `strings`, as an array: the hashes are looked up together, and
        only the strings whose hash is there are compared."""
        found = np.full(len(strings), -1, np.int64)
        if not self._size:
            return found
        hashes = np.fromiter(map(_hash, strings), dtype=np.int64, count=len(strings))
        at = np.minimum(np.searchsorted(self._hashes, hashes), self._size - 1)
        hits = np.flatnonzero(self._hashes[at] == hashes)
        bounds, data = self._bounds, self.data
        for k, i in zip(hits.tolist(), self._order[at[hits]].tolist()):
            s = strings[k]
            # The first string of that hash is nearly always the one; else `find` looks further.
            found[k] = i if data[bounds[i]:bounds[i + 1]] == s.encode(_ENCODING, _ERRORS) else self.find(s)
        return found
