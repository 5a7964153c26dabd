"""Where a search's time goes, stage by stage, in process: wall-clock wrappers around the
engine's steps over a sample of the query mix, warm (one unmeasured pass first).

A profiler (cProfile) adds a cost to every Python call and so inflates the call-heavy
steps; py-spy (`bench/perf_profile.py`) samples from outside the server. This only
times a few coarse steps, so what it reports is what they cost at full speed. Steps
nest (`rank` holds `gather` and `weigh`; `weigh` holds the whole-run evidence, which
reads positions); each is reported per query, inclusive.

    python bench/perf_stages.py --index /work/idx128k --queries bench/perf_queries_128k.tsv --sample 600
"""
from __future__ import annotations

import argparse
import random
import statistics
import time
import urllib.parse
from collections import Counter
from pathlib import Path

from perf_mix import QUERIES, read_queries

from vnsearch.search import engine as engine_module, ranker, runs, scoring
from vnsearch.search.engine import Engine

# (module or class, function, label), outermost first.
STAGES = [
    (engine_module, "rank", "ranking (matching, scores, order)"),
    (scoring, "gather", "  gathering the evidence"),
    (scoring, "weigh", "  weighing and ordering"),
    # Each where it is called from: scoring calls the whole-run evidence, and both call
    # phrase_docs, by the names they imported.
    (scoring, "run_evidence", "    whole-run evidence"),
    (scoring, "phrase_docs", "  phrases and runs by positions"),
    (runs, "phrase_docs", "  phrases and runs by positions"),
    (ranker.Snapshot, "positions", "    reading positions"),
    (engine_module.Engine, "_suggestion", "the suggestion (\"did you mean\")"),
    (engine_module, "_hit", "hits and their snippets"),
    (engine_module, "_facets", "facets"),
]


def _timed(owner, name: str, label: str, spent: Counter) -> None:
    original = owner.__dict__[name]
    function = original.__func__ if isinstance(original, staticmethod) else original

    def timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            spent[label] += time.perf_counter() - started

    setattr(owner, name, staticmethod(timed) if isinstance(original, staticmethod) else timed)


def _search(engine: Engine, query) -> None:
    params = dict(urllib.parse.parse_qsl(query.params))
    engine.search(query.q, sort=params.get("sort", "relevance"), source=params.get("source"),
                  page=int(params.get("page", 1)), year=int(params["year"]) if "year" in params else None)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--index", type=Path, required=True, help="The index folder (vnsearch's --index).")
    parser.add_argument("--queries", type=Path, default=QUERIES, help="The query mix (kind, q, parameters).")
    parser.add_argument("--sample", type=int, default=600, help="Queries drawn from the mix (0: all of them).")
    parser.add_argument("--seed", type=int, default=7, help="Seed of the draw.")
    args = parser.parse_args(argv)
    queries = read_queries(args.queries)
    if args.sample:
        random.Random(args.seed).shuffle(queries)
        queries = queries[:args.sample]
    spent: Counter = Counter()
    for owner, name, label in STAGES:
        _timed(owner, name, label, spent)
    engine = Engine(args.index)
    for query in queries:  # warm: postings mapped, caches filled
        _search(engine, query)
    spent.clear()
    by_kind: dict[str, list[float]] = {}
    started = time.perf_counter()
    for query in queries:
        began = time.perf_counter()
        _search(engine, query)
        by_kind.setdefault(query.kind, []).append(time.perf_counter() - began)
    total = time.perf_counter() - started
    print(f"{len(queries)} queries, warm, milliseconds per query (steps nest; inclusive):")
    print(f"{'the whole search':40} {total * 1000 / len(queries):7.1f}")
    for label in dict.fromkeys(label for _, _, label in STAGES):  # a step timed in two modules once
        print(f"{label:40} {spent[label] * 1000 / len(queries):7.1f}")
    print("\nBy kind of query: count, mean, median (ms)")
    for kind, seconds in sorted(by_kind.items()):
        print(f"{kind:40} {len(seconds):5} {1000 * statistics.mean(seconds):7.1f} {1000 * statistics.median(seconds):7.1f}")


if __name__ == "__main__":
    main()
