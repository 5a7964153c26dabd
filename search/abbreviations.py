"""Abbreviations and their long forms, so that each finds the other.

Forms are compared as folded syllable sequences: "HĐND", "hdnd" and "Hđnd" are one
form, and "KT-XH" is the two syllables `kt xh`.
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from indexer.analysis import folded_terms, syllable_terms

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
            key = tuple(t.text for t in folded_terms(this))
            value = tuple(t.text for t in syllable_terms(other))
            if key and value and value not in table.setdefault(key, []):
                table[key].append(value)
    return table


def table() -> dict[Form, list[tuple[str, ...]]]:
    return load(os.environ.get("VNSEARCH_ABBREVIATIONS") or None)
