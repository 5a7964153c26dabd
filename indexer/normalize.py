"""One normalisation for documents and queries, so that both produce the same terms.

Two things vary in real Vietnamese text without changing the word:
- Unicode form: the same letter may come precomposed (NFC) or as base letter
  plus combining marks (NFD). We always work on NFC.
- Tone-mark placement in the syllables ending in `oa`, `oe`, `uy`: the
  "new style" writes `hoà`, `khoẻ`, `uỷ`, the classic style `hòa`, `khỏe`,
  `ủy`. Vietnamese news mostly uses the classic style, so we move the tone to it.

Both steps keep the NFC text's length and every character's position, so
offsets computed on the normalised text point into the NFC text unchanged.
"""
from __future__ import annotations

import re
import unicodedata

# Combining tone marks: grave, acute, tilde, hook above, dot below.
_TONES = "\u0300\u0301\u0303\u0309\u0323"
_TONE_RE = re.compile(f"[{_TONES}]")

# The only place where the two conventions differ: a syllable whose nucleus is `oa`,
# `oe` or `uy` with no final consonant and the tone on the second vowel. The onset is
# consonants only, and not `q` ("quý" has its tone on `y` in both conventions).
_ONSET = "bcdđghklmnprstvx"
_NEW_STYLE_RE = re.compile(
    rf"\b(?![qQ][uU])([{_ONSET}{_ONSET.upper()}]*)"
    r"(?:([oO])([àáảãạèéẻẽẹÀÁẢÃẠÈÉẺẼẸ])|([uU])([ỳýỷỹỵỲÝỶỸỴ]))\b"
)


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _to_classic(match: re.Match) -> str:
    onset = match.group(1)
    first, second = (match.group(2), match.group(3)) if match.group(2) else (match.group(4), match.group(5))
    decomposed = unicodedata.normalize("NFD", second)
    tone = _TONE_RE.search(decomposed).group(0)
    bare = _TONE_RE.sub("", decomposed)
    return onset + nfc(first + tone) + nfc(bare)


def normalize(text: str) -> str:
    """NFC, then classic tone placement (`hoà`→`hòa`, `uỷ`→`ủy`); length-preserving on NFC."""
    return _NEW_STYLE_RE.sub(_to_classic, nfc(text))


def has_diacritics(text: str) -> bool:
    """True when the text has letters beyond ASCII: typed with diacritics (or another script)."""
    return any(ord(c) > 127 and c.isalpha() for c in text)
