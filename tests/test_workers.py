"""`vnsearch serve` with several worker processes: real processes, real HTTP.

The workers are forked after the index is loaded (web/workers.py); these tests check what
a user of the server would notice: every worker answers correctly at the same time,
sees updates, is replaced when it dies, and all of them stop with the server.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import ROOT, SERVER_START_SECONDS

# A worker restarted, or an update seen, within this long; generous for a loaded CI machine.
SETTLE_SECONDS = 30


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # The command may hold spaces and parentheses: the parent's pid follows the last ")".
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


@contextmanager
def _server(home: Path, *args: str, env: dict | None = None):
    """`vnsearch serve` in a subprocess; yields (process, base URL)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "vnsearch.web.cli", "serve", "--index", str(home), "--port", "0", "--quiet", *args],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, **(env or {})})
    output: list[str] = []
    found = threading.Event()

    def read() -> None:
        for line in process.stdout:
            output.append(line)
            if " on http://" in line:
                found.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        if not found.wait(SERVER_START_SECONDS):
            raise AssertionError("vnsearch serve did not start:\n" + "".join(output))
        url = re.search(r" on (http://127\.0\.0\.1:\d+/)", "".join(output)).group(1)
        yield process, url, output
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _search(url: str, query: str) -> dict:
    # A new connection per request: the kernel hands each to whichever worker accepts first.
    with urllib.request.urlopen(f"{url}api/search?" + urllib.parse.urlencode({"q": query}), timeout=30) as response:
        return json.loads(response.read())


def _wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + SETTLE_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {SETTLE_SECONDS} s: {what}")
        time.sleep(0.2)


@pytest.fixture()
def home(tmp_path) -> Path:
    from vnsearch.corpus import SAMPLES_DIR
    from vnsearch.indexer.build import build_index

    home = tmp_path / "index"
    build_index([SAMPLES_DIR], home, procs=1)
    return home


QUERIES = ["chi thi 35", "Hồ Thị Hoàng Yến", "hội nghị", "đảng -viên", '"ban chấp hành"', "tỉnh ủy", "dang"]


def test_workers_answer_together_as_one_process_does(home):
    # The workers reopen the index's files after the fork: sharing the parent's would
    # share their read offsets, and concurrent searches would read each other's bytes.
    with _server(home, "--workers", "1") as (_, url, _):
        expected = {q: [h["id"] for h in _search(url, q)["hits"]] for q in QUERIES}
    with _server(home, "--workers", "2") as (process, url, _):
        assert len(_children(process.pid)) == 2
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda q: (q, [h["id"] for h in _search(url, q)["hits"]]), QUERIES * 30))
    assert all(ids == expected[q] for q, ids in answers)
    assert any(expected.values())


def test_workers_from_the_environment(home):
    with _server(home, env={"VNSEARCH_WORKERS": "3"}) as (process, url, output):
        assert len(_children(process.pid)) == 3
        assert "with 3 worker processes" in "".join(output)


def test_a_killed_worker_is_replaced(home):
    with _server(home, "--workers", "2") as (process, url, output):
        first = _children(process.pid)
        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        _wait_for(lambda: len(_children(process.pid)) == 2 and victim not in _children(process.pid),
                  "a new worker in place of the killed one")
        assert all(_search(url, "hội nghị")["total"] for _ in range(10))
        assert f"Worker {victim} was killed by signal {int(signal.SIGKILL)}; starting another." in "".join(output)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stopping_the_server_stops_every_worker(home, sig):
    with _server(home, "--workers", "2") as (process, url, _):
        workers = _children(process.pid)
        assert len(workers) == 2
        process.send_signal(sig)
        assert process.wait(timeout=30) == 0

    def alive(pid: int) -> bool:
        try:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False

    _wait_for(lambda: not any(map(alive, workers)), "every worker gone")


def test_a_killed_server_does_not_leave_its_workers_holding_the_port(home):
    with _server(home, "--workers", "2") as (process, url, _):
        workers = _children(process.pid)
        process.kill()
        process.wait()
        _wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in workers), "orphaned workers gone")


def test_every_worker_sees_an_update(home, tmp_path):
    news = tmp_path / "news.jsonl"
    news.write_text(json.dumps({"id": "tin-moi", "title": "Khánh thành cầu Quỳnh Lưu",
                                "body": "Cầu Quỳnh Lưu được khánh thành sáng nay."}, ensure_ascii=False) + "\n",
                    encoding="utf-8")

    def found() -> bool:
        return "tin-moi" in [hit["id"] for hit in _search(url, "khanh thanh cau quynh luu")["hits"]]

    with _server(home, "--workers", "2") as (process, url, _):
        assert not found()
        subprocess.run([sys.executable, "-m", "vnsearch.web.cli", "index", "--update", str(news),
                        "--index", str(home), "--quiet"], check=True, cwd=ROOT)
        # Forty searches on new connections reach both workers (a worker missing the update
        # would answer about half of them with nothing).
        _wait_for(lambda: all(found() for _ in range(40)),
                  "the new article found by every search")
