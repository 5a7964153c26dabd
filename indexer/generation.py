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

Written for Whoosh 2.7 (setup.cfg pins <2.8): it replaces SegmentWriter._commit_toc and
uses TOC, clean_files and SegmentWriter._finish, which are internals.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from whoosh.filedb.filestore import FileStorage, RamStorage
from whoosh.index import TOC, clean_files
from whoosh.writing import SegmentWriter

from vnsearch.indexer import checksums
from vnsearch.indexer.lexicon import FILE_NAME as LEXICON

INDEX_NAME = "MAIN"  # Whoosh's default index name
_LOCK_FILE = f"{INDEX_NAME}_WRITELOCK"
# Files of ours in a build folder that belong to its current generation.
_OWN_FILES = (LEXICON,)
_SEGMENT_FILE = TOC._segment_pattern(INDEX_NAME)

assert hasattr(SegmentWriter, "_commit_toc") and hasattr(SegmentWriter, "_finish"), \
    "indexer/generation.py was written for Whoosh 2.7's SegmentWriter"


class Mismatch(Exception):
    """A segment to be merged no longer matches its recorded checksums."""


class CommittedError(Exception):
    """The new generation was committed, then a later step failed (its cause is the error)."""


def toc_name(generation: int) -> str:
    return TOC._filename(INDEX_NAME, generation)


def latest_generation(folder: Path) -> int:
    """The newest TOC generation in `folder`, -1 if none."""
    return TOC._latest_generation(FileStorage(str(folder)), INDEX_NAME)


def _segment_of(name: str) -> str | None:
    """The segment a file belongs to ("MAIN_k3x9" for "MAIN_k3x9.pst"), None for other files."""
    found = _SEGMENT_FILE.match(name)
    return found.group(1) if found else None


def _segment_files(folder: Path, segment_ids: set[str]) -> list[str]:
    return sorted(name for name in os.listdir(folder) if _segment_of(name) in segment_ids)


def commit(writer: SegmentWriter, staged: dict[str, Path] | None = None, **kwargs) -> None:
    """`writer.commit(**kwargs)`, recording checksums; `staged` maps file names of the
    build folder to temporary files written for this generation, moved into place with it."""
    folder = Path(writer.storage.folder)
    staged = dict(staged or {})
    old = checksums.read(folder)  # a damaged one raises: its checksums could not be carried over
    recorded = old.files if old else {}
    before = {segment.segment_id() for segment in writer.segments}

    def commit_toc(segments) -> None:
        ids = {segment.segment_id() for segment in segments}
        # By the record, not by what is on disk: a lost file must not go unnoticed.
        merged = {name: entry for name, entry in recorded.items() if _segment_of(name) in before - ids}
        damaged = checksums.problems(folder, merged)
        if damaged:
            raise Mismatch(f"{damaged[0][0]} is {damaged[0][1]}")
        files = {name: entry for name, entry in recorded.items() if _segment_of(name) in ids}
        for name in _segment_files(folder, ids):
            files.setdefault(name, checksums.of_file(folder / name))
        for name in _OWN_FILES:
            if name in staged:
                files[name] = checksums.of_file(staged[name])
            elif name in recorded or (folder / name).exists():
                files[name] = recorded.get(name) or checksums.of_file(folder / name)
        toc = toc_name(writer.generation)
        data = _toc_bytes(TOC(writer.schema, segments, writer.generation))
        files[toc] = checksums.of_bytes(data)
        # Dot files: Whoosh's listing and clean_files pass over them.
        staged[toc] = folder / f".{toc}.tmp"
        staged[toc].write_bytes(data)
        manifest = checksums.stage(folder, checksums.Manifest(writer.generation, files))
        for name, tmp in staged.items():  # the TOC last of these: the commit point
            os.replace(tmp, folder / name)
        try:
            os.replace(manifest, folder / checksums.FILE_NAME)
            clean_files(writer.storage, writer.indexname, writer.generation, segments)
        except Exception as error:
            raise CommittedError(error) from error

    writer._commit_toc = commit_toc
    writer.commit(**kwargs)


def _toc_bytes(toc: TOC) -> bytes:
    """The TOC file's bytes, written by Whoosh's own code into memory."""
    ram = RamStorage()
    toc.write(ram, INDEX_NAME)
    return bytes(ram.files[toc_name(toc.generation)])


def abandon(writer: SegmentWriter | None, folder: Path | None) -> None:
    """Undo a writer whose commit failed or was interrupted: release its lock and remove
    every file in `folder` that its generation does not hold."""
    if writer is not None and not writer.is_closed:
        try:
            writer.cancel()  # flushes what it holds first, which fails again on a full disk
        except Exception:
            try:
                writer._finish()  # just release the lock and drop the temporary folder
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
        toc = TOC.read(FileStorage(str(folder)), INDEX_NAME, generation)
    except Exception:
        return
    keep = {toc_name(generation), _LOCK_FILE, checksums.FILE_NAME, *_OWN_FILES,
            *_segment_files(folder, {segment.segment_id() for segment in toc.segments})}
    for path in folder.iterdir():
        if path.name in keep:
            continue
        try:
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
        except OSError:
            pass
