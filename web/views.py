"""The one blueprint: the search page, article pages, the JSON API and OpenSearch.

The page and the API make the same call into `search`; the API returns its data,
the page renders it. Every route only reads.
"""
from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request, url_for
from markupsafe import Markup

from vnsearch.search.engine import Engine, Hit, Results
from vnsearch.search.snippets import highlight
from vnsearch.web.addresses import public_root
from vnsearch.web.ids import ArticleIdConverter
from vnsearch.web.params import SearchParams, last_page, page_numbers, parse_search, parse_text

bp = Blueprint("web", __name__)
# Registered before the routes below are, as they use it: links to articles of any id.
bp.record_once(lambda state: state.app.url_map.converters.setdefault("article", ArticleIdConverter))

# The documented shape of the API. An article's `origin` (a path on the server) stays private.
SEARCH_FIELDS = ("query", "total", "page", "per_page", "took_ms", "suggestion", "showing", "partial", "missing",
                 "facets", "hits")
HIT_FIELDS = ("id", "title", "date", "source", "url", "score", "snippet")
# With explain=1, each hit also has its score's parts.
EXPLAIN_FIELD = "explain"
ARTICLE_FIELDS = ("id", "title", "summary", "author", "source", "date", "url", "body")
RELATED_FIELDS = ("id", "title", "date", "source", "url")
RELATED = 5
SUGGESTIONS = 8


def _engine() -> Engine:
    return current_app.extensions["vnsearch"].get()


def _search(params: SearchParams) -> Results:
    return _engine().search(params.q, page=params.page, per_page=params.per_page, sort=params.sort,
                            source=params.source, year=params.year, explain=params.explain,
                            correct=not params.as_typed)


def _article(article_id: str) -> dict:
    article = _engine().article(article_id)
    if article is None:
        abort(404, f"no article with id {article_id!r}")
    return article


def paragraphs(body: str | None) -> list[str]:
    """The body's paragraphs: scraped text separates them by one newline or a blank line."""
    return [line.strip() for line in (body or "").splitlines() if line.strip()]


@bp.get("/")
def search_page():
    params = parse_search(request.args)
    results = None if params.is_empty else _search(params)
    pages = page_numbers(params.page, params.per_page, results.total) if results and results.total else []
    last = last_page(params.per_page, results.total) if results else 1
    return render_template("search.html", params=params, results=results, pages=pages, last_page=last)


@bp.get("/article/<article:article_id>")
def article_page(article_id: str):
    article = _article(article_id)
    query = parse_text(request.args, "q")
    # Arriving from a search, the reader sees where the words they looked for are.
    keys = _engine().query_keys(query) if query.strip() else []
    return render_template(
        "article.html", article=article, query=query,
        title=Markup(highlight(article.get("title") or "", keys)),
        summary=Markup(highlight(article["summary"], keys)) if article.get("summary") else None,
        paragraphs=[Markup(highlight(text, keys)) for text in paragraphs(article.get("body"))],
        related=_engine().related(article_id, limit=RELATED),
    )


@bp.get("/api/search")
def api_search():
    params = parse_search(request.args)
    data = _search(params).to_dict()
    fields = HIT_FIELDS + (EXPLAIN_FIELD,) * params.explain
    data["hits"] = [{name: hit[name] for name in fields} for hit in data["hits"]]
    return jsonify({name: data[name] for name in SEARCH_FIELDS})


@bp.get("/api/articles/<article:article_id>")
def api_article(article_id: str):
    article = _article(article_id)
    data = {name: article.get(name) for name in ARTICLE_FIELDS}
    data["related"] = [{name: getattr(hit, name) for name in RELATED_FIELDS}
                       for hit in _engine().related(article_id, limit=RELATED)]
    return jsonify(data)


@bp.get("/api/suggest")
def api_suggest():
    prefix = parse_text(request.args, "q")
    found = _engine().complete(prefix, SUGGESTIONS) if prefix.strip() else []
    if request.args.get("format") == "opensearch":
        # The OpenSearch suggestions format browsers read for their address bar.
        return Response(current_app.json.dumps([prefix, found]), mimetype="application/x-suggestions+json")
    return jsonify(query=prefix, suggestions=found)


@bp.get("/opensearch.xml")
def opensearch():
    root = public_root(current_app.config["BASE_URL"], request)
    xml = render_template("opensearch.xml", root=root)
    return Response(xml, mimetype="application/opensearchdescription+xml")


@bp.app_template_filter("vn_date")
def vn_date(value: str | None, with_time: bool = False) -> str:
    """ISO date as Vietnamese readers write it: 15/12/2020 (, 13:57)."""
    if not value:
        return ""
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return value
    shown = moment.strftime("%d/%m/%Y")
    return shown + moment.strftime(", %H:%M") if with_time and "T" in value else shown


@bp.app_template_filter("vn_number")
def vn_number(value: int) -> str:
    """Thousands separated by dots, as in Vietnamese: 22.643."""
    return f"{value:,}".replace(",", ".")


@bp.app_template_filter("web_url")
def web_url(value: str | None) -> str | None:
    """The article's original address if it is a web link; never a javascript: or data: URL."""
    if value and urlsplit(value.strip()).scheme.lower() in ("http", "https"):
        return value.strip()
    return None


@bp.app_template_filter("host")
def host(value: str) -> str:
    return urlsplit(value).hostname or value


def hit_link(hit: Hit, params: SearchParams) -> str:
    return url_for("web.article_page", article_id=hit.id, q=params.q or None)


bp.add_app_template_global(hit_link)
