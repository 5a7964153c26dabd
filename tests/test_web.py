"""The web front end: search page, article pages, JSON API, OpenSearch, headers.

`vnsearch serve` is tested in tests/test_serve.py; dates, sources, completions, feeds and
downloads in tests/test_web_readers.py; their shared fixtures are in tests/conftest.py.
"""
from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from html import unescape

import pytest
from flask.cli import ScriptInfo

from vnsearch.indexer.analysis import folded_words
from vnsearch.search.engine import MAX_PER_PAGE
from vnsearch.web import addresses, create_app

from conftest import SEED, SEED_CT, api, hit_ids, page


@pytest.fixture
def client(app):
    return app.test_client()


def box_value(html: str) -> str:
    """What the search box shows."""
    return unescape(re.search(r'<input id="q" name="q" type="search" value="([^"]*)"', html).group(1))


# --- The search page --------------------------------------------------------------------------

def test_empty_page_welcomes_with_a_labelled_box(client):
    html = page(client, "/")
    assert '<html lang="vi">' in html
    assert re.search(r'<label for="q"[^>]*>[^<]+</label>', html) and 'id="q" name="q"' in html
    assert 'class="hits"' not in html and "chi thi 35" in html  # examples, no results


@pytest.mark.parametrize("query, first, marked", [
    # Typed without diacritics: the directive's articles, the phrase highlighted in its accented form.
    ("chi thi 35", {"t-nfd", SEED, SEED_CT}, "Chỉ thị"),
    # A name typed plainly finds the seed article with the whole name marked.
    ("ho thi hoang yen", {SEED}, "Hồ Thị Hoàng Yến"),
    # The exact phrase, quoted and accented.
    ('"Hồ Thị Hoàng Yến"', {SEED}, "Hồ Thị Hoàng Yến"),
])
def test_search_page_shows_highlighted_hits(client, query, first, marked):
    html = page(client, "/?" + urllib.parse.urlencode({"q": query}))
    assert hit_ids(html)[0] in first
    assert f"<mark>{marked}</mark>" in html
    # Counts and times are written the Vietnamese way: "1.234 ms" on a loaded machine.
    assert re.search(r"<strong>[\d.]+</strong> kết quả", html) and re.search(r"\([\d.]+ ms\)", html)
    assert box_value(html) == query


def test_seed_articles_mentioning_the_directive_come_first(client):
    ids = hit_ids(page(client, "/?q=chi+thi+35"))
    assert {SEED, SEED_CT} <= set(ids[:4])


def test_hits_link_to_articles_with_the_query(client):
    html = page(client, "/?q=ho+thi+hoang+yen")
    assert f'href="/article/{SEED}?q=ho+thi+hoang+yen"' in html
    assert "BDK.VN" in html and "15/12/2020" in html


def test_did_you_mean_links_to_the_accented_query(client):
    html = page(client, "/?q=ho+thi+hoang+yen")
    found = re.search(r'Có phải bạn muốn tìm:\s*<a href="([^"]+)">([^<]+)</a>', html)
    assert found and found.group(2) == "Hồ Thị Hoàng Yến"
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(unescape(found.group(1))).query)["q"] == ["Hồ Thị Hoàng Yến"]


def test_script_in_the_query_is_escaped(client):
    attack = "<script>alert(1)</script>"
    html = page(client, "/?" + urllib.parse.urlencode({"q": attack}))
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Không tìm thấy kết quả nào" in html
    response = client.get("/api/search?" + urllib.parse.urlencode({"q": attack}))
    assert "<script>" not in response.get_data(as_text=True)
    assert response.get_json()["query"] == attack


def test_a_page_past_the_end_says_so(client):
    html = page(client, "/?q=dang&page=999")
    assert "Trang 999 không có kết quả" in html and "Đến trang cuối" in html
    assert api(client, "/api/search?q=dang&page=999")["hits"] == []


def test_no_result_state_offers_to_drop_filters(client):
    html = page(client, "/?q=zzqxv&source=BDK.VN")
    assert "Không tìm thấy kết quả nào" in html and "Bỏ mọi bộ lọc" in html


def test_filters_show_counts_and_narrow_the_hits(client):
    html = page(client, "/?q=dang")
    assert re.search(r'<a href="/\?q=dang&amp;source=BDK.VN" title="BDK.VN">Báo Đồng Khởi</a>\s*<span class="count">1</span>',
                     html)
    assert re.search(r'>2021</a>\s*<span class="count">\d+</span>', html)
    for hit in api(client, "/api/search?q=dang&source=BDK.VN")["hits"]:
        assert hit["source"] == "BDK.VN"
    dated = api(client, "/api/search?q=dang&year=2021")["hits"]
    assert dated and all(hit["date"].startswith("2021") for hit in dated)


def test_sorting_by_date_puts_the_newest_first(client):
    dates = [hit["date"][:10] for hit in api(client, "/api/search?q=dang&sort=date")["hits"] if hit["date"]]
    assert dates == sorted(dates, reverse=True) and len(dates) > 3


def test_pagination_keeps_filters_and_order(client):
    html = page(client, "/?q=dang&per_page=2&sort=date&year=2021")
    links = [unescape(h) for h in re.findall(r'<a rel="next" href="([^"]+)"', html)]
    assert links, "no next-page link"
    args = urllib.parse.parse_qs(urllib.parse.urlsplit(links[0]).query)
    assert args == {"q": ["dang"], "page": ["2"], "per_page": ["2"], "sort": ["date"], "year": ["2021"]}
    assert 'aria-current="page">1<' in html


# --- Article pages ---------------------------------------------------------------------------

def test_article_page_shows_the_whole_article(client):
    html = page(client, f"/article/{SEED}")
    assert "Ban Chấp hành Đảng bộ Khối Cơ quan - Doanh nghiệp tỉnh Hội nghị lần thứ 3</h1>" in html
    assert "BDK.VN" in html and "15/12/2020, 13:57" in html and "Quốc Hùng" in html
    assert html.count("<p>") > 5 and "<mark>" not in html
    assert "Bài liên quan" in html and len(re.findall(r'<a href="/article/', html)) >= 3


def test_article_page_marks_the_query_it_came_from(client):
    html = page(client, f"/article/{SEED}?q=ho+thi+hoang+yen")
    assert html.count("<mark>Hồ Thị Hoàng Yến</mark>") >= 3
    assert 'href="/?q=ho+thi+hoang+yen"' in html  # back to the results


@pytest.mark.parametrize("url", ["/article/no-such-id", "/nowhere"])
def test_unknown_pages_are_a_404_page(client, url):
    html = page(client, url, 404)
    assert '<html lang="vi">' in html and "Không tìm thấy" in html


def test_article_text_and_fields_are_escaped(hostile_client):
    html = page(hostile_client, "/article/x-hostile?q=doan")
    for raw in ("<img src=x", "<script>alert", "<b>in", "<iframe", "<svg", "<i>lạ", "javascript:"):
        assert raw not in html, raw
    assert "&lt;script&gt;alert(" in html and "<mark>Đoạn</mark>" in html
    results = page(hostile_client, "/?q=tieu+de")
    assert "<img" not in results and "javascript:" not in results and "x-hostile" in results


# --- The JSON API ----------------------------------------------------------------------------

def test_api_search_has_the_documented_shape(client):
    data = api(client, "/api/search?q=chi+thi+35&per_page=2")
    assert list(data) == ["query", "total", "page", "per_page", "took_ms", "suggestion", "showing", "partial",
                          "missing", "undated", "facets", "hits"]
    assert data["query"] == "chi thi 35" and data["per_page"] == 2 and len(data["hits"]) == 2
    assert list(data["hits"][0]) == ["id", "title", "date", "source", "source_name", "url", "score", "snippet"]
    assert set(data["facets"]) == {"source", "year"} and data["total"] >= 4


def test_api_explains_each_score_when_asked(client):
    hits = api(client, "/api/search?q=Hồ+Thị+Hoàng+Yến&explain=1")["hits"]
    parts = hits[0]["explain"]
    assert set(parts) == {"bm25", "pairs", "accents", "words", "cover", "run"}
    assert parts["bm25"] > 0 and parts["accents"] > 0 and parts["pairs"] > 0
    assert abs(sum(parts.values()) - hits[0]["score"]) < 0.01
    assert "explain" not in api(client, "/api/search?q=Hồ+Thị+Hoàng+Yến")["hits"][0]


def test_partial_results_name_the_missing_word(client):
    data = api(client, "/api/search?q=hoang+yen+xyzzyq")
    assert data["partial"] and data["missing"] == ["xyzzyq"]
    assert "Không có:" in page(client, "/?q=hoang+yen+xyzzyq") and "<s>xyzzyq</s>" in page(client, "/?q=hoang+yen+xyzzyq")


def test_a_confident_correction_is_shown_with_a_way_back(client):
    data = api(client, "/api/search?q=hoang+yem")
    assert data["showing"] == data["suggestion"] == "Hoàng Yến" and data["total"] >= 1 and not data["partial"]
    html = page(client, "/?q=hoang+yem")
    assert "Đang hiển thị kết quả cho" in html and "as_typed=1" in html
    exact = api(client, "/api/search?q=hoang+yem&as_typed=1")
    assert exact["showing"] is None and exact["suggestion"] == "Hoàng Yến"


def test_api_and_page_come_from_the_same_search(client):
    data = api(client, "/api/search?q=ho+thi+hoang+yen")
    html = page(client, "/?q=ho+thi+hoang+yen")
    assert [hit["id"] for hit in data["hits"]] == hit_ids(html)
    assert data["hits"][0]["snippet"] in html and data["suggestion"] == "Hồ Thị Hoàng Yến"


@pytest.mark.parametrize("name, value", [
    ("page", "0"),                    # pages count from 1
    ("page", "-1"),
    ("page", "two"),
    ("per_page", "0"),
    ("per_page", "10000"),            # capped at MAX_PER_PAGE, and said so rather than clamped
    ("per_page", str(MAX_PER_PAGE + 1)),
    ("year", "abc"),                  # not a number
    ("year", "2021.5"),
    ("sort", "random"),
])
def test_bad_parameters_are_a_400_naming_them(client, name, value):
    query = urllib.parse.urlencode({"q": "dang", name: value})
    error = api(client, f"/api/search?{query}", 400)["error"]
    assert error["status"] == 400 and error["message"].startswith(name)
    assert "Yêu cầu không hợp lệ" in page(client, f"/?{query}", 400)


def test_per_page_up_to_the_cap_is_fine(client):
    assert api(client, f"/api/search?q=dang&per_page={MAX_PER_PAGE}")["per_page"] == MAX_PER_PAGE


def test_api_article_without_server_paths(client):
    data = api(client, f"/api/articles/{SEED}")
    assert data["title"].startswith("Ban Chấp hành") and data["author"] == "Quốc Hùng"
    assert "Hồ Thị Hoàng Yến" in data["body"] and "origin" not in data
    assert data["related"] and set(data["related"][0]) == {"id", "title", "date", "source", "url"}


def test_api_unknown_article_is_a_404_json(client):
    assert api(client, "/api/articles/no-such-id", 404)["error"]["status"] == 404
    assert api(client, "/api/nowhere", 404)["error"]["status"] == 404


@pytest.mark.parametrize("typed, phrase, title", [
    # The last word is a prefix, diacritics restored from the corpus, capitals where it writes them.
    ("ho thi h", "Hồ Thị Hoàng Yến", None),
    # Titles containing the words, accent-insensitively, apart from the phrases.
    ("chi thi 35", None, "Hội nghị Ban Thường vụ Tỉnh ủy bàn về Chỉ thị 35-CT/TW"),
    ("CHỈ THỊ", "chỉ thị", None),
    # A finished word is not a prefix of a longer one.
    ("uy ban ", None, "Ủy ban nhân dân tỉnh hoà giải tranh chấp đất đai"),
])
def test_suggest_completes_phrases_and_titles(client, typed, phrase, title):
    data = api(client, "/api/suggest?" + urllib.parse.urlencode({"q": typed}))
    phrases, titles = data["suggestions"], [t["title"] for t in data["titles"]]
    if phrase:
        assert any(folded_words(s) == folded_words(phrase) for s in phrases), phrases
    if title:
        assert any(folded_words(s) == folded_words(title) for s in titles), titles
    assert all(folded_words(typed).split()[0] in folded_words(s) for s in phrases + titles)


@pytest.mark.parametrize("typed", ["", " ", "h", "qqqzz"])
def test_suggest_has_nothing_for_too_little_or_unknown(client, typed):
    data = api(client, "/api/suggest?q=" + typed)
    assert data["suggestions"] == [] and data["titles"] == []


def test_suggest_speaks_opensearch_to_address_bars(client):
    response = client.get("/api/suggest?q=ho+thi+h&format=opensearch")
    assert response.mimetype == "application/x-suggestions+json"
    typed, found = json.loads(response.get_data(as_text=True))
    assert typed == "ho thi h" and "Hồ Thị Hoàng Yến" in found


# --- OpenSearch, headers, no writes, no debug ------------------------------------------------

def test_opensearch_description_is_linked_and_valid(client):
    assert 'rel="search" type="application/opensearchdescription+xml"' in page(client, "/")
    response = client.get("/opensearch.xml")
    assert response.mimetype == "application/opensearchdescription+xml"
    xml = response.get_data(as_text=True)
    assert 'template="http://localhost/?q={searchTerms}"' in xml and "<ShortName>vnsearch</ShortName>" in xml


def opensearch_urls(xml: str) -> list[str]:
    return re.findall(r'template="([^"]*)"', xml) + re.findall(r"<(?:Image|moz:SearchForm)[^>]*>([^<]*)<", xml)


@pytest.mark.parametrize("host, status", [
    ('evil.com"><script>alert(1)</script>', 200),  # markup
    ("a b", 200),                                   # a space
    ("evil.com/x?y=1", 200),                        # the parts of a URL
    ("user@evil.com", 200),
    (("a" * 60 + ".") * 8 + "com", 200),            # labels fine, longer than any DNS name
    ("x" * 5000, 400),                              # a label over 63 characters: werkzeug's BadHost
])
def test_a_hostile_host_never_reaches_the_opensearch_description(client, host, status):
    response = client.get("/opensearch.xml", headers={"Host": host})
    assert response.status_code == status
    xml = response.get_data(as_text=True)
    assert "evil" not in xml and "<script" not in xml and "a" * 60 not in xml and "x" * 60 not in xml
    if status == 200:
        # Paths, which a client resolves against the address it used.
        assert [url[:1] for url in opensearch_urls(xml)] == ["/"] * 4


@pytest.mark.parametrize("host, root", [
    ("tim.example.vn", "http://tim.example.vn"),
    ("127.0.0.1:5000", "http://127.0.0.1:5000"),
    ("[::1]:8080", "http://[::1]:8080"),
])
def test_a_plain_host_gives_absolute_urls(client, host, root):
    xml = client.get("/opensearch.xml", headers={"Host": host}).get_data(as_text=True)
    assert opensearch_urls(xml) == [f"{root}/?q={{searchTerms}}", f"{root}/api/suggest?format=opensearch&amp;q={{searchTerms}}",
                                    f"{root}/static/favicon.svg", f"{root}/"]


def test_a_configured_base_url_beats_the_host(index_home, monkeypatch):
    monkeypatch.setenv("VNSEARCH_INDEX", str(index_home))
    monkeypatch.setenv("VNSEARCH_BASE_URL", "https://tim.example.vn/vnsearch/")
    client = create_app().test_client()
    xml = client.get("/opensearch.xml", headers={"Host": 'evil.com"><x'}).get_data(as_text=True)
    assert 'template="https://tim.example.vn/vnsearch/?q={searchTerms}"' in xml and "evil" not in xml


@pytest.mark.parametrize("value, expected", [
    ("https://tim.example.vn/", "https://tim.example.vn"),
    ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
    ("https://example.vn/tim-kiem/", "https://example.vn/tim-kiem"),
    ("javascript:alert(1)", ValueError),             # not a web address
    ("https://evil.com\"><x/", ValueError),          # markup in the host
    ("https://user@example.vn/", ValueError),        # credentials
    ("https://example.vn/?q=1", ValueError),         # a query
    ("https://example.vn/<b>", ValueError),          # markup in the path
    ("example.vn", ValueError),                      # no scheme
])
def test_base_urls_are_checked(value, expected):
    if expected is ValueError:
        with pytest.raises(ValueError):
            addresses.base_url(value)
    else:
        assert addresses.base_url(value) == expected


ROUTES = ["/", "/?q=dang", f"/article/{SEED}", "/article/nope", "/api/search?q=dang", "/api/search?page=0",
          f"/api/articles/{SEED}", "/api/suggest?q=dang", "/opensearch.xml", "/static/style.css", "/feed?q=dang",
          "/api/search.csv?q=dang", "/api/search.jsonl?q=dang"]


@pytest.mark.parametrize("url", ROUTES)
def test_every_response_carries_security_headers(client, url):
    headers = client.get(url).headers
    policy = headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"


@pytest.mark.parametrize("url", ROUTES)
def test_a_host_flask_cannot_bind_is_a_400_not_a_500(client, url):
    response = client.get(url, headers={"Host": "a..b"})  # an empty label: werkzeug's BadHost
    assert response.status_code == 400
    assert response.mimetype == ("application/json" if url.startswith("/api/") else "text/plain")


@pytest.mark.parametrize("url", ["/", "/?q=dang", f"/article/{SEED}?q=dang", "/article/nope", "/?page=0"])
def test_pages_have_no_inline_script_or_style(client, url):
    html = client.get(url).get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\bsrc=)", html) and " style=" not in html and "<style" not in html
    assert not re.search(r"\son[a-z]+=", html)  # no inline event handlers


@pytest.mark.parametrize("url", ["/", "/api/search", f"/api/articles/{SEED}", "/api/suggest", "/opensearch.xml",
                                 "/feed", "/api/search.csv"])
def test_no_route_accepts_writes(client, url):
    for method in (client.post, client.put, client.delete):
        assert method(url).status_code == 405


def test_debug_is_off_unless_asked(app, monkeypatch):
    assert not app.debug and not create_app().debug
    monkeypatch.setenv("VNSEARCH_INDEX", str(app.config["INDEX"]))
    found = ScriptInfo(app_import_path="vnsearch.web").load_app()  # what `flask --app vnsearch.web run` does
    assert found.name == "vnsearch.web.app" and not found.debug


def test_the_engine_is_opened_once_per_app(app, client):
    holder = app.extensions["vnsearch"]
    page(client, "/?q=dang")
    first = holder.get()
    page(client, "/?q=chi+thi")
    api(client, "/api/suggest?q=chi")
    assert holder.get() is first


def test_missing_index_is_a_clear_503(tmp_path):
    client = create_app({"INDEX": str(tmp_path / "none")}).test_client()
    assert "vnsearch index" in page(client, "/?q=dang", 503)
    assert "vnsearch index" in api(client, "/api/search?q=dang", 503)["error"]["message"]
