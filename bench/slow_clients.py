"""Does a crowd of slow clients stop `vnsearch serve` from answering everyone else?

Starts `vnsearch serve` on 127.0.0.1 and, for each level of `--slow N`, opens N
connections that never finish a request: half of them (`--silent-share`) send nothing
at all, the others send a request line and then one more header line every 1 to 2 s
(slowloris). A connection the server closes is opened again at once, so the pressure
stays at N. While they hang, one normal client, a new connection per request as a new
visitor would make, asks for `/api/search?q=chi+thi+35` and `/` in turn every
`--interval` seconds for `--seconds`. Reports that client's latency (p50, p95, max)
and errors (anything but a 200 within `--timeout` s), how many slow connections the
server closed, and the server's threads, open files, memory and CPU. Results go into
the `slow-clients` section of docs/BENCHMARKS.md.

With `--port` it attacks a server already listening on 127.0.0.1, such as nginx in
front of `vnsearch serve` (README, Web), and writes the `slow-clients-proxy` section.

Loopback only; every loop is bounded in time and count. The slow connections need a
file descriptor each on this side too: the script raises its own open-file limit.

    python bench/slow_clients.py                              # 0, 200, 500 and 1000 slow connections
    python bench/slow_clients.py --slow 200 --seconds 10 --no-doc   # quick check
    python bench/slow_clients.py --port 8080 --slow 1000 3000         # through a proxy on port 8080
"""
from __future__ import annotations

import argparse
import errno
import heapq
import http.client
import multiprocessing
import os
import random
import resource
import selectors
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from common import code_version, command_line, machine, today, update_section
from perf_common import PERF, Server, add_run_args, fmt_ms, loadavg, percentiles, vnsearch, wait_until_idle

PATHS = ["/api/search?q=chi+thi+35", "/"]
TRICKLE_SECONDS = (1.0, 2.0)
# How long the attacker waits for a socket to speak before sending the header lines due.
TICK = 0.05
# The attacking process stops by itself after this long, whatever happens to this one.
MAX_ATTACK_SECONDS = 900
RETRYABLE = {errno.EAGAIN, errno.EWOULDBLOCK, errno.ENOTCONN, errno.EINPROGRESS}


@dataclass
class Slow:
    """One slow connection: silent, or trickling header lines."""
    silent: bool
    sock: socket.socket | None = None
    lines: int = 0


class Attack:
    """Keeps `size` slow connections open to 127.0.0.1:`port`, in a process of its own so that its
    work never delays the normal client's; counts those the server closes."""

    def __init__(self, port: int, size: int, silent_share: float, seed: int = 1):
        self.address = ("127.0.0.1", port)
        self.size, self.silent_share, self.seed = size, silent_share, seed
        context = multiprocessing.get_context("fork")
        self.stop = context.Event()
        self.ready = context.Event()
        self.counts = context.Array("l", 3)  # connected, closed silent, closed trickle
        self.process = context.Process(target=self._run, daemon=True)

    def __enter__(self) -> "Attack":
        self.process.start()
        self.ready.wait(60)
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.process.join(30)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()

    @property
    def connected(self) -> int:
        return self.counts[0]

    @property
    def closed(self) -> dict:
        return {"silent": self.counts[1], "trickle": self.counts[2]}

    # --- in the attacking process

    def _run(self) -> None:
        rng = random.Random(self.seed)
        selector = selectors.DefaultSelector()
        silent = round(self.size * self.silent_share)
        slots = [Slow(silent=i < silent) for i in range(self.size)]
        due: list[tuple[float, int]] = []  # (when, slot) of the next header line of each trickle

        def open_(i: int) -> None:
            slot = slots[i]
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            sock.connect_ex(self.address)  # completes in the background; the kernel queues it
            slot.sock, slot.lines = sock, 0
            selector.register(sock, selectors.EVENT_READ, i)
            if not slot.silent:
                heapq.heappush(due, (time.monotonic(), i))

        def dropped(i: int) -> None:
            slot = slots[i]
            self.counts[1 if slot.silent else 2] += 1
            selector.unregister(slot.sock)
            slot.sock.close()
            open_(i)  # the attacker comes back at once

        def trickle(i: int, now: float) -> None:
            slot = slots[i]
            line = (b"GET /?q=slow HTTP/1.1\r\nHost: 127.0.0.1\r\n" if slot.lines == 0
                    else b"X-Slow-%d: 1\r\n" % slot.lines)
            try:
                slot.sock.send(line)
            except OSError as error:
                if error.errno in RETRYABLE:  # still connecting
                    heapq.heappush(due, (now + 0.2, i))
                else:
                    dropped(i)
                return
            slot.lines += 1
            heapq.heappush(due, (now + rng.uniform(*TRICKLE_SECONDS), i))

        for i in range(self.size):
            open_(i)
        self.ready.set()
        deadline = time.monotonic() + MAX_ATTACK_SECONDS
        last_count = 0.0
        while not self.stop.is_set() and time.monotonic() < deadline:
            for key, _ in selector.select(TICK):
                i = key.data
                try:
                    slots[i].sock.recv(4096)
                except OSError as error:
                    if error.errno in RETRYABLE:
                        continue
                # An answer (an error page), the end of the stream or a reset: the server gave up on it.
                dropped(i)
            now = time.monotonic()
            while due and due[0][0] <= now:
                _, i = heapq.heappop(due)
                if slots[i].sock is not None:
                    trickle(i, now)
            if now - last_count >= 1:
                self.counts[0] = sum(_is_connected(slot.sock) for slot in slots)
                last_count = now
        for slot in slots:
            slot.sock.close()
        selector.close()


def _is_connected(sock: socket.socket) -> bool:
    try:
        sock.getpeername()
        return True
    except OSError:
        return False


@dataclass
class Level:
    slow: int
    connected: int = 0
    ms: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""
    closed: dict = field(default_factory=dict)
    server: dict | None = None  # threads, open files, RSS and CPU of a server this script started


def visit(port: int, path: str, timeout: float) -> tuple[float, str]:
    """(milliseconds, error or ''): one request on a new connection, as a new visitor."""
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        error = "" if response.status == 200 else f"status {response.status}"
    except (OSError, http.client.HTTPException) as failure:
        error = f"{type(failure).__name__}: {failure}"
    finally:
        connection.close()
    return (time.perf_counter() - started) * 1000, error


def server_figures(server: Server) -> dict:
    """Threads, open files and CPU seconds of the server process (Linux /proc)."""
    proc = Path(f"/proc/{server.process.pid}")
    try:
        status = (proc / "status").read_text()
        threads = int(next(line.split()[1] for line in status.splitlines() if line.startswith("Threads:")))
        stat = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        cpu = (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
        return {"threads": threads, "open_files": len(list((proc / "fd").iterdir())), "cpu": cpu}
    except (OSError, StopIteration, ValueError):
        return {"threads": 0, "open_files": 0, "cpu": 0.0}


def run_level(port: int, server: Server | None, slow: int, args) -> Level:
    level = Level(slow)
    with Attack(port, slow, args.silent_share) as attack:
        # Let the connections land and the trickles start before the normal client comes.
        settle = time.monotonic() + args.settle
        while time.monotonic() < settle:
            time.sleep(0.1)
        level.connected = attack.connected
        before = server_figures(server) if server else None
        started = time.monotonic()
        for n in range(args.max_requests):
            if time.monotonic() - started >= args.seconds:
                break
            ms, error = visit(port, PATHS[n % len(PATHS)], args.timeout)
            level.ms.append(ms)
            if error:
                level.errors += 1
                level.first_error = level.first_error or f"{PATHS[n % len(PATHS)]}: {error}"
            time.sleep(max(0.0, args.interval - ms / 1000))
        elapsed = time.monotonic() - started
        if server:
            after = server_figures(server)
            level.server = {"threads": after["threads"], "open_files": after["open_files"],
                            "cpu": (after["cpu"] - before["cpu"]) / elapsed if elapsed else 0.0,
                            "rss_mb": server.memory_mb().get("VmRSS", 0.0)}
        level.closed = dict(attack.closed)
    return level


def report(args, levels: list[Level], idle: str, load_end: float, target: str) -> str:
    lines = [
        f"Measured {today()} with `{command_line()}` on {machine()}; code at {code_version()}; {idle}, "
        f"{load_end:.2f} at the end.",
        "",
        f"Per level: the slow connections ({args.silent_share:.0%} silent, the rest one header line every "
        f"{TRICKLE_SECONDS[0]:.0f}–{TRICKLE_SECONDS[1]:.0f} s, reopened when closed), {args.settle:.0f} s to "
        f"settle, then one normal client for {args.seconds:.0f} s: a new connection every {args.interval} s for "
        f"`{PATHS[0]}` and `{PATHS[1]}` in turn, an error being anything but a 200 within {args.timeout:.0f} s"
        + (f"; all against the server already on {target}." if target else "."),
        "",
        "| slow connections | connected | requests | errors | p50 ms | p95 ms | max ms | closed by server "
        "(silent / trickle) | server threads | server open files | server RSS, MB | server CPU (cores) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for level in levels:
        p = percentiles(level.ms) if level.ms else {"p50": 0, "p95": 0}
        lines.append(
            f"| {level.slow:,} | {level.connected:,} | {len(level.ms):,} | {level.errors} | {fmt_ms(p['p50'])} | "
            f"{fmt_ms(p['p95'])} | {fmt_ms(max(level.ms, default=0))} | {level.closed.get('silent', 0):,} / "
            f"{level.closed.get('trickle', 0):,} | " + (
                f"{level.server['threads']} | {level.server['open_files']:,} | {level.server['rss_mb']:,.0f} | "
                f"{level.server['cpu']:.2f} |" if level.server else "– | – | – | – |"))
    errors = sum(level.errors for level in levels)
    lines += ["", f"Errors of the normal client: {errors} (target 0: {'**pass**' if errors == 0 else '**FAIL**'})."]
    firsts = [f"{level.slow} slow: `{level.first_error}`" for level in levels if level.first_error]
    if firsts:
        lines += ["", "First errors: " + "; ".join(firsts) + "."]
    return "\n".join(lines)


def raise_open_file_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        if target < needed:
            raise SystemExit(f"error: {needed} open files needed, the hard limit is {hard}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Latency and errors of a normal client of `vnsearch serve` while many slow or silent "
                    "connections hang on 127.0.0.1.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--index", type=Path, default=PERF / "index-samples", metavar="DIR",
                        help="Index to serve; `vnsearch serve` indexes the bundled samples into it if it is empty.")
    parser.add_argument("--port", type=int, help="Attack the server already listening on 127.0.0.1:PORT (such as "
                                                 "nginx in front of `vnsearch serve`) instead of starting one; results go to the slow-clients-proxy section.")
    parser.add_argument("--slow", type=int, nargs="+", default=[0, 200, 500, 1000],
                        help="Slow connections, one level each.")
    parser.add_argument("--silent-share", type=float, default=0.5, help="Share of slow connections that send nothing.")
    parser.add_argument("--seconds", type=float, default=40.0, help="How long the normal client runs per level.")
    parser.add_argument("--settle", type=float, default=3.0, help="Seconds between opening the slow connections "
                                                                  "and the first normal request.")
    parser.add_argument("--interval", type=float, default=0.25, help="Seconds between normal requests.")
    parser.add_argument("--timeout", type=float, default=10.0, help="A normal request slower than this is an error.")
    parser.add_argument("--max-requests", type=int, default=10_000, help="Cap on the normal requests of one level.")
    add_run_args(parser, "slow-clients")
    args = parser.parse_args(argv)
    if not all(0 <= n <= 20_000 for n in args.slow) or not 0 <= args.silent_share <= 1:
        parser.error("--slow must be in 0..20000 and --silent-share in [0, 1]")
    if args.port is not None and not 0 < args.port < 65536:
        parser.error("--port must be in 1..65535")
    if not 0 < args.seconds <= 600 or not 0 < args.timeout <= 60 or not 0 <= args.settle <= 120:
        parser.error("--seconds must be in (0, 600], --timeout in (0, 60] and --settle in [0, 120]")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    raise_open_file_limit(max(args.slow) + 256)
    idle = wait_until_idle(args.max_load, args.wait_idle, args.quiet)
    server = None
    if not args.port:
        server = Server(vnsearch("serve", "--index", str(args.index), "--host", "127.0.0.1", "--port", "0"),
                        PERF / "logs" / f"slow-clients-{args.index.name}.log", "vnsearch")
    port = args.port or server.port
    levels = []
    try:
        visit(port, PATHS[0], 60)  # warm-up, not reported
        for slow in args.slow:
            levels.append(run_level(port, server, slow, args))
            level = levels[-1]
            print(f"{slow} slow: {level.errors} errors, max {max(level.ms, default=0):,.0f} ms", file=sys.stderr)
    finally:
        if server:
            server.stop()
    text = report(args, levels, idle, loadavg(), "" if server else f"127.0.0.1:{port}")
    print(text)
    if not args.no_doc:
        section = "slow-clients-proxy" if args.port else "slow-clients"
        update_section(args.doc, section, text)
        print(f"\nwrote the {section} section of {args.doc}")


if __name__ == "__main__":
    main()
