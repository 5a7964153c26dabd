"""Index build time against pyvi alone on the same text, measured in the same run.

Two child processes, timed from the outside alike (interpreter start-up, imports and
pyvi's model load included in both):

- the build: `vnsearch index CORPUS --index DIR --quiet --procs N`, a full rebuild;
- pyvi alone: `python bench/perf_build.py --pyvi-only CORPUS --procs N`, which reads the
  articles with the same reading code (`corpus.read_articles`, duplicate ids dropped)
  and runs `ViTokenizer.tokenize` over the title, summary and body of every article in
  a `multiprocessing` Pool of N processes (forked, as the build's workers are).

The ratio build / pyvi alone is the figure to drive down (target 1.25 or less, issue #13). The
CPU time of each child and its workers over its wall time says how many cores it kept
busy. Results go into the `perf-build` section of docs/BENCHMARKS.md.

    python bench/perf_build.py                      # full corpus, 2 processes, into bench/out/perf/index-full
    python bench/perf_build.py --limit-docs 2000 --no-doc   # quick iteration
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import DEFAULT_CORPUS, ROOT, code_version, command_line, machine, today, update_section
from perf_common import (add_run_args, children_cpu, corpus_file, default_home, loadavg, run_build, shown,
                         wait_until_idle)

from vnsearch.corpus import Article, read_articles

RATIO_TARGET = 1.25


def _tokenize(article: Article) -> int:
    from pyvi import ViTokenizer

    chars = 0
    for text in (article.title, article.summary, article.body):
        if text:
            ViTokenizer.tokenize(text)
            chars += len(text)
    return chars


def pyvi_only(sources: list[Path], procs: int) -> dict:
    """pyvi alone over every article's title, summary and body, in a Pool of `procs` processes."""
    from pyvi import ViTokenizer  # noqa: F401 (loads the model before the fork, as the build does)

    started = time.perf_counter()
    seen: set[str] = set()

    def articles():
        for article in read_articles(sources, lambda problem: None):
            if article.id not in seen:
                seen.add(article.id)
                yield article

    with multiprocessing.get_context("fork").Pool(procs) as pool:
        chars = sum(pool.imap_unordered(_tokenize, articles(), chunksize=32))
    return {"articles": len(seen), "chars": chars, "seconds": time.perf_counter() - started}


def run_pyvi(source: Path | list[Path], procs: int) -> tuple[list[str], float, float, dict]:
    sources = source if isinstance(source, (list, tuple)) else [source]
    command = [sys.executable, str(ROOT / "bench/perf_build.py"), "--pyvi-only", *map(str, sources), "--procs", str(procs)]
    cpu = children_cpu()
    started = time.perf_counter()
    output = subprocess.run(command, check=True, cwd=ROOT, capture_output=True, text=True).stdout
    seconds = time.perf_counter() - started
    return command, seconds, children_cpu() - cpu, json.loads(output.strip().splitlines()[-1])


def report(args, builds, pyvis, idle: str, load_end: float) -> str:
    build_s = statistics.median(b.seconds for b in builds)
    pyvi_s = statistics.median(p[1] for p in pyvis)
    ratio = build_s / pyvi_s
    articles = builds[0].articles
    chars = pyvis[0][3]["chars"]
    build_cores = statistics.median(b.cpu_seconds / b.seconds for b in builds)
    pyvi_cores = statistics.median(p[2] / p[1] for p in pyvis)
    runs = f"median of {len(builds)} alternating runs" if len(builds) > 1 else "one run each"
    verdict = "**pass**" if ratio <= RATIO_TARGET else "**FAIL**"
    return "\n".join([
        f"Measured {today()} with `{command_line()}` on {machine()}; code at {code_version()}; {idle}, "
        f"{load_end:.2f} at the end.",
        "",
        f"{articles:,} articles, {chars / 1e6:.1f} million characters of title, summary and body; "
        f"{args.procs} processes; {runs}, pyvi alone first.",
        "",
        "| | wall time | articles/s | CPU time / wall time (cores busy) |",
        "|---|---:|---:|---:|",
        f"| full rebuild: `{shown(builds[0].command)}` | {build_s:.1f} s | {articles / build_s:,.0f} | "
        f"{build_cores:.2f} |",
        f"| pyvi alone: `{shown(pyvis[0][0])}` | {pyvi_s:.1f} s | {articles / pyvi_s:,.0f} | {pyvi_cores:.2f} |",
        f"| **ratio build / pyvi alone** | **{ratio:.2f}** | | |",
        "",
        f"Target: ratio ≤ {RATIO_TARGET}: {verdict}. Index on disk: {builds[0].bytes / 1e6:,.0f} MB. "
        f"Inside the pyvi-alone child (without start-up): {statistics.median(p[3]['seconds'] for p in pyvis):.1f} s.",
        *(["", "Every run (build s, pyvi s): " + ", ".join(f"({b.seconds:.1f}, {p[1]:.1f})"
                                                          for b, p in zip(builds, pyvis)) + "."]
          if len(builds) > 1 else []),
    ])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Full index rebuild time (wall, articles/s) against pyvi's ViTokenizer alone on the same "
                    "text with as many processes, measured in the same run.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--corpus", type=Path, nargs="+", default=[DEFAULT_CORPUS],
                        help="JSON Lines corpus (.jsonl or .jsonl.gz); several files are read in order, as one.")
    parser.add_argument("--limit-docs", type=int, metavar="N", help="Only the first N articles (quick iterations).")
    parser.add_argument("--procs", type=int, default=os.cpu_count() or 1, help="Processes for both.")
    parser.add_argument("--index", type=Path, metavar="DIR",
                        help="Where to build [default: bench/out/perf/index-full, or index-N with --limit-docs]; "
                             "the other benchmarks reuse it.")
    parser.add_argument("--repeat", type=int, default=1, help="Alternating runs of each; medians reported.")
    parser.add_argument("--pyvi-only", type=Path, nargs="+", metavar="CORPUS",
                        help="Only run pyvi alone over CORPUS and print its JSON figures (what the benchmark "
                             "runs as a child process).")
    add_run_args(parser, "perf-build")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.pyvi_only:
        print(json.dumps(pyvi_only(args.pyvi_only, args.procs)))
        return
    if not all(path.exists() for path in args.corpus):
        raise SystemExit(f"error: no corpus at {' '.join(map(str, args.corpus))}; pass --corpus")
    source, articles = corpus_file(args.corpus, args.limit_docs, args.quiet)
    home = args.index or default_home(args.limit_docs)
    idle = wait_until_idle(args.max_load, args.wait_idle, args.quiet)
    builds, pyvis = [], []
    for run in range(args.repeat):
        pyvis.append(run_pyvi(source, args.procs))
        print(f"run {run + 1}: pyvi alone {pyvis[-1][1]:.1f} s", file=sys.stderr)
        builds.append(run_build(source, home, args.procs))
        print(f"run {run + 1}: build {builds[-1].seconds:.1f} s", file=sys.stderr)
        if builds[-1].articles != len(articles) or pyvis[-1][3]["articles"] != len(articles):
            raise SystemExit(f"error: expected {len(articles)} articles, the build indexed {builds[-1].articles} "
                             f"and pyvi alone read {pyvis[-1][3]['articles']}")
    text = report(args, builds, pyvis, idle, loadavg())
    print(text)
    if not args.no_doc:
        update_section(args.doc, args.section, text)
        print(f"\nwrote the perf-build section of {args.doc}")


if __name__ == "__main__":
    main()
