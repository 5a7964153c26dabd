"""Search relevance: vnsearch against SQLite FTS5, tantivy and plain BM25, four query sets.

One command runs, on the same articles and in the same run, every engine of
bench/peers.py over the sets of bench/quality_sets.py:

- headlines: known items, a headline typed five ways (MRR@10, R@1, R@10);
- verbose: the first sentence of a summary finds its article, every engine indexing the
  articles without their summaries (title and body only);
- topical: precision and recall of each engine's whole result set for short queries of
  political news (`bench/topical_queries.tsv`), against the articles holding the
  query's syllables side by side (accent-insensitive, abbreviations counted);
- typos: vnsearch's "did you mean" for queries with one typing mistake, and on the
  same queries typed right (the control).

`--split test` (vietnews-test, the report set) or `--split dev` (a seeded 20,000 of
vietnews-train, for tuning). Results go to stdout and to docs/BENCHMARKS.md, one marked
section per set and split (`quality`, `quality-verbose`, `quality-topical`,
`quality-typos`, with `-dev` for the dev split); the detail of misses to bench/out/.

    python bench/quality.py --split test --work /work/bench-out/test --procs 1
    python bench/quality.py --split dev --sets verbose,topical --no-doc
    python bench/quality.py --limit-docs 2000 --sample 50 --no-doc   # quick iteration
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from common import (DEFAULT_DOC, OUT, code_version, command_line, engine_version, machine, progress, sample_articles,
                    today, update_section)
from peers import Fts5, PlainBm25, Tantivy, VnSearch
from quality_data import DEV_SIZE, SPLITS, Split, prepare, without_summaries
from quality_report import (Run, SetResult, Suggested, headline_checks, known_item_failures, known_item_table,
                            known_item_times, raised, topical_checks, topical_query_table, topical_table,
                            typo_tables, verbose_checks)
from quality_sets import (HEADLINE_KINDS, TOPICAL_FILE, VERBOSE_KINDS, Relevance, TopicalQuery, TypoQuery,
                          folded_syllables_of, headline_queries, is_known_word, judge, phrase_forms, read_topical,
                          syllables_of, typo_queries, verbose_queries)

from vnsearch.indexer.analysis import fold_text as fold
from vnsearch.search import abbreviations

SETS = ("headlines", "verbose", "topical", "typos")
ENGINES = ("vnsearch", "bm25", "fts5", "tantivy")
TOP = 10


class Engines:
    """Each engine over one variant of the split's articles ("full" or "nosummary"),
    made when first asked for and kept for the run."""

    def __init__(self, split: Split, wanted: tuple[str, ...], quiet: bool):
        self.split, self.wanted, self.quiet = split, wanted, quiet
        self.made: dict[tuple[str, str], object] = {}
        self.seconds: dict[tuple[str, str], float] = {}

    def get(self, name: str, variant: str):
        key = (name, variant)
        if key not in self.made:
            started = time.monotonic()
            articles = self.split.articles if variant == "full" else without_summaries(self.split.articles)
            self.made[key] = {"vnsearch": lambda: VnSearch(self.split.homes[variant]),
                              "bm25": lambda: PlainBm25(self.split.homes[variant]),
                              "fts5": lambda: Fts5(articles, self.quiet),
                              "tantivy": lambda: Tantivy(articles, self.quiet)}[name]()
            self.seconds[key] = time.monotonic() - started
        return self.made[key]

    def all(self, variant: str) -> list:
        return [self.get(name, variant) for name in ENGINES if name in self.wanted]

    def set_up(self, variant: str, names: tuple[str, ...] = ENGINES) -> str:
        parts = [f"{self.made[k].name} {s:.0f} s" for k, s in self.seconds.items() if k[1] == variant and k[0] in names]
        return ", ".join(parts)


def split_line(split: Split, args) -> str:
    size = f"{len(split.articles):,} articles"
    if split.name == "dev":
        where = (f"**dev split** (development, for tuning): {size} sampled from `{split.corpus.name}` "
                 f"(seed {args.data_seed})")
    else:
        where = f"**test split** (the report set): {size} of `{split.corpus.name}`"
    if args.limit_docs:
        where += f", the first {args.limit_docs:,} only"
    dates = (" The corpus has no dates: each article got a synthetic date from a hash of its id "
             f"(seed {args.data_seed}), unrelated to its text." if split.dated else "")
    return where + "." + dates


def header(args, split: Split, what: str, seconds: float, set_up: str) -> str:
    built = ", ".join(f"vnsearch ({v}) {s:.0f} s" if s else f"vnsearch ({v}) reused"
                      for v, s in split.build_seconds.items())
    return "\n".join([
        f"Measured {today()} with `{command_line()}` on {machine()}; code at {code_version()} "
        f"(the engine as of {engine_version()}).",
        "",
        f"{split_line(split, args)} {what}",
        "",
        f"This set took {seconds:.0f} s (queries, plus opening or building the engines in memory: {set_up}; "
        f"index builds: {built}).",
    ])


def run_known_items(engine, queries, quiet: bool) -> Run:
    result = Run(engine.name)
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


def known_item_set(name: str, args, split: Split, engines: Engines) -> tuple[str, list[dict]]:
    started = time.monotonic()
    if name == "headlines":
        sample = sample_articles(split.articles, args.sample, args.seed)
        queries, kinds, variant = headline_queries(sample, args.seed), HEADLINE_KINDS, "full"
        what = (f"Sample: {len(sample)} headlines (seed {args.seed}), {len(queries):,} queries per engine; "
                "every engine indexes title, summary and body.")
    else:
        queries, kinds, variant = verbose_queries(split.articles, args.sample, args.seed), VERBOSE_KINDS, "nosummary"
        what = (f"Sample: {len(queries) // 2} articles (seed {args.seed}), the first sentence of each summary "
                f"(at most 30 words) as written and folded, {len(queries):,} queries per engine; every engine "
                "indexes title and body only, without the summaries.")
    runs = [run_known_items(engine, queries, args.quiet) for engine in engines.all(variant)]
    checks = headline_checks(queries, runs[0]) if name == "headlines" else verbose_checks(queries, runs[0])
    body = "\n".join([known_item_table(queries, runs, kinds), "", checks, "",
                      *(line + "\n" for line in raised(queries, runs)), known_item_times(runs)])
    titles = {a.id: a.title for a in split.articles}
    head = header(args, split, what, time.monotonic() - started, engines.set_up(variant))
    return head + "\n\n" + body, known_item_failures(queries, runs, titles)


@dataclass
class Topical:
    """Every engine's answers to the topical queries: `results[(engine, mode)][(i, typing)]`."""
    queries: list[TopicalQuery]
    relevant: list[set[str]]  # per query, accent-insensitive
    rows: list[tuple[str, str]] = field(default_factory=list)  # (engine name, mode label), in run order
    results: dict = field(default_factory=dict)
    details: list[dict] = field(default_factory=list)


def topical_queries(path: Path, sample: int, seed: int) -> list[TopicalQuery]:
    """The queries of `path`, or a seeded sample of `sample` of them, in the file's order."""
    queries = read_topical(path)
    if sample < len(queries):
        queries = sorted(random.Random(seed).sample(queries, sample), key=queries.index)
    return queries


def run_topical(engines: list, queries: list[TopicalQuery], relevance: Relevance, dates: dict,
                quiet: bool) -> Topical:
    """Each engine's whole result set for each query, in each of its `modes`, typed with
    diacritics and folded, against the relevant articles; `dates` (id -> published) sorts
    the result sets of engines without a `newest` of their own."""
    table = abbreviations.table()
    forms = [phrase_forms(q.text, table) for q in queries]
    relevant = [relevance.matching(f) for f in forms]
    exact = [relevance.matching(f, accents=True) for f in forms]
    newest_first = lambda ids: sorted(ids, key=lambda i: (dates[i], i), reverse=True)[:TOP]  # noqa: E731
    run = Topical(queries, relevant)
    for engine in engines:
        for mode, label in engine.modes.items():
            run.rows.append((engine.name, label))
            got = run.results.setdefault((engine.name, label), {})
            for i, query in enumerate(progress(queries, quiet, desc=f"{engine.name} {label}", unit=" q")):
                for typing in ("accented", "folded"):
                    text = query.text if typing == "accented" else fold(query.text)
                    began = time.perf_counter()
                    ids = engine.result_set(text, mode)
                    newest = engine.newest(text, mode) if hasattr(engine, "newest") else newest_first(ids)
                    seconds = time.perf_counter() - began
                    right = relevant[i].intersection(ids)
                    strict = exact[i] if typing == "accented" else set()
                    got[(i, typing)] = SetResult(len(set(ids)), len(right), len(relevant[i]), len(newest),
                                                 sum(n in relevant[i] for n in newest), seconds,
                                                 len(strict.intersection(ids)), len(strict))
                    run.details.append({"engine": engine.name, "mode": label, "query": text, "kind": query.kind,
                                        "relevant": len(relevant[i]), "returned": len(set(ids)), "right": len(right),
                                        "precision": round(got[(i, typing)].precision, 4),
                                        "recall": round(got[(i, typing)].recall, 4),
                                        "seconds": round(seconds, 3),
                                        "not_relevant_examples": [x for x in ids if x not in relevant[i]][:10],
                                        "missed_examples": sorted(relevant[i].difference(ids))[:10]})
    return run


def topical_what(run: Topical, path: Path) -> str:
    """The queries, and how many articles are relevant to them."""
    queries, relevant = run.queries, run.relevant
    return (f"Queries: {len(queries)} of `{path.name}` "
            f"({', '.join(f'{k} {sum(q.kind == k for q in queries)}' for k in dict.fromkeys(q.kind for q in queries))}), "
            "each typed with diacritics and folded; relevant articles per query: "
            f"median {sorted(map(len, relevant))[len(relevant) // 2]:,}, from {min(map(len, relevant)):,} "
            f"to {max(map(len, relevant)):,}"
            + (f"; {sum(not r for r in relevant)} with none, left out of the means" if not all(relevant) else "")
            + ".")


def topical_times(run: Topical) -> str:
    """Mean time per query of each engine and mode."""
    means = {row: sum(r.seconds for r in run.results[row].values()) / len(run.results[row]) for row in run.rows}
    return ", ".join(f"{n} ({m}) {seconds:.2f} s" for (n, m), seconds in means.items())


TOPICAL_RELEVANT = ("Relevant: the query's syllables side by side, accent-insensitive, abbreviations counted. The "
                    "last two columns judge the accented typing strictly instead: only the articles holding the "
                    "query with its diacritics as typed are relevant (homographs such as `Nha Trang` for `Nhà "
                    "Trắng` are not).")


def topical_set(args, split: Split, engines: Engines, relevance: Relevance) -> tuple[str, list[dict]]:
    started = time.monotonic()
    queries = topical_queries(Path(args.topical), args.sample, args.seed)
    run = run_topical(engines.all("full"), queries, relevance, {a.id: a.published for a in split.articles},
                      args.quiet)
    ours = run.rows[0]
    body = "\n".join([
        topical_table(run.rows, run.results, queries, split.dated), "",
        TOPICAL_RELEVANT, "",
        topical_checks(*ours, run.results, queries), "",
        f"Mean time per query, whole result set and first page by date: {topical_times(run)}. vnsearch's result "
        "sets come from its ranking directly, checked against `Engine.search`'s total and first page for every "
        f"query (paged out through `Engine.search` where they differed: {engines.get('vnsearch', 'full').paged} "
        "times).",
        "",
        f"Per query, {ours[0]} ({ours[1]}); \"relevant\" counts accent-insensitive matches, "
        "\"of which accent-exact\" those with the query's diacritics as typed:", "",
        topical_query_table(*ours, run.results, queries),
    ])
    head = header(args, split, topical_what(run, Path(args.topical)), time.monotonic() - started,
                  engines.set_up("full"))
    return head + "\n\n" + body, run.details


def typo_suggestions(engines: list, queries: list[TypoQuery], relevance: Relevance,
                     quiet: bool) -> dict[str, list[Suggested]]:
    """Each engine's suggestion (`suggestion(text)`) for each typo query and for its two
    controls, the intended words fully accented and folded; by engine name."""
    out = {}
    for engine in engines:
        rows = out[engine.name] = []
        for q in progress(queries, quiet, desc=f"typos ({engine.name})", unit=" q"):
            typo = engine.suggestion(q.typed)
            intended, intended_folded = syllables_of(q.intended), folded_syllables_of(q.intended)
            accented, folded = engine.suggestion(q.intended), engine.suggestion(fold(q.intended))
            right, right_accents = judge(q, typo)
            rows.append(Suggested(
                q, typo, right_accents, right,
                is_known_word(q.typed.split()[q.word], relevance),
                accented, accented is not None and syllables_of(accented) != intended,
                folded, folded is not None and folded_syllables_of(folded) != intended_folded,
                folded is not None and syllables_of(folded) == intended))
    return out


def typo_what(queries: list[TypoQuery], seed: int, sent_to: str) -> str:
    return (f"Queries: {len(queries)} (seed {seed}), each 2–5 consecutive words of a different headline "
            f"with one typing mistake in one word of 3+ letters: {sum(q.kind == 'folded' for q in queries)} "
            f"typed without diacritics, {sum(q.kind == 'accented' for q in queries)} with. Each is sent to "
            f"{sent_to}, and so is the intended query, typed fully accented and folded (the control).")


def typo_details(rows: list[Suggested]) -> list[dict]:
    return [{"kind": r.query.kind, "edit": r.query.edit, "typed": r.query.typed, "intended": r.query.intended,
             "suggestion": r.typo, "right": r.right, "real_word": r.real_word,
             "control_accented": r.control_accented, "control_folded": r.control_folded} for r in rows]


def typos_set(args, split: Split, engines: Engines, relevance: Relevance) -> tuple[str, list[dict]]:
    started = time.monotonic()
    queries = typo_queries(split.articles, args.sample, args.seed)
    engine = engines.get("vnsearch", "full")
    rows = typo_suggestions([engine], queries, relevance, args.quiet)[engine.name]
    body = typo_tables(rows)
    head = header(args, split, typo_what(queries, args.seed, "`Engine.search`"), time.monotonic() - started,
                  engines.set_up("full", ("vnsearch",)))
    return head + "\n\n" + body, typo_details(rows)


def section(name: str, split: str) -> str:
    base = "quality" if name == "headlines" else f"quality-{name}"
    return base if split == "test" else f"{base}-dev"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Search relevance of vnsearch against SQLite FTS5, tantivy and plain BM25: known-item "
                    "headlines, verbose queries, topical precision and recall, typo suggestions. Needs the "
                    "bench extra for tantivy: pip install -e '.[bench]'.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--split", choices=sorted(SPLITS), default="test",
                        help="test: vietnews-test, the report set; dev: a seeded sample of vietnews-train, for tuning.")
    parser.add_argument("--sets", default=",".join(SETS), help=f"Comma-separated sets to run, of {', '.join(SETS)}.")
    parser.add_argument("--engines", default=",".join(ENGINES),
                        help=f"Comma-separated engines, of {', '.join(ENGINES)} (vnsearch always runs).")
    parser.add_argument("--corpus", help="JSON Lines corpus instead of the split's shared file.")
    parser.add_argument("--work", metavar="DIR",
                        help="Folder for the split's articles and vnsearch indexes, reused between runs "
                             "(default bench/out/relevance-SPLIT).")
    parser.add_argument("--rebuild", action="store_true", help="Rebuild the vnsearch indexes even if built.")
    parser.add_argument("--procs", type=int, default=None, help="Indexing processes for vnsearch; one per core when not given.")
    parser.add_argument("--dev-size", type=int, default=DEV_SIZE, help="Articles of the dev split.")
    parser.add_argument("--data-seed", type=int, default=13, help="Seed of the dev sample and the synthetic dates.")
    parser.add_argument("--limit-docs", type=int, metavar="N",
                        help="Only the first N articles of the split (quick iterations).")
    parser.add_argument("--sample", type=int, default=400,
                        help="Headlines, verbose articles and typo queries per set; topical queries at most.")
    parser.add_argument("--seed", type=int, default=13, help="Seed of the query samples.")
    parser.add_argument("--topical", default=str(TOPICAL_FILE), help="TSV of topical queries (kind, query).")
    parser.add_argument("--doc", default=str(DEFAULT_DOC), help="Markdown file whose sections are replaced.")
    parser.add_argument("--no-doc", action="store_true", help="Print the results without writing the doc.")
    parser.add_argument("--quiet", "-q", action="store_true", help="No progress bars.")
    args = parser.parse_args(argv)
    for option, known in (("sets", SETS), ("engines", ENGINES)):
        asked = [s for s in getattr(args, option).split(",") if s]
        if not asked or set(asked) - set(known):
            parser.error(f"--{option} takes a comma-separated list of {', '.join(known)}")
        setattr(args, option, tuple(s for s in known if s in asked or s == "vnsearch"))
    args.variants = (("full",) if set(args.sets) - {"verbose"} else ()) + (("nosummary",) if "verbose" in args.sets else ())
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    split = prepare(args, args.quiet)
    engines = Engines(split, args.engines, args.quiet)
    relevance = Relevance(split.articles, lambda it, **kw: progress(it, args.quiet, **kw)) \
        if {"topical", "typos"} & set(args.sets) else None
    OUT.mkdir(parents=True, exist_ok=True)
    for name in args.sets:
        if name in ("headlines", "verbose"):
            text, details = known_item_set(name, args, split, engines)
        elif name == "topical":
            text, details = topical_set(args, split, engines, relevance)
        else:
            text, details = typos_set(args, split, engines, relevance)
        print(f"\n## {name} ({split.name})\n\n{text}")
        marker = section(name, split.name)
        if not args.no_doc:
            update_section(Path(args.doc), marker, text)
            print(f"\nwrote the {marker} section of {args.doc}")
        out = OUT / f"{marker}-details.json"
        out.write_text(json.dumps(details, ensure_ascii=False, indent=1), encoding="utf-8")
        print(f"details: {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
