"""What every article goes through after its reader: valid text and a bounded size.

Both formats can hand over text the rest of the system cannot take. JSON allows a lone
UTF-16 surrogate ("\\ud800"), and a file name that is not UTF-8 becomes an id holding
one (Python's surrogateescape); such a string cannot be encoded as UTF-8, so pyvi,
Whoosh's id terms and every page or JSON answer showing it would fail. And an article
can be of any size: a 50 MB one took 5.1 GB to index and 7-20 s for each search that
returned it, so each article's text is cut to a limit.
"""
from __future__ import annotations

import dataclasses
import re

from .article import Article
from .problem import Problem, ProblemHandler

# The longest article of the shared corpus (22,643 real news articles) holds 10,462
# characters of title, summary and body; 99% hold under 5,900. The limit is twenty times
# the longest: room for a long report reprinted in full. What an article at the limit
# costs was measured: 85 MB to index, 0.2-0.4 s for a search returning it, 0.4-0.9 s for
# its page; at 1,000,000 characters 190 MB, 1-1.5 s and 2.3 s, all growing with the text.
MAX_ARTICLE_CHARS = 200_000
# Bytes read of a JSON Lines line or a .txt file, at most, per character of the limit:
# room for an article at the limit even if its JSON escapes every letter as \uXXXX
# (6 bytes), plus its other fields. Anything longer is not read into memory at all.
BYTES_PER_CHAR = 8
# A lone UTF-16 surrogate: never a character of its own.
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
# Searched texts in the order they take their share of the limit: the body, by far the
# longest, is what gets cut.
_CUT_ORDER = ("title", "summary", "body")
# Text people read; a lone surrogate in it is replaced rather than losing the article.
_READABLE = ("title", "summary", "body", "author", "source", "url")


def max_read_bytes(max_chars: int) -> int:
    """The most bytes read of one JSON Lines line or one .txt file for this character limit."""
    return BYTES_PER_CHAR * max_chars


def has_surrogates(text: str) -> bool:
    return _SURROGATE_RE.search(text) is not None


def cut_text(text: str, limit: int) -> str:
    """At most `limit` characters: the text up to its last line break, else its last space,
    in the second half of the limit; a hard cut only when there is neither."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    for separator in ("\n", " "):
        at = head.rfind(separator)
        if at >= limit // 2:
            return head[:at].rstrip()
    return head


def clean_article(article: Article, max_chars: int, on_problem: ProblemHandler) -> Article | None:
    """The article with lone surrogates replaced and its text cut to `max_chars` characters.

    Each change is reported once, as a Problem with skipped=False. An id holding a
    surrogate is a different id once repaired (and could collide with another one), so
    such an article is skipped instead, with a Problem with skipped=True.
    """
    if has_surrogates(article.id):
        on_problem(Problem(article.origin, f"id {article.id!r} is not valid Unicode (a lone surrogate, "
                                           f"as from a file name that is not UTF-8); skipped"))
        return None
    changes: dict[str, str] = {}
    for name in _READABLE:
        value = getattr(article, name)
        if value and has_surrogates(value):
            changes[name] = _SURROGATE_RE.sub("\ufffd", value)
    if changes:
        on_problem(Problem(article.origin, f"replaced lone surrogates (not valid Unicode) with U+FFFD "
                                           f"in {', '.join(changes)}", skipped=False))
    total = sum(len(changes.get(name, getattr(article, name)) or "") for name in _CUT_ORDER)
    if total > max_chars:
        budget = max_chars
        for name in _CUT_ORDER:
            value = changes.get(name, getattr(article, name))
            if value:
                changes[name] = cut_text(value, budget)
                budget -= len(changes[name])
        kept = max_chars - budget
        on_problem(Problem(article.origin, f"article of {total:,} characters is longer than the limit of "
                                           f"{max_chars:,} (--max-article-chars); indexed its first {kept:,}",
                           skipped=False))
    return dataclasses.replace(article, **changes) if changes else article
