"""Serving from several processes: one waitress per process, all on the sockets the parent bound.

Python runs one thread of Python code at a time, so one process answers searches on one
core at most. `vnsearch serve` therefore binds its sockets and loads everything once
(the index's arrays, the accent and word statistics, the completion tables, pyvi's
model), then forks one worker per core. The workers share those pages with the parent
copy-on-write (`gc.freeze` keeps the collector from touching, and so copying, them);
each then reopens the index's files, because a file opened before `fork` shares its
offset with every other process (Whoosh reads by `seek` then `read`), and runs its own
waitress loop on the shared listening sockets, where the kernel hands each new
connection to one of them.

The parent only supervises: it starts a worker again when one dies, and on Ctrl-C or
SIGTERM stops them all. Linux and other POSIX systems only (`fork`).
"""
from __future__ import annotations

import gc
import os
import signal
import socket
import threading
import time
from typing import Callable

# A worker that dies this soon after starting, this many times in a row, is not restarted
# again: something is wrong with every start (the index, the machine), not with one request.
QUICK_DEATH_SECONDS = 5.0
QUICK_DEATHS = 5
# How long the workers have to finish their requests when the server stops.
STOP_SECONDS = 10.0
# How often a worker checks that its parent is still there.
ORPHAN_CHECK_SECONDS = 1.0


class _Stop(Exception):
    """Raised in the parent by SIGINT or SIGTERM."""


def default_workers() -> int:
    """One worker per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # no sched_getaffinity (macOS)
        return max(1, os.cpu_count() or 1)


def bind(listen: list[tuple], backlog: int) -> list[socket.socket]:
    """Listening sockets for waitress's resolved `listen` entries (family, type, proto, address)."""
    sockets = []
    try:
        for family, socktype, proto, address in listen:
            sock = socket.socket(family, socktype, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(backlog)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def supervise(count: int, work: Callable[[], None], echo: Callable[[str], None],
              started: Callable[[], None] = lambda: None) -> None:
    """Run `work` in `count` forked processes until SIGINT or SIGTERM; restart any that dies.
    `started` runs in the parent once the first `count` are forked.

    `work` runs in the child and should return when the child gets SIGTERM (or SIGINT);
    the child then exits, never returning into the caller's code.
    """
    parent = os.getpid()
    children: dict[int, float] = {}  # pid: when it started
    quick_deaths = 0

    def start() -> None:
        pid = os.fork()
        if pid == 0:
            status = 1
            try:
                _in_child(parent)
                work()
                status = 0
            except KeyboardInterrupt:
                status = 0
            except BaseException:  # noqa: BLE001 — a worker must never return into the parent's code
                import traceback

                traceback.print_exc()
            finally:
                os._exit(status)
        children[pid] = time.monotonic()

    def stop(signum, frame) -> None:
        raise _Stop()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    # What is loaded now stays where it is: the collector no longer visits it, so
    # it does not write to (and so copy) the pages the workers share.
    gc.freeze()
    try:
        for _ in range(count):
            start()
        started()
        while True:
            pid, status = os.wait()
            started = children.pop(pid, None)
            if started is None:
                continue
            code = os.waitstatus_to_exitcode(status)
            how = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
            quick_deaths = quick_deaths + 1 if time.monotonic() - started < QUICK_DEATH_SECONDS else 0
            if quick_deaths >= QUICK_DEATHS:
                echo(f"Worker {pid} {how}; {QUICK_DEATHS} workers in a row died on starting, so the server stops.")
                raise SystemExit(1)
            echo(f"Worker {pid} {how}; starting another.")
            start()
    except _Stop:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _stop_all(children)
        gc.unfreeze()


def _in_child(parent: int) -> None:
    """A worker's own signal handling: SIGTERM and SIGINT stop it; so does losing its parent."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda signum, frame: signal.default_int_handler(signum, frame))

    def watch() -> None:
        # A parent killed outright (SIGKILL, an out-of-memory kill) cannot stop its
        # workers; they stop themselves rather than hold the port.
        while os.getppid() == parent:
            time.sleep(ORPHAN_CHECK_SECONDS)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, daemon=True, name="orphan-watch").start()


def _stop_all(children: dict[int, float]) -> None:
    """SIGTERM to every worker; SIGKILL to those still there after STOP_SECONDS."""
    for pid in children:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    while children and time.monotonic() < deadline:
        for pid in list(children):
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                children.pop(pid)
        time.sleep(0.05)
    for pid in children:
        _signal(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    children.clear()


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
