"""The postings file beside each built segment (indexer/postings_file.py): the same
postings as Whoosh's files, whatever was deleted since, and a clear refusal when damaged."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from vnsearch.indexer import postings_file, store
from vnsearch.indexer.fields import VIEW_FIELDS
from vnsearch.indexer.integrity import check_index
from vnsearch.indexer.update import delete_articles, optimize_index, update_index
from vnsearch.indexer.whoosh_format.reading import posting_arrays
from vnsearch.search import ranker
from vnsearch.search.engine import Engine


def _whooshs(reader, field: str, term: str) -> tuple[np.ndarray, np.ndarray]:
    return posting_arrays(reader.postings(field, term))


def _every_term(reader):
    for field in VIEW_FIELDS:
        if field in reader.schema:
            for term in reader.lexicon(field):
                yield field, term.decode("utf-8") if isinstance(term, bytes) else term


def _same_as_whoosh(home: Path, every_segment_mapped: bool = True) -> int:
    """Compare the postings a search reads with Whoosh's own, for every term; how many."""
    snapshot = Engine(home)._current()
    compared = 0
    for reader, _ in snapshot._leaves():
        segment = ranker.SegmentCache.key(reader, snapshot.folder)
        assert snapshot.segments._file(reader, segment)[0] is not None or not every_segment_mapped
        for field, term in _every_term(reader):
            ours = snapshot.segments.postings(reader, segment, field, term)
            theirs = _whooshs(reader, field, term)
            assert np.array_equal(ours[0], theirs[0]) and np.array_equal(ours[1], theirs[1]), (field, term)
            compared += 1
    return compared


@pytest.fixture
def home(index_home, tmp_path) -> Path:
    return Path(shutil.copytree(index_home, tmp_path / "ix", symlinks=True))


def test_a_built_index_reads_the_same_postings_from_its_postings_files(home):
    assert _same_as_whoosh(home) > 1000


def test_deleted_articles_leave_the_postings(home):
    hits = Engine(home).search("chi thi 35").hits
    gone = hits[0].id
    delete_articles([gone], home)
    assert _same_as_whoosh(home) > 1000  # Whoosh's reader leaves deleted documents out
    assert gone not in {hit.id for hit in Engine(home).search("chi thi 35", per_page=50).hits}


def test_an_update_is_read_through_whoosh_and_a_merge_gets_its_file(home, tmp_path):
    extra = tmp_path / "extra.jsonl"
    extra.write_text('{"id": "u1", "title": "Chỉ thị 35 sửa đổi", "body": "Bộ Chính trị ban hành."}\n',
                     encoding="utf-8")
    update_index([extra], home)
    assert len(list(store.current_build(home).glob(f"*{postings_file.EXTENSION}"))) < store.segment_count(home)
    assert _same_as_whoosh(home, every_segment_mapped=False) > 1000
    optimize_index(home)
    assert store.segment_count(home) == 1
    assert check_index(home).sound  # the new file has its checksum with the others
    assert _same_as_whoosh(home) > 1000
    assert "u1" in {hit.id for hit in Engine(home).search("chi thi 35 sua doi").hits}


def test_terms_whose_hashes_clash_are_left_to_whoosh(tmp_path, monkeypatch):
    real = postings_file.term_key
    monkeypatch.setattr(postings_file, "term_key", lambda term: 7 if term in ("ab", "cd") else real(term))
    starts = np.array([0, 1, 3, 4])
    postings_file.write(tmp_path / "MAIN_x.vnp", {"f": (["ab", "cd", "ef"], starts, np.array([4, 1, 2, 9]),
                                                        np.array([1, 2, 1, 5], dtype=np.float32))})
    found = postings_file.open_for(tmp_path, "MAIN_x")
    assert found.postings("f", "ab") is None and found.postings("f", "cd") is None
    docs, freqs = found.postings("f", "ef")
    assert docs.tolist() == [9] and freqs.tolist() == [5.0]
    assert [len(a) for a in found.postings("f", "zz")] == [0, 0]
    assert found.postings("other field", "ef") is None
    assert postings_file.open_for(tmp_path, "MAIN_y") is None


def test_a_truncated_postings_file_is_reported_as_damage(home):
    build = store.current_build(home)
    for path in build.glob(f"*{postings_file.EXTENSION}"):
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(store.DamagedIndex):
        with store.reading(home):
            Engine(home).search("chi thi 35")
