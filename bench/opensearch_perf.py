"""Build throughput and query latency: the 3-node OpenSearch cluster against the embedded index.

1. Builds: `vnsearch index` of the same corpus into the embedded index and onto the
   cluster (3 shards, 1 replica), each a child process timed from the outside.
2. Latency: `vnsearch serve` over each (the web app and JSON API are the same; only
   `--backend` differs), the query mix of `bench/perf_queries.tsv` one request at a time,
   the two servers taking turns query by query; a cold pass, then `--passes` warm passes
   pooled. Target: OpenSearch backend, warm HTTP p95 ≤ 100 ms.
3. A node killed (`--kill`, needs a cluster this script may kill a node of): the mix
   through the OpenSearch server and an update of `--kill-articles` new articles while
   the node holding the most primaries is killed with SIGKILL; failed requests before and
   after the cluster reports yellow, and articles lost. Targets: zero and zero.

Results go to docs/BENCHMARKS.md between <!-- opensearch-perf:start --> and <!-- opensearch-perf:end -->
(`--section` to choose another, e.g. opensearch-perf-128k).

    python bench/opensearch_perf.py                              # starts 3 nodes for the run
    python bench/opensearch_perf.py --cluster-dir ~/.cache/vnsearch/opensearch/cluster --kill
    python bench/opensearch_perf.py --limit-docs 2000 --passes 1 --no-doc   # quick iteration

The 128k-article corpus (both shared files), on a cluster started with bigger heaps and an
embedded index built beforehand with `/usr/bin/time -v vnsearch index … 2> build.log`:

    scripts/opensearch-cluster start --dir DIR --heap 1g
    python bench/opensearch_perf.py --cluster-dir DIR --alias bench-perf-128k --section opensearch-perf-128k \
        --corpus /work/shared/corpus/vietnews-test.jsonl.gz /work/shared/corpus/vietnews-train.jsonl.gz \
        --index IDX --index-time build.log
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

from common import DEFAULT_CORPUS, OUT, ROOT, code_version, command_line, load_articles, machine, today, \
    update_section, write_jsonl
from perf_common import (PERF, Build, Client, Server, add_run_args, children_cpu, corpus_file, default_home,
                         ensure_index, fmt_ms, index_count, latency_passes, loadavg, percentiles, pooled, shown,
                         vnsearch, vnsearch_server, wait_until_idle)
from perf_mix import QUERIES, kinds_summary, read_queries

from vnsearch.corpus import Article
from vnsearch.indexer import store

sys.path.insert(0, str(ROOT / "scripts"))
import opensearch_cluster  # noqa: E402  (scripts/ is no package)

ALIAS = "bench-perf"  # unless --alias
P95_TARGET = 100.0


def corpus_files(corpus: list[Path], limit: int | None, quiet: bool) -> tuple[list[Path], list[Article]]:
    """The articles of one corpus file or several (the first copy of an id wins, as the
    indexer does), and the files holding exactly them."""
    if len(corpus) == 1:
        source, articles = corpus_file(corpus[0], limit, quiet)
        return [source], articles
    if limit:
        raise SystemExit("error: --limit-docs takes one --corpus file")
    articles, seen = [], set()
    for path in corpus:
        for article in load_articles(path, None, quiet):
            if article.id not in seen:
                seen.add(article.id)
                articles.append(article)
    return corpus, articles


def cluster_build(url: str, alias: str, sources: list[Path], articles: int, procs: int,
                  rebuild: bool) -> Build | None:
    """`vnsearch index --backend opensearch` of `sources`, unless the alias already holds `articles`."""
    from vnsearch.indexer.opensearch_store import connect, current_build

    client = connect(url)
    if not rebuild and current_build(client, alias) and client.count(index=alias)["count"] == articles:
        return None
    command = vnsearch("index", *map(str, sources), "--backend", "opensearch", "--url", url, "--index", alias,
                       "--quiet", "--procs", str(procs))
    cpu = children_cpu()
    started = time.perf_counter()
    subprocess.run(command, check=True, cwd=ROOT)
    seconds = time.perf_counter() - started
    build = current_build(client, alias)
    size = client.indices.stats(index=build, metric="store")["_all"]["total"]["store"]["size_in_bytes"]
    return Build(command, seconds, children_cpu() - cpu, client.count(index=alias)["count"], size)


def timed_build(home: Path, log: Path, articles: int) -> Build:
    """The figures of the build that made `home`, from its `/usr/bin/time -v` output; the
    index must hold the articles (it is never rebuilt or touched here)."""
    held = index_count(home)
    if held != articles:
        raise SystemExit(f"error: the index at {home} holds {held} articles, expected {articles}")
    text = log.read_text(encoding="utf-8", errors="replace")

    def field(name: str) -> str:
        found = re.search(rf"^\s*{re.escape(name)}: (.+)$", text, re.M)
        if not found:
            raise SystemExit(f"error: no '{name}' in {log}: not the output of /usr/bin/time -v")
        return found.group(1).strip()

    clock = [float(part) for part in field("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":")]
    seconds = sum(part * 60 ** i for i, part in enumerate(reversed(clock)))
    cpu = float(field("User time (seconds)")) + float(field("System time (seconds)"))
    command = field("Command being timed").strip('"').split()
    return Build(command, seconds, cpu, held, store.disk_size(store.current_build(home)))


def recorded(name: str, build: Build | None, articles: int, node_seconds: float | None = None,
             load: tuple[float, float] | None = None) -> dict | None:
    """The build's figures (with the 1-minute load average at its start and end), saved for the
    runs that reuse its index; or the saved figures of the build that made the reused index
    (None if unknown)."""
    path = PERF / f"build-{name}.json"
    if build is not None:
        record = {**dataclasses.asdict(build), "node_seconds": node_seconds, "when": today(), "load": load}
        path.write_text(json.dumps(record))
        return record
    if path.exists():
        record = json.loads(path.read_text())
        return record if record["articles"] == articles else None
    return None


def shard_layout(url: str, alias: str) -> str:
    """How the alias's index is split: shards, replicas, and each primary's size on disk."""
    from vnsearch.indexer.opensearch_store import connect

    client = connect(url)
    rows = client.cat.shards(index=alias, format="json", bytes="b")
    primaries = sorted((int(r["shard"]), int(r["store"] or 0), int(r["docs"] or 0)) for r in rows if r["prirep"] == "p")
    replicas = sum(r["prirep"] == "r" for r in rows) // max(1, len(primaries))
    sizes = ", ".join(f"{size / 1e6:,.0f} MB ({docs:,} articles)" for _, size, docs in primaries)
    return f"{len(primaries)} shards with {replicas} replica each (primaries: {sizes})"


def opensearch_server(url: str, alias: str) -> Server:
    return Server(vnsearch("serve", "--backend", "opensearch", "--url", url, "--index", alias,
                           "--host", "127.0.0.1", "--port", "0"), PERF / "logs" / "serve-opensearch.log",
                  "vnsearch on OpenSearch")


def node_cpu(cluster) -> float:
    """CPU seconds used so far by the cluster's live nodes (Linux)."""
    total = 0.0
    for node in cluster.live_nodes() if cluster else []:
        fields = Path(f"/proc/{node.pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / 100  # utime, stime in clock ticks (100 Hz)
    return total


def _build_row(name: str, record: dict | None) -> str:
    if record is None:
        return f"| {name}: reused, figures unknown | | | | | | |"
    cores = f"{record['cpu_seconds'] / record['seconds']:.2f}"
    nodes = f"{record['node_seconds'] / record['seconds']:.2f}" if record.get("node_seconds") is not None else "n/a"
    load = "{:.1f} – {:.1f}".format(*record["load"]) if record.get("load") else "not recorded"
    return (f"| {name}: `{shown(record['command'])}` ({record['when']}) | {record['seconds']:.1f} s | "
            f"{record['articles'] / record['seconds']:,.0f} | {cores} | {nodes} | {record['bytes'] / 1e6:,.0f} MB "
            f"| {load} |")


def kill_run(cluster, url: str, alias: str, server: Server, queries, articles, quiet: bool) -> dict:
    """Search through `server` and update the alias while a node dies; what failed and what was lost."""
    from vnsearch.indexer.opensearch_store import connect

    client = connect(url)
    before = client.count(index=alias)["count"]
    fresh = [dataclasses.replace(a, id=f"kill-{i}-{a.id}") for i, a in enumerate(articles)]
    path = write_jsonl(fresh, PERF / "kill-articles.jsonl.gz")
    shards = client.cat.shards(index=alias, format="json")
    primaries: dict[str, int] = {}
    for shard in shards:
        if shard["prirep"] == "p":
            primaries[shard["node"]] = primaries.get(shard["node"], 0) + 1
    victim = next(n for n in cluster.nodes if n.name == max(primaries, key=primaries.get))
    stop = threading.Event()
    records: list[tuple[float, float, bool]] = []  # (time, ms, failed)

    def search() -> None:
        client_ = Client(server.port)
        n = 0
        while not stop.is_set():
            ms, status, data = client_.search(queries[n % len(queries)].path())
            records.append((time.monotonic(), ms, data is None or "hits" not in data))
            n += 1
        client_.close()

    searchers = [threading.Thread(target=search) for _ in range(2)]
    for thread in searchers:
        thread.start()
    update = subprocess.Popen(vnsearch("index", "--update", str(path), "--backend", "opensearch", "--url", url,
                                       "--index", alias, "--quiet", "--procs", "2"), cwd=ROOT)
    sent = 0
    while sent < len(fresh) // 3 and update.poll() is None:  # kill with the update a third done
        time.sleep(0.5)
        sent = client.search(index=alias, body={"size": 0, "track_total_hits": True,
                                                "query": {"prefix": {"id": "kill-"}}})["hits"]["total"]["value"]
    cluster.kill(victim)
    killed = time.monotonic()
    update_status = update.wait()
    cluster.wait_for("yellow", len(cluster.nodes) - 1)
    yellow = time.monotonic()
    time.sleep(10)
    stop.set()
    for thread in searchers:
        thread.join()
    after = client.count(index=alias)["count"]
    found = client.search(index=alias, body={"size": 0, "track_total_hits": True,
                                             "query": {"prefix": {"id": "kill-"}}})["hits"]["total"]["value"]
    from vnsearch.indexer.opensearch_build import delete_cluster_articles

    delete_cluster_articles([a.id for a in fresh], url, alias)  # the index as it was, for the next runs
    during = [ms for t, ms, failed in records if killed <= t < yellow and not failed]
    return {
        "victim": victim.name, "primaries": primaries[victim.name], "update_exit": update_status,
        "sent_at_kill": sent,
        "requests": len(records), "failed_before_yellow": sum(f for t, _, f in records if t < yellow),
        "failed_after_yellow": sum(f for t, _, f in records if t >= yellow),
        "seconds_to_yellow": yellow - killed, "recovery_p95": percentiles(during)["p95"] if during else None,
        "sent": len(fresh), "found": found, "lost": len(fresh) - found, "count_before": before, "count_after": after,
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--url", help="A running cluster (comma-separated nodes); --kill cannot be used with it.")
    where.add_argument("--cluster-dir", type=Path, help="A cluster started by scripts/opensearch-cluster.")
    parser.add_argument("--corpus", type=Path, nargs="+", default=[DEFAULT_CORPUS],
                        help="JSON Lines corpus files, indexed together.")
    parser.add_argument("--alias", default=ALIAS, help="The cluster index (alias) to reuse or build.")
    parser.add_argument("--index", type=Path, metavar="DIR",
                        help="An embedded index of the same articles to use as it is, never rebuilt "
                             "(default: one built under bench/out/perf).")
    parser.add_argument("--index-time", type=Path, metavar="LOG",
                        help="The `/usr/bin/time -v` output of the build that made --index: its figures "
                             "go in the build table.")
    parser.add_argument("--no-embedded", action="store_true",
                        help="Measure the cluster alone (no embedded index to compare with).")
    parser.add_argument("--limit-docs", type=int, metavar="N", help="Only the corpus's first N articles.")
    parser.add_argument("--procs", type=int, default=2, help="Analysis processes of each build.")
    parser.add_argument("--passes", type=int, default=3, help="Warm passes of the query mix.")
    parser.add_argument("--rebuild", action="store_true", help="Build both even if built.")
    parser.add_argument("--kill", action="store_true", help="End with a node killed under load (see above).")
    parser.add_argument("--builds-only", action="store_true", help="Build (or reuse) both indexes and stop.")
    parser.add_argument("--cluster-build-only", action="store_true",
                        help="Build (or reuse) the cluster's index and stop (while the embedded one is built "
                             "elsewhere, for --index).")
    parser.add_argument("--kill-articles", type=int, default=500, help="Articles the update adds while a node dies.")
    add_run_args(parser, "opensearch-perf")
    args = parser.parse_args(argv)
    if args.index_time and not args.index:
        parser.error("--index-time needs --index")
    if args.no_embedded and args.index:
        parser.error("--no-embedded takes no --index")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    sources, articles = corpus_files(args.corpus, args.limit_docs, args.quiet)
    queries = read_queries(QUERIES)
    cluster = started = None
    if args.cluster_dir:
        cluster = opensearch_cluster.Cluster.load(args.cluster_dir)
    elif not args.url:
        cluster = started = opensearch_cluster.start(OUT / "opensearch-cluster", nodes=3)
    url = args.url or ",".join(cluster.urls)
    try:
        cpu, load = node_cpu(cluster), loadavg()
        build = cluster_build(url, args.alias, sources, len(articles), args.procs, args.rebuild)
        shards = shard_layout(url, args.alias)
        clustered = recorded(f"opensearch-{len(articles)}", build, len(articles),
                             node_cpu(cluster) - cpu if cluster else None, (load, loadavg()))
        if args.cluster_build_only:
            print(json.dumps({"opensearch": clustered, "shards": shards}, indent=1))
            return
        if args.no_embedded:
            home = embedded = None
        elif args.index:
            home = args.index
            embedded = None  # built elsewhere: figures unknown without its log
            if args.index_time:
                build = timed_build(home, args.index_time, len(articles))
                embedded = {**dataclasses.asdict(build), "node_seconds": None, "when": f"timed in {args.index_time}"}
            elif index_count(home) != len(articles):
                raise SystemExit(f"error: the index at {home} does not hold the {len(articles):,} articles")
        else:
            home = default_home(args.limit_docs)
            load = loadavg()
            built = ensure_index(sources, home, len(articles), args.procs, args.rebuild)
            embedded = recorded(f"embedded-{len(articles)}", built, len(articles), load=(load, loadavg()))
        if args.builds_only:
            print(json.dumps({"embedded": embedded, "opensearch": clustered, "shards": shards}, indent=1))
            return
        idle = wait_until_idle(args.max_load, args.wait_idle, args.quiet)
        with contextlib.ExitStack() as servers:
            ours = [] if home is None else [servers.enter_context(vnsearch_server(home))]
            theirs = servers.enter_context(opensearch_server(url, args.alias))
            runs = latency_passes([*ours, theirs], queries, 1 + args.passes, args.quiet)
            killed = kill_run(cluster, url, args.alias, theirs, queries, articles[:args.kill_articles], args.quiet) \
                if args.kill and cluster else None
        load_end = loadavg()
    finally:
        if started is not None:
            started.stop()

    warm = [percentiles(pooled(r[1:], "ms")) for r in runs]
    cold = [percentiles(r[0].ms) for r in runs]
    engine = [percentiles(pooled(r[1:], "server_ms")) for r in runs]
    errors = [sum(len(p.errors) for p in r) for r in runs]
    p95 = warm[-1]["p95"]
    both = len(runs) == 2  # else the cluster alone (--no-embedded)
    rows = [("HTTP, warm p50", warm, "p50"), ("HTTP, warm p95", warm, "p95"), ("HTTP, warm p99", warm, "p99"),
            ("HTTP, cold p50", cold, "p50"), ("HTTP, cold p95", cold, "p95"),
            ("in the engine (`took_ms`), warm p50", engine, "p50"), ("in the engine (`took_ms`), warm p95", engine, "p95")]
    if both:
        latency = ["| milliseconds | embedded | OpenSearch, 3 nodes | ratio OpenSearch / embedded |", "|---|---:|---:|---:|",
                   *(f"| {label} | {fmt_ms(a[key])} | {fmt_ms(b[key])} | {b[key] / a[key]:.2f} |"
                     for label, (a, b), key in rows)]
        counted = f"embedded {errors[0]}, OpenSearch {errors[1]}"
    else:
        latency = ["| milliseconds | OpenSearch, 3 nodes |", "|---|---:|",
                   *(f"| {label} | {fmt_ms(b[key])} |" for label, (b,), key in rows)]
        counted = f"OpenSearch {errors[0]}"
    lines = [
        f"Measured {today()} with `{command_line()}` on {machine()}; code at {code_version()}; {idle}, "
        f"{load_end:.2f} at the end.",
        "",
        f"{len(articles):,} articles of {', '.join(f'`{p.name}`' for p in args.corpus)}; OpenSearch "
        f"{opensearch_cluster.VERSION}, 3 nodes on this machine "
        f"({f'heap {cluster.heap} each' if cluster else 'heaps as the cluster at --url was started'}), "
        f"an index of {shards}.",
        "",
        "| build | wall time | articles/s | vnsearch processes: cores busy | OpenSearch nodes: cores busy | "
        "index on disk | load average, start – end |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *([_build_row("embedded", embedded)] if not args.no_embedded else []),
        _build_row("OpenSearch", clustered),
        "",
        f"Latency: {len(queries)} queries from `bench/perf_queries.tsv` ({kinds_summary(queries)}) through "
        f"`GET /api/search` of `vnsearch serve` over {'each backend' if both else 'the cluster only'}; "
        f"1 cold pass, then {args.passes} warm passes pooled.",
        "",
        *latency,
        "",
        f"Errors: {counted}. Target (OpenSearch, HTTP, warm p95 ≤ "
        f"{P95_TARGET:.0f} ms): {fmt_ms(p95)} ms, **{'pass' if p95 <= P95_TARGET else 'FAIL'}**.",
    ]
    if killed:
        ok = killed["failed_before_yellow"] + killed["failed_after_yellow"] == 0 and killed["lost"] == 0
        lines += ["", f"A node killed: {killed['victim']} (primary of {killed['primaries']} shards) with SIGKILL "
                  f"while 2 clients searched through `vnsearch serve` and `vnsearch index --update` added "
                  f"{killed['sent']} articles ({killed['sent_at_kill']} in when the node died; the update's exit "
                  f"status {killed['update_exit']}). The cluster reported yellow "
                  f"{killed['seconds_to_yellow']:.1f} s later. Requests: {killed['requests']:,}; failed before "
                  f"yellow {killed['failed_before_yellow']}, after yellow {killed['failed_after_yellow']}; "
                  f"p95 while recovering {fmt_ms(killed['recovery_p95'] or 0)} ms. Articles: {killed['found']} of "
                  f"{killed['sent']} found ({killed['lost']} lost); {killed['count_before']:,} before, "
                  f"{killed['count_after']:,} after. Targets (zero failed, zero lost): "
                  f"**{'pass' if ok else 'FAIL'}**."]
    text = "\n".join(lines)
    print(text)
    (PERF / f"{args.section}.json").write_text(json.dumps({"warm": warm, "cold": cold, "engine": engine,
                                                           "killed": killed}, indent=1))
    if not args.no_doc:
        update_section(args.doc, args.section, text)
        print(f"\nwrote the {args.section} section of {args.doc}")


if __name__ == "__main__":
    main()
