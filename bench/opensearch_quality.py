"""Known-item retrieval on both backends: the embedded index, the same search on an
OpenSearch cluster, and OpenSearch as a user would set it up without vnsearch.

The queries and the scoring are bench/quality.py's known-item sets (bench/quality_sets.py;
MRR@10, Recall@1, Recall@10 per query kind), over the same articles in three engines:

- headlines: five queries from each sampled headline, every engine indexing title,
  summary and body;
- verbose: the first sentence of a sampled article's summary, as written and folded,
  every engine indexing the articles without their summaries (title and body only), as
  bench/quality.py's verbose set does;

each in three engines:

- vnsearch, embedded: the Whoosh index and our ranking (bench/peers.py's `VnSearch`);
- vnsearch on OpenSearch: our analysis indexed as term streams, our ranking as query
  DSL (`search.opensearch_engine.OpenSearchEngine`);
- OpenSearch standard + asciifolding: the `standard` tokenizer with `lowercase` and
  `asciifolding` filters (which fold "đ" too), title ×3 and summary ×1.5 as for the
  other peers, every word required (`cross_fields`, AND) and, when that finds
  nothing, any word.

Targets: the OpenSearch backend within 0.02 MRR@10 of the embedded one on every query
kind, and ahead of standard + asciifolding on every kind. Results go to stdout and into
docs/BENCHMARKS.md between <!-- opensearch-quality:start --> and <!-- opensearch-quality:end -->
(headlines) and <!-- opensearch-quality-verbose:start --> and its end (verbose).

Needs the `opensearch` extra and a cluster: `--url` of a running one (scripts/opensearch-cluster
start), else three nodes are started for the run (Java and Maven needed) and stopped after it.

    python bench/opensearch_quality.py                        # 22,643 articles, 400 headlines, 400 summaries
    python bench/opensearch_quality.py --url http://127.0.0.1:9200 --index bench/out/index \
        --index-nosummary bench/out/index-nosummary --sets verbose
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
from quality_data import without_summaries
from quality_report import by_kind, headline_checks, known_item_table, known_item_times, raised, scores, verbose_checks
from quality_sets import HEADLINE_KINDS, VERBOSE_KINDS, headline_queries, verbose_queries

from vnsearch.corpus import Article
from vnsearch.indexer import store
from vnsearch.indexer.build import build_index

sys.path.insert(0, str(ROOT / "scripts"))
import opensearch_cluster  # noqa: E402  (scripts/ is no package)

SETS = ("headlines", "verbose")
ALIAS = "bench-quality"  # unless --alias; the verbose set's index is this with VARIANT_SUFFIX
PEER_INDEX = "bench-standard-asciifolding"
# Each set's articles: "full" (title, summary, body) or "nosummary" (the verbose set's).
VARIANT = {"headlines": "full", "verbose": "nosummary"}
VARIANT_SUFFIX = {"full": "", "nosummary": "-nosummary"}
SECTION = {"headlines": "opensearch-quality", "verbose": "opensearch-quality-verbose"}
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


def _source(args, articles: list[Article], variant: str, tmp: str) -> Path:
    """A file of exactly `articles`: the corpus itself when they are all of it, as it is."""
    if variant == "full" and not args.limit_docs:
        return Path(args.corpus)
    return write_jsonl(articles, Path(tmp) / f"{variant}.jsonl.gz")


def vnsearch_home(args, articles: list[Article], variant: str) -> tuple[Path, float]:
    """The embedded index to query (--index or --index-nosummary, reused when it holds these
    articles), and the seconds spent building it (0 if reused)."""
    given = args.index if variant == "full" else args.index_nosummary
    home = Path(given) if given else OUT / f"opensearch-quality-index{VARIANT_SUFFIX[variant]}"
    if not args.rebuild and store.current_build(home):
        with store.open_index(home).searcher() as searcher:
            if searcher.doc_count() == len(articles):
                return home, 0.0
    with tempfile.TemporaryDirectory() as tmp:
        started = time.monotonic()
        with progress(total=len(articles), quiet=args.quiet, desc=f"vnsearch index ({variant})",
                      unit=" articles") as bar:
            build_index([_source(args, articles, variant, tmp)], home, procs=args.procs, on_article=bar.update)
        return home, time.monotonic() - started


def vnsearch_cluster_index(url: str, args, articles: list[Article], variant: str) -> float:
    """Build the variant's alias from the same articles unless it already holds them; the
    seconds spent (0 if reused)."""
    from vnsearch.indexer.opensearch_build import build_cluster_index
    from vnsearch.indexer.opensearch_store import connect, current_build

    alias = args.alias + VARIANT_SUFFIX[variant]
    client = connect(url)
    if not args.rebuild and current_build(client, alias) and client.count(index=alias)["count"] == len(articles):
        return 0.0
    with tempfile.TemporaryDirectory() as tmp:
        source = _source(args, articles, variant, tmp)
        started = time.monotonic()
        with progress(total=len(articles), quiet=args.quiet, desc=f"vnsearch on OpenSearch index ({variant})",
                      unit=" articles") as bar:
            build_cluster_index([source], url, alias, procs=args.procs, on_article=bar.update)
        return time.monotonic() - started


class StandardAsciifolding:
    """OpenSearch as a user sets it up for Vietnamese without vnsearch: standard tokenizer,
    lowercase and asciifolding, BM25 with the same field boosts as the other peers."""
    name = "OpenSearch standard+asciifolding"

    def __init__(self, url: str, articles: list[Article], quiet: bool, index: str = PEER_INDEX,
                 rebuild: bool = False):
        from opensearchpy import helpers

        from vnsearch.indexer.opensearch_store import connect

        self.client, self.index = connect(url), index
        self.fields = ["title^%g" % TITLE_BOOST, "summary^%g" % SUMMARY_BOOST, "body"]
        self.reused = not rebuild and self.client.indices.exists(index=index) and \
            self.client.count(index=index)["count"] == len(articles)
        if self.reused:
            return
        self.client.indices.delete(index=index, ignore_unavailable=True)
        text = {"type": "text", "analyzer": "folded"}
        self.client.indices.create(index=index, body={
            "settings": {"number_of_shards": 3, "number_of_replicas": 1, "refresh_interval": "-1",
                         "analysis": {"analyzer": {"folded": {"type": "custom", "tokenizer": "standard",
                                                              "filter": ["lowercase", "asciifolding"]}}}},
            "mappings": {"properties": {"id": {"type": "keyword"}, "title": text, "summary": text, "body": text}},
        })
        actions = ({"_index": index, "_id": a.id, "_source": {"id": a.id, "title": a.title,
                                                                   "summary": a.summary or "", "body": a.body}}
                   for a in progress(articles, quiet, desc="standard+asciifolding index"))
        helpers.bulk(self.client, actions, chunk_size=500, request_timeout=120)
        self.client.indices.put_settings(index=index, body={"index": {"refresh_interval": "1s"}})
        self.client.indices.refresh(index=index)

    def search(self, text: str) -> list[str]:
        for operator in ("and", "or"):
            body = {"size": TOP, "_source": ["id"], "query": {"multi_match": {
                "query": text, "fields": self.fields, "type": "cross_fields", "operator": operator}}}
            hits = self.client.search(index=self.index, body=body, search_type="dfs_query_then_fetch")["hits"]["hits"]
            if hits:
                return [hit["_source"]["id"] for hit in hits]
        return []


def targets(queries, runs, kinds: tuple[str, ...]) -> str:
    embedded, ours, peer = runs[:3]
    lines = []
    for kind in kinds:
        e, o, p = (scores(by_kind(queries, r.ranks, kind))[0] for r in runs[:3])
        near = o >= e - TOLERANCE
        # Both perfect leaves no room to be ahead: a tie at the ceiling, not a failure.
        ahead = "**pass**" if o > p else "tie, both 1.000" if o == p == 1.0 else "**FAIL**"
        lines.append(f"| `{kind}` | {o - e:+.3f} ({'**pass**' if near else '**FAIL**'}) | {o - p:+.3f} ({ahead}) |")
    return "\n".join([
        f"| query kind | {ours.name} − {embedded.name} (target ≥ −{TOLERANCE}) | {ours.name} − {peer.name} (target > 0) |",
        "|---|---:|---:|", *lines])


def known_item_set(name: str, args, url: str, articles: list[Article]) -> str:
    """One known-item set (headlines or verbose) on the three engines, as Markdown."""
    variant = VARIANT[name]
    if name == "headlines":
        sample = sample_articles(articles, args.sample, args.seed)
        queries, kinds, indexed = headline_queries(sample, args.seed), HEADLINE_KINDS, articles
        what = (f"Sample: {len(sample)} headlines (seed {args.seed}), {len(queries):,} queries per engine; "
                "every engine indexes title, summary and body.")
    else:
        queries, kinds, indexed = verbose_queries(articles, args.sample, args.seed), VERBOSE_KINDS, \
            without_summaries(articles)
        what = (f"Sample: {len(queries) // 2} articles (seed {args.seed}), the first sentence of each summary "
                f"(at most 30 words) as written and folded, {len(queries):,} queries per engine; every engine "
                "indexes title and body only, without the summaries.")
    built = {}
    home, built["vnsearch embedded"] = vnsearch_home(args, indexed, variant)
    built["vnsearch on OpenSearch"] = vnsearch_cluster_index(url, args, indexed, variant)
    started = time.monotonic()
    peer = StandardAsciifolding(url, indexed, args.quiet, PEER_INDEX + VARIANT_SUFFIX[variant], args.rebuild)
    built[peer.name] = 0.0 if peer.reused else time.monotonic() - started
    engines = [VnSearch(home), VnSearchOpenSearch(url, args.alias + VARIANT_SUFFIX[variant]), peer]
    engines[0].name = "vnsearch embedded"
    if args.with_dfs:
        engines.append(VnSearchOpenSearch(url, args.alias + VARIANT_SUFFIX[variant], dfs=True))
    runs = [run_known_items(engine, queries, args.quiet) for engine in engines]

    builds = ", ".join(f"{name} {seconds:.0f} s" if seconds else f"{name} reused" for name, seconds in built.items())
    checks = headline_checks(queries, runs[0]) if name == "headlines" else verbose_checks(queries, runs[0])
    return "\n".join([
        f"Measured {today()} with `{command_line()}` on {machine()}; code at {code_version()}.",
        "",
        f"Corpus: {len(articles):,} articles from `{Path(args.corpus).name}`"
        + (f" (first {args.limit_docs:,} only)" if args.limit_docs else "")
        + f". {what} Index builds: {builds}.",
        "",
        known_item_table(queries, runs, kinds),
        "",
        checks,
        "",
        *(line + "\n" for line in raised(queries, runs)),
        known_item_times(runs),
        "",
        targets(queries, runs, kinds),
    ])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--url", help="A running cluster (comma-separated nodes); without it three nodes are "
                                      "started in bench/out/opensearch-cluster for this run.")
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS), help="JSON Lines corpus (.jsonl or .jsonl.gz).")
    parser.add_argument("--sets", default=",".join(SETS), help=f"Comma-separated sets to run, of {', '.join(SETS)}.")
    parser.add_argument("--index", metavar="DIR",
                        help="Embedded index of the articles to reuse or build (bench/quality.py's WORK/index).")
    parser.add_argument("--index-nosummary", metavar="DIR",
                        help="Embedded index of the articles without summaries, for the verbose set "
                             "(bench/quality.py's WORK/index-nosummary).")
    parser.add_argument("--alias", default=ALIAS,
                        help="The cluster index (alias) to reuse or build; the verbose set's has '-nosummary' added.")
    parser.add_argument("--with-dfs", action="store_true",
                        help="Also run the OpenSearch backend with dfs_query_then_fetch at any index size.")
    parser.add_argument("--rebuild", action="store_true", help="Rebuild the indexes even if built.")
    parser.add_argument("--procs", type=int, default=None, help="Indexing processes; one per core when not given.")
    parser.add_argument("--sample", type=int, default=400,
                        help="Articles whose headlines (or summaries' first sentences) become queries.")
    parser.add_argument("--seed", type=int, default=13, help="Seed for the sample, fragments and stripped words.")
    parser.add_argument("--limit-docs", type=int, metavar="N", help="Index only the first N articles.")
    parser.add_argument("--doc", default=str(DEFAULT_DOC), help="Markdown file whose section is replaced.")
    parser.add_argument("--no-doc", action="store_true", help="Print the results without writing the doc.")
    parser.add_argument("--quiet", "-q", action="store_true", help="No progress bars.")
    args = parser.parse_args(argv)
    asked = [name for name in args.sets.split(",") if name]
    if not asked or set(asked) - set(SETS):
        parser.error(f"--sets takes a comma-separated list of {', '.join(SETS)}")
    args.sets = tuple(name for name in SETS if name in asked)
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    corpus = Path(args.corpus)
    if not corpus.exists():
        raise SystemExit(f"error: no corpus at {corpus}; pass --corpus")
    articles = load_articles(corpus, args.limit_docs, args.quiet)

    cluster = None
    url = args.url
    if not url:
        cluster = opensearch_cluster.start(OUT / "opensearch-cluster", nodes=3)
        url = ",".join(cluster.urls)
    try:
        for name in args.sets:
            text = known_item_set(name, args, url, articles)
            print(f"\n## {name}\n\n{text}")
            if not args.no_doc:
                update_section(Path(args.doc), SECTION[name], text)
                print(f"\nwrote the {SECTION[name]} section of {args.doc}")
    finally:
        if cluster is not None:
            cluster.stop()


if __name__ == "__main__":
    main()
