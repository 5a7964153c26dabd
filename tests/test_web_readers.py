"""What readers and researchers expect of the web front end: dates, sources,
completions, feeds, downloads."""
from __future__ import annotations

import io
import json
import re
import unicodedata
import urllib.error
import urllib.parse
import urllib.request
from html import unescape

import pytest

from vnsearch.corpus import SAMPLES_DIR
from vnsearch.indexer.build import build_index
from vnsearch.web import create_app
from vnsearch.web.formats import Published, vietnam_now, vn_number

from conftest import DATED, NOW, api, hit_ids, page


# --- What readers and researchers expect: dates, sources, completions, feeds, downloads ------

DATED_IDS = ["d-phut", "d-gio", "d-homqua", "d-ngay", "d-tuan", "d-cu", "d-huyen"]  # newest first
# Of the articles on "tham nhung", those without a date: one of the dated fixture, one seed.
UNDATED_IDS = {"d-khong-ngay", "002_1141603b1940cb22"}
UNDATED_SEEDS = ["002_1141603b1940cb22", "003_478bb5b671389f61"]


@pytest.fixture(scope="module")
def dated_client(dated_home):
    return create_app({"INDEX": str(dated_home), "TESTING": True, "NOW": NOW}).test_client()


@pytest.fixture(scope="module")
def undated_client(tmp_path_factory):
    """An index of articles none of which has a date, like the shared corpus."""
    folder = tmp_path_factory.mktemp("undated")
    for name in UNDATED_SEEDS:
        (folder / f"{name}.txt").write_bytes((SAMPLES_DIR / f"{name}.txt").read_bytes())
    build_index([folder], folder / "index", procs=1)
    return create_app({"INDEX": str(folder / "index"), "TESTING": True}).test_client()


def times(html: str) -> list[tuple[str, str, str]]:
    """(datetime, title, text) of every <time> of the hits, in order."""
    return re.findall(r'<time datetime="([^"]+)" title="([^"]+)">([^<]+)</time>', html)


@pytest.mark.parametrize("date, now, shown", [
    ("2024-03-15T09:59:30", NOW, "Vừa xong"),
    ("2024-03-15T09:35:00", NOW, "25 phút trước"),
    ("2024-03-15T08:00:00", NOW, "2 giờ trước"),
    ("2024-03-14T10:30:00", NOW, "23 giờ trước"),       # under a day: hours, even across midnight
    ("2024-03-14T08:30:00", NOW, "Hôm qua, 08:30"),     # a day or more, on the day before
    ("2024-03-15", NOW, "Hôm nay"),                     # a day without its time
    ("2024-03-14", NOW, "Hôm qua"),
    ("2024-03-12", NOW, "3 ngày trước"),
    ("2024-03-08T09:00:00", NOW, "7 ngày trước"),
    ("2024-03-07T09:00:00", NOW, "07/03/2024"),         # older than a week: the date
    ("2020-12-15T13:57:00", NOW, "15/12/2020"),         # an archive
    ("2024-03-16T09:00:00", NOW, "16/03/2024"),         # in the future (a wrong clock): the date
    ("2024-03-15T04:00:00", "2024-03-15T03:00:00+00:00", "6 giờ trước"),  # a clock in UTC is 10:00 in Hà Nội
])
def test_dates_read_as_vietnamese_news_sites_write_them(date, now, shown):
    assert Published(date).relative(vietnam_now(now)) == shown


@pytest.mark.parametrize("value, decimals, shown", [
    (0, 0, "0"),
    (999, 0, "999"),
    (22643, 0, "22.643"),            # thousands by dots
    (1234567, 0, "1.234.567"),
    (1.94, 1, "1,9"),                # decimals by a comma
    (10000.5, 1, "10.000,5"),
])
def test_numbers_are_written_the_vietnamese_way(value, decimals, shown):
    assert vn_number(value, decimals) == shown


def test_recent_hits_show_relative_times_and_the_full_date_on_hover(dated_client):
    found = times(page(dated_client, "/?q=tham+nhung&sort=date"))
    assert found[:4] == [
        ("2024-03-15T09:35:00", "Thứ Sáu, 15/03/2024, 09:35", "25 phút trước"),
        ("2024-03-15T08:00:00", "Thứ Sáu, 15/03/2024, 08:00", "2 giờ trước"),
        ("2024-03-14T08:30:00", "Thứ Năm, 14/03/2024, 08:30", "Hôm qua, 08:30"),
        ("2024-03-12", "Thứ Ba, 12/03/2024", "3 ngày trước"),
    ]
    assert found[4:] == [
        ("2024-03-01T15:00:00", "Thứ Sáu, 01/03/2024, 15:00", "01/03/2024"),
        ("2020-12-15T13:57:00", "Thứ Ba, 15/12/2020, 13:57", "15/12/2020"),
        ("2019-05-02", "Thứ Năm, 02/05/2019", "02/05/2019"),
    ]


def test_the_article_page_gives_the_full_date(dated_client):
    html = page(dated_client, "/article/d-gio")
    assert '<time datetime="2024-03-15T08:00:00">Thứ Sáu, 15/03/2024, 08:00</time>' in html


def test_the_clock_is_real_unless_set(dated_home):
    client = create_app({"INDEX": str(dated_home), "TESTING": True}).test_client()
    assert "25 phút trước" not in page(client, "/?q=tham+nhung") and "15/03/2024" in page(client, "/?q=tham+nhung")
    with pytest.raises(ValueError, match="NOW must be"):
        create_app({"INDEX": str(dated_home), "NOW": "tomorrow"})


def test_an_undated_corpus_offers_no_date_sorting_nor_year_facet(undated_client):
    html = page(undated_client, "/?q=dang")
    assert hit_ids(html) and "Mới nhất" not in html and "<h2>Năm</h2>" not in html and "Không có" not in html
    data = api(undated_client, "/api/search?q=dang")
    assert f"Cả {data['total']} bài đều không ghi ngày đăng." in html
    assert data["undated"] == data["total"] > 0 and data["facets"]["year"] == {}


def test_undated_articles_are_counted_where_some_are_dated(dated_client):
    data = api(dated_client, "/api/search?q=tham+nhung")
    assert data["undated"] == len(UNDATED_IDS) and data["total"] == len(DATED_IDS) + len(UNDATED_IDS)
    html = page(dated_client, "/?q=tham+nhung")
    assert "Mới nhất" in html and "<h2>Năm</h2>" in html
    assert re.search(r'Không rõ ngày <span class="count">2</span>', html)
    assert "2 bài không rõ ngày đăng được xếp cuối." in page(dated_client, "/?q=tham+nhung&sort=date")
    # A result set of undated articles only, in a corpus with dates: no date sorting either.
    only_undated = page(dated_client, "/?q=tham+nhung&source=QĐND")
    assert "Mới nhất" not in only_undated and "Bài này không ghi ngày đăng." in only_undated


@pytest.mark.parametrize("code, name", [
    ("BDK.VN", "Báo Đồng Khởi"),
    ("BHG", "Báo Hà Giang"),
    ("GLO", "Báo Gia Lai"),
    ("ĐTO", "Báo Đồng Tháp"),
    ("TTXVN", "Thông tấn xã Việt Nam"),
    ("QĐND", "Báo Quân đội nhân dân"),
])
def test_sources_show_the_publication_and_filter_by_code(dated_client, code, name):
    query = '"tham nhung" OR "chi thi"'
    html = page(dated_client, "/?" + urllib.parse.urlencode({"q": query, "per_page": 50}))
    assert f'<span class="source" title="{code}">{name}</span>' in html  # the hit, with its code on hover
    facet = re.search(rf'<a href="([^"]+)" title="{re.escape(code)}">{re.escape(name)}</a>', html)
    assert facet, f"no filter link for {code}"
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(unescape(facet.group(1))).query)["source"] == [code]
    filtered = api(dated_client, "/api/search?" + urllib.parse.urlencode({"q": query, "source": code}))
    assert {hit["source"] for hit in filtered["hits"]} == {code}


def test_unknown_sources_show_as_they_are(dated_client):
    html = page(dated_client, "/?q=quy+dinh+neu+guong")
    assert '<span class="source">Cổng thông tin huyện</span>' in html
    hit = api(dated_client, "/api/search?q=quy+dinh+neu+guong")["hits"][0]
    assert hit["source"] == "Cổng thông tin huyện" and hit["source_name"] is None


def test_source_filter_takes_the_name_too(dated_client):
    by_name = api(dated_client, "/api/search?" + urllib.parse.urlencode({"q": 'tham nhung source:"Báo Gia Lai"'}))
    assert [hit["id"] for hit in by_name["hits"]] == ["d-ngay"] and by_name["hits"][0]["source_name"] == "Báo Gia Lai"


def test_users_add_sources_in_their_own_file(dated_client, tmp_path, monkeypatch):
    extra = tmp_path / "sources.tsv"
    extra.write_text("# ours\nQĐND\tQuân đội nhân dân (điện tử)\nCổng thông tin huyện\tCổng TTĐT huyện\n",
                     encoding="utf-8")
    monkeypatch.setenv("VNSEARCH_SOURCES", str(extra))
    html = page(dated_client, "/?q=tham+nhung")
    assert ">Quân đội nhân dân (điện tử)</span>" in html and ">Cổng TTĐT huyện</span>" in html
    assert ">Báo Gia Lai</span>" in html  # the bundled names stay


def _article_texts(*paths) -> list[str]:
    texts = [p.read_text(encoding="utf-8") for p in SAMPLES_DIR.glob("*.txt")]
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            article = json.loads(line)
            texts += [article.get(name) or "" for name in ("title", "summary", "body")]
    return [unicodedata.normalize("NFC", " ".join(text.split())) for text in texts]


@pytest.mark.parametrize("typed, wanted, unwanted", [
    # A name, as the articles write it: not "Hồ Thị hiếu", not "Hồ Thị Hoàng" cut inside a word.
    ("ho thi h", ["Hồ Thị Hiếu", "Hồ Thị Hoàng Yến"], ["Hồ Thị hiếu", "Hồ Thị Hoàng"]),
    # "Trung Quốc hôm nay" has the pair "quốc hôm", inside no phrase.
    ("quoc h", ["Quốc hội"], ["Quốc hôm", "Quốc hôm nay"]),
    # "Nguyễn Phú" + "Phú Thọ" chain into a name no article has.
    ("nguyen phu", ["Nguyễn Phú Cường"], ["Nguyễn Phú"]),
    ("nguyen phu th", [], ["Nguyễn Phú Thọ"]),
    # A word cut by what was typed is shown whole, with the article's capitals.
    ("ban chi", ["Ban Chỉ đạo"], ["ban Chỉ", "Ban Chỉ"]),
    ("dai bieu quoc", ["đại biểu Quốc hội"], []),
])
def test_completions_are_phrases_the_articles_hold(dated_client, typed, wanted, unwanted):
    data = api(dated_client, "/api/suggest?" + urllib.parse.urlencode({"q": typed}))
    found = data["suggestions"]
    assert all(phrase in found for phrase in wanted), found
    assert not set(unwanted) & set(found), found
    texts = _article_texts(DATED)
    for phrase in found:  # every completion is a run of the text of some article, as written there
        assert any(re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", text) for text in texts), phrase


def test_titles_come_apart_and_link_to_their_article(dated_client):
    data = api(dated_client, "/api/suggest?q=quoc+hoi+thao")
    assert list(data) == ["query", "suggestions", "titles"]
    assert data["titles"] == [{"id": "d-gio", "title": "Quốc hội thảo luận dự án Luật Đất đai sửa đổi",
                               "link": "/article/d-gio"}]
    assert "Quốc hội thảo luận dự án Luật Đất đai sửa đổi" not in data["suggestions"]
    # The address bar's format has the queries only.
    typed, found = json.loads(dated_client.get("/api/suggest?q=quoc+hoi+thao&format=opensearch").get_data(as_text=True))
    assert found == data["suggestions"]


def test_title_links_carry_any_id(hostile_client):
    titles = api(hostile_client, "/api/suggest?q=tieu+de")["titles"]
    assert titles and titles[0]["link"] == "/article/x-hostile"


def test_every_search_has_an_atom_feed(dated_client):
    import feedparser

    html = page(dated_client, "/?q=tham+nhung&page=2&per_page=2&sort=relevance")
    assert re.search(r'<link rel="alternate" type="application/atom\+xml" title="vnsearch: tham nhung"\s+'
                     r'href="/feed\?q=tham\+nhung">', html)
    assert 'class="feed" href="/feed?q=tham+nhung"' in html
    response = dated_client.get("/feed?q=tham+nhung")
    assert response.mimetype == "application/atom+xml"
    feed = feedparser.parse(response.get_data())
    assert not feed.bozo, feed.bozo_exception
    assert feed.version == "atom10" and feed.feed.title == "vnsearch: tham nhung"
    assert feed.feed.link == "http://localhost/?sort=date&q=tham+nhung"
    entries = feed.entries
    ids = [e.link.rsplit("/", 1)[1] for e in entries]
    assert ids[:len(DATED_IDS)] == DATED_IDS and set(ids[len(DATED_IDS):]) == UNDATED_IDS  # newest first, undated last
    first = entries[0]
    assert first.id == first.link == "http://localhost/article/d-phut"
    assert first.title.startswith("Ban Chỉ đạo Trung ương") and first.author == "Thông tấn xã Việt Nam"
    assert first.updated == "2024-03-15T09:35:00+07:00" and first.published == first.updated
    assert "tham nhũng" in first.summary and "<mark>" not in first.summary and first.summary_detail.type == "text/plain"
    assert [tag.term for tag in first.tags] == ["TTXVN"]
    # The undated article: updated when the index last changed, and no published time.
    undated = entries[-1]
    assert "published" not in undated and undated.updated_parsed >= first.updated_parsed
    assert feed.feed.updated == undated.updated  # the feed is as new as its newest entry
    assert len({e.id for e in entries}) == len(entries)


def test_a_feed_of_dated_articles_is_as_new_as_the_newest(dated_client):
    import feedparser

    feed = feedparser.parse(dated_client.get("/feed?q=tham+nhung&year=2024").get_data())
    assert not feed.bozo and feed.feed.updated == "2024-03-15T09:35:00+07:00"
    assert feed.feed.title == "vnsearch: tham nhung · 2024" and len(feed.entries) == 5


def test_a_feed_needs_a_search(dated_client):
    assert dated_client.get("/feed").status_code == 400


def test_a_feed_carries_no_control_characters(hostile_client):
    import feedparser

    response = hostile_client.get("/feed?" + urllib.parse.urlencode({"q": "tieu de\x01\x1b[31m"}))
    feed = feedparser.parse(response.get_data())
    assert not feed.bozo, feed.bozo_exception
    assert feed.entries and "<img" in feed.entries[0].title  # escaped text, read back as text


def test_results_download_as_csv(dated_client):
    import csv

    html = page(dated_client, "/?q=tham+nhung&sort=date&page=2&per_page=2")
    assert 'href="/api/search.csv?q=tham+nhung&amp;sort=date" download' in html
    response = dated_client.get("/api/search.csv?q=tham+nhung&sort=date&page=2&per_page=2")
    assert response.content_type == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == 'attachment; filename="vnsearch-tham-nhung.csv"'
    rows = list(csv.DictReader(io.StringIO(response.get_data().decode("utf-8"), newline="")))
    ids = [row["id"] for row in rows]
    assert ids[:len(DATED_IDS)] == DATED_IDS and set(ids[len(DATED_IDS):]) == UNDATED_IDS  # every hit, in order
    assert list(rows[0]) == ["id", "title", "date", "source", "source_name", "url", "score", "snippet"]
    assert rows[0]["source"] == "TTXVN" and rows[0]["source_name"] == "Thông tấn xã Việt Nam"
    assert rows[0]["date"] == "2024-03-15T09:35:00" and float(rows[0]["score"]) > 0
    assert "tham nhũng" in rows[0]["snippet"] and "<mark>" not in rows[0]["snippet"]
    assert response.headers["X-Total-Count"] == str(len(rows))


def test_results_download_as_json_lines(dated_client):
    response = dated_client.get("/api/search.jsonl?q=tham+nhung&source=GLO")
    assert response.mimetype == "application/x-ndjson"
    lines = response.get_data(as_text=True).splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["d-ngay"]
    assert json.loads(lines[0])["source_name"] == "Báo Gia Lai"


def test_downloads_stop_at_the_cap_and_say_how_many_there_were(dated_client, monkeypatch):
    from vnsearch.web import export

    monkeypatch.setattr(export, "MAX_ROWS", 3)
    response = dated_client.get("/api/search.jsonl?q=tham+nhung")
    assert len(response.get_data(as_text=True).splitlines()) == 3 and response.headers["X-Total-Count"] == "9"


@pytest.mark.parametrize("query, name", [
    ("tham nhung", "vnsearch-tham-nhung.csv"),
    ("Chỉ thị 35-CT/TW", "vnsearch-chi-thi-35-ct-tw.csv"),        # folded, punctuation as dashes
    ('"; filename=evil.exe\r\nX-Bad: 1', "vnsearch-filename-evil-exe-x-bad-1.csv"),  # no quote, no header break
    ("../../etc/passwd", "vnsearch-etc-passwd.csv"),               # no path
    ("中国 🇻🇳", "vnsearch-zhongguo.csv"),
    ("“”", "vnsearch.csv"),                                         # nothing left: a plain name
    ("x " * 100, "vnsearch-" + "-".join(["x"] * 30) + ".csv"),    # cut short
])
def test_download_names_are_safe(query, name):
    from vnsearch.web import export

    assert export.filename(query, "csv") == name


def test_feed_addresses_come_from_the_base_url_not_an_odd_host(dated_home):
    import feedparser

    client = create_app({"INDEX": str(dated_home), "TESTING": True, "BASE_URL": "https://tin.example.vn/tim"}
                        ).test_client()
    feed = feedparser.parse(client.get("/feed?q=tham+nhung", headers={"Host": "evil.example"}).get_data())
    assert not feed.bozo and feed.entries[0].id == "https://tin.example.vn/tim/article/d-phut"
    assert feed.feed.id == "https://tin.example.vn/tim/feed?q=tham+nhung"
