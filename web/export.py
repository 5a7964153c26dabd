"""Search results to take away, as Datasette offers every table: CSV and JSON Lines.

One set of columns and one writer for `vnsearch search --format` and the page's
download links (/api/search.csv, /api/search.jsonl). Rows are made one at a time, so
a download of 10,000 hits starts at once and never sits whole in memory as text.
"""
from __future__ import annotations

import csv
import io
import json
import re
from typing import TYPE_CHECKING, Iterable, Iterator

from vnsearch.indexer.analysis import fold_text
from vnsearch.search.snippets import plain
from vnsearch.web.terminal import json_printable, printable

if TYPE_CHECKING:  # the engine is not imported for its types: 50 ms of every command's start
    from vnsearch.search.engine import Hit

FORMATS = ("csv", "jsonl")
# All hits up to this many: a researcher's whole result set, for the queries a result
# set is worth taking away; a bigger one is a query too broad to read (`X-Total-Count`,
# and `total` on the command line, say how many there were).
MAX_ROWS = 10_000
COLUMNS = ("id", "title", "date", "source", "source_name", "url", "score", "snippet")
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8"}
_SLUG_RE = re.compile(r"[^a-z0-9]+")
SLUG_CHARS = 60


def row(hit: Hit) -> dict:
    """One hit as plain values; the snippet as plain text, without control characters
    (a scraped page's escape sequences would otherwise reach a terminal or a spreadsheet)."""
    values = {"id": hit.id, "title": hit.title, "date": hit.date, "source": hit.source,
              "source_name": hit.source_name, "url": hit.url, "score": hit.score, "snippet": plain(hit.snippet)}
    return {name: printable(value) if isinstance(value, str) else value for name, value in values.items()}


def lines(format: str, hits: Iterable[Hit]) -> Iterator[str]:
    """The hits as CSV (a header row first) or JSON Lines, one line (or CSV record) at a time."""
    if format == "jsonl":
        for hit in hits:
            yield json_printable(json.dumps(row(hit), ensure_ascii=False)) + "\n"
        return
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
    writer.writeheader()
    for hit in hits:
        writer.writerow(row(hit))
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()  # the header alone, when there is no hit


def filename(query: str, format: str) -> str:
    """A download's file name from the query, in ASCII letters, digits and dashes only
    ("chỉ thị 35-CT/TW" → vnsearch-chi-thi-35-ct-tw.csv): safe in a header and on every disk."""
    slug = _SLUG_RE.sub("-", fold_text(query)).strip("-")[:SLUG_CHARS].rstrip("-")
    return f"vnsearch-{slug}.{format}" if slug else f"vnsearch.{format}"
