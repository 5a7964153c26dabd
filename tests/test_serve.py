"""`vnsearch serve`: a fresh machine, any C library, rebuilds under a running server."""
from __future__ import annotations

import platform
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from vnsearch.corpus import SAMPLES_DIR
from vnsearch.indexer.build import build_index

from conftest import ROOT, SEED, SEED_CT, TRICKY, hit_ids, running_server


# --- `vnsearch serve` ------------------------------------------------------------------------

def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_serve_indexes_the_samples_on_a_fresh_machine(tmp_path):
    with running_server(tmp_path / "fresh") as base:
        with urllib.request.urlopen(base + "?q=chi+thi+35", timeout=60) as response:
            html = response.read().decode("utf-8")
    assert hit_ids(html)[:2] and set(hit_ids(html)[:2]) == {SEED, SEED_CT}
    assert "<mark>Chỉ thị</mark>" in html


@pytest.mark.parametrize("c_library", [
    lambda name: object(),                       # a C library without malloc_trim (macOS, musl)
    lambda name: (_ for _ in ()).throw(OSError),  # none that ctypes can open
])
def test_the_server_warms_up_whatever_its_c_library(app, monkeypatch, c_library):
    from vnsearch.web import server
    monkeypatch.setattr(server.ctypes, "CDLL", c_library)
    assert server.one_malloc_arena() is False
    server.warm_up(app)
    assert app.test_client().get("/?q=chi+thi+35").status_code == 200


@pytest.mark.skipif(not (sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"),
                    reason="mallopt's arena limit is glibc's")
def test_the_server_allocates_from_one_arena_on_glibc():
    # In a child process: the limit holds for the rest of a process's life.
    code = "from vnsearch.web import server; raise SystemExit(0 if server.one_malloc_arena() else 1)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_a_rebuild_under_a_running_server_fails_no_request(tmp_path):
    home = tmp_path / "index"
    build_index([SAMPLES_DIR, TRICKY], home, procs=1)
    statuses: list[int] = []
    done = threading.Event()

    def hammer(base: str) -> None:
        queries = ["dang", "chi thi 35", "ho thi hoang yen", "nong dan", "uy ban"]
        # Bounded: stops with the rebuilds, or after 3,000 requests whatever happens.
        for n in range(3000):
            if done.is_set() and n % len(queries) == 0:
                return
            query = urllib.parse.urlencode({"q": queries[n % len(queries)]})
            statuses.append(_get(f"{base}api/search?{query}"))

    with running_server(home) as base:
        assert _get(base + "api/articles/t-nfd") == 200
        worker = threading.Thread(target=hammer, args=(base,))
        worker.start()
        # Two rebuilds: the second sweeps the build the server opened first.
        for sources in ([SAMPLES_DIR], [SAMPLES_DIR]):
            build = subprocess.run([sys.executable, "-m", "vnsearch.web.cli", "index", *map(str, sources), "--index", str(home),
                                    "--quiet", "--procs", "1"], cwd=ROOT, capture_output=True, text=True)
            assert build.returncode == 0, build.stderr
        time.sleep(1.5)  # the server looks for a new index a few times a second
        done.set()
        worker.join(timeout=300)
        # The tricky articles are gone from the new index: the server sees it without a restart.
        gone = _get(base + "api/articles/t-nfd")
    assert len(statuses) > 20 and set(statuses) == {200}, f"{len(statuses)} requests: {set(statuses)}"
    assert gone == 404
