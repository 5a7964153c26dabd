"""`vnsearch serve`: the Flask app under waitress, with an index ready before the first request.

Waitress rather than gunicorn: it is pure Python with no dependencies, runs on every
platform the rest of vnsearch does (gunicorn needs fork, so no Windows), and its thread
pool suits an app whose index lives in memory once per process: gunicorn's worker
processes would each load their own copy of the index and pyvi's model.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import waitress

from vnsearch.corpus import SAMPLES_DIR
from vnsearch.indexer import store
from vnsearch.indexer.build import build_index
from vnsearch.web.accesslog import AccessLog
from vnsearch.web.app import create_app

THREADS = 8


class ServeError(Exception):
    """The server cannot start; the message says why."""


def ensure_index(home: Path, echo: Callable[[str], None]) -> None:
    """Index the bundled samples when there is no index yet, so a fresh install has a working page."""
    if store.current_build(home) is None:
        echo(f"No index at {home}; indexing the bundled sample articles first.")
        report = build_index([SAMPLES_DIR], home)
        echo(f"Indexed {report.indexed} sample articles.")


def serve(home: Path, host: str, port: int, echo: Callable[[str], None] = print, access_log: bool = True) -> None:
    """Serve until Ctrl-C; with `access_log`, one Common Log Format line per request on stderr."""
    ensure_index(home, echo)
    app = create_app({"INDEX": str(home)})
    # Binding first: a port in use is reported before any slow loading.
    try:
        server = waitress.create_server(AccessLog(app) if access_log else app, host=host, port=port,
                                        threads=THREADS, ident="vnsearch")
    except OSError as error:
        raise ServeError(f"cannot listen on {host}:{port}: {error.strerror or error}") from error
    try:
        warm_up(app)  # a damaged index stops the server here, with the store's message
        urls = ", ".join(f"http://{_url_host(h)}:{p}/" for h, p in _listening(server))
        echo(f"Serving {home} on {urls} (Ctrl-C to stop)")
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()


def warm_up(app) -> None:
    """Open the index, load pyvi's model and the completion tables before the first visitor."""
    engine = app.extensions["vnsearch"].get()
    engine.search("chỉ thị")
    engine.complete("chi thi")


def _listening(server) -> list[tuple[str, int]]:
    """(host, port) of each socket; a name like `localhost` may give two (IPv4 and IPv6)."""
    return getattr(server, "effective_listen", None) or [(server.effective_host, server.effective_port)]


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
