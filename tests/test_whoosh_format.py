"""The Whoosh adapter: its version check, and what it reads agrees with Whoosh's public API."""
from __future__ import annotations

import datetime as dt
import importlib
import re
from pathlib import Path

import numpy as np
import pytest
import whoosh
from whoosh import index as whoosh_index
from whoosh.filedb.filestore import FileStorage
from whoosh.index import TOC

import vnsearch.indexer.whoosh_format as whoosh_format
from vnsearch.indexer.build import to_document
from vnsearch.indexer.fields import VIEW_FIELDS
from vnsearch.indexer.schema import build_schema
from vnsearch.indexer.whoosh_format import WRITTEN_FOR, check_version
from vnsearch.indexer.whoosh_format.reading import (datetime_column, datetime_to_long, numeric_column, posting_arrays,
                                                    posting_blocks)
from vnsearch.indexer.whoosh_format.segment_writer import ViewSegmentWriter
from vnsearch.indexer.whoosh_format.toc import (LOCK_FILE, latest_generation, segment_of, toc_bytes, toc_name,
                                                toc_segment_ids)
from vnsearch.search.ranker import Snapshot

from conftest import ROOT
from generated_text import generated_articles, generated_documents

BLOCK = 128  # postings per block in Whoosh's W3 codec


# --- The version check

@pytest.mark.parametrize("version, written_for", [
    ((2, 7, 4), True),          # what it was written for
    ((2, 7, 5), True),          # a later 2.7 release keeps 2.7's format
    ((2, 7, 4, "b1"), True),    # the tuple may carry a pre-release tag
    ((2, 7, 3), False),         # older than setup.cfg allows
    ((2, 8, 0), False),         # the next minor release may change the format
    ((3, 0, 0), False),
])
def test_version_check(version, written_for):
    if written_for:
        check_version(version)
    else:
        with pytest.raises(RuntimeError, match=r"was written for Whoosh 2\.7\.x's file format .*found Whoosh "
                                               + re.escape(".".join(map(str, version)))):
            check_version(version)


def test_importing_the_adapter_under_another_whoosh_fails_clearly(monkeypatch):
    monkeypatch.setattr(whoosh, "__version__", (2, 8, 0))
    try:
        with pytest.raises(RuntimeError, match=r"written for Whoosh 2\.7\.x's file format.*found Whoosh 2\.8\.0"):
            importlib.reload(whoosh_format)
    finally:
        monkeypatch.undo()
        importlib.reload(whoosh_format)


def test_setup_cfg_pins_the_versions_the_adapter_checks():
    low, high = (".".join(map(str, v)) for v in WRITTEN_FOR)
    assert f"whoosh>={low},<{high}" in (ROOT / "setup.cfg").read_text(encoding="utf-8")


def test_the_installed_whoosh_passes():
    check_version()


# --- Reading an index of several segments, some with deletions

DELETED = ["gen-0303", "gen-0310", "gen-0311", "gen-0350"]
REPLACED = "gen-0345"


@pytest.fixture(scope="module")
def segmented(tmp_path_factory) -> Path:
    """Generated articles in four segments: 300 by the bulk writer (terms in three blocks,
    no deletions), 40 by the bulk writer and 20 by Whoosh's, both with deletions, and a
    replaced article in one of its own.

    Whoosh's reader wraps the postings of a segment with deletions in a matcher that
    drops them, which the block reader goes through posting by posting; the others it
    reads a block at a time.
    """
    home = tmp_path_factory.mktemp("segmented")
    ix = whoosh_index.create_in(str(home), build_schema())
    docs = generated_documents()
    for make_writer, part in [(lambda: ViewSegmentWriter(ix, VIEW_FIELDS), docs[:300]),
                              (lambda: ViewSegmentWriter(ix, VIEW_FIELDS), docs[300:340]),
                              (ix.writer, docs[340:360])]:
        writer = make_writer()
        for doc in part:
            writer.add_document(**dict(doc))
        writer.commit(merge=False)
    writer = ix.writer()
    for article_id in DELETED:
        assert writer.delete_by_term("id", article_id)
    replaced = next(a for a in generated_articles() if a.id == REPLACED)
    writer.update_document(**to_document(replaced))
    writer.commit(merge=False)
    return home


def _public_postings(matcher) -> list[tuple[int, float]]:
    rows = []
    while matcher.is_active():
        rows.append((matcher.id(), matcher.weight()))
        matcher.next()
    return rows


def test_the_index_has_what_the_tests_below_need(segmented):
    with whoosh_index.open_dir(str(segmented)).reader() as reader:
        leaves = [leaf for leaf, _ in reader.leaf_readers()]
        assert len(leaves) == 4
        assert [leaf.has_deletions() for leaf in leaves] == [False, True, True, False]
        assert leaves[0].doc_frequency("body_fold", "vang") > 2 * BLOCK


def test_block_reader_gives_each_segments_postings_as_the_public_matcher(segmented):
    with whoosh_index.open_dir(str(segmented)).reader() as reader:
        compared = 0
        for leaf, _ in reader.leaf_readers():
            for field, term in leaf.all_terms():
                if field not in VIEW_FIELDS:
                    continue
                blocks = [(d, w) for ids, weights in posting_blocks(leaf.postings(field, term))
                          for d, w in zip(ids, weights)]
                public = _public_postings(leaf.postings(field, term))
                assert blocks == public, (field, term)
                # The whole list at once, read with pread and parsed block by block.
                ids, weights = posting_arrays(leaf.postings(field, term))
                assert list(zip(ids.tolist(), weights.tolist())) == public, (field, term)
                compared += len(blocks)
        assert compared > 100_000


def test_snapshot_postings_and_positions_agree_with_the_public_matcher(segmented):
    ix = whoosh_index.open_dir(str(segmented))
    snapshot = Snapshot(ix.searcher(), segmented)
    with ix.reader() as reader:
        terms = [(f, t.decode()) for f, t in reader.all_terms() if f.endswith("_fold")]
        assert len(terms) > 1000
        for field, term in terms:
            # Across segments: Whoosh's matcher over all of them, document numbers offset.
            expected = _public_postings(reader.postings(field, term))
            ids, freqs = snapshot.postings(field, term)
            assert list(zip(ids.tolist(), freqs.tolist())) == expected, (field, term)
            matcher, positions = reader.postings(field, term), {}
            while matcher.is_active():
                positions[matcher.id()] = matcher.value_as("positions")
                matcher.next()
            assert snapshot.positions(field, term, ids) == positions, (field, term)
            # A few documents, some without the term: whole blocks are passed over.
            some = np.unique(np.concatenate([ids[::7], ids[-1:] + 1, [0]])).astype(np.int64)
            some = some[some < snapshot.size]
            assert snapshot.positions(field, term, some) == {d: positions[d] for d in some.tolist()
                                                             if d in positions}, (field, term)
    # Deleted articles are in no posting list (a segment with deletions filters them)
    # and are not live.
    deleted = [ix.searcher().document_number(id=i) for i in DELETED]
    assert deleted == [None] * len(DELETED)
    assert snapshot.live.sum() == 360 - len(DELETED)
    assert snapshot.size == 361


def test_columns_read_missing_dates_and_years_as_missing(segmented):
    articles = {a.id: a for a in generated_articles()}
    ix = whoosh_index.open_dir(str(segmented))
    snapshot = Snapshot(ix.searcher(), segmented)
    seen = {True: 0, False: 0}
    with ix.searcher() as searcher:
        for docnum, fields in searcher.reader().iter_docs():
            published = articles[fields["id"]].published
            seen[published is None] += 1
            if published is None:
                assert (snapshot.year[docnum], snapshot.published[docnum]) == (0, -1)
            else:
                if not isinstance(published, dt.datetime):
                    published = dt.datetime.combine(published, dt.time())
                assert snapshot.year[docnum] == published.year
                assert snapshot.published[docnum] == datetime_to_long(published)
    assert seen[True] > 10 and seen[False] > 100


def test_column_readers_on_one_segment(segmented):
    with whoosh_index.open_dir(str(segmented)).reader() as reader:
        leaf, _ = reader.leaf_readers()[0]
        count = leaf.doc_count_all()
        years = numeric_column(leaf, "year", count, missing=-7)
        dates = datetime_column(leaf, "published", count, missing=-7)
        assert years.dtype == dates.dtype == np.int64
        assert ((years == -7) == (dates == -7)).all()
        assert set(years[years != -7].tolist()) <= set(range(2015, 2027))


def test_table_of_contents_names_and_bytes(segmented):
    generation = latest_generation(segmented)
    assert generation == 4  # one per commit of the fixture
    assert (segmented / toc_name(generation)).is_file()
    segment_ids = toc_segment_ids(segmented, generation)
    with whoosh_index.open_dir(str(segmented)).reader() as reader:
        assert len(segment_ids) == len(reader.leaf_readers())
    # Every segment's files are told apart from the index's other files.
    owners = {path.name: segment_of(path.name) for path in segmented.iterdir()}
    assert {owner for owner in owners.values() if owner} == segment_ids
    assert {name for name, owner in owners.items() if not owner} <= {toc_name(generation), LOCK_FILE}



def test_table_of_contents_written_in_memory_reads_back(segmented, tmp_path):
    generation = latest_generation(segmented)
    toc = TOC.read(FileStorage(str(segmented)), "MAIN", generation)
    (tmp_path / toc_name(7)).write_bytes(toc_bytes(toc.schema, toc.segments, 7))
    assert latest_generation(tmp_path) == 7
    again = TOC.read(FileStorage(str(tmp_path)), "MAIN", 7)
    assert again.generation == 7
    assert [s.segment_id() for s in again.segments] == [s.segment_id() for s in toc.segments]
    assert again.schema.names() == toc.schema.names()
