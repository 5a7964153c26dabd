"""Putting the diacritics back on a query typed without them, from the corpus's own text.

A bigram model over syllables: each folded syllable ("thi") may stand for several
accented ones ("thị", "thi", "thì", "thí"…); Viterbi picks the sequence that the
indexed articles make most likely, so "chi thi 35" becomes "chỉ thị 35" and
"ho thi hoang yen" becomes "Hồ Thị Hoàng Yến". Syllables typed with diacritics are
kept as typed. Capitals come from how the corpus writes each pair mid-sentence.

Pairs are smoothed with interpolated Kneser-Ney: on 1,000 held-out headlines it restores
95.2% of words where plain interpolation with single-syllable counts gave 95.1%, and
keeping the pairs seen only once (compact arrays make that affordable) gave +0.3 points.
"""
from __future__ import annotations


import numpy as np

from vnsearch.indexer.lexicon import SyllableStats
from vnsearch.indexer.normalize import has_diacritics

MAX_CANDIDATES = 12
# Kneser-Ney discount.
DISCOUNT = 0.75
# Share of mid-sentence occurrences written with a capital above which we capitalise.
# The first word of a query needs more: words like "chỉ thị" are capitalised in the
# news mostly as part of a document's name ("Chỉ thị số 35"), not as the word itself.
CAPITAL_SHARE = 0.5
FIRST_CAPITAL_SHARE = 0.8


class AccentModel:
    def __init__(self, stats: SyllableStats):
        self.stats = stats
        self.total = int(stats.counts.sum())
        # How often the corpus has the candidates of each fold (`count`): corrections ask
        # for every spelling one typing mistake from a typed word.
        self._fold_counts = stats.form_counts(MAX_CANDIDATES)
        # `forms` reads them a few at a time: as Python ints, not NumPy scalars.
        self._by_fold, self._fold_starts = memoryview(stats.by_fold), memoryview(stats.fold_starts)
        # Continuation probability: how many different syllables come before each one.
        self.continuation = np.log((stats.kinds_before + 0.5) / max(len(stats.pair_keys), 1))
        # What the suggester found for each syllable typed (`suggest._candidates`), for this
        # model's life: the same syllables come back query after query.
        self.memo: dict[str, tuple] = {}

    def knows(self, folded: str) -> bool:
        return self.stats.folds.find(folded) >= 0

    def count(self, folded: str) -> int:
        """How often the corpus has any accented form of `folded` (its candidates)."""
        k = self.stats.folds.find(folded)
        return int(self._fold_counts[k]) if k >= 0 else 0

    def counts(self, spellings: list[str]) -> np.ndarray:
        """`count` of each folded spelling (0 for one the corpus lacks), looked up together."""
        k = self.stats.folds.find_all(spellings)
        found = np.zeros(len(k), np.int64)
        found[k >= 0] = self._fold_counts[k[k >= 0]]
        return found

    def _candidates(self, folded: str) -> np.ndarray:
        """Ids of the MAX_CANDIDATES most frequent accented forms of `folded`, the most frequent first."""
        return self.stats.forms(folded)[:MAX_CANDIDATES].astype(np.int64)

    def _options(self, typed: str | list[str]) -> np.ndarray:
        """Ids of the forms `typed` may stand for (any of them, for a list of folded
        spellings); -1 for a syllable the corpus lacks."""
        if isinstance(typed, list):
            ids = np.concatenate([np.zeros(0, np.int64)] + [self._candidates(spelling) for spelling in typed])
        elif has_diacritics(typed):
            ids = np.array([self.stats.vocab.find(typed)])
        else:
            ids = self._candidates(typed)
        return ids if len(ids) else np.array([-1])

    def log_p(self, previous: np.ndarray, current: np.ndarray) -> np.ndarray:
        """log P(current | previous) for every (previous, current) pair, as a matrix."""
        stats = self.stats
        cur = np.maximum(current, 0)
        continuation = np.where(current >= 0, self.continuation[cur], np.log(1e-9))
        prev = np.maximum(previous, 0)[:, None]
        following = np.where(previous[:, None] >= 0, stats.following[prev], 0)
        rows = stats.pair_index(np.broadcast_to(prev, (len(previous), len(current))),
                                np.broadcast_to(cur, (len(previous), len(current))))
        rows[(previous[:, None] < 0) | (current[None, :] < 0)] = -1
        pair = np.where(rows >= 0, stats.pair_counts[np.maximum(rows, 0)], 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            seen = np.maximum(pair - DISCOUNT, 0) / following
            left = DISCOUNT * stats.kinds_after[prev] / following
            p = seen + left * np.exp(continuation)[None, :]
        return np.where(following > 0, np.log(np.maximum(p, 1e-12)), continuation[None, :])

    def forms(self, folded: str) -> list[int]:
        """Ids of the accented forms of a folded syllable (its candidates), the most frequent first."""
        k = self.stats.folds.find(folded)
        if k < 0:
            return []
        start = self._fold_starts[k]
        return self._by_fold[start:min(self._fold_starts[k + 1], start + MAX_CANDIDATES)].tolist()

    def pair_count(self, first: int, second: int) -> int:
        """How often the corpus has these two syllables side by side (0 for an unknown one)."""
        if first < 0 or second < 0:
            return 0
        row = int(self.stats.pair_index(np.array([first]), np.array([second]))[0])
        return int(self.stats.pair_counts[row]) if row >= 0 else 0

    def attested(self, ids: list[int]) -> bool:
        """Whether the corpus has every adjacent pair of these syllables side by side (False for one)."""
        ids = np.array(ids)
        if len(ids) < 2 or (ids < 0).any():
            return False
        return bool((self.stats.pair_index(ids[:-1], ids[1:]) >= 0).all())

    def best(self, options: list[np.ndarray], costs: list[np.ndarray] | None = None,
             steps: list[np.ndarray | None] | None = None) -> tuple[list[int], float]:
        """Viterbi over one array of syllable ids per position (-1: a syllable the corpus
        lacks): which option of each position makes the likeliest sequence once each
        option's cost (a log-probability, e.g. of a typing mistake) is taken off, and
        that sequence's score. `steps`: `log_p` between positions k and k + 1 where
        already known (None where not)."""
        if not options:
            return [], 0.0
        costs = costs or [np.zeros(len(o)) for o in options]
        steps = steps or [None] * (len(options) - 1)
        score = np.where(options[0] >= 0, self.continuation[np.maximum(options[0], 0)], np.log(1e-9)) - costs[0]
        back = []
        for previous, current, cost, step in zip(options, options[1:], costs[1:], steps):
            total = score[:, None] + (self.log_p(previous, current) if step is None else step)
            back.append(total.argmax(axis=0))
            score = total.max(axis=0) - cost
        best = [int(score.argmax())]
        for pointers in reversed(back):
            best.append(int(pointers[best[-1]]))
        best.reverse()
        return best, float(score.max())

    def restore(self, syllables: list[str | list[str]]) -> list[str]:
        """The most likely accented, lowercase form of each syllable (Viterbi); where a list
        of folded spellings stands for a syllable, the one most likely in its context."""
        options = [self._options(s) for s in syllables]
        best, _ = self.best(options)
        return [self.stats.vocab[ids[k]] if ids[k] >= 0 else (typed[0] if isinstance(typed, list) else typed)
                for typed, ids, k in zip(syllables, options, best)]

    def capitalised(self, syllables: list[str]) -> list[str]:
        """Capitalise the syllables the corpus mostly writes with a capital in this context."""
        stats = self.stats
        ids = np.array([stats.vocab.find(s) for s in syllables])
        rows = stats.pair_index(np.maximum(ids[:-1], 0), np.maximum(ids[1:], 0)) if len(ids) > 1 else []
        out = []
        for i, syllable in enumerate(syllables):
            votes = []
            if i > 0 and ids[i - 1] >= 0 and ids[i] >= 0 and rows[i - 1] >= 0:
                votes.append(stats.second_capitals[rows[i - 1]] / stats.pair_counts[rows[i - 1]])
            if i + 1 < len(syllables) and ids[i] >= 0 and ids[i + 1] >= 0 and rows[i] >= 0:
                votes.append(stats.first_capitals[rows[i]] / stats.pair_counts[rows[i]])
            if not votes and ids[i] >= 0 and stats.counts[ids[i]]:
                votes.append(stats.capitals[ids[i]] / stats.counts[ids[i]])
            share = sum(votes) / len(votes) if votes else 0.0
            threshold = FIRST_CAPITAL_SHARE if i == 0 else CAPITAL_SHARE
            out.append(syllable[:1].upper() + syllable[1:] if share > threshold else syllable)
        return out
