"""corpus.plaintext: scraped plain-text articles (the seeds and hand-written scrapes)."""
from __future__ import annotations

import datetime as dt
import unicodedata

import pytest

from vnsearch.corpus import SAMPLES_DIR, Article, Problem, read_articles
from vnsearch.corpus.plaintext import parse_text, split_dateline, title_from_lead

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
