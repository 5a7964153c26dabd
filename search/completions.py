"""Completions for a query being typed: phrases of the corpus, and article titles, kept apart.

Both match accent-insensitively, with the last typed word as a prefix: "ho thi h"
offers the phrase "Hồ Thị Hoàng Yến" and the titles that contain it. This runs on every
keystroke, so each index generation gets its tables built once (a second or two on
22k articles, outside the engine's lock) and a lookup is a few bisections and one
string scan, a few milliseconds:
- phrases: the pairs of adjacent syllables the lexicon counted, sorted by their
  folded text, so the pairs that start with what was typed form one slice; longer
  phrases chain pairs. A chain of pairs is only a guess ("Nguyễn Phú" + "Phú Trump"),
  and a pair may straddle two words ("Trung Quốc hôm nay" has "Quốc hôm"), so every
  phrase offered is first found in an article (`attest`, a few milliseconds, remembered):
  its syllables side by side from the start of a word of pyvi's, its last word whole,
  and shown with the accents and capitals that article writes;
- titles: all folded titles in one string, newest first, scanned with str.find.

The tables are arrays and long strings, not a Python object per pair or per title: a
server worker forked after they are built copies every object it reads (reading one
writes its reference count), and at 128k articles such objects took 300 MB in each
worker, where the arrays take 35 MB.
"""
from __future__ import annotations

import bisect
import heapq
import io
import re
import threading
import weakref
from array import array
from collections import Counter
from dataclasses import dataclass, field
from functools import reduce
from operator import itemgetter
from typing import Iterable, Iterator

import numpy as np
from whoosh import index as whoosh_index

from vnsearch.indexer.analysis import fold_syllable, folded_words, pair_terms
from vnsearch.indexer.fields import TEXT_FIELDS, view_field
from vnsearch.indexer.lexicon import SyllableStats
from vnsearch.indexer.normalize import normalize
from vnsearch.indexer.segmentation import segment
from vnsearch.indexer.strings import StringIndex, Strings, StringsBuilder
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

# Looking for a phrase in the articles: the articles read (each votes for how it writes
# the phrase), and the occurrences looked at, at most.
ATTEST_ARTICLES = 8
ATTEST_OCCURRENCES = 16
# Text around an occurrence that pyvi segments to find its word boundaries: its sentence,
# cut this far either side.
SENTENCE_REACH = 150
# Phrases whose look-up is remembered per index generation.
ATTESTED_CACHE = 20_000

Beam = tuple[tuple[str, ...], int]  # accented syllables, count of the rarest pair in them
_GAP = r"[ \t\u00a0]+"  # what may separate two syllables of a phrase, as in the lexicon's pairs
_SENTENCE_END_RE = re.compile(r"[.!?;…\n]")
_SYLLABLE_RE = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class Title:
    id: str
    title: str


@dataclass
class Completions:
    """Queries to complete the typed text with, and articles whose title holds it."""
    phrases: list[str] = field(default_factory=list)
    titles: list[Title] = field(default_factory=list)


def _completes(syllable: str, folded: str) -> bool:
    """Whether a syllable may appear in a completion: a lone Latin letter is an initial
    or a list marker ("Hồ Thị H."), not a word; "y" (y tế) and "ở" are words."""
    return folded.isalnum() and (len(syllable) > 1 or not syllable.isascii() or syllable in "y0123456789")


@dataclass
class _Pairs:
    """Adjacent syllable pairs sorted by folded text ("chi thi"), with their accented forms.

    Each pair is two syllable ids (into the lexicon's vocabulary) and a count, 12 bytes;
    its folded text is put together from its syllables' folds when a bisection asks.
    """
    vocab: Strings  # accented syllable of each id
    folds: bytes  # the folds as UTF-8, one after another
    fold_starts: np.ndarray  # where each id's fold begins in `folds`
    fold_ends: np.ndarray  # ... and ends
    firsts: np.ndarray
    seconds: np.ndarray
    counts: np.ndarray

    def __post_init__(self) -> None:
        # A row at a time (a bisection's key, a beam) is read through memoryviews: a Python
        # int each, where NumPy makes a scalar object, several times slower to index a list with.
        self.first, self.second, self.count, self._fold_start, self._fold_end = map(
            memoryview, (self.firsts, self.seconds, self.counts, self.fold_starts, self.fold_ends))

    @classmethod
    def build(cls, stats: SyllableStats | None) -> "_Pairs":
        """The pairs seen MIN_PAIR_COUNT times or more whose syllables may appear in a completion."""
        if stats is None:
            return cls(Strings.of([]), b"", *(np.zeros(0, np.int32),) * 5)
        vocab, folds, fold_of = stats.vocab, stats.folds, stats.fold_of
        completes = np.fromiter((_completes(s, folds[f]) for s, f in zip(vocab, memoryview(fold_of))),
                                dtype=bool, count=len(vocab))
        rows = np.flatnonzero(stats.pair_counts >= MIN_PAIR_COUNT)
        firsts, seconds = stats.pair_ids(rows)
        kept = completes[firsts] & completes[seconds]
        rows, firsts, seconds = rows[kept], firsts[kept].astype(np.int32), seconds[kept].astype(np.int32)
        # In the order of their folded text: by first fold, then second (the folds are numbered
        # alphabetically, and a space sorts before any letter or digit); lexsort is stable, so
        # ties keep the lexicon's order.
        order = np.lexsort((fold_of[seconds], fold_of[firsts]))
        fold_starts, fold_ends = (folds.bounds[fold_of + k].astype(np.int32) for k in (0, 1))
        return cls(vocab, folds.data, fold_starts, fold_ends,
                   firsts[order], seconds[order], stats.pair_counts[rows[order]].astype(np.int32))

    def take(self, rows: np.ndarray) -> "_Pairs":
        return _Pairs(self.vocab, self.folds, self.fold_starts, self.fold_ends,
                      self.firsts[rows], self.seconds[rows], self.counts[rows])

    def key(self, row: int) -> bytes:
        """The row's folded text as UTF-8 ("chi thi"), two slices of `folds`: bisections
        compare it undecoded (UTF-8 bytes sort as their strings do)."""
        a, b, start, end, folds = self.first[row], self.second[row], self._fold_start, self._fold_end, self.folds
        return folds[start[a]:end[a]] + b" " + folds[start[b]:end[b]]

    def span(self, prefix: str, whole: bool = False) -> range:
        """Rows whose key starts with `prefix`, or equals it if `whole`."""
        rows = range(len(self.counts))
        typed = prefix.encode("utf-8")  # folded text: letters and digits, spaces
        low = bisect.bisect_left(rows, typed, key=self.key)
        high = bisect.bisect_right(rows, typed, key=self.key) if whole \
            else bisect.bisect_left(rows, typed + b"\x7f", key=self.key)
        return range(low, high)

    def most_frequent(self, rows: range, n: int) -> list[int]:
        """The `n` rows of `rows` with the highest counts, highest first, ties in table order."""
        return (np.argsort(-self.counts[rows.start:rows.stop], kind="stable")[:max(n, 0)] + rows.start).tolist()

    def beam(self, row: int) -> Beam:
        return (self.vocab[self.first[row]], self.vocab[self.second[row]]), self.count[row]


class Completer:
    """Completion tables of one index generation."""

    def __init__(self, model, titles: Iterable[tuple[str, str, str]]):
        """`model`: the index's AccentModel (or None); `titles`: (date, title, id) of every article."""
        self.model = model
        stats = model.stats if model else None
        self.vocab = stats.vocab if stats else StringIndex.of([])  # accented syllables, by id
        self.pairs = _Pairs.build(stats)
        counts = self.pairs.counts
        floor = np.sort(counts)[max(len(counts) - FREQUENT_PAIRS, 0)] if len(counts) else 0
        self.frequent = self.pairs.take(np.flatnonzero(counts >= floor))
        # For growing a phrase, by syllable id: how often anything follows it, and the row of
        # its most frequent follower (the first of equals; -1: none).
        firsts, size = self.pairs.firsts, len(self.vocab)
        self.follows = np.bincount(firsts, weights=counts, minlength=size).astype(np.int64)
        most = np.zeros(size, np.int32)
        np.maximum.at(most, firsts, counts)
        tops = np.flatnonzero(counts == most[firsts])
        leaders, first_top = np.unique(firsts[tops], return_index=True)
        self.best_next = np.full(size, -1, np.int32)
        self.best_next[leaders] = tops[first_top]
        self.titles, self.title_ids = _newest_first(titles)
        # One string, each title between newlines: a word starts after a space or a newline;
        # starts[n] is where the newline before title n is.
        text, starts = io.StringIO(), array("q", [0])
        text.write("\n")
        for title in self.titles:
            line = folded_words(title) + "\n"
            text.write(line)
            starts.append(starts[-1] + len(line))
        self.text, self.starts = text.getvalue(), starts
        # Phrase -> how an article writes it (None: no article has it as words of its own).
        self.attested: dict[tuple[str, ...], str | None] = {}
        self.total = int(model.stats.counts.sum()) if model else 0

    def complete(self, prefix: str, limit: int, titles: int, reading) -> Completions:
        """Up to `limit` phrases and `titles` titles. `reading(look_up)` runs `look_up(snapshot)`
        where the index may be read, or gives None when it cannot be any more."""
        typed = folded_words(prefix)
        if len(typed.replace(" ", "")) < 2 or (limit < 1 and titles < 1):
            return Completions()
        # A trailing space means the last word is finished: "chi " is not a prefix of "chinh".
        partial = not prefix[-1:].isspace()
        unique: dict[str, str] = {}  # folded -> the form shown, in order
        for syllables in self._phrases(typed.split(" "), partial, limit):
            if len(unique) >= limit:
                break
            if syllables not in self.attested:
                # Reading the articles needs the index; segmenting them, the slow part, does not.
                found = self.occurrences(syllables, reading)
                if len(self.attested) >= ATTESTED_CACHE:
                    self.attested.clear()
                self.attested[syllables] = attest(syllables, found or [], self.together)
            written = self.attested[syllables]
            if written:
                unique.setdefault(folded_words(written), written)
        return Completions(list(unique.values()), self._titles(typed, partial, titles))

    def occurrences(self, syllables: tuple[str, ...], reading) -> list | None:
        """`occurrences` of the syllables, read where `reading` allows (another backend
        finds them its own way)."""
        return reading(lambda snapshot: occurrences(snapshot, syllables))

    def _phrases(self, words: list[str], partial: bool, limit: int) -> list[tuple[str, ...]]:
        """Accented, lowercase phrases for the typed words, most frequent first: each phrase
        as typed, then grown by a likely syllable (growing is a guess, checked like the rest)."""
        if len(words) == 1:
            rows = self.frequent.span(words[0] if partial else words[0] + " ")
            beams = [self.frequent.beam(i) for i in self.frequent.most_frequent(rows, limit)]
        else:
            rows = self.pairs.span(f"{words[0]} {words[1]}", whole=not (partial and len(words) == 2))
            beams = [self.pairs.beam(i) for i in self.pairs.most_frequent(rows, BEAM)]
            for n, word in enumerate(words[2:], start=3):
                beams = self._extend(beams, word, whole=not (partial and n == len(words)))
        shown: dict[tuple[str, ...], None] = {}
        for beam in beams:
            if beam[1] >= MIN_SHARE * beams[0][1]:
                shown.update({syllables: None for syllables, _ in (beam, self._grow(beam))})
        return list(shown)

    def together(self, first: str, second: str) -> bool:
        """Whether two accented syllables stand side by side at least as often as chance
        would put them there (pointwise mutual information >= 0): "đảng viên" do, "đảng và" not."""
        stats = self.model.stats if self.model else None
        a, b = (stats.vocab.find(first), stats.vocab.find(second)) if stats else (-1, -1)
        if a < 0 or b < 0:
            return False
        row = int(stats.pair_index(np.array([a]), np.array([b]))[0])
        return row >= 0 and int(stats.pair_counts[row]) * self.total >= int(stats.counts[a]) * int(stats.counts[b])

    def _extend(self, beams: list[Beam], word: str, whole: bool) -> list[Beam]:
        """The beams grown by one syllable whose folded form is (or starts with) `word`."""
        grown = []  # (count, number of the beam grown, id of the syllable it grows by)
        pairs = self.pairs
        for k, (syllables, count) in enumerate(beams):
            # folded_words, as before, not the pairs' own fold: for a handful of syllables they
            # differ (a lowercased Turkish "İ" reads as two syllables here), and those never grew.
            rows = pairs.span(f"{folded_words(syllables[-1])} {word}", whole=whole)
            after = np.flatnonzero(pairs.firsts[rows.start:rows.stop] == self.vocab.find(syllables[-1])) + rows.start
            grown += [(min(count, n), k, second)
                      for second, n in zip(pairs.seconds[after].tolist(), pairs.counts[after].tolist())]
        # Only the syllables kept are read from the vocabulary.
        kept = heapq.nlargest(BEAM, grown, key=itemgetter(0))
        return [(beams[k][0] + (pairs.vocab[second],), n) for n, k, second in kept]

    def _grow(self, beam: Beam) -> Beam:
        """The phrase and the syllable that nearly always follows it: "hồ thị hoàng" -> "... yến".

        One syllable only: each further one would be a guess from a guess.
        """
        syllables, count = beam
        last = self.vocab.find(syllables[-1])
        row = int(self.best_next[last])
        if row < 0:
            return beam
        following, times = self.pairs.vocab[self.pairs.second[row]], self.pairs.count[row]
        if times < GROW_SHARE * int(self.follows[last]) or times > GROW_RATIO * count or following in syllables:
            return beam
        return syllables + (following,), min(count, times)

    def _titles(self, typed: str, partial: bool, limit: int) -> list[Title]:
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
        return [Title(self.title_ids[line], self.titles[line]) for line in ordered[:limit]]


def _newest_first(titles: Iterable[tuple[str, str, str]]) -> tuple[Strings, Strings]:
    """The titles (spaces made single) and the ids of `titles`, (date, title, id) triples,
    newest first (equal dates in the order given), so that a scan cut short still finds
    the recent articles.

    Read one triple at a time into buffers, then put in order: a list of all 128,061
    triples, freed once sorted, left 20 MB of the allocator's memory scattered.
    """
    numbers: dict[str, int] = {}  # each distinct date, numbered as first seen
    dated = array("i")
    texts, ids = StringsBuilder(), StringsBuilder()
    for date, title, article_id in titles:
        dated.append(numbers.setdefault(date, len(numbers)))
        texts.append(" ".join(title.split()))
        ids.append(article_id)
    rank = np.zeros(len(numbers), np.int64)  # each date's place among them, in alphabetical order
    rank[[numbers[date] for date in sorted(numbers)]] = np.arange(len(numbers))
    dates = rank[np.frombuffer(dated, np.int32)] if len(dated) else np.zeros(0, np.int64)
    newest = np.argsort(-dates, kind="stable")
    return texts.strings().take(newest), ids.strings().take(newest)


def _titles(snapshot: Snapshot) -> Iterator[tuple[str, str, str]]:
    """(date, title, id) of every live article, read through a reader of our own.

    The engine's searcher is shared under its lock; reading 22k stored documents takes
    most of a second, which searches should not wait for.
    """
    if snapshot.folder is None:
        return
    with whoosh_index.open_dir(str(snapshot.folder)).reader() as reader:
        for fields in reader.all_stored_fields():
            yield fields.get("date") or "", fields.get("title") or "", fields["id"]


_completers: "weakref.WeakKeyDictionary[Snapshot, Completer]" = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def completer(snapshot: Snapshot) -> Completer:
    """The completion tables of `snapshot`, built on first use and dropped with it."""
    with _lock:
        if snapshot not in _completers:
            _completers[snapshot] = Completer(snapshot.accents, _titles(snapshot))
        return _completers[snapshot]


def forget(snapshot: Snapshot) -> None:
    """Drop `snapshot`'s tables: its syllable statistics changed (`Engine._load_language`)."""
    with _lock:
        _completers.pop(snapshot, None)


def complete(snapshot: Snapshot, prefix: str, limit: int, titles: int, reading) -> Completions:
    return completer(snapshot).complete(prefix, limit, titles, reading)


def occurrences(snapshot: Snapshot, syllables: tuple[str, ...]) -> list[tuple[int, str, str, re.Match]]:
    """(document, text, its normalised form, match) of the first places where the syllables
    (accented, lowercase) stand side by side, in the articles whose pairs view has them all."""
    if len(syllables) < 2:
        return []
    docs = np.unique(np.concatenate([_holding(snapshot, view_field(name, "pairs"), syllables)
                                     for name in TEXT_FIELDS]))
    docs = docs[snapshot.live[docs]][:ATTEST_ARTICLES]
    return matches(syllables, ((doc, snapshot.searcher.stored_fields(doc)) for doc in docs.tolist()))


def matches(syllables: tuple[str, ...], documents) -> list[tuple[object, str, str, re.Match]]:
    """(document, text, its normalised form, match) of the first places where the syllables
    stand side by side in `documents`, pairs of (document, its stored fields)."""
    pattern = re.compile(r"(?<![^\W_])" + _GAP.join(map(re.escape, syllables)) + r"(?![^\W_])", re.IGNORECASE)
    found = []
    for doc, stored in documents:
        for name in TEXT_FIELDS:
            text = stored.get(name) or ""
            normal = normalize(text)  # the index's tone placement, at the text's own offsets
            found += [(doc, text, normal, match) for match in pattern.finditer(normal)]
            if len(found) >= ATTEST_OCCURRENCES:
                return found[:ATTEST_OCCURRENCES]
    return found


def attest(syllables: tuple[str, ...], found: list[tuple[int, str, str, re.Match]], together) -> str | None:
    """The syllables as the articles write them where they stand as a phrase, their last word
    made whole; None if they never do. `found` are their `occurrences`.

    A phrase stands in an article where its syllables begin a word of pyvi's segmentation
    of the sentence; it ends where its last word does ("Ban Chỉ" is shown as "Ban Chỉ
    đạo"). Inside it, two words next to each other must belong together: their syllables
    at the seam meet more often than chance (`together`), or are both capitalised, as
    names are ("Hồ Thị | Hoàng Yến"). So "Quốc hôm" (in "Trung Quốc hôm nay") and "đảng
    và" are no phrase.

    Each article votes once for how it writes the phrase, a mid-sentence form weighing
    more than one opening a sentence or in a headline in capitals: "chỉ thị", not the
    "Chỉ thị" that opens a sentence, nor one article's "Chính Phủ".
    """
    forms: Counter = Counter()
    voted: set[int] = set()
    for doc, text, normal, match in found:
        words = _words(normal, match.start(), match.end()) if doc not in voted else None
        if words is None:
            continue
        end, seams = words
        written = text[match.start():end].split()
        if all(together(syllables[i - 1], syllables[i])
               or (written[i - 1][:1].isupper() and written[i][:1].isupper()) for i in seams):
            shown = " ".join(written)
            forms[shown] += 1 + 2 * _mid_sentence(normal, match.start(), shown)
            voted.add(doc)
    return forms.most_common(1)[0][0] if forms else None


def _holding(snapshot: Snapshot, field: str, syllables: tuple[str, ...]) -> np.ndarray:
    """Documents whose `field` has every adjacent pair of the syllables (folded)."""
    pairs = pair_terms([fold_syllable(s) for s in syllables])
    return reduce(np.intersect1d, (snapshot.postings(field, pair)[0] for pair in pairs))


def _words(text: str, start: int, end: int) -> tuple[int, list[int]] | None:
    """Where text[start:end] ends once its last word is whole, and where pyvi's words meet
    inside it (as numbers of the syllable after each seam); None unless it begins a word.

    pyvi segments the sentence around the span: "Quốc hôm" in "Trung Quốc | hôm nay"
    begins inside a word and is no phrase; "Ban Chỉ" in "Ban | Chỉ đạo" ends inside one
    and becomes "Ban Chỉ đạo".
    """
    low = max(0, start - SENTENCE_REACH)
    ends = [m.end() for m in _SENTENCE_END_RE.finditer(text, low, start)]
    low = ends[-1] if ends else low
    after = _SENTENCE_END_RE.search(text, end, min(len(text), end + SENTENCE_REACH))
    high = after.start() if after else min(len(text), end + SENTENCE_REACH)
    words = [(w[0].start + low, w[-1].end + low) for w in segment(text[low:high])]
    if not any(first == start for first, _ in words):
        return None
    whole = max((last for first, last in words if first < end <= last), default=end)
    syllables = [m.start() for m in _SYLLABLE_RE.finditer(text, start, end)]
    firsts = {first for first, _ in words}
    return whole, [i for i, at in enumerate(syllables) if i and at in firsts]


def _mid_sentence(text: str, start: int, written: str) -> bool:
    """Written where its capitals are its own: not opening a sentence, not in capitals throughout."""
    before = text[:start].rstrip(" \t\u00a0")
    return bool(before) and before[-1] not in ".!?…:\n\"“(-–" and not written.isupper()
