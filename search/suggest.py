"""The "did you mean" line: diacritics restored, misspellings corrected."""
from __future__ import annotations

import re
import string

from vnsearch.indexer.analysis import analyse
from vnsearch.indexer.normalize import has_diacritics, nfc, normalize
from vnsearch.search.accents import AccentModel

_LETTERS = string.ascii_lowercase


def _edits(word: str) -> set[str]:
    """Every folded spelling one typing mistake away (deleted, swapped, changed, added letter)."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    return ({a + b[1:] for a, b in splits if b}
            | {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
            | {a + c + b[1:] for a, b in splits if b for c in _LETTERS}
            | {a + c + b for a, b in splits for c in _LETTERS})


# Every Vietnamese syllable has a vowel: "th" (an initial, "Nguyễn Hoài Th.") is no correction.
_VOWEL_RE = re.compile("[aeiouy]")
# Vietnamese syllables have at most seven letters; longer words are not worth correcting.
MAX_CORRECTED_LENGTH = 10
# A correction is a syllable the corpus uses, not one it has seen once or twice: at least
# this share of its syllables ("covid" is not "cvid", however close).
MIN_CORRECTION_SHARE = 1e-6


def _correct(model: AccentModel, folded: str) -> str | list[str]:
    """A syllable the corpus knows as it is; else the known spellings one typing mistake
    away, for the accent model to choose from in context ("chi thj" → "chỉ thị", not the
    more frequent "thu")."""
    if model.knows(folded) or not folded.isalpha() or not 2 <= len(folded) <= MAX_CORRECTED_LENGTH:
        return folded
    floor = max(2, MIN_CORRECTION_SHARE * model.total)
    return sorted(w for w in _edits(folded)
                  if _VOWEL_RE.search(w) and model.knows(w) and model.count(w) >= floor) or folded


def _restore(model: AccentModel, wanted: list) -> list[str]:
    """The model's restoration, run by run between numbers: "35" after a word says little
    about the word ("Chỉ thị 35" is rare where "Chỉ thị số 35" is common), yet one pair
    seen twice ("thu 35") would outweigh "chỉ thị" seen hundreds of times."""
    out: list[str] = []
    run: list = []
    for item in wanted + [None]:
        if item is None or (isinstance(item, str) and not item.isalpha()):
            out += model.restore(run) if run else []
            run = []
            if item is not None:
                out.append(item)
        else:
            run.append(item)
    return out


def suggest(model: AccentModel, raw: str) -> str | None:
    """The query with diacritics restored and unknown syllables corrected, or None if unchanged.

    Only syllables typed without diacritics change; everything else stays as typed.
    """
    text = nfc(raw)
    spans = analyse(text).terms("fold")
    typed = [text[t.start:t.end] for t in spans]
    if not spans or all(has_diacritics(t) or not t.isalpha() for t in typed):
        return None
    wanted = [normalize(t).lower() if has_diacritics(t) else _correct(model, s.text) for t, s in zip(typed, spans)]
    restored = model.capitalised(_restore(model, wanted))
    out, at = [], 0
    for span, original, new in zip(spans, typed, restored):
        if has_diacritics(original) or new.lower() == original.lower():
            new = original  # nothing to restore: keep exactly what was typed
        elif original.isupper() and len(original) > 1:
            new = new.upper()  # "HDND" -> "HĐND"
        elif original[:1].isupper():
            new = new[:1].upper() + new[1:]
        out.append(text[at:span.start] + new)
        at = span.end
    out.append(text[at:])
    suggestion = "".join(out)
    return None if suggestion == text else suggestion
