"""The index on disk when things go wrong: damaged files and a full disk.

Damaged files (a truncated copy, flipped bytes, a lost file) are found by `vnsearch
check` and are one clear error everywhere else; a full disk fails a rebuild, update,
merge or deletion in one line, with the index as it was and nothing left behind.
"""
from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from whoosh.writing import SegmentWriter

from vnsearch.corpus import SAMPLES_DIR
from vnsearch.indexer import checksums, store
from vnsearch.indexer.build import BuildError, build_index
from vnsearch.indexer.integrity import check_index
from vnsearch.indexer.whoosh_format.segment_writer import ViewSegmentWriter
from vnsearch.indexer.update import update_index
from vnsearch.search.engine import REFRESH_SECONDS, Engine
from vnsearch.web import create_app
from vnsearch.web.cli import main

from conftest import ROOT, TRICKY

QUERY = "chi thi"  # without diacritics: the search also reads lexicon.npz for its suggestion


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def home(index_home, tmp_path) -> Path:
    """A copy of the seeds + fixtures index, free to damage."""
    return Path(shutil.copytree(index_home, tmp_path / "ix", symlinks=True))


def _files(home: Path, pattern: str) -> list[Path]:
    found = sorted(store.current_build(home).glob(pattern))
    assert found, pattern
    return found


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def flip(path: Path) -> None:
    """Invert a run of bytes a third of the way in, as a bad sector or a stray write would."""
    data = bytearray(path.read_bytes())
    for i in range(len(data) // 3, min(len(data), len(data) // 3 + 64), 7):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def delete(path: Path) -> None:
    path.unlink()


READERS = {"stats", "search", "update", "web"}
DAMAGES = [
    # (files, damage, what `check` says, the commands that must refuse with the damage
    #  message; the others may answer, as flipped bytes can go unnoticed, but never crash)
    pytest.param("_MAIN_*.toc", truncate, "truncated", READERS, id="toc truncated"),
    pytest.param("*.trm", truncate, "truncated", READERS, id="term table truncated"),
    # Stats read no postings; a search reads the same postings from the postings file
    # (indexer/postings_file.py), and Whoosh's only for positions; an update merges them.
    pytest.param("*.pst", truncate, "truncated", {"update"}, id="postings truncated"),
    pytest.param("*.vnp", truncate, "truncated", {"search", "web"}, id="postings file truncated"),
    # Without its postings file a segment is read through Whoosh: only `check` notices.
    pytest.param("*.vnp", delete, "missing", set(), id="postings file deleted"),
    pytest.param("*.trm", flip, "changed since it was written", set(), id="term table flipped"),
    pytest.param("*.pst", flip, "changed since it was written", set(), id="postings flipped"),
    # Whoosh keeps field lengths in columns (there is no .fln file in Whoosh 2.7).
    pytest.param("*_body_fold_len.col", flip, "changed since it was written", set(), id="field lengths flipped"),
    # Stats read every stored document.
    pytest.param("*_stored.col", flip, "changed since it was written", {"stats"}, id="stored fields flipped"),
    pytest.param("*.pst", delete, "missing", READERS, id="postings deleted"),
    # Whoosh takes a missing column for a field no article has: only `check` notices.
    pytest.param("*.year.col", delete, "missing", set(), id="a column deleted"),
    # The accent suggestions' statistics: read by a search, and merged by an update.
    pytest.param("lexicon.npz", flip, "changed since it was written", {"search", "update", "web"},
                 id="lexicon flipped"),
    pytest.param("lexicon.npz", truncate, "truncated", {"search", "update", "web"}, id="lexicon truncated"),
    # The index itself is intact; an update refuses to record checksums it cannot carry over.
    pytest.param("checksums.json", truncate, "cannot be read", {"update"}, id="checksums truncated"),
]


def _damage(home: Path, pattern: str, how) -> list[str]:
    names = []
    for path in _files(home, pattern):
        how(path)
        names.append(path.name)
    return names


def _assert_refused_or_answered(result, home: Path, must_refuse: bool) -> None:
    """One line naming the index and `vnsearch check`, or (when allowed) an answer; never a traceback."""
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output and "Aborted!" not in result.output
    if result.exit_code == 0 and not must_refuse:
        return
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"Error: the index at {home} is damaged")
    assert f"run `vnsearch check --index {home}`" in lines[0]


@pytest.mark.parametrize("pattern, how, says, refusing", DAMAGES)
def test_check_names_the_damaged_files_and_how_to_recover(runner, home, pattern, how, says, refusing):
    assert runner.invoke(main, ["check", "--index", str(home)]).exit_code == 0
    names = _damage(home, pattern, how)
    result = runner.invoke(main, ["check", "--index", str(home)])
    assert result.exit_code == 1
    assert result.output.startswith(f"The index at {home} is damaged")
    for name in names:
        assert f"  {name}: {says}" in result.output
    assert f"To recover, rebuild it from your articles: vnsearch index PATH ... --index {home}" in result.output
    found = json.loads(runner.invoke(main, ["check", "--index", str(home), "--json"]).output)
    assert not found["sound"] and {p["file"] for p in found["current"]["problems"]} == set(names)


@pytest.mark.parametrize("command", ["stats", "search", "update"])
@pytest.mark.parametrize("pattern, how, says, refusing", DAMAGES)
def test_commands_report_a_damaged_index_in_one_line(runner, home, pattern, how, says, refusing, command):
    _damage(home, pattern, how)
    args = {"stats": ["stats"], "search": ["search", QUERY], "update": ["index", "--update", str(TRICKY)]}[command]
    result = runner.invoke(main, [*args, "--index", str(home)])
    _assert_refused_or_answered(result, home, command in refusing)
    if command == "update":
        # Whether it went through or not, an update never hides damage behind fresh checksums.
        assert not check_index(home).sound


@pytest.mark.parametrize("pattern, how, says, refusing", DAMAGES)
def test_the_web_answers_503_for_a_damaged_index(home, pattern, how, says, refusing):
    _damage(home, pattern, how)
    client = create_app({"INDEX": str(home)}).test_client()
    api = client.get(f"/api/search?q={QUERY}")
    page = client.get(f"/?q={QUERY}")
    if "web" not in refusing and api.status_code == 200:
        return
    assert api.status_code == 503 and page.status_code == 503
    message = api.get_json()["error"]["message"]
    assert message.startswith(f"the index at {home} is damaged") and "vnsearch check" in message
    assert "vnsearch check" in page.get_data(as_text=True)


def test_serve_refuses_a_damaged_index_in_one_line(runner, home):
    _damage(home, "_MAIN_*.toc", truncate)
    result = runner.invoke(main, ["serve", "--index", str(home), "--port", "0"])
    _assert_refused_or_answered(result, home, must_refuse=True)


@pytest.mark.parametrize("pattern", ["*_body_fold_len.col", "postings.vnp"])
def test_optimize_refuses_to_merge_damaged_segments(runner, home, tmp_path, pattern):
    """Merging reads every posting of the updates' segments and the postings file: damage
    it does not trip over is caught by the checksums, so that it is not copied into a new
    segment or postings file with checksums of their own."""
    news = tmp_path / "n.jsonl"
    news.write_text(json.dumps({"id": "n1", "title": "Tin mới", "body": "Nội dung."}) + "\n", encoding="utf-8")
    assert runner.invoke(main, ["index", "--update", str(news), "--index", str(home)]).exit_code == 0
    _damage(home, pattern, flip)
    result = runner.invoke(main, ["optimize", "--index", str(home)])
    _assert_refused_or_answered(result, home, must_refuse=True)
    assert not check_index(home).sound


def test_a_sound_index_checks_clean_after_every_kind_of_change(runner, home, tmp_path):
    news = tmp_path / "n.jsonl"
    news.write_text(json.dumps({"id": "n1", "title": "Tin mới", "body": "Nội dung."}) + "\n", encoding="utf-8")
    for args in (["index", "--update", str(news)], ["delete", "n1"], ["optimize"]):
        assert runner.invoke(main, [*args, "--index", str(home)]).exit_code == 0
        result = runner.invoke(main, ["check", "--index", str(home)])
        assert result.exit_code == 0, result.output
        assert result.output.startswith(f"The index at {home} is sound: ")


def test_check_offers_the_previous_build_when_it_is_intact(runner, tmp_path):
    home = tmp_path / "ix"
    build_index([SAMPLES_DIR], home, procs=1)
    build_index([SAMPLES_DIR, TRICKY], home, procs=1)
    previous = os.readlink(home / "previous")
    _damage(home, "*.pst", truncate)
    result = runner.invoke(main, ["check", "--index", str(home)])
    assert result.exit_code == 1
    assert f"or go back to the previous build, which is intact but lacks the changes made since the last " \
           f"rebuild: ln -sfn {previous} {home / 'current'}" in result.output
    # ... which then works, and checks clean.
    (home / "current").unlink()
    (home / "current").symlink_to(previous)
    assert runner.invoke(main, ["check", "--index", str(home)]).exit_code == 0


def test_an_index_without_checksums_cannot_be_verified_until_it_is_written_again(runner, home):
    (store.current_build(home) / checksums.FILE_NAME).unlink()  # as an index written before `check` existed
    result = runner.invoke(main, ["check", "--index", str(home)])
    assert result.exit_code == 1 and "checksums.json: missing: no checksums were recorded" in result.output
    assert runner.invoke(main, ["index", "--update", str(TRICKY), "--index", str(home)]).exit_code == 0
    assert runner.invoke(main, ["check", "--index", str(home)]).exit_code == 0


def test_check_without_an_index_is_one_line(runner, tmp_path):
    result = runner.invoke(main, ["check", "--index", str(tmp_path / "none")])
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: no index at {tmp_path / 'none'}: run `vnsearch index` first"


def test_a_running_engine_keeps_its_snapshot_when_a_new_generation_is_damaged(home, caplog):
    engine = Engine(home)
    before = [hit.id for hit in engine.search(QUERY).hits]
    toc = _files(home, "_MAIN_*.toc")[0]
    newer = toc.with_name("_MAIN_99.toc")  # as a commit whose table of contents was cut short
    newer.write_bytes(toc.read_bytes()[:100])
    time.sleep(REFRESH_SECONDS + 0.1)
    assert [hit.id for hit in engine.search(QUERY).hits] == before
    assert "still searching the previous generation" in caplog.text
    assert engine.article(before[0]) is not None


# --- A full disk --------------------------------------------------------------------------------

DISK_BYTES = 4 << 20


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MB tmpfs, unmounted at the end."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs to fill needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES}", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(mount: Path, leave: int) -> None:
    """Fill the disk to `leave` bytes free."""
    stat = os.statvfs(mount)
    free = stat.f_bavail * stat.f_frsize
    with open(mount / "filler", "wb") as filler:
        os.posix_fallocate(filler.fileno(), 0, free - leave)


def _leftovers(home: Path) -> list[str]:
    """Files in the index folder that no generation holds: partial segments, temporary files, failed builds."""
    build = store.current_build(home)
    kept = set(checksums.read(build).files) | {checksums.FILE_NAME, "MAIN_WRITELOCK"}
    found = [f"builds/{b.name}" for b in (home / "builds").iterdir() if b != build]
    found += [p.name for p in build.iterdir() if p.name not in kept]
    found += [p.name for p in home.iterdir() if p.name not in ("builds", "current", "write.lock")]
    return found


REBUILD = ["index", str(SAMPLES_DIR), str(TRICKY)]
UPDATE = ["index", "--update", str(TRICKY)]
DELETE = ["delete", "000_5c7e6b10f1f35871"]
KB = 1 << 10
FULL_DISK = [
    # (operation, bytes left free for an index of `size` bytes), named by where it ran out when written
    pytest.param(REBUILD, lambda size: 8 * KB, id="rebuild: a worker's segment"),
    pytest.param(REBUILD, lambda size: size - 40 * KB, id="rebuild: the lexicon, after the segments"),
    pytest.param(UPDATE, lambda size: 8 * KB, id="update: the lexicon"),
    pytest.param(UPDATE, lambda size: 100 * KB, id="update: the new segment's columns"),
    pytest.param(UPDATE, lambda size: 300 * KB, id="update: the new segment's term table"),
    # After an update: optimize merges its segment and writes the index's postings file again.
    pytest.param(["optimize"], lambda size: 8 * KB, id="optimize: the merged segment's columns"),
    pytest.param(["optimize"], lambda size: size // 8, id="optimize: the index's postings file"),
    pytest.param(DELETE, lambda size: 0, id="delete: the new segment's (empty) files"),
    pytest.param(DELETE, lambda size: 8 * KB, id="delete: the table of contents"),
]


@pytest.mark.parametrize("args, leave", FULL_DISK)
def test_a_full_disk_fails_in_one_line_and_leaves_the_index_as_it_was(index_home, small_disk, args, leave):
    home = Path(shutil.copytree(index_home, small_disk / "ix", symlinks=True))
    if args == ["optimize"]:
        update_index([TRICKY], home)
    before = Engine(home).search(QUERY).to_dict()["hits"]
    _fill(small_disk, leave(store.disk_size(home)))
    done = subprocess.run([sys.executable, "-m", "vnsearch.web.cli", *args, "--index", str(home)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: no space left on device while "), done.stderr
    assert "index is unchanged" in lines[0]
    assert Engine(home).search(QUERY).to_dict()["hits"] == before
    assert check_index(home).sound
    assert _leftovers(home) == []


# --- Why a write failed, in one line --------------------------------------------------------------

OS_ERRORS = [
    # (errno, what the line says)
    (errno.ENOSPC, "no space left on device"),
    (errno.EDQUOT, "disk quota exceeded"),
    (errno.EIO, "input/output error (is the disk failing?)"),
    (errno.EACCES, "permission denied"),
]


def _raise(number: int):
    def fail(*args, **kwargs):
        raise OSError(number, os.strerror(number), "MAIN_x.pst")
    return fail


@pytest.mark.parametrize("number, says", OS_ERRORS)
def test_a_worker_passes_the_reason_a_write_failed_to_the_build(tmp_path, monkeypatch, number, says):
    home = tmp_path / "ix"
    build_index([SAMPLES_DIR], home, procs=1)
    before = store.current_build(home)
    monkeypatch.setattr(ViewSegmentWriter, "_finalize_segment", _raise(number))  # the workers fork with it
    with pytest.raises(BuildError) as raised:
        build_index([SAMPLES_DIR, TRICKY], home, procs=2)
    assert str(raised.value) == f"{says} while building the new index at {home}; the previous index is unchanged"
    assert store.current_build(home) == before and list((home / "builds").iterdir()) == [before]


@pytest.mark.parametrize("number, says", OS_ERRORS)
def test_an_update_says_why_it_failed_and_removes_what_it_wrote(home, monkeypatch, number, says):
    original = SegmentWriter._finalize_segment

    def write_then_fail(writer):
        original(writer)  # the segment's files are complete on disk, but never committed
        _raise(number)()

    monkeypatch.setattr(SegmentWriter, "_finalize_segment", write_then_fail)
    with pytest.raises(store.StoreError) as raised:
        update_index([TRICKY], home, procs=1)
    assert str(raised.value) == f"{says} while updating the index at {home}; the index is unchanged"
    assert _leftovers(home) == [] and check_index(home).sound


def test_a_build_whose_workers_all_fail_stops_at_once(tmp_path, monkeypatch):
    """More batches than the queue holds: the parent must not wait forever to hand them out."""
    articles = tmp_path / "many.jsonl"
    articles.write_text("".join(json.dumps({"id": f"a{n}", "title": f"Tin {n}", "body": "Nội dung."}) + "\n"
                                for n in range(500)), encoding="utf-8")
    monkeypatch.setattr(ViewSegmentWriter, "add_document", _raise(errno.ENOSPC))
    outcome: list = []

    def build() -> None:
        try:
            build_index([articles], tmp_path / "ix", procs=2)
        except BuildError as error:
            outcome.append(str(error))

    worker = threading.Thread(target=build, daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert outcome == [f"no space left on device while building the new index at {tmp_path / 'ix'}; "
                       "the previous index is unchanged"]


def test_check_is_not_fooled_by_updates_committing_while_it_reads(home, tmp_path):
    news = [tmp_path / f"n{n}.jsonl" for n in range(6)]
    for n, path in enumerate(news):
        path.write_text(json.dumps({"id": f"n{n}", "title": f"Tin {n}", "body": "Nội dung."}) + "\n",
                        encoding="utf-8")
    updating = threading.Thread(target=lambda: [update_index([path], home, procs=1) for path in news])
    updating.start()
    reports = []
    while updating.is_alive():
        reports.append(check_index(home))
    updating.join()
    assert reports and all(report.sound for report in reports), [r.current.problems for r in reports if not r.sound]
