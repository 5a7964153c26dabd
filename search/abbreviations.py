"""Abbreviations and their long forms, so that each finds the other.

Forms are compared as folded syllable sequences: "HĐND", "hdnd" and "Hđnd" are one
form, and "KT-XH" is the two syllables `kt xh`.
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from vnsearch.indexer.analysis import analyse
from vnsearch.search.syntax import Query, Text

DEFAULT_FILE = Path(__file__).with_name("abbreviations.tsv")

Form = tuple[str, ...]


def _forms(path: Path) -> list[tuple[str, str]]:
    pairs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#") and "\t" in line:
            short, long = line.split("\t", 1)
            pairs.append((short.strip(), long.strip()))
    return pairs


@lru_cache(maxsize=4)
def load(extra: str | None = None) -> dict[Form, list[tuple[str, ...]]]:
    """Folded form -> accented syllables of every equivalent form."""
    pairs = _forms(DEFAULT_FILE) + (_forms(Path(extra)) if extra else [])
    table: dict[Form, list[tuple[str, ...]]] = {}
    for short, long in pairs:
        for this, other in ((short, long), (long, short)):
            key = tuple(analyse(this).folded)
            value = tuple(analyse(other).accented)
            if key and value and value not in table.setdefault(key, []):
                table[key].append(value)
    return table


def table() -> dict[Form, list[tuple[str, ...]]]:
    return load(os.environ.get("VNSEARCH_ABBREVIATIONS") or None)


def expand(query: Query) -> Query:
    """Give runs of typed words that form a known abbreviation or long form an alternative.

    "HĐND" becomes `HĐND OR "hội đồng nhân dân"`, and "hội đồng nhân dân" typed as
    words becomes the same pair. Quoted phrases are left as typed.
    """
    forms = table()
    longest = max((len(k) for k in forms), default=0)
    groups, expanded = query.groups, []
    i = 0
    while i < len(groups):
        for j in range(min(len(groups), i + longest), i, -1):
            run = groups[i:j]
            if not all(len(g) == 1 and not g[0].title_only and not g[0].quoted for g in run):
                continue
            syllables = tuple(s for g in run for s in g[0].syllables)
            others = forms.get(tuple(f for g in run for f in g[0].folded))
            if others:
                expanded.append([Text(syllables, phrase=len(syllables) > 1)]
                                + [Text(other, phrase=len(other) > 1) for other in others])
                i = j
                break
        else:
            expanded.append(groups[i])
            i += 1
    return Query(expanded, query.excluded, query.sources, query.start, query.end)
