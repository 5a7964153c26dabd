"""Daily updates: add, replace and delete articles in the live index; merge segments."""
from __future__ import annotations

import json
import threading
import time

import pytest
from click.testing import CliRunner

from vnsearch.corpus import SAMPLES_DIR
from vnsearch.indexer import checksums, store
from vnsearch.indexer.build import build_index
from vnsearch.indexer.integrity import check_index
from vnsearch.indexer.update import delete_articles, optimize_index, update_index
from vnsearch.search.engine import REFRESH_SECONDS, Engine
from vnsearch.web.cli import main

S000 = "000_5c7e6b10f1f35871"


def _jsonl(path, *articles):
    path.write_text("".join(json.dumps(a, ensure_ascii=False) + "\n" for a in articles), encoding="utf-8")
    return path


@pytest.fixture
def home(tmp_path):
    build_index([SAMPLES_DIR], tmp_path / "ix", procs=1)
    return tmp_path / "ix"


def _after_refresh(engine, query):
    time.sleep(REFRESH_SECONDS + 0.1)
    return [hit.id for hit in engine.search(query).hits]


def test_update_adds_and_replaces_and_a_running_engine_sees_it(home, tmp_path):
    engine = Engine(home)
    assert "new-1" not in [hit.id for hit in engine.search("hợp tác xã nuôi tôm").hits]
    news = _jsonl(tmp_path / "news.jsonl",
                  {"id": "new-1", "title": "Hợp tác xã nuôi tôm công nghệ cao", "body": "Mô hình hợp tác xã nuôi tôm."},
                  {"id": S000, "title": "Bản đính chính", "body": "Nội dung đã được thay thế."})
    report = update_index([news], home, procs=1)
    assert (report.added, report.replaced) == (1, 1)
    assert report.segments == store.segment_count(home) >= 2
    assert _after_refresh(engine, "hop tac xa nuoi tom")[0] == "new-1"
    # The replaced article is found by its new text only, and counted once.
    assert S000 not in [hit.id for hit in engine.search("ho thi hoang yen").hits]
    assert _after_refresh(engine, "bản đính chính")[0] == S000
    with store.open_index(home).searcher() as searcher:
        assert searcher.doc_count() == 6


def test_an_update_reads_only_the_files_it_writes(home, tmp_path, monkeypatch):
    # The checksums of the segments it keeps are carried over, not read again: at 128k
    # articles reading them all took most of an update's time.
    kept = {path.name for path in store.current_build(home).iterdir()}
    read = []
    original = checksums.of_file
    monkeypatch.setattr(checksums, "of_file", lambda path: read.append(path.name) or original(path))
    update_index([_jsonl(tmp_path / "one.jsonl", {"id": "new-1", "title": "Tin mới", "body": "Một bài."})], home, procs=1)
    segment_files = {name for name in kept if name.endswith((".col", ".pst", ".trm", ".vnp"))}
    assert segment_files and read and not set(read) & segment_files
    assert check_index(home).sound


def test_updated_text_feeds_the_suggestions(home, tmp_path):
    update_index([_jsonl(tmp_path / "n.jsonl", {"id": "n", "title": "Xã Quỳnh Lưu",
                                                 "body": "Xã Quỳnh Lưu đón bằng công nhận. Huyện Quỳnh Lưu đổi mới."})],
                 home, procs=1)
    assert Engine(home).search("quynh luu").suggestion == "Quỳnh Lưu"



def test_a_running_engine_learns_an_updates_words_after_showing_it(home, tmp_path, monkeypatch):
    """An update's snapshot searches at once with the statistics it had (loading them took
    half a second at 128k articles), and takes the update's own soon after, completions too."""
    from vnsearch.search.ranker import Language

    engine = Engine(home)
    assert engine.search("quynh luu").suggestion is None  # loads the statistics
    before = engine._current().stats
    loaded = threading.Event()  # the update's statistics held back until the test lets them load
    original = Language.load
    monkeypatch.setattr(Language, "load", staticmethod(lambda folder: loaded.wait(10) and original(folder)))
    update_index([_jsonl(tmp_path / "n.jsonl", {"id": "n", "title": "Xã Quỳnh Lưu",
                                                 "body": "Xã Quỳnh Lưu đón bằng công nhận. Huyện Quỳnh Lưu đổi mới."})],
                 home, procs=1)
    assert _after_refresh(engine, "quynh luu") == ["n"]  # found, with the statistics borrowed
    assert engine._current().borrowed and engine._current().stats is before
    assert not any(p.lower().startswith("quỳnh lưu") for p in engine.complete("quynh").phrases)
    loaded.set()
    deadline = time.monotonic() + 10
    while engine._current().borrowed and time.monotonic() < deadline:
        time.sleep(0.05)
    assert engine.search("quynh luu").suggestion == "Quỳnh Lưu"
    assert engine._current().stats is not before
    assert any(p.lower().startswith("quỳnh lưu") for p in engine.complete("quynh").phrases)


def test_delete_removes_and_names_unknown_ids(home):
    engine = Engine(home)
    report = delete_articles([S000, "no-such-id"], home)
    assert report.deleted == 1 and report.missing == ["no-such-id"]
    assert S000 not in _after_refresh(engine, "ho thi hoang yen")
    assert engine.article(S000) is None


def test_optimize_merges_the_updates_segments(home, tmp_path):
    """The build's segment stays; the updates' are merged into one."""
    for n in range(3):
        update_index([_jsonl(tmp_path / f"u{n}.jsonl", {"id": f"u{n}", "title": f"Tin số {n}", "body": "Nội dung."})],
                     home, procs=1)
    assert store.segment_count(home) > 2
    optimize_index(home)
    assert store.segment_count(home) == 2
    assert {hit.id for hit in Engine(home).search("tin so").hits[:3]} == {"u0", "u1", "u2"}


def test_second_writer_fails_clearly_or_waits(home, tmp_path):
    news = _jsonl(tmp_path / "n.jsonl", {"id": "w", "title": "Tin chờ", "body": "Chờ khóa."})
    with store.write_lock(home):
        with pytest.raises(store.StoreError, match="another vnsearch process is writing"):
            update_index([news], home, procs=1)
        with pytest.raises(store.StoreError, match="another vnsearch process is writing"):
            delete_articles(["w"], home)
    done = threading.Event()
    with store.write_lock(home):
        waiter = threading.Thread(target=lambda: (update_index([news], home, procs=1, wait=True), done.set()))
        waiter.start()
        time.sleep(0.5)
        assert not done.is_set()  # still waiting for the lock
    waiter.join(timeout=30)
    assert done.is_set() and Engine(home).article("w") is not None


def test_cli_update_delete_optimize(home, tmp_path):
    runner = CliRunner()
    news = _jsonl(tmp_path / "n.jsonl", {"id": "c1", "title": "Tin mới", "body": "Nội dung mới."})
    result = runner.invoke(main, ["index", "--update", str(news), "--index", str(home)])
    assert result.exit_code == 0 and "Added 1 and replaced 0 articles" in result.output
    result = runner.invoke(main, ["delete", "c1", "nope", "--index", str(home)])
    assert result.exit_code == 0 and "Deleted 1 articles." in result.output
    assert "no article with id 'nope'" in result.output
    result = runner.invoke(main, ["optimize", "--index", str(home)])
    assert result.exit_code == 0 and "Merged 2 segments into 1." in result.output
    result = runner.invoke(main, ["index", "--update", "--index", str(home)])
    assert result.exit_code != 0 and "--update needs the files" in result.output


def test_copies_of_an_index_deleting_different_articles_in_one_process(home, tmp_path):
    # Decoded postings are cached per segment for the whole process (search/segments.py),
    # and a copy of an index has the very same segments: each copy's own deletions must
    # still decide what it finds.
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(home, copy, symlinks=True)
    first, second = Engine(home), Engine(copy)
    found = sorted(hit.id for hit in first.search("tỉnh").hits)
    assert found == sorted(hit.id for hit in second.search("tỉnh").hits) and len(found) >= 2
    gone_here, gone_there = found[:2]
    delete_articles([gone_here], home)
    delete_articles([gone_there], copy)
    here, there = _after_refresh(first, "tỉnh"), _after_refresh(second, "tỉnh")
    assert gone_here not in here and gone_there in here
    assert gone_there not in there and gone_here in there
