"""Plain-text articles as scraped from news sites.

A scraped page keeps more than the story: an optional kicker above the headline,
a date line, a dateline tag opening the lead ("BDK.VN - ", "(GLO)- "), photo
captions repeated by the scraper, a byline, and site furniture ("Chia sẻ bài
viết", "Leave a Reply"). `parse_text` separates those from the article text.
The rules are general (pattern lists below), never keyed on particular files.

Text is kept as written: patterns are matched against an NFC copy of each line
so that decomposed files parse the same way, but the body keeps the original.
"""
from __future__ import annotations

import codecs
import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from .article import Article
from .cleanup import MAX_ARTICLE_CHARS, max_read_bytes
from .problem import Problem, ProblemHandler

# Whole lines that are site furniture rather than article text. Matched against
# the entire line, case-insensitively, so a sentence containing the words stays.
CHROME_PATTERNS = [
    r"chia sẻ(?: bài viết)?:?",
    r"(?:gửi |viết )?bình luận(?: của bạn)?:?",
    r"ý kiến bạn đọc:?",
    r"(?:tin|bài viết) liên quan:?",
    r"xem thêm:?",
    r"(?:in|gửi) bài viết",
    r"lên đầu trang",
    r"rate this post",
    r"leave a (?:reply|comment)",
    r"your email address will not be published\.?(?: required fields are marked \*)?",
    r"share|tweet|print",
    # Leftovers of stripped markup: a line with no letters or digits (".", "*", "---").
    r"[\W_]+",
]
_CHROME = re.compile("|".join(f"(?:{p})" for p in CHROME_PATTERNS), re.IGNORECASE)

# The date line sits in the page header, so it is only looked for among the first
# few lines; a date inside a sentence ("Ngày 15-12-2020, Ban ...") is never taken.
HEAD_LINES = 5
_PREFIX = (
    r"(?:(?:cập nhật|ngày đăng|đăng|xuất bản|thời gian|published|posted|updated)"
    r"(?:\s+(?:ngày|lúc|on|at))?\s*:?\s*)?"
)
_WEEKDAY = r"(?:(?:thứ\s+(?:hai|ba|tư|năm|sáu|bảy|[2-7])|chủ\s+nhật|t[2-7]|cn)\s*,?\s*)?"
_DMY = r"(?:ngày\s+)?(?P<d>\d{1,2})[/.-](?P<m>\d{1,2})[/.-](?P<y>\d{4})"
_TIME = r"(?:lúc\s*)?(?P<H>\d{1,2})\s*[:hg]\s*(?P<M>\d{2})(?::(?P<S>\d{2}))?(?:\s*(?P<ampm>am|pm))?"
_SEP = r"\s*(?:[-–,|]\s*)?"
# Sites print their local time with a zone note; the wall-clock time is what we keep.
_ZONE = r"(?:\s*\(?(?:gmt|utc)\s*[+-]\s*\d{1,2}(?::?\d{2})?\)?)?"
DATE_LINE_PATTERNS = [
    # "15/12/2020 - 13:57", "Cập nhật ngày: 18/01/2022 12:35:11",
    # "Thứ Năm, 14/01/2021, 14:15 (GMT+7)"
    rf"{_PREFIX}{_WEEKDAY}{_DMY}(?:{_SEP}{_TIME})?{_ZONE}",
    # "13:57 15/12/2020", "14:15 | Thứ Năm, 14/01/2021"
    rf"{_PREFIX}{_TIME}{_SEP}{_WEEKDAY}{_DMY}{_ZONE}",
    # "Thứ Hai, ngày 18 tháng 1 năm 2022"
    rf"{_PREFIX}{_WEEKDAY}ngày\s+(?P<d>\d{{1,2}})\s+tháng\s+(?P<m>\d{{1,2}})\s+năm\s+(?P<y>\d{{4}})"
    rf"(?:{_SEP}{_TIME})?{_ZONE}",
    # "2021-01-14", "2021-01-14 14:15"
    rf"{_PREFIX}(?P<y>\d{{4}})-(?P<m>\d{{2}})-(?P<d>\d{{2}})(?:[T ]{_TIME})?{_ZONE}",
]
_DATE_LINES = [re.compile(p, re.IGNORECASE) for p in DATE_LINE_PATTERNS]

# Dateline tags opening the lead. A bare tag is an agency code in capitals with
# spaces around the dash ("BDK.VN - ", "ĐTO - "), so "COVID-19 ..." is not a tag;
# a bracketed one is a short name ("(GLO)- ", "(TTXVN) - ").
_BARE_TAG = re.compile(r"(?P<tag>[^\s()]{2,20})\s+[-–—]\s+")
_BRACKET_TAG = re.compile(r"\((?P<tag>[^()]{2,30})\)\s*[-–—]\s*")
_DOMAIN_END = re.compile(r"\.(?:vn|com|net|org)$", re.IGNORECASE)

# A headline is short; a longer first line is the lead paragraph of an untitled scrape.
TITLE_MAX_CHARS = 200
# A title made from the lead's first sentence is cut to this length at a word boundary.
DERIVED_TITLE_MAX_CHARS = 120
# Overlines such as "ĐẢNG ỦY KHỐI CÁC CƠ QUAN TỈNH" are short and in capitals.
KICKER_MAX_WORDS = 10
_SENTENCE_END = re.compile(r"[.!?…](?=\s|$)")
# News leads open with when ("Ngày 9-7, ", "Sáng 18/1, "); a headline does not.
_LEADING_WHEN = re.compile(
    r"(?:(?:sáng|trưa|chiều|tối|đêm)\s+)?(?:ngày\s+)?\d{1,2}[-/.]\d{1,2}(?:[-/.]\d{2,4})?\s*,\s*",
    re.IGNORECASE,
)

# Bylines: "Tin, ảnh: Quốc Hùng", "Bài và ảnh: X", "Tin: X". A photo credit alone
# ("Ảnh: X") names the photographer, not the author, and is left in the text.
_BYLINE = re.compile(
    r"(?:tin|bài|tin bài|bài viết)(?:\s*(?:,|và|/|&|\+|-)\s*ảnh)?\s*:\s*(?P<name>[^!?:;]*[^.!?:;\s])",
    re.IGNORECASE,
)
# "Theo TTXVN" closing a story credits the outlet it was taken from.
_ATTRIBUTION = re.compile(r"theo\s+(?P<name>[^!?:;]*[^.!?:;\s])", re.IGNORECASE)
NAME_MAX_WORDS = 5
_NAME_JOINERS = {"-", "–", "&", "và"}


@dataclass(frozen=True)
class ParsedText:
    title: str
    body: str
    published: dt.date | dt.datetime | None = None
    source: str | None = None
    author: str | None = None
    # A header line shaped like a date that names no real day ("31/02/2021").
    bad_date: str | None = None


# A line of the file: its position (to know which lines shared a paragraph) and text.
_Line = tuple[int, str]


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _is_chrome(text: str) -> bool:
    return _CHROME.fullmatch(_nfc(text)) is not None


def _date_from_match(m: re.Match[str]) -> dt.date | dt.datetime:
    """Raises ValueError for a day that does not exist."""
    day, month, year = int(m["d"]), int(m["m"]), int(m["y"])
    if m["H"] is None:
        return dt.date(year, month, day)
    hour = int(m["H"])
    ampm = (m["ampm"] or "").lower()
    if ampm == "pm" and hour < 12:
        hour += 12
    elif ampm == "am" and hour == 12:
        hour = 0
    return dt.datetime(year, month, day, hour, int(m["M"]), int(m["S"] or 0))


def _take_date(lines: list[_Line]) -> tuple[dt.date | dt.datetime | None, str | None, list[_Line]]:
    """Find the date line in the header; return (date, unreadable date line, other lines)."""
    for k, (_, text) in enumerate(lines[:HEAD_LINES]):
        key = _nfc(text)
        m = next((m for p in _DATE_LINES if (m := p.fullmatch(key))), None)
        if m is None:
            continue
        rest = lines[:k] + lines[k + 1:]
        try:
            return _date_from_match(m), None, rest
        except ValueError:
            return None, text, rest
    return None, None, lines


def split_dateline(paragraph: str) -> tuple[str | None, str]:
    """Split "BDK.VN - Ngày 15-12-2020, ..." into ("BDK.VN", "Ngày 15-12-2020, ...")."""
    m = _BRACKET_TAG.match(paragraph)
    if m and len(m["tag"].split()) <= 3:
        return m["tag"].strip(), paragraph[m.end():].strip()
    m = _BARE_TAG.match(paragraph)
    if m and _is_agency_code(m["tag"]):
        return m["tag"], paragraph[m.end():].strip()
    return None, paragraph


def _is_agency_code(tag: str) -> bool:
    core = _DOMAIN_END.sub("", tag)
    letters = [c for c in core if c.isalpha()]
    return (
        len(letters) >= 2
        and all(c.isupper() for c in letters)
        and all(c.isalnum() or c in ".&" or unicodedata.combining(c) for c in core)
    )


def _is_all_caps(text: str) -> bool:
    return any(c.isalpha() for c in text) and text == text.upper()


def _is_kicker(text: str) -> bool:
    return _is_all_caps(text) and len(text.split()) <= KICKER_MAX_WORDS


def _could_be_title(text: str) -> bool:
    return len(text) <= TITLE_MAX_CHARS and split_dateline(text)[0] is None


def _take_title(lines: list[_Line]) -> tuple[str | None, bool, list[_Line]]:
    """Return (headline, kicker kept?, remaining lines); None when the scrape starts with the lead.

    A kicker in capitals above a normal-case headline is not the title; it stays
    as the first paragraph of the body so that its words remain searchable.
    """
    first = lines[0][1]
    if not _could_be_title(first):
        return None, False, lines
    if len(lines) > 1 and _is_kicker(first):
        second = lines[1][1]
        if _could_be_title(second) and not _is_all_caps(second) and not second.endswith("."):
            return second, True, [lines[0]] + lines[2:]
    return first, False, lines[1:]


def title_from_lead(lead: str) -> str:
    """A headline for an untitled scrape: the lead's first sentence, cut at a word."""
    sentence = lead
    for m in _SENTENCE_END.finditer(lead):
        words = lead[: m.start()].split()
        # "TP. Hồ Chí Minh", "PGS. TS. ..." are not sentence ends: skip short
        # capitalised abbreviations, and insist on a few words first.
        if len(words) >= 4 and not (len(words[-1]) <= 3 and words[-1][0].isupper()):
            sentence = lead[: m.end()]
            break
    when = _LEADING_WHEN.match(sentence)
    if when and sentence[when.end():][:1].isupper():
        sentence = sentence[when.end():]
    sentence = sentence.rstrip(" .")
    if len(sentence) <= DERIVED_TITLE_MAX_CHARS:
        return sentence
    cut = sentence[: DERIVED_TITLE_MAX_CHARS]
    # End at a clause break (", " or after a closing bracket) if one falls in the
    # second half; a title cut after a bare preposition reads badly.
    clause = max(cut.rfind(", "), cut.rfind("; "), cut.rfind(") ") + 1)
    if clause >= DERIVED_TITLE_MAX_CHARS // 2:
        cut = cut[:clause]
    elif " " in cut:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip(" ,;:-–—(") + "…"


def _looks_like_name(text: str) -> bool:
    words = text.split()
    # "Theo ..." ("according to") credits an outlet, it is not a name.
    if not 1 <= len(words) <= NAME_MAX_WORDS or text[-1] in ".!?…:;," or words[0] == "Theo":
        return False
    return all(
        w in _NAME_JOINERS
        or (w[0].isupper() and all(c.isalpha() or c in ".-'" or unicodedata.combining(c) for c in w))
        for w in words
    )


def _byline_name(text: str) -> str | None:
    m = _BYLINE.fullmatch(_nfc(text))
    if m and len(m["name"].split()) <= NAME_MAX_WORDS + 2:
        # The name follows the only colon; take it from the line as written.
        return text.rsplit(":", 1)[1].strip()
    return None


def _attribution(text: str) -> str | None:
    m = _ATTRIBUTION.fullmatch(_nfc(text))
    if m and m["name"][:1].isupper() and len(m["name"].split()) <= NAME_MAX_WORDS + 1:
        return text.split(None, 1)[1].strip()
    return None


def _take_bylines(lines: list[_Line]) -> tuple[str | None, str | None, list[_Line]]:
    """Remove bylines; return (author, outlet credited with "Theo ...", remaining lines).

    The author is the first byline in reading order: a two-story page carries one
    byline per story, and the closing line of a page is often a bare name.
    """
    found: list[tuple[int, str]] = []
    credit = None
    lines = list(lines)
    took_bare_name = False
    # Closing lines first: a bare name or "Theo X" only counts at the very end.
    while len(lines) > 1:
        pos, text = lines[-1]
        if name := _byline_name(text):
            found.append((pos, name))
        elif outlet := _attribution(text):
            credit = credit or outlet
        elif not took_bare_name and _looks_like_name(text):
            found.append((pos, text))
            took_bare_name = True
        else:
            break
        lines.pop()
    kept = []
    for pos, text in lines:
        if len(lines) > 1 and (name := _byline_name(text)):
            found.append((pos, name))
        else:
            kept.append((pos, text))
    author = min(found)[1] if found else None
    return author, credit, kept


def _drop_repeats(lines: list[_Line]) -> list[_Line]:
    """Scrapers emit a photo caption twice (alt text and figcaption): keep one."""
    kept: list[_Line] = []
    for line in lines:
        if not kept or _nfc(kept[-1][1]) != _nfc(line[1]):
            kept.append(line)
    return kept


def _join_paragraphs(lines: list[_Line]) -> str:
    """Lines adjacent in the file stay one paragraph; paragraphs are separated by a blank line."""
    paragraphs: list[list[str]] = []
    last_pos = None
    for pos, text in lines:
        if last_pos is not None and pos == last_pos + 1:
            paragraphs[-1].append(text)
        else:
            paragraphs.append([text])
        last_pos = pos
    return "\n\n".join("\n".join(p) for p in paragraphs)


def parse_text(text: str) -> ParsedText:
    """Split a scraped article into title, body and metadata.

    Raises ValueError, with the reason, when no article text is left.
    """
    # Indentation and trailing spaces (often U+00A0) carry nothing in a scrape.
    lines = [(i, line.strip()) for i, line in enumerate(text.split("\n"))]
    lines = [(i, t) for i, t in lines if t and not _is_chrome(t)]
    if not lines:
        raise ValueError("no article text, only site furniture")
    published, bad_date, lines = _take_date(lines)
    if not lines:
        raise ValueError("no article text, only a date line")
    title, has_kicker, lines = _take_title(lines)

    # The lead is the first paragraph, after a kicker if one was kept.
    lead_at = 1 if has_kicker else 0
    source = None
    if lead_at < len(lines):
        pos, lead = lines[lead_at]
        source, lead = split_dateline(lead)
        lines = lines[:lead_at] + ([(pos, lead)] if lead else []) + lines[lead_at + 1:]
    if title is None:
        if not lines:
            raise ValueError("no article text")
        title = title_from_lead(lines[0][1])

    author, credit, lines = _take_bylines(_drop_repeats(lines))
    if not lines:
        raise ValueError("no article text after the title")
    return ParsedText(
        title=title,
        body=_join_paragraphs(lines),
        published=published,
        source=source or credit,
        author=author,
        bad_date=bad_date,
    )


def decode_text(data: bytes) -> str:
    """UTF-8 (a BOM is allowed) with \\n line ends; ValueError says why the bytes are not that."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ValueError("UTF-16 text is not supported; save the file as UTF-8")
    if b"\0" in data:
        raise ValueError("binary file (contains NUL bytes), not a text article")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ValueError(
            f"not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start}); save the file as UTF-8"
        ) from None
    if not text.strip():
        raise ValueError("empty file")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _read_head(path: Path, max_bytes: int) -> tuple[bytes, bool]:
    """The file's bytes, or its first `max_bytes` up to a line break; True if it was cut.

    A line break (or else a space) is always the end of a whole UTF-8 character.
    """
    with open(path, "rb") as stream:
        data = stream.read(max_bytes + 1)
    if len(data) <= max_bytes:
        return data, False
    data = data[:max_bytes]
    for separator in (b"\n", b" "):
        if (at := data.rfind(separator)) > 0:
            return data[:at], True
    # No break at all: drop a character cut in half (its lead and continuation bytes).
    end = len(data)
    while end > 0 and data[end - 1] & 0xC0 == 0x80:
        end -= 1
    return data[:end - 1] if end and data[end - 1] >= 0xC0 else data, True


def read_text_file(path: Path, on_problem: ProblemHandler,
                   max_bytes: int = max_read_bytes(MAX_ARTICLE_CHARS)) -> Article | None:
    """Read one scraped article; its id is the file name without the extension.

    Returns None after reporting exactly one skipping Problem when the file is unusable.
    Of a file larger than `max_bytes`, only the first `max_bytes` are read, with a Problem.
    """
    origin = str(path)
    try:
        data, cut = _read_head(path, max_bytes)
        parsed = parse_text(decode_text(data))
    except OSError as e:
        on_problem(Problem(origin, f"cannot read file: {e.strerror or e}"))
        return None
    except ValueError as e:
        on_problem(Problem(origin, str(e)))
        return None
    if cut:
        on_problem(Problem(origin, f"file is larger than {max_bytes:,} bytes (--max-article-chars); "
                                   f"read its first {len(data):,}", skipped=False))
    if parsed.bad_date:
        on_problem(Problem(origin, f"ignored date line {parsed.bad_date!r}: no such day", skipped=False))
    return Article(
        id=path.stem,
        title=parsed.title,
        body=parsed.body,
        published=parsed.published,
        source=parsed.source,
        author=parsed.author,
        origin=origin,
    )
