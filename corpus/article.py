"""The plain record every reader yields and the indexer consumes."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class Article:
    id: str
    title: str
    body: str
    summary: str | None = None
    # A date when only the day is known, a datetime when the file gives the time too.
    published: dt.date | dt.datetime | None = None
    source: str | None = None
    author: str | None = None
    url: str | None = None
    # Where the record came from, e.g. "corpus/samples/000.txt" or "news.jsonl.gz:17".
    origin: str = ""
