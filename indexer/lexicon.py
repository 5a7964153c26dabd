"""Syllable statistics of the indexed text, for restoring diacritics to typed queries.

For every syllable (lowercase, with diacritics) and every pair of adjacent syllables
we count how often they occur, and how often each was written with a capital where
the capital is not just the start of a sentence ("Hồ Thị Hoàng Yến", "đại hội Đảng").
Built alongside the index, saved next to it, read by `search.accents`.
"""
from __future__ import annotations

import os
import pickle
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from indexer.normalize import normalize
from indexer.segmentation import units

FILE_NAME = "lexicon.pickle"
# Pairs seen once are mostly noise and would double the file.
MIN_PAIR_COUNT = 2
# Anything but spaces between two syllables breaks the pair: "ủy, Hồ" is no bigram.
_GAP_RE = re.compile(r"[ \t\u00a0]+")


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
            self.syllables[lower] += 1
            if capital:
                self.capitals[lower] += 1
            if previous is not None and _GAP_RE.fullmatch(gap):
                key = (previous, lower)
                self.pairs[key] += 1
                if previous_capital:
                    self.pair_capitals[key + (0,)] += 1
                if capital:
                    self.pair_capitals[key + (1,)] += 1
            previous, previous_capital, sentence_start = lower, capital, False

    def merge(self, other: "Lexicon") -> None:
        self.syllables.update(other.syllables)
        self.capitals.update(other.capitals)
        self.pairs.update(other.pairs)
        self.pair_capitals.update(other.pair_capitals)

    def prune(self) -> None:
        self.pairs = Counter({k: n for k, n in self.pairs.items() if n >= MIN_PAIR_COUNT})
        self.pair_capitals = Counter({k: n for k, n in self.pair_capitals.items() if k[:2] in self.pairs})

    def save(self, folder: Path) -> None:
        path = Path(folder) / FILE_NAME
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as out:
            pickle.dump(self, out, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)  # readers load the old file or the new one, never half

    @staticmethod
    def load(folder: Path) -> "Lexicon | None":
        path = Path(folder) / FILE_NAME
        if not path.exists():
            return None
        with open(path, "rb") as data:
            return pickle.load(data)
