"""Vietnamese text analysis: the one contract between index time and query time.

A text is normalised (`indexer.normalize`) and split into units once; every view of it
(`indexer.fields.VIEWS`) derives from that one split, with offsets into the text:

- words: pyvi's segmentation, lowercased, with diacritics ("chỉ thị" is one term);
- acc: syllables with diacritics, lowercased ("đảng" is not "đang");
- fold: the same syllables folded by `fold_syllable` ("dang");
- pairs: adjacent folded syllables as one term ("hoi_dong"): phrases and proximity
  become term look-ups.

The indexer stores `Analysis.views()`; a query clause is analysed by the very same
`analyse`, and the search side takes its terms from here instead of folding, pairing
or splitting text itself. A syllable is a run of letters and digits that folds to
something; document numbers split into syllables ("35-CT/TW" → 35, ct, tw), so the
code, the code typed with spaces and "chỉ thị 35" near "Chỉ thị số 35-CT/TW" meet.

Nothing here depends on Whoosh: a second backend reuses this module as it is.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, NamedTuple

from unidecode import unidecode

from vnsearch.indexer.normalize import normalize
from vnsearch.indexer.segmentation import Span, segment, units

if TYPE_CHECKING:
    from vnsearch.indexer.lexicon import Lexicon


class Term(NamedTuple):
    text: str
    start: int
    end: int


class Views(NamedTuple):
    """The terms of each view, in `indexer.fields.VIEWS` order and under those names."""
    words: list[str]
    acc: list[str]
    fold: list[str]
    pairs: list[str]


_NOT_ALNUM_RE = re.compile(r"[\W_]+")


def _fold(syllable: str) -> str:
    # unidecode strips diacritics and maps `đ` to `d` (Unicode decomposition does
    # not), and spells other scripts in Latin letters, sometimes as several words
    # ("中国" → "Zhong Guo ") or with punctuation ("½" → "1/2"): only the letters
    # and digits are kept, so the fold of a syllable is one syllable again and text
    # typed as folded analyses to the same terms.
    return _NOT_ALNUM_RE.sub("", unidecode(syllable).lower())


class _FoldedSyllables(dict):
    """syllable -> its folded form, computed on first use.

    A language has a few thousand syllables and unidecode is slow per call; a dict
    lets the analysis look each syllable up from C (`map(_FOLDED.__getitem__, ...)`).
    """

    def __missing__(self, syllable: str) -> str:
        if len(self) >= 500_000:  # bounded: numbers and names keep adding new syllables
            self.clear()
        self[syllable] = folded = _fold(syllable)
        return folded


_FOLDED = _FoldedSyllables()


def fold_syllable(syllable: str) -> str:
    """The one fold: a syllable without diacritics, `đ` → `d`, lowercase, as one token."""
    return _FOLDED[syllable]


def fold_new_syllable(syllable: str) -> str:
    """`fold_syllable`, not remembered: for folding a whole vocabulary once
    (`indexer.lexicon`), whose 100,000 syllables would fill the cache of a search process."""
    return _fold(syllable)


def pair_terms(folded: list[str] | tuple[str, ...]) -> list[str]:
    """Adjacent folded syllables as one term each ("hoi_dong")."""
    return [f"{a}_{b}" for a, b in zip(folded, folded[1:])]


class Analysis:
    """One text, normalised and split once; every view and every offset comes from here."""

    __slots__ = ("text", "units", "syllables", "folded")

    def __init__(self, text: str, lexicon: "Lexicon | None" = None):
        self.text = normalize(text)  # same length and offsets as the NFC text
        self.units = units(self.text)
        if lexicon is not None:
            lexicon.add_units(self.text, self.units)
        syllables = [u for u in self.units if u.text[0].isalnum()]
        folded = list(map(_FOLDED.__getitem__, [s.text for s in syllables]))
        if not all(folded):  # a letter unidecode does not know: no term in any view
            kept = [i for i, f in enumerate(folded) if f]
            syllables, folded = [syllables[i] for i in kept], [folded[i] for i in kept]
        self.syllables: list[Span] = syllables
        self.folded: list[str] = folded

    @property
    def accented(self) -> list[str]:
        return [s.text.lower() for s in self.syllables]

    def word_spans(self) -> list[list[Span]]:
        """pyvi's words (the CRF runs here, so only when asked), each a list of syllables."""
        return [w for w in segment(self.text, self.units) if w[0].text[0].isalnum() and _FOLDED[w[0].text]]

    def views(self) -> Views:
        """Every view's terms, what the index stores for this text."""
        words = [w[0].text.lower() if len(w) == 1 else " ".join([s.text for s in w]).lower()
                 for w in self.word_spans()]
        return Views(words, self.accented, self.folded, pair_terms(self.folded))

    def terms(self, view: str) -> list[Term]:
        """One view's terms with their offsets into the text."""
        if view == "words":
            return [Term(" ".join(s.text for s in w).lower(), w[0].start, w[-1].end) for w in self.word_spans()]
        if view == "acc":
            return [Term(s.text.lower(), s.start, s.end) for s in self.syllables]
        if view == "fold":
            return [Term(f, s.start, s.end) for s, f in zip(self.syllables, self.folded)]
        if view == "pairs":
            spans = self.syllables
            return [Term(p, a.start, b.end) for p, a, b in zip(pair_terms(self.folded), spans, spans[1:])]
        raise ValueError(f"no view named {view!r}")


def analyse(text: str, lexicon: "Lexicon | None" = None) -> Analysis:
    """Normalise and split `text` once; with a `lexicon`, count its syllable statistics too."""
    return Analysis(text, lexicon)


def fold_text(text: str) -> str:
    """`text` as typed on a plain keyboard: every syllable folded in place, lowercased,
    everything between syllables kept ("Hồ Thị, 35-CT/TW" → "ho thi, 35-ct/tw")."""
    analysis = Analysis(text)
    out, at = [], 0
    for span, folded in zip(analysis.syllables, analysis.folded):
        out += [analysis.text[at:span.start].lower(), folded]
        at = span.end
    out.append(analysis.text[at:].lower())
    return "".join(out)


def folded_words(text: str) -> str:
    """The folded syllables of `text` joined by single spaces ("Hồ Thị  Hoàng-Yến" → "ho thi hoang yen"):
    a key under which two spellings of a name or phrase compare equal."""
    return " ".join(Analysis(text).folded)
