"""Search results as text for a terminal: matches in colour, or in [brackets] when piped."""
from __future__ import annotations

import html
import re

import click

from vnsearch.search.engine import Results

_MARK_RE = re.compile(r"<mark>(.*?)</mark>", re.S)


def _marked(fragment: str, color: bool) -> str:
    """The snippet's HTML as terminal text: <mark> becomes colour, or [brackets] when piped."""
    # Splitting on a pattern with one group alternates plain text (even) and marked text (odd).
    parts = [html.unescape(part) for part in _MARK_RE.split(fragment)]
    for i in range(1, len(parts), 2):
        parts[i] = click.style(parts[i], fg="yellow", bold=True) if color else f"[{parts[i]}]"
    return "".join(parts)


def render_results(results: Results, color: bool) -> str:
    lines = []
    if results.showing:
        lines.append(f"Đang hiển thị kết quả cho: {results.showing} (tìm chính xác như đã gõ: --as-typed)")
    elif results.suggestion:
        lines.append(f"Có phải bạn muốn tìm: {results.suggestion}")
    if results.partial:
        lines.append("Không có bài nào chứa mọi từ; đây là các bài chứa một phần.")
        if results.missing:
            lines.append(f"Không có: {', '.join(results.missing)}")
    first = (results.page - 1) * results.per_page + 1
    if not results.hits:
        lines.append(f"Không tìm thấy kết quả nào cho “{results.query}” ({results.took_ms:.0f} ms).")
        return "\n".join(lines)
    lines.append(f"{results.total:,} kết quả ({results.took_ms:.0f} ms), "
                 f"{first}–{first + len(results.hits) - 1}:")
    for number, hit in enumerate(results.hits, first):
        meta = " · ".join(x for x in (hit.source, (hit.date or "")[:10], hit.id) if x)
        title = _marked(hit.title_html, color)
        lines += ["", f"{number}. {click.style(title, bold=True) if color else title}", f"   {meta}",
                  f"   {_marked(hit.snippet, color)}"]
        if hit.explain is not None:
            parts = " + ".join(f"{name} {value:.2f}" for name, value in hit.explain.items() if value)
            lines.append(f"   điểm {hit.score:.2f} = {parts or '0'}")
    return "\n".join(lines)
