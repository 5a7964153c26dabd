"""Seeded random Vietnamese-like articles, for tests that must not depend on a corpus.

Not Vietnamese, but made of what the index has to cope with in Vietnamese news:
syllables with every tone mark (some decomposed, NFD, as some sites send them),
capitalised names, numbers and dates, document numbers like 35-CT/TW, abbreviations,
punctuation; documents from a few syllables to a few thousand; a Zipf-like spread of
syllables, so the common ones fill several 128-posting blocks and most are rare; and
articles without summary, date, source, author or url.
"""
from __future__ import annotations

import datetime as dt
import random
import unicodedata
from functools import cache
from itertools import accumulate

from vnsearch.corpus import Article

_ONSETS = ["", "b", "c", "ch", "d", "đ", "g", "gi", "h", "k", "kh", "l", "m", "n", "ng", "nh", "ph",
           "qu", "r", "s", "t", "th", "tr", "v", "x"]
_RHYMES = ["a", "ai", "am", "an", "ang", "anh", "ao", "au", "ay", "ăn", "ăng", "âm", "ân", "âu", "ây", "e",
           "em", "en", "eo", "ê", "ên", "ênh", "i", "ia", "iêm", "iên", "iêt", "inh", "iu", "o", "oa", "oai",
           "oan", "oang", "oi", "ong", "ô", "ôi", "ông", "ơ", "ơi", "ơn", "u", "ua", "uân", "ui", "ung", "uô",
           "uôn", "uy", "uyên", "ư", "ưa", "ưi", "ưng", "ươ", "ươi", "ương", "ươc"]
# grave, acute, hook above, tilde, dot below; and no mark (twice as likely)
_TONES = ["", "", "\u0300", "\u0301", "\u0309", "\u0303", "\u0323"]
_VOWELS = "aăâeêioôơuưy"
_CODES = ["35-CT/TW", "12/NQ-TW", "05-NQ/TW", "178/2021/NĐ-CP", "KT-XH", "UBND", "HĐND", "COVID-19"]
_SOURCES = ["Báo Tỉnh", "BHG", "Nông Nghiệp", "Xây Dựng Đảng", "VietNews", "Trang Không Dấu"]
# Common words every article has a good chance of holding: postings in several blocks.
_COMMON = ["của", "và", "các", "Đảng", "tỉnh", "hội nghị", "được", "đồng chí"]


def _syllable(rng: random.Random) -> str:
    onset, rhyme = rng.choice(_ONSETS), rng.choice(_RHYMES)
    tone = rng.choice(_TONES)
    if tone:
        # On the last vowel of the rhyme's vowel cluster, roughly where Vietnamese puts it.
        at = max(i for i, c in enumerate(rhyme) if c in _VOWELS)
        rhyme = unicodedata.normalize("NFC", rhyme[:at + 1] + tone + rhyme[at + 1:])
    return onset + rhyme


def _sentence(rng: random.Random, vocabulary: list[str], cumulative: list[float], length: int) -> str:
    words = []
    for _ in range(length):
        roll = rng.random()
        if roll < 0.08:
            words.append(rng.choice(_COMMON))
        elif roll < 0.10:
            words.append(rng.choice(_CODES))
        elif roll < 0.13:
            words.append(str(rng.choice([rng.randint(0, 40), rng.randint(1000, 2030), rng.randint(1, 10**6)])))
        elif roll < 0.14:
            words.append(f"{rng.randint(1, 28)}-{rng.randint(1, 12)}-{rng.randint(1990, 2025)}")
        elif roll < 0.20:
            words.append(rng.choices(vocabulary, cum_weights=cumulative)[0].capitalize())
        else:
            words.append(rng.choices(vocabulary, cum_weights=cumulative)[0])
    text = " ".join(words)
    for mark in (",", ";", ":"):
        if rng.random() < 0.3:
            cut = text.find(" ", rng.randrange(len(text)))
            if cut > 0:
                text = text[:cut] + mark + text[cut:]
    if rng.random() < 0.1:
        text = f"“{text}”"
    return text[0].upper() + text[1:] + rng.choice([".", ".", ".", "!", "?", "…"])


def _text(rng: random.Random, vocabulary, cumulative, syllables: int) -> str:
    sentences, count = [], 0
    while count < syllables:
        length = min(rng.randint(4, 30), syllables - count)
        sentences.append(_sentence(rng, vocabulary, cumulative, max(length, 1)))
        count += length
    paragraphs, at = [], 0
    while at < len(sentences):
        step = rng.randint(1, 6)
        paragraphs.append(" ".join(sentences[at:at + step]))
        at += step
    return "\n".join(paragraphs)


def generated_articles(count: int = 360, seed: int = 35) -> list[Article]:
    """`count` articles, the same for the same seed."""
    rng = random.Random(seed)
    vocabulary = sorted({_syllable(rng) for _ in range(1500)})
    rng.shuffle(vocabulary)
    cumulative = list(accumulate(1 / (rank + 1) for rank in range(len(vocabulary))))  # Zipf
    articles = []
    for n in range(count):
        size = rng.choice([3, 6, 20, 40, 40, 80, 100, 200] + ([2000] if n % 90 == 0 else []))
        body = _text(rng, vocabulary, cumulative, size)
        if n % 7 == 3:
            body = unicodedata.normalize("NFD", body)  # decomposed, as some sites send it
        if n == 5:
            body = "… — !!! ?"  # no term at all
        published = None
        if n % 5:
            day = dt.date(2015, 1, 1) + dt.timedelta(days=rng.randrange(4000))
            published = day if n % 2 else dt.datetime.combine(day, dt.time(rng.randrange(24), rng.randrange(60)))
        articles.append(Article(
            id=f"gen-{n:04d}",
            title=_text(rng, vocabulary, cumulative, rng.randint(1, 18)).replace("\n", " "),
            body=body,
            summary=_text(rng, vocabulary, cumulative, rng.randint(10, 50)) if n % 3 else None,
            published=published,
            source=rng.choice(_SOURCES) if n % 4 else None,
            author=f"{_syllable(rng).upper()} {_syllable(rng).upper()}" if n % 6 == 1 else None,
            url=f"https://example.vn/tin/{n}" if n % 2 else None,
            origin=f"generated:{n}",
        ))
    return articles


@cache
def generated_documents() -> tuple[dict, ...]:
    """`generated_articles()` as the build indexes them (analysed once per test run)."""
    from vnsearch.indexer.build import to_document

    return tuple(to_document(article) for article in generated_articles())
