"""A real OpenSearch cluster on this machine, for the tests, the benchmarks and trying it out.

The distribution comes from Maven Central, fetched with Maven: the integ-test zip
(`org.opensearch.distribution.integ-test-zip:opensearch`, the core server with no
optional module or plugin) and the `analysis-common` module's jar, which the benchmark's
peer needs for its `asciifolding` filter (the integ-test zip has `standard`,
`whitespace`, `keyword`, `lowercase` and `shingle`, but no `asciifolding`). vnsearch's own
fields need only the core's `whitespace` analyzer.

Version 2.19.4, the newest 2.x: OpenSearch 3.x needs Java 21, and the Java this project
runs on (Debian 12's default, and CI's) is 17.

Nodes listen on 127.0.0.1 only, with small heaps, each with its own config, data and
log folders under one cluster folder; the security plugin is not in this distribution,
so there is nothing to turn off. OpenSearch refuses to run as root: as root, the
nodes run as `nobody`, from a copy of the distribution that `nobody` can read.

    python scripts/opensearch_cluster.py start [--nodes 3] [--dir DIR] [--http-port 9200]
    python scripts/opensearch_cluster.py status|revive|stop [--dir DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

VERSION = "2.19.4"
DISTRIBUTION = f"org.opensearch.distribution.integ-test-zip:opensearch:{VERSION}:zip"
ANALYSIS_COMMON = f"org.opensearch.plugin:analysis-common:{VERSION}"
# The jar on Maven Central lacks the descriptor the distribution's modules carry; the
# class is the module's own. No `extended.plugins`: lang-painless (which the module
# extends for scripted token filters) is not in this distribution either.
ANALYSIS_COMMON_DESCRIPTOR = f"""\
description=Adds "built in" analyzers to OpenSearch.
version={VERSION}
name=analysis-common
classname=org.opensearch.analysis.common.CommonAnalysisPlugin
java.version=11
opensearch.version={VERSION}
extended.plugins=
has.native.controller=false
"""
# Replaces the distribution's jvm.options, whose relative log paths assume the
# distribution folder as the working directory and a writable one.
JVM_OPTIONS = """\
-XX:+UseG1GC
-Djava.io.tmpdir=${OPENSEARCH_TMPDIR}
-XX:HeapDumpPath=data
-XX:ErrorFile=logs/hs_err_pid%p.log
18-:-Djava.security.manager=allow
20-:--add-modules=jdk.incubator.vector
-Djava.util.concurrent.ForkJoinPool.common.threadFactory=org.opensearch.secure_sm.SecuredForkJoinWorkerThreadFactory
"""
HEAP = "256m"
STATE_FILE = "cluster.json"
START_SECONDS = 240


class ClusterUnavailable(Exception):
    """Java, Maven or the distribution cannot be had; the message says which."""


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "vnsearch" / "opensearch"


def java_home() -> Path:
    """The JDK to run OpenSearch with: $OPENSEARCH_JAVA_HOME, $JAVA_HOME, else `java` on the PATH."""
    for name in ("OPENSEARCH_JAVA_HOME", "JAVA_HOME"):
        if os.environ.get(name) and (Path(os.environ[name]) / "bin" / "java").exists():
            return Path(os.environ[name])
    java = shutil.which("java")
    if not java:
        raise ClusterUnavailable("no Java found (set JAVA_HOME or put java on the PATH); OpenSearch 2.19 needs 11+")
    home = Path(java).resolve().parent.parent
    out = subprocess.run([str(home / "bin" / "java"), "-version"], capture_output=True, text=True).stderr
    major = out.split('"')[1].split(".")[0] if '"' in out else "0"
    if not major.isdigit() or int(major) < 11:
        raise ClusterUnavailable(f"Java 11 or newer needed for OpenSearch {VERSION}, found: {out.splitlines()[:1]}")
    return home


def _maven_copy(artifact: str, into: Path) -> None:
    if not shutil.which("mvn"):
        raise ClusterUnavailable("Maven (mvn) is needed to fetch OpenSearch from Maven Central")
    result = subprocess.run(
        ["mvn", "-q", "-B", "dependency:copy", f"-Dartifact={artifact}", f"-DoutputDirectory={into}",
         "-Dmdep.overWriteIfNewer=true"],
        capture_output=True, text=True)
    if result.returncode:
        raise ClusterUnavailable(f"Maven could not fetch {artifact}:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")


def fetch() -> Path:
    """The zip and the module jar in the cache folder, fetched once."""
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    zip_path = cache / f"opensearch-{VERSION}.zip"
    jar_path = cache / f"analysis-common-{VERSION}.jar"
    if not zip_path.exists():
        _maven_copy(DISTRIBUTION, cache)
    if not jar_path.exists():
        _maven_copy(ANALYSIS_COMMON, cache)
    return cache


def _runs_as_nobody() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _reachable_by_others(path: Path) -> bool:
    """Whether every folder on the way to `path` lets other users through."""
    return all(p.stat().st_mode & 0o001 for p in [path, *path.parents])


def distribution() -> Path:
    """The unpacked distribution with the analysis-common module, unpacked once.

    As root it goes where `nobody` can read it (the cache is under root's home, which
    nobody else may enter).
    """
    cache = fetch()
    base = Path(tempfile.gettempdir()) / "vnsearch-opensearch" if _runs_as_nobody() else cache
    home = base / f"opensearch-{VERSION}"
    if (home / "READY").exists():
        return home
    base.mkdir(parents=True, exist_ok=True)
    unpacking = Path(tempfile.mkdtemp(prefix=".unpack-", dir=base))
    with zipfile.ZipFile(cache / f"opensearch-{VERSION}.zip") as archive:
        archive.extractall(unpacking)
    unpacked = unpacking / f"opensearch-{VERSION}"
    for script in (unpacked / "bin").iterdir():
        script.chmod(0o755)  # zipfile does not keep modes
    module = unpacked / "modules" / "analysis-common"
    module.mkdir()
    shutil.copy(cache / f"analysis-common-{VERSION}.jar", module)
    (module / "plugin-descriptor.properties").write_text(ANALYSIS_COMMON_DESCRIPTOR)
    (unpacked / "READY").touch()
    for path in [unpacking, *unpacking.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o444 | (0o111 if path.is_dir() else 0))
    try:
        unpacked.rename(home)
    except OSError:  # another process unpacked it first
        pass
    shutil.rmtree(unpacking, ignore_errors=True)
    return home


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Node:
    name: str
    http_port: int
    transport_port: int
    folder: str
    pid: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"


@dataclass
class Cluster:
    folder: str
    nodes: list[Node] = field(default_factory=list)
    name: str = "vnsearch"
    # The nodes' folders, when `folder` is out of their reach (removed by `stop`).
    scratch: str | None = None
    heap: str = HEAP

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.nodes]

    def save(self) -> None:
        (Path(self.folder) / STATE_FILE).write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, folder: Path) -> "Cluster":
        state = json.loads((Path(folder) / STATE_FILE).read_text())
        return cls(state["folder"], [Node(**node) for node in state["nodes"]], state["name"], state.get("scratch"),
                   state.get("heap", HEAP))

    def live_nodes(self) -> list[Node]:
        return [node for node in self.nodes if node.pid and _alive(node.pid)]

    def health(self, seconds: float = 5.0, **params) -> dict:
        """`_cluster/health` (with `params`) from the first node that answers within `seconds`."""
        query = "&".join(f"{k}={v}" for k, v in params.items())
        for node in self.live_nodes():
            try:
                with urllib.request.urlopen(f"{node.url}/_cluster/health?{query}", timeout=seconds) as response:
                    return json.load(response)
            except OSError:
                continue
        raise ClusterUnavailable("no node of the cluster answers")

    def wait_for(self, status: str, nodes: int, seconds: float = START_SECONDS) -> dict:
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            try:
                health = self.health(max(left, 1) + 5, wait_for_status=status,
                                     wait_for_nodes=nodes, timeout=f"{max(int(left), 1)}s")
                if not health.get("timed_out"):
                    return health
            except ClusterUnavailable:
                pass
            if time.monotonic() > deadline:
                raise ClusterUnavailable(f"the cluster did not reach {status} with {nodes} nodes "
                                         f"in {seconds:.0f} s{self._last_words()}")
            if not self.live_nodes():
                raise ClusterUnavailable(f"every node has exited{self._last_words()}")
            time.sleep(1)

    def _last_words(self) -> str:
        """The end of each node's output, for a message (the folders may not outlive it)."""
        words = []
        for node in self.nodes:
            log = Path(node.folder) / "stdout.log"
            lines = log.read_text(errors="replace").splitlines()[-5:] if log.exists() else []
            words.append(f"\n{node.name}:\n  " + "\n  ".join(lines))
        return ";" + "".join(words)

    def kill(self, node: Node) -> None:
        """Kill a node outright (SIGKILL), as a crash or a pulled plug would."""
        os.kill(node.pid, signal.SIGKILL)
        _wait_gone(node.pid, 30)

    def stop(self) -> None:
        for node in self.live_nodes():
            os.kill(node.pid, signal.SIGTERM)
        for node in self.nodes:
            if node.pid and not _wait_gone(node.pid, 30):
                os.kill(node.pid, signal.SIGKILL)
                _wait_gone(node.pid, 10)
        if self.scratch:
            shutil.rmtree(self.scratch, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie of ours is dead: reap it
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:
        return True


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _node_settings(node: Node, nodes: list[Node], cluster_name: str) -> list[str]:
    folder = Path(node.folder)
    settings = {
        "cluster.name": cluster_name,
        "node.name": node.name,
        "network.host": "127.0.0.1",
        "http.port": node.http_port,
        "transport.port": node.transport_port,
        "discovery.seed_hosts": ",".join(f"127.0.0.1:{n.transport_port}" for n in nodes),
        "cluster.initial_cluster_manager_nodes": ",".join(n.name for n in nodes),
        "path.data": folder / "data",
        "path.logs": folder / "logs",
        # A test machine's disk may be nearly full; shards must still be allocated.
        "cluster.routing.allocation.disk.threshold_enabled": "false",
    }
    return [f"-E{name}={value}" for name, value in settings.items()]


def _jvm_options(home: Path, java: Path, config: Path, heap: str) -> list[str]:
    """The JVM options `bin/opensearch` would start a node with, worked out once for all nodes.

    `bin/opensearch` runs five short-lived JVMs before the node's own (version check,
    temporary folder, keystore check, options parser and its ergonomics probe): on a
    busy two-core machine, half a minute per node. The options depend only on the
    configuration and the heap, so the parser runs once and each node gets its own
    temporary folder in place of the placeholder.
    """
    env = dict(os.environ, OPENSEARCH_JAVA_OPTS=f"-Xms{heap} -Xmx{heap}", OPENSEARCH_TMPDIR=_TMPDIR,
               OPENSEARCH_PATH_CONF=str(config))
    result = subprocess.run([str(java / "bin" / "java"), "-Xshare:auto", "-cp", str(home / "lib" / "*"),
                             "org.opensearch.tools.launchers.JvmOptionsParser", str(config)],
                            env=env, capture_output=True, text=True)
    if result.returncode:
        raise ClusterUnavailable(f"OpenSearch's JVM options parser failed:\n{result.stdout}{result.stderr}")
    return result.stdout.split()


def _node_command(home: Path, java: Path, options: list[str], node_dir: Path) -> list[str]:
    """What `bin/opensearch` execs, for one node."""
    return [str(java / "bin" / "java"), "-Xshare:auto",
            *(option.replace(_TMPDIR, str(node_dir / "tmp")) for option in options),
            f"-Dopensearch.path.home={home}", f"-Dopensearch.path.conf={node_dir / 'config'}",
            "-Dopensearch.distribution.type=zip", "-Dopensearch.bundled_jdk=false",
            "-cp", str(home / "lib" / "*"), "org.opensearch.bootstrap.OpenSearch"]


_TMPDIR = "@NODE_TMPDIR@"


def start(folder: Path, nodes: int = 3, http_port: int | None = None, heap: str = HEAP,
          wait: bool = True, quick_start: bool = False) -> Cluster:
    """Start `nodes` nodes forming one cluster, state and logs under `folder`; wait for green.

    `quick_start` compiles with the JIT's first tier only: nodes start sooner and serve
    a test's few hundred requests no slower, but never reach full speed (no benchmarks).
    """
    home = distribution()
    java_home()  # without Java, fail before preparing anything
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    cluster = Cluster(str(folder))
    as_nobody = _runs_as_nobody()
    nodes_root = folder
    if as_nobody and not _reachable_by_others(folder):  # e.g. under pytest's or root's private folders
        nodes_root = Path(tempfile.mkdtemp(prefix="vnsearch-cluster-"))
        nodes_root.chmod(0o711)
        cluster.scratch = str(nodes_root)
    for i in range(nodes):
        http = http_port + i if http_port else free_port()
        transport = http_port + 100 + i if http_port else free_port()
        cluster.nodes.append(Node(f"node-{i + 1}", http, transport, str(nodes_root / f"node-{i + 1}")))
    cluster.heap = heap
    for node in cluster.nodes:
        node_dir = Path(node.folder)
        shutil.rmtree(node_dir, ignore_errors=True)
        shutil.copytree(home / "config", node_dir / "config")
        (node_dir / "config" / "jvm.options").write_text(JVM_OPTIONS + ("-XX:TieredStopAtLevel=1\n" if quick_start
                                                                        else ""))
        for name in ("data", "logs", "tmp"):
            (node_dir / name).mkdir()
        if as_nobody:
            for path in [node_dir, *node_dir.rglob("*")]:
                shutil.chown(path, "nobody", "nogroup")
    _launch(cluster, cluster.nodes)
    if wait:
        try:
            cluster.wait_for("green", nodes)
        except BaseException:
            cluster.stop()
            raise
    return cluster


def revive(cluster: Cluster) -> Cluster:
    """Start again the nodes of `cluster` that are down, on their data; wait for green."""
    down = [node for node in cluster.nodes if node not in cluster.live_nodes()]
    _launch(cluster, down)
    cluster.wait_for("green", len(cluster.nodes))
    return cluster


def _launch(cluster: Cluster, nodes: list[Node]) -> None:
    """Start the JVMs of `nodes`, their folders ready; record their process ids."""
    home, java = distribution(), java_home()
    options = None
    for node in nodes:
        node_dir = Path(node.folder)
        options = options or _jvm_options(home, java, node_dir / "config", cluster.heap)
        env = dict(os.environ, OPENSEARCH_PATH_CONF=str(node_dir / "config"), OPENSEARCH_JAVA_HOME=str(java))
        command = [*_node_command(home, java, options, node_dir), *_node_settings(node, cluster.nodes, cluster.name)]
        if _runs_as_nobody():
            command = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *command]
        with open(node_dir / "stdout.log", "ab") as out:
            process = subprocess.Popen(command, cwd=node_dir, env=env, stdout=out, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True)
        node.pid = process.pid
    cluster.save()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="opensearch-cluster", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("fetch", "start", "revive", "stop", "status"),
                        help="revive: start again the nodes that are down, on their data")
    parser.add_argument("--dir", type=Path, default=cache_dir() / "cluster", help="cluster folder [%(default)s]")
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--http-port", type=int, default=9200,
                        help="first node's HTTP port; the others follow, transport ports at +100 [%(default)s]")
    parser.add_argument("--heap", default=HEAP, help="heap per node [%(default)s]")
    parser.add_argument("--quick-start", action="store_true",
                        help="start sooner, serve slower (the JIT's first tier only): for tests, not benchmarks")
    args = parser.parse_args(argv)
    try:
        if args.command == "fetch":
            print(distribution())
        elif args.command == "start":
            if (args.dir / STATE_FILE).exists() and Cluster.load(args.dir).live_nodes():
                print(f"already running; stop it first: {sys.argv[0]} stop --dir {args.dir}", file=sys.stderr)
                return 1
            cluster = start(args.dir, args.nodes, args.http_port, args.heap, quick_start=args.quick_start)
            print(f"OpenSearch {VERSION}: {len(cluster.nodes)} nodes, green, at {','.join(cluster.urls)}")
        elif not (args.dir / STATE_FILE).exists():
            print(f"no cluster in {args.dir}", file=sys.stderr)
            return 1
        elif args.command == "stop":
            Cluster.load(args.dir).stop()
        elif args.command == "revive":
            cluster = revive(Cluster.load(args.dir))
            print(f"{len(cluster.nodes)} nodes, green, at {','.join(cluster.urls)}")
        else:
            cluster = Cluster.load(args.dir)
            for node in cluster.nodes:
                print(f"{node.name}  {node.url}  pid {node.pid}  {'up' if node in cluster.live_nodes() else 'down'}")
            if cluster.live_nodes():
                health = cluster.health()
                print(f"status {health['status']}, {health['number_of_nodes']} nodes, "
                      f"{health['active_shards']} shards active, {health['unassigned_shards']} unassigned")
    except ClusterUnavailable as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
