"""Building and changing an index on an OpenSearch cluster: rebuild, update, delete, stats.

The same articles, the same analysis (`indexer.build.to_document`, run in a pool of
worker processes, one per core) and the same reports as the embedded index; only the
storage differs (`indexer.opensearch_store`). The parent reads the files, drops
duplicate ids and sends the analysed documents in bulk requests while the workers
analyse the next batches.
"""
from __future__ import annotations

import functools
import multiprocessing
import os
import time
from collections import Counter, deque
from typing import Callable, Iterable, Iterator

from vnsearch.corpus import MAX_ARTICLE_CHARS, Article, Problem, read_articles
from vnsearch.indexer import opensearch_store as cluster
from vnsearch.indexer.build import BuildError, BuildReport, _init_worker, to_document
from vnsearch.indexer.lexicon import Lexicon, merge_arrays
from vnsearch.indexer.update import UpdateReport

# Articles per analysis task, and tasks in flight per worker (bounds the memory held).
_BATCH = 32
_IN_FLIGHT = 4
# Documents per bulk request (about 2 MB of the shared corpus's articles).
BULK_DOCUMENTS = 200
# Lexicon parts (one per batch) merged into one as they pile up.
_MERGE_EVERY = 64
# A bulk item refused for a passing reason (a shard's primary moving after a lost node,
# a full queue) is sent again this many times, waiting longer each time.
_BULK_RETRIES = 6
DEFAULT_SHARDS = 3
DEFAULT_REPLICAS = 1


def _cluster_errors(function):
    """The cluster's own errors as ClusterError, with a message a user can act on."""
    @functools.wraps(function)
    def wrapped(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except cluster.opensearchpy.ConnectionError as error:
            raise cluster.ClusterError(f"cannot reach the OpenSearch cluster: {error.info or error}") from error
        except cluster.opensearchpy.TransportError as error:
            raise cluster.ClusterError(f"OpenSearch answered {error.status_code}: {error.error} {error.info}") \
                from error
    return wrapped


def _analyse(batch: list[Article]) -> tuple[list[tuple[str, dict]], dict]:
    """Worker: the OpenSearch documents of a batch, and the batch's lexicon arrays."""
    lexicon = Lexicon()
    docs = [(cluster.doc_id(article.id), cluster.source(to_document(article, lexicon))) for article in batch]
    return docs, lexicon.arrays()


class _Lexicons:
    """The batches' lexicon arrays, merged a few dozen at a time and all at the end."""

    def __init__(self) -> None:
        self.parts: list[dict] = []
        self.merged: list[dict] = []

    def add(self, arrays: dict) -> None:
        self.parts.append(arrays)
        if len(self.parts) >= _MERGE_EVERY:
            self.merged.append(merge_arrays(self.parts))
            self.parts = []

    def arrays(self) -> dict:
        return merge_arrays(self.merged + self.parts)


def _analysed(batches: Iterable[list[Article]], procs: int) -> Iterator[tuple[list[tuple[str, dict]], dict]]:
    """(documents, lexicon arrays) of each batch, in order; analysed by `procs` worker processes."""
    if procs <= 1:
        yield from map(_analyse, batches)
        return
    with multiprocessing.get_context("fork").Pool(procs, initializer=_init_worker) as pool:
        pending: deque = deque()
        for batch in batches:
            pending.append(pool.apply_async(_analyse, (batch,)))
            if len(pending) >= procs * _IN_FLIGHT:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


def send(client, index: str, actions: list[tuple[dict, dict | None]]) -> list[dict]:
    """One bulk request of (action, document) pairs, resending items refused for a passing
    reason; returns each item's result. Raises BuildError if an item still fails."""
    results: list[dict | None] = [None] * len(actions)
    todo = list(range(len(actions)))
    for attempt in range(_BULK_RETRIES + 1):
        body = []
        for i in todo:
            action, document = actions[i]
            body.append(action)
            if document is not None:
                body.append(document)
        response = client.bulk(index=index, body=body)
        again = []
        for i, item in zip(todo, response["items"]):
            result = next(iter(item.values()))
            results[i] = result
            if result.get("error") and (result["status"] >= 500 or result["status"] == 429):
                again.append(i)
        if not again:
            break
        todo = again
        time.sleep(min(0.5 * 2 ** attempt, 10))
    failed = [r for r in results if r.get("error")]  # a delete of a missing id is "not_found", no error
    if failed:
        raise BuildError(f"OpenSearch refused {len(failed)} documents, the first: {failed[0]['error']}")
    return results


def _bulk_index(client, index: str, analysed, lexicons: _Lexicons) -> Iterator[str]:
    """Index the analysed batches into `index`; yields the ids sent."""
    actions: list[tuple[dict, dict]] = []
    for docs, arrays in analysed:
        lexicons.add(arrays)
        for _id, document in docs:
            actions.append(({"index": {"_id": _id}}, document))
            yield document["id"]
        if len(actions) >= BULK_DOCUMENTS:
            send(client, index, actions)
            actions = []
    if actions:
        send(client, index, actions)


def _batches(articles: Iterable[Article]) -> Iterator[list[Article]]:
    batch: list[Article] = []
    for article in articles:
        batch.append(article)
        if len(batch) == _BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _unique(articles: Iterable[Article], problem: Callable[[Problem], None], report,
            on_article: Callable[[], None]) -> Iterator[Article]:
    """The articles with later copies of an id dropped and reported (the first read wins)."""
    seen: dict[str, str] = {}
    for article in articles:
        on_article()
        if article.id in seen:
            if isinstance(report, BuildReport):
                report.duplicates += 1
            problem(Problem(article.origin, f"duplicate id {article.id!r} (first read from {seen[article.id]}); "
                                            "skipped"))
            continue
        seen[article.id] = article.origin
        yield article


def _settings() -> tuple[int, int]:
    """Shards and replicas of a new build: $VNSEARCH_OPENSEARCH_SHARDS and _REPLICAS, else 3 and 1."""
    return (int(os.environ.get("VNSEARCH_OPENSEARCH_SHARDS") or DEFAULT_SHARDS),
            int(os.environ.get("VNSEARCH_OPENSEARCH_REPLICAS") or DEFAULT_REPLICAS))


@_cluster_errors
def build_cluster_index(
    paths: Iterable, url: str | None, alias: str = cluster.DEFAULT_ALIAS, *,
    procs: int | None = None,
    on_problem: Callable[[Problem], None] = lambda problem: None,
    on_article: Callable[[], None] = lambda: None,
    wait: bool = False,
    max_article_chars: int = MAX_ARTICLE_CHARS,
    shards: int | None = None, replicas: int | None = None,
) -> BuildReport:
    """Index every article under `paths` into a new index and move `alias` to it when complete."""
    report = BuildReport()
    started = time.monotonic()
    default_shards, default_replicas = _settings()
    shards, replicas = shards or default_shards, default_replicas if replicas is None else replicas

    def problem(p: Problem) -> None:
        report.problems.append(p)
        report.skipped += p.skipped
        on_problem(p)

    client = cluster.connect(url)
    articles = _unique(read_articles(paths, problem, max_article_chars), problem, report, on_article)
    with cluster.write_lock(client, alias, wait=wait):
        cluster.sweep(client, alias)
        build = cluster.new_build_name(alias)
        # Built without replicas and refreshes; the replicas then copy finished segments
        # instead of indexing every document a second time.
        body = cluster.index_body(shards, 0)
        body["settings"]["refresh_interval"] = "-1"
        client.indices.create(index=build, body=body)
        try:
            lexicons = _Lexicons()
            sent = _bulk_index(client, build, _analysed(_batches(articles), procs or os.cpu_count() or 1), lexicons)
            report.indexed = sum(1 for _ in sent)
            if not report.indexed:
                raise BuildError("no articles could be read; the previous index is unchanged")
            client.indices.put_settings(index=build, body={"index": {"number_of_replicas": replicas,
                                                                     "refresh_interval": None}})
            client.indices.refresh(index=build)
            count = client.count(index=build)["count"]
            if count != report.indexed:
                raise BuildError(f"the new index holds {count} articles, expected {report.indexed}; "
                                 "the previous index is unchanged")
            cluster.wait_for_copies(client, build, replicas)
            cluster.save_lexicon(client, alias, build, lexicons.arrays())
            cluster.publish(client, alias, build)
        except BaseException:
            if cluster.current_build(client, alias) != build:
                try:
                    cluster.drop(client, alias, build)
                except Exception:
                    pass  # the next writer sweeps it
            raise
        try:
            cluster.sweep(client, alias)
        except cluster.opensearchpy.OpenSearchException:
            pass  # the new index is live; the next writer sweeps what is left
    report.build = build
    report.seconds = time.monotonic() - started
    return report


@_cluster_errors
def update_cluster_index(
    paths: Iterable, url: str | None, alias: str = cluster.DEFAULT_ALIAS, *,
    procs: int = 2, wait: bool = False,
    on_problem: Callable[[Problem], None] = lambda problem: None,
    on_article: Callable[[], None] = lambda: None,
    max_article_chars: int = MAX_ARTICLE_CHARS,
) -> UpdateReport:
    """Add the articles under `paths` to the live index, replacing those with the same id;
    searchable when this returns."""
    report = UpdateReport()
    started = time.monotonic()

    def problem(p: Problem) -> None:
        report.skipped += p.skipped
        on_problem(p)

    client = cluster.connect(url)
    articles = list(_unique(read_articles(paths, problem, max_article_chars), problem, report, on_article))
    with cluster.write_lock(client, alias, wait=wait):
        build = cluster.require_build(client, alias)
        existing = _existing(client, build, [a.id for a in articles])
        lexicons = _Lexicons()
        # Below a few dozen articles, starting worker processes costs more than it saves.
        workers = procs if len(articles) >= 64 else 1
        sent = list(_bulk_index(client, build, _analysed(_batches(articles), workers), lexicons))
        client.indices.refresh(index=build)
        if sent:
            _, saved = cluster.load_lexicon(client, alias, build)
            cluster.save_lexicon(client, alias, build, merge_arrays([lexicons.arrays()] + ([saved] if saved else [])))
        report.replaced = len(existing)
        report.added = len(sent) - report.replaced
        report.segments = _segments(client, build)
    report.seconds = time.monotonic() - started
    return report


def _existing(client, build: str, ids: list[str]) -> set[str]:
    found = set()
    for i in range(0, len(ids), 1000):
        chunk = ids[i:i + 1000]
        docs = client.mget(index=build, body={"ids": [cluster.doc_id(a) for a in chunk]}, _source=False)["docs"]
        found |= {article_id for article_id, doc in zip(chunk, docs) if doc.get("found")}
    return found


def _segments(client, build: str) -> int:
    stats = client.indices.stats(index=build, metric="segments")
    return int(stats["_all"]["primaries"]["segments"]["count"])


@_cluster_errors
def delete_cluster_articles(ids: Iterable[str], url: str | None, alias: str = cluster.DEFAULT_ALIAS, *,
                            wait: bool = False) -> UpdateReport:
    """Remove articles by id; ids not in the index are listed in `missing`."""
    report = UpdateReport()
    started = time.monotonic()
    client = cluster.connect(url)
    ids = list(dict.fromkeys(ids))
    with cluster.write_lock(client, alias, wait=wait):
        build = cluster.require_build(client, alias)
        results = send(client, build, [({"delete": {"_id": cluster.doc_id(i)}}, None) for i in ids]) if ids else []
        client.indices.refresh(index=build)
        cluster.mark_changed(client, alias, build)
    for article_id, result in zip(ids, results):
        if result.get("result") == "deleted":
            report.deleted += 1
        else:
            report.missing.append(article_id)
    report.seconds = time.monotonic() - started
    return report


@_cluster_errors
def optimize_cluster_index(url: str | None, alias: str = cluster.DEFAULT_ALIAS, *, wait: bool = False) -> int:
    """Merge each shard's segments into one (dropping deleted articles); returns the segment count before."""
    client = cluster.connect(url)
    with cluster.write_lock(client, alias, wait=wait):
        build = cluster.require_build(client, alias)
        before = _segments(client, build)
        client.indices.forcemerge(index=build, max_num_segments=1, request_timeout=3600)
    return before


@_cluster_errors
def cluster_stats(url: str | None, alias: str = cluster.DEFAULT_ALIAS) -> dict:
    """The figures of `vnsearch stats`, the same keys as `indexer.stats.index_stats`."""
    client = cluster.connect(url)
    build = cluster.require_build(client, alias)
    found = client.search(index=alias, body={
        "size": 0, "track_total_hits": True,
        "aggs": {"sources": {"terms": {"field": "source", "size": 10_000, "missing": "(unknown)"}},
                 "first": {"min": {"field": "published", "format": "yyyy-MM-dd"}},
                 "last": {"max": {"field": "published", "format": "yyyy-MM-dd"}},
                 "dated": {"value_count": {"field": "published"}}}})
    aggs = found["aggregations"]
    count = found["hits"]["total"]["value"]
    sources = Counter({b["key"]: b["doc_count"] for b in aggs["sources"]["buckets"]})
    size = client.indices.stats(index=build, metric="store")["_all"]["total"]["store"]["size_in_bytes"]
    return {
        "index": f"{alias} -> {build} at {url or cluster.DEFAULT_URL}",
        "articles": count,
        "sources": dict(sources.most_common()),
        "dates": {"first": aggs["first"].get("value_as_string"), "last": aggs["last"].get("value_as_string"),
                  "undated": count - int(aggs["dated"]["value"])},
        "bytes": size,
    }


@_cluster_errors
def ensure_cluster_index(url: str | None, alias: str, echo: Callable[[str], None]) -> None:
    """Index the bundled samples when the cluster has no index yet (`vnsearch serve`'s first start)."""
    from vnsearch.corpus import SAMPLES_DIR

    if cluster.current_build(cluster.connect(url), alias) is None:
        echo(f"No index {alias!r} on the cluster; indexing the bundled sample articles first.")
        report = build_cluster_index([SAMPLES_DIR], url, alias)
        echo(f"Indexed {report.indexed} sample articles.")
