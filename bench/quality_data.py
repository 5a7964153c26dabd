"""The articles and vnsearch indexes the relevance benchmark runs on, per split.

- `test`: every article of vietnews-test (the REPORT set).
- `dev`: a seeded sample of vietnews-train (the DEVELOPMENT set, for tuning), 20,000
  articles by default so that a build takes minutes.

Each split is prepared once into a work folder (outside git; reused while the same
options ask for the same articles):

- `articles.jsonl.gz`: the split's articles as indexed. The shared corpus has no dates,
  so each article is given a date drawn from a hash of its id (seeded, 2015–2019),
  independent of its text: sorting by date then shows a random sample of a result set
  first, the same for every engine. Relevance ranking ignores dates.
- `articles-nosummary.jsonl.gz`: the same without summaries (the verbose-query set).
- `index/`, `index-nosummary/`: the vnsearch indexes of both, built with `vnsearch`'s
  own `build_index`, and rebuilt when corpus/ or indexer/ changed since (the last commit
  that touched them is recorded next to each index).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import random
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from common import DEFAULT_CORPUS, OUT, ROOT, load_articles, progress, write_jsonl

from vnsearch.corpus import Article
from vnsearch.indexer import store
from vnsearch.indexer.build import build_index

SPLITS = {"test": DEFAULT_CORPUS, "dev": ROOT.parent / "shared/corpus/vietnews-train.jsonl.gz"}
DEV_SIZE = 20_000
_EPOCH, _SPAN_DAYS = dt.datetime(2015, 1, 1), 5 * 365


def synthetic_date(article_id: str, seed: int) -> dt.datetime:
    """A date from the article's id alone: the same in every run, unrelated to its text."""
    digest = hashlib.sha256(f"{seed}:{article_id}".encode()).digest()
    return _EPOCH + dt.timedelta(seconds=int.from_bytes(digest[:8], "big") % (_SPAN_DAYS * 86400))


@dataclass
class Split:
    name: str
    corpus: Path  # the shared file the articles come from
    work: Path
    articles: list[Article]
    dated: bool  # the articles got synthetic dates (the corpus had none)
    homes: dict[str, Path]  # "full" / "nosummary" -> vnsearch index folder
    build_seconds: dict[str, float]  # index builds of this run (0 when reused)


def _stamp(args, corpus: Path) -> dict:
    return {"split": args.split, "corpus": str(corpus.resolve()), "corpus_bytes": corpus.stat().st_size,
            "limit_docs": args.limit_docs, "dev_size": args.dev_size if args.split == "dev" else None,
            "seed": args.data_seed}


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _select(args, corpus: Path, quiet: bool) -> list[Article]:
    if args.split == "dev":
        pool = load_articles(corpus, None, quiet)
        if args.dev_size < len(pool):
            chosen = sorted(random.Random(args.data_seed).sample(range(len(pool)), args.dev_size))
            pool = [pool[i] for i in chosen]
        return pool[:args.limit_docs] if args.limit_docs else pool
    return load_articles(corpus, args.limit_docs, quiet)


def prepare(args, quiet: bool) -> Split:
    """The split's articles (written once into the work folder) and its vnsearch indexes."""
    corpus = Path(args.corpus or SPLITS[args.split])
    if not corpus.exists():
        raise SystemExit(f"error: no corpus at {corpus}; pass --corpus")
    work = Path(args.work or OUT / f"relevance-{args.split}")
    work.mkdir(parents=True, exist_ok=True)
    stamp = _stamp(args, corpus)
    full, nosummary = work / "articles.jsonl.gz", work / "articles-nosummary.jsonl.gz"
    saved = _read_json(work / "articles.json")
    if saved and saved.get("stamp") == stamp and full.exists() and nosummary.exists():
        articles = load_articles(full, None, quiet)
        dated = saved["dated"]
    else:
        articles = _select(args, corpus, quiet)
        dated = not any(a.published for a in articles)
        if dated:
            articles = [dataclasses.replace(a, published=synthetic_date(a.id, args.data_seed)) for a in articles]
        write_jsonl(articles, full)
        write_jsonl((dataclasses.replace(a, summary=None) for a in articles), nosummary)
        (work / "articles.json").write_text(json.dumps({"stamp": stamp, "dated": dated, "articles": len(articles)}),
                                            encoding="utf-8")
    homes, seconds = {}, {}
    for variant, source in (("full", full), ("nosummary", nosummary)):
        if variant not in args.variants:
            continue
        homes[variant], seconds[variant] = _index(work, variant, source, stamp, len(articles), args, quiet)
    return Split(args.split, corpus, work, articles, dated, homes, seconds)


def _index(work: Path, variant: str, source: Path, stamp: dict, count: int, args, quiet: bool) -> tuple[Path, float]:
    """The vnsearch index of `source`, reused when built from the same articles."""
    home = work / ("index" if variant == "full" else f"index-{variant}")
    marker = work / f"index-{variant}.json"
    # An index is reused only if built from the same articles by the same indexing code:
    # an index of an older analysis would measure the new ranking on old terms.
    stamp = {**stamp, "index_code": index_code()}
    if not args.rebuild and store.current_build(home) and _read_json(marker) == stamp:
        held = store.open_index(home).doc_count()
        if held == count:
            return home, 0.0
    started = time.monotonic()
    with progress(total=count, quiet=quiet, desc=f"vnsearch index ({variant})", unit=" articles") as bar:
        build_index([source], home, procs=args.procs, on_article=bar.update)
    marker.write_text(json.dumps(stamp), encoding="utf-8")
    return home, time.monotonic() - started


def index_code() -> str:
    """The last commit that changed what goes into an index (corpus/, indexer/), marked
    when they have uncommitted changes."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    # The OpenSearch backend's modules write no Whoosh index.
    paths = ["--", "corpus", "indexer", ":!indexer/opensearch_*"]
    commit = git("log", "-1", "--format=%h", *paths) or "unknown"
    return commit + ("+uncommitted" if git("status", "--porcelain", *paths) else "")


def without_summaries(articles: list[Article]) -> list[Article]:
    return [dataclasses.replace(a, summary=None) for a in articles]
