"""The web front end: search page, article pages, JSON API, OpenSearch, headers, `vnsearch serve`."""
from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import threading
import time
import unicodedata
import urllib.error
import urllib.parse
import urllib.request
from html import unescape

import pytest
from flask.cli import ScriptInfo

from vnsearch.corpus import SAMPLES_DIR
from vnsearch.indexer.build import build_index
from vnsearch.indexer.analysis import folded_words
from vnsearch.search.engine import MAX_PER_PAGE
from vnsearch.web import addresses, create_app
from vnsearch.web.formats import Published, vietnam_now, vn_number

from conftest import DATED, NOW, ROOT, TRICKY, running_server

SEED = "000_5c7e6b10f1f35871"      # "Hồ Thị Hoàng Yến", "Chỉ thị số 35"
SEED_CT = "004_daafaec3709b13e9"   # "Chỉ thị số 35-CT/TW"
HOSTILE = {
    "id": "x-hostile", "title": "Tiêu đề <img src=x onerror=alert(1)> & “nháy”",
    "body": "Đoạn một có <script>alert('body')</script> trong bài.\n\nĐoạn hai <b>in đậm</b> giả.",
    "summary": "Tóm tắt <iframe src=//evil>", "author": "<svg onload=alert(2)>",
    "source": "Nguồn <i>lạ</i>", "url": "javascript:alert(3)", "date": "2021-02-03",
}


@pytest.fixture(scope="module")
def app(index_home):
    return create_app({"INDEX": str(index_home), "TESTING": True})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="module")
def hostile_client(tmp_path_factory):
    """An index whose article text and fields carry markup, as a scraped page might."""
    folder = tmp_path_factory.mktemp("hostile")
    (folder / "hostile.jsonl").write_text(json.dumps(HOSTILE, ensure_ascii=False) + "\n", encoding="utf-8")
    build_index([folder / "hostile.jsonl", TRICKY], folder / "index", procs=1)
    return create_app({"INDEX": str(folder / "index"), "TESTING": True}).test_client()


def page(client, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def api(client, url: str, status: int = 200) -> dict:
    response = client.get(url)
    assert response.status_code == status
    assert response.mimetype == "application/json"
    return response.get_json()


def hit_ids(html: str) -> list[str]:
    return re.findall(r'class="hit-title"><a href="/article/([^"?]+)', html)


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


# --- `vnsearch serve` ------------------------------------------------------------------------

def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_serve_indexes_the_samples_on_a_fresh_machine(tmp_path):
    with running_server(tmp_path / "fresh") as base:
        with urllib.request.urlopen(base + "?q=chi+thi+35", timeout=60) as response:
            html = response.read().decode("utf-8")
    assert hit_ids(html)[:2] and set(hit_ids(html)[:2]) == {SEED, SEED_CT}
    assert "<mark>Chỉ thị</mark>" in html


@pytest.mark.parametrize("c_library", [
    lambda name: object(),                       # a C library without malloc_trim (macOS, musl)
    lambda name: (_ for _ in ()).throw(OSError),  # none that ctypes can open
])
def test_the_server_warms_up_whatever_its_c_library(app, monkeypatch, c_library):
    from vnsearch.web import server
    monkeypatch.setattr(server.ctypes, "CDLL", c_library)
    server.warm_up(app)
    assert app.test_client().get("/?q=chi+thi+35").status_code == 200


def test_a_rebuild_under_a_running_server_fails_no_request(tmp_path):
    home = tmp_path / "index"
    build_index([SAMPLES_DIR, TRICKY], home, procs=1)
    statuses: list[int] = []
    done = threading.Event()

    def hammer(base: str) -> None:
        queries = ["dang", "chi thi 35", "ho thi hoang yen", "nong dan", "uy ban"]
        # Bounded: stops with the rebuilds, or after 3,000 requests whatever happens.
        for n in range(3000):
            if done.is_set() and n % len(queries) == 0:
                return
            query = urllib.parse.urlencode({"q": queries[n % len(queries)]})
            statuses.append(_get(f"{base}api/search?{query}"))

    with running_server(home) as base:
        assert _get(base + "api/articles/t-nfd") == 200
        worker = threading.Thread(target=hammer, args=(base,))
        worker.start()
        # Two rebuilds: the second sweeps the build the server opened first.
        for sources in ([SAMPLES_DIR], [SAMPLES_DIR]):
            build = subprocess.run([sys.executable, "-m", "vnsearch.web.cli", "index", *map(str, sources), "--index", str(home),
                                    "--quiet", "--procs", "1"], cwd=ROOT, capture_output=True, text=True)
            assert build.returncode == 0, build.stderr
        time.sleep(1.5)  # the server looks for a new index a few times a second
        done.set()
        worker.join(timeout=300)
        # The tricky articles are gone from the new index: the server sees it without a restart.
        gone = _get(base + "api/articles/t-nfd")
    assert len(statuses) > 20 and set(statuses) == {200}, f"{len(statuses)} requests: {set(statuses)}"
    assert gone == 404


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
