"""The Whoosh schema: stored display fields plus the analysed views of each text."""
from __future__ import annotations

from typing import Iterator

from whoosh.analysis import Analyzer, Token
from whoosh.fields import DATETIME, ID, NUMERIC, STORED, TEXT, Schema

from vnsearch.indexer.analysis import analyse
from vnsearch.indexer.fields import POSITIONAL, TEXT_FIELDS, VIEWS, view_field


class ViewAnalyzer(Analyzer):
    """One view of `indexer.analysis` as a Whoosh analyzer.

    A thin wrapper, not a `Tokenizer | Filter` chain: the views share one split and one
    segmentation, which a chain would redo per view. Whoosh pickles it into the index, so
    it is a module-level class holding only the view's name.
    """

    def __init__(self, view: str):
        self.view = view

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self.view == other.view

    def __hash__(self) -> int:
        return hash((type(self), self.view))

    def __call__(self, value: str, positions: bool = False, chars: bool = False,
                 keeporiginal: bool = False, removestops: bool = True,
                 start_pos: int = 0, start_char: int = 0, mode: str = "",
                 **kwargs) -> Iterator[Token]:
        # Whoosh's convention: one Token object, refilled for every term.
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        for pos, term in enumerate(analyse(value).terms(self.view), start_pos):
            token.text = term.text
            token.boost = 1.0
            token.stopped = False
            if keeporiginal:
                token.original = value[term.start:term.end]
            if positions:
                token.pos = pos
            if chars:
                token.startchar = start_char + term.start
                token.endchar = start_char + term.end
            yield token


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
        for view in VIEWS:
            fields[view_field(text_field, view)] = TEXT(analyzer=ViewAnalyzer(view), phrase=view in POSITIONAL)
    return Schema(**fields)
