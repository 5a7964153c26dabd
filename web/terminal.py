"""Results as text for a terminal: search hits (matches in colour, or in [brackets] when piped)
and the findings of `vnsearch check`."""
from __future__ import annotations

import html
import math
import re
from typing import TYPE_CHECKING

import click

from vnsearch.indexer.integrity import CheckReport
from vnsearch.web.formats import vn_number

if TYPE_CHECKING:  # the engine is not imported for its types: 50 ms of every command's start
    from vnsearch.search.engine import Results

_MARK_RE = re.compile(r"<mark>(.*?)</mark>", re.S)
# Control characters but newline and tab: in article text, an escape sequence (ESC, or
# the one-character CSI U+009B) would recolour, retitle or rewrite the reader's terminal.
_CONTROL_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """Text safe to print to a terminal: control characters other than newline and tab removed."""
    return _CONTROL_RE.sub("", text)


def json_printable(text: str) -> str:
    """JSON text whose strings carry no raw control character: json.dumps escapes those below
    U+0020 itself but writes DEL and U+0080-U+009F as they are."""
    return _CONTROL_RE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _marked(fragment: str, color: bool) -> str:
    """The snippet's HTML as terminal text: <mark> becomes colour, or [brackets] when piped."""
    # Splitting on a pattern with one group alternates plain text (even) and marked text (odd).
    parts = [printable(html.unescape(part)) for part in _MARK_RE.split(fragment)]
    for i in range(1, len(parts), 2):
        parts[i] = click.style(parts[i], fg="yellow", bold=True) if color else f"[{parts[i]}]"
    return "".join(parts)


def render_results(results: Results, color: bool, sort: str = "relevance") -> str:
    lines = []
    if results.showing:
        lines.append(f"Đang hiển thị kết quả cho: {printable(results.showing)} (tìm chính xác như đã gõ: --as-typed)")
    elif results.suggestion:
        lines.append(f"Có phải bạn muốn tìm: {printable(results.suggestion)}")
    if results.partial:
        lines.append("Không có bài nào chứa mọi từ; đây là các bài chứa một phần.")
        if results.missing:
            lines.append(f"Không có: {printable(', '.join(results.missing))}")
    first = (results.page - 1) * results.per_page + 1
    if not results.hits and results.total:
        last = math.ceil(results.total / results.per_page)
        lines.append(f"Trang {vn_number(results.page)} vượt quá trang cuối ({vn_number(last)}): "
                     f"{vn_number(results.total)} kết quả, {vn_number(results.per_page)} mỗi trang.")
        return "\n".join(lines)
    if not results.hits:
        lines.append(f"Không tìm thấy kết quả nào cho “{printable(results.query)}” ({vn_number(results.took_ms)} ms).")
        return "\n".join(lines)
    lines.append(f"{vn_number(results.total)} kết quả ({vn_number(results.took_ms)} ms), "
                 f"{vn_number(first)}–{vn_number(first + len(results.hits) - 1)}:")
    if sort == "date" and results.undated:
        lines.append("Không bài nào ghi ngày đăng: xếp theo mức liên quan." if results.undated == results.total
                     else f"{vn_number(results.undated)} bài không rõ ngày đăng được xếp cuối.")
    for number, hit in enumerate(results.hits, first):
        # The publication's name where known, with the code `source:` filters by.
        source = f"{hit.source_name} ({hit.source})" if hit.source_name else hit.source
        meta = printable(" · ".join(x for x in (source, (hit.date or "")[:10], hit.id) if x))
        title = _marked(hit.title_html, color)
        lines += ["", f"{number}. {click.style(title, bold=True) if color else title}", f"   {meta}",
                  f"   {_marked(hit.snippet, color)}"]
        if hit.explain is not None:
            parts = " + ".join(f"{name} {value:.2f}" for name, value in hit.explain.items() if value)
            lines.append(f"   điểm {hit.score:.2f} = {parts or '0'}")
    return "\n".join(lines)


def render_check(report: CheckReport) -> str:
    current = report.current
    size = f"{current.files:,} files, {current.bytes / 1e6:,.1f} MB"
    if report.sound:
        return (f"The index at {report.index} is sound: {size} of generation {current.generation} "
                f"verified in {report.seconds:.2f} s.")
    lines = [f"The index at {report.index} is damaged ({current.build}):"]
    lines += [f"  {problem['file']}: {problem['problem']}" for problem in current.problems]
    if report.advice:
        lines += ["To recover, " + report.advice[0]] + report.advice[1:]
    return "\n".join(lines)
