"""Hostile and unlucky queries and requests: scores, dates and web parameters at their edges,
the terminal, ids in URLs; each answers, never a traceback or a 500.

Through the real build, the Flask test client and the CLI (articles that are themselves
bad are in test_reliability_input.py).
"""
from __future__ import annotations

import itertools
import json
import math
import re
from html import unescape
from pathlib import Path
from urllib.parse import urlencode, urljoin, urlsplit

import pytest
from click.testing import CliRunner
from flask import url_for

from vnsearch.corpus import SAMPLES_DIR, Problem
from vnsearch.indexer.build import build_index
from vnsearch.search.syntax import MAX_QUERY_CHARS
from vnsearch.web import create_app
from vnsearch.web.cli import main

from conftest import ROOT, line, no_nan, record


# --- Finite scores over a corpus where only some articles have a summary -------------------------

@pytest.fixture(scope="module")
def mixed_home(tmp_path_factory) -> Path:
    """The .txt samples (no summary) plus JSON Lines articles with one, one dated 9999-12-31."""
    folder = tmp_path_factory.mktemp("mixed")
    path = folder / "with-summary.jsonl"
    path.write_text("".join(line(r) + "\n" for r in [
        {"id": "tinh-1", "title": "Tỉnh ủy họp, tỉnh giao nhiệm vụ", "summary": "Tỉnh triển khai kế hoạch của tỉnh.",
         "body": "Tỉnh ủy họp bàn việc của tỉnh."},
        {"id": "other", "title": "Một bài khác", "summary": "Tóm tắt khác", "body": "Không liên quan."},
        record("far-future", summary="Hội nghị cuối cùng", date="9999-12-31"),
    ]), encoding="utf-8")
    build_index([SAMPLES_DIR, path], folder / "index", procs=1)
    return folder / "index"


@pytest.fixture(scope="module")
def mixed_client(mixed_home):
    return create_app({"INDEX": str(mixed_home), "TESTING": True}).test_client()


@pytest.mark.parametrize("query, first", [
    # The word throughout title, summary and body: first by BM25 (with NaN it came last).
    ("tinh", "tinh-1"),
    ("tỉnh", "tinh-1"),
    # Words only in the .txt articles are scored as before.
    ("chi thi 35", "000_5c7e6b10f1f35871"),
])
def test_scores_are_finite_json_when_some_articles_have_no_summary(mixed_client, query, first):
    data = no_nan(mixed_client.get("/api/search?" + urlencode({"q": query})).get_data(as_text=True))
    scores = [hit["score"] for hit in data["hits"]]
    assert scores and all(math.isfinite(s) for s in scores)
    assert data["hits"][0]["id"] == first


# --- Dates at the edge of the calendar ------------------------------------------------------------

@pytest.mark.parametrize("query, total", [
    ("year:9999", 1),            # the last year datetime has: the article dated 9999-12-31
    ("date:9999-12", 1),
    ("date:9999-12-31", 1),
    ("date:9000..9999", 1),
    ("year:0000", 0),            # no such year: read as text, which no article has
    ("date:2021-13", 0),         # no such month
    ("date:2021-02-30", 0),      # no such day
    ("year:٢٠٢١", 0),            # Arabic-Indic digits are not a year
])
def test_date_filters_at_the_edges_never_fail(mixed_client, mixed_home, query, total):
    # As typed: a correction of the words might find articles (as_typed keeps it to the text).
    data = no_nan(mixed_client.get("/api/search?" + urlencode({"q": query, "as_typed": 1})).get_data(as_text=True))
    # Read as text, no article has every word: at most a partial match of some of them.
    assert (0 if data["partial"] else data["total"]) == total
    assert mixed_client.get("/?" + urlencode({"q": query})).status_code == 200
    result = CliRunner().invoke(main, ["search", query, "--index", str(mixed_home)])
    assert result.exit_code == 0 and result.exception is None, result.output


@pytest.mark.parametrize("year, status", [
    ("9999", 200),               # the last year: the filter ends where datetime does
    ("1", 200),
    ("10000", 400),              # past datetime's range: a bad parameter, said so
    ("٢٠٢١", 400),               # Arabic-Indic digits
])
def test_year_parameter_at_the_edges(mixed_client, year, status):
    assert mixed_client.get("/api/search?" + urlencode({"q": "hoi nghi", "year": year})).status_code == status


# --- Web parameters -------------------------------------------------------------------------------

@pytest.mark.parametrize("name, value", [
    ("page", "١٢"),              # Arabic-Indic 12: int() reads it, a user did not type 12
    ("page", "１２"),            # fullwidth digits
    ("per_page", "٥"),
])
def test_only_ascii_digits_are_numbers(mixed_client, name, value):
    response = mixed_client.get("/api/search?" + urlencode({"q": "hoi nghi", name: value}))
    assert response.status_code == 400 and name in response.get_json()["error"]["message"]


def test_a_long_query_is_cut_like_the_cli_does(mixed_client):
    assert f"cut at {MAX_QUERY_CHARS:,} characters" in (ROOT / "README.md").read_text(encoding="utf-8")
    query = "hội nghị " + "x" * 2 * MAX_QUERY_CHARS
    data = no_nan(mixed_client.get("/api/search?" + urlencode({"q": query})).get_data(as_text=True))
    assert data["query"] == query[:MAX_QUERY_CHARS] and data["total"] > 0
    assert mixed_client.get("/?" + urlencode({"q": query})).status_code == 200
    assert mixed_client.get("/api/suggest?" + urlencode({"q": query})).status_code == 200


def test_a_page_past_the_last_names_the_last(mixed_client, mixed_home):
    total = no_nan(mixed_client.get("/api/search?q=hoi+nghi").get_data(as_text=True))["total"]
    assert 1 < total < 99
    html = mixed_client.get("/?q=hoi+nghi&per_page=1&page=99").get_data(as_text=True)
    assert f'href="/?q=hoi+nghi&amp;page={total}&amp;per_page=1"' in html and "Đến trang cuối" in html
    result = CliRunner().invoke(main, ["search", "hoi", "nghi", "--limit", "1", "--page", "99",
                                       "--index", str(mixed_home)])
    assert result.exit_code == 0 and f"Trang 99 vượt quá trang cuối ({total})" in result.output, result.output


# --- The terminal ---------------------------------------------------------------------------------

ESCAPES = "\x1b[2J\x1b]0;pwned\x07\x9b31m\x08\x7f\r"


def test_cli_search_prints_no_escape_sequences_from_articles(tmp_path):
    path = tmp_path / "esc.jsonl"
    path.write_text(line(record("esc" + ESCAPES, title=f"Hội nghị {ESCAPES} tỉnh", source=f"BDK{ESCAPES}",
                                body=f"Nội dung {ESCAPES} hội nghị.\tHết.")) + "\n", encoding="utf-8")
    build_index([path], tmp_path / "ix", procs=1)
    for args in (["search", "hội nghị"], ["search", "--json", "hội nghị"], ["search", "--format", "csv", "hội nghị"],
                 ["search", "--format", "jsonl", "hội nghị"], ["stats"], ["stats", "--json"]):
        result = CliRunner().invoke(main, [*args, "--index", str(tmp_path / "ix")])
        assert result.exit_code == 0, result.output
        assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f]", result.output), (args, result.output)
        if "--json" in args or "jsonl" in args:
            json.loads(result.output)
    output = CliRunner().invoke(main, ["search", "hội nghị", "--index", str(tmp_path / "ix")]).output
    assert "[2J]0;pwned31m" in output


def test_cli_warnings_print_no_escape_sequences_from_file_names(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.jsonl").write_text(line(record("good-first")) + "\n", encoding="utf-8")
    (folder / "\x1b]0;pwned\x07.txt").write_bytes(b"")
    result = CliRunner().invoke(main, ["index", str(folder), "--index", str(tmp_path / "ix"), "--procs", "1"])
    assert result.exit_code == 0 and "]0;pwned.txt: empty file" in result.output, result.output
    assert "\x1b" not in result.output and "\x07" not in result.output


# --- Ids in URLs ----------------------------------------------------------------------------------

# What a path can do to an id: dot segments, empty segments, slashes at either end,
# newline and other controls, the "~" our encoding uses, characters URLs escape.
PIECES = ["a", ".", "..", "", "~x", "~YQ", "a b", "%2e", "\n", "\x00", "?#", "\\", "Đảng"]
HOSTILE_IDS = sorted(
    {"/".join(parts) for n in (1, 2) for parts in itertools.product(PIECES, repeat=n)}
    | {"/".join(parts) for parts in itertools.product(["a", ".", "..", ""], repeat=3)},  # a/../a, ./a/., …
    key=repr)
HOSTILE_IDS = [i for i in HOSTILE_IDS if i.strip()]  # an id must hold something


def _word(n: int) -> str:
    """A made-up syllable per article, so that a search finds that one only."""
    return "zq" + "".join("bcdghklmnprstvx"[int(d)] for d in f"{n:04d}")


@pytest.fixture(scope="module")
def id_client(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ids")
    path = folder / "ids.jsonl"
    path.write_text("".join(line({"id": i, "title": f"Bài {_word(n)}", "body": "Nội dung hội nghị."}) + "\n"
                            for n, i in enumerate(HOSTILE_IDS)), encoding="utf-8")
    problems: list[Problem] = []
    build_index([path], folder / "index", procs=1, on_problem=problems.append)
    assert problems == []
    return create_app({"INDEX": str(folder / "index"), "TESTING": True}).test_client()


def _follow(client, page_url: str, href: str):
    """GET a link as a browser would: resolved against the page, dot segments removed."""
    target = urlsplit(urljoin("http://localhost" + page_url, unescape(href)))
    return client.get(target.path + ("?" + target.query if target.query else ""))


def test_every_id_round_trips_from_its_result_link_to_its_page(id_client):
    assert len(HOSTILE_IDS) > 200
    for n, article_id in enumerate(HOSTILE_IDS):
        search = "/?" + urlencode({"q": _word(n)})
        links = re.findall(r'class="hit-title"><a href="([^"]+)"', id_client.get(search).get_data(as_text=True))
        assert len(links) == 1, (article_id, links)
        response = _follow(id_client, search, links[0])
        assert response.status_code == 200, (article_id, links[0])
        assert _word(n) in response.get_data(as_text=True), (article_id, links[0])


def test_related_links_and_the_api_reach_every_id(id_client):
    html = id_client.get("/article/a").get_data(as_text=True)
    related = re.findall(r'<li>\s*<a href="(/article/[^"]+)"', html)
    assert related and all(_follow(id_client, "/article/a", href).status_code == 200 for href in related)
    with id_client.application.test_request_context():
        urls = [url_for("web.api_article", article_id=article_id) for article_id in HOSTILE_IDS]
    for article_id, url in zip(HOSTILE_IDS, urls):
        response = _follow(id_client, "/", url)
        assert response.status_code == 200 and response.get_json()["id"] == article_id, (article_id, url)
