"""Throughput of the HTTP API under concurrent clients on loopback, against SQLite FTS5.

Starts `vnsearch serve` and the FTS5 peer (`bench/perf_fts5.py serve`) on 127.0.0.1
over the same articles, sends each one warm-up pass of the query mix, then for each
number of clients (4 and 16) and each server in turn runs that many client threads,
each on its own keep-alive connection, cycling through `bench/perf_queries.tsv` from
its own starting point, for `--seconds` (and at most `--max-requests` requests).
Reports requests per second, errors (anything but a 200 with a JSON answer), latency
under load, the server's CPU time per request (what requests per second come down to on
a machine whose cores are all busy), and its resident memory: the largest of samples
taken every 0.2 s during the level, and the kernel's peak (VmHWM) since the server
started. The machine's speed is timed before the levels and after them: the host lends
these two cores to other work, and the same run can measure half as fast an hour later.
Results go into the `perf-throughput` section of docs/BENCHMARKS.md.

The clients are Python threads in this process, on the same two cores as the server:
the CPU they use is reported too, since it is CPU the server does not get.

    python bench/perf_throughput.py                       # full corpus; reuses bench/out/perf/index-full
    python bench/perf_throughput.py --limit-docs 2000 --seconds 5 --no-doc   # quick iteration
"""
from __future__ import annotations

import argparse
import itertools
import resource
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from common import (DEFAULT_CORPUS, FULL_SPEED_SECONDS, SPEED_LOOP, code_version, command_line, machine, machine_speed,
                    today, update_section)
from perf_common import (Client, Server, add_run_args, corpus_file, default_home, ensure_index, fmt_ms, fts5_server,
                         latency_passes, loadavg, percentiles, vnsearch_server, wait_until_idle)
from perf_mix import QUERIES, read_queries
from perf_query import fts5_db

# Issue #13's bound for the 128,061-article archive, all the server's processes together.
RSS_TARGET_MB = 1024
# How often the server's memory is sampled during a level (see `load`).
MEMORY_SAMPLE_SECONDS = 1.0


@dataclass
class Level:
    engine: str
    clients: int
    seconds: float = 0.0
    ms: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""
    rss_max_mb: float = 0.0  # resident memory summed over the server's processes
    pss_max_mb: float = 0.0  # the same with each shared page counted once
    client_cpu: float = 0.0
    server_cpu: float = 0.0  # CPU seconds the server's processes used during the level

    @property
    def requests(self) -> int:
        return len(self.ms)


def load(server: Server, paths: list[str], clients: int, seconds: float, max_requests: int) -> Level:
    level = Level(server.name, clients)
    budget = itertools.count()  # next() on a count is atomic under the GIL: the request cap
    lock = threading.Lock()
    stop = threading.Event()
    deadline = time.perf_counter() + seconds

    def worker(start: int) -> None:
        client = Client(server.port)
        ms, errors, first = [], 0, ""
        for k in itertools.count(start):
            if time.perf_counter() >= deadline or next(budget) >= max_requests:
                break
            took, status, data = client.search(paths[k % len(paths)])
            ms.append(took)
            if data is None or "hits" not in data:
                errors += 1
                first = first or f"status {status} for {paths[k % len(paths)]}"
        client.close()
        with lock:
            level.ms += ms
            level.errors += errors
            level.first_error = level.first_error or first

    def sample_memory() -> None:
        # Once a second: reading a worker's smaps_rollup walks its page tables, 11 ms of CPU
        # at 128,061 articles; five times a second over three processes took 0.14 of the
        # two cores from the server it measures. The memory grows as caches fill, slowly.
        while not stop.wait(MEMORY_SAMPLE_SECONDS):
            record(server.memory_mb())

    def record(memory: dict[str, float]) -> None:
        level.rss_max_mb = max(level.rss_max_mb, memory.get("VmRSS", 0.0))
        level.pss_max_mb = max(level.pss_max_mb, memory.get("Pss", 0.0))

    sampler = threading.Thread(target=sample_memory, daemon=True)
    sampler.start()
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    server_cpu = server.cpu_seconds()
    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i * len(paths) // clients,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 60)  # each request has a 30 s timeout; never hang the benchmark
    level.seconds = time.perf_counter() - started
    level.server_cpu = server.cpu_seconds() - server_cpu
    used = resource.getrusage(resource.RUSAGE_SELF)
    level.client_cpu = (used.ru_utime - cpu.ru_utime + used.ru_stime - cpu.ru_stime) / level.seconds
    stop.set()
    sampler.join()
    record(server.memory_mb())
    return level


def report(args, articles: int, queries: int, levels: list[Level], memory: dict[str, dict], idle: str,
           load_end: float, speed: tuple[float, float]) -> str:
    lines = [
        f"Measured {today()} with `{command_line()}` on {machine()}; code at {code_version()}; {idle}, "
        f"{load_end:.2f} at the end.",
        "",
        f"{articles:,} articles; the {queries} queries of `{args.queries.name}`, 10 hits with snippets each; "
        f"{args.seconds:.0f} s per level (at most {args.max_requests:,} requests), after one warm-up pass.",
        "",
        "| clients | server | requests | requests/s | errors | p50 ms | p95 ms | p99 ms | "
        "server CPU ms a request | server PSS max, MB | server RSS max, MB | client CPU (cores) |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for level in levels:
        p = percentiles(level.ms) if level.ms else {"p50": 0, "p95": 0, "p99": 0}
        lines.append(f"| {level.clients} | {level.engine} | {level.requests:,} | {level.requests / level.seconds:,.1f} | "
                     f"{level.errors} | {fmt_ms(p['p50'])} | {fmt_ms(p['p95'])} | {fmt_ms(p['p99'])} | "
                     f"{1000 * level.server_cpu / max(level.requests, 1):.1f} | {level.pss_max_mb:,.0f} | "
                     f"{level.rss_max_mb:,.0f} | {level.client_cpu:.2f} |")
    ours = [level for level in levels if level.engine == "vnsearch"]
    ratios = []
    for level in ours:
        peer = next((p for p in levels if p.clients == level.clients and p.engine != "vnsearch"), None)
        if peer and peer.requests:
            ratios.append(f"{level.clients} clients {level.requests / level.seconds / (peer.requests / peer.seconds):.2f}")
    errors = sum(level.errors for level in ours)
    ours_memory = memory.get("vnsearch", {})
    peak = max((level.pss_max_mb for level in ours), default=0.0)
    upper = max((level.rss_max_mb for level in ours), default=0.0)
    largest = ours_memory.get("VmHWM", 0.0)
    held = peak <= RSS_TARGET_MB and largest <= RSS_TARGET_MB
    lines += [
        "",
        f"vnsearch errors: {errors} (target 0: {'**pass**' if errors == 0 else '**FAIL**'}). vnsearch server "
        f"({ours_memory.get('processes', 1):.0f} processes: the parent and {args.workers or 'one per core of'} "
        f"worker{'s' if args.workers != 1 else ''}): the largest of its resident memory sampled during the levels "
        f"(every {MEMORY_SAMPLE_SECONDS:g} s), each page counted once (the proportional set size summed over the "
        f"processes: the workers share the pages loaded before they were forked), {peak:,.0f} MB, and the largest process's peak since it started "
        f"(VmHWM) {largest:,.0f} MB (target both ≤ {RSS_TARGET_MB} MB: {'**pass**' if held else '**FAIL**'}); "
        f"resident memory summed over the processes, which counts each shared page once per process (an upper "
        f"bound), at most {upper:,.0f} MB. At the end {ours_memory.get('Pss', 0):,.0f} MB proportional, "
        f"{ours_memory.get('VmRSS', 0):,.0f} MB resident summed, of which {ours_memory.get('RssAnon', 0):,.0f} MB "
        f"anonymous and {ours_memory.get('RssFile', 0):,.0f} MB of mapped files. FTS5 server peak: "
        f"{memory.get('SQLite FTS5', {}).get('VmHWM', 0.0):,.0f} MB."
        + (f" Requests/s vnsearch / FTS5: {', '.join(ratios)}." if ratios else ""),
    ]
    lines += ["", f"Machine speed: {SPEED_LOOP:,} Python additions took {speed[0]:.2f} s before the levels and "
                  f"{speed[1]:.2f} s after them (`machine_speed`; {FULL_SPEED_SECONDS} s when this shared machine "
                  "runs at full speed). "
                  "Requests/s is about the cores the clients leave over the server's CPU a request."]
    firsts = [f"{level.engine}, {level.clients} clients: `{level.first_error}`" for level in levels if level.first_error]
    if firsts:
        lines += ["", "First errors: " + "; ".join(firsts) + "."]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Requests per second, errors and server memory of vnsearch's HTTP API under concurrent "
                    "clients on 127.0.0.1, against SQLite FTS5 on the same articles.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--corpus", type=Path, nargs="+", default=[DEFAULT_CORPUS],
                        help="JSON Lines corpus (.jsonl or .jsonl.gz); several files are read in order, as one.")
    parser.add_argument("--limit-docs", type=int, metavar="N", help="Only the first N articles (quick iterations).")
    parser.add_argument("--index", type=Path, metavar="DIR",
                        help="vnsearch index: reused if it holds as many articles, built there otherwise "
                             "[default: bench/out/perf/index-full, or index-N with --limit-docs].")
    parser.add_argument("--procs", type=int, default=2, help="Indexing processes, when the index is built.")
    parser.add_argument("--queries", type=Path, default=QUERIES, help="The query mix (kind, q, parameters).")
    parser.add_argument("--clients", type=int, nargs="+", default=[4, 16, 64], help="Concurrent clients, one level each.")
    parser.add_argument("--seconds", type=float, default=30.0, help="Duration of each level.")
    parser.add_argument("--max-requests", type=int, default=100_000, help="Cap on the requests of one level.")
    parser.add_argument("--no-peer", action="store_true", help="Load vnsearch only, not SQLite FTS5.")
    add_run_args(parser, "perf-throughput")
    args = parser.parse_args(argv)
    if not 0 < args.seconds <= 600 or not all(0 < c <= 64 for c in args.clients):
        parser.error("--seconds must be in (0, 600] and --clients in 1..64")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if not all(path.exists() for path in args.corpus):
        raise SystemExit(f"error: no corpus at {' '.join(map(str, args.corpus))}; pass --corpus")
    queries = read_queries(args.queries)
    source, articles = corpus_file(args.corpus, args.limit_docs, args.quiet)
    home = args.index or default_home(args.limit_docs)
    ensure_index(source, home, len(articles), args.procs, rebuild=False)
    db, _ = fts5_db(articles, args.limit_docs, args.quiet)
    idle = wait_until_idle(args.max_load, args.wait_idle, args.quiet)
    paths = [q.path() for q in queries]
    servers = [vnsearch_server(home, args.workers)]
    try:
        if not args.no_peer:
            servers.append(fts5_server(db))
        latency_passes(servers, queries, 1, args.quiet)  # warm-up, not reported
        speed_before = machine_speed()
        levels = []
        for clients in args.clients:
            for server in servers:
                levels.append(load(server, paths, clients, args.seconds, args.max_requests))
                print(f"{server.name}, {clients} clients: {levels[-1].requests / levels[-1].seconds:.1f} req/s",
                      file=sys.stderr)
        memory = {server.name: server.memory_mb() for server in servers}
        speed = (speed_before, machine_speed())
    finally:
        for server in servers:
            server.stop()
    text = report(args, len(articles), len(queries), levels, memory, idle, loadavg(), speed)
    print(text)
    if not args.no_doc:
        update_section(args.doc, args.section, text)
        print(f"\nwrote the {args.section} section of {args.doc}")


if __name__ == "__main__":
    main()
