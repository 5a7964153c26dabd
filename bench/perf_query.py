"""Query latency through the HTTP API, snippets included, against SQLite FTS5 on the same articles.

Starts `vnsearch serve` on 127.0.0.1 over an index of the corpus and the FTS5 peer
(`bench/perf_fts5.py serve`, a tiny HTTP server of the benchmark's own) over the same
articles, then sends the fixed query mix of `bench/perf_queries.tsv` to both, one
request at a time on a keep-alive connection each, the two servers taking turns query
by query. The first pass after start-up is reported apart (cold: postings not decoded
yet, page cache); the next `--passes` passes pooled are the warm figures. Reports p50,
p95 and p99 of the time the client waits for the whole answer, and of the time each
engine says it spent (`took_ms`), with the ratio vnsearch/FTS5, into the
`perf-query` section of docs/BENCHMARKS.md.

    python bench/perf_query.py                          # full corpus; reuses bench/out/perf/index-full
    python bench/perf_query.py --limit-docs 2000 --no-doc --passes 1   # quick iteration
    python bench/perf_query.py --make-queries           # regenerate bench/perf_queries.tsv from the corpus
"""
from __future__ import annotations

import argparse
import sqlite3
import statistics
from pathlib import Path

from common import (DEFAULT_CORPUS, FULL_SPEED_SECONDS, SPEED_LOOP, code_version, command_line, load_articles, machine,
                    machine_speed, today, update_section)
from perf_common import (PERF, Pass, add_run_args, corpus_file, default_home, ensure_index, fmt_ms, fts5_server,
                         latency_passes, loadavg, percentiles, pooled, vnsearch_server, wait_until_idle)
from perf_mix import QUERIES, QUERY_SEED, kinds_summary, make_queries, read_queries, write_queries
from perf_fts5 import build_db

# The archive-scale targets (issue #13; an earlier issue's were 25 and 80), and the cold pass's p95.
P50_TARGET, P95_TARGET, COLD_P95_TARGET = 15.0, 60.0, 150.0


def fts5_db(articles, limit: int | None, quiet: bool) -> tuple[Path, float | None]:
    """The FTS5 database of exactly these articles (reused when it holds as many), and its build time."""
    db = PERF / f"fts5-{len(articles)}.sqlite"
    if db.exists():
        with sqlite3.connect(db) as connection:
            if connection.execute("SELECT count(*) FROM docs").fetchone()[0] == len(articles):
                return db, None
    PERF.mkdir(parents=True, exist_ok=True)
    return db, build_db(articles, db, quiet)


def _row(label: str, ours: dict, peer: dict, key: str) -> str:
    ratio = ours[key] / peer[key] if peer[key] else float("inf")
    return f"| {label} | {fmt_ms(ours[key])} | {fmt_ms(peer[key])} | {ratio:.2f} |"


def _verdict(value: float, target: float) -> str:
    return f"{fmt_ms(value)} ms ≤ {target:.0f} ms: **pass**" if value <= target else \
        f"{fmt_ms(value)} ms > {target:.0f} ms: **FAIL**"


def report(args, queries, articles: int, runs: list[list[Pass]], memory: dict, idle: str, load_end: float,
           builds: str, speed: tuple[float, float]) -> str:
    ours, peer = runs
    cold = [percentiles(ours[0].ms), percentiles(peer[0].ms)]
    warm = [percentiles(pooled(ours[1:], "ms")), percentiles(pooled(peer[1:], "ms"))]
    engine = [percentiles(pooled(ours[1:], "server_ms")), percentiles(pooled(peer[1:], "server_ms"))]
    lines = [
        f"Measured {today()} with `{command_line()}` on {machine()}; code at {code_version()}; {idle}, "
        f"{load_end:.2f} at the end.",
        "",
        f"{articles:,} articles; {len(queries)} queries from `bench/perf_queries.tsv` ({kinds_summary(queries)}); "
        f"1 cold pass right after start-up, then {args.passes} warm passes pooled "
        f"({len(queries) * args.passes:,} requests per engine). {builds} Machine speed: {SPEED_LOOP:,} Python "
        f"additions took {speed[0]:.2f} s before the passes and {speed[1]:.2f} s after them (`machine_speed`; "
        f"{FULL_SPEED_SECONDS} s at this shared machine's full speed).",
        "",
        "| milliseconds | vnsearch (waitress + Flask) | SQLite FTS5 (bench's http.server) | ratio vnsearch / FTS5 |",
        "|---|---:|---:|---:|",
        _row("HTTP, warm p50", warm[0], warm[1], "p50"),
        _row("HTTP, warm p95", warm[0], warm[1], "p95"),
        _row("HTTP, warm p99", warm[0], warm[1], "p99"),
        _row("HTTP, warm mean", warm[0], warm[1], "mean"),
        _row("HTTP, cold first pass p50", cold[0], cold[1], "p50"),
        _row("HTTP, cold first pass p95", cold[0], cold[1], "p95"),
        _row("HTTP, cold first pass p99", cold[0], cold[1], "p99"),
        _row("in the engine (`took_ms`), warm p50", engine[0], engine[1], "p50"),
        _row("in the engine (`took_ms`), warm p95", engine[0], engine[1], "p95"),
        _row("in the engine (`took_ms`), warm p99", engine[0], engine[1], "p99"),
        "",
        f"Targets (vnsearch, HTTP, warm): p50 {_verdict(warm[0]['p50'], P50_TARGET)}; "
        f"p95 {_verdict(warm[0]['p95'], P95_TARGET)}; cold first pass p95 {_verdict(cold[0]['p95'], COLD_P95_TARGET)}.",
        "",
        f"Errors: vnsearch {sum(len(p.errors) for p in ours)}, FTS5 {sum(len(p.errors) for p in peer)} "
        f"of {len(queries) * (args.passes + 1):,} requests each. Queries with at least one hit: vnsearch "
        f"{sum(1 for t in ours[-1].totals if t)}, FTS5 {sum(1 for t in peer[-1].totals if t)} of {len(queries)}. "
        f"vnsearch server memory after the run ({memory.get('processes', 1):.0f} processes: the parent and its "
        f"workers): {memory.get('Pss', 0):,.0f} MB proportional set size (shared pages divided among the "
        f"processes), {memory.get('VmRSS', 0):,.0f} MB resident summed over them "
        f"({memory.get('RssAnon', 0):,.0f} MB anonymous, {memory.get('RssFile', 0):,.0f} MB of mapped files), "
        f"largest process's peak since start {memory.get('VmHWM', 0):,.0f} MB.",
        "",
        "By kind of query (HTTP, warm, milliseconds):",
        "",
        "| kind | queries | vnsearch p50 | vnsearch p95 | FTS5 p50 | FTS5 p95 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for kind in dict.fromkeys(q.kind for q in queries):
        index = [i for i, q in enumerate(queries) if q.kind == kind]
        ours_ms = percentiles([p.ms[i] for p in ours[1:] for i in index])
        peer_ms = percentiles([p.ms[i] for p in peer[1:] for i in index])
        lines.append(f"| {kind} | {len(index)} | {fmt_ms(ours_ms['p50'])} | {fmt_ms(ours_ms['p95'])} | "
                     f"{fmt_ms(peer_ms['p50'])} | {fmt_ms(peer_ms['p95'])} |")
    slowest = sorted(range(len(queries)), key=lambda i: -statistics.median(p.ms[i] for p in ours[1:]))[:5]
    lines += ["", "Slowest for vnsearch (warm median; hits found): " + "; ".join(
        f"`{queries[i].q}`{' (' + queries[i].params + ')' if queries[i].params else ''} "
        f"{fmt_ms(statistics.median(p.ms[i] for p in ours[1:]))} ms ({ours[-1].totals[i]:,})" for i in slowest) + "."]
    errors = [e for p in ours + peer for e in p.errors]
    if errors:
        lines += ["", f"First error: `{errors[0]}`."]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Query latency (p50, p95, p99) of vnsearch's HTTP API against SQLite FTS5 on the same "
                    "articles, over the fixed query mix bench/perf_queries.tsv.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--corpus", type=Path, nargs="+", default=[DEFAULT_CORPUS],
                        help="JSON Lines corpus (.jsonl or .jsonl.gz); several files are read in order, as one.")
    parser.add_argument("--limit-docs", type=int, metavar="N", help="Only the first N articles (quick iterations).")
    parser.add_argument("--index", type=Path, metavar="DIR",
                        help="vnsearch index: reused if it holds as many articles, built there otherwise "
                             "[default: bench/out/perf/index-full, or index-N with --limit-docs].")
    parser.add_argument("--rebuild", action="store_true", help="Rebuild the index even if it could be reused.")
    parser.add_argument("--procs", type=int, default=2, help="Indexing processes, when the index is built.")
    parser.add_argument("--queries", type=Path, default=QUERIES, help="The query mix (kind, q, parameters).")
    parser.add_argument("--make-queries", action="store_true",
                        help=f"Write the query mix to --queries from the corpus's headlines (seed {QUERY_SEED}) "
                             "plus the hand-written list, and stop.")
    parser.add_argument("--mix-scale", type=int, default=1, metavar="K",
                        help="With --make-queries: K times as many queries of each generated kind (distinct), "
                             "so that no figure comes from repeating a few hundred.")
    parser.add_argument("--passes", type=int, default=3, help="Warm passes after the cold one.")
    add_run_args(parser, "perf-query")
    args = parser.parse_args(argv)
    if args.passes < 1:
        parser.error("--passes must be at least 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if not all(path.exists() for path in args.corpus):
        raise SystemExit(f"error: no corpus at {' '.join(map(str, args.corpus))}; pass --corpus")
    if args.make_queries:
        queries = make_queries(load_articles(args.corpus, quiet=args.quiet), QUERY_SEED, args.mix_scale)
        write_queries(queries, args.queries, "python " + " ".join(
            ["bench/perf_query.py", "--make-queries", "--corpus", *map(str, args.corpus),
             "--queries", str(args.queries), "--mix-scale", str(args.mix_scale)]))
        print(f"wrote {len(queries)} queries ({kinds_summary(queries)}) to {args.queries}")
        return
    queries = read_queries(args.queries)
    source, articles = corpus_file(args.corpus, args.limit_docs, args.quiet)
    home = args.index or default_home(args.limit_docs)
    built = ensure_index(source, home, len(articles), args.procs, args.rebuild)
    db, fts_seconds = fts5_db(articles, args.limit_docs, args.quiet)
    builds = (f"vnsearch index {'built in ' + format(built.seconds, '.0f') + ' s' if built else 'reused'} "
              f"({home.relative_to(PERF.parents[2]) if home.is_relative_to(PERF.parents[2]) else home}), "
              f"FTS5 database {'built in ' + format(fts_seconds, '.1f') + ' s' if fts_seconds else 'reused'}.")
    idle = wait_until_idle(args.max_load, args.wait_idle, args.quiet)
    with vnsearch_server(home, args.workers) as ours, fts5_server(db) as peer:
        speed_before = machine_speed()
        runs = latency_passes([ours, peer], queries, 1 + args.passes, args.quiet)
        memory = ours.memory_mb()
        speed = (speed_before, machine_speed())
    text = report(args, queries, len(articles), runs, memory, idle, loadavg(), builds, speed)
    print(text)
    if not args.no_doc:
        update_section(args.doc, args.section, text)
        print(f"\nwrote the {args.section} section of {args.doc}")


if __name__ == "__main__":
    main()
