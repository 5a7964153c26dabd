"""Rebuild the whole index from article files.

Analysis and writing run in worker processes: each worker analyses its share of the
articles and writes its own Whoosh segment (the analysed views in bulk, through
`ViewSegmentWriter`), and the parent commits all segments together. The parent only reads
the files, drops duplicate ids and hands out batches. The same approach as Whoosh's
MultiSegmentWriter, with the failure handling a build needs: a worker that dies fails
the build instead of silently losing its documents, Ctrl-C stops every process, and
workers end with their parent.
"""
from __future__ import annotations

import ctypes
import datetime as dt
import gc
import multiprocessing
import os
import queue
import shutil
import signal
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from whoosh import index as whoosh_index

from vnsearch.corpus import MAX_ARTICLE_CHARS, Article, Problem, read_articles
from vnsearch.indexer import generation, store
from vnsearch.indexer.analysis import analyse
from vnsearch.indexer.lexicon import FILE_NAME as LEXICON, Lexicon, merge_arrays, stage_arrays
from vnsearch.indexer.normalize import nfc
from vnsearch.indexer.fields import TEXT_FIELDS, VIEW_FIELDS, view_field
from vnsearch.indexer.schema import build_schema
from vnsearch.indexer.whoosh_format.segment_writer import ViewSegmentWriter, add_segments, finalize_segment

_PR_SET_PDEATHSIG = 1
_BATCH = 32
# A worker holds its segment's postings in memory until it writes them: about 2 GB at
# 11,000 articles of the shared corpus. Past this many articles it starts a new segment,
# so a build of any size needs no more memory than this.
SEGMENT_ARTICLES = 12_000
# How long to wait on a queue before checking that the workers are still alive.
_POLL_SECONDS = 1.0


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


def to_document(article: Article, lexicon: Lexicon | None = None) -> dict:
    """The fields Whoosh stores and indexes for one article (runs in the workers).

    With a `lexicon`, the article's syllable statistics are counted into it as well.
    """
    doc = {"id": article.id, "origin": article.origin}
    for name in TEXT_FIELDS:
        text = getattr(article, name)
        if not text:
            continue
        text = nfc(text)
        doc[name] = text
        for view, terms in analyse(text, lexicon).views()._asdict().items():
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
    # Ctrl-C is handled once, by the parent, which stops the workers and cleans up.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A worker allocates millions of small lists and tuples, none of them in cycles, and
    # keeps growing ones (postings, counts): at Python's default thresholds the cyclic
    # collector ran thousands of times over them, 15% of a worker's time. Objects from
    # the parent (modules, tables) are frozen out of its scans, and it runs far less often.
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    # If the parent is killed outright, ask Linux to end its workers with it instead of
    # leaving them waiting on their queue forever.
    try:
        ctypes.CDLL("libc.so.6").prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def _write_segment(build: str, jobs, results) -> None:
    """Worker: analyse and index batches of articles into new segments of its own."""
    _init_worker()
    ix = whoosh_index.open_dir(build)
    lexicon = Lexicon()
    segments = []
    writer = None
    try:
        count = in_segment = 0
        while (batch := jobs.get()) is not None:
            if writer is None:
                writer = ViewSegmentWriter(ix, VIEW_FIELDS, lock=False, compound=store.COMPOUND)
            for article in batch:
                writer.add_document(**to_document(article, lexicon))
            count += len(batch)
            in_segment += len(batch)
            if in_segment >= SEGMENT_ARTICLES:
                # Complete on disk; the parent adds the segments to the table of contents.
                segments.append(finalize_segment(writer))
                writer, in_segment = None, 0
        if writer is not None:
            segments.append(finalize_segment(writer))
            writer = None
        # As arrays: the parent merges them with NumPy instead of unpickling Counters.
        results.put(("segment", (segments, lexicon.arrays()), count))
    except BaseException as error:
        if writer is not None:
            try:
                writer.cancel()  # the parent deletes the build folder anyway; this may fail again on a full disk
            except Exception:
                pass
        if isinstance(error, OSError):
            # The reason (no space, quota, I/O error) for the parent's one-line message.
            results.put(("oserror", (error.errno, error.strerror, error.filename), 0))
        else:
            results.put(("error", f"{error!r}\n{traceback.format_exc()}", 0))


class _Workers:
    """Worker processes fed through a bounded queue; any dead worker fails the build."""

    def __init__(self, build: Path, procs: int):
        context = multiprocessing.get_context("fork")  # workers start with the parent's modules loaded
        self.jobs = context.Queue(maxsize=procs * 2)
        self.results = context.Queue()
        self.outcomes: list[tuple] = []  # (kind, detail, count) of each worker that finished
        self.processes = [
            context.Process(target=_write_segment, args=(str(build), self.jobs, self.results),
                            daemon=True)
            for _ in range(procs)
        ]

    def start(self) -> None:
        # Apart from __init__, so that a Ctrl-C while the processes start still finds the
        # object to stop them with (they hold the command's output pipes open).
        for process in self.processes:
            process.start()

    def _check_alive(self) -> None:
        for process in self.processes:
            if process.exitcode is not None and process.exitcode < 0:
                name = signal.Signals(-process.exitcode).name
                hint = " (out of memory?)" if name == "SIGKILL" else ""
                raise BuildError(f"an indexing worker was killed by {name}{hint}; the previous index is unchanged")
            if process.exitcode not in (None, 0):
                raise BuildError(f"an indexing worker died (exit status {process.exitcode}); "
                                 "the previous index is unchanged")

    def _collect(self, timeout: float | None) -> bool:
        """Take one outcome off the results queue, raising a worker's failure at once."""
        try:
            outcome = self.results.get(timeout=timeout) if timeout else self.results.get_nowait()
        except queue.Empty:
            return False
        kind, detail, _ = outcome
        if kind == "oserror":
            raise OSError(*detail)  # reported by build_index, as any disk error of the parent's
        if kind == "error":
            raise BuildError(f"indexing failed; the previous index is unchanged:\n{detail}")
        self.outcomes.append(outcome)
        return True

    def put(self, item) -> None:
        # A worker that fails reports why and ends: stop feeding the others at once, and
        # never wait forever on a queue nobody reads any more.
        self._collect(timeout=None)
        while True:
            try:
                return self.jobs.put(item, timeout=_POLL_SECONDS)
            except queue.Full:
                self._collect(timeout=None)
                self._check_alive()
                if all(p.exitcode is not None for p in self.processes):
                    raise BuildError("the indexing workers ended before all articles were read; "
                                     "the previous index is unchanged")

    def finish(self) -> list[tuple]:
        """Tell the workers to stop, and collect their (segments, lexicon arrays) pairs."""
        for _ in self.processes:
            self.put(None)
        while len(self.outcomes) < len(self.processes):
            if not self._collect(timeout=_POLL_SECONDS):
                self._check_alive()
                if all(p.exitcode is not None for p in self.processes) and not self._collect(timeout=None):
                    raise BuildError("an indexing worker ended without its segment")
        for process in self.processes:
            process.join()
        return [detail for _, detail, count in self.outcomes if count]

    def stop(self) -> None:
        # Batches still in the pipe have no reader any more: do not wait to flush them at exit.
        self.jobs.cancel_join_thread()
        for process in self.processes:
            if process.is_alive():
                process.terminate()
        for process in self.processes:
            if process.pid is not None:  # started
                process.join(timeout=5)
                if process.is_alive():  # caught mid-start before it could take SIGTERM's default
                    process.kill()
                    process.join()


def build_index(
    paths: Iterable[str | Path],
    home: Path,
    *,
    procs: int | None = None,
    on_problem: Callable[[Problem], None] = lambda problem: None,
    on_article: Callable[[], None] = lambda: None,
    wait: bool = False,
    max_article_chars: int = MAX_ARTICLE_CHARS,
) -> BuildReport:
    """Index every article under `paths` into a new build and publish it when complete.

    Problems (unreadable files, bad lines, duplicate ids) are reported through
    `on_problem` and skipped. Of duplicate ids the first copy read is kept. Longer
    articles are cut to `max_article_chars` characters.
    """
    report = BuildReport()
    started = time.monotonic()

    def problem(p: Problem) -> None:
        report.problems.append(p)
        report.skipped += p.skipped
        on_problem(p)

    articles = read_articles(paths, problem, max_article_chars)
    home = Path(home)
    with store.write_lock(home, wait=wait):
        store.sweep(home)
        build = workers = writer = None
        try:
            build = store.new_build(home)
            ix = whoosh_index.create_in(str(build), build_schema())
            workers = _Workers(build, procs or os.cpu_count() or 1)
            workers.start()
            seen: dict[str, str] = {}
            batch: list[Article] = []
            for article in articles:
                on_article()
                if article.id in seen:
                    report.duplicates += 1
                    problem(Problem(article.origin,
                                    f"duplicate id {article.id!r} (first read from {seen[article.id]}); skipped"))
                    continue
                seen[article.id] = article.origin
                batch.append(article)
                if len(batch) == _BATCH:
                    workers.put(batch)
                    batch = []
            if batch:
                workers.put(batch)
            report.indexed = len(seen)
            if not report.indexed:
                raise BuildError("no articles could be read; the previous index is unchanged")
            segment_lists, lexicons = zip(*workers.finish())
            segments = [segment for listed in segment_lists for segment in listed]
            staged = stage_arrays(build, merge_arrays(list(lexicons)))
            writer = store.writer(ix)
            generation.commit(writer, staged={LEXICON: staged}, postings=True,
                              mergetype=add_segments(segments))
            with ix.searcher() as searcher:
                if searcher.doc_count() != report.indexed:
                    raise BuildError(f"the new index holds {searcher.doc_count()} articles, "
                                     f"expected {report.indexed}; the previous index is unchanged")
            store.publish(home, build)
        except BaseException as error:
            if workers is not None:
                workers.stop()
            generation.abandon(writer, None)
            if build is not None:
                shutil.rmtree(build, ignore_errors=True)
            if isinstance(error, generation.CommittedError):
                error = error.__cause__  # committed in the new folder, which was not published
            if isinstance(error, OSError):
                raise BuildError(f"{store.reason(error)} while building the new index at {home}; "
                                 "the previous index is unchanged") from error
            raise
    report.build = build
    report.seconds = time.monotonic() - started
    return report
