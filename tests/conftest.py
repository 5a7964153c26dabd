from __future__ import annotations

import gzip
import json
import re
from itertools import islice
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "corpus" / "samples"
SHARED_CORPUS = ROOT.parent / "shared" / "corpus" / "vietnews-test.jsonl.gz"


@pytest.fixture(scope="session")
def seed_texts() -> dict[str, str]:
    return {p.stem: p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))}


@pytest.fixture(scope="session")
def shared_articles() -> list[dict]:
    """The first 500 articles of the shared real-world corpus."""
    if not SHARED_CORPUS.exists():
        pytest.skip(f"shared corpus not found at {SHARED_CORPUS}")
    with gzip.open(SHARED_CORPUS, "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in islice(lines, 500)]



# --- The web front end (tests/test_web.py, tests/test_browser.py). Imports are local so that
# --- this block stays an addition at the end of the file.

TRICKY = ROOT / "tests" / "fixtures" / "tricky.jsonl"
# Dated articles, some of them recent for the clock below, from sources known by code.
DATED = ROOT / "tests" / "fixtures" / "dated.jsonl"
# The clock the pages of the dated index are read at: "25 phút trước" for an article of 09:35.
NOW = "2024-03-15T10:00:00"
# Building the sample index and loading pyvi take seconds; on a loaded CI machine more.
SERVER_START_SECONDS = 120


@pytest.fixture(scope="session")
def index_home(tmp_path_factory) -> Path:
    """An index of the seed articles plus the hand-written tricky ones, built once."""
    from vnsearch.corpus import SAMPLES_DIR
    from vnsearch.indexer.build import build_index

    home = tmp_path_factory.mktemp("index")
    build_index([SAMPLES_DIR, TRICKY], home, procs=2)
    return home


@pytest.fixture(scope="session")
def dated_home(tmp_path_factory) -> Path:
    """An index of the seed articles (some undated) plus the dated ones, built once."""
    from vnsearch.corpus import SAMPLES_DIR
    from vnsearch.indexer.build import build_index

    home = tmp_path_factory.mktemp("dated")
    build_index([SAMPLES_DIR, DATED], home, procs=2)
    return home


def running_server(home: Path, args: tuple[str, ...] = (), env: dict | None = None, log: list | None = None):
    """`vnsearch serve --index HOME [ARGS]` in a subprocess on a free loopback port; yields its base URL.

    Port 0 lets the system pick a free port; the URL is read from the server's first line.
    `env` adds to the environment; `log`, if given, receives every line the server prints.
    """
    import queue
    import subprocess
    import sys
    import threading
    from contextlib import contextmanager

    @contextmanager
    def serving():
        import os

        process = subprocess.Popen(
            [sys.executable, "-m", "vnsearch.web.cli", "serve", "--index", str(home), "--port", "0", *args],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, **(env or {})},
        )
        lines: queue.Queue = queue.Queue()

        def read() -> None:
            for line in process.stdout:
                lines.put(line)
                if log is not None:
                    log.append(line)
            lines.put(None)  # the server has exited

        threading.Thread(target=read, daemon=True).start()
        output: list[str] = []
        try:
            found = None
            while not found:
                try:
                    line = lines.get(timeout=SERVER_START_SECONDS)
                except queue.Empty:
                    raise AssertionError("vnsearch serve did not start:\n" + "".join(output))
                if line is None:
                    raise AssertionError(f"vnsearch serve exited with {process.wait()}:\n" + "".join(output))
                output.append(line)
                found = re.search(r" on (http://127\.0\.0\.1:\d+/)", line)
            yield found.group(1)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    return serving()


# --- Shared by the web tests (tests/test_web.py, tests/test_serve.py, tests/test_web_readers.py).

SEED = "000_5c7e6b10f1f35871"      # "Hồ Thị Hoàng Yến", "Chỉ thị số 35"
SEED_CT = "004_daafaec3709b13e9"   # "Chỉ thị số 35-CT/TW"
HOSTILE = {
    "id": "x-hostile", "title": "Tiêu đề <img src=x onerror=alert(1)> & “nháy”",
    "body": "Đoạn một có <script>alert('body')</script> trong bài.\n\nĐoạn hai <b>in đậm</b> giả.",
    "summary": "Tóm tắt <iframe src=//evil>", "author": "<svg onload=alert(2)>",
    "source": "Nguồn <i>lạ</i>", "url": "javascript:alert(3)", "date": "2021-02-03",
}


@pytest.fixture(scope="module")
def app(index_home):
    from vnsearch.web import create_app

    return create_app({"INDEX": str(index_home), "TESTING": True})


@pytest.fixture(scope="module")
def hostile_client(tmp_path_factory):
    """An index whose article text and fields carry markup, as a scraped page might."""
    from vnsearch.indexer.build import build_index
    from vnsearch.web import create_app

    folder = tmp_path_factory.mktemp("hostile")
    (folder / "hostile.jsonl").write_text(json.dumps(HOSTILE, ensure_ascii=False) + "\n", encoding="utf-8")
    build_index([folder / "hostile.jsonl", TRICKY], folder / "index", procs=1)
    return create_app({"INDEX": str(folder / "index"), "TESTING": True}).test_client()


def page(client, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def api(client, url: str, status: int = 200) -> dict:
    response = client.get(url)
    assert response.status_code == status
    assert response.mimetype == "application/json"
    return response.get_json()


def hit_ids(html: str) -> list[str]:
    return re.findall(r'class="hit-title"><a href="/article/([^"?]+)', html)


# Articles as JSON Lines records, for the reliability tests.

def record(article_id, **fields) -> dict:
    return {"id": article_id, "title": f"Hội nghị {article_id}", "body": "Nội dung hội nghị tỉnh ủy.", **fields}


def line(obj) -> str:
    return obj if isinstance(obj, str) else json.dumps(obj)  # ASCII, as \u escapes: lone surrogates survive


def no_nan(text: str):
    """json.loads that fails on NaN or Infinity, which are not JSON."""
    def reject(constant):
        raise AssertionError(f"{constant} in JSON output")
    return json.loads(text, parse_constant=reject)
