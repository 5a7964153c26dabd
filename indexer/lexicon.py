"""Syllable statistics of the indexed text, for restoring diacritics to typed queries.

For every syllable (lowercase, with diacritics) and every pair of adjacent syllables
we count how often they occur, and how often each was written with a capital where
the capital is not just the start of a sentence ("Hồ Thị Hoàng Yến", "đại hội Đảng").
Counted into `Lexicon` (Counters, while indexing), saved next to the index as sorted
NumPy arrays, and read back as `SyllableStats`: every pair, even those seen once, in
about 20 MB instead of the 300 MB the same Counters take in memory.
"""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from indexer.normalize import normalize
from indexer.segmentation import units

FILE_NAME = "lexicon.npz"
# A pair is stored as one integer: first syllable's id shifted left, second's id.
_SHIFT = 21
# Anything but these spaces between two syllables breaks the pair: "ủy, Hồ" is no bigram.
_PAIR_GAP = " \t\u00a0"


@dataclass
class Lexicon:
    # syllable -> [count, count written with a capital mid-sentence]
    syllables: Counter = field(default_factory=Counter)
    capitals: Counter = field(default_factory=Counter)
    # (first, second) -> count; capitals of each member in that pair, mid-sentence
    pairs: Counter = field(default_factory=Counter)
    pair_capitals: Counter = field(default_factory=Counter)

    def add_text(self, text: str) -> None:
        normal = normalize(text)
        self.add_units(normal, units(normal))

    def add_units(self, normal: str, text_units: list) -> None:
        """Count the syllables of `normal` (a normalised text), already split into units."""
        # Collected in lists and counted at the end: Counter.update counts a list in C,
        # where `counter[key] += 1` costs two Python-level calls per syllable.
        syllables, capitals, pairs, pair_capitals = [], [], [], []
        previous: str | None = None  # the syllable before, if only spaces lie between
        previous_capital = False
        sentence_start = True
        end = 0
        for unit in text_units:
            gap, end = normal[end:unit.start], unit.end
            if "\n" in gap:
                sentence_start, previous = True, None
            word = unit.text
            if not word[0].isalnum():
                sentence_start = sentence_start or word in ".!?…:"
                previous = None
                continue
            lower = word.lower()
            # A capital counts only mid-sentence and outside all-capitals headlines.
            capital = word[0].isupper() and not word.isupper() and not sentence_start
            syllables.append(lower)
            if capital:
                capitals.append(lower)
            if previous is not None and gap and not gap.strip(_PAIR_GAP):
                key = (previous, lower)
                pairs.append(key)
                if previous_capital:
                    pair_capitals.append(key + (0,))
                if capital:
                    pair_capitals.append(key + (1,))
            previous, previous_capital, sentence_start = lower, capital, False
        self.syllables.update(syllables)
        self.capitals.update(capitals)
        self.pairs.update(pairs)
        self.pair_capitals.update(pair_capitals)

    def arrays(self) -> dict[str, np.ndarray]:
        """The counts as the sorted arrays that are saved (and merged across workers)."""
        vocab = sorted(self.syllables)
        ids = {syllable: i for i, syllable in enumerate(vocab)}
        keys = np.fromiter(((ids[a] << _SHIFT) | ids[b] for a, b in self.pairs), dtype=np.int64,
                           count=len(self.pairs))
        order = np.argsort(keys)

        def per_pair(values) -> np.ndarray:
            return np.fromiter(values, dtype=np.int32, count=len(self.pairs))[order]

        return {
            "vocab": np.array("\n".join(vocab)),
            "counts": np.array([self.syllables[v] for v in vocab], dtype=np.int64),
            "capitals": np.array([self.capitals.get(v, 0) for v in vocab], dtype=np.int64),
            "pair_keys": keys[order],
            "pair_counts": per_pair(self.pairs.values()),
            "first_capitals": per_pair(self.pair_capitals.get(k + (0,), 0) for k in self.pairs),
            "second_capitals": per_pair(self.pair_capitals.get(k + (1,), 0) for k in self.pairs),
        }

    def save(self, folder: Path) -> None:
        save_arrays(folder, self.arrays())

    @staticmethod
    def load(folder: Path) -> "Lexicon | None":
        """The counts back as Counters, to count more text into them (updates)."""
        stats = SyllableStats.load(folder)
        if stats is None:
            return None
        lexicon = Lexicon()
        lexicon.syllables.update(dict(zip(stats.vocab, stats.counts.tolist())))
        lexicon.capitals.update({v: n for v, n in zip(stats.vocab, stats.capitals.tolist()) if n})
        for (a, b), n, first, second in stats.pair_rows():
            lexicon.pairs[a, b] = n
            if first:
                lexicon.pair_capitals[a, b, 0] = first
            if second:
                lexicon.pair_capitals[a, b, 1] = second
        return lexicon


def _vocab(arrays) -> list[str]:
    text = str(arrays["vocab"])
    return text.split("\n") if text else []


def merge_arrays(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Several `Lexicon.arrays()` summed into one, with NumPy (no Counters in between)."""
    vocabs = [_vocab(part) for part in parts]
    vocab = sorted(set().union(*vocabs))
    ids = {syllable: i for i, syllable in enumerate(vocab)}
    counts = np.zeros(len(vocab), dtype=np.int64)
    capitals = np.zeros(len(vocab), dtype=np.int64)
    keys = []
    for part, words in zip(parts, vocabs):
        new_id = np.array([ids[w] for w in words], dtype=np.int64)
        counts[new_id] += part["counts"]
        capitals[new_id] += part["capitals"]
        old = part["pair_keys"]
        keys.append((new_id[old >> _SHIFT] << _SHIFT) | new_id[old & ((1 << _SHIFT) - 1)])
    pair_keys, row = np.unique(np.concatenate(keys), return_inverse=True)

    def per_pair(name: str) -> np.ndarray:
        summed = np.bincount(row, weights=np.concatenate([p[name] for p in parts]), minlength=len(pair_keys))
        return summed.astype(np.int32)

    return {"vocab": np.array("\n".join(vocab)), "counts": counts, "capitals": capitals,
            "pair_keys": pair_keys, "pair_counts": per_pair("pair_counts"),
            "first_capitals": per_pair("first_capitals"), "second_capitals": per_pair("second_capitals")}


def save_arrays(folder: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write the arrays; readers load the old file or the new one, never half."""
    path = Path(folder) / FILE_NAME
    tmp = path.with_name(".tmp-" + FILE_NAME)
    with open(tmp, "wb") as out:
        np.savez(out, **arrays)
    os.replace(tmp, path)


class SyllableStats:
    """The saved counts, read-only and compact, with look-ups by syllable and by pair."""

    def __init__(self, arrays):
        self.vocab: list[str] = _vocab(arrays)
        self.ids = {syllable: i for i, syllable in enumerate(self.vocab)}
        self.counts = arrays["counts"]
        self.capitals = arrays["capitals"]
        self.pair_keys = arrays["pair_keys"]
        self.pair_counts = arrays["pair_counts"]
        self.first_capitals = arrays["first_capitals"]
        self.second_capitals = arrays["second_capitals"]
        size = len(self.vocab)
        firsts, seconds = self.pair_keys >> _SHIFT, self.pair_keys & ((1 << _SHIFT) - 1)
        # For smoothing: how often anything follows a syllable, and how many different
        # syllables follow it or come before it.
        self.following = np.bincount(firsts, weights=self.pair_counts, minlength=size)
        self.kinds_after = np.bincount(firsts, minlength=size)
        self.kinds_before = np.bincount(seconds, minlength=size)

    @staticmethod
    def load(folder: Path) -> "SyllableStats | None":
        path = Path(folder) / FILE_NAME
        if not path.exists():
            return None
        with np.load(path) as arrays:
            return SyllableStats({name: arrays[name] for name in arrays.files})

    def count(self, syllable: str) -> int:
        i = self.ids.get(syllable)
        return 0 if i is None else int(self.counts[i])

    def pair_index(self, firsts: np.ndarray, seconds: np.ndarray) -> np.ndarray:
        """Row of each (first id, second id) pair in the pair arrays, or -1 if never seen."""
        keys = (firsts.astype(np.int64) << _SHIFT) | seconds.astype(np.int64)
        rows = np.searchsorted(self.pair_keys, keys)
        rows = np.minimum(rows, max(len(self.pair_keys) - 1, 0))
        found = (self.pair_keys[rows] == keys) if len(self.pair_keys) else np.zeros(keys.shape, bool)
        return np.where(found, rows, -1)

    def pair_rows(self, min_count: int = 1) -> Iterator[tuple[tuple[str, str], int, int, int]]:
        """((first, second), count, capitals of first, capitals of second) of every pair."""
        vocab, mask = self.vocab, (1 << _SHIFT) - 1
        for key, n, first, second in zip(self.pair_keys.tolist(), self.pair_counts.tolist(),
                                         self.first_capitals.tolist(), self.second_capitals.tolist()):
            if n >= min_count:
                yield (vocab[key >> _SHIFT], vocab[key & mask]), n, first, second
