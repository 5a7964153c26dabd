"""Hostile and unlucky input: every case stays out of the index or gets in repaired, with a
warning naming where it came from, and never stops a build, a search or a page.

Through the real readers, the real build and update, the Flask test client and the CLI.
"""
from __future__ import annotations

import gzip
import json
import os
import threading
import tracemalloc
from pathlib import Path

import pytest
from click.testing import CliRunner

from vnsearch.corpus import SAMPLES_DIR, Problem, read_articles
from vnsearch.corpus.cleanup import cut_text, max_read_bytes
from vnsearch.indexer.build import build_index
from vnsearch.indexer.update import update_index
from vnsearch.web import create_app
from vnsearch.web.cli import main

from conftest import line, no_nan, record

# A small limit keeps the over-long cases small and the tests fast; the readers apply it
# exactly as they apply the default.
LIMIT = 30_000
LINE_LIMIT = max_read_bytes(LIMIT)  # bytes of a JSON Lines line, at most


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
