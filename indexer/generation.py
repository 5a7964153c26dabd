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
from vnsearch.indexer.whoosh_format.segment_writer import merge_small
from vnsearch.indexer.whoosh_format.toc import (LOCK_FILE, latest_generation, on_commit_toc, release,
                                                remove_old_files, segment_of, toc_bytes, toc_name,
                                                toc_segment_ids)

# Files of ours in a build folder that belong to its current generation.
_OWN_FILES = (LEXICON, postings_file.FILE_NAME)


class Mismatch(Exception):
    """A segment to be merged no longer matches its recorded checksums."""


class CommittedError(Exception):
    """The new generation was committed, then a later step failed (its cause is the error)."""


def _segment_files(folder: Path, segment_ids: set[str]) -> list[str]:
    return sorted(name for name in os.listdir(folder) if segment_of(name) in segment_ids)


def mapped_segments(folder: Path, segments) -> set[str]:
    """The ids of `segments` whose postings are in a postings file, the index's or their
    own: a merge of the index keeps them as they are, and first, in their order, so the
    index-wide file's numbering of their documents holds (`indexer/postings_file.py`)."""
    ids = [segment.segment_id() for segment in segments]
    mapped = set(ids[:postings_file.covered(ids, postings_file.open_index_file(folder))])
    return mapped | {i for i in ids if (folder / f"{i}{postings_file.EXTENSION}").exists()}


def merge_unmapped(mapped: set[str], everything: bool = False):
    """A `mergetype` for a writer's commit: the `mapped` segments kept first, in their
    order; the others merged by Whoosh's policy for small segments (or, with
    `everything`, all into one: `vnsearch optimize`)."""
    def merge(writer, segments):
        kept = [segment for segment in segments if segment.segment_id() in mapped]
        rest = [segment for segment in segments if segment.segment_id() not in mapped]
        return kept + merge_small(writer, rest, everything)
    return merge


def _index_postings(writer: SegmentWriter, folder: Path, segments) -> tuple[Path, list[str], list[str]]:
    """Write the index-wide postings file for `segments` to a temporary file, from the
    postings files there are (the index's for the segments it covers, each segment's
    own) and Whoosh's for the rest; return it, the segments' own files it replaces, and
    every postings file it read."""
    ids = [segment.segment_id() for segment in segments]
    old = postings_file.open_index_file(folder)
    covered = postings_file.covered(ids, old)
    parts: list[tuple[postings_file.PostingsFile | dict, int]] = []
    read = []
    if covered:
        parts.append((old, sum(count for _, count in old.segments[:covered])))
        read.append(postings_file.FILE_NAME)
    retired = []
    for segment in segments[covered:]:
        own = postings_file.open_for(folder, segment.segment_id())
        if own is None:
            found = segment_postings(writer.storage, writer.schema, segment, VIEW_FIELDS)
            own = {name: postings_file.keyed(*arrays) for name, arrays in found.items()}
        else:
            retired.append(own.path.name)
        parts.append((own, segment.doc_count_all()))

    def field(part, name):
        return part.get(name) if isinstance(part, dict) else part.field(name)

    tmp = folder / f".{postings_file.FILE_NAME}.new"
    postings_file.write_keyed(
        tmp, ((name, postings_file.merged([(field(part, name), count) for part, count in parts]))
              for name in VIEW_FIELDS if any(field(part, name) is not None for part, _ in parts)),
        segments=[(segment.segment_id(), segment.doc_count_all()) for segment in segments])
    return tmp, retired, read + retired


def commit(writer: SegmentWriter, staged: dict[str, Path] | None = None, postings: bool = False,
           **kwargs) -> int:
    """`writer.commit(**kwargs)`, recording checksums; `staged` maps file names of the
    build folder to temporary files written for this generation, moved into place with it.
    `postings`: write the index-wide postings file (`indexer/postings_file.py`) for the
    new generation's segments, in place of their own files (a build, `optimize`).
    Without a `mergetype`, segments merge by Whoosh's policy for small ones, keeping
    those with postings files first (`merge_unmapped`). Returns the new generation's
    count of segments."""
    folder = Path(writer.storage.folder)
    staged = dict(staged or {})
    old = checksums.read(folder)  # a damaged one raises: its checksums could not be carried over
    recorded = old.files if old else {}
    before = {segment.segment_id() for segment in writer.segments}
    if "mergetype" not in kwargs:
        kwargs["mergetype"] = merge_unmapped(mapped_segments(folder, writer.segments))
    retired: list[str] = []
    committed: list = []

    def commit_toc(segments) -> None:
        committed.extend(segments)
        ids = {segment.segment_id() for segment in segments}
        read: list[str] = []
        if postings:
            staged[postings_file.FILE_NAME], found, read = _index_postings(writer, folder, segments)
            retired.extend(found)
        # By the record, not by what is on disk: a lost file must not go unnoticed. The
        # postings files read are checked too: their damage would be copied into the new one.
        merged = {name: entry for name, entry in recorded.items()
                  if segment_of(name) in before - ids or name in read}
        damaged = checksums.problems(folder, merged)
        if damaged:
            raise Mismatch(f"{damaged[0][0]} is {damaged[0][1]}")
        files = {name: entry for name, entry in recorded.items() if segment_of(name) in ids and name not in retired}
        for name in _segment_files(folder, ids):
            if name not in files and name not in retired:  # only new files are read (not setdefault: it reads every one)
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
            for name in retired:  # covered by the index's postings file now
                (folder / name).unlink(missing_ok=True)
        except Exception as error:
            raise CommittedError(error) from error

    on_commit_toc(writer, commit_toc)
    writer.commit(**kwargs)
    return len(committed)


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
