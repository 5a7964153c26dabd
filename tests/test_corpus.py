"""corpus: reading scraped plain text and JSON Lines into Article records."""
from __future__ import annotations

import datetime as dt
import gzip
import json
import unicodedata
from pathlib import Path

import pytest

from corpus import SAMPLES_DIR, Article, Problem, count_articles, read_articles
from corpus.plaintext import parse_text, split_dateline, title_from_lead

VIETNEWS = Path(__file__).resolve().parent.parent.parent / "shared/corpus/vietnews-test.jsonl.gz"

# Site furniture that must never reach the index.
CHROME = [
    "Chia sẻ bài viết", "BÌNH LUẬN", "Gửi bình luận của bạn", "Rate this post",
    "Leave a Reply", "Your email address will not be published",
]


def read_all(paths) -> tuple[list[Article], list[Problem]]:
    problems: list[Problem] = []
    articles = list(read_articles(paths, problems.append))
    return articles, problems


@pytest.fixture(scope="module")
def seeds() -> dict[str, Article]:
    articles, problems = read_all([SAMPLES_DIR])
    assert problems == []
    return {a.id: a for a in articles}


def write_jsonl(path: Path, records: list, *, compress: bool = False) -> Path:
    data = "".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in records)
    path.write_bytes(gzip.compress(data.encode()) if compress else data.encode())
    return path


GOOD = {"id": "a1", "title": "Tiêu đề", "body": "Nội dung bài viết."}


# --- the bundled seed scrapes -------------------------------------------------

SEED_METADATA = [
    # id, title, published, source, author
    ("000_5c7e6b10f1f35871",
     "Ban Chấp hành Đảng bộ Khối Cơ quan - Doanh nghiệp tỉnh Hội nghị lần thứ 3",
     dt.datetime(2020, 12, 15, 13, 57), "BDK.VN", "Quốc Hùng"),
    # The capitalised kicker above the headline is not the title.
    ("001_de029e4bea4c9909",
     "Tập trung lãnh đạo, chỉ đạo thực hiện tốt công tác tổ chức xây dựng Đảng",
     dt.datetime(2022, 1, 18, 12, 35, 11), "ĐTO", "Ngân Nguyễn"),
    # No date line and no dateline tag; the byline in capitals is kept as written.
    ("002_1141603b1940cb22",
     "Đảng bộ Khối các cơ quan, Doanh nghiệp tỉnh: Có nhiều đổi mới trong phương thức lãnh đạo",
     None, None, "HỒ VÂN"),
    # No title line: the title is made from the lead's first sentence; "Ngày 9-7"
    # has no year, so no date is guessed.
    ("003_478bb5b671389f61",
     "Đảng ủy Khối các Cơ quan và Doanh nghiệp tỉnh Gia Lai tổ chức Hội nghị Ban Chấp hành "
     "lần thứ 6 (nhiệm kỳ 2020-2025)…",
     None, "GLO", "PHƯƠNG DUYÊN"),
    # Two stories, two identical bylines: the first one is the author.
    ("004_daafaec3709b13e9",
     "Đảng bộ Khối Cơ quan – Doanh nghiệp tỉnh và Cựu giáo chức tỉnh tổ chức Hội nghị BCH",
     dt.datetime(2021, 1, 14, 14, 15), "BHG", "Lê Hải"),
]

SEED_LEADS = {
    # The first body paragraph: the dateline tag is gone, the rest kept.
    "000_5c7e6b10f1f35871": "Ngày 15-12-2020, Ban Thường vụ Đảng ủy Khối Cơ quan - Doanh nghiệp",
    "001_de029e4bea4c9909": "ĐẢNG ỦY KHỐI CÁC CƠ QUAN TỈNH\n\nSáng ngày 18/1, Ban Thường vụ",
    "002_1141603b1940cb22": "Cách đây 3 năm, Tỉnh ủy đã tổ chức Lễ công bố",
    "003_478bb5b671389f61": "Ngày 9-7, Đảng ủy Khối các Cơ quan và Doanh nghiệp tỉnh Gia Lai",
    "004_daafaec3709b13e9": "* Ngày 14.1, Đảng bộ Khối Cơ quan – Doanh nghiệp tỉnh",
}


def test_samples_are_the_five_seeds(seeds):
    assert sorted(seeds) == [row[0] for row in SEED_METADATA]
    for article in seeds.values():
        assert article.origin == str(SAMPLES_DIR / f"{article.id}.txt")
        assert article.summary is None and article.url is None


@pytest.mark.parametrize("seed_id, title, published, source, author", SEED_METADATA)
def test_seed_metadata(seeds, seed_id, title, published, source, author):
    article = seeds[seed_id]
    assert article.title == title
    assert article.published == published
    assert type(article.published) is type(published)
    assert article.source == source
    assert article.author == author


@pytest.mark.parametrize("seed_id", sorted(SEED_LEADS))
def test_seed_body_is_clean_article_text(seeds, seed_id):
    article = seeds[seed_id]
    body = article.body
    assert body.startswith(SEED_LEADS[seed_id])
    assert article.title not in body.split("\n\n")
    for chrome in CHROME:
        assert chrome not in body
    paragraphs = body.split("\n\n")
    assert all(p.strip() == p and p for p in paragraphs)
    assert all(a != b for a, b in zip(paragraphs, paragraphs[1:])), "repeated caption kept twice"
    assert all(a != b for p in paragraphs for a, b in zip(p.split("\n"), p.split("\n")[1:]))
    assert not body.endswith(article.author)
    assert "Tin, ảnh:" not in body
    assert "." not in paragraphs   # a stray full stop left by the scraper


def test_seed_dates_are_removed_from_body(seeds):
    assert "15/12/2020 - 13:57" not in seeds["000_5c7e6b10f1f35871"].body
    assert "Cập nhật ngày" not in seeds["001_de029e4bea4c9909"].body
    assert "GMT+7" not in seeds["004_daafaec3709b13e9"].body


def test_repeated_captions_keep_one_copy(seeds):
    caption = "Phó bí thư Thường trực Tỉnh ủy Hồ Thị Hoàng Yến trao bằng khen cho các tập thể"
    assert seeds["000_5c7e6b10f1f35871"].body.count(caption) == 1
    body = seeds["004_daafaec3709b13e9"].body
    assert body.count("Hội nghị BCH Đảng bộ Khối Cơ quan – Doanh nghiệp tỉnh lần thứ 3") == 1
    assert body.count("Hội nghị BCH Hội Cựu giáo chức tỉnh lần thứ IV") == 1
    # The second story of the two-story page is still there.
    assert "* Chiều 14.1, Hội Cựu giáo chức tỉnh" in body


def test_untitled_scrape_keeps_the_whole_lead(seeds):
    body = seeds["003_478bb5b671389f61"].body
    lead = body.split("\n\n")[0]
    assert lead.endswith("Đồng chí Châu Ngọc Tuấn-Phó Bí thư Thường trực Tỉnh ủy dự hội nghị.")
    assert "Mái ấm biên cương" in body
    # Photo captions with credits are content and stay.
    assert "Quang cảnh hội nghị. Ảnh: Phương Duyên" in body
    assert body.endswith("(giai đoạn 2016-2020).")


def test_decomposed_text_parses_like_composed():
    text = (SAMPLES_DIR / "001_de029e4bea4c9909.txt").read_text(encoding="utf-8")
    nfd = unicodedata.normalize("NFD", text)
    composed, decomposed = parse_text(text), parse_text(nfd)
    assert decomposed.published == composed.published
    for field in ("title", "body", "source", "author"):
        value = getattr(decomposed, field)
        # Same result, and still decomposed: the indexer, not corpus, normalises.
        assert unicodedata.normalize("NFC", value) == getattr(composed, field)
        assert unicodedata.is_normalized("NFD", value)


# --- plain-text heuristics on small hand-written scrapes -----------------------

@pytest.mark.parametrize("date_line, expected", [
    ("15/12/2020 - 13:57", dt.datetime(2020, 12, 15, 13, 57)),
    ("Cập nhật ngày: 18/01/2022 12:35:11", dt.datetime(2022, 1, 18, 12, 35, 11)),
    ("Thứ Năm, 14/01/2021, 14:15 (GMT+7)", dt.datetime(2021, 1, 14, 14, 15)),
    ("14:15 | 14/01/2021", dt.datetime(2021, 1, 14, 14, 15)),          # time first
    ("Chủ nhật, ngày 17 tháng 1 năm 2021", dt.date(2021, 1, 17)),      # spelled out
    ("Ngày đăng: 17/01/2021", dt.date(2021, 1, 17)),                   # no time: a date
    ("2021-01-14 08:30", dt.datetime(2021, 1, 14, 8, 30)),
    ("17/01/2021 09:05 PM", dt.datetime(2021, 1, 17, 21, 5)),
])
def test_date_line_formats(date_line, expected):
    parsed = parse_text(f"Tiêu đề bài báo\n\n{date_line}\n\nNội dung bài báo.")
    assert parsed.published == expected
    assert type(parsed.published) is type(expected)
    assert parsed.body == "Nội dung bài báo."


def test_date_inside_a_sentence_is_not_a_date_line():
    parsed = parse_text("Tiêu đề\n\nNgày 15-12-2020, hội nghị diễn ra.\n\nĐoạn hai.")
    assert parsed.published is None
    assert parsed.body.startswith("Ngày 15-12-2020, hội nghị")


def test_impossible_date_is_reported_and_article_kept(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("Tiêu đề\n\n31/02/2021 10:00\n\nNội dung.", encoding="utf-8")
    articles, problems = read_all([path])
    assert [a.published for a in articles] == [None]
    assert len(problems) == 1 and problems[0].skipped is False
    assert problems[0].origin == str(path) and "31/02/2021" in problems[0].message


@pytest.mark.parametrize("paragraph, source, rest", [
    ("BDK.VN - Ngày 15-12-2020, Ban", "BDK.VN", "Ngày 15-12-2020, Ban"),
    ("(GLO)- Ngày 9-7, Đảng ủy", "GLO", "Ngày 9-7, Đảng ủy"),
    ("(TTXVN) - Sáng nay", "TTXVN", "Sáng nay"),
    ("BHG -\xa0* Ngày 14.1", "BHG", "* Ngày 14.1"),                   # no-break space
    ("VTV.vn - Chiều nay", "VTV.vn", "Chiều nay"),
    ("COVID-19 lan rộng", None, "COVID-19 lan rộng"),                  # no spaced dash
    ("Hà Nội - Sáng nay", None, "Hà Nội - Sáng nay"),                  # not an agency code
    ("Ông A - giám đốc - phát biểu", None, "Ông A - giám đốc - phát biểu"),
])
def test_dateline_tags(paragraph, source, rest):
    assert split_dateline(paragraph) == (source, rest)


@pytest.mark.parametrize("closing, author, source", [
    ("Tin, ảnh: Quốc Hùng", "Quốc Hùng", None),
    ("Bài và ảnh: Minh Anh", "Minh Anh", None),
    ("Ngân Nguyễn", "Ngân Nguyễn", None),
    ("PHƯƠNG DUYÊN", "PHƯƠNG DUYÊN", None),
    ("Theo TTXVN", None, "TTXVN"),                                     # credits an outlet
    ("Theo VOV.VN", None, "VOV.VN"),
    ("Tin: T.Hùng", "T.Hùng", None),                                   # initials
    ("Minh Anh\n\nTheo Báo Nhân Dân", "Minh Anh", "Báo Nhân Dân"),
])
def test_bylines_leave_the_body(closing, author, source):
    parsed = parse_text(f"Tiêu đề\n\nĐoạn một của bài.\n\n{closing}")
    assert (parsed.author, parsed.source) == (author, source)
    assert parsed.body == "Đoạn một của bài."


@pytest.mark.parametrize("closing", [
    "Hội nghị kết thúc lúc 17 giờ cùng ngày.",   # a sentence
    "Ảnh: Phương Duyên",                          # a photo credit is not the author
    "nguồn tin cho biết thêm",                    # lower case: not a name
])
def test_closing_content_is_not_a_byline(closing):
    parsed = parse_text(f"Tiêu đề\n\nĐoạn một của bài.\n\n{closing}")
    assert parsed.author is None
    assert parsed.body.endswith(closing)


@pytest.mark.parametrize("lead, title", [
    # The when-clause of a lead is dropped; a short first sentence is the title.
    ("Sáng 18/1, tại TP. Hồ Chí Minh, hội nghị diễn ra. Sau đó, đại biểu thảo luận.",
     "Sáng 18/1, tại TP. Hồ Chí Minh, hội nghị diễn ra"),
    ("Ngày 9-7, Hội nghị tổng kết diễn ra tại tỉnh. Đoạn sau.", "Hội nghị tổng kết diễn ra tại tỉnh"),
    # A long sentence is cut at a word boundary, never mid-word.
    ("Hội nghị diễn ra sáng nay ở Hà Nội với sự tham gia của nhiều đại biểu đến từ các tỉnh "
     "thành trên cả nước và nhiều khách mời quốc tế đặc biệt",
     "Hội nghị diễn ra sáng nay ở Hà Nội với sự tham gia của nhiều đại biểu đến từ các tỉnh "
     "thành trên cả nước và nhiều khách…"),
])
def test_title_from_lead(lead, title):
    assert title_from_lead(lead) == title


def test_lines_adjacent_in_the_file_stay_one_paragraph():
    parsed = parse_text("Tiêu đề\r\n\r\nDòng một\r\nDòng hai\r\n\r\n\r\n\r\nĐoạn khác   \r\n")
    assert parsed.body == "Dòng một\nDòng hai\n\nĐoạn khác"


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
