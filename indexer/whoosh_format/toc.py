"""Whoosh 2.7's table of contents: the generations of an index folder, and the commit step.

Whoosh commits a change by writing the new segments' files, then a new table of contents
(`_MAIN_<n>.toc`, the generation) by temporary file and rename; readers open the newest.
`indexer.generation` puts steps of its own before that rename through `on_commit_toc`.

Part of the `vnsearch.indexer.whoosh_format` adapter: the TOC's file names, the
writer's commit step and its lock release are Whoosh 2.7's internals (see the package's
docstring).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from whoosh.filedb.filestore import FileStorage, RamStorage
from whoosh.index import TOC, clean_files
from whoosh.writing import SegmentWriter

INDEX_NAME = "MAIN"  # Whoosh's default index name
LOCK_FILE = f"{INDEX_NAME}_WRITELOCK"  # where a writer holds the index's lock
_SEGMENT_FILE = TOC._segment_pattern(INDEX_NAME)

assert hasattr(SegmentWriter, "_commit_toc") and hasattr(SegmentWriter, "_finish"), \
    "indexer/whoosh_format/toc.py was written for Whoosh 2.7's SegmentWriter"


def toc_name(generation: int) -> str:
    return TOC._filename(INDEX_NAME, generation)


def latest_generation(folder: Path) -> int:
    """The newest TOC generation in `folder`, -1 if none."""
    return TOC._latest_generation(FileStorage(str(folder)), INDEX_NAME)


def segment_of(name: str) -> str | None:
    """The segment a file belongs to ("MAIN_k3x9" for "MAIN_k3x9.pst"), None for other files."""
    found = _SEGMENT_FILE.match(name)
    return found.group(1) if found else None


def toc_segment_ids(folder: Path, generation: int) -> set[str]:
    """The segments that generation `generation` of `folder` holds."""
    toc = TOC.read(FileStorage(str(folder)), INDEX_NAME, generation)
    return {segment.segment_id() for segment in toc.segments}


def toc_bytes(schema, segments: list, generation: int) -> bytes:
    """The TOC file's bytes, written by Whoosh's own code into memory."""
    ram = RamStorage()
    TOC(schema, segments, generation).write(ram, INDEX_NAME)
    return bytes(ram.files[toc_name(generation)])


def on_commit_toc(writer: SegmentWriter, commit_toc: Callable[[list], None]) -> None:
    """Have `writer.commit()` call `commit_toc(segments)` instead of writing Whoosh's TOC
    (the commit point), once the new segments are written and merged."""
    writer._commit_toc = commit_toc


def remove_old_files(writer: SegmentWriter, segments: list) -> None:
    """Whoosh's clean-up after a commit: the files of older generations and segments that
    the new generation, holding `segments`, no longer uses."""
    clean_files(writer.storage, writer.indexname, writer.generation, segments)


def release(writer: SegmentWriter) -> None:
    """Release `writer`'s lock and drop its temporary files, writing nothing."""
    writer._finish()
