"""Completions for a query being typed: frequent phrases of the corpus, and article titles.

Both match accent-insensitively, with the last typed word as a prefix: "ho thi h"
offers "Hồ Thị Hoàng Yến" and the titles that contain it. This runs on every
keystroke, so each index generation gets its tables built once (about a second on
22k articles) and a lookup is a bisection and a string scan, a few milliseconds:
- phrases: every pair of adjacent syllables the lexicon counted, sorted by its
  folded text, so the pairs that start with what was typed form one slice;
- titles: all folded titles in one string, newest first, scanned with str.find.
"""
from __future__ import annotations

import bisect
import heapq
import re
import threading
import unicodedata
import weakref
from dataclasses import dataclass
from typing import Iterable

from search.ranker import Snapshot

# Phrases kept per step while following what was typed, syllable by syllable.
BEAM = 12
# Title matches looked at before choosing; the scan stops there on very common prefixes.
TITLE_MATCHES = 200
# Occurrences inside words ("ng" in "trong") skipped before giving up on a prefix.
TITLE_SCAN = 20_000
# Pairs a one-word prefix may choose from: only the frequent ones, or "c" alone
# would rank a tenth of the lexicon on a keystroke.
FREQUENT_PAIRS = 60_000
# A phrase grows by one syllable when that syllable follows it at least this often.
GROW_SHARE = 0.5
_MARKS_RE = re.compile("[\u0300-\u036f]+")
_NON_WORD_RE = re.compile(r"[^a-z0-9\n]+")

Beam = tuple[tuple[str, ...], int]  # accented syllables, count of the rarest pair in them


def _fold(text: str) -> str:
    """Lowercase, no diacritics, `đ` as `d`, anything but letters, digits and newlines a space.

    The same letters as indexer.normalize.fold for Vietnamese, but in C-speed string
    operations: unidecode takes a second over 22k titles. Other scripts' letters
    become separators, which only costs them completions.
    """
    text = _MARKS_RE.sub("", unicodedata.normalize("NFD", text)).replace("đ", "d").replace("Đ", "d")
    return _NON_WORD_RE.sub(" ", text.lower())


def fold_words(text: str) -> str:
    """The words of `text` folded: "Hồ Thị  Hoàng-Yến" -> "ho thi hoang yen"."""
    return " ".join(_fold(text).split())


def fold_lines(lines: list[str]) -> list[str]:
    """fold_words of many texts at once (none may contain a newline)."""
    return [" ".join(line.split()) for line in _fold("\n".join(lines)).split("\n")]


@dataclass
class _Pairs:
    """Adjacent syllable pairs sorted by folded text ("chi thi"), with their accented forms."""
    keys: list[str]
    firsts: list[str]
    seconds: list[str]
    counts: list[int]

    @classmethod
    def build(cls, pairs: Iterable[tuple[tuple[str, str], int]], folded: dict[str, str]) -> "_Pairs":
        rows = sorted((f"{folded[a]} {folded[b]}", a, b, n) for (a, b), n in pairs
                      if folded[a].isalnum() and folded[b].isalnum())
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

    def __init__(self, snapshot: Snapshot):
        self.model = snapshot.accents
        pairs = self.model.lexicon.pairs if self.model else {}
        syllables = list({s for pair in pairs for s in pair})
        folded = dict(zip(syllables, fold_lines(syllables)))
        self.pairs = _Pairs.build(pairs.items(), folded)
        self.frequent = _Pairs.build(heapq.nlargest(FREQUENT_PAIRS, pairs.items(), key=lambda kv: kv[1]), folded)
        # Newest first, so that a scan cut short still finds the recent articles.
        docs = sorted((d for d in range(snapshot.size) if snapshot.live[d]), key=lambda d: -snapshot.published[d])
        self.titles = [" ".join((snapshot.searcher.stored_fields(d).get("title") or "").split()) for d in docs]
        # One string, each title between newlines, so a word start is a space or a newline before.
        self.text = "\n" + "\n".join(fold_lines(self.titles)) + "\n"
        self.starts = [m.start() for m in re.finditer("\n", self.text)]

    def complete(self, prefix: str, limit: int = 8) -> list[str]:
        typed = fold_words(prefix)
        if len(typed.replace(" ", "")) < 2 or limit < 1:
            return []
        # A trailing space means the last word is finished: "chi " is not a prefix of "chinh".
        partial = not prefix[-1:].isspace()
        phrases = self._phrases(typed.split(" "), partial, limit)
        half = max(1, limit // 2)
        chosen = phrases[:half] + self._titles(typed, partial, limit) + phrases[half:]
        unique: dict[str, str] = {}  # folded -> first shown form, in order
        for text in chosen:
            unique.setdefault(fold_words(text), text)
        return list(unique.values())[:limit]

    def _phrases(self, words: list[str], partial: bool, limit: int) -> list[str]:
        """Accented phrases for the typed words, most frequent first."""
        if len(words) == 1:
            rows = self.frequent.span(words[0] if partial else words[0] + " ")
            beams = [self.frequent.beam(i) for i in heapq.nlargest(limit, rows, key=self.frequent.counts.__getitem__)]
        else:
            rows = self.pairs.span(f"{words[0]} {words[1]}", whole=not (partial and len(words) == 2))
            beams = heapq.nlargest(BEAM, map(self.pairs.beam, rows), key=lambda b: b[1])
            for n, word in enumerate(words[2:], start=3):
                beams = self._extend(beams, word, whole=not (partial and n == len(words)))
        # "hồ thị hoàng" alone is no help when "yến" nearly always follows it.
        for i, (syllables, count) in enumerate(beams[:limit]):
            longer = self._extend([(syllables, count)], "")
            if longer and longer[0][1] >= GROW_SHARE * count:
                beams[i] = longer[0]
        return [self._shown(syllables) for syllables, _ in sorted(beams, key=lambda b: -b[1])]

    def _extend(self, beams: list[Beam], word: str, whole: bool = False) -> list[Beam]:
        """The beams grown by one syllable whose folded form is (or starts with) `word`."""
        grown = []
        for syllables, count in beams:
            last = syllables[-1]
            for row in self.pairs.span(f"{fold_words(last)} {word}", whole=whole):
                if self.pairs.firsts[row] == last:
                    grown.append((syllables + (self.pairs.seconds[row],), min(count, self.pairs.counts[row])))
        return heapq.nlargest(BEAM, grown, key=lambda b: b[1])

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


_completers: "weakref.WeakKeyDictionary[Snapshot, Completer]" = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def completer(snapshot: Snapshot) -> Completer:
    """The completion tables of `snapshot`, built on first use and dropped with it.

    Building reads stored fields, so call it with the engine's index lock held.
    """
    with _lock:
        if snapshot not in _completers:
            _completers[snapshot] = Completer(snapshot)
        return _completers[snapshot]


def complete(snapshot: Snapshot, prefix: str, limit: int = 8) -> list[str]:
    return completer(snapshot).complete(prefix, limit)
