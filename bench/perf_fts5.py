"""The peer of the latency benchmarks: SQLite FTS5 behind a tiny HTTP server of our own.

    python bench/perf_fts5.py build DB [--corpus FILE] [--limit-docs N]   # FTS5 database of the articles
    python bench/perf_fts5.py serve DB [--port 0]                         # GET /api/search on 127.0.0.1
    python bench/perf_fts5.py search DB QUERY                             # one search, JSON on stdout

The table is `fts5(id, source, date, year UNINDEXED; title, summary, body, tokenize=
"unicode61 remove_diacritics 2")`. A search answers what vnsearch's API answers, as
SQLite would give it: the total, source and year counts (one GROUP BY), and a page of
hits ranked by `bm25(title 3, summary 1.5, body 1)` with `snippet()` marking the
matches. vnsearch's query syntax is translated: words all required (every token an
FTS5 string, so no syntax leaks), quoted and hyphenated words as phrases, `-x` as NOT,
`OR`, `title:` as a column filter, `source:`/`year:` and the `source`/`year` parameters
as WHERE clauses; when nothing has every word, any word (as vnsearch's partial results).
No accent restoration and no suggestion: FTS5 has neither. `unicode61` keeps `đ` a
letter of its own, so `dang` does not find `Đảng`: FTS5's real behaviour, kept.

The server is the standard library's ThreadingHTTPServer speaking HTTP/1.1 with
keep-alive, one SQLite connection per thread. It is as thin as an HTTP layer gets, so
the comparison with vnsearch (Flask under waitress) flatters FTS5 if anything; the
benchmarks also report the time spent inside each engine (`took_ms`).
"""
from __future__ import annotations

import argparse
import json
import re
import sqlite3
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from common import DEFAULT_CORPUS, load_articles, progress

from vnsearch.corpus import Article

TITLE_BOOST, SUMMARY_BOOST = 3.0, 1.5
SNIPPET_TOKENS = 24
MAX_PER_PAGE = 100
_TOKEN_RE = re.compile(r'(?P<neg>-)?(?:(?P<field>[A-Za-z]+):)?(?:"(?P<phrase>[^"]*)"?|(?P<word>[^\s"]+))')
_YEAR_RE = re.compile(r"^(\d{4})(?:\.\.(\d{4}))?$")
_WORD_RE = re.compile(r"[^\W_]+")


def build_db(articles: list[Article], path: Path, quiet: bool = False) -> float:
    """Write the FTS5 database of `articles` to `path`; returns the seconds it took."""
    started = time.perf_counter()
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    db = sqlite3.connect(tmp)
    db.execute('CREATE VIRTUAL TABLE docs USING fts5(id UNINDEXED, source UNINDEXED, date UNINDEXED, '
               'year UNINDEXED, title, summary, body, tokenize="unicode61 remove_diacritics 2")')
    rows = ((a.id, a.source, a.published.isoformat() if a.published else None,
             a.published.year if a.published else None, a.title, a.summary or "", a.body)
            for a in progress(articles, quiet, desc="FTS5 index", unit=" articles"))
    db.executemany("INSERT INTO docs VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    db.execute("INSERT INTO docs(docs) VALUES ('optimize')")  # one b-tree per term, as after a rebuild
    db.commit()
    db.close()
    tmp.replace(path)
    return time.perf_counter() - started


def translate(text: str) -> tuple[str | None, str | None, list[str], list]:
    """vnsearch's query syntax as FTS5: (all words required, any word, WHERE clauses, their arguments)."""
    items: list[tuple[bool, str]] = []  # (excluded, FTS5 expression)
    where: list[str] = []
    args: list = []
    pending_or = False
    for m in _TOKEN_RE.finditer(text):
        neg, name, phrase, word = bool(m["neg"]), (m["field"] or "").lower(), m["phrase"], m["word"]
        raw = phrase if phrase is not None else word
        if word == "OR" and not neg and not name and items and not items[-1][0]:
            pending_or = True
            continue
        if name == "source" and raw.strip():
            where.append("lower(source) = lower(?)")
            args.append(raw.strip())
            continue
        if name == "year" and (year := _YEAR_RE.match(raw)):
            where.append("year BETWEEN ? AND ?")
            args += [int(year[1]), int(year[2] or year[1])]
            continue
        if name and name != "title":
            raw = f"{m['field']}:{raw}"  # not a field we know: text, as vnsearch reads it
        tokens = _WORD_RE.findall(raw)
        if not tokens:
            continue
        expression = '"' + " ".join(tokens) + '"'  # a string of one token, or a phrase
        if name == "title":
            expression = "title : " + expression
        if pending_or:
            items[-1] = (False, f"({items[-1][1]} OR {expression})")
            pending_or = False
        else:
            items.append((neg, expression))
    positives = [e for neg, e in items if not neg]
    if not positives:
        return None, None, where, args
    negatives = [e for neg, e in items if neg]

    def excluding(expression: str) -> str:
        for negative in negatives:
            expression = f"({expression}) NOT {negative}"
        return expression

    return (excluding(" AND ".join(positives)),
            excluding(" OR ".join(positives)) if len(positives) > 1 else None, where, args)


class Fts5:
    """Searches over one read-only connection (one per thread in the server)."""

    def __init__(self, path: Path):
        self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)

    def search(self, q: str, page: int = 1, per_page: int = 10, sort: str = "relevance",
               source: str | None = None, year: int | None = None) -> dict:
        started = time.perf_counter()
        every, some, where, args = translate(q)
        if source:
            where.append("lower(source) = lower(?)")
            args.append(source)
        if year:
            where.append("year = ?")
            args.append(year)
        result = {"query": q, "total": 0, "page": page, "per_page": per_page, "took_ms": 0.0,
                  "suggestion": None, "partial": False, "facets": {"source": {}, "year": {}}, "hits": []}
        filters = "".join(f" AND {w}" for w in where)
        for match, partial in ((every, False), (some, True)):
            if match is None:
                continue
            counts = self.db.execute(f"SELECT source, year, count(*) FROM docs WHERE docs MATCH ?{filters} "
                                     "GROUP BY source, year", (match, *args)).fetchall()
            total = sum(n for _, _, n in counts)
            if total:
                break
        else:
            result["took_ms"] = round((time.perf_counter() - started) * 1000, 1)
            return result
        facets = result["facets"]
        for name, y, n in counts:
            if name:
                facets["source"][name] = facets["source"].get(name, 0) + n
            if y:
                facets["year"][str(y)] = facets["year"].get(str(y), 0) + n
        order = "date DESC" if sort == "date" else "score"
        rows = self.db.execute(
            f"SELECT id, title, date, source, bm25(docs, 0, 0, 0, 0, {TITLE_BOOST}, {SUMMARY_BOOST}, 1.0) AS score, "
            f"snippet(docs, -1, '<mark>', '</mark>', '…', {SNIPPET_TOKENS}) FROM docs "
            f"WHERE docs MATCH ?{filters} ORDER BY {order} LIMIT ? OFFSET ?",
            (match, *args, per_page, (page - 1) * per_page)).fetchall()
        result.update(total=total, partial=partial, hits=[
            {"id": i, "title": t, "date": d, "source": s, "url": None, "score": round(-score, 4), "snippet": snip}
            for i, t, d, s, score, snip in rows])
        result["took_ms"] = round((time.perf_counter() - started) * 1000, 1)
        return result


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as waitress does
    # Headers and body leave in two writes: without TCP_NODELAY, Nagle's algorithm holds
    # the body until the client's delayed ACK, 40 ms on Linux.
    disable_nagle_algorithm = True
    local = threading.local()
    db_path: Path

    def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
        url = urllib.parse.urlsplit(self.path)
        if url.path != "/api/search":
            return self._send(404, {"error": {"status": 404, "message": "not found"}})
        args = dict(urllib.parse.parse_qsl(url.query))
        try:
            page, per_page = int(args.get("page", 1)), int(args.get("per_page", 10))
            year = int(args["year"]) if args.get("year") else None
            if not (1 <= page <= 1000 and 1 <= per_page <= MAX_PER_PAGE):
                raise ValueError
        except ValueError:
            return self._send(400, {"error": {"status": 400, "message": "bad parameter"}})
        if not hasattr(self.local, "engine"):
            self.local.engine = Fts5(self.db_path)
        self._send(200, self.local.engine.search(args.get("q", ""), page, per_page, args.get("sort", "relevance"),
                                                 args.get("source") or None, year))

    def _send(self, status: int, data: dict) -> None:
        body = json.dumps(data, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def serve(db: Path, port: int) -> None:
    Handler.db_path = db
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    Fts5(db).search("hà nội")  # warm the page cache, as vnsearch warms up before serving
    print(f"Serving {db} on http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="SQLite FTS5 peer for the latency benchmarks: build its "
                                     "database, serve its search API on 127.0.0.1, or run one search.")
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="Build the FTS5 database of the corpus (or its first N articles).")
    build.add_argument("db", type=Path)
    build.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    build.add_argument("--limit-docs", type=int, metavar="N")
    build.add_argument("--quiet", "-q", action="store_true")
    server = commands.add_parser("serve", help="Serve GET /api/search on 127.0.0.1 (vnsearch's parameters).")
    server.add_argument("db", type=Path)
    server.add_argument("--port", type=int, default=0, help="0 picks a free port; the line printed says which.")
    one = commands.add_parser("search", help="Run one search and print the JSON answer.")
    one.add_argument("db", type=Path)
    one.add_argument("query")
    args = parser.parse_args(argv)
    if args.command == "build":
        seconds = build_db(load_articles(args.corpus, args.limit_docs, args.quiet), args.db, args.quiet)
        print(f"built {args.db} in {seconds:.1f} s")
    elif not args.db.exists():
        raise SystemExit(f"error: no database at {args.db}; build it first")
    elif args.command == "serve":
        serve(args.db, args.port)
    else:
        print(json.dumps(Fts5(args.db).search(args.query), ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
