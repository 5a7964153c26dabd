"""Committing a new generation of a Whoosh index folder, and undoing one that failed.

Whoosh commits by writing a segment's files, then a new table of contents (`_MAIN_<n>.toc`,
the generation) by temporary file and rename; readers open the newest TOC. Our commit
keeps that commit point and adds, before it:
- the checksums of every file of the new generation (`indexer/checksums.py`), staged
  with the TOC and moved into place just after it;
- files staged for the generation (`lexicon.npz`), moved into place just before it;
- a check that the segments being merged away still match their checksums, so a merge
  never copies damaged postings into a new segment with fresh checksums (Lucene verifies
  the segments it merges for the same reason).
Everything that can fill a disk happens before the rename, so a full disk fails the
commit with the index as it was. `abandon` then removes the files the writer wrote.

The TOC's file names and the writer's commit step are Whoosh's internals: they come
from the adapter, `indexer/whoosh_format/toc.py`.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from whoosh.writing import SegmentWriter

from vnsearch.indexer import checksums, postings_file
from vnsearch.indexer.fields import VIEW_FIELDS
from vnsearch.indexer.lexicon import FILE_NAME as LEXICON
from vnsearch.indexer.whoosh_format.reading import segment_postings
from vnsearch.indexer.whoosh_format.toc import (LOCK_FILE, latest_generation, on_commit_toc, release,
                                                remove_old_files, segment_of, toc_bytes, toc_name,
                                                toc_segment_ids)

# Files of ours in a build folder that belong to its current generation.
_OWN_FILES = (LEXICON,)


class Mismatch(Exception):
    """A segment to be merged no longer matches its recorded checksums."""


class CommittedError(Exception):
    """The new generation was committed, then a later step failed (its cause is the error)."""


def _segment_files(folder: Path, segment_ids: set[str]) -> list[str]:
    return sorted(name for name in os.listdir(folder) if segment_of(name) in segment_ids)


def commit(writer: SegmentWriter, staged: dict[str, Path] | None = None, postings_files: bool = False,
           **kwargs) -> None:
    """`writer.commit(**kwargs)`, recording checksums; `staged` maps file names of the
    build folder to temporary files written for this generation, moved into place with it.
    `postings_files`: write a postings file (`indexer/postings_file.py`) for each new
    segment without one, as a merge of the whole index wants (updates' small segments
    go without: reading them through Whoosh costs little, and writing one costs seconds)."""
    folder = Path(writer.storage.folder)
    staged = dict(staged or {})
    old = checksums.read(folder)  # a damaged one raises: its checksums could not be carried over
    recorded = old.files if old else {}
    before = {segment.segment_id() for segment in writer.segments}

    def commit_toc(segments) -> None:
        ids = {segment.segment_id() for segment in segments}
        if postings_files:
            for segment in segments:
                path = folder / f"{segment.segment_id()}{postings_file.EXTENSION}"
                if segment.segment_id() not in before and not path.exists():
                    postings_file.write(path, segment_postings(writer.storage, writer.schema, segment, VIEW_FIELDS))
        # By the record, not by what is on disk: a lost file must not go unnoticed.
        merged = {name: entry for name, entry in recorded.items() if segment_of(name) in before - ids}
        damaged = checksums.problems(folder, merged)
        if damaged:
            raise Mismatch(f"{damaged[0][0]} is {damaged[0][1]}")
        files = {name: entry for name, entry in recorded.items() if segment_of(name) in ids}
        for name in _segment_files(folder, ids):
            if name not in files:  # only new files are read (not setdefault: it reads every one)
                files[name] = checksums.of_file(folder / name)
        for name in _OWN_FILES:
            if name in staged:
                files[name] = checksums.of_file(staged[name])
            elif name in recorded or (folder / name).exists():
                files[name] = recorded.get(name) or checksums.of_file(folder / name)
        toc = toc_name(writer.generation)
        data = toc_bytes(writer.schema, segments, writer.generation)
        files[toc] = checksums.of_bytes(data)
        # Dot files: Whoosh's listing and clean_files pass over them.
        staged[toc] = folder / f".{toc}.tmp"
        staged[toc].write_bytes(data)
        manifest = checksums.stage(folder, checksums.Manifest(writer.generation, files))
        for name, tmp in staged.items():  # the TOC last of these: the commit point
            os.replace(tmp, folder / name)
        try:
            os.replace(manifest, folder / checksums.FILE_NAME)
            remove_old_files(writer, segments)
        except Exception as error:
            raise CommittedError(error) from error

    on_commit_toc(writer, commit_toc)
    writer.commit(**kwargs)


def abandon(writer: SegmentWriter | None, folder: Path | None) -> None:
    """Undo a writer whose commit failed or was interrupted: release its lock and remove
    every file in `folder` that its generation does not hold."""
    if writer is not None and not writer.is_closed:
        try:
            writer.cancel()  # flushes what it holds first, which fails again on a full disk
        except Exception:
            try:
                release(writer)  # just release the lock and drop the temporary folder
            except Exception:
                pass
    if folder is not None:
        remove_leftovers(folder)


def remove_leftovers(folder: Path) -> None:
    """Remove what failed writes left in a build folder: files of segments and generations
    that never became current, and temporary files. Keeps everything if the TOC is unreadable."""
    folder = Path(folder)
    try:
        generation = latest_generation(folder)
        segment_ids = toc_segment_ids(folder, generation)
    except Exception:
        return
    keep = {toc_name(generation), LOCK_FILE, checksums.FILE_NAME, *_OWN_FILES,
            *_segment_files(folder, segment_ids)}
    for path in folder.iterdir():
        if path.name in keep:
            continue
        try:
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
        except OSError:
            pass
