"""Which typed syllables form one Vietnamese word, from the corpus's own statistics.

A Vietnamese word is often several syllables ("biển đông", "chủ tịch nước"): `bien dong`
means the word, not "biển" and "đông" anywhere in an article. Typed without diacritics,
pyvi cannot segment a query, so the corpus decides: two adjacent syllables are one word
when the corpus has them side by side far more often than chance would put them there
(pointwise mutual information over the indexed text, accent-insensitive, so a query
joins the same way typed with or without diacritics). Numbers never join letters:
"chỉ thị 35" must still find "Chỉ thị số 35".
"""
from __future__ import annotations

import math

import numpy as np

from vnsearch.indexer.lexicon import SyllableStats
from vnsearch.search.syntax import Query, Text

# Up to this many words a query is short: every word must match, a word of several
# syllables side by side. Past it, a share of its syllables (`search.scoring`).
SHORT_QUERY_WORDS = 4

# log(observed / expected) above which two syllables are one word: 0 joins every pair the
# corpus has side by side more often than chance would. On the development split
# "bien dong" (2.2), "tham nhung" (2.2), "ha noi" (4.5) and "chi thi" (0.1) join;
# "thi hoang" (-0.6) and "covid ha" (never seen) do not. Checked on the development
# split (docs/BENCHMARKS.md, "Tuning").
JOIN_PMI = 0.0
# Pairs seen fewer times than this are too rare to call a word.
MIN_PAIR_COUNT = 3


class WordStats:
    """Accent-insensitive counts of syllables and adjacent pairs, from the index's lexicon."""

    def __init__(self, stats: SyllableStats):
        self.stats = stats
        self.total = max(int(stats.counts.sum()), 1)

    def count(self, folded: str) -> int:
        return int(self.stats.counts[self.stats.forms(folded)].sum())

    def pair_count(self, first: str, second: str) -> int:
        a, b = self.stats.forms(first), self.stats.forms(second)
        if not len(a) or not len(b):
            return 0
        rows = self.stats.pair_index(np.repeat(a, len(b)), np.tile(b, len(a)))
        return int(self.stats.pair_counts[rows[rows >= 0]].sum())

    def association(self, first: str, second: str) -> float:
        """Pointwise mutual information of the folded pair; -inf when too rare to judge."""
        together = self.pair_count(first, second)
        if together < MIN_PAIR_COUNT:
            return -math.inf
        return math.log(together * self.total / (self.count(first) * self.count(second)))

    def joins(self, first: str, second: str) -> bool:
        return first.isalpha() and second.isalpha() and self.association(first, second) >= JOIN_PMI


def _joinable(group: list[Text]) -> bool:
    """A typed word standing alone: not quoted, not one of OR's alternatives, not a field."""
    text = group[0]
    return len(group) == 1 and len(text.syllables) == 1 and not text.quoted and not text.title_only


def join_words(query: Query, words: WordStats | None) -> Query:
    """The query with adjacent typed syllables that form a word made one phrase each.

    Only a short query is joined. A long one (a question, a pasted sentence) matches a
    share of its syllables and counts their pairs as proximity evidence: required as
    units, the wrong joins of a long chain ("tàu sân bay uss carl vinson", "đã kết thúc
    nhiệm vụ") left the article it was pasted from unmatched.
    """
    if words is None:
        return query
    groups: list[list[Text]] = []
    growing: list[bool] = []  # whether groups[i] is a run of joinable syllables
    for group in query.groups:
        if (_joinable(group) and growing and growing[-1]
                and words.joins(groups[-1][0].folded[-1], group[0].folded[0])):
            groups[-1] = [Text(groups[-1][0].syllables + group[0].syllables, phrase=True)]
        else:
            groups.append(group)
            growing.append(_joinable(group))
    if len(groups) > SHORT_QUERY_WORDS:
        return query
    return Query(groups, query.excluded, query.sources, query.start, query.end)
