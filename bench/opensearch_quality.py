"""Known-item retrieval on both backends: the embedded index, the same search on an
OpenSearch cluster, and OpenSearch as a user would set it up without vnsearch.

The queries and the scoring are bench/quality.py's headlines set (bench/quality_sets.py:
five queries from each sampled headline; MRR@10, Recall@1, Recall@10 per query kind), over
the same articles in three engines:

- vnsearch, embedded: the Whoosh index and our ranking (bench/peers.py's `VnSearch`);
- vnsearch on OpenSearch: our analysis indexed as term streams, our ranking as query
  DSL (`search.opensearch_engine.OpenSearchEngine`);
- OpenSearch standard + asciifolding: the `standard` tokenizer with `lowercase` and
  `asciifolding` filters (which fold "đ" too), title ×3 and summary ×1.5 as for the
  other peers, every word required (`cross_fields`, AND) and, when that finds
  nothing, any word.

Targets: the OpenSearch backend within 0.02 MRR@10 of the embedded one on every query
kind, and ahead of standard + asciifolding on every kind. Results go to stdout and into
docs/BENCHMARKS.md between <!-- opensearch-quality:start --> and <!-- opensearch-quality:end -->.

Needs the `opensearch` extra and a cluster: `--url` of a running one (scripts/opensearch-cluster
start), else three nodes are started for the run (Java and Maven needed) and stopped after it.

    python bench/opensearch_quality.py                        # 22,643 articles, 400 headlines
    python bench/opensearch_quality.py --url http://127.0.0.1:9200 --index bench/out/index
    python bench/opensearch_quality.py --limit-docs 2000 --sample 100 --no-doc   # quick iteration
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from common import (DEFAULT_CORPUS, DEFAULT_DOC, OUT, ROOT, code_version, command_line, load_articles, machine,
                    progress, sample_articles, today, update_section, write_jsonl)
from peers import SUMMARY_BOOST, TITLE_BOOST, TOP, VnSearch
from quality import run_known_items
from quality_report import by_kind, headline_checks, known_item_table, known_item_times, raised, scores
from quality_sets import HEADLINE_KINDS as KINDS
from quality_sets import headline_queries

from vnsearch.corpus import Article
from vnsearch.indexer import store
from vnsearch.indexer.build import build_index

sys.path.insert(0, str(ROOT / "scripts"))
import opensearch_cluster  # noqa: E402  (scripts/ is no package)

ALIAS = "bench-quality"  # unless --alias
PEER_INDEX = "bench-standard-asciifolding"
TOLERANCE = 0.02


class VnSearchOpenSearch:
    """vnsearch's search, answered by the cluster; with `dfs`, always with the whole index's
    term statistics (`dfs_query_then_fetch`), whatever its size."""

    def __init__(self, url: str, alias: str, dfs: bool = False):
        from vnsearch.search import opensearch_engine

        self.name = "vnsearch on OpenSearch" + (", always dfs" if dfs else "")
        self.module, self.dfs = opensearch_engine, dfs
        self.engine = opensearch_engine.OpenSearchEngine(url, alias)

    def search(self, text: str) -> list[str]:
        default = self.module.DFS_BELOW
        if self.dfs:
            self.module.DFS_BELOW = float("inf")
        try:
            return [hit.id for hit in self.engine.search(text, per_page=TOP).hits]
        finally:
            self.module.DFS_BELOW = default


def _source(args, articles: list[Article], tmp: str) -> Path:
    return write_jsonl(articles, Path(tmp) / "subset.jsonl.gz") if args.limit_docs else Path(args.corpus)


def vnsearch_home(args, articles: list[Article]) -> tuple[Path, float]:
    """The embedded index to query (--index, reused when it holds these articles), and the
    seconds spent building it (0 if reused)."""
    home = Path(args.index) if args.index else OUT / "opensearch-quality-index"
    if not args.rebuild and store.current_build(home):
        with store.open_index(home).searcher() as searcher:
            if searcher.doc_count() == len(articles):
                return home, 0.0
    with tempfile.TemporaryDirectory() as tmp:
        started = time.monotonic()
        with progress(total=len(articles), quiet=args.quiet, desc="vnsearch index", unit=" articles") as bar:
            build_index([_source(args, articles, tmp)], home, procs=args.procs, on_article=bar.update)
        return home, time.monotonic() - started


def vnsearch_cluster_index(url: str, args, articles: list[Article]) -> float:
    """Build the alias from the same articles unless it already holds them; the seconds spent (0 if reused)."""
    from vnsearch.indexer.opensearch_build import build_cluster_index
    from vnsearch.indexer.opensearch_store import connect, current_build

    client = connect(url)
    if not args.rebuild and current_build(client, args.alias) and \
            client.count(index=args.alias)["count"] == len(articles):
        return 0.0
    with tempfile.TemporaryDirectory() as tmp:
        started = time.monotonic()
        with progress(total=len(articles), quiet=args.quiet, desc="vnsearch on OpenSearch index",
                      unit=" articles") as bar:
            build_cluster_index([_source(args, articles, tmp)], url, args.alias, procs=args.procs,
                                on_article=bar.update)
        return time.monotonic() - started


class StandardAsciifolding:
    """OpenSearch as a user sets it up for Vietnamese without vnsearch: standard tokenizer,
    lowercase and asciifolding, BM25 with the same field boosts as the other peers."""
    name = "OpenSearch standard+asciifolding"

    def __init__(self, url: str, articles: list[Article], quiet: bool):
        from opensearchpy import helpers

        from vnsearch.indexer.opensearch_store import connect

        self.client = connect(url)
        self.client.indices.delete(index=PEER_INDEX, ignore_unavailable=True)
        text = {"type": "text", "analyzer": "folded"}
        self.client.indices.create(index=PEER_INDEX, body={
            "settings": {"number_of_shards": 3, "number_of_replicas": 1, "refresh_interval": "-1",
                         "analysis": {"analyzer": {"folded": {"type": "custom", "tokenizer": "standard",
                                                              "filter": ["lowercase", "asciifolding"]}}}},
            "mappings": {"properties": {"id": {"type": "keyword"}, "title": text, "summary": text, "body": text}},
        })
        actions = ({"_index": PEER_INDEX, "_id": a.id, "_source": {"id": a.id, "title": a.title,
                                                                   "summary": a.summary or "", "body": a.body}}
                   for a in progress(articles, quiet, desc="standard+asciifolding index"))
        helpers.bulk(self.client, actions, chunk_size=500, request_timeout=120)
        self.client.indices.put_settings(index=PEER_INDEX, body={"index": {"refresh_interval": "1s"}})
        self.client.indices.refresh(index=PEER_INDEX)
        self.fields = ["title^%g" % TITLE_BOOST, "summary^%g" % SUMMARY_BOOST, "body"]

    def search(self, text: str) -> list[str]:
        for operator in ("and", "or"):
            body = {"size": TOP, "_source": ["id"], "query": {"multi_match": {
                "query": text, "fields": self.fields, "type": "cross_fields", "operator": operator}}}
            hits = self.client.search(index=PEER_INDEX, body=body, search_type="dfs_query_then_fetch")["hits"]["hits"]
            if hits:
                return [hit["_source"]["id"] for hit in hits]
        return []


def targets(queries, runs) -> str:
    embedded, ours, peer = runs[:3]
    lines = []
    for kind in KINDS:
        e, o, p = (scores(by_kind(queries, r.ranks, kind))[0] for r in runs[:3])
        near = o >= e - TOLERANCE
        # Both perfect leaves no room to be ahead: a tie at the ceiling, not a failure.
        ahead = "**pass**" if o > p else "tie, both 1.000" if o == p == 1.0 else "**FAIL**"
        lines.append(f"| `{kind}` | {o - e:+.3f} ({'**pass**' if near else '**FAIL**'}) | {o - p:+.3f} ({ahead}) |")
    return "\n".join([
        f"| query kind | {ours.name} − {embedded.name} (target ≥ −{TOLERANCE}) | {ours.name} − {peer.name} (target > 0) |",
        "|---|---:|---:|", *lines])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--url", help="A running cluster (comma-separated nodes); without it three nodes are "
                                      "started in bench/out/opensearch-cluster for this run.")
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS), help="JSON Lines corpus (.jsonl or .jsonl.gz).")
    parser.add_argument("--index", metavar="DIR", help="Embedded index folder to reuse or build (as bench/quality.py).")
    parser.add_argument("--alias", default=ALIAS, help="The cluster index (alias) to reuse or build.")
    parser.add_argument("--with-dfs", action="store_true",
                        help="Also run the OpenSearch backend with dfs_query_then_fetch at any index size.")
    parser.add_argument("--rebuild", action="store_true", help="Rebuild the indexes even if built.")
    parser.add_argument("--procs", type=int, default=None, help="Indexing processes; one per core when not given.")
    parser.add_argument("--sample", type=int, default=400, help="Articles whose headlines become queries.")
    parser.add_argument("--seed", type=int, default=13, help="Seed for the sample, fragments and stripped words.")
    parser.add_argument("--limit-docs", type=int, metavar="N", help="Index only the first N articles.")
    parser.add_argument("--doc", default=str(DEFAULT_DOC), help="Markdown file whose section is replaced.")
    parser.add_argument("--no-doc", action="store_true", help="Print the results without writing the doc.")
    parser.add_argument("--quiet", "-q", action="store_true", help="No progress bars.")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    corpus = Path(args.corpus)
    if not corpus.exists():
        raise SystemExit(f"error: no corpus at {corpus}; pass --corpus")
    articles = load_articles(corpus, args.limit_docs, args.quiet)
    sample = sample_articles(articles, args.sample, args.seed)
    queries = headline_queries(sample, args.seed)

    cluster = None
    url = args.url
    if not url:
        cluster = opensearch_cluster.start(OUT / "opensearch-cluster", nodes=3)
        url = ",".join(cluster.urls)
    try:
        home, built = {}, {}
        home["embedded"], built["vnsearch embedded"] = vnsearch_home(args, articles)
        built["vnsearch on OpenSearch"] = vnsearch_cluster_index(url, args, articles)
        started = time.monotonic()
        peer = StandardAsciifolding(url, articles, args.quiet)
        built[peer.name] = time.monotonic() - started
        engines = [VnSearch(home["embedded"]), VnSearchOpenSearch(url, args.alias), peer]
        engines[0].name = "vnsearch embedded"
        if args.with_dfs:
            engines.append(VnSearchOpenSearch(url, args.alias, dfs=True))
        runs = [run_known_items(engine, queries, args.quiet) for engine in engines]
    finally:
        if cluster is not None:
            cluster.stop()

    builds = ", ".join(f"{name} {seconds:.0f} s" if seconds else f"{name} reused" for name, seconds in built.items())
    text = "\n".join([
        f"Measured {today()} with `{command_line()}` on {machine()}; code at {code_version()}.",
        "",
        f"Corpus: {len(articles):,} articles from `{Path(args.corpus).name}`"
        + (f" (first {args.limit_docs:,} only)" if args.limit_docs else "")
        + f". Sample: {len(sample)} headlines (seed {args.seed}), {len(queries):,} queries per engine. "
        f"Index builds: {builds}.",
        "",
        known_item_table(queries, runs, KINDS),
        "",
        headline_checks(queries, runs[0]),
        "",
        *(line + "\n" for line in raised(queries, runs)),
        known_item_times(runs),
        "",
        targets(queries, runs),
    ])
    print(text)
    if not args.no_doc:
        update_section(Path(args.doc), "opensearch-quality", text)
        print(f"\nwrote the opensearch-quality section of {args.doc}")


if __name__ == "__main__":
    main()
