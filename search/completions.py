"""Completions for a query being typed: frequent phrases of the corpus, and article titles.

Both match accent-insensitively, with the last typed word as a prefix: "ho thi h"
offers "Hồ Thị Hoàng Yến" and the titles that contain it. This runs on every
keystroke, so each index generation gets its tables built once (a second or two on
22k articles, outside the engine's lock) and a lookup is a few bisections and one
string scan, a few milliseconds:
- phrases: the pairs of adjacent syllables the lexicon counted, sorted by their
  folded text, so the pairs that start with what was typed form one slice; longer
  phrases chain pairs, so they are only as sure as a bigram model can be;
- titles: all folded titles in one string, newest first, scanned with str.find.
"""
from __future__ import annotations

import bisect
import heapq
import re
import threading
import weakref
from collections import Counter
from dataclasses import dataclass
from operator import itemgetter

from whoosh import index as whoosh_index

from vnsearch.indexer.analysis import fold_syllable, folded_words
from vnsearch.search.ranker import Snapshot

# Pairs seen fewer times are mostly typos and noise ("hội nghi bằng").
MIN_PAIR_COUNT = 3
# Phrases kept per step while following what was typed, syllable by syllable.
BEAM = 12
# Rarer readings of the typed letters than this share of the best are noise ("chí thì").
MIN_SHARE = 0.05
# A phrase grows past what was typed only by a syllable that follows its last one at
# least this often ("chỉ thị Kim", from "Thị Kim" in names, does not) and in a pair at
# most this much more frequent than the phrase ("nghị quyết" does not grow into
# "nghị quyết định", from the far more frequent "quyết định").
GROW_SHARE = 0.5
GROW_RATIO = 2.0
# Title matches looked at before choosing; the scan stops there on very common prefixes.
TITLE_MATCHES = 200
# Occurrences inside words ("ng" in "trong") skipped before giving up on a prefix.
TITLE_SCAN = 20_000
# Pairs a one-word prefix may choose from: only the frequent ones, or "c" alone
# would rank a tenth of the lexicon on a keystroke.
FREQUENT_PAIRS = 50_000

Beam = tuple[tuple[str, ...], int]  # accented syllables, count of the rarest pair in them


def _completes(syllable: str, folded: str) -> bool:
    """Whether a syllable may appear in a completion: a lone Latin letter is an initial
    or a list marker ("Hồ Thị H."), not a word; "y" (y tế) and "ở" are words."""
    return folded.isalnum() and (len(syllable) > 1 or not syllable.isascii() or syllable in "y0123456789")


@dataclass
class _Pairs:
    """Adjacent syllable pairs sorted by folded text ("chi thi"), with their accented forms."""
    keys: list[str]
    firsts: list[str]
    seconds: list[str]
    counts: list[int]

    @classmethod
    def build(cls, rows: list[tuple[str, str, str, int]]) -> "_Pairs":
        return cls(*map(list, zip(*rows))) if rows else cls([], [], [], [])

    def span(self, prefix: str, whole: bool = False) -> range:
        """Rows whose key starts with `prefix`, or equals it if `whole`."""
        low = bisect.bisect_left(self.keys, prefix)
        high = bisect.bisect_right(self.keys, prefix) if whole else bisect.bisect_left(self.keys, prefix + "\x7f")
        return range(low, high)

    def beam(self, row: int) -> Beam:
        return (self.firsts[row], self.seconds[row]), self.counts[row]


class Completer:
    """Completion tables of one index generation."""

    def __init__(self, model, titles: list[tuple[str, str]]):
        """`model`: the index's AccentModel (or None); `titles`: (date, title) of every article."""
        self.model = model
        pairs = [(pair, n) for pair, n, _, _ in model.stats.pair_rows(MIN_PAIR_COUNT)] if model else []
        folded = {s: fold_syllable(s) for pair, _ in pairs for s in pair}
        rows = [(f"{folded[a]} {folded[b]}", a, b, n) for (a, b), n in pairs
                if _completes(a, folded[a]) and _completes(b, folded[b])]
        rows.sort(key=itemgetter(0))
        self.pairs = _Pairs.build(rows)
        floor = heapq.nlargest(FREQUENT_PAIRS, self.pairs.counts)[-1] if rows else 0
        self.frequent = _Pairs.build([row for row in rows if row[3] >= floor])
        # For growing a phrase: each syllable's most frequent follower, and how often anything follows it.
        self.follows: Counter = Counter()
        self.best_next: dict[str, tuple[str, int]] = {}
        for _, first, second, count in rows:
            self.follows[first] += count
            if count > self.best_next.get(first, ("", 0))[1]:
                self.best_next[first] = (second, count)
        # Newest first, so that a scan cut short still finds the recent articles.
        self.titles = [" ".join(title.split()) for _, title in sorted(titles, key=itemgetter(0), reverse=True)]
        # One string, each title between newlines: a word starts after a space or a newline.
        self.text = "\n" + "\n".join(map(folded_words, self.titles)) + "\n"
        self.starts = [m.start() for m in re.finditer("\n", self.text)]

    def complete(self, prefix: str, limit: int = 8) -> list[str]:
        typed = folded_words(prefix)
        if len(typed.replace(" ", "")) < 2 or limit < 1:
            return []
        # A trailing space means the last word is finished: "chi " is not a prefix of "chinh".
        partial = not prefix[-1:].isspace()
        phrases = self._phrases(typed.split(" "), partial, limit)
        half = max(1, limit // 2)
        unique: dict[str, str] = {}  # folded -> first shown form, in order
        for text in phrases[:half] + self._titles(typed, partial, limit) + phrases[half:]:
            unique.setdefault(folded_words(text), text)
        return list(unique.values())[:limit]

    def _phrases(self, words: list[str], partial: bool, limit: int) -> list[str]:
        """Accented phrases for the typed words, most frequent first."""
        if len(words) == 1:
            rows = self.frequent.span(words[0] if partial else words[0] + " ")
            beams = [self.frequent.beam(i) for i in heapq.nlargest(limit, rows, key=self.frequent.counts.__getitem__)]
        else:
            rows = self.pairs.span(f"{words[0]} {words[1]}", whole=not (partial and len(words) == 2))
            beams = heapq.nlargest(BEAM, map(self.pairs.beam, rows), key=itemgetter(1))
            for n, word in enumerate(words[2:], start=3):
                beams = self._extend(beams, word, whole=not (partial and n == len(words)))
        if not beams:
            return []
        shown = []
        for beam in beams:
            if beam[1] >= MIN_SHARE * beams[0][1]:
                # The phrase as typed, then grown by a likely syllable: growing is a guess.
                shown += {self._shown(syllables): None for syllables, _ in (beam, self._grow(beam))}
        return shown

    def _extend(self, beams: list[Beam], word: str, whole: bool) -> list[Beam]:
        """The beams grown by one syllable whose folded form is (or starts with) `word`."""
        grown = []
        for syllables, count in beams:
            last = syllables[-1]
            for row in self.pairs.span(f"{folded_words(last)} {word}", whole=whole):
                if self.pairs.firsts[row] == last:
                    grown.append((syllables + (self.pairs.seconds[row],), min(count, self.pairs.counts[row])))
        return heapq.nlargest(BEAM, grown, key=itemgetter(1))

    def _grow(self, beam: Beam) -> Beam:
        """The phrase and the syllable that nearly always follows it: "hồ thị hoàng" -> "... yến".

        One syllable only: each further one would be a guess from a guess.
        """
        syllables, count = beam
        following, times = self.best_next.get(syllables[-1], ("", 0))
        if not times or times < GROW_SHARE * self.follows[syllables[-1]] or times > GROW_RATIO * count \
                or following in syllables:
            return beam
        return syllables + (following,), min(count, times)

    def _shown(self, syllables: tuple[str, ...]) -> str:
        """Capitals where the corpus writes them: "Hồ Thị Hoàng Yến", but "chỉ thị"."""
        return " ".join(self.model.capitalised(list(syllables)) if self.model else syllables)

    def _titles(self, typed: str, partial: bool, limit: int) -> list[str]:
        """Titles with the typed words at a word start; those that begin with them first."""
        found: dict[int, bool] = {}  # title number -> the title begins with the words
        at, scanned = self.text.find(typed), 0
        while at != -1 and len(found) < TITLE_MATCHES and scanned < TITLE_SCAN:
            end = at + len(typed)
            if self.text[at - 1] in " \n" and (partial or self.text[end] in " \n"):
                line = bisect.bisect_left(self.starts, at) - 1
                found.setdefault(line, self.text[at - 1] == "\n")
            at, scanned = self.text.find(typed, at + 1), scanned + 1
        ordered = sorted(found, key=lambda line: (not found[line], line))
        return [self.titles[line] for line in ordered[:limit]]


def _titles(snapshot: Snapshot) -> list[tuple[str, str]]:
    """(date, title) of every live article, read through a reader of our own.

    The engine's searcher is shared under its lock; reading 22k stored documents takes
    most of a second, which searches should not wait for.
    """
    if snapshot.folder is None:
        return []
    with whoosh_index.open_dir(str(snapshot.folder)).reader() as reader:
        return [(fields.get("date") or "", fields.get("title") or "") for fields in reader.all_stored_fields()]


_completers: "weakref.WeakKeyDictionary[Snapshot, Completer]" = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def completer(snapshot: Snapshot) -> Completer:
    """The completion tables of `snapshot`, built on first use and dropped with it."""
    with _lock:
        if snapshot not in _completers:
            _completers[snapshot] = Completer(snapshot.accents, _titles(snapshot))
        return _completers[snapshot]


def complete(snapshot: Snapshot, prefix: str, limit: int = 8) -> list[str]:
    return completer(snapshot).complete(prefix, limit)
