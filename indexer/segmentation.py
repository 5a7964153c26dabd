"""Vietnamese word segmentation with exact character offsets.

pyvi's `ViTokenizer.tokenize()` returns a respaced string, losing offsets. We run
the same CRF model on our own syllable spans instead: the features below are
pyvi's `word2features`, and the join rule is the one in its `tokenize()`.
"""
from __future__ import annotations

import re
from functools import lru_cache
from itertools import accumulate
from typing import Iterator, NamedTuple

from vnsearch.indexer import pyvi_model

# Units the CRF sees, as in pyvi's `sylabelize`: runs of letters and digits, and every
# other non-space character on its own (punctuation takes part in the features).
_UNIT_SPLIT_RE = re.compile(r"([^\W_]+|[^\w\s]|_)")
# Only Latin-script syllables make Vietnamese compounds; keeps "ủy 中国" apart.
_LATIN_RE = re.compile(r"[A-Za-z\u00C0-\u024F\u1E00-\u1EFF]+")
# Below this share of syllables carrying diacritics a line is taken as typed without
# accents, where pyvi's model joins syllables wrongly: each syllable is then its own word.
_MIN_ACCENTED_SHARE = 0.15


class Span(NamedTuple):
    start: int
    end: int
    text: str


def units(text: str, offset: int = 0) -> list[Span]:
    # Split into gap, unit, gap, unit, ..., gap and add up the lengths for offsets: a
    # fifth faster than a match object per unit, and this runs once per syllable.
    parts = _UNIT_SPLIT_RE.split(text)
    ends = list(accumulate(map(len, parts), initial=offset))
    make = tuple.__new__  # skips NamedTuple's Python-level constructor
    return [make(Span, span) for span in zip(ends[1::2], ends[2::2], parts[1::2])]


@lru_cache(maxsize=200_000)
def _unit_attributes(word: str) -> tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """A unit's lowercase form, its own attributes, and those it gives the unit after it
    ("-1:...") and the one before it ("+1:..."). Cached: a few thousand units recur."""
    lower = word.lower()
    title, upper = word.istitle(), word.isupper()
    own = ("bias", "word.lower():" + lower) + ("word.isupper()",) * upper + ("word.istitle()",) * title
    own += ("word.isdigit()",) * word.isdigit()
    as_before = ("-1:word.lower():" + lower,) + ("-1:word.istitle()",) * title + ("-1:word.isupper()",) * upper
    as_after = ("+1:word.lower():" + lower,) + ("+1:word.istitle()",) * title + ("+1:word.isupper()",) * upper
    return lower, own, as_before, as_after


def _features(words: list[str]) -> list[list[str]]:
    """pyvi's `word2features` for every unit, as crfsuite attribute names.

    pyvi builds a dict per unit that crfsuite turns into these same names ("key:value"
    for strings, "key" for true flags, false flags dropped as they weigh nothing), in
    the same order. Building the names directly, each unit's once and each n-gram
    look-up once, gives identical labels several times faster.
    """
    attributes = [_unit_attributes(w) for w in words]
    lowered = [a[0] for a in attributes]
    bi_grams, tri_grams = pyvi_model.ngrams()
    # bi[i]: units i and i+1 form a known bigram; tri[i]: units i..i+2 a known trigram.
    bi = [f"{a} {b}" in bi_grams for a, b in zip(lowered, lowered[1:])]
    tri = [f"{a} {b} {c}" in tri_grams for a, b, c in zip(lowered, lowered[1:], lowered[2:])]
    last = len(words) - 1
    items = []
    for i, (_, own, _, _) in enumerate(attributes):
        item = list(own)
        if i > 0:
            item += attributes[i - 1][2]
            if bi[i - 1]:
                item.append("-1:word.bi_gram()")
            if i > 1 and tri[i - 2]:
                item.append("-2:word.tri_gram()")
        if i < last:
            item += attributes[i + 1][3]
            if bi[i]:
                item.append("+1:word.bi_gram()")
            if i < last - 1 and tri[i]:
                item.append("+2:word.tri_gram()")
        items.append(item)
    return items


def _joins(prev: str, word: str) -> bool:
    """pyvi's rule for gluing a syllable labelled I_W to the one before it (no punctuation,
    no digits, no lowercase-to-capital step), restricted to Latin letters."""
    return (
        _LATIN_RE.fullmatch(prev) is not None
        and _LATIN_RE.fullmatch(word) is not None
        and not (word[0].istitle() and not prev[0].istitle())
    )


def _is_accented(line_units: list[Span]) -> bool:
    syllables = [u.text for u in line_units if u.text[0].isalpha()]
    if not syllables:
        return False
    accented = sum(1 for s in syllables if not s.isascii())
    return accented >= _MIN_ACCENTED_SHARE * len(syllables)


def _segment_line(line_units: list[Span]) -> list[list[Span]]:
    if not _is_accented(line_units):
        return [[u] for u in line_units]
    labels = pyvi_model.tagger().tag(_features([u.text for u in line_units]))
    groups: list[list[Span]] = []
    for unit, label in zip(line_units, labels):
        if groups and label == "I_W" and _joins(groups[-1][-1].text, unit.text):
            groups[-1].append(unit)
        else:
            groups.append([unit])
    return groups


def lines(text: str, text_units: list[Span]) -> Iterator[list[Span]]:
    """`text_units` grouped by line: a new group wherever a line break separates two units."""
    line: list[Span] = []
    for unit in text_units:
        if line and "\n" in text[line[-1].end:unit.start]:
            yield line
            line = []
        line.append(unit)
    if line:
        yield line


def segment(text: str, text_units: list[Span] | None = None) -> list[list[Span]]:
    """Words of `text` (normalised), each the list of its units with offsets into `text`.

    Pass `units(text)` if you have it already. Punctuation comes back as one-unit words;
    callers drop what they do not index. Each line is segmented on its own: a line
    break never falls inside a word.
    """
    words: list[list[Span]] = []
    for line in lines(text, units(text) if text_units is None else text_units):
        words.extend(_segment_line(line))
    return words
