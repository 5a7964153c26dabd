"""Known-item retrieval: can each engine find an article from its headline, typed five ways?

For a seeded sample of articles (unique headlines of 4+ words) we make five queries
from each headline, run every query on vnsearch, SQLite FTS5 and tantivy, all over the
same articles, and report MRR@10, Recall@1 and Recall@10 of the article the headline
came from, plus the median time per query. Results go to stdout and into
docs/BENCHMARKS.md between <!-- quality:start --> and <!-- quality:end -->; the queries
where vnsearch misses or ranks the article below a peer go to bench/out/quality-failures.json.

Needs the `bench` extra for tantivy: pip install -e '.[bench]'. SQLite must have FTS5
(the standard library's sqlite3 does on most builds).

    python bench/quality.py                        # full corpus, builds a fresh vnsearch index
    python bench/quality.py --index bench/out/idx  # reuse that index if built, else build it there
    python bench/quality.py --limit-docs 2000 --sample 100 --no-doc   # quick iteration
"""
from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from common import (DEFAULT_CORPUS, DEFAULT_DOC, OUT, code_version, command_line, load_articles, machine,
                    progress, sample_articles, today, update_section, write_jsonl)

from vnsearch.corpus import Article
from vnsearch.indexer import store
from vnsearch.indexer.build import build_index
from vnsearch.indexer.analysis import fold_text as fold
from vnsearch.search.engine import Engine

KINDS = ("full", "full_folded", "fragment_folded", "fragment_accented", "half_stripped")
TOP = 10
# Title and summary weighted above the body, the same for both peers.
TITLE_BOOST, SUMMARY_BOOST = 3.0, 1.5
# The accent-free queries must score within this much MRR@10 of the accented ones.
ACCENT_TOLERANCE = 0.02


@dataclass(frozen=True)
class Query:
    kind: str
    text: str
    article_id: str


def make_queries(articles: list[Article], seed: int) -> list[Query]:
    """Five queries per headline; the fragment and the stripped words are drawn from `seed`."""
    rng = random.Random(seed)
    queries = []
    for article in articles:
        tokens = article.title.split()
        # Words are the whitespace tokens with a letter or digit: the corpus spaces out its
        # punctuation ("' Ngáo đá ' đâm chết…"), and "' ngáo đá '" is not a 4-word fragment.
        words = [i for i, token in enumerate(tokens) if any(c.isalnum() for c in token)]  # as common.words
        length = rng.randint(min(4, len(words)), min(6, len(words)))
        start = rng.randint(0, len(words) - length)
        fragment = " ".join(tokens[i] for i in words[start:start + length])
        stripped = set(rng.sample(words, round(len(words) / 2)))
        half = " ".join(fold(t) if i in stripped else t for i, t in enumerate(tokens))
        texts = {
            "full": article.title,
            "full_folded": fold(article.title),
            "fragment_folded": fold(fragment),
            "fragment_accented": fragment.lower(),
            "half_stripped": half,
        }
        queries.extend(Query(kind, texts[kind], article.id) for kind in KINDS)
    return queries


# --- the engines: each indexes the articles as a competent user would, and answers top-10 ids


class VnSearch:
    name = "vnsearch"

    def __init__(self, home: Path):
        self.engine = Engine(home)

    def search(self, text: str) -> list[str]:
        return [hit.id for hit in self.engine.search(text, per_page=TOP).hits]


class Fts5:
    """SQLite FTS5 with unicode61 and remove_diacritics 2, ranked by column-weighted BM25.

    unicode61 removes combining marks only: "đ" is a letter of its own and stays "đ", so
    a query typed "dang" does not find "Đảng". That is the peer's real behaviour, kept.
    """
    name = "SQLite FTS5"
    _SQL = f"""SELECT id FROM docs WHERE docs MATCH ?
               ORDER BY bm25(docs, 0, {TITLE_BOOST}, {SUMMARY_BOOST}, 1.0) LIMIT {TOP}"""

    def __init__(self, articles: list[Article], quiet: bool):
        self.db = sqlite3.connect(":memory:")
        self.db.execute('CREATE VIRTUAL TABLE docs USING fts5(id UNINDEXED, title, summary, body, '
                        'tokenize="unicode61 remove_diacritics 2")')
        rows = ((a.id, a.title, a.summary or "", a.body) for a in progress(articles, quiet, desc="FTS5 index"))
        self.db.executemany("INSERT INTO docs VALUES (?, ?, ?, ?)", rows)
        self.db.commit()

    def search(self, text: str) -> list[str]:
        # Every token an FTS5 string, so no query syntax leaks through: AND of all, else OR.
        tokens = ['"' + token.replace('"', '""') + '"' for token in text.split()]
        if not tokens:
            return []
        for joiner in (" ", " OR "):
            ids = [row[0] for row in self.db.execute(self._SQL, (joiner.join(tokens),))]
            if ids:
                return ids
        return []


class Tantivy:
    """tantivy-py with a simple tokenizer, lowercase and ASCII folding (which folds "đ"),
    ranked by BM25 with the same field boosts."""
    name = "tantivy"

    def __init__(self, articles: list[Article], quiet: bool):
        import tantivy  # the bench extra: pip install -e '.[bench]'

        analyzer = (tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
                    .filter(tantivy.Filter.lowercase()).filter(tantivy.Filter.ascii_fold()).build())
        builder = tantivy.SchemaBuilder()
        builder.add_text_field("id", stored=True, tokenizer_name="raw")
        for name in ("title", "summary", "body"):
            builder.add_text_field(name, tokenizer_name="vi_fold")
        self.index = tantivy.Index(builder.build())  # in RAM
        self.index.register_tokenizer("vi_fold", analyzer)
        writer = self.index.writer()
        for a in progress(articles, quiet, desc="tantivy index"):
            writer.add_document(tantivy.Document(id=a.id, title=a.title, summary=a.summary or "", body=a.body))
        writer.commit()
        writer.wait_merging_threads()
        self.index.reload()
        self.searcher = self.index.searcher()

    def search(self, text: str) -> list[str]:
        # Lowercase (the analyzer does anyway) so AND/OR/NOT/IN in a headline are words,
        # and escape every other character the query language could read as syntax.
        escaped = "".join(c if c.isalnum() or c.isspace() else "\\" + c for c in text.lower())
        if not escaped.strip():
            return []
        for conjunction in (True, False):
            query = self.index.parse_query(escaped, ["title", "summary", "body"],
                                           field_boosts={"title": TITLE_BOOST, "summary": SUMMARY_BOOST},
                                           conjunction_by_default=conjunction)
            hits = self.searcher.search(query, TOP).hits
            if hits:
                return [self.searcher.doc(address)["id"][0] for _, address in hits]
        return []


# --- running and scoring


@dataclass
class Run:
    name: str
    build_seconds: float
    ranks: list[int | None] = field(default_factory=list)  # 1-based rank in the top 10, or None
    firsts: list[str | None] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    errors: dict[int, str] = field(default_factory=dict)  # query index -> exception; counts as not found


def run(engine, queries: list[Query], build_seconds: float, quiet: bool) -> Run:
    result = Run(engine.name, build_seconds)
    engine.search("hà nội")  # warm-up: first-call loading is not a query's cost
    for i, query in enumerate(progress(queries, quiet, desc=f"{engine.name} queries", unit=" q")):
        started = time.perf_counter()
        try:
            ids = engine.search(query.text)
        except Exception as error:  # a user would see an error page: no hit, and say so
            ids = []
            result.errors[i] = f"{type(error).__name__}: {error}"
        result.seconds.append(time.perf_counter() - started)
        result.ranks.append(ids.index(query.article_id) + 1 if query.article_id in ids else None)
        result.firsts.append(ids[0] if ids else None)
    return result


def scores(ranks: list[int | None]) -> tuple[float, float, float]:
    """MRR@10, Recall@1, Recall@10."""
    n = len(ranks) or 1
    return (sum(1 / r for r in ranks if r) / n,
            sum(1 for r in ranks if r == 1) / n,
            sum(1 for r in ranks if r) / n)


def by_kind(queries: list[Query], ranks: list[int | None], kind: str | None) -> list[int | None]:
    return [r for q, r in zip(queries, ranks) if kind is None or q.kind == kind]


def table(queries: list[Query], runs: list[Run]) -> str:
    head = ["Query kind"] + [f"{r.name} {m}" for r in runs for m in ("MRR@10", "R@1", "R@10")]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for kind in (*KINDS, None):
        cells = [f"`{kind}`" if kind else "**all**"]
        for r in runs:
            cells += [f"{value:.3f}" for value in scores(by_kind(queries, r.ranks, kind))]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def accent_check(queries: list[Query], run_: Run) -> str:
    parts, passed = [], True
    for folded, accented in (("full_folded", "full"), ("fragment_folded", "fragment_accented")):
        gap = scores(by_kind(queries, run_.ranks, folded))[0] - scores(by_kind(queries, run_.ranks, accented))[0]
        passed &= gap >= -ACCENT_TOLERANCE
        parts.append(f"`{folded}` − `{accented}` = {gap:+.3f}")
    verdict = "**pass**" if passed else "**FAIL**"
    return (f"Accent-free within {ACCENT_TOLERANCE} MRR@10 of with diacritics ({run_.name}): "
            f"{verdict} ({'; '.join(parts)}).")


def failures(queries: list[Query], runs: list[Run], titles: dict[str, str]) -> list[dict]:
    """Queries where vnsearch misses the article or ranks it below a peer."""
    ours, peers = runs[0], runs[1:]
    out = []
    for i, query in enumerate(queries):
        rank = ours.ranks[i]
        best_peer = min((p.ranks[i] for p in peers if p.ranks[i]), default=None)
        if rank is None or (best_peer is not None and best_peer < rank):
            first = ours.firsts[i]
            out.append({
                "kind": query.kind, "query": query.text, "expected": query.article_id,
                "expected_title": titles[query.article_id], "vnsearch_rank": rank,
                "vnsearch_first": first, "vnsearch_first_title": titles.get(first) if first else None,
                "vnsearch_error": ours.errors.get(i),
                **{f"{p.name}_rank": p.ranks[i] for p in peers},
            })
    return out


def report(args, corpus_size: int, sample: int, queries: list[Query], runs: list[Run]) -> str:
    times = ", ".join(f"{r.name} {statistics.median(r.seconds) * 1000:.1f} ms" for r in runs)
    builds = ", ".join(f"{r.name} {r.build_seconds:.0f} s" if r.build_seconds else f"{r.name} reused"
                       for r in runs)
    raised = []
    for r in runs:
        if r.errors:
            first = min(r.errors)
            raised.append(f"{r.name} raised an exception on {len(r.errors):,} of {len(r.ranks):,} queries, "
                          f"counted as not found (first: `{r.errors[first]}` for `{queries[first].text}`).")
    return "\n".join([
        f"Measured {today()} with `{command_line()}` on {machine()}; code at {code_version()}.",
        "",
        f"Corpus: {corpus_size:,} articles from `{Path(args.corpus).name}`"
        + (f" (first {args.limit_docs:,} only)" if args.limit_docs else "")
        + f". Sample: {sample} headlines (seed {args.seed}), {len(queries):,} queries per engine.",
        "",
        table(queries, runs),
        "",
        accent_check(queries, runs[0]),
        "",
        *(line + "\n" for line in raised),
        f"Median time per query: {times}. Index build: {builds}.",
    ])


def vnsearch_home(args, articles: list[Article], quiet: bool) -> tuple[Path, float]:
    """The vnsearch index to query, and the seconds spent building it (0 if reused)."""
    home = Path(args.index) if args.index else OUT / "index"
    if args.index and not args.rebuild and store.current_build(home):
        count = store.open_index(home).doc_count()
        if count != len(articles):
            raise SystemExit(f"error: the index at {home} holds {count:,} articles, this run "
                             f"{len(articles):,}; pass --rebuild or another --index")
        return home, 0.0
    with tempfile.TemporaryDirectory() as tmp:
        source = (write_jsonl(articles, Path(tmp) / "subset.jsonl.gz") if args.limit_docs
                  else Path(args.corpus))
        started = time.monotonic()
        with progress(total=len(articles), quiet=quiet, desc="vnsearch index", unit=" articles") as bar:
            build_index([source], home, procs=args.procs, on_article=bar.update)
        return home, time.monotonic() - started


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Known-item retrieval quality (MRR@10, R@1, R@10) of vnsearch, SQLite FTS5 and "
                    "tantivy on queries made from headlines. Needs the bench extra for tantivy: "
                    "pip install -e '.[bench]'.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS), help="JSON Lines corpus (.jsonl or .jsonl.gz).")
    parser.add_argument("--index", metavar="DIR",
                        help="vnsearch index folder: reused if already built (it must hold the same "
                             "articles), built there otherwise. Without it a fresh index is built in "
                             "bench/out/index.")
    parser.add_argument("--rebuild", action="store_true", help="Rebuild the --index folder even if built.")
    parser.add_argument("--procs", type=int, default=None, help="Indexing processes for vnsearch; one per core when not given.")
    parser.add_argument("--sample", type=int, default=400, help="Articles whose headlines become queries.")
    parser.add_argument("--seed", type=int, default=13, help="Seed for the sample, fragments and stripped words.")
    parser.add_argument("--limit-docs", type=int, metavar="N",
                        help="Index only the first N articles and sample from them (quick iterations).")
    parser.add_argument("--doc", default=str(DEFAULT_DOC), help="Markdown file whose quality section is replaced.")
    parser.add_argument("--no-doc", action="store_true", help="Print the results without writing the doc.")
    parser.add_argument("--failures", type=int, default=15, metavar="N",
                        help="Print N of the queries vnsearch misses or ranks below a peer "
                             "(all of them go to bench/out/quality-failures.json).")
    parser.add_argument("--quiet", "-q", action="store_true", help="No progress bars.")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if not Path(args.corpus).exists():
        raise SystemExit(f"error: no corpus at {args.corpus}; pass --corpus")
    articles = load_articles(Path(args.corpus), args.limit_docs, args.quiet)
    sample = sample_articles(articles, args.sample, args.seed)
    queries = make_queries(sample, args.seed)

    home, vn_build = vnsearch_home(args, articles, args.quiet)
    runs = [run(VnSearch(home), queries, vn_build, args.quiet)]
    for peer in (Fts5, Tantivy):
        started = time.monotonic()
        engine = peer(articles, args.quiet)
        runs.append(run(engine, queries, time.monotonic() - started, args.quiet))
        del engine  # free the in-memory index before the next peer

    text = report(args, len(articles), len(sample), queries, runs)
    print(text)
    if not args.no_doc:
        update_section(Path(args.doc), "quality", text)
        print(f"\nwrote the quality section of {args.doc}")

    titles = {a.id: a.title for a in articles}
    misses = failures(queries, runs, titles)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "quality-failures.json").write_text(json.dumps(misses, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"\n{len(misses)} queries where vnsearch misses or ranks below a peer "
          f"(all in {OUT / 'quality-failures.json'}):", file=sys.stderr)
    # Ranking mistakes first: exceptions are one line each in the summary above.
    for miss in sorted(misses, key=lambda m: m["vnsearch_error"] is not None)[:args.failures]:
        print(json.dumps(miss, ensure_ascii=False), file=sys.stderr)


if __name__ == "__main__":
    main()
