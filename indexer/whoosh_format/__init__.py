"""Everything vnsearch knows about Whoosh beyond its public API, in one place.

The index is Whoosh's, but vnsearch goes around Whoosh's public API where it costs too
much or does too little: the build writes the analysed views' postings straight into
Whoosh's W3 files, the ranking decodes whole posting blocks at a time, the snapshot
reads sortable columns with their missing-value sentinels, and a commit adds checksums
and staged files before Whoosh's table of contents makes the generation current. Each
relies on Whoosh's private names (`_read_ids`, `_finalize_segment`, `_commit_toc`,
`fieldwriter._tindex`, ...) or on the bytes and names of its files, which no Whoosh
release promises to keep. So they all live here, and nowhere else:

- `reading`: posting blocks in bulk, sortable columns and what marks a missing value,
  dates in the unit the DATETIME column stores.
- `segment_writer`: the bulk segment writer (Whoosh's W3 codec byte for byte),
  finalising a segment in a worker and adding it to the index in the parent's commit.
- `term_table`: the term table file (Whoosh's ordered hash file), written in bulk.
- `toc`: the table of contents: generations, their file names, the commit step.

The rest of vnsearch imports these modules for anything beyond Whoosh's public API
(schemas, `open_dir`, readers' `postings`, `leaf_readers`, `column_reader`, writers'
`commit`). The package itself holds only the version check, so that a search process
does not import the writers (their tables take tens of milliseconds to build).

Written for Whoosh 2.7.4, the last 2.7 release. Importing any module of the package
first checks the installed Whoosh against the range setup.cfg pins, and stops with a
clear message otherwise, rather than write an index Whoosh cannot read or misread one.
The tests that guard the format (byte for byte against Whoosh's own writers, postings
read back through Whoosh's public matcher) are tests/test_segment_writer.py and
tests/test_whoosh_format.py, and the commit step's are in tests/test_reliability_index.py:
run them before widening the range.
"""
from __future__ import annotations

import whoosh

# The Whoosh versions whose file format and internals this package was written for,
# [low, high): the same range as `install_requires` in setup.cfg (a test checks).
WRITTEN_FOR = ((2, 7, 4), (2, 8))


def _dotted(version: tuple) -> str:
    return ".".join(map(str, version))


def check_version(found: tuple | None = None) -> None:
    """Raise RuntimeError unless `found` (default: the installed Whoosh) is in WRITTEN_FOR."""
    found = tuple(whoosh.__version__ if found is None else found)
    low, high = WRITTEN_FOR
    if not low <= found[:3] < high:
        wanted = f"whoosh>={_dotted(low)},<{_dotted(high)}"
        raise RuntimeError(
            f"vnsearch's index code (vnsearch.indexer.whoosh_format) was written for Whoosh "
            f"{_dotted(low[:2])}.x's file format ({wanted}); found Whoosh {_dotted(found)}. "
            f"Install a matching one: pip install '{wanted}'")


# Importing any module of the package runs this first.
check_version()
