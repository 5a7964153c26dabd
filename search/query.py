"""From a parsed query to the Whoosh query that matches and ranks articles.

Matching is done on folded syllables, so queries with full, partial or no diacritics
find the same articles. Ranking then adds, on top of the plain matches:
- accent-exact matches for every syllable typed with diacritics ("đảng" over "đang");
- the typed words adjacent and in order (phrases of each pair, and of the whole run);
- pyvi compounds ("chính phủ" as one word beats "phủ nhận … chính sách");
- title over summary over body.
"""
from __future__ import annotations

from whoosh import query as q

from indexer.normalize import fold, has_diacritics
from search import abbreviations
from search.syntax import Query, Text

FIELD_WEIGHTS = {"title": 3.0, "summary": 1.5, "body": 1.0}
ACCENT_WEIGHT = 1.5
PAIR_WEIGHT = 1.0
RUN_WEIGHT = 2.0
COMPOUND_WEIGHT = 1.0
# Words allowed between consecutive typed words for the whole-run bonus: "chỉ thị 35"
# still counts as together in "Chỉ thị số 35".
RUN_SLOP = 2


def _fields(text: Text) -> dict[str, float]:
    return {"title": FIELD_WEIGHTS["title"]} if text.title_only else FIELD_WEIGHTS


def _match(field: str, syllables: list[str], boost: float) -> q.Query:
    if len(syllables) == 1:
        return q.Term(field, syllables[0], boost=boost)
    return q.Phrase(field, syllables, boost=boost)


def text_query(text: Text) -> q.Query:
    """Matches `text` without regard to accents; ranks accent-exact matches higher."""
    folded = [fold(s) for s in text.syllables]
    required = q.Or([_match(f"{name}_fold", folded, weight) for name, weight in _fields(text).items()])
    accented = [s for s in text.syllables if has_diacritics(s)]
    if not accented:
        return required
    exact: list[q.Query] = []
    for name, weight in _fields(text).items():
        if len(accented) == len(text.syllables):
            exact.append(_match(f"{name}_acc", list(text.syllables), weight * ACCENT_WEIGHT))
        else:  # half-accented: reward each accented syllable found as typed
            exact.extend(q.Term(f"{name}_acc", s, boost=weight * ACCENT_WEIGHT) for s in accented)
    return q.AndMaybe(required, q.Or(exact))


def expand_abbreviations(query: Query) -> Query:
    """Give runs of typed words that form a known abbreviation or long form an alternative."""
    forms = abbreviations.table()
    longest = max((len(k) for k in forms), default=0)
    groups = query.groups
    expanded: list[list[Text]] = []
    i = 0
    while i < len(groups):
        for j in range(len(groups), i, -1):
            run = groups[i:j]
            simple = all(len(g) == 1 and not g[0].title_only for g in run)
            syllables = tuple(s for g in run for s in g[0].syllables) if simple else ()
            if syllables and len(syllables) <= longest and tuple(map(fold, syllables)) in forms:
                alternatives = [Text(syllables, phrase=len(syllables) > 1)]
                alternatives += [Text(other, phrase=len(other) > 1) for other in forms[tuple(map(fold, syllables))]]
                expanded.append(alternatives)
                i = j
                break
        else:
            expanded.append(groups[i])
            i += 1
    return Query(expanded, query.excluded, query.sources, query.start, query.end)


def _runs(query: Query) -> list[list[str]]:
    """Consecutive plain (unquoted, single-alternative) words: where order and closeness count."""
    runs: list[list[str]] = [[]]
    for group in query.groups:
        if len(group) == 1 and not group[0].title_only:
            runs[-1].extend(group[0].syllables)
        elif runs[-1]:
            runs.append([])
    return [run for run in runs if len(run) > 1]


def _proximity(run: list[str]) -> list[q.Query]:
    folded = [fold(s) for s in run]
    boosts: list[q.Query] = []
    for name, weight in FIELD_WEIGHTS.items():
        boosts += [q.Phrase(f"{name}_fold", folded[k:k + 2], boost=weight * PAIR_WEIGHT)
                   for k in range(len(folded) - 1)]
        if len(run) > 2:
            boosts.append(q.Phrase(f"{name}_fold", folded, slop=RUN_SLOP, boost=weight * RUN_WEIGHT))
        # Compounds are stored with diacritics: only worth trying when the words were typed with them.
        if 2 * sum(map(has_diacritics, run)) >= len(run):
            for size in (2, 3, 4):
                boosts += [q.Term(f"{name}_words", " ".join(run[k:k + size]), boost=weight * COMPOUND_WEIGHT)
                           for k in range(len(run) - size + 1)]
    return boosts


def to_whoosh(query: Query, require_all: bool = True) -> q.Query:
    """The Whoosh query for `query`; with `require_all` False any word may be missing."""
    query = expand_abbreviations(query)
    groups = [q.Or([text_query(t) for t in group]) if len(group) > 1 else text_query(group[0])
              for group in query.groups]
    matched: q.Query = q.And(groups) if require_all else q.Or(groups)
    boosts = [b for run in _runs(query) for b in _proximity(run)]
    if boosts:
        matched = q.AndMaybe(matched, q.Or(boosts))
    if query.excluded:
        matched = q.AndNot(matched, q.Or([text_query(t) for t in query.excluded]))
    return matched
