"""Where the time goes: py-spy samples of the index build and of the query path.

- Build: `py-spy record --subprocesses` over a real `vnsearch index` of the corpus (or
  its first `--build-docs` articles) with `--procs` workers, so the worker processes,
  where the analysis and the Whoosh writing happen, are sampled too. Python frames
  only: py-spy's `--native` unwinding crashed (SIGSEGV) on the forked workers of a
  full build; time in C code (pycrfsuite's tagger, zlib, system calls) counts for
  the Python line that called it, which is how the CRF tagging stage is found.
- Query: `vnsearch serve` over the benchmark index of the whole corpus, warmed up by
  one unsampled pass of `bench/perf_queries.tsv`; then `py-spy record --pid` on the
  server while `--query-passes` passes of the mix go through the HTTP API one request
  at a time, as in `bench/perf_query.py`.

py-spy samples the stacks from outside the process (`--rate` per second, only threads
that are running, not waiting), so the code runs at full speed; a share below is the
share of those samples whose stack holds the stage (inclusive: a stage includes the
ones indented under it), or whose innermost frame is the function (own time). C code
shows as native frames in the query profile (`--native`). Results go into the `perf-profile` section of
docs/BENCHMARKS.md; the raw samples (py-spy's "raw" collapsed stacks, which
flamegraph.pl or speedscope read) into bench/out/perf/profile/.

Needs py-spy (the bench extra) and permission to trace processes (ptrace), which a
child process gives on most Linux set-ups.

    python bench/perf_profile.py                                # full build; queries on the full index
    python bench/perf_profile.py --build-docs 1000 --limit-docs 2000 --no-doc   # quick iteration
"""
from __future__ import annotations

import argparse
import re
import shutil
import signal
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from common import DEFAULT_CORPUS, ROOT, code_version, command_line, load_articles, machine, today, \
    update_section
from perf_common import (PERF, add_run_args, corpus_file, default_home, ensure_index, latency_passes, loadavg, shown,
                         subset_file, vnsearch, vnsearch_server, wait_until_idle)
from perf_mix import QUERIES, read_queries

PROFILES = PERF / "profile"
TOP = 10
_FRAME_RE = re.compile(r"^(?P<name>.*) \((?P<where>[^()]*?)(?::(?P<line>\d+))?\)$")
# py-spy's --native unwinding counts threads blocked on a lock as running: a sample
# with one of these frames is a thread waiting (for a request, a batch), not working.
WAITING = {"Condition.wait", "Event.wait", "Thread.join"}

# Named stages: (label, function as py-spy names it (a regular expression), part of its
# file name); indentation shows nesting.
WORKER_STAGES = [
    ("`to_document`: the fields and views of an article", "to_document", "indexer/build.py"),
    ("  `analyse`: all views of a text", "analyse", "indexer/analysis.py"),
    ("    `segment`: pyvi words with offsets", "segment", "indexer/segmentation.py"),
    ("      `_features`: CRF features (Python)", "_features", "indexer/segmentation.py"),
    ("      CRF tagging (pycrfsuite's `Tagger.tag`, C++)", "_segment_line", "indexer/segmentation.py", "tagger().tag("),
    ("    `units`: syllable spans", "units", "indexer/segmentation.py"),
    ("    `normalize`: NFC and tone placement", "normalize", "indexer/normalize.py"),
    ("    `Lexicon`: syllable statistics", "Lexicon.add_units", "indexer/lexicon.py"),
    ("`add_document`: an article's terms into flat arrays", "ViewSegmentWriter.add_document",
     "indexer/whoosh_format/segment_writer.py"),
    ("`finalize_segment`: sort the postings, write the segment", "finalize_segment",
     "indexer/whoosh_format/segment_writer.py"),
    ("  posting blocks of the views (`_FieldPostings.write`)", "_FieldPostings.write", "indexer/whoosh_format/segment_writer.py"),
    ("  term table (`BulkOrderedHashWriter`)", r"BulkOrderedHashWriter\..*", "indexer/whoosh_format/term_table.py"),
]
PARENT_STAGES = [
    ("imports at start-up (Flask, Whoosh, pyvi's model...)", "_find_and_load", "<frozen importlib._bootstrap>"),
    ("reading the corpus (`read_articles`)", "read_articles", "corpus/reader.py"),
    ("handing batches to the workers (pickling)", "_Workers.put", "indexer/build.py"),
    ("merging the workers' lexicons and saving", "merge_arrays|stage_arrays|save_arrays", "indexer/lexicon.py"),
    ("committing the segments (and their checksums)", "SegmentWriter.commit", "whoosh/writing.py"),
]
QUERY_STAGES = [
    ("waitress: reading requests, writing responses (I/O thread)", "BaseWSGIServer.run", "waitress/server.py"),
    ("the WSGI app (a waitress worker thread)", "Flask.wsgi_app", "flask/app.py"),
    ("  Flask view `api_search`", "api_search", "web/views.py"),
    ("    `Engine.search`", "Engine.search", "search/engine.py"),
    ("      `parse` the query", "parse", "search/syntax.py"),
    ("      `rank`: matching and scoring over postings", "rank", "search/ranker.py"),
    ("        `Snapshot.postings`: decoding postings", "Snapshot.postings", "search/ranker.py"),
    ("        `Snapshot.positions`: reading positions", "Snapshot.positions", "search/ranker.py"),
    ("      `_suggestion`: accent restoration and its check", "Engine._suggestion", "search/engine.py"),
    ("      `_facets`", "_facets", "search/engine.py"),
    ("      Whoosh `stored_fields`: the page's articles", r"\w+Reader\.stored_fields", "whoosh/reading.py"),
    ("      `_hit`: snippets and title highlighting", "_hit", "search/engine.py"),
    ("    `jsonify`: the JSON answer", "jsonify", "flask/json/__init__.py"),
]


@dataclass
class Samples:
    """Collapsed stacks: how many samples held each function (inclusive) and ended in it (own)."""
    total: int = 0
    waiting: int = 0  # samples left out: threads blocked waiting
    stacks: list = field(default_factory=list)  # (frozenset of (function, file) frames, samples)
    own: Counter = field(default_factory=Counter)  # innermost (function, file)
    leaves: Counter = field(default_factory=Counter)  # innermost (function, file, line)


def _frame(text: str) -> tuple[str, str, int]:
    match = _FRAME_RE.match(text)
    if not match:
        return text, "", 0
    name, where = match["name"], match["where"]
    if name.startswith("0x"):
        name = "(native code)"
    return name, where, int(match["line"] or 0)


def read_samples(path: Path) -> dict[str, Samples]:
    """py-spy's raw output split into the main process ("parent") and its children ("workers")."""
    groups = {"parent": Samples(), "workers": Samples()}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = stack.split(";")
        processes = [f for f in frames if f.startswith("process ")]
        frames = [_frame(f) for f in frames if not f.startswith(("process ", "thread "))]
        group = groups["workers" if len(processes) > 1 else "parent"]
        n = int(count)
        if any(name in WAITING for name, _, _ in frames):
            group.waiting += n
            continue
        group.total += n
        group.stacks.append((frozenset((name, where) for name, where, _ in frames), n))
        if frames:
            group.own[frames[-1][:2]] += n
            group.leaves[frames[-1]] += n
    return groups


def _share(samples: Samples, pattern: str, suffix: str, leaf_line: str | None = None) -> int:
    """Samples whose stack holds a frame of a function matching `pattern` in a file containing `suffix`;
    with `leaf_line`, samples whose innermost frame is that function on a line holding that text."""
    regex = re.compile(pattern)
    if leaf_line is not None:
        return sum(n for (name, where, line), n in samples.leaves.items()
                   if suffix in where and regex.fullmatch(name) and leaf_line in _source_line(where, line))
    return sum(n for frames, n in samples.stacks
               if any(suffix in where and regex.fullmatch(name) for name, where in frames))


def _source_line(where: str, line: int) -> str:
    path = ROOT / where
    try:
        return path.read_text(encoding="utf-8").splitlines()[line - 1]
    except (OSError, IndexError):
        return ""


def _depth(label: str) -> int:
    return (len(label) - len(label.lstrip())) // 2


def top_stages(samples: Samples, stages, count: int = 5) -> str:
    """The largest stages that have no named stage inside them, with their shares."""
    innermost = [stage for i, stage in enumerate(stages)
                 if i + 1 == len(stages) or _depth(stages[i + 1][0]) <= _depth(stage[0])]
    shares = sorted(((_share(samples, name, suffix, *leaf) / (samples.total or 1), label.strip())
                     for label, name, suffix, *leaf in innermost), reverse=True)[:count]
    return "; ".join(f"{label.split(':')[0]} {share:.0%}" for share, label in shares)


def tables(samples: Samples, stages, rate: float) -> list[str]:
    if not samples.total:
        return ["(no samples)"]
    lines = ["| stage (inclusive) | share | ≈ seconds (samples / rate) |", "|---|---:|---:|"]
    for label, name, suffix, *leaf_line in stages:
        n = _share(samples, name, suffix, *leaf_line)
        indent = "&nbsp;" * 4 * _depth(label)
        lines.append(f"| {indent}{label.strip()} | {n / samples.total:.0%} | {n / rate:,.1f} |")
    lines += ["", "| innermost frame (own time) | share |", "|---|---:|"]
    for (name, where), n in samples.own.most_common(TOP):
        lines.append(f"| `{name}` ({where}) | {n / samples.total:.1%} |")
    return lines


def profile_build(source: Path, rate: int, procs: int) -> tuple[dict[str, Samples], float, list[str]]:
    home = PERF / "profile-index"
    shutil.rmtree(home, ignore_errors=True)
    output = PROFILES / "build.txt"
    command = vnsearch("index", str(source), "--index", str(home), "--quiet", "--procs", str(procs))
    started = time.perf_counter()
    subprocess.run(["py-spy", "record", "--subprocesses", "--format", "raw", "--rate", str(rate),
                    "--output", str(output), "--", *command], check=True, cwd=ROOT, capture_output=True)
    seconds = time.perf_counter() - started
    shutil.rmtree(home, ignore_errors=True)
    return read_samples(output), seconds, command


def profile_queries(home: Path, queries, passes: int, rate: int, quiet: bool) -> tuple[Samples, float, int, float]:
    """(samples, seconds of the sampled passes, requests sampled, seconds of one unsampled warm pass)."""
    output = PROFILES / "query.txt"
    with vnsearch_server(home, 1) as server:  # one process: py-spy samples the one that answers
        latency_passes([server], queries, 1, quiet)  # warm-up, not sampled
        started = time.perf_counter()
        latency_passes([server], queries, 1, quiet)  # the same work without py-spy, for its overhead
        unsampled = time.perf_counter() - started
        spy = subprocess.Popen(["py-spy", "record", "--native", "--format", "raw", "--rate", str(rate),
                                "--output", str(output), "--pid", str(server.process.pid)],
                               cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(1.0)  # py-spy attaches
        started = time.perf_counter()
        latency_passes([server], queries, passes, quiet)
        seconds = time.perf_counter() - started
        spy.send_signal(signal.SIGINT)  # py-spy writes its output and exits
        try:
            _, errors = spy.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            spy.kill()
            raise SystemExit("error: py-spy did not stop")
        if not output.exists():
            raise SystemExit(f"error: py-spy wrote no samples: {errors.decode(errors='replace')[-1000:]}")
    samples = read_samples(output)["parent"]
    return samples, seconds, passes * len(queries), unsampled


def report(args, build, query, idle: str, load_end: float, build_articles: int, articles: int) -> str:
    rate = args.rate
    lines = [
        f"Measured {today()} with `{command_line()}` on {machine()}; code at {code_version()}; {idle}, "
        f"{load_end:.2f} at the end.",
    ]
    if build is not None:
        groups, build_seconds, command = build
        workers, parent = groups["workers"], groups["parent"]
        lines += [
            "",
            f"**Build**: `{shown(command)}` ({build_articles:,} articles) under `py-spy record --subprocesses "
            f"--rate {rate}`: {build_seconds:.0f} s. Samples of running code: {workers.total:,} in the "
            f"{args.procs} workers (≈ {workers.total / rate:,.0f} thread-seconds), {parent.total:,} in the parent "
            f"(≈ {parent.total / rate:,.0f}). In the workers:",
            "",
            f"Top costs: {top_stages(workers, WORKER_STAGES)}.",
            "",
            *tables(workers, WORKER_STAGES, rate),
            "",
            "In the parent process:",
            "",
            *tables(parent, PARENT_STAGES, rate)[:len(PARENT_STAGES) + 2],
        ]
    samples, query_seconds, requests, unsampled = query
    lines += [
        "",
        f"**Query**: `vnsearch serve` over the index of {articles:,} articles, warm; {requests:,} requests "
        f"(the mix, {args.query_passes} passes) one at a time in {query_seconds:.1f} s "
        f"({query_seconds / requests * 1000:.1f} ms each, client included, against "
        f"{unsampled / (requests / args.query_passes) * 1000:.1f} ms in a pass just before without py-spy, "
        f"which pauses the server for each sample), sampled with `py-spy record --pid "
        f"--native --rate {rate}`: {samples.total:,} samples of running server code ({samples.waiting:,} of "
        f"threads waiting on a condition left out), ≈ {samples.total / rate / requests * 1000:.1f} ms of running "
        f"server threads per request.",
        "",
        f"Top costs: {top_stages(samples, QUERY_STAGES)}.",
        "",
        *tables(samples, QUERY_STAGES, rate),
    ]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="py-spy profiles of the index build (workers included) and of the /api/search path; "
                    "writes where the time goes. Needs py-spy (the bench extra).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--corpus", type=Path, nargs="+", default=[DEFAULT_CORPUS],
                        help="JSON Lines corpus (.jsonl or .jsonl.gz); several files are read in order, as one.")
    parser.add_argument("--build-docs", type=int, metavar="N", help="Profile a build of the first N articles only.")
    parser.add_argument("--procs", type=int, default=2, help="Worker processes of the profiled build.")
    parser.add_argument("--limit-docs", type=int, metavar="N",
                        help="Profile queries over the index of the first N articles instead of the whole corpus.")
    parser.add_argument("--index", type=Path, metavar="DIR",
                        help="Index for the queries: reused if it holds as many articles, built there otherwise "
                             "[default: bench/out/perf/index-full, or index-N with --limit-docs].")
    parser.add_argument("--queries", type=Path, default=QUERIES, help="The query mix (kind, q, parameters).")
    parser.add_argument("--query-passes", type=int, default=3, help="Sampled passes over the query mix.")
    parser.add_argument("--rate", type=int, default=100, help="py-spy samples per second.")
    parser.add_argument("--skip-build", action="store_true", help="Profile the query path only.")
    add_run_args(parser, "perf-profile")
    args = parser.parse_args(argv)
    if args.skip_build and not args.no_doc:
        parser.error("--skip-build needs --no-doc: the doc's section holds both profiles")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if not all(path.exists() for path in args.corpus):
        raise SystemExit(f"error: no corpus at {' '.join(map(str, args.corpus))}; pass --corpus")
    if shutil.which("py-spy") is None:
        raise SystemExit("error: py-spy not found; pip install -e '.[bench]'")
    source, articles = corpus_file(args.corpus, args.limit_docs, args.quiet)
    home = args.index or default_home(args.limit_docs)
    ensure_index(source, home, len(articles), args.procs, rebuild=False)
    build_articles = load_articles(args.corpus, args.build_docs, args.quiet)
    build_source = subset_file(args.corpus, build_articles, args.build_docs)
    queries = read_queries(args.queries)
    shutil.rmtree(PROFILES, ignore_errors=True)
    PROFILES.mkdir(parents=True)
    idle = wait_until_idle(args.max_load, args.wait_idle, args.quiet)
    build = None if args.skip_build else profile_build(build_source, args.rate, args.procs)
    query = profile_queries(home, queries, args.query_passes, args.rate, args.quiet)
    text = report(args, build, query, idle, loadavg(), len(build_articles), len(articles))
    print(text)
    if not args.no_doc:
        update_section(args.doc, "perf-profile", text)
        print(f"\nwrote the perf-profile section of {args.doc}")


if __name__ == "__main__":
    main()
