"""Hostile and unlucky input: every case stays out of the index or gets in repaired, with a
warning naming where it came from, and never stops a build, a search or a page.

Through the real readers, the real build and update, the Flask test client and the CLI.
"""
from __future__ import annotations

import gzip
import itertools
import json
import math
import os
import re
import threading
import tracemalloc
from html import unescape
from pathlib import Path
from urllib.parse import urlencode, urljoin, urlsplit

import pytest
from click.testing import CliRunner
from flask import url_for

from vnsearch.corpus import SAMPLES_DIR, Problem, read_articles
from vnsearch.corpus.cleanup import cut_text, max_read_bytes
from vnsearch.indexer.build import build_index
from vnsearch.indexer.update import update_index
from vnsearch.search.syntax import MAX_QUERY_CHARS
from vnsearch.web import create_app
from vnsearch.web.cli import main

from conftest import ROOT

# A small limit keeps the over-long cases small and the tests fast; the readers apply it
# exactly as they apply the default.
LIMIT = 30_000
LINE_LIMIT = max_read_bytes(LIMIT)  # bytes of a JSON Lines line, at most


def record(article_id, **fields) -> dict:
    return {"id": article_id, "title": f"Hội nghị {article_id}", "body": "Nội dung hội nghị tỉnh ủy.", **fields}


def line(obj) -> str:
    return obj if isinstance(obj, str) else json.dumps(obj)  # ASCII, as \u escapes: lone surrogates survive


def no_nan(text: str):
    """json.loads that fails on NaN or Infinity, which are not JSON."""
    def reject(constant):
        raise AssertionError(f"{constant} in JSON output")
    return json.loads(text, parse_constant=reject)


def read_all(paths, limit: int = LIMIT) -> tuple[list, list[Problem]]:
    problems: list[Problem] = []
    return list(read_articles(paths, problems.append, limit)), problems


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


# --- Bad lines of JSON Lines: one file, built and updated once, a row per line ------------------

BAD_LINES = [
    # (line, expected warning, whole line skipped?, title stored when kept)
    (record("sur-title", title="Hội nghị \ud800 tỉnh"), "lone surrogates", False, "Hội nghị \ufffd tỉnh"),
    # The body, summary, author, source and url are text to read: repaired the same way.
    (record("sur-body", body="Nội dung \udfff hội nghị"), "in body", False, "Hội nghị sur-body"),
    (record("sur-summary", summary="Tóm tắt \ud83d"), "in summary", False, "Hội nghị sur-summary"),
    (record("sur-author", author="Tác giả \ud800"), "in author", False, "Hội nghị sur-author"),
    (record("sur-source", source="BDK\ud800"), "in source", False, "Hội nghị sur-source"),
    (record("sur-url", url="https://example.vn/\ud800"), "in url", False, "Hội nghị sur-url"),
    # An id is an identity: repaired, it would be another one (and could collide).
    (record("id-\ud800"), "is not valid Unicode", True, None),
    # Valid JSON that Python's parser refuses: integers of more than 4,300 digits ...
    (line(record("huge-int"))[:-1] + ', "views": ' + "9" * 5000 + "}", "more than 4,300 digits", True, None),
    ('{"id": ' + "1" * 5000 + ', "title": "t", "body": "b"}', "more than 4,300 digits", True, None),
    # ... and nesting deeper than its recursion limit.
    ('{"id": "deep", "title": "t", "body": "b", "x": ' + deep(100_000) + "}", "nested too deeply", True, None),
    # Longer than the line limit: read past in chunks, never whole.
    (record("long-line", body="chữ " * LINE_LIMIT), f"longer than the limit of {LINE_LIMIT:,}", True, None),
    # Within the line limit but over the character limit: the text that fits is indexed.
    (record("long-text", body="Đoạn văn hội nghị.\n\n" * 2_000), "indexed its first", False, "Hội nghị long-text"),
    # A date at the edge of datetime's range is a real date.
    (record("far-date", date="9999-12-31"), None, False, "Hội nghị far-date"),
]
GOOD_FIRST, GOOD_LAST = record("good-first"), record("good-last")


@pytest.fixture(scope="module")
def bad_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("bad") / "bad.jsonl"
    lines = [GOOD_FIRST] + [row[0] for row in BAD_LINES] + [GOOD_LAST]
    path.write_text("".join(line(obj) + "\n" for obj in lines), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def bad_build(bad_file):
    """(index home, problems): the samples and the bad file, built at the small limit."""
    problems: list[Problem] = []
    home = bad_file.parent / "index"
    build_index([SAMPLES_DIR, bad_file], home, procs=1, on_problem=problems.append, max_article_chars=LIMIT)
    return home, problems


@pytest.fixture(scope="module")
def bad_client(bad_build):
    return create_app({"INDEX": str(bad_build[0]), "TESTING": True}).test_client()


@pytest.mark.parametrize("row", BAD_LINES, ids=[f"line{n + 2}" for n in range(len(BAD_LINES))])
def test_a_bad_line_is_reported_with_its_line_and_the_build_goes_on(bad_file, bad_build, bad_client, row):
    obj, expected, skipped, title = row
    origin = f"{bad_file}:{BAD_LINES.index(row) + 2}"  # after the good first line
    _, problems = bad_build
    found = [p for p in problems if p.origin == origin]
    if expected is None:
        assert found == []
    else:
        assert len(found) == 1 and expected in found[0].message and found[0].skipped is skipped, found
    if title is not None:
        article = no_nan(bad_client.get(f"/api/articles/{json.loads(line(obj))['id']}").get_data(as_text=True))
        assert article["title"] == title
    for good in (GOOD_FIRST, GOOD_LAST):
        assert bad_client.get(f"/api/articles/{good['id']}").status_code == 200


def test_repaired_text_is_searchable_and_its_pages_serve(bad_client):
    """Before: every search, suggestion, related list and page touching it was a 500."""
    for url in ["/?q=hoi+nghi", "/api/search?q=hoi+nghi&per_page=100", "/api/suggest?q=hoi+ng",
                "/article/sur-title", "/article/sur-body?q=noi+dung", "/api/articles/sur-url"]:
        response = bad_client.get(url)
        assert response.status_code == 200, url
        assert "\ud800" not in response.get_data(as_text=True)
    data = no_nan(bad_client.get("/api/search?q=hoi+nghi&per_page=100").get_data(as_text=True))
    assert {"sur-title", "sur-body", "sur-url", "long-text"} <= {hit["id"] for hit in data["hits"]}


def test_text_over_the_limit_is_cut_at_a_sentence_or_word(bad_client):
    body = no_nan(bad_client.get("/api/articles/long-text").get_data(as_text=True))["body"]
    assert len("Hội nghị long-text") + len(body) <= LIMIT and body.endswith("hội nghị.")


def test_cli_search_prints_repaired_articles(bad_build):
    result = CliRunner().invoke(main, ["search", "hội nghị", "--index", str(bad_build[0]), "--limit", "100"])
    assert result.exit_code == 0 and result.exception is None, result.output
    assert "\ufffd tỉnh" in result.output


def test_an_update_with_bad_lines_reports_them_and_keeps_the_rest(bad_file, tmp_path):
    home = tmp_path / "index"
    build_index([SAMPLES_DIR], home, procs=1)
    problems: list[Problem] = []
    report = update_index([bad_file], home, procs=1, on_problem=problems.append, max_article_chars=LIMIT)
    skipped = sum(row[2] for row in BAD_LINES)
    assert report.skipped == skipped and report.added == len(BAD_LINES) - skipped + 2
    assert {p.origin for p in problems} == {f"{bad_file}:{n + 2}" for n, row in enumerate(BAD_LINES) if row[1]}


def test_an_over_long_line_is_never_held_in_memory(tmp_path):
    """A 200 KB gzip can expand to one 200 MB line: 3.4 GB to read it whole."""
    path = tmp_path / "bomb.jsonl.gz"
    bomb = b'{"id": "bomb", "title": "t", "body": "' + b"a" * 20_000_000 + b'"}\n'
    path.write_bytes(gzip.compress(bomb + (line(GOOD_LAST) + "\n").encode(), compresslevel=1))
    tracemalloc.start()
    try:
        articles, problems = read_all([path], limit=1_000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [a.id for a in articles] == ["good-last"]
    assert [p.origin for p in problems] == [f"{path}:1"] and "20,000,041 bytes" in problems[0].message
    assert peak < 5_000_000, f"{peak:,} bytes to read past a 20 MB line"


@pytest.mark.parametrize("text, limit, expected", [
    ("Một hai ba.", 20, "Một hai ba."),                              # fits: unchanged
    ("Đoạn một.\n\nĐoạn hai dài hơn.", 20, "Đoạn một."),           # at a paragraph break
    ("Một hai ba bốn năm sáu", 12, "Một hai ba"),                   # else at a space
    ("Mộthaibabốnnămsáu", 5, "Mộtha"),                              # else where the limit falls
    ("Một\n" + "x" * 30, 20, "Một\nxxxxxxxxxxxxxxxx"),              # a break in the first half is not worth it
])
def test_cut_text(text, limit, expected):
    assert cut_text(text, limit) == expected


def test_a_huge_text_file_is_read_only_up_to_the_limit(tmp_path):
    path = tmp_path / "huge.txt"
    lines = "".join(f"Đoạn {n} của hội nghị tỉnh ủy.\n" for n in range(10_000))  # distinct: repeats are dropped
    path.write_text("Tiêu đề bài rất dài\n\n" + lines, encoding="utf-8")
    (article,), problems = read_all([path], limit=1_000)
    assert len(article.title) + len(article.body) <= 1_000 and article.body.endswith("tỉnh ủy.")
    assert [(p.skipped, "larger than 8,000 bytes" in p.message or "indexed its first" in p.message)
            for p in problems] == [(False, True), (False, True)]


def test_a_non_utf8_file_name_is_skipped_not_indexed_as_an_invalid_id(tmp_path):
    name = os.fsencode(tmp_path) + b"/b\xe0i.txt"  # Latin-1 "bài"
    with open(name, "wb") as stream:
        stream.write("Tiêu đề\n\nNội dung bài.".encode())
    articles, problems = read_all([tmp_path])
    assert articles == [] and len(problems) == 1 and "not valid Unicode" in problems[0].message


# --- The article size limit on the command line ------------------------------------------------

@pytest.mark.parametrize("args, env, expected, code", [
    # The option cuts, and says so.
    (["--max-article-chars", "100"], {}, "indexed its first", 0),
    # So does the environment variable.
    ([], {"VNSEARCH_MAX_ARTICLE_CHARS": "100"}, "indexed its first", 0),
    # The default leaves a normal article alone.
    ([], {}, "Indexed 1 articles, skipped 0", 0),
    # A bad value is one line, no traceback.
    ([], {"VNSEARCH_MAX_ARTICLE_CHARS": "abc"}, "Invalid value for '--max-article-chars'", 2),
    (["--max-article-chars", "0"], {}, "Invalid value for '--max-article-chars'", 2),
])
def test_max_article_chars_option(tmp_path, args, env, expected, code):
    path = tmp_path / "a.jsonl"
    path.write_text(line(record("a", body="Nội dung hội nghị. " * 20)) + "\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["index", str(path), "--index", str(tmp_path / "ix"), "--procs", "1", *args],
                                env=env)
    assert result.exit_code == code and expected in result.output, result.output
    assert "Traceback" not in result.output


# --- Files and folders that were skipped silently ------------------------------------------------

def _fifo(folder: Path) -> Path:
    os.mkfifo(folder / "pipe.jsonl")
    return folder / "pipe.jsonl"


def _locked(folder: Path, monkeypatch) -> Path:
    (folder / "locked").mkdir()
    (folder / "locked" / "a.txt").write_text("Tiêu đề\n\nNội dung.", encoding="utf-8")
    (folder / "locked").chmod(0)
    if os.access(folder / "locked", os.R_OK):  # root reads it anyway: refuse it as the kernel would
        real = os.scandir
        monkeypatch.setattr(os, "scandir", lambda p=".": (_ for _ in ()).throw(PermissionError(13, "Permission denied"))
                            if Path(p) == folder / "locked" else real(p))
    return folder / "locked"


def _file(name: str, data: bytes):
    def make(folder: Path, monkeypatch) -> Path:
        (folder / name).write_bytes(data)
        return folder / name
    return make


def _link(name: str, target: str):
    def make(folder: Path, monkeypatch) -> Path:
        (folder / name).parent.mkdir(exist_ok=True)
        (folder / name).symlink_to(target.format(folder=folder))
        return folder / name
    return make


SKIPS = [
    # (prepares the folder and returns the path the warning names, expected warning)
    (_file("empty.jsonl", b""), "empty file"),
    (_file("empty.jsonl.gz", b""), "empty file"),
    (_file("blank.jsonl.gz", gzip.compress(b"\n \n")), "only blank lines"),
    # A link whose target is gone, to a file or to a folder.
    (_link("gone.txt", "{folder}/nowhere.txt"), "broken link"),
    (_link("gone", "{folder}/no-folder"), "broken link"),
    (_locked, "cannot read folder: Permission denied"),
    # A FIFO blocked the reader forever; /dev/zero grew memory to a MemoryError.
    (lambda folder, monkeypatch: _fifo(folder), "not a regular file (a FIFO)"),
    (_link("zero.txt", "/dev/zero"), "not a regular file (a device)"),
    # A link to an enclosing folder would be a loop: read once only.
    (_link("sub/loop", "{folder}"), "a link to a folder already read"),
]


@pytest.mark.parametrize("prepare, expected", SKIPS)
def test_what_a_folder_holds_besides_articles_is_named(tmp_path, monkeypatch, prepare, expected):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "ok.jsonl").write_text(line(GOOD_FIRST) + "\n", encoding="utf-8")
    named = prepare(folder, monkeypatch)
    articles, problems = _read_with_timeout([folder])
    assert [a.id for a in articles] == ["good-first"]
    assert [(p.origin, expected in p.message) for p in problems] == [(str(named), True)], problems


def test_a_linked_folder_is_read_once(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "a.jsonl").write_text(line(GOOD_FIRST) + "\n", encoding="utf-8")
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "linked").symlink_to(tmp_path / "real")
    (tmp_path / "corpus" / "again").symlink_to(tmp_path / "real")
    articles, problems = _read_with_timeout([tmp_path / "corpus"])
    assert [a.origin for a in articles] == [f"{tmp_path}/corpus/again/a.jsonl:1"]
    assert [(p.origin, "already read" in p.message) for p in problems] == [(f"{tmp_path}/corpus/linked", True)]


@pytest.mark.parametrize("make, expected", [
    # Given by name, a FIFO hung the build forever.
    (lambda d: os.mkfifo(d / "pipe.jsonl") or d / "pipe.jsonl", "not a regular file (a FIFO)"),
    (lambda d: (d / "zero.jsonl").symlink_to("/dev/zero") or d / "zero.jsonl", "not a regular file (a device)"),
])
def test_a_special_file_given_by_name_is_refused(tmp_path, make, expected):
    path = make(tmp_path)
    articles, problems = _read_with_timeout([path])
    assert articles == [] and [(p.origin, expected in p.message) for p in problems] == [(str(path), True)]


def _read_with_timeout(paths):
    """read_all, failing instead of hanging the test run when a reader blocks."""
    out: list = []
    reader = threading.Thread(target=lambda: out.append(read_all(paths)), daemon=True)
    reader.start()
    reader.join(timeout=30)
    assert out, "the reader blocked"
    return out[0]


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
    (folder / "a.jsonl").write_text(line(GOOD_FIRST) + "\n", encoding="utf-8")
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
