"""Syllable statistics of the indexed text, for restoring diacritics to typed queries.

For every syllable (lowercase, with diacritics) and every pair of adjacent syllables
we count how often they occur, and how often each was written with a capital where
the capital is not just the start of a sentence ("Hồ Thị Hoàng Yến", "đại hội Đảng").
Counted by `Lexicon` while indexing, saved next to the index as sorted NumPy arrays,
and read back as `SyllableStats`: every pair, even those seen once, in about 20 MB
instead of the 300 MB the same counts take as Counters.

A search process reads the saved arrays in place, memory-mapped (`map_arrays`), and
keeps its look-up tables by syllable as arrays too: at 128,061 articles (110,000
syllables, 2.2 million pairs) the arrays read into memory took 47 MB of each process
and a dict or list per syllable 50 MB more, copied into every forked server worker as
it read them (reading a Python object writes its reference count). Mapped, the pages
are the page cache's, shared by every process and read from disk only where used.
"""
from __future__ import annotations

import io
import mmap
import os
import struct
import zipfile
import zlib
from array import array
from bisect import bisect_left
from collections import defaultdict
from itertools import count
from pathlib import Path

import numpy as np

from vnsearch.indexer.analysis import fold_new_syllable
from vnsearch.indexer.normalize import normalize
from vnsearch.indexer.segmentation import units
from vnsearch.indexer.strings import StringIndex

FILE_NAME = "lexicon.npz"
# A pair is stored as one int64: first syllable's id shifted left, second's id. 31 bits
# each: 2 billion distinct syllables (a corpus of 128,000 articles has about a million,
# most of them numbers and names), checked by `_check_size` rather than left to collide.
_SHIFT = 31
_MASK = (1 << _SHIFT) - 1


def _check_size(vocabulary: int) -> None:
    if vocabulary > _MASK:
        raise OverflowError(f"{vocabulary:,} distinct syllables: pair keys hold at most {_MASK:,}")
# Anything but these spaces between two syllables breaks the pair: "ủy, Hồ" is no bigram.
_PAIR_GAP = " \t\u00a0"


class Lexicon:
    """Counts the syllables and adjacent pairs of the text being indexed.

    Occurrences are recorded as integer ids in flat arrays (a small dict gives each
    syllable its id) and summed with NumPy by `arrays()`: Counters keyed by pairs of
    strings cost a fifth of the analysis, most of it hashing tuples into a dict of
    millions of pairs.
    """

    def __init__(self) -> None:
        self._ids: dict[str, int] = defaultdict(count().__next__)  # syllable -> id, first seen first
        self._syllables = array("q")  # the id of every occurrence
        self._capitals = array("q")  # ids of the occurrences written with a capital mid-sentence
        self._pairs = array("q")  # key of every adjacent pair (first id << _SHIFT | second id)
        self._first_capitals = array("q")  # keys of the pairs whose first syllable has that capital
        self._second_capitals = array("q")  # ... whose second syllable has it

    def add_text(self, text: str) -> None:
        normal = normalize(text)
        self.add_units(normal, units(normal))

    def add_units(self, normal: str, text_units: list) -> None:
        """Count the syllables of `normal` (a normalised text), already split into units."""
        ids = self._ids
        syllables, capitals, pairs, first_capitals, second_capitals = [], [], [], [], []
        previous = -1  # id of the syllable before, if only spaces lie between
        previous_capital = False
        sentence_start = True
        end = 0
        for unit in text_units:
            gap, end = normal[end:unit.start], unit.end
            if "\n" in gap:
                sentence_start, previous = True, -1
            word = unit.text
            if not word[0].isalnum():
                sentence_start = sentence_start or word in ".!?…:"
                previous = -1
                continue
            syllable = ids[word.lower()]
            # A capital counts only mid-sentence and outside all-capitals headlines.
            capital = word[0].isupper() and not word.isupper() and not sentence_start
            syllables.append(syllable)
            if capital:
                capitals.append(syllable)
            if previous >= 0 and gap and not gap.strip(_PAIR_GAP):
                key = previous << _SHIFT | syllable
                pairs.append(key)
                if previous_capital:
                    first_capitals.append(key)
                if capital:
                    second_capitals.append(key)
            previous, previous_capital, sentence_start = syllable, capital, False
        self._syllables.extend(syllables)
        self._capitals.extend(capitals)
        self._pairs.extend(pairs)
        self._first_capitals.extend(first_capitals)
        self._second_capitals.extend(second_capitals)

    def arrays(self) -> dict[str, np.ndarray]:
        """The counts as the sorted arrays that are saved (and merged across workers)."""
        vocab = list(self._ids)
        size = len(vocab)
        # Ids in alphabetical order of the syllables, as the saved arrays have them.
        order = sorted(range(size), key=vocab.__getitem__)
        rank = np.empty(size, dtype=np.int64)
        rank[order] = np.arange(size)

        def renumber(keys: array) -> np.ndarray:
            keys = _int64s(keys)
            return rank[keys >> _SHIFT] << _SHIFT | rank[keys & _MASK]

        _check_size(size)
        pair_keys, pair_counts = np.unique(renumber(self._pairs), return_counts=True)

        def per_pair(keys) -> np.ndarray:
            found, counts = np.unique(renumber(keys), return_counts=True)
            out = np.zeros(len(pair_keys), dtype=np.int32)
            out[np.searchsorted(pair_keys, found)] = counts
            return out

        def per_syllable(ids: array) -> np.ndarray:
            return np.bincount(_int64s(ids), minlength=size)[order].astype(np.int64)

        return {
            "vocab": np.array("\n".join(vocab[i] for i in order)),
            "counts": per_syllable(self._syllables),
            "capitals": per_syllable(self._capitals),
            "pair_keys": pair_keys,
            "pair_counts": pair_counts.astype(np.int32),
            "first_capitals": per_pair(self._first_capitals),
            "second_capitals": per_pair(self._second_capitals),
        }

    def save(self, folder: Path) -> None:
        save_arrays(folder, self.arrays())


def _int64s(values: array) -> np.ndarray:
    """An array("q") as NumPy, without a copy (frombuffer refuses an empty buffer)."""
    return np.frombuffer(values, dtype=np.int64) if len(values) else np.zeros(0, np.int64)


def load_arrays(folder: Path) -> dict[str, np.ndarray] | None:
    """The arrays saved in `folder`, or None if it has none."""
    path = Path(folder) / FILE_NAME
    if not path.exists():
        return None
    with np.load(path) as arrays:
        return {name: arrays[name] for name in arrays.files}


# np.savez writes each array as a member `<name>.npy` of a zip archive, stored as it is
# (not compressed): after the member's local header (this long, then its name and an
# extra field whose lengths are at these offsets) comes an .npy file (numpy.lib.format).
_ZIP_LOCAL_SIGNATURE, _ZIP_LOCAL_HEADER = b"PK\x03\x04", 30
_ZIP_NAME_LENGTHS = struct.Struct("<26xHH")
_NPY_HEADERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


def map_arrays(folder: Path) -> dict[str, np.ndarray] | None:
    """The arrays saved in `folder`, as `load_arrays` gives them, read-only and read in
    place from a memory map of the file; None if it has none.

    The file is never changed once written (`save_arrays` puts a new one in its place),
    so the map keeps reading the file it opened until the arrays are dropped. Each array's
    checksum is verified as reading it would (25 ms for 47 MB): damaged bytes are one
    clear error here, not wrong suggestions later. An array that cannot be mapped (a
    member compressed by some other writer) is read into memory.
    """
    path = Path(folder) / FILE_NAME
    if not path.exists():
        return None
    arrays = {}
    with open(path, "rb") as handle, zipfile.ZipFile(handle) as archive:
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        for member in archive.infolist():
            name = member.filename.removesuffix(".npy")
            array = _mapped_member(mapped, handle, member) if member.compress_type == zipfile.ZIP_STORED else None
            if array is None:
                with archive.open(member) as data:
                    array = np.lib.format.read_array(data, allow_pickle=False)
            arrays[name] = array
    return arrays


def _mapped_member(mapped: mmap.mmap, handle, member: zipfile.ZipInfo) -> np.ndarray | None:
    """A stored .npy member of the archive as an array over `mapped`, or None if its
    header is not one this reads (then it is read the ordinary way)."""
    if mapped[member.header_offset:member.header_offset + 4] != _ZIP_LOCAL_SIGNATURE:
        return None
    name_length, extra_length = _ZIP_NAME_LENGTHS.unpack_from(mapped, member.header_offset)
    start = member.header_offset + _ZIP_LOCAL_HEADER + name_length + extra_length
    with memoryview(mapped) as data:  # no copy
        if zlib.crc32(data[start:start + member.file_size]) != member.CRC:
            raise zipfile.BadZipFile(f"Bad CRC-32 for file {member.filename!r}")  # as zipfile says it
    handle.seek(start)
    read_header = _NPY_HEADERS.get(np.lib.format.read_magic(handle))
    if read_header is None:
        return None
    shape, fortran_order, dtype = read_header(handle)
    count = int(np.prod(shape))
    offset = handle.tell()
    if dtype.hasobject or offset + count * dtype.itemsize > start + member.file_size:
        return None
    array = np.frombuffer(mapped, dtype=dtype, count=count, offset=offset)
    if offset % dtype.alignment:
        # A file written before `stage_arrays` aligned its members: NumPy copies an
        # unaligned array on every search in it (1.3 ms for 1.6 million pair keys, 15 ms
        # a query), so it is copied once here instead.
        array = array.copy()
    return array.reshape(shape, order="F" if fortran_order else "C")


def _vocab(arrays) -> list[str]:
    text = str(arrays["vocab"])
    return text.split("\n") if text else []


# The per-pair arrays, in the order of `pair_keys`.
_PAIR_COLUMNS = ("pair_counts", "first_capitals", "second_capitals")


def merge_arrays(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Several `Lexicon.arrays()` summed into one, with NumPy (no Counters in between).

    Each part's vocabulary and pair keys are sorted and unique, and renumbering the keys
    into the merged vocabulary keeps them so (both vocabularies are alphabetical). So
    nothing is sorted again: the other parts' syllables and keys are looked up in the
    largest part's, and those missing inserted in place. An update's article merged into
    the 110,000 syllables and 2.2 million pairs of 128,000 articles costs a few searches
    and copies: the largest vocabulary is never made a NumPy string array (23 MB, and
    half of an update's 1.5 s when it was).
    """
    vocabs = [_vocab(part) for part in parts]
    largest, *others = sorted(range(len(parts)), key=lambda i: -len(parts[i]["pair_keys"]))
    vocab, at = _union(vocabs[largest], [vocabs[i] for i in others])
    _check_size(len(vocab))
    counts = np.zeros(len(vocab), dtype=np.int64)
    capitals = np.zeros(len(vocab), dtype=np.int64)
    renumbered = []
    for i, (part, words) in enumerate(zip(parts, vocabs)):
        if i == largest:  # each syllable moves up by the new ones inserted before it
            new_id = np.arange(len(words)) + np.searchsorted(at, np.arange(len(words)), side="right")
        else:
            new_id = np.array([bisect_left(vocab, word) for word in words], dtype=np.int64)
        counts[new_id] += part["counts"]
        capitals[new_id] += part["capitals"]
        old = part["pair_keys"]
        unchanged = i == largest and not len(at)
        renumbered.append(old if unchanged else (new_id[old >> _SHIFT] << _SHIFT) | new_id[old & _MASK])
    pair_keys = renumbered[largest]
    columns = {name: parts[largest][name].astype(np.int32) for name in _PAIR_COLUMNS}  # a copy to add to
    for i in others:
        pair_keys, placed, at_pair, known = _insert_sorted(pair_keys, renumbered[i])
        for name, column in columns.items():
            column[at_pair[known]] += parts[i][name][known]  # unique keys: each position once
            columns[name] = _interleave(placed, column, parts[i][name][~known])
    return {"vocab": np.array("\n".join(vocab)), "counts": counts, "capitals": capitals,
            "pair_keys": pair_keys, **{name: column.astype(np.int32, copy=False) for name, column in columns.items()}}


def _union(words: list[str], others: list[list[str]]) -> tuple[list[str], np.ndarray]:
    """The sorted union of `words` and `others` (each sorted and unique), and the place in
    `words` (as `bisect_left` gives it) of each syllable it lacks, in order."""
    missing: dict[str, int] = {}
    for more in others:
        for word in more:
            place = bisect_left(words, word)
            if place == len(words) or words[place] != word:
                missing[word] = place
    added = sorted(missing)
    union, start = [], 0
    for word in added:
        union += words[start:missing[word]]
        union.append(word)
        start = missing[word]
    union += words[start:]
    return union, np.array([missing[word] for word in added], dtype=np.int64)


def _insert_sorted(values: np.ndarray, more: np.ndarray):
    """Sorted unique `values` with the sorted unique `more` added: the union, which of its
    places hold `values` (`placed`), and each of `more`'s place in `values` (`at`) and
    whether it was there already (`known`)."""
    at = np.searchsorted(values, more)
    known = at < len(values)
    known[known] = values[at[known]] == more[known]
    added = ~known
    # Each new value goes after the old values below it and the new values before it.
    placed = np.ones(len(values) + int(added.sum()), dtype=bool)
    placed[at[added] + np.arange(int(added.sum()))] = False
    return _interleave(placed, values, more[added]), placed, at, known


def _interleave(placed: np.ndarray, kept: np.ndarray, added: np.ndarray) -> np.ndarray:
    """`kept` where `placed` is True and `added` where it is False, each in order."""
    out = np.empty(len(placed), dtype=np.result_type(kept, added))
    out[placed] = kept
    out[~placed] = added
    return out


def stage_arrays(folder: Path, arrays: dict[str, np.ndarray]) -> Path:
    """Write the arrays to a temporary file in `folder`, to be moved into place as FILE_NAME.

    A failed write (a full disk) removes its partial file and leaves the old FILE_NAME.
    """
    tmp = Path(folder) / (".tmp-" + FILE_NAME)
    try:
        with open(tmp, "wb") as out:
            _savez_aligned(out, arrays)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


# Where each member's bytes start in the file, a multiple of this many bytes; a .npy
# header's length is a multiple of 64 too, so the array's bytes start aligned as well.
_MEMBER_ALIGN = 64
_PADDING_FIELD = struct.Struct("<HH")  # a zip extra field's id and length


def _savez_aligned(out, arrays: dict[str, np.ndarray]) -> None:
    """What `np.savez` writes (one stored .npy member per array), with each member's bytes
    at a multiple of _MEMBER_ALIGN in the file: `map_arrays` reads the arrays in place,
    and NumPy copies an unaligned array on every search in it (np.savez leaves members
    wherever the names and sizes before them put them)."""
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for name, value in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.asanyarray(value), allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            # The local header, the name, then an extra field padding to the boundary
            # (at least its own 4 bytes).
            start = out.tell() + _ZIP_LOCAL_HEADER + len(info.filename.encode("utf-8")) + _PADDING_FIELD.size
            padding = -start % _MEMBER_ALIGN
            info.extra = _PADDING_FIELD.pack(0xA11C, padding) + bytes(padding)
            archive.writestr(info, buffer.getvalue())


def save_arrays(folder: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write the arrays; readers load the old file or the new one, never half."""
    os.replace(stage_arrays(folder, arrays), Path(folder) / FILE_NAME)


class SyllableStats:
    """The saved counts, read-only and compact, with look-ups by syllable and by pair.

    Syllables are numbered in alphabetical order, as saved: `vocab[i]` is syllable i and
    `vocab.find(syllable)` its number. Each folded syllable ("dang") is numbered in
    alphabetical order too (`folds`), and `forms(folded)` gives the numbers of the
    syllables that fold to it (đảng, đang, …).
    """

    def __init__(self, arrays):
        # The vocabulary is saved as one string, the syllables between newlines.
        self.vocab = StringIndex.split(str(arrays["vocab"]))
        self.counts = arrays["counts"]
        self.capitals = arrays["capitals"]
        self.pair_keys = arrays["pair_keys"]
        self.pair_counts = arrays["pair_counts"]
        self.first_capitals = arrays["first_capitals"]
        self.second_capitals = arrays["second_capitals"]
        size = len(self.vocab)
        firsts, seconds = self.pair_ids()
        # For smoothing: how often anything follows a syllable, and how many different
        # syllables follow it or come before it.
        self.following = np.bincount(firsts, weights=self.pair_counts, minlength=size)
        self.kinds_after = np.bincount(firsts, minlength=size)
        self.kinds_before = np.bincount(seconds, minlength=size)
        self.folds, self.fold_of = _folds(self.vocab)
        # The written forms of each fold: syllable numbers grouped by fold (in the folds'
        # order), the most frequent first within a group (ties by number), so that the
        # first few of a group are its likeliest readings; fold k's are
        # by_fold[fold_starts[k]:fold_starts[k + 1]].
        self.by_fold = np.lexsort((-self.counts, self.fold_of)).astype(np.int32)
        self.fold_starts = np.concatenate([[0], np.cumsum(np.bincount(self.fold_of, minlength=len(self.folds)))])

    @staticmethod
    def load(folder: Path) -> "SyllableStats | None":
        arrays = map_arrays(folder)
        return None if arrays is None else SyllableStats(arrays)

    def count(self, syllable: str) -> int:
        i = self.vocab.find(syllable)
        return 0 if i < 0 else int(self.counts[i])

    def forms(self, folded: str) -> np.ndarray:
        """The numbers of the syllables that fold to `folded` ("dang": đảng, đang, …), the
        most frequent first; empty if none does."""
        k = self.folds.find(folded)
        return self.by_fold[self.fold_starts[k]:self.fold_starts[k + 1]] if k >= 0 else self.by_fold[:0]

    def form_counts(self, most: int) -> np.ndarray:
        """For each fold, how often the corpus has its `most` most frequent forms."""
        summed = np.concatenate([[0], np.cumsum(self.counts[self.by_fold])])
        starts = self.fold_starts[:-1]
        return summed[np.minimum(self.fold_starts[1:], starts + most)] - summed[starts]

    def pair_index(self, firsts: np.ndarray, seconds: np.ndarray) -> np.ndarray:
        """Row of each (first id, second id) pair in the pair arrays, or -1 if never seen."""
        keys = (firsts.astype(np.int64) << _SHIFT) | seconds.astype(np.int64)
        rows = np.searchsorted(self.pair_keys, keys)
        rows = np.minimum(rows, max(len(self.pair_keys) - 1, 0))
        found = (self.pair_keys[rows] == keys) if len(self.pair_keys) else np.zeros(keys.shape, bool)
        return np.where(found, rows, -1)

    def pair_ids(self, rows: np.ndarray | slice = slice(None)) -> tuple[np.ndarray, np.ndarray]:
        """The ids of the first and of the second syllable of the pairs in `rows` (all by default)."""
        keys = self.pair_keys[rows]
        return keys >> _SHIFT, keys & _MASK


def _folds(vocab: StringIndex) -> tuple[StringIndex, np.ndarray]:
    """The distinct folds of the syllables, in alphabetical order, and the number of each
    syllable's fold among them."""
    # Folded without the analysis's cache: 100,000 syllables folded once would fill it.
    folds = [fold_new_syllable(s) for s in vocab]
    distinct = sorted(set(folds))
    number = {fold: n for n, fold in enumerate(distinct)}
    fold_of = np.fromiter((number[f] for f in folds), dtype=np.int32, count=len(folds))
    return StringIndex.of(distinct), fold_of
