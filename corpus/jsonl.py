"""JSON Lines articles, plain or gzip-compressed: one object per line.

Required: "id", "title", "body" (non-empty strings). Optional: "summary",
"source", "url", "author" (strings) and "date" (ISO 8601). Text is kept exactly
as given; the indexer normalises it.
"""
from __future__ import annotations

import datetime as dt
import gzip
import json
import sys
import zlib
from pathlib import Path
from typing import IO, Iterator

from .article import Article
from .cleanup import MAX_ARTICLE_CHARS, max_read_bytes
from .problem import Problem, ProblemHandler

REQUIRED_FIELDS = ("id", "title", "body")
OPTIONAL_TEXT_FIELDS = ("summary", "source", "url", "author")
# What a damaged gzip stream raises part-way through: truncation is EOFError,
# a bad header or checksum is BadGzipFile (an OSError), garbled data is zlib.error.
_STREAM_ERRORS = (OSError, EOFError, zlib.error)
# The most bytes of a line read at once; past it, the line is known to be too long.
MAX_LINE_BYTES = max_read_bytes(MAX_ARTICLE_CHARS)
# How much of an over-long line is read at a time while skipping it.
_SKIP_CHUNK = 1 << 20


def _open(path: Path) -> IO[bytes]:
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rb")
    return open(path, "rb")


def parse_iso_date(value: str) -> dt.date | dt.datetime:
    """"2021-01-14" gives a date; "2021-01-14T14:15" (offset allowed) a datetime.

    Raises ValueError. A datetime keeps its wall-clock time and drops the offset,
    like the plain-text reader does with "(GMT+7)", so every published value is
    naive and they can be compared and sorted together.
    """
    text = value.strip()
    if not any(sep in text for sep in "Tt "):
        return dt.date.fromisoformat(text)
    if text[-1:] in "zZ":
        text = text[:-1] + "+00:00"  # Python 3.10's fromisoformat rejects "Z"
    return dt.datetime.fromisoformat(text).replace(tzinfo=None)


def _lines(stream: IO[bytes], max_bytes: int) -> Iterator[tuple[int, bytes | int]]:
    """(line number, line) pairs, never holding more than `max_bytes` of a line in memory.

    A longer line is read past in chunks and given as its length in bytes instead: a
    200 KB gzip can hold one 200 MB line, and reading it whole took 3.4 GB.
    """
    lineno = 0
    while raw := stream.readline(max_bytes + 1):
        lineno += 1
        if len(raw) <= max_bytes or raw.endswith(b"\n"):
            yield lineno, raw
            continue
        length = len(raw)
        while rest := stream.readline(_SKIP_CHUNK):
            length += len(rest)
            if rest.endswith(b"\n"):
                break
        yield lineno, length


def _json_type(value: object) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "true/false", type(None): "null"}
    return names.get(type(value), "number")


def _required_text(obj: dict, key: str) -> str | None:
    value = obj.get(key)
    # Numeric ids are common in exported data sets and unambiguous as text.
    if key == "id" and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value
    return None


def parse_line(raw: bytes, origin: str, on_problem: ProblemHandler) -> Article | None:
    """One JSON Lines record; None after reporting exactly one skipping Problem."""
    try:
        # utf-8-sig: a BOM may open the file, or a line when files were concatenated.
        obj = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as e:
        on_problem(Problem(origin, f"not UTF-8 text (byte 0x{raw[e.start]:02x} at column {e.start + 1})"))
        return None
    except json.JSONDecodeError as e:
        on_problem(Problem(origin, f"invalid JSON ({e.msg} at column {e.colno})"))
        return None
    except RecursionError:
        # Valid JSON, but Python's parser recurses once per level of nesting.
        on_problem(Problem(origin, "JSON nested too deeply to read"))
        return None
    except ValueError:
        # Valid JSON too: Python refuses to convert integers this long (CVE-2020-10735).
        on_problem(Problem(origin, f"a number of more than {sys.get_int_max_str_digits():,} digits"))
        return None
    if not isinstance(obj, dict):
        on_problem(Problem(origin, f"expected a JSON object, got {_json_type(obj)}"))
        return None
    required = {key: _required_text(obj, key) for key in REQUIRED_FIELDS}
    missing = [key for key, value in required.items() if value is None]
    if missing:
        names = ", ".join(f"'{key}'" for key in missing)
        on_problem(Problem(origin, f"missing or empty required field(s) {names}"))
        return None

    optional: dict[str, str | None] = {}
    for key in OPTIONAL_TEXT_FIELDS:
        value = obj.get(key)
        if value is not None and not isinstance(value, str):
            on_problem(Problem(origin, f"ignored '{key}': expected a string, got {_json_type(value)}", skipped=False))
            value = None
        optional[key] = value or None

    published = None
    date = obj.get("date")
    if date not in (None, ""):
        try:
            if not isinstance(date, str):
                raise ValueError
            published = parse_iso_date(date)
        except ValueError:
            on_problem(Problem(
                origin,
                f"ignored 'date' {date!r}: expected ISO 8601 such as 2021-01-14 or 2021-01-14T14:15:00",
                skipped=False,
            ))
    return Article(
        id=required["id"], title=required["title"], body=required["body"],
        published=published, origin=origin, **optional,
    )


def read_jsonl_file(path: Path, on_problem: ProblemHandler,
                    max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[Article]:
    """Stream the articles of a .jsonl or .jsonl.gz file; blank lines are ignored.

    A bad line, or one longer than `max_line_bytes`, is reported and skipped; so is a
    file with no line at all. A damaged gzip stream ends the file with one Problem;
    the articles read before the damage are valid and were yielded.
    """
    lineno = 0
    blank = True
    try:
        with _open(path) as stream:
            for lineno, raw in _lines(stream, max_line_bytes):
                if isinstance(raw, int):
                    blank = False
                    on_problem(Problem(f"{path}:{lineno}", f"line of {raw:,} bytes is longer than the limit of "
                                                           f"{max_line_bytes:,} (--max-article-chars); skipped"))
                    continue
                if raw.isspace():
                    continue
                blank = False
                article = parse_line(raw, f"{path}:{lineno}", on_problem)
                if article is not None:
                    yield article
        if blank:
            on_problem(Problem(str(path), "only blank lines, no articles" if lineno else "empty file"))
    except EOFError:
        on_problem(Problem(str(path), f"gzip data ends early (truncated file?); stopped after line {lineno}"))
    except (gzip.BadGzipFile, zlib.error) as e:
        on_problem(Problem(str(path), f"corrupt gzip data ({e}); stopped after line {lineno}"))
    except OSError as e:
        on_problem(Problem(str(path), f"cannot read file: {e.strerror or e}"))


def count_lines(path: Path, max_line_bytes: int = MAX_LINE_BYTES) -> int:
    """Non-blank lines of a .jsonl or .jsonl.gz file, without parsing them.

    An estimate for progress bars: on a damaged file it returns what it counted
    and leaves the reporting to read_jsonl_file.
    """
    count = 0
    try:
        with _open(path) as stream:
            for _, raw in _lines(stream, max_line_bytes):
                if isinstance(raw, int) or not raw.isspace():
                    count += 1
    except _STREAM_ERRORS:
        pass
    return count
