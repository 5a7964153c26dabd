"""The `vnsearch` command line, as a user runs it."""
from __future__ import annotations

import gzip
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from vnsearch.corpus import SAMPLES_DIR
from vnsearch.indexer import store
from vnsearch.web.cli import main

from conftest import ROOT, SHARED_CORPUS

README = (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.fixture
def runner():
    return CliRunner()


def test_every_command_has_help_and_is_in_the_readme(runner):
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0
    for name, command in main.commands.items():
        assert command.help, f"{name} has no help text"
        assert runner.invoke(main, [name, "--help"]).exit_code == 0
        assert f"vnsearch {name}" in README, f"`vnsearch {name}` is not in the README"


def test_index_then_stats(runner, tmp_path):
    result = runner.invoke(main, ["index", "--index", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert re.search(r"Indexed 5 articles, skipped 0 in [\d.]+ s", result.output)
    result = runner.invoke(main, ["stats", "--index", str(tmp_path)])
    assert result.exit_code == 0
    assert re.search(r"Articles:\s+5\b", result.output)
    assert "BDK.VN" in result.output and "2020-12-15" in result.output


def test_index_location_from_environment(runner, tmp_path, monkeypatch):
    monkeypatch.setenv("VNSEARCH_INDEX", str(tmp_path / "from-env"))
    assert runner.invoke(main, ["index", "--quiet"]).exit_code == 0
    assert store.current_build(tmp_path / "from-env") is not None


def test_bad_files_are_named_and_skipped(runner, tmp_path):
    folder = tmp_path / "articles"
    folder.mkdir()
    for seed in SAMPLES_DIR.glob("*.txt"):
        (folder / seed.name).write_bytes(seed.read_bytes())
    (folder / "latin1.txt").write_bytes("Hội nghị Đảng ủy".encode("utf-8")[:3] + "café olé".encode("latin-1"))
    (folder / "empty.txt").write_bytes(b"")
    good = gzip.compress(b'{"id": "x1", "title": "T", "body": "B"}\n' * 200)
    (folder / "cut.jsonl.gz").write_bytes(good[: len(good) // 2])
    result = runner.invoke(main, ["index", str(folder), "--index", str(tmp_path / "ix")])
    assert result.exit_code == 0, result.output
    for name in ("latin1.txt", "empty.txt", "cut.jsonl.gz"):
        assert re.search(rf"warning: .*{re.escape(name)}", result.output), name
    assert re.search(r"Indexed 5 articles, skipped 3\b", result.output)


@pytest.mark.parametrize("args, message", [
    (["index", "no/such/folder"], "no such file or folder: no/such/folder"),
    (["stats", "--index", "no/such/index"], "no index at no/such/index"),
])
def test_user_mistakes_print_one_line(runner, args, message):
    result = runner.invoke(main, args)
    assert result.exit_code != 0
    assert result.output.strip() == f"Error: {message}: run `vnsearch index` first" \
        or result.output.strip() == f"Error: {message}"
    assert "Traceback" not in result.output


@pytest.fixture
def busy_port():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        yield busy.getsockname()[1]


UNKNOWN_HOST = "not an address or a host name this machine knows"


@pytest.mark.parametrize("args, message", [
    # Hosts that are no address: each reported before anything is bound or indexed.
    (["--host", "999.1.1.1", "--port", "0"], f"cannot listen on 999.1.1.1:0: {UNKNOWN_HOST}"),
    (["--host", "", "--port", "0"], f"cannot listen on :0: {UNKNOWN_HOST}"),
    (["--host", "127.0.0.1:80", "--port", "0"], f"cannot listen on 127.0.0.1:80:0: {UNKNOWN_HOST}"),
    (["--host", "a" * 300, "--port", "0"], f"cannot listen on {'a' * 300}:0: {UNKNOWN_HOST}"),
    # Another server has the port.
    (["--port", "{busy}"], "cannot listen on 127.0.0.1:{busy}: Address already in use"),
    (["--port", "70000"], "Invalid value for '--port': 70000 is not in the range 0<=x<=65535."),
    (["--base-url", "javascript:alert(1)"],
     "Invalid value for '--base-url': 'javascript:alert(1)' is not an http:// or https:// address with a plain host name"),
    (["--base-url", "https://tim.example.vn/?q=1"],
     "Invalid value for '--base-url': 'https://tim.example.vn/?q=1' has more than a scheme, host and path"),
])
def test_serve_mistakes_print_one_line(runner, tmp_path, busy_port, args, message):
    home = tmp_path / "index"
    args = [arg.format(busy=busy_port) for arg in args]
    result = runner.invoke(main, ["serve", "--index", str(home), *args])
    assert result.exit_code != 0
    assert result.output.strip().splitlines()[-1] == "Error: " + message.format(busy=busy_port)
    assert "Traceback" not in result.output
    assert not home.exists()  # nothing indexed before the mistake was found


def test_unwritable_index_folder_is_a_clear_error(runner, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = runner.invoke(main, ["index", "--index", str(blocker / "ix")])
    assert result.exit_code != 0
    assert result.output.startswith("Error: cannot write to the index folder")
    assert "Traceback" not in result.output


def _start_big_build(home: Path) -> subprocess.Popen:
    if not SHARED_CORPUS.exists():
        pytest.skip(f"shared corpus not found at {SHARED_CORPUS}")
    return subprocess.Popen(
        [sys.executable, "-m", "vnsearch.web.cli", "index", str(SHARED_CORPUS), "--index", str(home)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _wait_for_build_folder(home: Path, before: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if any(p.resolve() != before for p in (home / "builds").iterdir()):
            time.sleep(2)  # let it write something
            return
        time.sleep(0.1)
    pytest.fail("the build never started")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_interrupted_build_leaves_the_previous_index(runner, tmp_path, sig):
    home = tmp_path / "ix"
    assert runner.invoke(main, ["index", "--index", str(home), "--quiet"]).exit_code == 0
    before = store.current_build(home)
    process = _start_big_build(home)
    try:
        _wait_for_build_folder(home, before)
        process.send_signal(sig)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode != 0
    if sig == signal.SIGINT:
        assert "interrupted; the previous index is unchanged" in err
        assert "Traceback" not in err
    assert store.current_build(home) == before
    result = runner.invoke(main, ["stats", "--index", str(home)])
    assert re.search(r"Articles:\s+5\b", result.output)
    # The next build sweeps whatever the interrupted one left behind.
    assert runner.invoke(main, ["index", "--index", str(home), "--quiet"]).exit_code == 0
    assert len(list((home / "builds").iterdir())) == 2
