"""Publications' names for the codes their articles are signed with ("BDK.VN" is Báo Đồng Khởi).

The code stays what the index stores and what filters use; the name is what readers
see. Codes are compared as folded syllables, as the `source:` filter compares them:
"ĐTO", "dto" and "Đto" are one code.
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from vnsearch.indexer.analysis import folded_words

DEFAULT_FILE = Path(__file__).with_name("sources.tsv")


def _rows(path: Path) -> list[tuple[str, str]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#") and "\t" in line:
            code, name = line.split("\t", 1)
            if code.strip() and name.strip():
                rows.append((code.strip(), name.strip()))
    return rows


@lru_cache(maxsize=4)
def load(extra: str | None = None) -> dict[str, str]:
    """Folded code -> name; the user's file (`extra`) wins over the bundled one."""
    rows = _rows(DEFAULT_FILE) + (_rows(Path(extra)) if extra else [])
    return {folded_words(code): name for code, name in rows if folded_words(code)}


def table() -> dict[str, str]:
    return load(os.environ.get("VNSEARCH_SOURCES") or None)


def name(code: str | None) -> str | None:
    """The publication's name for `code`, or None when the table does not know it."""
    return table().get(_folded(code)) if code else None


def keys(code: str) -> set[str]:
    """What a `source:` filter may say to mean `code`: the code or the name, folded."""
    known = name(code)
    return {_folded(code)} | ({_folded(known)} if known else set())


@lru_cache(maxsize=4096)
def _folded(code: str) -> str:
    """A code or a name folded: a page names the same few sources again and again (each
    hit's and each facet's), and analysing one took 15 µs."""
    return folded_words(code)
