"""One line per request in the Common Log Format, as web servers write them, for `vnsearch serve`.

    127.0.0.1 - - [15/Mar/2024:10:00:00 +0700] "GET /?q=chi+thi+35 HTTP/1.1" 200 8431

Waitress logs no requests itself, and paste's TransLogger would be a dependency for
these few lines. The line is written when the response has been sent (its size is
known then), one `write` per line so that threads do not interleave.
"""
from __future__ import annotations

import sys
import time
from typing import Callable, Iterable, TextIO
from urllib.parse import quote

# English month names whatever the locale: log readers (goaccess, awstats) expect them.
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Printable ASCII but the quote and the backslash: a request line can hold anything, and
# a newline or a quote in it would forge a line or a field.
_SAFE = "".join(chr(c) for c in range(0x21, 0x7f) if chr(c) not in '"\\')


def _timestamp(seconds: float) -> str:
    local = time.localtime(seconds)
    offset = local.tm_gmtoff // 60
    sign = "-" if offset < 0 else "+"
    return (f"{local.tm_mday:02d}/{_MONTHS[local.tm_mon - 1]}/{local.tm_year}:"
            f"{local.tm_hour:02d}:{local.tm_min:02d}:{local.tm_sec:02d} {sign}{abs(offset) // 60:02d}{abs(offset) % 60:02d}")


def _request_line(environ: dict) -> str:
    # WSGI gives the path as bytes decoded as Latin-1: encode back to the bytes sent.
    path = (environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")).encode("latin-1", "replace")
    target = quote(path, safe=_SAFE)
    if environ.get("QUERY_STRING"):
        target += "?" + quote(environ["QUERY_STRING"].encode("latin-1", "replace"), safe=_SAFE)
    method = quote(environ.get("REQUEST_METHOD", "-").encode("latin-1", "replace"), safe=_SAFE)
    protocol = quote(environ.get("SERVER_PROTOCOL", "-").encode("latin-1", "replace"), safe=_SAFE)
    return f"{method} {target} {protocol}"


class AccessLog:
    """WSGI middleware writing a Common Log Format line for every request to `stream`."""

    def __init__(self, app: Callable, stream: TextIO | None = None):
        self.app = app
        self.stream = stream

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        received = time.time()
        status = ["-"]

        def recording(code: str, headers: list, exc_info=None):
            status[0] = code.split(" ", 1)[0]
            return start_response(code, headers, exc_info) if exc_info else start_response(code, headers)

        body = self.app(environ, recording)
        return _Sent(body, lambda size: self._write(environ, received, status[0], size))

    def _write(self, environ: dict, received: float, status: str, size: int) -> None:
        host = environ.get("REMOTE_ADDR") or "-"
        line = f'{host} - - [{_timestamp(received)}] "{_request_line(environ)}" {status} {size or "-"}\n'
        stream = self.stream or sys.stderr  # looked up late: tests and daemons replace stderr
        stream.write(line)
        stream.flush()


class _Sent:
    """The response body, counted as the server sends it; logs once the server closes it."""

    def __init__(self, body: Iterable[bytes], done: Callable[[int], None]):
        self.body = body
        self.done = done
        self.size = 0

    def __iter__(self):
        for chunk in self.body:
            self.size += len(chunk)
            yield chunk

    def close(self) -> None:
        try:
            if hasattr(self.body, "close"):
                self.body.close()
        finally:
            self.done(self.size)
