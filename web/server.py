"""`vnsearch serve`: the Flask app under waitress, with an index ready before the first request.

Waitress rather than gunicorn: it is pure Python with no dependencies, and its
asynchronous loop holds slow and idle clients without a thread each (below), where
gunicorn's default sync workers give each connection a whole process and need a proxy
in front for slow clients. Python runs one thread at a time, so one process uses one
core: with `workers` above 1, one waitress per process answers on the sockets bound
here, the workers forked after loading (web/workers.py), which is what gunicorn's
`--preload` would do, without its dependency.
"""
from __future__ import annotations

import ctypes
import resource
import select
import socket
from pathlib import Path
from typing import Callable

import waitress
import waitress.adjustments

from vnsearch.corpus import SAMPLES_DIR
from vnsearch.indexer import store
from vnsearch.indexer.build import build_index
from vnsearch.search.backend import Backend
from vnsearch.web.accesslog import AccessLog
from vnsearch.web.workers import bind, supervise

THREADS = 8

# Slow and idle clients. Waitress reads and parses requests in one asynchronous loop and
# hands a thread only a complete request (headers and body), so a connection that is
# silent or trickles its headers costs a socket and a few kilobytes, never a thread.
# What it can exhaust is the connection limit (100 by default): past it waitress stops
# accepting, and every new visitor waits in the kernel's queue. So the limit is raised,
# and idle connections are closed sooner. Not without bound: each turn of the loop
# visits every open connection (a few microseconds each) and accepts one new one, so
# at 4,000 connections a turn took up to 30 ms and new visitors queued for seconds
# behind reconnecting slow clients (bench/slow_clients.py). More needs a proxy (README).
MAX_CONNECTIONS = 2000
# Files the process needs besides connections: index segments, pyvi's model, listening sockets.
RESERVED_FILES = 200
# select() cannot watch a descriptor above 1023 (it raises and the server stops); poll() can.
# Without poll, select's own limit of 512 sockets holds.
SELECT_CONNECTIONS = 500
WAITRESS_OPTIONS = {
    "threads": THREADS,
    "ident": "vnsearch",
    # A connection with no byte in either direction for this long is closed (waitress: 120 s),
    # checked every cleanup_interval (waitress: 30 s): a silent connection lives 30 to 35 s.
    "channel_timeout": 30,
    "cleanup_interval": 5,
    # New connections the kernel holds while the loop is busy (capped by net.core.somaxconn).
    "backlog": 2048,
    "asyncore_use_poll": True,
    # Every route is a GET: no body to wait for (waitress: 1 GB, spooled to disk), and
    # headers as large as nginx's (waitress: 256 KB, held in memory per connection).
    "max_request_body_size": 64 * 1024,
    "max_request_header_size": 32 * 1024,
}


class ServeError(Exception):
    """The server cannot start; the message says why."""


def ensure_index(home: Path, echo: Callable[[str], None], backend: Backend | None = None) -> None:
    """Index the bundled samples when there is no index yet, so a fresh install has a working page."""
    if backend is not None and backend.kind == "opensearch":
        from vnsearch.indexer.opensearch_build import ensure_cluster_index

        return ensure_cluster_index(backend.url, backend.alias, echo)
    if store.current_build(home) is None:
        echo(f"No index at {home}; indexing the bundled sample articles first.")
        report = build_index([SAMPLES_DIR], home)
        echo(f"Indexed {report.indexed} sample articles.")


def serve(home: Path, host: str, port: int, echo: Callable[[str], None] = print,
          base_url: str | None = None, access_log: bool = True, backend: Backend | None = None,
          workers: int = 1) -> None:
    """Serve until Ctrl-C or SIGTERM; with `access_log`, one Common Log Format line per request
    on stderr. `backend` chooses an OpenSearch cluster instead of the index folder `home`.
    With `workers` above 1, that many processes answer on the same sockets (web/workers.py)."""
    one_malloc_arena()  # before any thread starts
    backend = backend or Backend(index=str(home))
    index = backend.alias if backend.kind == "opensearch" else str(home)
    from vnsearch.web.app import create_app  # here: the other commands need not import Flask
    app = create_app({"INDEX": index, "BACKEND": backend.kind, "OPENSEARCH_URL": backend.url, "BASE_URL": base_url})
    wsgi = AccessLog(app) if access_log else app
    # Binding first: a bad address or a port in use is reported before any slow loading.
    sockets = listen(host, port)
    try:
        ensure_index(home, echo, backend)
        warm_up(app)  # a damaged index stops the server here, with the store's message
        urls = ", ".join(f"http://{_url_host(h)}:{p}/" for h, p in _listening(sockets))
        where = backend.describe() if backend.kind == "opensearch" else home
        if workers <= 1:
            server = waitress.create_server(wsgi, sockets=sockets, **waitress_options())
            echo(f"Serving {where} on {urls} (Ctrl-C to stop)")
            server.run()
        else:
            def work() -> None:
                app.extensions["vnsearch"].after_fork()
                waitress.create_server(wsgi, sockets=sockets, **waitress_options()).run()

            supervise(workers, work, echo,
                      started=lambda: echo(f"Serving {where} on {urls} with {workers} worker processes (Ctrl-C to stop)"))
    except KeyboardInterrupt:
        pass
    finally:
        for sock in sockets:
            sock.close()


def listen(host: str, port: int) -> list[socket.socket]:
    """Listening sockets on host:port (a name may give two, IPv4 and IPv6), as waitress binds them."""
    try:
        addresses = waitress.adjustments.Adjustments(host=host, port=port).listen
    except ValueError as error:  # waitress's answer to a host getaddrinfo cannot resolve
        raise ServeError(f"cannot listen on {host}:{port}: not an address or a host name this machine knows") \
            from error
    try:
        return bind(addresses, WAITRESS_OPTIONS["backlog"])
    except OSError as error:
        raise ServeError(f"cannot listen on {host}:{port}: {error.strerror or error}") from error


def waitress_options() -> dict:
    """WAITRESS_OPTIONS with the largest connection limit this process's open files allow.

    Per process: with one server process per core, each raises its own limit and has its own.
    """
    files = raise_open_file_limit(MAX_CONNECTIONS + RESERVED_FILES)
    ceiling = MAX_CONNECTIONS if hasattr(select, "poll") else SELECT_CONNECTIONS
    return {**WAITRESS_OPTIONS, "connection_limit": min(ceiling, max(files - RESERVED_FILES, files // 2))}


def raise_open_file_limit(wanted: int) -> int:
    """Raise the soft limit on open files towards `wanted`, within the hard limit; returns
    the limit, or `wanted` if the limit is higher.

    Many systems start processes at a soft limit of 1,024 (or 256) with a far higher hard
    limit: a connection limit above the soft one would end in failed accepts instead.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return wanted
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):  # macOS refuses more than kern.maxfilesperproc
        return soft
    return target


def warm_up(app) -> None:
    """Open the index, load pyvi's model and the completion tables before the first visitor."""
    engine = app.extensions["vnsearch"].get()
    engine.search("chỉ thị")
    engine.complete("chi thi")
    release_free_memory()


def release_free_memory() -> None:
    """Hand the memory freed while loading back to the system, where the C library can.

    Loading allocates and frees some 200 MB of temporary objects and arrays (the
    completion tables read every article's title). glibc keeps freed memory inside its
    heap for reuse, and after freeing large blocks it serves even large ones from the
    heap: on 128,061 articles 30 to 45 MB stayed resident in the server, and in every
    worker forked from it, until glibc's `malloc_trim` gave the free pages back.
    """
    trim = _c_function("malloc_trim", [ctypes.c_size_t])
    if trim:
        trim(0)


# glibc's mallopt parameter for the most arenas a process may have.
M_ARENA_MAX = -8


def one_malloc_arena() -> bool:
    """Have every thread of this process allocate from one glibc arena.

    glibc gives each thread that allocates an arena of its own (up to eight a core), and
    freed memory stays in the arena it came from. Each of a worker's THREADS answered
    searches in turn, and each kept its own 40 to 60 MB of the arrays searches had freed:
    on 128,061 articles, after a minute at 16 clients, a worker held 430 MB of its own
    memory in eight arenas, against 270 MB with one (the same searches, the caches the
    same size). Searches take the engine's lock, so threads seldom allocate at once.
    """
    mallopt = _c_function("mallopt", [ctypes.c_int, ctypes.c_int])
    return bool(mallopt and mallopt(M_ARENA_MAX, 1))  # glibc's mallopt returns 1 when it took the value


def _c_function(name: str, argtypes: list):
    """The C library's function `name`, or None where it has none (macOS, musl)."""
    try:
        function = getattr(ctypes.CDLL(None), name)  # the C library the process runs on
    except (OSError, AttributeError):
        return None
    function.argtypes, function.restype = argtypes, ctypes.c_int
    return function


def _listening(sockets: list[socket.socket]) -> list[tuple[str, int]]:
    """(host, port) of each socket; a name like `localhost` may give two (IPv4 and IPv6)."""
    return [sock.getsockname()[:2] for sock in sockets]


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
