"""How build time, index size, query latency and server memory grow with the corpus.

For each size (the first 2,000, 5,000, 10,000 articles of the corpus, and all of it)
this builds a fresh index with `vnsearch index --procs N`, measures its size on disk,
starts `vnsearch serve` over it and sends a query mix one request at a time (one
warm-up pass, then `--passes` passes pooled), the same way as `bench/perf_query.py`.
The mix is drawn from that size's own articles (`make_queries`), so that every size is
asked about what it holds: a mix drawn from all 128,061 articles asked the 64,000-article
index about headlines half of which it lacks, and a query that finds nothing, or only
some of its words, is dearer. `--queries` gives every size one fixed mix instead.
Each measure is then fitted with a least-squares line a + b·N, extrapolated to 200,000
and 1,000,000 articles, and checked with the slope of log(measure) against log(N) (1 is
linear growth, below 1 sub-linear). Writes the `perf-growth` section of
docs/BENCHMARKS.md and the plot docs/growth.png.

    python bench/perf_growth.py                                  # 2,000 ... 22,643 articles
    python bench/perf_growth.py --sizes 500 1000 2000 --no-doc   # quick iteration
"""
from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common import (DEFAULT_CORPUS, FULL_SPEED_SECONDS, ROOT, SPEED_LOOP, code_version, command_line, load_articles,
                    machine, machine_speed, today, update_section)
from perf_common import (PERF, add_run_args, latency_passes, loadavg, percentiles, pooled, run_build, subset_file,
                         vnsearch_server, wait_until_idle)
from perf_mix import make_queries, read_queries

PREDICT = (200_000, 1_000_000)
DEFAULT_PNG = ROOT / "docs/growth.png"


@dataclass
class Size:
    articles: int
    build_seconds: float
    megabytes: float
    p50_ms: float
    p95_ms: float
    rss_mb: float  # peak resident memory of the server (VmHWM) after the passes
    errors: int
    queries: int
    cores: float  # CPU time of the build and its workers over its wall time
    load: float = 0.0  # 1-minute load average when this size started
    speed: float = 0.0  # `machine_speed` just before the latency passes


# The measures fitted and plotted: attribute, label, unit.
MEASURES = [
    ("build_seconds", "build time", "s"),
    ("megabytes", "index size on disk", "MB"),
    ("p95_ms", "query p95 (HTTP, warm)", "ms"),
    ("rss_mb", "server peak RSS", "MB"),
]


def measure(corpus: Path, articles, size: int | None, procs: int, passes: int, queries, quiet: bool) -> Size:
    source = subset_file(corpus, articles, size)
    home = PERF / f"growth-{size or 'full'}"
    if home.exists():
        shutil.rmtree(home)
    build = run_build(source, home, procs)
    with vnsearch_server(home) as server:
        speed = machine_speed()
        runs = latency_passes([server], queries, 1 + passes, quiet)[0]
        memory = server.memory_mb()
    warm = percentiles(pooled(runs[1:], "ms"))
    return Size(build.articles, build.seconds, build.bytes / 1e6, warm["p50"], warm["p95"],
                memory.get("VmHWM", 0.0), sum(len(r.errors) for r in runs), len(queries),
                build.cpu_seconds / build.seconds, speed=speed)


def fit(sizes: list[Size], attribute: str) -> tuple[float, float, float]:
    """(a, b) of the least-squares line a + b·N, and the log-log slope."""
    n = np.array([s.articles for s in sizes], dtype=float)
    y = np.array([getattr(s, attribute) for s in sizes], dtype=float)
    b, a = np.polyfit(n, y, 1)
    slope = np.polyfit(np.log(n), np.log(y), 1)[0] if len(n) > 1 and (y > 0).all() else float("nan")
    return float(a), float(b), float(slope)


def plot(sizes: list[Size], path: Path) -> None:
    import matplotlib  # the bench extra

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = np.array([s.articles for s in sizes], dtype=float)
    figure, axes = plt.subplots(2, 2, figsize=(10, 7))
    for ax, (attribute, label, unit) in zip(axes.flat, MEASURES):
        a, b, slope = fit(sizes, attribute)
        xs = np.linspace(0, n.max() * 1.05, 50)
        ax.plot(n, [getattr(s, attribute) for s in sizes], "o", label="measured")
        ax.plot(xs, a + b * xs, "--", label=f"fit {a:,.3g} + {b * 1000:,.3g}·N/1000 (log-log slope {slope:.2f})")
        if attribute == "p95_ms":
            ax.plot(n, [s.p50_ms for s in sizes], "s", color="grey", label="p50")
        ax.set_title(label)
        ax.set_xlabel("articles")
        ax.set_ylabel(unit)
        ax.set_xlim(left=0)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    figure.suptitle("vnsearch growth with the corpus (its first N articles, files in the order given)")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=90)
    plt.close(figure)


def report(args, sizes: list[Size], idle: str, load_end: float, png: Path | None) -> str:
    mix = (f"the {sizes[0].queries} queries of `{args.queries.name}`" if args.queries else
           f"a query mix drawn from that size's own articles (`make_queries`, scale {args.mix_scale}: "
           f"{', '.join(f'{s.queries:,}' for s in sizes)} queries)")
    lines = [
        f"Measured {today()} with `{command_line()}` on {machine()}; code at {code_version()}; {idle}, "
        f"{load_end:.2f} at the end.",
        "",
        f"Each size: a fresh `vnsearch index --procs {args.procs}` of the corpus's first N articles (in file order: "
        f"{', then '.join(Path(c).name for c in args.corpus)}), then "
        f"`vnsearch serve` and {mix} one at a time (one warm-up pass, "
        f"then {args.passes} pooled); each size waits for the load average to fall below {args.max_load} "
        f"(at most {args.wait_idle:.0f} s). Machine speed: {SPEED_LOOP:,} Python additions timed just before "
        f"the size's queries (`machine_speed`; {FULL_SPEED_SECONDS} s at the machine's full speed): the fit's "
        f"slope is only as good as the speed was steady.",
        "",
        "| articles | build time | articles/s | build: cores busy | index on disk | query p50 | query p95 "
        "| server peak RSS | errors | load average at the start | machine speed |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in sizes:
        lines.append(f"| {s.articles:,} | {s.build_seconds:.1f} s | {s.articles / s.build_seconds:,.0f} | {s.cores:.2f} | "
                     f"{s.megabytes:,.0f} MB | {s.p50_ms:.1f} ms | {s.p95_ms:.1f} ms | {s.rss_mb:,.0f} MB | {s.errors} "
                     f"| {s.load:.2f} | {s.speed:.2f} s |")
    if len(sizes) > 1:
        lines += ["", "Fit: least-squares line a + b·N through the sizes above; the log-log slope says how the "
                  "measure grows over this range (1 linear, below 1 sub-linear, above 1 super-linear).", "",
                  "| measure | a | b per 1,000 articles | log-log slope | "
                  + " | ".join(f"predicted at {p:,}" for p in PREDICT) + " |",
                  "|---|---:|---:|---:|" + "---:|" * len(PREDICT)]
        for attribute, label, unit in MEASURES:
            a, b, slope = fit(sizes, attribute)
            predictions = " | ".join(f"{_amount(a + b * p, unit)}" for p in PREDICT)
            lines.append(f"| {label} | {a:,.1f} {unit} | {b * 1000:,.2f} {unit} | {slope:.2f} | {predictions} |")
        lines += ["", trend(sizes)]
    if png:
        lines += ["", f"![Build time, index size, query latency and server memory against articles]({png.name})"]
    return "\n".join(lines)


def _growth(slope: float) -> str:
    if slope < 0.5:
        return "far less than in proportion over this range: fixed costs dominate"
    if slope < 0.9:
        return "less than in proportion over this range: a fixed part weighs at the small sizes"
    if slope <= 1.1:
        return "in proportion to the corpus"
    return "faster than the corpus"


def trend(sizes: list[Size]) -> str:
    """The trend in words, from the fits: which fit, what it says, how far to trust it."""
    lines = ["Trend:", ""]
    for attribute, label, unit in MEASURES:
        a, b, slope = fit(sizes, attribute)
        lines.append(f"- {label} grows {_growth(slope)} (log-log slope {slope:.2f}; the line adds "
                     f"{b * 1000:,.2f} {unit} per 1,000 articles).")
    largest = max(s.articles for s in sizes)
    lines += ["", "The predictions use the straight line, a constant cost per added article: the natural model "
              "for build time and disk, where every article costs about the same to analyse and store, and a "
              "cautious one for latency and memory, where only the per-article part (postings to scan, "
              "per-document arrays) grows. They reach "
              f"{PREDICT[0] / largest:.0f} and {PREDICT[1] / largest:.0f} times beyond the largest size measured: "
              "orders of magnitude, not figures."]
    return "\n".join(lines)


def _amount(value: float, unit: str) -> str:
    if unit == "s" and value >= 3600:
        return f"{value / 3600:,.1f} h"
    if unit == "s" and value >= 120:
        return f"{value / 60:,.0f} min"
    if unit == "MB" and value >= 10_000:
        return f"{value / 1000:,.1f} GB"
    return f"{value:,.0f} {unit}"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Build time, index size, query p95 and server memory at growing corpus sizes, with a linear "
                    "fit extrapolated to 200,000 and 1,000,000 articles, and a plot.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--corpus", type=Path, nargs="+", default=[DEFAULT_CORPUS],
                        help="JSON Lines corpus (.jsonl or .jsonl.gz); several files are read in order, as one.")
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 5000, 10000, 22643],
                        help="Corpus sizes (first N articles); a size at or above the corpus's is the whole corpus.")
    parser.add_argument("--procs", type=int, default=2, help="Indexing processes.")
    parser.add_argument("--queries", type=Path, help="A fixed query mix (kind, q, parameters) for every size, "
                        "instead of one drawn from each size's own articles.")
    parser.add_argument("--mix-scale", type=int, default=15,
                        help="Size of each drawn mix, in multiples of the base mix (15: about 3,000 queries).")
    parser.add_argument("--passes", type=int, default=2, help="Measured passes after the warm-up pass.")
    parser.add_argument("--png", type=Path, default=DEFAULT_PNG, help="Where the plot goes (with the doc).")
    add_run_args(parser, "perf-growth", no_doc_help="Print the results without writing the doc; the plot goes to bench/out/perf/growth.png.")
    args = parser.parse_args(argv)
    if args.passes < 1:
        parser.error("--passes must be at least 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if not all(path.exists() for path in args.corpus):
        raise SystemExit(f"error: no corpus at {' '.join(map(str, args.corpus))}; pass --corpus")
    fixed = read_queries(args.queries) if args.queries else None
    articles = load_articles(args.corpus, quiet=args.quiet)
    idle = wait_until_idle(args.max_load, args.wait_idle, args.quiet)
    sizes = []
    for size in sorted(set(args.sizes)):
        limit = size if size < len(articles) else None
        if limit is None and sizes and sizes[-1].articles == len(articles):
            continue  # two sizes at or above the corpus's are the same measure
        if sizes:  # each size waits for a quiet machine again: the previous one's build loaded it
            wait_until_idle(args.max_load, args.wait_idle, args.quiet)
        load = loadavg()
        queries = fixed or make_queries(articles[:limit], scale=args.mix_scale)
        sizes.append(measure(args.corpus, articles, limit, args.procs, args.passes, queries, args.quiet))
        sizes[-1].load = load
        print(f"{sizes[-1]}", file=sys.stderr)
    png = PERF / "growth.png" if args.no_doc else args.png
    plot(sizes, png)
    text = report(args, sizes, idle, loadavg(), None if args.no_doc else png)
    print(text)
    print(f"\nplot: {png}")
    if not args.no_doc:
        update_section(args.doc, args.section, text)
        print(f"wrote the perf-growth section of {args.doc}")


if __name__ == "__main__":
    main()
