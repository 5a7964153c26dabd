"""Request parameters of a search, checked once for the page and the API alike.

A bad value is the caller's mistake, so it becomes a 400 with a message that names the
parameter; it is never clamped silently, or a client asking for 10,000 hits per page
would believe it got them all.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace

from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest

from vnsearch.search.limits import MAX_PER_PAGE, SORTS
from vnsearch.search.syntax import MAX_QUERY_CHARS

PER_PAGE = 10
# Deep pages are of no use to a reader and cost a scan each; 1,000 pages is far beyond any.
MAX_PAGE = 1000
# Years a date filter can hold: datetime's.
MIN_YEAR, MAX_YEAR = 1, 9999
# ASCII digits only: \d also matches other scripts' digits ("١٢"), which int() reads.
_DIGITS_RE = re.compile(r"[0-9]{1,9}")


@dataclass(frozen=True)
class SearchParams:
    q: str = ""
    page: int = 1
    per_page: int = PER_PAGE
    sort: str = SORTS[0]
    source: str | None = None
    year: int | None = None
    # Search the query exactly as typed, without showing a correction's results instead.
    as_typed: bool = False
    # Each hit's score parts (API only).
    explain: bool = False

    @property
    def is_empty(self) -> bool:
        """Nothing asked yet: the page shows its welcome instead of results."""
        return not (self.q.strip() or self.source or self.year)

    @property
    def filtered(self) -> bool:
        return bool(self.source or self.year)

    def link(self, **changes) -> dict:
        """Query-string arguments for a link to these parameters with `changes`, defaults left out.

        Changing a filter or the order starts again at page 1, as a reader expects.
        """
        if "page" not in changes and changes.keys() & {"q", "sort", "source", "year", "as_typed"}:
            changes["page"] = 1
        if "q" in changes and "as_typed" not in changes:
            changes["as_typed"] = False  # a new query is corrected again
        # `vars`, not `asdict`: the values are plain, and asdict's deep copy of every field
        # was a fifth of rendering a page of results (a page makes a dozen links).
        values = vars(replace(self, **changes))
        return {k: int(v) if isinstance(v, bool) else v for k, v in values.items()
                if v not in (None, "") and v != _DEFAULTS[k]}


_DEFAULTS = vars(SearchParams())


def parse_text(args: MultiDict, name: str) -> str:
    """Text as typed, cut to the query length the search reads, as the command line does."""
    return args.get(name, "")[:MAX_QUERY_CHARS]


def _number(args: MultiDict, name: str, default: int | None, low: int, high: int) -> int | None:
    """A whole number within [low, high]; missing or empty means `default`."""
    raw = args.get(name, "").strip()
    if not raw:
        return default
    if not _DIGITS_RE.fullmatch(raw) or not low <= int(raw) <= high:
        raise BadRequest(f"{name} must be a whole number from {low} to {high}, not {raw[:20]!r}")
    return int(raw)


def parse_search(args: MultiDict) -> SearchParams:
    sort = args.get("sort", "").strip() or SORTS[0]
    if sort not in SORTS:
        raise BadRequest(f"sort must be one of {', '.join(SORTS)}, not {sort[:20]!r}")
    return SearchParams(
        q=parse_text(args, "q"),
        page=_number(args, "page", 1, 1, MAX_PAGE),
        per_page=_number(args, "per_page", PER_PAGE, 1, MAX_PER_PAGE),
        sort=sort,
        source=parse_text(args, "source").strip() or None,
        year=_number(args, "year", None, MIN_YEAR, MAX_YEAR),
        as_typed=_flag(args, "as_typed"),
        explain=_flag(args, "explain"),
    )


def _flag(args: MultiDict, name: str) -> bool:
    """`name=1` (or true, yes, on) turns a flag on; missing, empty, 0, false, no or off leave it off."""
    raw = args.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise BadRequest(f"{name} must be 1 or 0, not {raw[:20]!r}")


def page_numbers(page: int, per_page: int, total: int, around: int = 2) -> list[int | None]:
    """The pages to link: first, last and a window around the current one; None marks a gap."""
    last = last_page(per_page, total)
    shown = sorted({1, last} | set(range(max(1, page - around), min(last, page + around) + 1)))
    out: list[int | None] = []
    for number in shown:
        if out and number - out[-1] > 1:
            out.append(None)
        out.append(number)
    return out


def last_page(per_page: int, total: int) -> int:
    return min(max(1, math.ceil(total / per_page)), MAX_PAGE)
