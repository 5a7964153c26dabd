"""What the performance benchmarks share (the query mix is `perf_mix`): indexes built with the CLI,
servers on loopback, an HTTP client, percentiles and the machine's load.

Everything a benchmark starts (index builds, `vnsearch serve`, the FTS5 peer server)
runs as a child process of the benchmark, talks over 127.0.0.1 only, and is stopped by
its process id when the benchmark ends.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from common import DEFAULT_DOC, OUT, ROOT, load_articles, write_jsonl
from perf_mix import Query

from vnsearch.corpus import Article
from vnsearch.indexer import store

PERF = OUT / "perf"  # gitignored: indexes, subsets, server logs, profiles
# Quiet enough to measure: the 1-minute load average, and how long to wait for it.
IDLE_LOAD = 0.7
IDLE_WAIT_SECONDS = 900
SERVER_START_SECONDS = 600


# --- the machine


def loadavg() -> float:
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def wait_until_idle(max_load: float, timeout: float, quiet: bool = False) -> str:
    """Wait (bounded) for the 1-minute load average to fall below `max_load`; say how it went."""
    started = time.monotonic()
    load = loadavg()
    while load >= max_load and time.monotonic() - started < timeout:
        if not quiet:
            print(f"load average {load:.2f} >= {max_load}; waiting (up to {timeout:.0f} s)", file=sys.stderr)
        time.sleep(min(30.0, max(1.0, timeout - (time.monotonic() - started))))
        load = loadavg()
    waited = time.monotonic() - started
    state = "below" if load < max_load else "still not below"
    return f"1-minute load average {load:.2f} at the start ({state} {max_load} after waiting {waited:.0f} s)"


def add_run_args(parser: argparse.ArgumentParser, section: str,
                 no_doc_help: str = "Print the results without writing the doc.") -> None:
    """The options every perf script shares: waiting for a quiet machine, where the
    results go (`section` of docs/BENCHMARKS.md), progress bars."""
    parser.add_argument("--max-load", type=float, default=IDLE_LOAD,
                        help="Wait until the 1-minute load average is below this before measuring.")
    parser.add_argument("--wait-idle", type=float, default=IDLE_WAIT_SECONDS, metavar="SECONDS",
                        help="Longest wait for that; then measure anyway and record the load.")
    parser.add_argument("--doc", type=Path, default=DEFAULT_DOC,
                        help=f"Markdown file whose {section} section is replaced.")
    parser.add_argument("--no-doc", action="store_true", help=no_doc_help)
    parser.add_argument("--quiet", "-q", action="store_true", help="No progress bars.")
    parser.add_argument("--section", default=section, help="Name of the docs section the results replace.")
    parser.add_argument("--workers", type=int, metavar="N",
                        help="Server processes of `vnsearch serve` [default: its own, one per core].")


def percentiles(values_ms: list[float]) -> dict[str, float]:
    array = np.asarray(values_ms, dtype=float)
    return {"p50": float(np.percentile(array, 50)), "p95": float(np.percentile(array, 95)),
            "p99": float(np.percentile(array, 99)), "mean": float(array.mean()), "n": len(array)}


def vnsearch(*args: str) -> list[str]:
    """The `vnsearch` command, run with this Python so the benchmark measures this checkout."""
    return [sys.executable, "-m", "vnsearch.web.cli", *args]


def shown(command: list[str]) -> str:
    """A command for the doc, as a user would type it."""
    if command[:3] == [sys.executable, "-m", "vnsearch.web.cli"]:
        command = ["vnsearch", *command[3:]]
    elif command[0] == sys.executable:
        command = ["python", *command[1:]]
    return " ".join(str(Path(c).relative_to(ROOT)) if c.startswith(str(ROOT)) else c for c in command)


# --- corpora and indexes


def corpus_file(corpus: Path | list[Path], limit: int | None, quiet: bool) -> tuple[Path | list[Path], list[Article]]:
    """The articles, and the files holding exactly them: the corpus itself (one file or
    several, read in their order), or a file of its first `limit`."""
    articles = load_articles(corpus, limit, quiet)
    return subset_file(corpus, articles, limit), articles


def corpus_name(corpus: Path | list[Path]) -> str:
    """A short name for the corpus files, for the files made from them."""
    paths = corpus if isinstance(corpus, (list, tuple)) else [corpus]
    return "+".join(Path(p).name.split(".")[0] for p in paths)


def subset_file(corpus: Path | list[Path], articles: list[Article], limit: int | None) -> Path | list[Path]:
    """A file of the first `limit` of `articles` (the corpus's, in order); the corpus itself when
    there is no limit or the corpus has fewer articles than it."""
    if not limit or limit > len(articles):
        return corpus
    PERF.mkdir(parents=True, exist_ok=True)
    single = not isinstance(corpus, (list, tuple)) or len(corpus) == 1
    subset = PERF / (f"corpus-first-{limit}.jsonl.gz" if single else f"corpus-{corpus_name(corpus)}-first-{limit}.jsonl.gz")
    if not subset.exists():
        write_jsonl(articles[:limit], subset.with_suffix(".tmp"))
        subset.with_suffix(".tmp").replace(subset)
    return subset


@dataclass
class Build:
    command: list[str]
    seconds: float
    cpu_seconds: float  # user + system of the build and its worker processes
    articles: int
    bytes: int


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_build(source: Path | list[Path], home: Path, procs: int) -> Build:
    """A full rebuild with the CLI of one corpus file or several, timed from the outside
    (start-up and imports included)."""
    sources = [source] if isinstance(source, Path) else source
    command = vnsearch("index", *map(str, sources), "--index", str(home), "--quiet", "--procs", str(procs))
    cpu = children_cpu()
    started = time.perf_counter()
    subprocess.run(command, check=True, cwd=ROOT)
    seconds = time.perf_counter() - started
    return Build(command, seconds, children_cpu() - cpu, index_count(home), store.disk_size(store.current_build(home)))


def index_count(home: Path) -> int | None:
    if store.current_build(home) is None:
        return None
    with store.open_index(home).searcher() as searcher:
        return searcher.doc_count()


def ensure_index(source: Path | list[Path], home: Path, articles: int, procs: int, rebuild: bool) -> Build | None:
    """Reuse the index at `home` if it holds `articles` articles, else build it (returned)."""
    if not rebuild and index_count(home) == articles:
        return None
    if home.exists():
        shutil.rmtree(home)
    build = run_build(source, home, procs)
    if build.articles != articles:
        raise SystemExit(f"error: the index at {home} holds {build.articles} articles, expected {articles}")
    return build


def default_home(limit: int | None) -> Path:
    return PERF / f"index-{limit or 'full'}"


# --- servers


class Server:
    """A server child process on 127.0.0.1, started by `command`, ready once it prints its URL."""

    def __init__(self, command: list[str], log: Path, name: str):
        self.name = name
        self.command = command
        self.log = log
        log.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(log, "wb")
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT, cwd=ROOT)
        self.port = self._wait_for_port()

    def _wait_for_port(self) -> int:
        started = time.monotonic()
        while time.monotonic() - started < SERVER_START_SECONDS:
            text = self.log.read_text(encoding="utf-8", errors="replace")
            found = re.search(r"http://127\.0\.0\.1:(\d+)/", text)
            if found:
                return int(found.group(1))
            if self.process.poll() is not None:
                raise SystemExit(f"error: {self.name} server exited with {self.process.returncode}:\n{text[-2000:]}")
            time.sleep(0.1)
        self.stop()
        raise SystemExit(f"error: {self.name} server did not start within {SERVER_START_SECONDS} s; see {self.log}")

    def memory_mb(self) -> dict[str, float]:
        """Resident memory in MB (Linux only) of the server and its worker processes: VmRSS
        (now) and RssAnon/RssFile (anonymous memory, and mapped files such as pyvi's model)
        summed over the processes, which counts pages they share once per process; Pss, the
        same with each shared page divided among its sharers (what the server costs the
        machine); VmHWM, the largest process's peak since it started; processes, how many."""
        totals: dict[str, float] = {}
        pids = [self.process.pid, *_descendants(self.process.pid)]
        for pid in pids:
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            for key, value in re.findall(r"^(VmRSS|VmHWM|RssAnon|RssFile):\s+(\d+) kB", status, re.M):
                mb = int(value) / 1024
                totals[key] = max(totals.get(key, 0.0), mb) if key == "VmHWM" else totals.get(key, 0.0) + mb
            try:
                rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
                totals["Pss"] = totals.get("Pss", 0.0) + int(re.search(r"^Pss:\s+(\d+) kB", rollup, re.M).group(1)) / 1024
            except (OSError, AttributeError):
                pass
        if totals:
            totals["processes"] = len(pids)
        return totals

    def cpu_seconds(self) -> float:
        """CPU time (user and system) the server and its worker processes have used so far (Linux only)."""
        ticks = 0
        for pid in [self.process.pid, *_descendants(self.process.pid)]:
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                continue
            fields = stat.rpartition(")")[2].split()  # after the command's name, which may hold spaces
            ticks += int(fields[11]) + int(fields[12])  # utime and stime, the 14th and 15th fields
        return ticks / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # waitress stops cleanly on Ctrl-C
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _descendants(pid: int) -> list[int]:
    """Every process under `pid` (the server's workers), from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


def vnsearch_server(home: Path, workers: int | None = None) -> Server:
    """`vnsearch serve` on a free port; `workers` server processes (default: the command's, one per core)."""
    return Server(vnsearch("serve", "--index", str(home), "--host", "127.0.0.1", "--port", "0",
                           *(["--workers", str(workers)] if workers else [])),
                  PERF / "logs" / f"serve-{home.name}.log", "vnsearch")


def fts5_server(db: Path) -> Server:
    return Server([sys.executable, str(ROOT / "bench/perf_fts5.py"), "serve", str(db), "--port", "0"],
                  PERF / "logs" / f"fts5-{db.stem}.log", "SQLite FTS5")


class Client:
    """One keep-alive HTTP/1.1 connection to 127.0.0.1; reconnects after any failure."""

    def __init__(self, port: int, timeout: float = 30.0):
        self.port = port
        self.timeout = timeout
        self.connection: http.client.HTTPConnection | None = None

    def get(self, path: str) -> tuple[int, bytes]:
        """(status, body); status 0 when the request failed without an HTTP answer."""
        try:
            if self.connection is None:
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            self.connection.request("GET", path)
            response = self.connection.getresponse()
            body = response.read()
            if response.will_close:
                self.close()
            return response.status, body
        except (OSError, http.client.HTTPException):
            self.close()
            return 0, b""

    def search(self, path: str) -> tuple[float, int, dict | None]:
        """(milliseconds, status, parsed JSON or None)."""
        started = time.perf_counter()
        status, body = self.get(path)
        ms = (time.perf_counter() - started) * 1000
        try:
            data = json.loads(body) if status == 200 else None
        except ValueError:
            data, status = None, -1
        return ms, status, data

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


@dataclass
class Pass:
    """One sequential pass of the query mix against one server."""
    ms: list[float] = field(default_factory=list)
    server_ms: list[float] = field(default_factory=list)  # the server's own took_ms
    errors: list[str] = field(default_factory=list)
    totals: list[int] = field(default_factory=list)


def fmt_ms(value: float) -> str:
    return f"{value:.1f}" if value < 100 else f"{value:,.0f}"


def latency_passes(servers: list[Server], queries: list[Query], passes: int, quiet: bool = False) -> list[list[Pass]]:
    """`passes` sequential passes of the mix; result[server][pass]. One client per server,
    one request at a time; the servers take turns query by query (who goes first
    alternates), so a burst of load elsewhere on the machine hits both alike."""
    from common import progress

    clients = [Client(server.port) for server in servers]
    results = [[Pass() for _ in range(passes)] for _ in servers]
    with progress(total=passes * len(queries) * len(servers), quiet=quiet, desc="queries", unit=" req") as bar:
        for p in range(passes):
            for i, query in enumerate(queries):
                order = range(len(servers)) if i % 2 == 0 else reversed(range(len(servers)))
                for s in order:
                    ms, status, data = clients[s].search(query.path())
                    record = results[s][p]
                    record.ms.append(ms)
                    if data is None or "hits" not in data:
                        record.errors.append(f"{status} for {query.path()}")
                        record.server_ms.append(float("nan"))
                        record.totals.append(0)
                    else:
                        record.server_ms.append(float(data.get("took_ms") or 0.0))
                        record.totals.append(int(data.get("total") or 0))
                    bar.update()
    for client in clients:
        client.close()
    return results


def pooled(passes: list[Pass], attribute: str) -> list[float]:
    return [v for p in passes for v in getattr(p, attribute) if v == v]  # NaN (failed) left out
