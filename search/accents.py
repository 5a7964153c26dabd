"""Putting the diacritics back on a query typed without them, from the corpus's own text.

A bigram model over syllables: each folded syllable ("thi") may stand for several
accented ones ("thị", "thi", "thì", "thí"…); Viterbi picks the sequence that the
indexed articles make most likely, so "chi thi 35" becomes "chỉ thị 35" and
"ho thi hoang yen" becomes "Hồ Thị Hoàng Yến". Syllables typed with diacritics are
kept as typed. Capitals come from how the corpus writes each pair mid-sentence.
"""
from __future__ import annotations

import math
from collections import defaultdict

from indexer.lexicon import Lexicon
from indexer.normalize import fold, has_diacritics

# Weight of the pair estimate against the single-syllable one (interpolated smoothing).
PAIR_WEIGHT = 0.8
MAX_CANDIDATES = 12
# Share of mid-sentence occurrences written with a capital above which we capitalise.
# The first word of a query needs more: words like "chỉ thị" are capitalised in the
# news mostly as part of a document's name ("Chỉ thị số 35"), not as the word itself.
CAPITAL_SHARE = 0.5
FIRST_CAPITAL_SHARE = 0.8


class AccentModel:
    def __init__(self, lexicon: Lexicon):
        self.lexicon = lexicon
        self.total = sum(lexicon.syllables.values()) or 1
        self.following: dict[str, int] = defaultdict(int)
        for (first, _), count in lexicon.pairs.items():
            self.following[first] += count
        candidates: dict[str, list[str]] = defaultdict(list)
        for syllable in lexicon.syllables:
            candidates[fold(syllable)].append(syllable)
        self.candidates = {
            key: sorted(forms, key=lambda f: -lexicon.syllables[f])[:MAX_CANDIDATES]
            for key, forms in candidates.items()
        }

    def knows(self, folded: str) -> bool:
        return folded in self.candidates

    def _options(self, typed: str) -> list[str]:
        if has_diacritics(typed):
            return [typed]
        return self.candidates.get(typed, [typed])

    def _log_p(self, previous: str | None, syllable: str) -> float:
        single = (self.lexicon.syllables.get(syllable, 0) + 0.1) / self.total
        if previous is None or not self.following.get(previous):
            return math.log(single)
        pair = self.lexicon.pairs.get((previous, syllable), 0) / self.following[previous]
        return math.log(PAIR_WEIGHT * pair + (1 - PAIR_WEIGHT) * single)

    def restore(self, syllables: list[str]) -> list[str]:
        """The most likely accented, lowercase form of each syllable (Viterbi)."""
        if not syllables:
            return []
        # best[form] = (log probability, path)
        best = {form: (self._log_p(None, form), [form]) for form in self._options(syllables[0])}
        for typed in syllables[1:]:
            step = {}
            for form in self._options(typed):
                score, path = max(((s + self._log_p(prev, form), p) for prev, (s, p) in best.items()),
                                  key=lambda sp: sp[0])
                step[form] = (score, path + [form])
            best = step
        return max(best.values(), key=lambda sp: sp[0])[1]

    def capitalised(self, syllables: list[str]) -> list[str]:
        """Capitalise the syllables the corpus mostly writes with a capital in this context."""
        out = []
        for i, syllable in enumerate(syllables):
            votes = []
            if i > 0 and (syllables[i - 1], syllable) in self.lexicon.pairs:
                key = (syllables[i - 1], syllable)
                votes.append(self.lexicon.pair_capitals.get(key + (1,), 0) / self.lexicon.pairs[key])
            if i + 1 < len(syllables) and (syllable, syllables[i + 1]) in self.lexicon.pairs:
                key = (syllable, syllables[i + 1])
                votes.append(self.lexicon.pair_capitals.get(key + (0,), 0) / self.lexicon.pairs[key])
            if not votes and self.lexicon.syllables.get(syllable):
                votes.append(self.lexicon.capitals.get(syllable, 0) / self.lexicon.syllables[syllable])
            share = sum(votes) / len(votes) if votes else 0.0
            threshold = FIRST_CAPITAL_SHARE if i == 0 else CAPITAL_SHARE
            out.append(syllable[:1].upper() + syllable[1:] if share > threshold else syllable)
        return out
