"""Building, publishing and protecting the index."""
from __future__ import annotations

import numpy as np
import pytest
from whoosh.query import And, Phrase, Term

from vnsearch.corpus import SAMPLES_DIR
from vnsearch.indexer import build as build_module
from vnsearch.indexer import store
from vnsearch.indexer.build import BuildError, build_index
from vnsearch.indexer.stats import index_stats


def _ids(home, query) -> set[str]:
    with store.open_index(home).searcher() as searcher:
        return {hit["id"] for hit in searcher.search(query, limit=None)}


@pytest.fixture(scope="module")
def seed_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("index")
    report = build_index([SAMPLES_DIR], home, procs=2)
    assert report.indexed == 5 and report.skipped == 0
    return home


def test_every_view_finds_the_seed_name(seed_home):
    name = "000_5c7e6b10f1f35871"
    assert name in _ids(seed_home, Phrase("body_fold", ["ho", "thi", "hoang", "yen"]))
    assert name in _ids(seed_home, And([Term("body_acc", s) for s in ["hồ", "thị", "hoàng", "yến"]]))
    assert name in _ids(seed_home, Term("body_pairs", "hoang_yen"))
    assert name in _ids(seed_home, Term("body_words", "chỉ thị"))


def test_old_tone_placement_is_found_by_the_new(seed_home):
    # Seed 001 writes "Đảng uỷ"; the index holds the classic "ủy" and the compound "đảng ủy".
    assert "001_de029e4bea4c9909" in _ids(seed_home, Term("body_acc", "ủy"))
    assert "001_de029e4bea4c9909" in _ids(seed_home, Term("body_words", "đảng ủy"))


def test_document_code_is_indexed_as_its_syllables(seed_home):
    assert _ids(seed_home, Phrase("body_fold", ["35", "ct", "tw"])) == {"004_daafaec3709b13e9"}


def test_stored_fields_keep_the_original_text(seed_home):
    with store.open_index(seed_home).searcher() as searcher:
        doc = searcher.document(id="001_de029e4bea4c9909")
    assert "Đảng uỷ" in doc["body"]
    assert doc["source"] == "ĐTO"
    assert doc["date"].startswith("2022-01-18")
    assert doc["year"] == 2022


def test_stats_describe_the_index(seed_home):
    figures = index_stats(seed_home)
    assert figures["articles"] == 5
    assert figures["sources"]["BDK.VN"] == 1
    assert figures["dates"]["first"] == "2020-12-15"
    assert figures["dates"]["last"] == "2022-01-18"
    assert figures["bytes"] > 10_000


def test_failed_build_leaves_the_previous_index(tmp_path, monkeypatch):
    build_index([SAMPLES_DIR], tmp_path, procs=1)
    before = store.current_build(tmp_path)
    real = build_module.to_document
    calls = []

    def crash_on_third(article, *rest):
        calls.append(article.id)
        if len(calls) == 3:
            raise RuntimeError("disk on fire")
        return real(article, *rest)

    monkeypatch.setattr(build_module, "to_document", crash_on_third)
    with pytest.raises(BuildError, match="disk on fire"):
        build_index([SAMPLES_DIR], tmp_path, procs=1)
    assert store.current_build(tmp_path) == before
    assert len(_ids(tmp_path, Term("body_fold", "dang"))) == 5
    # The half-written build is gone; only the published one remains.
    assert [p.resolve() for p in (tmp_path / "builds").iterdir()] == [before]


def test_build_with_nothing_readable_keeps_the_previous_index(tmp_path):
    build_index([SAMPLES_DIR], tmp_path, procs=1)
    before = store.current_build(tmp_path)
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(BuildError):
        build_index([empty], tmp_path, procs=1)
    assert store.current_build(tmp_path) == before


def test_rebuild_replaces_and_keeps_one_previous(tmp_path):
    for _ in range(3):
        build_index([SAMPLES_DIR], tmp_path, procs=1)
    builds = sorted((tmp_path / "builds").iterdir())
    assert len(builds) == 2
    assert store.current_build(tmp_path) == builds[-1].resolve()
    assert (tmp_path / "previous").resolve() == builds[0].resolve()


def test_second_writer_is_refused_with_a_clear_message(tmp_path):
    with store.write_lock(tmp_path):
        with pytest.raises(store.StoreError, match="another vnsearch process"):
            build_index([SAMPLES_DIR], tmp_path, procs=1)


def test_duplicate_ids_keep_the_first_copy(tmp_path):
    data = tmp_path / "dup.jsonl"
    data.write_text(
        '{"id": "a", "title": "Bản một", "body": "Nội dung thứ nhất"}\n'
        '{"id": "a", "title": "Bản hai", "body": "Nội dung thứ hai"}\n', encoding="utf-8")
    problems = []
    report = build_index([data], tmp_path / "ix", procs=1, on_problem=problems.append)
    assert (report.indexed, report.duplicates, report.skipped) == (1, 1, 1)
    assert "duplicate id 'a'" in str(problems[0]) and "dup.jsonl:2" in str(problems[0])
    with store.open_index(tmp_path / "ix").searcher() as searcher:
        assert searcher.document(id="a")["title"] == "Bản một"


def test_open_index_without_a_build_says_what_to_do(tmp_path):
    with pytest.raises(store.StoreError, match="vnsearch index"):
        store.open_index(tmp_path)


def test_lexicon_round_trips_through_its_compact_file(tmp_path):
    from vnsearch.indexer.lexicon import Lexicon, SyllableStats
    from vnsearch.indexer.normalize import normalize
    lexicon = Lexicon()
    texts = [seed.read_text(encoding="utf-8") for seed in SAMPLES_DIR.glob("*.txt")]
    for text in texts:
        lexicon.add_text(text)
    lexicon.save(tmp_path)
    stats = SyllableStats.load(tmp_path)
    lowered = " ".join(normalize(text) for text in texts).lower()
    assert stats.count("hoàng") == lowered.count("hoàng") > 0
    hoang, yen = stats.vocab.find("hoàng"), stats.vocab.find("yến")
    row = stats.pair_index(np.array([hoang]), np.array([yen]))[0]
    assert stats.pair_counts[row] == 4
    assert stats.second_capitals[row] == 4  # "Yến" is always written with a capital
    assert stats.pair_index(np.array([yen]), np.array([hoang]))[0] == -1


def _saved_lexicon(folder, text: str):
    from vnsearch.indexer.lexicon import Lexicon
    lexicon = Lexicon()
    lexicon.add_text(text)
    lexicon.save(folder)
    return lexicon


def test_searches_read_the_saved_lexicon_in_place(tmp_path):
    """Memory-mapped, not read into each process: the same arrays, read-only."""
    from vnsearch.indexer.lexicon import load_arrays, map_arrays
    _saved_lexicon(tmp_path, "\n".join(seed.read_text(encoding="utf-8") for seed in SAMPLES_DIR.glob("*.txt")))
    loaded, mapped = load_arrays(tmp_path), map_arrays(tmp_path)
    assert sorted(mapped) == sorted(loaded)
    for name, array in loaded.items():
        assert mapped[name].dtype == array.dtype and mapped[name].shape == array.shape, name
        assert np.array_equal(mapped[name], array), name
        assert not mapped[name].flags.writeable and not mapped[name].flags.owndata, name
    assert map_arrays(tmp_path / "nowhere") is None


def _member_starts(path) -> dict[str, int]:
    """Where each member's bytes start in a zip file."""
    import struct
    import zipfile
    raw = path.read_bytes()
    starts = {}
    for member in zipfile.ZipFile(path).infolist():
        name_length, extra_length = struct.unpack_from("<26xHH", raw, member.header_offset)
        starts[member.filename] = member.header_offset + 30 + name_length + extra_length
    return starts


def test_saved_arrays_start_aligned_whatever_comes_before_them(tmp_path):
    """NumPy copies an unaligned array on every search in it: 15 ms a query on a lexicon
    whose pair keys np.savez had left 4 bytes off an 8-byte boundary."""
    from vnsearch.indexer.lexicon import FILE_NAME, map_arrays, save_arrays
    keys = np.arange(1000, dtype=np.int64)
    for size in range(1, 17):  # the vocabulary's length decides where the members after it fall
        save_arrays(tmp_path, {"vocab": np.array("x" * size), "pair_keys": keys})
        assert all(start % 64 == 0 for start in _member_starts(tmp_path / FILE_NAME).values()), size
        mapped = map_arrays(tmp_path)["pair_keys"]
        assert mapped.flags.aligned and not mapped.flags.owndata and np.array_equal(mapped, keys), size


def test_a_lexicon_saved_unaligned_is_read_aligned(tmp_path):
    """Indexes written before the lexicon's members were aligned."""
    from vnsearch.indexer.lexicon import FILE_NAME, map_arrays
    keys = np.arange(1000, dtype=np.int64)
    unaligned = 0
    for size in range(1, 17):
        np.savez(tmp_path / FILE_NAME, vocab=np.array("x" * size), pair_keys=keys)
        unaligned += _member_starts(tmp_path / FILE_NAME)["pair_keys.npy"] % 8 != 0
        mapped = map_arrays(tmp_path)["pair_keys"]
        assert mapped.flags.aligned and np.array_equal(mapped, keys), size
    assert unaligned  # np.savez did leave some unaligned


def test_a_lexicon_compressed_by_another_writer_still_opens(tmp_path):
    from vnsearch.indexer.lexicon import FILE_NAME, SyllableStats, load_arrays
    _saved_lexicon(tmp_path, "Hồ Thị Hoàng Yến gặp Hồ Thị Hoàng Yến.")
    np.savez_compressed(tmp_path / FILE_NAME, **load_arrays(tmp_path))
    stats = SyllableStats.load(tmp_path)
    assert stats.count("hoàng") == 2 and list(stats.vocab)[:2] == ["gặp", "hoàng"]


def test_a_lexicon_read_before_an_update_keeps_its_counts(tmp_path):
    """An update puts a new file in place; a server reading the old one goes on reading it."""
    from vnsearch.indexer.lexicon import SyllableStats
    _saved_lexicon(tmp_path, "đảng viên")
    before = SyllableStats.load(tmp_path)
    _saved_lexicon(tmp_path, "đảng đảng đảng viên")
    assert before.count("đảng") == 1 and SyllableStats.load(tmp_path).count("đảng") == 3


def test_each_fold_lists_its_written_forms_the_most_frequent_first():
    from vnsearch.indexer.lexicon import Lexicon, SyllableStats
    lexicon = Lexicon()
    lexicon.add_text("đang đang đang, Đảng đảng, đáng, dang. Hà Nội. 35")
    stats = SyllableStats(lexicon.arrays())
    forms = [stats.vocab[i] for i in stats.forms("dang")]
    assert forms == ["đang", "đảng", "dang", "đáng"]  # equally frequent: in alphabetical order
    assert [stats.vocab[i] for i in stats.forms("noi")] == ["nội"] and [stats.vocab[i] for i in stats.forms("35")] == ["35"]
    assert len(stats.forms("dan")) == 0 and len(stats.forms("")) == 0
    counts = dict(zip(stats.folds, stats.form_counts(2).tolist()))
    assert counts["dang"] == 5 and counts["ha"] == 1  # the two most frequent forms only
    assert stats.vocab[stats.vocab.find("đảng")] == "đảng" and stats.vocab.find("Đảng") == -1  # lowercase only


@pytest.mark.parametrize("groups", [[0, 0, 1, 1, 1], [0, 1, 2, 2, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 0]])
def test_workers_lexicons_merge_into_the_lexicon_of_all_their_text(groups):
    """However the texts are split (a worker's segments, an update's one article merged
    into the whole index's lexicon), the merge is the lexicon of all of them."""
    from vnsearch.indexer.lexicon import Lexicon, merge_arrays
    texts = [seed.read_text(encoding="utf-8") for seed in sorted(SAMPLES_DIR.glob("*.txt"))]
    texts[-1] += " Zzyzx ẞtraße 北京"  # syllables no other text has, sorting first and last
    whole, parts = Lexicon(), [Lexicon() for _ in range(max(groups) + 1)]
    for text, group in zip(texts, groups):
        whole.add_text(text)
        parts[group].add_text(text)
    merged, expected = merge_arrays([part.arrays() for part in parts]), whole.arrays()
    assert sorted(merged) == sorted(expected)
    for name in expected:
        assert merged[name].dtype == expected[name].dtype, name
        assert np.array_equal(merged[name], expected[name]), name
    assert len(expected["pair_keys"]) > 1000



def test_an_update_of_known_syllables_merges_into_the_lexicon():
    """An update whose syllables and pairs the index holds already (no new syllable, so
    nothing renumbered) adds its counts to theirs."""
    from vnsearch.indexer.lexicon import Lexicon, merge_arrays
    texts = [seed.read_text(encoding="utf-8") for seed in sorted(SAMPLES_DIR.glob("*.txt"))]
    index, update, expected = Lexicon(), Lexicon(), Lexicon()
    for text in texts:
        index.add_text(text)
        expected.add_text(text)
    update.add_text(texts[0])
    expected.add_text(texts[0])
    merged, wanted = merge_arrays([update.arrays(), index.arrays()]), expected.arrays()
    for name in wanted:
        assert np.array_equal(merged[name], wanted[name]), name

def test_workers_start_new_segments_past_their_size_limit(tmp_path, monkeypatch):
    """Memory stays bounded on big archives: each worker cuts its articles into several
    segments, and the index holds and finds every article all the same."""
    from conftest import TRICKY
    from vnsearch.search.engine import Engine
    monkeypatch.setattr(build_module, "_BATCH", 2)
    monkeypatch.setattr(build_module, "SEGMENT_ARTICLES", 3)
    report = build_index([SAMPLES_DIR, TRICKY], tmp_path, procs=2)
    assert report.indexed == 15
    assert store.segment_count(tmp_path) >= 4
    hits = Engine(tmp_path).search("ho thi hoang yen").hits
    assert hits and "Hồ Thị Hoàng Yến" in hits[0].snippet.replace("<mark>", "").replace("</mark>", "")


def test_the_lexicon_refuses_more_syllables_than_its_pair_keys_hold(monkeypatch):
    """Past the key width pairs would collide silently; it must fail loudly instead."""
    from vnsearch.indexer import lexicon
    counts = lexicon.Lexicon()
    counts.add_text("một hai ba bốn năm sáu")
    assert len(lexicon.SyllableStats(counts.arrays()).vocab) == 6
    monkeypatch.setattr(lexicon, "_MASK", 5)
    with pytest.raises(OverflowError, match="6 distinct syllables"):
        counts.arrays()
