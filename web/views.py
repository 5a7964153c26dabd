"""The one blueprint: the search page, article pages, the JSON API and OpenSearch.

The page and the API make the same call into `search`; the API returns its data,
the page renders it. Every route only reads.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request, url_for
from markupsafe import Markup

from vnsearch.search import sources
from vnsearch.search.engine import Engine, Hit, Results
from vnsearch.search.snippets import highlight, plain
from vnsearch.web import export
from vnsearch.web.addresses import public_root
from vnsearch.web.formats import Published, vietnam_now, vn_number
from vnsearch.web.ids import ArticleIdConverter
from vnsearch.web.terminal import printable
from vnsearch.web.params import SearchParams, last_page, page_numbers, parse_search, parse_text

bp = Blueprint("web", __name__)
# Registered before the routes below are, as they use it: links to articles of any id.
bp.record_once(lambda state: state.app.url_map.converters.setdefault("article", ArticleIdConverter))

# The documented shape of the API. An article's `origin` (a path on the server) stays private.
SEARCH_FIELDS = ("query", "total", "page", "per_page", "took_ms", "suggestion", "showing", "partial", "missing",
                 "undated", "facets", "hits")
HIT_FIELDS = ("id", "title", "date", "source", "source_name", "url", "score", "snippet")
# With explain=1, each hit also has its score's parts.
EXPLAIN_FIELD = "explain"
ARTICLE_FIELDS = ("id", "title", "summary", "author", "source", "date", "url", "body")
RELATED_FIELDS = ("id", "title", "date", "source", "url")
RELATED = 5
SUGGESTIONS = 8
TITLE_SUGGESTIONS = 3
# Entries in a search's Atom feed: the newest, as feed readers poll often.
FEED_ENTRIES = 50


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
    return render_template("search.html", params=params, results=results, pages=pages, last_page=last,
                           feed_args=_args(params, FEED_ARGS), export_args=_args(params, EXPORT_ARGS),
                           max_rows=export.MAX_ROWS)


# What a feed and a download keep of the page's parameters: the search, not the page shown.
FEED_ARGS = ("q", "source", "year", "as_typed")
EXPORT_ARGS = FEED_ARGS + ("sort",)


def _args(params: SearchParams, names: tuple[str, ...]) -> dict:
    return {name: value for name, value in params.link().items() if name in names}


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


@bp.get("/api/search.<any(csv, jsonl):format>")
def api_export(format: str):
    """Every hit up to export.MAX_ROWS, in the page's order, as a file to download."""
    params = parse_search(request.args)
    results, hits = _engine().export(params.q, export.MAX_ROWS, sort=params.sort, source=params.source,
                                     year=params.year, correct=not params.as_typed)
    response = Response(export.lines(format, hits), content_type=export.MEDIA_TYPES[format])
    response.headers["Content-Disposition"] = f'attachment; filename="{export.filename(params.q, format)}"'
    # How many hits there were in all, so a client can tell when the file stops at the cap.
    response.headers["X-Total-Count"] = str(results.total)
    return response


@bp.get("/feed")
def feed():
    """A search's newest articles as an Atom feed, for following a directive or a person."""
    params = parse_search(request.args)
    if params.is_empty:
        abort(400, "a feed follows a search: give q (or source, year)")
    results = _engine().search(params.q, per_page=FEED_ENTRIES, sort="date", source=params.source,
                               year=params.year, correct=not params.as_typed)
    # An undated article (listed last) carries the time the index last changed: the latest
    # moment it can have come to the reader's notice. The feed is as new as its newest entry.
    changed = _engine().changed()
    entries = [(hit, Published.parse(hit.date)) for hit in results.hits]
    entries = [(hit, published.instant() if published else changed, bool(published)) for hit, published in entries]
    args = _args(params, FEED_ARGS)
    # Feed readers keep these addresses: built like /opensearch.xml's, never from an odd Host.
    root = public_root(current_app.config["BASE_URL"], request)
    xml = render_template(
        "feed.xml", params=params, entries=entries, root=root,
        updated=max((moment for _, moment, _ in entries), default=changed),
        self_url=root + url_for("web.feed", **args),
        page_url=root + url_for("web.search_page", sort="date", **args),
    )
    return Response(xml, mimetype="application/atom+xml")


@bp.get("/api/articles/<article:article_id>")
def api_article(article_id: str):
    article = _article(article_id)
    data = {name: article.get(name) for name in ARTICLE_FIELDS}
    data["related"] = [{name: getattr(hit, name) for name in RELATED_FIELDS}
                       for hit in _engine().related(article_id, limit=RELATED)]
    return jsonify(data)


@bp.get("/api/suggest")
def api_suggest():
    """Completions of what is being typed: queries (`suggestions`) and articles (`titles`)."""
    prefix = parse_text(request.args, "q")
    found = _engine().complete(prefix, SUGGESTIONS, TITLE_SUGGESTIONS)
    if request.args.get("format") == "opensearch":
        # The OpenSearch suggestions format browsers read for their address bar: queries only.
        return Response(current_app.json.dumps([prefix, found.phrases]), mimetype="application/x-suggestions+json")
    titles = [{"id": title.id, "title": title.title, "link": url_for("web.article_page", article_id=title.id)}
              for title in found.titles]
    return jsonify(query=prefix, suggestions=found.phrases, titles=titles)


@bp.get("/opensearch.xml")
def opensearch():
    root = public_root(current_app.config["BASE_URL"], request)
    xml = render_template("opensearch.xml", root=root)
    return Response(xml, mimetype="application/opensearchdescription+xml")


bp.add_app_template_filter(vn_number, "vn_number")
bp.add_app_template_filter(Published.parse, "published")
bp.add_app_template_filter(plain, "plain")
bp.add_app_template_filter(printable, "printable")


@bp.app_template_filter("source_name")
def source_name(code: str | None) -> str | None:
    """The publication's name for a source code, if search/sources.tsv knows it."""
    return sources.name(code)


@bp.app_context_processor
def clock() -> dict:
    """`now` on Vietnam's clock for relative dates ("2 giờ trước"); config NOW fixes it."""
    return {"now": vietnam_now(current_app.config.get("NOW"))}


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
