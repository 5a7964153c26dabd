"""corpus: reading scraped plain text and JSON Lines into Article records."""
from __future__ import annotations

import datetime as dt
import gzip
import json
import unicodedata
from pathlib import Path

import pytest

from vnsearch.corpus import SAMPLES_DIR, Article, Problem, count_articles, read_articles

VIETNEWS = Path(__file__).resolve().parent.parent.parent / "shared/corpus/vietnews-test.jsonl.gz"

def read_all(paths) -> tuple[list[Article], list[Problem]]:
    problems: list[Problem] = []
    articles = list(read_articles(paths, problems.append))
    return articles, problems


def write_jsonl(path: Path, records: list, *, compress: bool = False) -> Path:
    data = "".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in records)
    path.write_bytes(gzip.compress(data.encode()) if compress else data.encode())
    return path


GOOD = {"id": "a1", "title": "Tiêu đề", "body": "Nội dung bài viết."}


# --- JSON Lines ----------------------------------------------------------------

@pytest.mark.parametrize("compress, name", [(False, "news.jsonl"), (True, "news.jsonl.gz")])
def test_jsonl_plain_and_gzip(tmp_path, compress, name):
    full = {**GOOD, "id": "a2", "summary": "Tóm tắt", "date": "2021-01-14", "source": "VietNews",
            "url": "https://example.vn/a2", "author": "Lê Hải"}
    path = write_jsonl(tmp_path / name, [GOOD, "", "   ", full], compress=compress)
    articles, problems = read_all([path])
    assert problems == []
    assert articles == [
        Article(id="a1", title="Tiêu đề", body="Nội dung bài viết.", origin=f"{path}:1"),
        Article(id="a2", title="Tiêu đề", body="Nội dung bài viết.", summary="Tóm tắt",
                published=dt.date(2021, 1, 14), source="VietNews", url="https://example.vn/a2",
                author="Lê Hải", origin=f"{path}:4"),
    ]
    assert count_articles([path]) == 2


@pytest.mark.parametrize("value, expected", [
    ("2021-01-14", dt.date(2021, 1, 14)),
    ("2021-01-14T14:15:00", dt.datetime(2021, 1, 14, 14, 15)),
    ("2021-01-14 14:15", dt.datetime(2021, 1, 14, 14, 15)),
    # An offset is dropped, keeping the wall-clock time, so all dates compare.
    ("2021-01-14T14:15:00+07:00", dt.datetime(2021, 1, 14, 14, 15)),
    ("2021-01-14T07:15:00Z", dt.datetime(2021, 1, 14, 7, 15)),
    (None, None),
    ("", None),
])
def test_jsonl_dates(tmp_path, value, expected):
    path = write_jsonl(tmp_path / "d.jsonl", [{**GOOD, "date": value}])
    articles, problems = read_all([path])
    assert problems == []
    assert articles[0].published == expected
    assert type(articles[0].published) is type(expected)


@pytest.mark.parametrize("value", ["14/01/2021", "2021-02-30", "yesterday", 20210114])
def test_jsonl_bad_date_keeps_article(tmp_path, value):
    path = write_jsonl(tmp_path / "d.jsonl", [{**GOOD, "date": value}])
    articles, problems = read_all([path])
    assert [a.id for a in articles] == ["a1"] and articles[0].published is None
    assert len(problems) == 1
    assert problems[0].origin == f"{path}:1" and problems[0].skipped is False
    assert "date" in problems[0].message


def test_jsonl_keeps_text_exactly(tmp_path):
    decomposed = unicodedata.normalize("NFD", "  Hoà bình  ")
    path = write_jsonl(tmp_path / "t.jsonl", [{**GOOD, "title": decomposed, "id": 7}])
    (article,), _ = read_all([path])
    assert article.title == decomposed
    assert article.id == "7"   # numeric ids are read as text


def test_jsonl_with_bom(tmp_path):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(GOOD).encode() + b"\n")
    articles, problems = read_all([path])
    assert [a.id for a in articles] == ["a1"] and problems == []


# --- bad input: reported once, named, skipped, never fatal ----------------------

BAD_LINES = [
    # line, words the message must contain
    ("{not json", "invalid JSON"),
    ('["a1", "Tiêu đề", "Nội dung"]', "array"),
    ('{"title": "T", "body": "B"}', "'id'"),
    ('{"id": "x", "body": "B"}', "'title'"),
    ('{"id": "x", "title": "T", "body": "   "}', "'body'"),
    ('{"id": "x", "title": "T", "body": 42}', "'body'"),
]


@pytest.mark.parametrize("line, words", BAD_LINES)
def test_bad_jsonl_line_is_one_problem(tmp_path, line, words):
    path = write_jsonl(tmp_path / "bad.jsonl", [GOOD, line, {**GOOD, "id": "a3"}])
    articles, problems = read_all([path])
    assert [a.id for a in articles] == ["a1", "a3"]
    assert len(problems) == 1
    problem = problems[0]
    assert problem.skipped and problem.origin == f"{path}:2"
    assert words in problem.message
    assert str(problem) == f"{path}:2: {problem.message}"


BAD_TEXT_FILES = [
    # bytes, words the message must contain
    ("Tin nhanh\n\nCà phê và bánh mì".encode("latin-1"), "not UTF-8"),
    (b"", "empty"),
    (b"  \n\n \t\n", "empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
    ("Tiêu đề\n\nNội dung".encode("utf-16"), "UTF-16"),
    (b"Chia s\xe1\xba\xbb b\xc3\xa0i vi\xe1\xba\xbft\n\nB\xc3\x8cNH LU\xe1\xba\xacN\n", "no article text"),
    ("Chỉ có tiêu đề".encode(), "no article text"),
]


@pytest.mark.parametrize("data, words", BAD_TEXT_FILES)
def test_bad_text_file_is_one_problem(tmp_path, data, words):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(data)
    good = tmp_path / "good.txt"
    good.write_text("Tiêu đề\n\nNội dung.", encoding="utf-8")
    articles, problems = read_all([bad, good])
    assert [a.id for a in articles] == ["good"]
    assert len(problems) == 1
    assert problems[0].origin == str(bad) and problems[0].skipped
    assert words in problems[0].message


def test_text_file_with_bom_and_crlf(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbf" + "Tiêu đề\r\n\r\nNội dung.\r\n".encode())
    (article,), problems = read_all([path])
    assert (article.title, article.body, problems) == ("Tiêu đề", "Nội dung.", [])


def gzip_bytes(records: list[dict]) -> bytes:
    return gzip.compress("".join(json.dumps(r) + "\n" for r in records).encode())


def test_truncated_gzip_keeps_articles_before_the_break(tmp_path):
    # Long, varied bodies so that the first half of the compressed bytes holds whole lines.
    records = [{**GOOD, "id": f"a{i}", "body": f"Đoạn {i} " + " ".join(map(str, range(i * 500, i * 500 + 400)))}
               for i in range(40)]
    data = gzip_bytes(records)
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    articles, problems = read_all([path])
    assert len(problems) == 1
    assert problems[0].origin == str(path) and problems[0].skipped
    assert "gzip" in problems[0].message
    assert 0 < len(articles) < len(records)
    assert articles == [a for a in articles if a.body == records[int(a.id[1:])]["body"]]
    assert [a.id for a in articles] == [f"a{i}" for i in range(len(articles))]
    assert 0 < count_articles([path]) < len(records)   # an estimate, no crash


@pytest.mark.parametrize("data", [b"this is not gzip at all\n", b"\x1f\x8b\x08\x00garbage" * 10])
def test_corrupt_gzip_is_one_problem(tmp_path, data):
    path = tmp_path / "bad.jsonl.gz"
    path.write_bytes(data)
    articles, problems = read_all([path])
    assert articles == [] and len(problems) == 1
    assert problems[0].origin == str(path) and "gzip" in problems[0].message
    assert count_articles([path]) == 0


def test_missing_path_raises_before_reading_anything(tmp_path):
    problems: list[Problem] = []
    missing = tmp_path / "nowhere.jsonl"
    with pytest.raises(FileNotFoundError, match="nowhere.jsonl"):
        read_articles([SAMPLES_DIR, missing], problems.append)
    with pytest.raises(FileNotFoundError, match="nowhere.jsonl"):
        count_articles([SAMPLES_DIR, missing])
    assert problems == []


def test_folder_of_seeds_and_bad_files(tmp_path):
    for seed in SAMPLES_DIR.glob("*.txt"):
        (tmp_path / "seeds" / seed.name).parent.mkdir(exist_ok=True)
        (tmp_path / "seeds" / seed.name).write_bytes(seed.read_bytes())
    (tmp_path / "latin1.txt").write_bytes("Tin nhanh\n\nCà phê và bánh mì".encode("latin-1"))
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "broken.jsonl").write_text("{oops\n", encoding="utf-8")
    # Not articles: ignored without a word.
    (tmp_path / "notes.md").write_text("# ghi chú", encoding="utf-8")
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8\xff\x00")
    (tmp_path / "dump.json.gz").write_bytes(gzip_bytes([GOOD]))
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "backup.txt").write_bytes(b"\x00")

    articles, problems = read_all([tmp_path])
    assert sorted(a.id for a in articles) == sorted(p.stem for p in SAMPLES_DIR.glob("*.txt"))
    assert sorted(p.origin for p in problems) == sorted(
        [str(tmp_path / "broken.jsonl") + ":1", str(tmp_path / "empty.txt"), str(tmp_path / "latin1.txt")]
    )
    assert all(p.skipped for p in problems)
    assert count_articles([tmp_path]) == 5 + 2 + 1


def test_folders_are_read_in_sorted_order(tmp_path):
    for name in ["b.txt", "a.txt", "sub/c.txt"]:
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(f"Tiêu đề {name}\n\nNội dung.", encoding="utf-8")
    articles, _ = read_all([str(tmp_path)])
    assert [a.id for a in articles] == ["a", "b", "c"]


def test_explicit_file_of_unknown_type_is_one_problem(tmp_path):
    path = tmp_path / "dump.json"
    path.write_text(json.dumps(GOOD), encoding="utf-8")
    articles, problems = read_all([path, SAMPLES_DIR / "000_5c7e6b10f1f35871.txt"])
    assert [a.id for a in articles] == ["000_5c7e6b10f1f35871"]
    assert len(problems) == 1 and problems[0].origin == str(path) and problems[0].skipped
    assert ".jsonl" in problems[0].message


def test_count_articles(tmp_path):
    assert count_articles([SAMPLES_DIR]) == 5
    path = write_jsonl(tmp_path / "n.jsonl", [GOOD, "", GOOD, "{bad", "  "])
    assert count_articles([path]) == 3          # non-blank lines, not parsed
    assert count_articles([SAMPLES_DIR, path]) == 8


# --- the real corpus ----------------------------------------------------------

@pytest.mark.skipif(not VIETNEWS.exists(), reason=f"shared corpus not present at {VIETNEWS}")
def test_vietnews_first_500():
    problems: list[Problem] = []
    articles = []
    for article in read_articles([VIETNEWS], problems.append):
        articles.append(article)
        if len(articles) == 500:
            break
    assert problems == []
    assert len(articles) == 500
    assert all(a.id and a.title.strip() and a.body.strip() for a in articles)
    assert all(a.summary and a.source == "VietNews" for a in articles)
    assert articles[0].id == "vietnews-test-000001"
    assert articles[0].origin == f"{VIETNEWS}:1"
    assert len({a.id for a in articles}) == 500
