"""bench/quality.py's query sets on both backends: the embedded index, the same search on
an OpenSearch cluster, and OpenSearch as a user would set it up without vnsearch.

The queries and the scoring are bench/quality.py's (bench/quality_sets.py), over the same
articles in three engines:

- headlines: five queries from each sampled headline, every engine indexing title,
  summary and body (MRR@10, Recall@1, Recall@10 per query kind);
- verbose: the first sentence of a sampled article's summary, as written and folded,
  every engine indexing the articles without their summaries (title and body only), as
  bench/quality.py's verbose set does;
- topical: precision and recall of each engine's whole result set for the short queries
  of `bench/topical_queries.tsv`, typed with diacritics and folded;
- typos: the "did you mean" suggestion for queries with one typing mistake, right, wrong
  or none (not for standard + asciifolding: OpenSearch's own analysis suggests nothing);

each in three engines:

- vnsearch, embedded: the Whoosh index and our ranking (bench/peers.py's `VnSearch`);
- vnsearch on OpenSearch: our analysis indexed as term streams, our ranking as query
  DSL (`search.opensearch_engine.OpenSearchEngine`);
- OpenSearch standard + asciifolding: the `standard` tokenizer with `lowercase` and
  `asciifolding` filters (which fold "đ" too), title ×3 and summary ×1.5 as for the
  other peers, every word required (`cross_fields`, AND) and, when that finds
  nothing, any word; for the topical set's whole result sets, every word (AND) or
  the phrase, as bench/quality.py's peers.

Targets: the OpenSearch backend within 0.02 MRR@10 of the embedded one on every query
kind, and ahead of standard + asciifolding on every kind; within 0.02 of the embedded one
in mean precision and recall (topical) and in the share of right suggestions (typos).
Results go to stdout and into docs/BENCHMARKS.md between <!-- opensearch-quality:start -->
and <!-- opensearch-quality:end --> (headlines), and the same markers of
opensearch-quality-verbose, opensearch-quality-topical and opensearch-quality-typos.

Needs the `opensearch` extra and a cluster: `--url` of a running one (scripts/opensearch-cluster
start), else three nodes are started for the run (Java and Maven needed) and stopped after it.

    python bench/opensearch_quality.py       # 22,643 articles, 400 headlines, 400 summaries, 32 topics, 400 typos
    python bench/opensearch_quality.py --url http://127.0.0.1:9200 --index bench/out/index \
        --index-nosummary bench/out/index-nosummary --sets verbose
    python bench/opensearch_quality.py --limit-docs 2000 --sample 100 --no-doc   # quick iteration
    python bench/opensearch_quality.py --url URL --index DIR --sets topical,typos --sample 20 --no-doc
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
from quality import (TOPICAL_RELEVANT, Topical, run_known_items, run_topical, topical_queries, topical_times,
                     topical_what, typo_suggestions, typo_what)
from quality_data import without_summaries
from quality_report import (TYPINGS, Suggested, by_kind, headline_checks, judged, known_item_table, known_item_times,
                            raised, scores, share, topical_checks, topical_table, typo_side_by_side, verbose_checks)
from quality_sets import HEADLINE_KINDS, TOPICAL_FILE, VERBOSE_KINDS, Relevance, headline_queries, typo_queries, \
    verbose_queries

from vnsearch.corpus import Article
from vnsearch.indexer import store
from vnsearch.indexer.build import build_index
from vnsearch.indexer.opensearch_store import MAX_RESULT_WINDOW

sys.path.insert(0, str(ROOT / "scripts"))
import opensearch_cluster  # noqa: E402  (scripts/ is no package)

SETS = ("headlines", "verbose", "topical", "typos")
ALIAS = "bench-quality"  # unless --alias; the verbose set's index is this with VARIANT_SUFFIX
PEER_INDEX = "bench-standard-asciifolding"
# Each set's articles: "full" (title, summary, body) or "nosummary" (the verbose set's).
VARIANT = {"headlines": "full", "verbose": "nosummary", "topical": "full", "typos": "full"}
VARIANT_SUFFIX = {"full": "", "nosummary": "-nosummary"}
SECTION = {"headlines": "opensearch-quality", "verbose": "opensearch-quality-verbose",
           "topical": "opensearch-quality-topical", "typos": "opensearch-quality-typos"}
TOLERANCE = 0.02
# Ids per request when paging out a whole result set (search_after); at most the index's
# max_result_window (opensearch_store.MAX_RESULT_WINDOW, 10,000 for the peer's index).
ID_PAGE = 10_000


def every_id(call, client, index: str, query: dict, page: int | None = None) -> list[str]:
    """The ids of every article answering `query`, in id order: pages of `page` ids sorted on
    the `id` keyword, each after the last of the one before (search_after), the ids read
    from the sort values (no _source). Every page counts the whole set (track_total_hits);
    a count that changes or differs from the ids read raises. `call(method, **kwargs)` makes
    the requests (a backend's retries). The articles of a benchmark index do not change
    meanwhile, so no point in time is kept."""
    page = page or ID_PAGE
    ids: list[str] = []
    total, after = None, None
    while True:
        body = {"query": query, "size": page, "sort": [{"id": "asc"}], "_source": False, "track_total_hits": True}
        if after is not None:
            body["search_after"] = after
        hits = call(client.search, index=index, body=body, params={"allow_partial_search_results": "false"})["hits"]
        count = int(hits["total"]["value"])
        if total is not None and count != total:
            raise RuntimeError(f"{index}: the result set changed while paging ({total:,} then {count:,} articles)")
        total = count
        ids.extend(hit["sort"][0] for hit in hits["hits"])
        if len(hits["hits"]) < page:
            break
        after = hits["hits"][-1]["sort"]
    if len(ids) != total:
        raise RuntimeError(f"{index}: paged out {len(ids):,} ids of a result set of {total:,}")
    return ids


class VnSearchOpenSearch:
    """vnsearch's search, answered by the cluster; with `dfs`, always with the whole index's
    term statistics (`dfs_query_then_fetch`), whatever its size."""
    modes = VnSearch.modes

    def __init__(self, url: str, alias: str, dfs: bool = False):
        from vnsearch.search import opensearch_engine

        self.name = "vnsearch on OpenSearch" + (", always dfs" if dfs else "")
        self.module, self.dfs = opensearch_engine, dfs
        self.engine = opensearch_engine.OpenSearchEngine(url, alias)
        self.paged = 0  # result sets that had to be paged out through `export`

    def search(self, text: str) -> list[str]:
        default = self.module.DFS_BELOW
        if self.dfs:
            self.module.DFS_BELOW = float("inf")
        try:
            return [hit.id for hit in self.engine.search(text, per_page=TOP).hits]
        finally:
            self.module.DFS_BELOW = default

    def result_set(self, text: str, mode: str = "typed") -> list[str]:
        """Every hit of the query as `search` answers it (its partial match or its correction
        included), in id order.

        Paging out thousands of hits through `export` renders a snippet for each, so the
        ids come from the query `search` ran, paged out with search_after without scores,
        and are checked against that search's total and first page; where they differ (the
        engine's internals changed), the hits are paged out through `export` after all.
        """
        query = f'"{text}"' if mode == "quoted" else text
        found = self._matching(query)
        if found is not None:
            ids, total, first = found
            if len(ids) == total and set(first) <= set(ids):
                return ids
        self.paged += 1
        return [hit.id for hit in self.engine.export(query, limit=MAX_RESULT_WINDOW)[1]]

    def _matching(self, query: str) -> tuple[list[str], int, list[str]] | None:
        """The ids matching the query `search` answers (`OpenSearchEngine._answer`'s), its total
        and first page; None when the engine's internals are not what this was written for."""
        from vnsearch.search import opensearch_query as dsl
        from vnsearch.search.engine import Results, _filtered

        try:
            parsed = _filtered(query, None, None)
            if parsed is None:
                return [], 0, []
            results = Results(query, 0, 1, TOP, 0.0)
            answer = self.engine._answer(parsed, query, "relevance", True, results, 0, TOP, False)
            condition = dsl.match_query(answer.query, answer.required, scored=False)
        except (AttributeError, TypeError):  # any change of the internals: use the public API
            return None
        first = [hit["_source"]["id"] for hit in answer.page["hits"]["hits"]]
        ids = every_id(lambda method, **kw: self.engine._call(method, **kw), self.engine.client, self.engine.alias,
                       condition)
        return ids, results.total, first

    def newest(self, text: str, mode: str = "typed") -> list[str]:
        """The first page sorted by date."""
        query = f'"{text}"' if mode == "quoted" else text
        return [hit.id for hit in self.engine.search(query, per_page=TOP, sort="date").hits]

    def suggestion(self, text: str) -> str | None:
        return self.engine.search(text, per_page=1).suggestion


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
    lowercase and asciifolding, BM25 with the same field boosts as the other peers. It has
    no "did you mean" (no `suggestion`)."""
    name = "OpenSearch standard+asciifolding"
    modes = {"and": "AND of words", "phrase": "phrase"}

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

    def result_set(self, text: str, mode: str = "and") -> list[str]:
        """Every article holding all the words (in any field, `cross_fields`), or the phrase
        (in one field), in id order."""
        if mode == "phrase":
            query = {"multi_match": {"query": text, "fields": self.fields, "type": "phrase"}}
        else:
            query = {"multi_match": {"query": text, "fields": self.fields, "type": "cross_fields", "operator": "and"}}
        return every_id(lambda method, **kw: method(**kw), self.client, self.index, query)


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


def engines_for(args, url: str, articles: list[Article], variant: str) -> tuple[list, str]:
    """The three engines over the variant's articles (a fourth with --with-dfs), each index
    reused or built, and what the builds took."""
    built = {}
    home, built["vnsearch embedded"] = vnsearch_home(args, articles, variant)
    built["vnsearch on OpenSearch"] = vnsearch_cluster_index(url, args, articles, variant)
    started = time.monotonic()
    peer = StandardAsciifolding(url, articles, args.quiet, PEER_INDEX + VARIANT_SUFFIX[variant], args.rebuild)
    built[peer.name] = 0.0 if peer.reused else time.monotonic() - started
    engines = [VnSearch(home), VnSearchOpenSearch(url, args.alias + VARIANT_SUFFIX[variant]), peer]
    engines[0].name = "vnsearch embedded"
    if args.with_dfs:
        engines.append(VnSearchOpenSearch(url, args.alias + VARIANT_SUFFIX[variant], dfs=True))
    builds = ", ".join(f"{name} {seconds:.0f} s" if seconds else f"{name} reused" for name, seconds in built.items())
    return engines, builds


def measured(args, articles: list[Article], what: str, builds: str) -> str:
    """The lines that say what was measured, how, and on what."""
    return "\n".join([
        f"Measured {today()} with `{command_line()}` on {machine()}; code at {code_version()}.",
        "",
        f"Corpus: {len(articles):,} articles from `{Path(args.corpus).name}`"
        + (f" (first {args.limit_docs:,} only)" if args.limit_docs else "")
        + f". {what} Index builds: {builds}.",
    ])


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
    engines, builds = engines_for(args, url, indexed, variant)
    runs = [run_known_items(engine, queries, args.quiet) for engine in engines]
    checks = headline_checks(queries, runs[0]) if name == "headlines" else verbose_checks(queries, runs[0])
    return "\n".join([
        measured(args, articles, what, builds),
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


class Recorded:
    """An engine that keeps the result sets it returned, to compare them across backends."""

    def __init__(self, engine):
        self.engine = engine
        self.sets: dict[tuple[str, str], set[str]] = {}

    def __getattr__(self, name: str):
        return getattr(self.engine, name)

    def result_set(self, text: str, mode: str) -> list[str]:
        ids = self.engine.result_set(text, mode)
        self.sets[(text, mode)] = set(ids)
        return ids


def topical_targets(run: Topical, embedded: str, ours: str) -> str:
    """Per mode and typing, the OpenSearch backend's mean precision and recall less the embedded one's."""
    lines = [f"| query as | typed | precision: {ours} − {embedded} (target ≥ −{TOLERANCE}) | recall: the same |",
             "|---|---|---:|---:|"]
    for (name, mode) in run.rows:
        if name != embedded:
            continue
        for typing in TYPINGS:
            cells = []
            for measure in ("precision", "recall"):
                e, o = (sum(getattr(r, measure) for r in rows) / (len(rows) or 1)
                        for rows in (judged(run.results[(who, mode)], run.queries, typing) for who in (embedded, ours)))
                cells.append(f"{o - e:+.3f} ({'**pass**' if o >= e - TOLERANCE else '**FAIL**'})")
            lines.append(f"| {mode} | {typing} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


def set_differences(run: Topical, embedded: Recorded, ours: Recorded) -> str:
    """How often the two backends returned the very same articles, and where they did not."""
    same, rows = 0, []
    for (text, mode), theirs in embedded.sets.items():
        mine = ours.sets[(text, mode)]
        if mine == theirs:
            same += 1
            continue
        rows.append(f"| {text} | {embedded.modes[mode]} | {len(theirs):,} | {len(mine):,} | {len(theirs - mine):,} "
                    f"| {len(mine - theirs):,} |")
    # Keyed by the text sent: a query without diacritics is the same text in both typings.
    line = f"Result sets identical on both backends: {same} of {len(embedded.sets)} (distinct query texts and modes)."
    if not rows:
        return line
    return "\n".join([line + " The others:", "",
                      f"| query | as | {embedded.name} | {ours.name} | only {embedded.name} | only {ours.name} |",
                      "|---|---|---:|---:|---:|---:|", *rows])


def topical_set(args, url: str, articles: list[Article], relevance: Relevance) -> str:
    """Topical precision and recall of the three engines' whole result sets, as Markdown."""
    started = time.monotonic()
    engines, builds = engines_for(args, url, articles, VARIANT["topical"])
    embedded, ours = Recorded(engines[0]), Recorded(engines[1])
    queries = topical_queries(Path(args.topical), args.sample, args.seed)
    # The corpus's articles are undated (as the cluster's index): standard+asciifolding's first
    # page by date is any 10 of its result set, and the table marks that column not measurable.
    run = run_topical([embedded, ours, *engines[2:]], queries, relevance, {a.id: a.published for a in articles},
                      args.quiet)
    first_rows = [next(row for row in run.rows if row[0] == engine.name) for engine in (embedded, ours)]
    what = (f"{topical_what(run, Path(args.topical))} Every engine indexes title, summary and body; each runs "
            "its two ways as bench/quality.py's (vnsearch as typed and quoted, standard+asciifolding as an AND "
            f"of the words and as a phrase). This set took {time.monotonic() - started:.0f} s.")
    return "\n".join([
        measured(args, articles, what, builds),
        "",
        topical_table(run.rows, run.results, queries, dated=False),
        "",
        TOPICAL_RELEVANT + " Sorting by date is not measured here: the cluster's articles have no dates "
        "(the embedded index's are bench/quality.py's synthetic ones).",
        "",
        *(line for row in first_rows for line in (topical_checks(*row, run.results, queries), "")),
        f"Mean time per query, whole result set and first page by date: {topical_times(run)}. The embedded "
        "index's result sets come from its ranking directly, checked against `Engine.search`'s total and first "
        f"page (paged out through it where they differed: {embedded.paged} times); the cluster's are the ids "
        f"answering the query its search ran, paged out with search_after ({ID_PAGE:,} a request, sorted on "
        "`id`, `track_total_hits`) and checked against that search's total and first page (paged out through "
        f"`export` where they differed: {ours.paged} times).",
        "",
        set_differences(run, embedded, ours),
        "",
        topical_targets(run, embedded.name, ours.name),
    ])


def typos_set(args, url: str, articles: list[Article], relevance: Relevance) -> str:
    """The "did you mean" suggestions of both vnsearch backends for the same typo queries, as Markdown."""
    started = time.monotonic()
    engines, builds = engines_for(args, url, articles, VARIANT["typos"])
    embedded, ours, peer = engines[:3]
    queries = typo_queries(articles, args.sample, args.seed)
    rows = typo_suggestions([embedded, ours], queries, relevance, args.quiet)
    what = (f"{typo_what(queries, args.seed, 'both backends')} {peer.name} suggests nothing (OpenSearch's own "
            "analysis has no \"did you mean\"; its `suggest` API would be one more thing to set up), so it "
            f"is not in this set. This set took {time.monotonic() - started:.0f} s.")
    return "\n".join([
        measured(args, articles, what, builds),
        "",
        typo_side_by_side(rows),
        "",
        typo_agreement(rows[embedded.name], rows[ours.name]),
        "",
        typo_target(rows, embedded.name, ours.name),
    ])


def typo_agreement(theirs: list[Suggested], mine: list[Suggested]) -> str:
    n = len(theirs)
    same = sum(a.typo == b.typo for a, b in zip(theirs, mine))
    controls = sum(a.control_accented == b.control_accented and a.control_folded == b.control_folded
                   for a, b in zip(theirs, mine))
    differ = [f"`{a.query.typed}` → {a.typo or 'none'} / {b.typo or 'none'}"
              for a, b in zip(theirs, mine) if a.typo != b.typo]
    return (f"The same suggestion (or none) from both backends: {share(same, n)} of the typo queries, "
            f"{share(controls, n)} of the controls (both typings)."
            + (f" Where they differ (embedded / OpenSearch): {'; '.join(differ[:20])}"
               + ("; …" if len(differ) > 20 else "") + "." if differ else ""))


def typo_target(rows: dict[str, list[Suggested]], embedded: str, ours: str) -> str:
    e, o = (sum(r.right for r in rows[name]) / (len(rows[name]) or 1) for name in (embedded, ours))
    return (f"Target: {ours}'s share of right suggestions within {TOLERANCE} of {embedded}'s: {o:.3f} − {e:.3f} = "
            f"{o - e:+.3f}, {'**pass**' if o >= e - TOLERANCE else '**FAIL**'}.")


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
                        help="Articles whose headlines (or summaries' first sentences) become queries; typo "
                             "queries; topical queries at most.")
    parser.add_argument("--topical", default=str(TOPICAL_FILE), help="TSV of topical queries (kind, query).")
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
        relevance = Relevance(articles, lambda it, **kw: progress(it, args.quiet, **kw)) \
            if {"topical", "typos"} & set(args.sets) else None
        for name in args.sets:
            if name in ("headlines", "verbose"):
                text = known_item_set(name, args, url, articles)
            elif name == "topical":
                text = topical_set(args, url, articles, relevance)
            else:
                text = typos_set(args, url, articles, relevance)
            print(f"\n## {name}\n\n{text}")
            if not args.no_doc:
                update_section(Path(args.doc), SECTION[name], text)
                print(f"\nwrote the {SECTION[name]} section of {args.doc}")
    finally:
        if cluster is not None:
            cluster.stop()


if __name__ == "__main__":
    main()
