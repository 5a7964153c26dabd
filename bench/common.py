"""What the benchmarks share: the corpus, the sample, the machine line, docs/BENCHMARKS.md."""
from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import platform
import random
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterable

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python bench/x.py` without installing
    sys.path.insert(0, str(ROOT))

from tqdm import tqdm  # noqa: E402

from vnsearch.corpus import Article, read_articles  # noqa: E402
from vnsearch.indexer.normalize import normalize  # noqa: E402

# The shared corpus sits next to the repository; it is read at run time, never copied in.
DEFAULT_CORPUS = ROOT.parent / "shared/corpus/vietnews-test.jsonl.gz"
DEFAULT_DOC = ROOT / "docs/BENCHMARKS.md"
OUT = ROOT / "bench/out"  # gitignored: indexes and failure lists


def progress(iterable: Iterable | None = None, quiet: bool = False, **kwargs) -> tqdm:
    """A tqdm bar on stderr that falls silent with --quiet or when stderr is not a terminal."""
    return tqdm(iterable, disable=True if quiet else None, file=sys.stderr, dynamic_ncols=True, **kwargs)


def load_articles(path: Path | list[Path], limit: int | None = None, quiet: bool = False) -> list[Article]:
    """The articles as the indexer sees them: first copy of an id wins, bad lines skipped.
    `path` may be several files, read in their order (as `vnsearch index` reads them)."""
    paths = list(path) if isinstance(path, (list, tuple)) else [path]
    articles: list[Article] = []
    seen: set[str] = set()
    problems = []
    with progress(desc="reading corpus", unit=" articles", quiet=quiet) as bar:
        for article in read_articles(paths, problems.append):
            if article.id in seen:
                continue
            seen.add(article.id)
            articles.append(article)
            bar.update()
            if limit and len(articles) >= limit:
                break
    if problems:
        print(f"note: {len(problems)} problems while reading {path} (first: {problems[0]})", file=sys.stderr)
    return articles


def write_jsonl(articles: Iterable[Article], path: Path) -> Path:
    """Articles back into the JSON Lines input format (for indexing a subset)."""
    with gzip.open(path, "wt", encoding="utf-8") as out:
        for a in articles:
            record = {"id": a.id, "title": a.title, "body": a.body, "summary": a.summary,
                      "date": a.published.isoformat() if a.published else None,
                      "source": a.source, "url": a.url, "author": a.author}
            out.write(json.dumps({k: v for k, v in record.items() if v is not None}, ensure_ascii=False) + "\n")
    return path


def words(text: str) -> list[str]:
    """Whitespace tokens with a letter or digit: the corpus spaces out its punctuation."""
    return [token for token in text.split() if any(c.isalnum() for c in token)]


def title_key(title: str) -> str:
    return " ".join(normalize(title).lower().split())


def sample_articles(articles: list[Article], size: int, seed: int, min_words: int = 4) -> list[Article]:
    """A seeded sample of articles whose headline is unique in the corpus (a known item must
    be one article) and has at least `min_words` words; in corpus order."""
    counts: dict[str, int] = {}
    for a in articles:
        key = title_key(a.title)
        counts[key] = counts.get(key, 0) + 1
    eligible = [i for i, a in enumerate(articles)
                if counts[title_key(a.title)] == 1 and len(words(a.title)) >= min_words]
    if size > len(eligible):
        raise SystemExit(f"error: only {len(eligible)} articles have a unique headline of "
                         f"{min_words}+ words; ask for a smaller sample")
    return [articles[i] for i in sorted(random.Random(seed).sample(eligible, size))]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            names = [line.split(":", 1)[1].strip() for line in info if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, {platform.system()}"


# What `machine_speed` times: a fixed amount of pure-Python work, and what it took when
# the machine ran at full speed (0.22 to 0.28 s in five runs, 2026-12-02 14:06).
SPEED_LOOP = 10_000_000
FULL_SPEED_SECONDS = 0.25


def machine_speed() -> float:
    """Seconds a loop of SPEED_LOOP Python additions takes, the median of three: how fast this
    shared machine runs at the moment. Its host lends the cores to other work too: the same
    pure-Python work took up to twice as long at one hour as at another, while the load
    average, which counts this machine's own processes only, stayed below 1. A figure
    measured at half speed says so beside it. The loop stays in the first-level cache, so
    it misses contention for the host's memory, which slows a search more: a full-speed
    reading is necessary for a figure to compare, not sufficient."""
    seconds = []
    for _ in range(3):
        started = time.perf_counter()
        total = 0
        for i in range(SPEED_LOOP):
            total += i
        seconds.append(time.perf_counter() - started)
    return sorted(seconds)[1]


def code_version() -> str:
    """The commit measured, marked dirty when the analysed code has uncommitted changes."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--", "corpus", "indexer", "search")
    return commit + (" (with uncommitted changes in corpus/indexer/search)" if dirty else "")


def engine_version() -> str:
    """The last commit that changed the engine itself (corpus, indexer, search, web)."""
    return subprocess.run(["git", "log", "-1", "--format=%h", "--", "corpus", "indexer", "search", "web"],
                          cwd=ROOT, capture_output=True, text=True).stdout.strip() or "unknown"


def command_line() -> str:
    """The command as typed from the repository root, for the doc."""
    script = Path(sys.argv[0]).resolve()
    try:
        script = script.relative_to(ROOT)
    except ValueError:
        pass
    return shlex.join(["python", str(script), *sys.argv[1:]])


def today() -> str:
    return dt.datetime.now().strftime("%Y-%m-%d %H:%M")


def update_section(doc: Path, name: str, text: str) -> None:
    """Replace the text between <!-- name:start --> and <!-- name:end --> (append if absent)."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{text.strip()}\n{end}"
    current = doc.read_text(encoding="utf-8") if doc.exists() else ""
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    if pattern.search(current):
        updated = pattern.sub(lambda _: block, current, count=1)
    else:
        updated = current.rstrip() + ("\n\n" if current.strip() else "") + block + "\n"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(updated, encoding="utf-8")
