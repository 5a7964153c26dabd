"""`vnsearch serve` over raw sockets: slow and idle clients do not lock others out, and
requests waitress or Flask reject never end in a 500.

Loopback only, every loop bounded; latency figures belong to bench/slow_clients.py.
"""
from __future__ import annotations

import http.client
import random
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

import pytest

from vnsearch.web import server

from conftest import ROOT, running_server

SLOW = 200
# A normal request must be answered within this long while the slow crowd hangs: generous,
# since the test machine may be busy, yet far below the 30 s or more the crowd used to cost.
ANSWER_SECONDS = 10
# The crowd's thread gives up after this long whatever happens to the test.
CROWD_SECONDS = 60


@pytest.fixture(scope="module")
def port(index_home):
    with running_server(index_home) as base:
        yield urllib.parse.urlsplit(base).port


class SlowCrowd:
    """`size` connections that never finish a request: half send nothing, half send a
    request line and then one header line every 1 to 2 s (slowloris)."""

    def __init__(self, port: int, size: int):
        self.socks = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(size)]
        for sock in self.socks:
            sock.setblocking(False)  # a few bytes at a time: sends never wait, peeks never block
        self.trickling = self.socks[size // 2:]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._trickle, daemon=True)

    def __enter__(self) -> "SlowCrowd":
        for sock in self.trickling:
            sock.send(b"GET /?q=slow HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(10)
        for sock in self.socks:
            sock.close()

    def _trickle(self) -> None:
        rng = random.Random(0)
        due = {sock: time.monotonic() + rng.uniform(1, 2) for sock in self.trickling}
        deadline = time.monotonic() + CROWD_SECONDS
        lines = 0
        while not self.stop.wait(0.1) and time.monotonic() < deadline:
            for sock, when in due.items():
                if when <= time.monotonic():
                    lines += 1
                    try:
                        sock.send(b"X-Slow-%d: 1\r\n" % lines)
                    except OSError:
                        pass  # closed by the server: hanging() tells
                    due[sock] = time.monotonic() + rng.uniform(1, 2)

    def hanging(self) -> int:
        """Connections still open with no answer from the server."""
        count = 0
        for sock in self.socks:
            try:
                sock.recv(1, socket.MSG_PEEK)
            except BlockingIOError:
                count += 1
            except OSError:
                pass
        return count


def visit(port: int, path: str) -> tuple[int, float]:
    """(status, seconds) of one request on a new connection, as a new visitor makes it."""
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=ANSWER_SECONDS)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status, time.monotonic() - started
    except TimeoutError:
        return 0, time.monotonic() - started
    finally:
        connection.close()


def test_slow_and_silent_connections_do_not_lock_others_out(port):
    # Waitress used to accept 100 connections and no more: 200 such clients stopped
    # everyone else until they left (or, silent ones, for 2 to 2.5 minutes).
    with SlowCrowd(port, SLOW) as crowd:
        time.sleep(2)  # the crowd in place, the first header lines sent
        answers = []
        for path in ["/api/search?q=chi+thi+35", "/"] * 3:
            answers.append(visit(port, path))
            time.sleep(0.5)  # spread over the trickle's pace
        still = crowd.hanging()
    assert [status for status, _ in answers] == [200] * 6, answers
    assert max(seconds for _, seconds in answers) < ANSWER_SECONDS
    # The crowd was there all along: the server served others without dropping it.
    assert still >= SLOW * 0.95, f"only {still} of {SLOW} slow connections were still open"


@pytest.mark.parametrize("soft", [256, 1024, 4096])
def test_the_connection_limit_follows_the_open_file_limit(soft):
    hard = server.resource.getrlimit(server.resource.RLIMIT_NOFILE)[1]
    if hard != server.resource.RLIM_INFINITY and hard < soft:
        pytest.skip(f"the hard limit on open files is {hard}")
    # In a child process: the limit is the process's own.
    code = ("import resource; from vnsearch.web import server; "
            f"resource.setrlimit(resource.RLIMIT_NOFILE, ({soft}, {hard})); "
            "limit = server.waitress_options()['connection_limit']; "
            "print(limit, resource.getrlimit(resource.RLIMIT_NOFILE)[0])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    limit, raised = map(int, out.split())
    wanted = server.MAX_CONNECTIONS + server.RESERVED_FILES
    # Raised towards what the connections need, as far as the hard limit allows, never lowered.
    assert raised == max(soft, wanted if hard == server.resource.RLIM_INFINITY else min(wanted, hard))
    # Connections never take the files the index and the model need.
    assert 100 <= limit <= min(server.MAX_CONNECTIONS, raised - server.RESERVED_FILES // 2)
    if raised >= wanted:
        assert limit == server.MAX_CONNECTIONS


def raw(port: int, request: bytes) -> bytes:
    """The server's answer to `request` sent as is, up to the end of its headers."""
    with socket.create_connection(("127.0.0.1", port), timeout=ANSWER_SECONDS) as sock:
        sock.sendall(request)
        answer = b""
        while b"\r\n\r\n" not in answer and len(answer) < 65536:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    return answer


HOST = b"Host: 127.0.0.1\r\nConnection: close\r\n"


@pytest.mark.parametrize("request_bytes, status", [
    # Headers past 32 KB: refused before any thread sees them.
    (b"GET / HTTP/1.1\r\n" + HOST + b"X-Big: " + b"a" * 40_000 + b"\r\n\r\n", 431),
    # A body no GET route reads: refused at once, not read and spooled to disk.
    (b"POST / HTTP/1.1\r\n" + HOST + b"Content-Length: 100000000\r\n\r\n", 413),
    # A Host werkzeug cannot bind (a label over 63 characters, an empty label): a 400, not a 500.
    (b"GET / HTTP/1.1\r\nHost: " + b"a" * 70 + b".com\r\nConnection: close\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: a..b\r\nConnection: close\r\n\r\n", 400),
    # No such port (over a socket: some werkzeug versions' test client fails on it first).
    (b"GET /opensearch.xml HTTP/1.1\r\nHost: evil.com:99999\r\nConnection: close\r\n\r\n", 200),
    # Broken percent-encoding is text, not an error.
    (b"GET /?q=%E0%A4%A HTTP/1.1\r\n" + HOST + b"\r\n", 200),
    (b"GET /article/%ff%fe HTTP/1.1\r\n" + HOST + b"\r\n", 404),
    # Raw bytes outside ASCII in the request line: waitress's 400.
    ("GET /?q=Đảng HTTP/1.1\r\n".encode() + HOST + b"\r\n", 400),
    (b"HEAD /api/search?q=dang HTTP/1.1\r\n" + HOST + b"\r\n", 200),
    (b"OPTIONS / HTTP/1.1\r\n" + HOST + b"\r\n", 200),
    (b"TRACE / HTTP/1.1\r\n" + HOST + b"\r\n", 405),
])
def test_odd_requests_get_a_clear_answer(port, request_bytes, status):
    answer = raw(port, request_bytes)
    assert answer.split(b" ", 2)[1] == str(status).encode(), answer[:300]


@pytest.mark.parametrize("request_bytes", [
    b"GET /opensearch.xml HTTP/1.0\r\n\r\n",
    b"GET http://evil.com/opensearch.xml HTTP/1.1\r\nConnection: close\r\n\r\n",
])
def test_without_a_host_the_opensearch_description_has_paths(port, request_bytes):
    with socket.create_connection(("127.0.0.1", port), timeout=ANSWER_SECONDS) as sock:
        sock.sendall(request_bytes)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.") and b" 200 " in answer.split(b"\r\n")[0]
    assert re.findall(rb'template="(.)', answer) == [b"/", b"/"]  # not waitress.invalid, not evil.com
