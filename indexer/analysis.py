"""Analysed views of a Vietnamese text, every token with offsets into the text.

- words: pyvi's segmentation, lowercased, with diacritics ("chỉ thị" is one term);
  ranks compounds above scattered syllables ("chính phủ" vs "phủ nhận … chính sách").
- accented syllables: for accent-exact matches and phrases ("đảng" is not "đang").
- folded syllables: no diacritics, `đ` → `d`, for queries typed without accents.
- pairs of adjacent folded syllables ("hoi_dong"): phrases and proximity by look-up.

Document numbers split into syllables ("35-CT/TW" → 35, ct, tw), so the code, the
code typed with spaces and "chỉ thị 35" near "Chỉ thị số 35-CT/TW" all meet as phrases.

Offsets refer to the NFC text (normalisation keeps lengths). The analyzers are
module-level classes because Whoosh pickles them into the index.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Callable, Iterator, NamedTuple

from whoosh.analysis import Analyzer, Token

from vnsearch.indexer.normalize import fold, normalize
from vnsearch.indexer.segmentation import Span, segment, units

if TYPE_CHECKING:
    from vnsearch.indexer.lexicon import Lexicon


# A syllable: a run of letters and digits (what `units` yields besides punctuation).
SYLLABLE_RE = re.compile(r"[^\W_]+")


class Term(NamedTuple):
    text: str
    start: int
    end: int


def _is_term(span: Span) -> bool:
    return span.text[0].isalnum()


def syllable_terms(text: str) -> list[Term]:
    """Lowercased syllables (letters and digits runs) with diacritics."""
    return [Term(s.text.lower(), s.start, s.end) for s in units(normalize(text)) if _is_term(s)]


class _FoldedSyllables(dict):
    """syllable -> its folded form, computed on first use.

    A language has a few thousand syllables and unidecode is slow per call; a dict
    lets `analyse` look each syllable up from C (`map(_FOLDED.__getitem__, ...)`).
    """

    def __missing__(self, syllable: str) -> str:
        if len(self) >= 500_000:  # bounded: numbers and names keep adding new syllables
            self.clear()
        # unidecode spells some scripts as several space-separated words ("中国" → "Zhong Guo").
        self[syllable] = folded = "".join(fold(syllable).split())
        return folded


_FOLDED = _FoldedSyllables()


def fold_syllable(syllable: str) -> str:
    """One syllable without diacritics, `đ` → `d`, lowercase, as one token."""
    return _FOLDED[syllable]


def folded_terms(text: str) -> list[Term]:
    """Syllables without diacritics: what a user types on a plain keyboard."""
    terms = [Term(fold_syllable(s.text), s.start, s.end) for s in units(normalize(text)) if _is_term(s)]
    return [t for t in terms if t.text]


def word_terms(text: str) -> list[Term]:
    """pyvi words, syllables joined by one space, lowercased, with diacritics."""
    terms = []
    for word in segment(normalize(text)):
        if _is_term(word[0]):
            terms.append(Term(" ".join(s.text for s in word).lower(), word[0].start, word[-1].end))
    return terms


def pair_terms(folded: list[str]) -> list[str]:
    """Adjacent folded syllables as one term ("hoi_dong"): phrases and proximity become
    plain term look-ups instead of position checks."""
    return [f"{a}_{b}" for a, b in zip(folded, folded[1:])]


def pair_terms_of(text: str) -> list[Term]:
    folded = folded_terms(text)
    return [Term(f"{a.text}_{b.text}", a.start, b.end) for a, b in zip(folded, folded[1:])]


class Views(NamedTuple):
    """The terms of each view, named as the schema's field suffixes."""
    words: list[str]
    acc: list[str]
    fold: list[str]
    pairs: list[str]


def analyse(text: str, lexicon: "Lexicon | None" = None) -> Views:
    """All views at once, normalising and splitting the text only once.

    With a `lexicon`, the text's syllable statistics are counted from the same split.
    """
    normal = normalize(text)
    text_units = units(normal)
    if lexicon is not None:
        lexicon.add_units(normal, text_units)
    syllables = [s.text for s in text_units if s.text[0].isalnum()]
    words = [w[0].text.lower() if len(w) == 1 else " ".join([s.text for s in w]).lower()
             for w in segment(normal, text_units) if w[0].text[0].isalnum()]
    folded = [f for f in map(_FOLDED.__getitem__, syllables) if f]
    return Views(words, [s.lower() for s in syllables], folded, pair_terms(folded))


class _TermAnalyzer(Analyzer):
    """A Whoosh analyzer over one of the term functions above."""

    terms: Callable[[str], list[Term]]

    def __eq__(self, other) -> bool:
        return type(self) is type(other)

    def __hash__(self) -> int:
        return hash(type(self))

    def __call__(self, value: str, positions: bool = False, chars: bool = False,
                 keeporiginal: bool = False, removestops: bool = True,
                 start_pos: int = 0, start_char: int = 0, mode: str = "",
                 **kwargs) -> Iterator[Token]:
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        for pos, term in enumerate(type(self).terms(value), start_pos):
            token.text = term.text
            token.boost = 1.0
            token.stopped = False
            if keeporiginal:
                token.original = value[term.start:term.end]
            if positions:
                token.pos = pos
            if chars:
                token.startchar = start_char + term.start
                token.endchar = start_char + term.end
            yield token


class WordAnalyzer(_TermAnalyzer):
    terms = staticmethod(word_terms)


class AccentedAnalyzer(_TermAnalyzer):
    terms = staticmethod(syllable_terms)


class FoldedAnalyzer(_TermAnalyzer):
    terms = staticmethod(folded_terms)


class PairAnalyzer(_TermAnalyzer):
    terms = staticmethod(pair_terms_of)
