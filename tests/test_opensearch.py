"""The OpenSearch backend on a real three-node cluster: the same answers as the embedded
index, updates searchable at once, rebuilds and a lost node without a failed search.

The cluster is OpenSearch itself (scripts/opensearch_cluster.py: fetched once from Maven
Central into the cache folder, three nodes on 127.0.0.1). Without Java, Maven or the
`opensearch` extra these tests skip and say why; in CI (CI=true) they fail instead.
VNSEARCH_TEST_CLUSTER=DIR uses a cluster already started with
`scripts/opensearch-cluster start --dir DIR` (one of its nodes is killed at the end).
"""
from __future__ import annotations

import csv
import io
import json
import os
import sys
import threading
import time

import hypothesis
import pytest
from click.testing import CliRunner
from hypothesis import strategies as st

from vnsearch.corpus import SAMPLES_DIR
from vnsearch.search.engine import Engine

from conftest import ROOT, TRICKY
from test_search import _PIECES as PIECES
from test_search import TOP

sys.path.insert(0, str(ROOT / "scripts"))
import opensearch_cluster  # noqa: E402  (scripts/ is no package)

ALIAS = "golden"
S000 = "000_5c7e6b10f1f35871"


def _unavailable(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must run the OpenSearch tests: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Three OpenSearch nodes on 127.0.0.1, started for this module and stopped after it."""
    try:
        import opensearchpy  # noqa: F401
    except ImportError:
        _unavailable("the OpenSearch tests need opensearch-py: pip install -e '.[opensearch,test]'")
    if os.environ.get("VNSEARCH_TEST_CLUSTER"):
        yield opensearch_cluster.Cluster.load(os.environ["VNSEARCH_TEST_CLUSTER"])
        return
    try:
        started = opensearch_cluster.start(tmp_path_factory.mktemp("opensearch"), nodes=3, quick_start=True)
    except opensearch_cluster.ClusterUnavailable as error:
        _unavailable(str(error))
    yield started
    started.stop()


@pytest.fixture(scope="module")
def url(cluster) -> str:
    return ",".join(cluster.urls)


@pytest.fixture(scope="module")
def client(url):
    from vnsearch.indexer.opensearch_store import connect

    return connect(url)


@pytest.fixture(scope="module")
def engine(url):
    """The seeds and the tricky articles, three shards and one replica, behind ALIAS."""
    from vnsearch.indexer.opensearch_build import build_cluster_index
    from vnsearch.search.opensearch_engine import OpenSearchEngine

    report = build_cluster_index([SAMPLES_DIR, TRICKY], url, ALIAS, procs=2, shards=3, replicas=1)
    assert report.indexed == 15
    return OpenSearchEngine(url, ALIAS)


@pytest.fixture(scope="module")
def embedded(index_home):
    return Engine(index_home)


def ids(engine, query, **kwargs) -> list[str]:
    return [hit.id for hit in engine.search(query, **{"per_page": 50, **kwargs}).hits]


def test_the_index_has_three_shards_each_with_a_replica(engine, client):
    client.cluster.health(index=engine.alias, wait_for_no_relocating_shards=True, timeout="60s", request_timeout=70)
    shards = client.cat.shards(index=engine.alias, format="json")
    assert sorted((s["shard"], s["prirep"], s["state"]) for s in shards) == sorted(
        (str(n), kind, "STARTED") for n in range(3) for kind in "pr")
    assert len({s["node"] for s in shards}) == 3


def test_documents_carry_our_terms_and_opensearch_keeps_them(engine, client):
    """Every view reaches the index as exactly the analysis's terms, in order (positions), the
    syllables of a pyvi word joined by "_"; nothing of Vietnamese is left to OpenSearch."""
    from vnsearch.corpus import read_articles
    from vnsearch.indexer.analysis import analyse
    from vnsearch.indexer.build import to_document
    from vnsearch.indexer.fields import TEXT_FIELDS, VIEWS, view_field
    from vnsearch.indexer.opensearch_store import WORD_JOINER, source

    for article in read_articles([SAMPLES_DIR, TRICKY], lambda problem: None):
        document = source(to_document(article))
        assert not {"title", "body"} - document.keys() and document["id"] == article.id
        for name in TEXT_FIELDS:
            if not document.get(name):
                continue
            views = analyse(document[name]).views()._asdict()
            for view in VIEWS:
                field_name = view_field(name, view)
                tokens = client.indices.analyze(index=engine.alias, body={
                    "field": field_name, "text": document[field_name]})["tokens"]
                expected = [term.replace(" ", WORD_JOINER) for term in views[view]]
                assert [t["token"] for t in tokens] == expected, (article.id, field_name)
                assert [t["position"] for t in tokens] == list(range(len(expected)))
    assert "chỉ_thị" in source(to_document(next(read_articles([TRICKY], print))))["title_words"]


# --- the same answers as the embedded index


@pytest.mark.parametrize("query, expected", TOP)
def test_best_articles_come_first(engine, query, expected):
    assert set(ids(engine, query)[:len(expected)]) == expected


@pytest.mark.parametrize("query", [
    # test_search's ranking, syntax and suggestion tables, and queries that stress the translation.
    "đảng", "Đảng", "Dương", "đường", "chỉ thị 35", "chính phủ", "chinh phu", '"chỉ thị số 35"', '"chi thi so 35"',
    "đảng -viên", '"phiên tòa" OR "thương lái"', "kinh tế OR thủ tướng", "title:dương", 'title:"chính phủ"',
    'source:"nông nghiệp"', "source:bhg đảng", "year:2019..2020 nông", "date:2020-12-15 Đảng",
    'chính phủ -"phủ nhận"', "toà OR đường", "nông", "HDND", "HĐND", "UBND", "35-CT/TW", "xyzzyq",
    "Hồ Thị Hoàng Yến xyzzyq",      # partial: the articles with some words, the missing one named
    "ho thi hoamg yen",             # a typo: the correction's results are shown
    "dai hoi dang", "Hồ Thi Hoang Yen", "tài xế xe ôm", "Đảng dang đảng",
    "hội nghị ban chấp hành đảng bộ khối cơ quan doanh nghiệp tỉnh lần thứ ba",  # long: minimum should match
    "đảng " * 40,                   # the syllable cap
])
def test_same_results_as_the_embedded_index(engine, embedded, query):
    ours, theirs = engine.search(query, per_page=50), embedded.search(query, per_page=50)
    assert [h.id for h in ours.hits] == [h.id for h in theirs.hits]
    for name in ("total", "suggestion", "showing", "partial", "missing", "facets"):
        assert getattr(ours, name) == getattr(theirs, name), name
    assert [(h.snippet, h.title_html) for h in ours.hits] == [(h.snippet, h.title_html) for h in theirs.hits]


@pytest.mark.parametrize("query, kwargs", [
    ("year:2021", {}), ("date:2021-03..2021-04", {}), ("đảng", {"source": "BHG"}), ("nông", {"year": 2019}),
])
def test_filters_alone_find_the_same_articles(engine, embedded, query, kwargs):
    # Every article scores 0 here: the order among them is the engines' own.
    assert set(ids(engine, query, **kwargs)) == set(ids(embedded, query, **kwargs))


@pytest.mark.parametrize("query, mode", [
    ("đảng", "typed"),
    ("chính phủ", "quoted"),
    ("Hồ Thị Hoàng Yến xyzzyq", "typed"),  # partial: the articles with some of the words
    ("ho thi hoamg yen", "typed"),         # a typo: the correction's articles
    ("xyzzyq", "typed"),                   # nothing
])
def test_the_quality_benchmark_takes_each_searchs_whole_answer(url, engine, index_home, query, mode, monkeypatch):
    # bench/opensearch_quality.py's topical set scores whole result sets: they must be
    # what the search counted, paged out past any one page, the same as the embedded one's.
    sys.path.insert(0, str(ROOT / "bench"))
    import opensearch_quality
    from peers import VnSearch

    monkeypatch.setattr(opensearch_quality, "ID_PAGE", 2)
    ours = opensearch_quality.VnSearchOpenSearch(url, ALIAS)
    found = ours.result_set(query, mode)
    typed = f'"{query}"' if mode == "quoted" else query
    assert len(found) == len(set(found)) == engine.search(typed).total
    assert set(found) == set(VnSearch(index_home).result_set(query, mode))
    assert ours.paged == 0  # from the search's own query, not through `export`


def test_sort_by_date_pages_and_explain(engine, embedded):
    assert ids(engine, "đảng", sort="date") == ids(embedded, "đảng", sort="date")
    pages = [ids(engine, "đảng", page=p, per_page=3) for p in (1, 2)]
    assert pages[0] + pages[1] == ids(engine, "đảng")[:6]
    assert engine.search("đảng", page=999, per_page=3).hits == []
    parts = engine.search("chi thi 35", explain=True).hits[0].explain
    assert set(parts) == {"bm25", "pairs", "accents", "words", "cover", "run"} and parts["bm25"] > 0


def test_related_articles_completions_and_lookups(engine, embedded):
    assert [h.id for h in engine.related(S000, limit=8)] == [h.id for h in embedded.related(S000, limit=8)]
    for prefix in ("ho thi h", "chi thi", "hoi nghi "):
        assert engine.complete(prefix) == embedded.complete(prefix)
    assert engine.article(S000)["body"] == embedded.article(S000)["body"]
    assert engine.article("no-such-id") is None and engine.related("no-such-id") == []
    assert engine.query_keys("ho thi hoang yen") == embedded.query_keys("ho thi hoang yen")
    results, hits = engine.export("đảng", 4)
    assert [h.id for h in hits] == ids(embedded, "đảng")[:4] and results.total == embedded.search("đảng").total
    assert engine.changed().tzinfo is not None


def test_strange_queries_never_fail(engine):
    # The longest query the syntax keeps (48 syllables), all accented and all different: the
    # most clauses a query can have stays under OpenSearch's limit of 1,024.
    longest = " ".join(f"{a}{b}" for a in "bcdđghklmn" for b in ("ạ", "ố", "ử", "ễ", "ì"))
    for query in ['"unbalanced', "-", "OR", "*", "year:0000", "🇻🇳🔥", "\x00", "a" * 10_000, "<script>", "-\"\"",
                  longest, f'"{longest}"', "HĐND UBND KT-XH " * 16]:
        assert engine.search(query).total >= 0


def test_random_queries_never_fail(engine):
    @hypothesis.settings(max_examples=40, deadline=None, derandomize=True)
    @hypothesis.given(st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=6)), max_size=12))
    def search_anything(pieces):
        results = engine.search("".join(pieces), page=1, per_page=5)
        assert results.total >= len(results.hits)

    search_anything()


# --- the command line and the web app do not change with the backend


def test_cli_with_the_opensearch_backend(url, tmp_path, monkeypatch):
    from vnsearch.web.cli import main

    runner = CliRunner()
    monkeypatch.setenv("VNSEARCH_OPENSEARCH_URL", url)
    as_cluster = ["--backend", "opensearch", "--index", "cli"]
    result = runner.invoke(main, ["index", *as_cluster])
    assert result.exit_code == 0 and "Indexed 5 articles" in result.output, result.output
    stats = json.loads(runner.invoke(main, ["stats", "--json", *as_cluster]).output)
    assert stats["articles"] == 5 and stats["dates"]["first"] == "2020-12-15"
    monkeypatch.setenv("VNSEARCH_BACKEND", "opensearch")  # the environment chooses the backend too
    found = json.loads(runner.invoke(main, ["search", "--json", "--index", "cli", "chi", "thi", "35"]).output)
    monkeypatch.delenv("VNSEARCH_BACKEND")
    assert runner.invoke(main, ["index", "--index", str(tmp_path)]).exit_code == 0
    same = json.loads(runner.invoke(main, ["search", "--json", "--index", str(tmp_path), "chi", "thi", "35"]).output)
    assert [h["id"] for h in found["hits"]] == [h["id"] for h in same["hits"]] and found["suggestion"] == "chỉ thị 35"
    result = runner.invoke(main, ["delete", *as_cluster, S000, "no-such-id"])
    assert "Deleted 1 articles" in result.output and "no-such-id" in result.output
    assert runner.invoke(main, ["index", "--update", *as_cluster, str(SAMPLES_DIR / f"{S000}.txt")]).exit_code == 0
    result = runner.invoke(main, ["search", "--backend", "opensearch", "--index", "nothing-here", "dang"])
    assert result.exit_code == 1 and "vnsearch index --backend opensearch" in result.output


def test_web_api_with_the_opensearch_backend(engine, url, index_home):
    from vnsearch.web import create_app

    apps = [create_app({"BACKEND": "opensearch", "OPENSEARCH_URL": url, "INDEX": ALIAS, "TESTING": True}),
            create_app({"INDEX": str(index_home), "TESTING": True})]
    clients = [app.test_client() for app in apps]
    for path in ["/api/search?q=ho+thi+hoang+yen", "/api/search?q=n%C3%B4ng&per_page=2&page=2",
                 f"/api/articles/{S000}", "/api/suggest?q=chi+thi"]:
        ours, theirs = (c.get(path).get_json() for c in clients)
        for answer in (ours, theirs):
            answer.pop("took_ms", None)
            for hit in answer.get("hits", []):
                hit.pop("score")
        assert ours == theirs, path
    # Every hit as CSV (the scores aside), and the feed of a query.
    tables = [list(csv.DictReader(io.StringIO(c.get("/api/search.csv?q=%C4%91%E1%BA%A3ng").get_data(True))))
              for c in clients]
    for table in tables:
        for row in table:
            row.pop("score")
    assert tables[0] == tables[1] and len(tables[0]) > 5
    assert clients[0].get("/feed?q=dang").status_code == 200
    assert clients[0].get("/?q=chi+thi+35").status_code == 200
    assert clients[0].get("/article/no-such-id").status_code == 404


# --- changing the index while it is searched


def test_an_update_is_searchable_within_two_seconds(engine, url, tmp_path):
    from vnsearch.indexer.opensearch_build import update_cluster_index

    article = {"id": "u-fresh", "title": "Khánh thành cầu Phước Khánh", "body": "Cầu Phước Khánh nối hai bờ.",
               "date": "2022-03-01", "source": "Giao Thông"}
    path = tmp_path / "fresh.jsonl"
    path.write_text(json.dumps(article, ensure_ascii=False) + "\n", encoding="utf-8")
    started = time.monotonic()
    update = threading.Thread(target=update_cluster_index, args=([path], url, ALIAS), kwargs={"procs": 1})
    update.start()
    while "u-fresh" not in ids(engine, "phuoc khanh") and time.monotonic() - started < 10:
        time.sleep(0.05)
    seen = time.monotonic() - started
    update.join()
    assert seen <= 2.0, f"searchable after {seen:.2f} s"
    # The update's text joins the lexicon: its words are suggested with their accents.
    time.sleep(1.1)  # the engine checks for a new generation once a second
    assert engine.search("phuoc khanh").suggestion == "Phước Khánh"


class Searching:
    """Threads searching the alias in a loop, counting failures and when they happened."""

    QUERIES = [query for query, _ in TOP]

    def __init__(self, url: str, alias: str, threads: int = 2):
        from vnsearch.search.opensearch_engine import OpenSearchEngine

        self.engine = OpenSearchEngine(url, alias)
        self.stop = threading.Event()
        self.done: list[float] = []
        self.failures: list[tuple[float, str]] = []
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True) for i in range(threads)]

    def run(self, offset: int) -> None:
        n = offset
        while not self.stop.is_set():
            try:
                self.engine.search(self.QUERIES[n % len(self.QUERIES)])
                self.done.append(time.monotonic())
            except Exception as error:  # noqa: BLE001 - any exception is a failed search
                self.failures.append((time.monotonic(), repr(error)))
            n += 1

    def __enter__(self) -> "Searching":
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()


def test_a_failed_rebuild_leaves_the_alias_where_it_was(engine, url, client, tmp_path, monkeypatch):
    from vnsearch.indexer import opensearch_build, opensearch_store
    from vnsearch.indexer.build import BuildError

    before, kept = opensearch_store.current_build(client, ALIAS), set(opensearch_store.builds(client, ALIAS))

    def broken(*args, **kwargs):
        raise RuntimeError("the disk filled up")

    monkeypatch.setattr(opensearch_store, "save_lexicon", broken)
    with pytest.raises(RuntimeError):
        opensearch_build.build_cluster_index([SAMPLES_DIR], url, ALIAS, procs=1)
    monkeypatch.undo()
    with pytest.raises(BuildError):  # nothing to read
        opensearch_build.build_cluster_index([tmp_path], url, ALIAS, procs=1)
    assert opensearch_store.current_build(client, ALIAS) == before
    assert set(opensearch_store.builds(client, ALIAS)) == kept  # the failed builds are gone
    assert "u-fresh" in ids(engine, "phuoc khanh")


def test_a_rebuild_under_load_swaps_without_a_failed_search(engine, url, client, tmp_path):
    from vnsearch.indexer import opensearch_store
    from vnsearch.indexer.opensearch_build import build_cluster_index

    before = opensearch_store.current_build(client, ALIAS)
    with Searching(url, ALIAS) as load:
        build_cluster_index([SAMPLES_DIR, TRICKY], url, ALIAS, procs=2)
        swapped = time.monotonic()
        while not [t for t in load.done if t > swapped + 1.0]:
            time.sleep(0.05)
    after = opensearch_store.current_build(client, ALIAS)
    assert after != before and set(opensearch_store.builds(client, ALIAS)) == {before, after}
    assert load.failures == [] and len(load.done) > 10
    assert "u-fresh" not in ids(engine, "phuoc khanh")  # the rebuild holds only the files it was given
    assert engine.search("ho thi hoang yen").hits[0].id == S000


# --- a node killed outright (last: the cluster stays one node short)


def test_a_node_killed_during_searches_and_an_update(engine, url, client, cluster, tmp_path, monkeypatch):
    from vnsearch.indexer import opensearch_build

    articles = [{"id": f"k-{i:03d}", "title": f"Hội nghị số {i} của Đảng ủy xã",
                 "body": f"Nội dung hội nghị số {i}: mã kiểm tra kt{i:03d}x.", "date": "2022-05-01",
                 "source": "Kiểm Tra"} for i in range(240)]
    path = tmp_path / "many.jsonl"
    path.write_text("".join(json.dumps(a, ensure_ascii=False) + "\n" for a in articles), encoding="utf-8")
    before = client.count(index=ALIAS)["count"]
    # Small bulk requests, so that the node dies with the update half sent.
    monkeypatch.setattr(opensearch_build, "BULK_DOCUMENTS", 20)
    sent = threading.Semaphore(0)
    real_send = opensearch_build.send

    def counted(*args, **kwargs):
        answer = real_send(*args, **kwargs)
        sent.release()
        return answer

    monkeypatch.setattr(opensearch_build, "send", counted)
    # The node holding the primary of shard 0: its shard must fail over to the replica.
    primary = next(s["node"] for s in client.cat.shards(index=ALIAS, format="json")
                   if s["shard"] == "0" and s["prirep"] == "p")
    victim = next(node for node in cluster.nodes if node.name == primary)
    with Searching(url, ALIAS) as load:
        # One process: forking workers while this process's search threads hold locks is asking for trouble.
        update = threading.Thread(target=opensearch_build.update_cluster_index, args=([path], url, ALIAS),
                                  kwargs={"procs": 1})
        update.start()
        for _ in range(4):
            assert sent.acquire(timeout=120), "the update sent nothing"
        cluster.kill(victim)
        killed = time.monotonic()
        update.join(timeout=180)
        assert not update.is_alive()
        cluster.wait_for("yellow", 2)
        yellow = time.monotonic()
        while not [t for t in load.done if t > yellow + 2.0]:
            time.sleep(0.05)
    late = [f for f in load.failures if f[0] >= yellow]
    assert late == [], late
    assert load.failures == [], f"failed before yellow ({yellow - killed:.1f} s after the kill): {load.failures}"
    assert [t for t in load.done if killed < t < yellow], "no search completed while the cluster recovered"
    # No article lost: every one counted and findable by its own words.
    assert client.count(index=ALIAS)["count"] == before + len(articles)
    found = client.search(index=ALIAS, body={"size": 0, "query": {"prefix": {"id": "k-"}}, "track_total_hits": True})
    assert found["hits"]["total"]["value"] == len(articles)
    assert ids(engine, "kt137x") == ["k-137"]
