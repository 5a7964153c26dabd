"""Rebuild the whole index from article files.

Segmentation is the slow step, so worker processes turn articles into ready-made
documents (every analysed view already a list of terms) and the main process only
feeds them to Whoosh's writer. Whoosh indexes a list value as pre-analysed terms,
so each text is analysed exactly once.
"""
from __future__ import annotations

import ctypes
import datetime as dt
import multiprocessing
import os
import signal
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from whoosh import index as whoosh_index

from corpus import Article, Problem, read_articles
from indexer import store
from indexer.analysis import analyse
from indexer.normalize import nfc
from indexer.schema import TEXT_FIELDS, VIEWS, build_schema, view_field


_PR_SET_PDEATHSIG = 1


class BuildError(Exception):
    """The build did not produce an index; the previous one is still in place."""


@dataclass
class BuildReport:
    indexed: int = 0
    skipped: int = 0
    duplicates: int = 0
    seconds: float = 0.0
    build: Path | None = None
    problems: list[Problem] = field(default_factory=list)


def to_document(article: Article) -> dict:
    """The fields Whoosh stores and indexes for one article (runs in the workers)."""
    doc = {"id": article.id, "origin": article.origin}
    for name in TEXT_FIELDS:
        text = getattr(article, name)
        if not text:
            continue
        text = nfc(text)
        doc[name] = text
        views = analyse(text)
        for view, terms in zip(VIEWS, views):
            doc[view_field(name, view)] = terms
    for name in ("author", "url", "source"):
        if getattr(article, name):
            doc[name] = nfc(getattr(article, name))
    if article.published:
        published = article.published
        if not isinstance(published, dt.datetime):
            published = dt.datetime.combine(published, dt.time())
        doc["date"] = article.published.isoformat()
        doc["published"] = published.replace(tzinfo=None)
        doc["year"] = published.year
    return doc


def _init_worker() -> None:
    # Ctrl-C is handled once, by the parent, which stops the pool and cleans up.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # If the parent is killed outright, its workers would wait on their queue forever:
    # ask Linux to end them with it.
    try:
        ctypes.CDLL("libc.so.6").prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


def _documents(articles: Iterable[Article], procs: int) -> Iterator[dict]:
    if procs <= 1:
        yield from map(to_document, articles)
        return
    # fork shares pyvi's already-loaded model with the workers instead of reloading it.
    with multiprocessing.get_context("fork").Pool(procs, initializer=_init_worker) as pool:
        yield from pool.imap(to_document, articles, chunksize=8)


def build_index(
    paths: Iterable[str | Path],
    home: Path,
    *,
    procs: int | None = None,
    on_problem: Callable[[Problem], None] = lambda problem: None,
    on_article: Callable[[], None] = lambda: None,
    limitmb: int = 256,
) -> BuildReport:
    """Index every article under `paths` into a new build and publish it when complete.

    Problems (unreadable files, bad lines, duplicate ids) are reported through
    `on_problem` and skipped. Of duplicate ids the first copy read is kept.
    """
    report = BuildReport()
    started = time.monotonic()

    def problem(p: Problem) -> None:
        report.problems.append(p)
        report.skipped += p.skipped
        on_problem(p)

    articles = read_articles(paths, problem)
    home = Path(home)
    with store.write_lock(home):
        store.sweep(home)
        build = store.new_build(home)
        try:
            ix = whoosh_index.create_in(str(build), build_schema())
            writer = ix.writer(limitmb=limitmb)
            try:
                seen: dict[str, str] = {}
                for doc in _documents(articles, procs or os.cpu_count() or 1):
                    on_article()
                    if doc["id"] in seen:
                        report.duplicates += 1
                        problem(Problem(doc["origin"], f"duplicate id {doc['id']!r} (first read from {seen[doc['id']]}); skipped", True))
                        continue
                    seen[doc["id"]] = doc["origin"]
                    writer.add_document(**doc)
                    report.indexed += 1
                if not report.indexed:
                    raise BuildError("no articles could be read; the previous index is unchanged")
                writer.commit()
            except BaseException:
                writer.cancel()
                raise
            store.publish(home, build)
        except BaseException:
            shutil.rmtree(build, ignore_errors=True)
            raise
    report.build = build
    report.seconds = time.monotonic() - started
    return report
