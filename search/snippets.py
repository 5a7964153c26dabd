"""Highlighted fragments of the original accented text.

Matching is by syllable, so a query typed without diacritics still marks the accented
words ("ho thi hoang yen" marks "Hồ Thị Hoàng Yến"). A syllable typed with diacritics
marks its exact form, or its folded form where the text has no exact one. All text is
escaped; the only markup added is `<mark>`.
"""
from __future__ import annotations

import bisect
import html
import re
from functools import lru_cache
from typing import Iterable, Iterator, NamedTuple

import numpy as np

from vnsearch.indexer.analysis import analyse, fold_syllable
from vnsearch.indexer.normalize import has_diacritics, normalize

FRAGMENT_CHARS = 200
MAX_FRAGMENTS = 3
# How far before the first match a fragment may start, to show some context.
LEAD_CHARS = 60
_SENTENCE_END_RE = re.compile(r"[.!?…;:\n]\s+")
_SPACES_RE = re.compile(r"\s+")
_JOINER_RE = re.compile(r"\s*[-–/]?\s*")


class Key(NamedTuple):
    """One syllable of the query: its folded form, and its accented form if typed with one.

    A syllable of a phrase ("hội đồng nhân dân", the long form of "HĐND") carries the
    phrase's folded syllables and its place in it: it marks only whole occurrences.
    """
    folded: str
    accented: str | None
    phrase: tuple[str, ...] = ()
    place: int = 0


def keys_for(syllables: Iterable[str], phrases: Iterable[tuple[str, ...]] = ()) -> list[Key]:
    keys = {Key(fold_syllable(s), s if has_diacritics(s) else None) for s in syllables}
    for phrase in phrases:
        folded = tuple(map(fold_syllable, phrase))
        keys |= {Key(f, s if has_diacritics(s) else None, folded, i) for i, (f, s) in enumerate(zip(folded, phrase))}
    # "xế xe" gives two keys of one folded form, one without an accented form: no None < str.
    return sorted(keys, key=lambda k: (k.folded, k.accented or "", k.phrase, k.place))


def match_spans(text: str, keys: list[Key]) -> list[tuple[int, int, int]]:
    """(start, end, key index) of every marked syllable, in text order.

    A syllable typed with diacritics marks its exact form where the text has one. When
    the query has several syllables, a match standing next to another match is marked,
    and a lone one only if its syllable has no such neighbourly match anywhere: "chi thi"
    marks "Chỉ thị" but not the "thi" of "thi hành" elsewhere in the article.
    """
    wanted: dict[str, list[int]] = {}
    for k, key in enumerate(keys):
        wanted.setdefault(key.folded, []).append(k)
    hits: list[tuple[int, int, int, int, bool]] = []  # (ordinal, start, end, key, exact)
    for ordinal, start, end, folded, accented in _syllables(text, wanted):
        for k in wanted.get(folded, ()):
            hits.append((ordinal, start, end, k, keys[k].accented == accented))
    exact_keys = {k for _, _, _, k, exact in hits if exact}
    hits = [h for h in hits if not keys[h[3]].accented or h[4] or h[3] not in exact_keys]
    if any(key.phrase for key in keys):
        hits = _whole_phrases(hits, keys)
    if len(keys) > 1:
        ordinals = {h[0] for h in hits}
        together = [h for h in hits if h[0] - 1 in ordinals or h[0] + 1 in ordinals]
        grouped = {h[3] for h in together}
        hits = together + [h for h in hits if h[3] not in grouped]
    return sorted((start, end, k) for _, start, end, k, _ in hits)


def _syllables(text: str, wanted: dict[str, list[int]]) -> Iterator[tuple[int, int, int, str, str]]:
    """(ordinal, start, end, folded, accented) of the text's syllables, at least of all those
    whose fold is `wanted`, with ordinals that keep which of them stand side by side.

    Analysing a whole article for a snippet was most of a search's time (an article of
    5,000 characters is about 1,000 syllables, each split, normalised and folded). Where
    the text's letters and digits are all ASCII or Latin (Vietnamese, and the names the
    news quotes), folding is one letter for one (`_fold_letters`): a regular expression
    of the wanted folds, as whole runs of letters and digits of the folded text, then
    finds exactly the wanted syllables, and two of them stand side by side when no
    letter or digit comes between. Any other text is analysed whole, as before.
    """
    folded = _fold_letters(text) if wanted else None
    if folded is None:
        analysis = analyse(text)
        for ordinal, (span, folded_syllable, accented) in enumerate(zip(analysis.syllables, analysis.folded,
                                                                         analysis.accented)):
            yield ordinal, span.start, span.end, folded_syllable, accented
        return
    ordinal, previous = -2, None
    for match in _key_pattern(tuple(sorted(wanted))).finditer(folded):
        start, end = match.span()  # the text's offsets too: one letter for one
        ordinal += 1 if previous is not None and not _ASCII_ALNUM_RE.search(folded, previous, start) else 2
        previous = end
        yield ordinal, start, end, match.group(), _accented(text[start:end])


@lru_cache(maxsize=100_000)
def _accented(syllable: str) -> str:
    """A syllable as the analysis's accented view has it (normalised, lowercase)."""
    return normalize(syllable).lower()


# Letters whose fold (unidecode, lowercase) is one ASCII letter, upper and lower case:
# ASCII and the Latin letters of Vietnamese (and of the French, German, Spanish names
# the news quotes). Built once from `fold_syllable`, so it cannot disagree with it.
_TABLE_END = 0x1F00
# Each code point's fold below _TABLE_END: a letter of the table folded, ASCII lowercase,
# any other character a space; _UNFOLDABLE for letters and digits outside the table and
# for combining marks, and _BEYOND for every code point from _TABLE_END on.
_UNFOLDABLE, _BEYOND = 0, 1
_FOLDED = np.full(_TABLE_END + 1, ord(" "), dtype=np.uint8)
_FOLDED[2:128] = np.frombuffer(bytes(range(2, 128)).lower(), dtype=np.uint8)  # 0 and 1 are spaces
_FOLDED[_TABLE_END] = _BEYOND
for _code in range(128, _TABLE_END):
    _char = chr(_code)
    _latin = 0xC0 <= _code < 0x250 or 0x1E00 <= _code
    _fold = fold_syllable(_char) if _latin and _char.isalpha() and len(_char.lower()) == 1 else ""
    if len(_fold) == 1 and _fold.isascii() and fold_syllable(_char.lower()) == _fold:
        _FOLDED[_code] = ord(_fold)
    elif _char.isalnum() or 0x300 <= _code < 0x370:
        _FOLDED[_code] = _UNFOLDABLE
_ASCII_ALNUM_RE = re.compile(r"[a-z0-9]")


def _fold_letters(text: str) -> str | None:
    """`text` folded one character for one, in ASCII: letters folded and lowercase,
    digits and ASCII kept, any other character a space; None if some letter or digit
    has no one-letter fold. By a table over the code points: `str.translate` took
    0.3 ms for an article of 2,300 characters, this 0.02 ms."""
    try:
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    except UnicodeEncodeError:  # a lone surrogate
        return None
    folded = _FOLDED[np.minimum(codes, _TABLE_END)].tobytes()
    if bytes([_UNFOLDABLE]) in folded:
        return None
    if bytes([_BEYOND]) in folded:  # quotes and dashes, mostly; "中国", "Ωmega" are letters
        if any(chr(code).isalnum() for code in codes[codes >= _TABLE_END].tolist()):
            return None
        folded = folded.replace(bytes([_BEYOND]), b" ")
    return folded.decode("ascii")


@lru_cache(maxsize=1024)
def _key_pattern(folds: tuple[str, ...]) -> re.Pattern:
    """The folded syllables as whole syllables (no letter or digit just before or
    after), in a text folded by `_fold_letters`. Plain words, not a class of every
    spelling of each letter: a query's pattern is new to most searches, and compiling
    those classes took 5 ms for five syllables."""
    alternatives = "|".join(map(re.escape, sorted(folds, key=len, reverse=True)))
    return re.compile(r"(?<![a-z0-9])(?:" + alternatives + r")(?![a-z0-9])")


def _whole_phrases(hits: list[tuple], keys: list[Key]) -> list[tuple]:
    """Drop phrase syllables found outside a whole occurrence of their phrase."""
    at: dict[int, set[tuple[tuple[str, ...], int]]] = {}
    for ordinal, _, _, k, _ in hits:
        at.setdefault(ordinal, set()).add((keys[k].phrase, keys[k].place))

    def whole(ordinal: int, key: Key) -> bool:
        start = ordinal - key.place
        return all((key.phrase, i) in at.get(start + i, ()) for i in range(len(key.phrase)))

    return [h for h in hits if not keys[h[3]].phrase or whole(h[0], keys[h[3]])]


def _merge(spans: list[tuple[int, int, int]], text: str) -> list[tuple[int, int]]:
    """Join marks separated only by spaces or a joining dash or slash, so that a name
    ("Hồ Thị Hoàng Yến") or a document number ("35-CT/TW") is one <mark>."""
    merged: list[tuple[int, int]] = []
    for start, end, _ in spans:
        if merged and (merged[-1][1] >= start or _JOINER_RE.fullmatch(text[merged[-1][1]:start])):
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _plain(text: str, flat: bool) -> str:
    return html.escape(_SPACES_RE.sub(" ", text) if flat else text)


def render(text: str, marks: list[tuple[int, int]], start: int = 0, end: int | None = None,
           flat: bool = False) -> str:
    """Escaped `text[start:end]` with `marks`; `flat` folds line breaks into spaces."""
    end = len(text) if end is None else end
    out, at = [], start
    for m_start, m_end in marks:
        if m_end <= start or m_start >= end:
            continue
        out.append(_plain(text[at:m_start], flat))
        out.append(f"<mark>{_plain(text[m_start:m_end], flat)}</mark>")
        at = m_end
    out.append(_plain(text[at:end], flat))
    return "".join(out)


def highlight(text: str, keys: list[Key]) -> str:
    """The whole text, escaped, with matches marked (for titles and article pages)."""
    return render(text, _merge(match_spans(text, keys), text))


def _word_start(text: str, position: int) -> int:
    """Move `position` back to a sentence start if one is near, else forward to a word start."""
    position = max(0, position)
    window = text[max(0, position - LEAD_CHARS):position + 1]
    sentence = list(_SENTENCE_END_RE.finditer(window))
    if sentence:
        return max(0, position - LEAD_CHARS) + sentence[-1].end()
    while 0 < position < len(text) and not text[position - 1].isspace():
        position += 1
    return position


def _word_end(text: str, position: int) -> int:
    while 0 < position < len(text) and not text[position].isspace():
        position -= 1
    return max(position, 0)


def snippet(text: str, keys: list[Key], size: int = FRAGMENT_CHARS) -> str:
    """One to three fragments around the best matches, joined with " … "."""
    text = text.strip()
    spans = match_spans(text, keys)
    if not spans:
        end = _word_end(text, size) if len(text) > size else len(text)
        return render(text, [], 0, end, flat=True) + (" …" if end < len(text) else "")
    windows: list[tuple[int, int]] = []
    covered: set[int] = set()
    # Spans are in text order: the ones inside a window are a slice, found by bisection.
    # Scanning them all for each candidate took 11 s for a text holding a word 4,000 times.
    starts = [start for start, _, _ in spans]
    # Each span's window and the keys inside it, found once for every fragment chosen.
    candidates = []
    for start in starts:
        w0 = _word_start(text, start - LEAD_CHARS)
        near = spans[bisect.bisect_left(starts, w0):bisect.bisect_left(starts, w0 + size)]
        inside = [k for s, e, k in near if e <= w0 + size]
        candidates.append((start, w0, inside, set(inside)))
    for _ in range(MAX_FRAGMENTS):
        best, best_score = None, (0, 0)
        for start, w0, inside, keys_inside in candidates:
            if any(v0 <= start < v1 for v0, v1 in windows):
                continue
            score = (len(keys_inside - covered), len(inside))
            if score > best_score:
                best, best_score = (w0, w0 + size), score
        if best is None or (windows and best_score[0] == 0):
            break
        windows.append(best)
        covered |= {k for s, e, k in spans if best[0] <= s and e <= best[1]}
    marks = _merge(spans, text)
    parts = []
    for w0, w1 in sorted(windows):
        w1 = _word_end(text, w1) if w1 < len(text) else len(text)
        parts.append(("… " if w0 > 0 else "") + render(text, marks, w0, w1, flat=True) + (" …" if w1 < len(text) else ""))
    return " ".join(parts).replace("… …", "…")


def plain(fragment: str) -> str:
    """A snippet as plain text: the marks dropped, the escaped characters back (for exports and feeds)."""
    return html.unescape(fragment.replace("<mark>", "").replace("</mark>", ""))
