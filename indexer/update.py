"""Changing the live index in place: add or replace articles, delete them, merge segments.

Whoosh commits a change by writing new segment files and then a new table of
contents, so readers see the index before or after the change, never half of it;
running servers notice the new generation within a second. Our write lock keeps
rebuilds and updates from running at the same time.
"""
from __future__ import annotations

import multiprocessing
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from vnsearch.corpus import MAX_ARTICLE_CHARS, Problem, read_articles
from vnsearch.indexer import generation, store
from vnsearch.indexer.build import to_document
from vnsearch.indexer.fields import TEXT_FIELDS
from vnsearch.indexer.lexicon import FILE_NAME as LEXICON, Lexicon, map_arrays, merge_arrays, stage_arrays

# Below this many articles, starting worker processes costs more than it saves.
_PARALLEL_FROM = 64


@dataclass
class UpdateReport:
    added: int = 0
    replaced: int = 0
    deleted: int = 0
    skipped: int = 0
    missing: list[str] = field(default_factory=list)
    seconds: float = 0.0
    segments: int = 0


def _documents(articles: list, procs: int):
    if procs > 1 and len(articles) >= _PARALLEL_FROM:
        with multiprocessing.get_context("fork").Pool(procs) as pool:
            yield from pool.imap(to_document, articles, chunksize=8)
    else:
        yield from map(to_document, articles)


def update_index(
    paths: Iterable[str | Path],
    home: Path,
    *,
    procs: int = 2,
    wait: bool = False,
    on_problem: Callable[[Problem], None] = lambda problem: None,
    on_article: Callable[[], None] = lambda: None,
    max_article_chars: int = MAX_ARTICLE_CHARS,
) -> UpdateReport:
    """Add the articles under `paths` to the live index, replacing those with the same id.

    Longer articles are cut to `max_article_chars` characters.
    """
    report = UpdateReport()
    started = time.monotonic()

    def problem(p: Problem) -> None:
        report.skipped += p.skipped
        on_problem(p)

    articles = list(read_articles(paths, problem, max_article_chars))
    home = Path(home)
    with store.write_lock(home, wait=wait):
        with store.changing(home, "updating the index") as writer:
            build = store.current_build(home)
            lexicon = Lexicon()  # the updated articles' counts, added to the saved ones below
            # The articles' current versions, found with one searcher and deleted here:
            # Whoosh's update_document opens a searcher of every segment per article (30
            # ms each at 128k articles).
            with writer.searcher() as searcher:
                found = {a.id: searcher.document_number(id=a.id) for a in articles}
            current = {article_id: docnum for article_id, docnum in found.items() if docnum is not None}
            for docnum in current.values():
                writer.delete_document(docnum)
            seen: set[str] = set()
            for doc in _documents(articles, procs):
                on_article()
                if doc["id"] in seen:
                    problem(Problem(doc["origin"], f"duplicate id {doc['id']!r} in this update; skipped"))
                    continue
                seen.add(doc["id"])
                writer.add_document(**doc)
                for name in TEXT_FIELDS:
                    if doc.get(name):
                        lexicon.add_text(doc[name])
            saved = map_arrays(build)  # read in place: only what the merge copies is read into memory
            staged = stage_arrays(build, merge_arrays([lexicon.arrays()] + ([saved] if saved else [])))
            # Whoosh's policy for small segments merges them on every commit, so daily
            # updates do not pile up segments; `optimize_index` merges them all.
            report.segments = generation.commit(writer, staged={LEXICON: staged})
            report.replaced = len(current.keys() & seen)
            report.added = len(seen) - report.replaced
    report.seconds = time.monotonic() - started
    return report


def delete_articles(ids: Iterable[str], home: Path, *, wait: bool = False) -> UpdateReport:
    """Remove articles by id; ids not in the index are listed in `missing`."""
    report = UpdateReport()
    started = time.monotonic()
    home = Path(home)
    with store.write_lock(home, wait=wait), store.changing(home, "deleting articles from the index") as writer:
        for article_id in ids:
            if writer.delete_by_term("id", article_id):
                report.deleted += 1
            else:
                report.missing.append(article_id)
        generation.commit(writer)
    report.seconds = time.monotonic() - started
    return report


def optimize_index(home: Path, *, wait: bool = False) -> int:
    """Merge the segments updates added into one, and every segment's postings into the
    index's postings file (`indexer/postings_file.py`); returns the segment count before.

    The build's segments stay as they are: merging them through Whoosh (pure Python) took
    longer than building the index again, and their postings are already in the file.
    Their deleted articles stay until the next full build, left out of every search."""
    home = Path(home)
    with store.write_lock(home, wait=wait):
        before = store.segment_count(home)
        with store.changing(home, "merging the segments of the index") as writer:
            mapped = generation.mapped_segments(Path(writer.storage.folder), writer.segments)
            generation.commit(writer, postings=True, mergetype=generation.merge_unmapped(mapped, everything=True))
    return before
