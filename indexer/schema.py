"""The Whoosh schema: stored display fields plus three analysed views of each text."""
from __future__ import annotations

from whoosh.fields import DATETIME, ID, NUMERIC, STORED, TEXT, Schema

from vnsearch.indexer.analysis import AccentedAnalyzer, FoldedAnalyzer, PairAnalyzer, WordAnalyzer

# The texts of an article that are searched; each gets the views below.
TEXT_FIELDS = ("title", "summary", "body")
# Suffix of each analysed view's field name, with its analyzer.
VIEWS = {
    "words": WordAnalyzer,
    "acc": AccentedAnalyzer,
    "fold": FoldedAnalyzer,
    "pairs": PairAnalyzer,
}
# Only the folded view needs positions (phrase checks); the ranking looks the other
# views up as whole terms, and positions would cost index time and space for nothing.
POSITIONAL = {"fold"}


def view_field(text_field: str, view: str) -> str:
    """`view_field("title", "fold")` -> "title_fold"."""
    return f"{text_field}_{view}"


# Every analysed field: indexed from lists of terms, never stored.
VIEW_FIELDS = tuple(view_field(text, view) for text in TEXT_FIELDS for view in VIEWS)


def build_schema() -> Schema:
    fields = {
        "id": ID(stored=True, unique=True),
        # Display copies, NFC but otherwise as written, so snippets show the original accents.
        "title": STORED(),
        "summary": STORED(),
        "body": STORED(),
        "author": STORED(),
        "url": STORED(),
        "origin": STORED(),
        # ISO date as written in the source ("2021-01-14" or "2021-01-14T14:15:00").
        "date": STORED(),
        "published": DATETIME(sortable=True),
        "year": NUMERIC(int, bits=16, stored=True, sortable=True),
        "source": ID(stored=True, sortable=True),
    }
    for text_field in TEXT_FIELDS:
        for view, analyzer in VIEWS.items():
            fields[view_field(text_field, view)] = TEXT(analyzer=analyzer(), phrase=view in POSITIONAL)
    return Schema(**fields)
