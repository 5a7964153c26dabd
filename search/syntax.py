"""Reading what a user typed into a structured query, never failing.

Understood: words, `"quoted phrases"`, `-word` and `-"phrase"` to exclude (not `-35`: a number is text), `OR`
between two items, `title:` before a word or phrase, `source:NAME`, `year:2021`,
`year:2019..2021`, `date:2021-01..2021-06-30`. Anything else is text: an unknown
`name:` prefix, a lone operator, `AND` (words are all required anyway), symbols and
emoji (which carry no syllables and so drop out).
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from vnsearch.indexer.analysis import analyse, fold_syllable, pair_terms

# Longer text is not a query someone typed (a pasted page, perhaps): it is cut here, as
# search engines do, so parsing it costs no more than this. The web cuts at the same length.
MAX_QUERY_CHARS = 1000
MAX_SYLLABLES = 48

_TOKEN_RE = re.compile(
    r'(?P<neg>-)?(?:(?P<field>[A-Za-z]+):)?(?:"(?P<phrase>[^"]*)"?|(?P<word>[^\s"]+))'
)
# ASCII digits only: \d also matches other scripts' digits ("٢٠٢١"), which int() reads.
_YEAR_RE = re.compile(r"^([0-9]{4})(?:\.\.([0-9]{4}))?$")
_DATE_RE = re.compile(r"^([0-9]{4}(?:-[0-9]{1,2}(?:-[0-9]{1,2})?)?)(?:\.\.([0-9]{4}(?:-[0-9]{1,2}(?:-[0-9]{1,2})?)?))?$")


@dataclass(frozen=True)
class Text:
    """A word or phrase the user typed, as lowercased, normalised syllables (the analysis's
    accented view of it); its other views' terms come from the analysis too."""
    syllables: tuple[str, ...]
    # Quoted, or one typed token of several syllables such as "35-CT/TW" or "KT-XH".
    phrase: bool = False
    title_only: bool = False
    quoted: bool = False

    @property
    def folded(self) -> tuple[str, ...]:
        """The folded view's terms, one per syllable."""
        return tuple(map(fold_syllable, self.syllables))

    @property
    def pairs(self) -> list[str]:
        """The pairs view's terms."""
        return pair_terms(self.folded)


@dataclass
class Query:
    # All groups are required; each group is satisfied by any one of its alternatives.
    groups: list[list[Text]] = field(default_factory=list)
    excluded: list[Text] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    start: dt.datetime | None = None
    end: dt.datetime | None = None  # exclusive

    @property
    def is_empty(self) -> bool:
        return not self.groups


def _text(raw: str, phrase: bool, title_only: bool) -> Text | None:
    syllables = tuple(analyse(raw).accented)
    if not syllables:
        return None
    return Text(syllables, phrase or len(syllables) > 1, title_only, quoted=phrase)


def _date_bound(value: str, end: bool) -> dt.datetime | None:
    """The start of "2021", "2021-03" or "2021-03-15", or with `end` the start of the next
    year, month or day; None when the value names no real date ("2021-02-30", "0000")."""
    parts = [int(p) for p in value.split("-")]
    try:
        start = dt.datetime(parts[0], *(parts[1:] + [1, 1][len(parts) - 1:]))
    except ValueError:
        return None
    if not end:
        return start
    try:
        if len(parts) == 1:
            return start.replace(year=start.year + 1)
        if len(parts) == 2:
            return (start + dt.timedelta(days=32)).replace(day=1)
        return start + dt.timedelta(days=1)
    except (ValueError, OverflowError):
        return dt.datetime.max  # the period ends with the year 9999, where datetime does


def date_range(value: str) -> tuple[dt.datetime, dt.datetime] | None:
    """[start, end) of `year:VALUE` or `date:VALUE` ("2021", "2019..2021", "2021-03..2021-04-15");
    None when it is not a well-formed range of real dates."""
    match = _DATE_RE.match(value)
    if not match:
        return None
    start = _date_bound(match.group(1), end=False)
    end = _date_bound(match.group(2) or match.group(1), end=True)
    if start is None or end is None or end <= start:
        return None
    return start, end


def _apply_filter(query: Query, name: str, value: str) -> bool:
    """Apply `name:value` if it is a well-formed filter; False means read it as text."""
    if name == "source" and value:
        query.sources.append(value)
        return True
    if name in ("year", "date"):
        bounds = date_range(value) if name == "date" or _YEAR_RE.match(value) else None
        if bounds is None:
            return False
        query.start, query.end = bounds
        return True
    return False


def parse(raw: str) -> Query:
    query = Query()
    pending_or = False
    count = 0
    for match in _TOKEN_RE.finditer(raw[:MAX_QUERY_CHARS]):
        # "-" excludes only before a word or a quote: "F -35" and "U -23" (how the news
        # writes model numbers) are text, and so is a range like "2020 -2025".
        negated = bool(match.group("neg")) and not (match.group("word") or " ")[0].isdigit()
        name = (match.group("field") or "").lower()
        value = match.group("phrase") if match.group("phrase") is not None else match.group("word")
        quoted = match.group("phrase") is not None
        if not negated and not name and not quoted and value in ("OR", "||"):
            pending_or = bool(query.groups)
            continue
        if not negated and not name and not quoted and value in ("AND", "&&"):
            continue
        if name and _apply_filter(query, name, value):
            continue
        if name and name != "title":
            value = match.group(0).lstrip("-")  # "http://…" and friends are plain text
            quoted = False
        text = _text(value, quoted, title_only=name == "title")
        if text is None or count + len(text.syllables) > MAX_SYLLABLES:
            continue
        count += len(text.syllables)
        if negated:
            query.excluded.append(text)
        elif pending_or:
            query.groups[-1].append(text)
        else:
            query.groups.append([text])
        pending_or = False
    return query
