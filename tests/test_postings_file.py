"""The postings files (indexer/postings_file.py): the index-wide file a build and
`optimize` write, and each segment's own, give a search the same postings as Whoosh's
files, whatever was deleted or added since; a damaged one is refused clearly."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from whoosh import index as whoosh_index
from whoosh.reading import TermNotFound

from vnsearch.indexer import postings_file, store
from vnsearch.indexer.fields import VIEW_FIELDS
from vnsearch.indexer.integrity import check_index
from vnsearch.indexer.update import delete_articles, optimize_index, update_index
from vnsearch.indexer.whoosh_format.reading import posting_arrays
from vnsearch.search.engine import Engine
from vnsearch.search.ranker import Snapshot


def _every_term(reader):
    for field in VIEW_FIELDS:
        if field in reader.schema:
            for term in reader.lexicon(field):
                yield field, term.decode("utf-8") if isinstance(term, bytes) else term


def _whooshs(snapshot: Snapshot, field: str, term: str) -> tuple[np.ndarray, np.ndarray]:
    """Whoosh's postings of `term` in every segment, numbered as the snapshot numbers them."""
    ids, freqs = [np.zeros(0, np.int64)], [np.zeros(0, np.float32)]
    for reader, offset in snapshot._leaves():
        try:
            docnums, weights = posting_arrays(reader.postings(field, term))
        except TermNotFound:
            continue
        ids.append(docnums + offset)
        freqs.append(weights)
    return np.concatenate(ids), np.concatenate(freqs)


def _same_as_whoosh(snapshot: Snapshot) -> int:
    """Compare the postings a search reads with Whoosh's own, for every term; how many."""
    terms = sorted({found for reader, _ in snapshot._leaves() for found in _every_term(reader)})
    for field, term in terms:
        ours, theirs = snapshot.postings(field, term), _whooshs(snapshot, field, term)
        assert np.array_equal(ours[0], theirs[0]) and np.array_equal(ours[1], theirs[1]), (field, term)
    return len(terms)


def _mapped(home: Path) -> tuple[int, int]:
    """(segments read from the index-wide file, segments) of the index's current snapshot."""
    snapshot = Engine(home)._current()
    return snapshot._covered, len(snapshot._leaves())


@pytest.fixture
def home(index_home, tmp_path) -> Path:
    return Path(shutil.copytree(index_home, tmp_path / "ix", symlinks=True))


def test_a_built_index_reads_the_same_postings_from_its_postings_file(home):
    build = store.current_build(home)
    assert [path.name for path in build.glob(f"*{postings_file.EXTENSION}")] == [postings_file.FILE_NAME]
    assert _mapped(home)[0] == _mapped(home)[1]
    assert _same_as_whoosh(Engine(home)._current()) > 1000
    assert check_index(home).sound


def test_the_workers_segments_become_one_file(tmp_path, monkeypatch):
    from conftest import TRICKY
    from vnsearch.corpus import SAMPLES_DIR
    from vnsearch.indexer import build as build_module
    monkeypatch.setattr(build_module, "_BATCH", 2)
    monkeypatch.setattr(build_module, "SEGMENT_ARTICLES", 3)
    build_module.build_index([SAMPLES_DIR, TRICKY], tmp_path, procs=2)
    covered, segments = _mapped(tmp_path)
    assert covered == segments >= 4
    assert [p.name for p in store.current_build(tmp_path).glob(f"*{postings_file.EXTENSION}")] == [postings_file.FILE_NAME]
    assert _same_as_whoosh(Engine(tmp_path)._current()) > 1000
    assert check_index(tmp_path).sound


def test_deleted_articles_leave_the_postings(home):
    hits = Engine(home).search("chi thi 35").hits
    gone = hits[0].id
    delete_articles([gone], home)
    assert _mapped(home)[0] == _mapped(home)[1]
    assert _same_as_whoosh(Engine(home)._current()) > 1000  # Whoosh's reader leaves deleted documents out
    assert gone not in {hit.id for hit in Engine(home).search("chi thi 35", per_page=50).hits}


def test_updates_are_read_through_whoosh_and_optimize_maps_them(home, tmp_path):
    built = store.segment_count(home)
    for n in range(2):
        extra = tmp_path / f"extra{n}.jsonl"
        extra.write_text(f'{{"id": "u{n}", "title": "Chỉ thị 35 sửa đổi lần {n}", "body": "Bộ Chính trị ban hành."}}\n',
                         encoding="utf-8")
        update_index([extra], home)
    covered, segments = _mapped(home)
    assert covered == built < segments
    assert _same_as_whoosh(Engine(home)._current()) > 1000
    optimize_index(home)
    assert store.segment_count(home) == built + 1  # the build's segments kept, the updates' merged
    assert _mapped(home) == (built + 1, built + 1)
    assert check_index(home).sound  # the new file has its checksum with the others
    assert _same_as_whoosh(Engine(home)._current()) > 1000
    assert {"u0", "u1"} <= {hit.id for hit in Engine(home).search("chi thi 35 sua doi").hits}


def test_a_snapshot_reads_only_the_segments_it_shares_with_a_newer_file(home, tmp_path):
    """A search that opened the index just before an optimize replaced the file."""
    extra = tmp_path / "extra.jsonl"
    extra.write_text('{"id": "u1", "title": "Hội nghị mới", "body": "Bộ Chính trị họp."}\n', encoding="utf-8")
    update_index([extra], home)
    build = store.current_build(home)
    searcher = whoosh_index.open_dir(str(build)).searcher()  # the generation before the optimize, its files open
    optimize_index(home)
    assert store.current_build(home) == build
    snapshot = Snapshot(searcher, build)
    assert 0 < snapshot._covered < len(snapshot._leaves())  # the file covers the optimize's new segment too
    assert _same_as_whoosh(snapshot) > 1000


def test_merging_keeps_each_terms_postings_in_the_parts_order():
    one = postings_file.keyed(["a", "b"], np.array([0, 2, 3]), np.array([0, 4, 1]), np.array([1, 2, 3], np.float32))
    two = postings_file.keyed(["b", "c"], np.array([0, 1, 3]), np.array([2, 0, 5]), np.array([4, 5, 6], np.float32))
    both = postings_file.merged([(one, 10), (None, 5), (two, 6)])
    found = {key: (both.docs[both.starts[i]:both.starts[i + 1]].tolist(), both.freqs[both.starts[i]:both.starts[i + 1]].tolist())
             for i, key in enumerate(both.keys.tolist())}
    key = postings_file.term_key
    assert found == {key("a"): ([0, 4], [1.0, 2.0]), key("b"): ([1, 17], [3.0, 4.0]), key("c"): ([15, 20], [5.0, 6.0])}


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
    """Truncated, the file loses its directory (written last)."""
    build = store.current_build(home)
    for path in build.glob(f"*{postings_file.EXTENSION}"):
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(store.DamagedIndex):
        with store.reading(home):
            Engine(home).search("chi thi 35")
