"""Where the index lives on an OpenSearch cluster, and how a new build replaces the old one.

The OpenSearch counterpart of `indexer.store`:

    ALIAS                      the name readers search (`vnsearch` by default)
    ALIAS-20261201-120000-...  one index per build; the alias points at the current one
    ALIAS-meta                 small documents: which build came before (kept so that
                               requests already under way finish), the write lock, and
                               each build's lexicon (the syllable statistics behind word
                               joining, accent suggestions and completions)

A build is written into a fresh index and the alias moved to it with one `_aliases`
request, which OpenSearch applies atomically, only once it is complete and its
replicas are in place: a failed or killed build leaves the alias where it was, and
its leftovers are swept by the next writer.

Articles are stored as the analysis gives them (`indexer.build.to_document`): each
view a stream of terms separated by spaces in a field with OpenSearch's `whitespace`
analyzer, so OpenSearch indexes exactly our terms, with positions, and never
analyses Vietnamese itself. The original texts are stored alongside (the views are
left out of `_source`: nothing reads them back).
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import os
import socket
import threading
import time
import uuid
from contextlib import contextmanager
from typing import Iterator

import numpy as np

from vnsearch.indexer.analysis import folded_words
from vnsearch.indexer.fields import POSITIONAL, TEXT_FIELDS, VIEW_FIELDS, VIEWS, view_field
from vnsearch.indexer.store import StoreError

try:
    import opensearchpy
except ImportError:  # the `opensearch` extra is not installed
    opensearchpy = None

DEFAULT_ALIAS = "vnsearch"
DEFAULT_URL = "http://127.0.0.1:9200"
# Terms of a view are separated by spaces in OpenSearch; the syllables of one pyvi word
# ("chỉ thị") are joined by this instead, as the pairs view joins its two syllables.
WORD_JOINER = "_"
# Deep pages as the embedded backend serves them: 1,000 pages of 100 hits.
MAX_RESULT_WINDOW = 100_100
# Lexicon arrays travel in pieces of this many bytes (base64 in JSON documents).
LEXICON_PIECE = 4 << 20
# A writer refreshes its lock this often; a lock not refreshed for LOCK_STALE seconds
# belongs to a writer that died, and the next one takes it over.
LOCK_HEARTBEAT = 5.0
LOCK_STALE = 60.0
_STATE = "state"
_LOCK = "write-lock"


class ClusterError(StoreError):
    """The cluster cannot be used as asked; the message says why."""


def connect(url: str | None = None):
    """A client for the cluster at `url` (several nodes: comma-separated), retrying on the
    other nodes when one does not answer."""
    if opensearchpy is None:
        raise ClusterError("the OpenSearch backend needs the opensearch extra: pip install 'vnsearch[opensearch]'")
    hosts = [u.strip() for u in (url or DEFAULT_URL).split(",") if u.strip()]
    return opensearchpy.OpenSearch(hosts, timeout=30, max_retries=3, retry_on_timeout=True,
                                   retry_on_status=(502, 503, 504, 429), http_compress=False)


def meta_index(alias: str) -> str:
    return f"{alias}-meta"


def new_build_name(alias: str) -> str:
    return f"{alias}-{dt.datetime.now().strftime('%Y%m%d-%H%M%S-%f')}-{os.getpid()}"


def doc_id(article_id: str) -> str:
    """The OpenSearch `_id` of an article: its id, or a digest of one longer than `_id` allows."""
    if len(article_id.encode("utf-8")) <= 512:
        return article_id
    return "~sha256:" + hashlib.sha256(article_id.encode("utf-8")).hexdigest()


def stream(terms: list[str]) -> str:
    """A view's terms as the text OpenSearch's `whitespace` analyzer splits back into them."""
    return " ".join(term.replace(" ", WORD_JOINER) for term in terms)


def source(doc: dict) -> dict:
    """The OpenSearch document of one article, from `indexer.build.to_document`'s fields."""
    out = {}
    for name, value in doc.items():
        if name in VIEW_FIELDS:
            out[name] = stream(value)
        elif name == "published":
            out[name] = value.isoformat()
        else:
            out[name] = value
    if doc.get("source"):
        out["source_key"] = folded_words(doc["source"])  # `source:` filters ignore case and accents
    return out


def index_body(shards: int, replicas: int) -> dict:
    """Settings and mapping of a build's index."""
    views = {
        view_field(text, view): {"type": "text", "analyzer": "whitespace", "norms": True,
                                 "index_options": "positions" if view in POSITIONAL else "freqs"}
        for text in TEXT_FIELDS for view in VIEWS
    }
    stored = {"type": "keyword", "index": False, "doc_values": False}
    return {
        "settings": {"number_of_shards": shards, "number_of_replicas": replicas,
                     "max_result_window": MAX_RESULT_WINDOW},
        "mappings": {
            "dynamic": "strict",
            "_source": {"excludes": list(VIEW_FIELDS)},
            "properties": {
                "id": {"type": "keyword"},
                **{name: {"type": "text", "index": False} for name in TEXT_FIELDS},
                "author": stored, "url": stored, "origin": stored, "date": stored,
                "source": {"type": "keyword"},
                "source_key": {"type": "keyword"},
                "published": {"type": "date"},
                "year": {"type": "short"},
                **views,
            },
        },
    }


def ensure_meta(client, alias: str) -> None:
    if client.indices.exists(index=meta_index(alias)):
        return
    try:
        client.indices.create(index=meta_index(alias), body={
            # One copy on every node up to two: the lock and the lexicon survive a lost node.
            "settings": {"number_of_shards": 1, "auto_expand_replicas": "0-1"},
            "mappings": {"dynamic": False, "properties": {"kind": {"type": "keyword"}, "build": {"type": "keyword"}}},
        })
    except opensearchpy.RequestError as error:
        if error.error != "resource_already_exists_exception":
            raise
    # (`request_timeout` is the client's; given it, `timeout` goes to the server as the wait.)
    client.cluster.health(index=meta_index(alias), wait_for_status="yellow", timeout="60s", request_timeout=70)


def current_build(client, alias: str) -> str | None:
    """The index the alias points at, or None before the first build."""
    try:
        found = client.indices.get_alias(name=alias)
    except opensearchpy.NotFoundError:
        return None
    return next(iter(found), None)


def require_build(client, alias: str) -> str:
    build = current_build(client, alias)
    if build is None:
        raise ClusterError(f"no index {alias!r} on the cluster: run `vnsearch index --backend opensearch` first")
    return build


def _state(client, alias: str) -> dict:
    try:
        return client.get(index=meta_index(alias), id=_STATE)["_source"]
    except opensearchpy.NotFoundError:
        return {}


def builds(client, alias: str) -> list[str]:
    """Every build index of `alias`, current, previous or left over."""
    found = client.indices.get(index=f"{alias}-2*", expand_wildcards="all", ignore_unavailable=True)
    return sorted(name for name in found if name != meta_index(alias))


def publish(client, alias: str, build: str) -> None:
    """Point the alias at `build` in one atomic step and remember the build before it."""
    old = current_build(client, alias)
    actions = [{"add": {"index": build, "alias": alias}}]
    if old is not None and old != build:
        actions.insert(0, {"remove": {"index": old, "alias": alias}})
    client.indices.update_aliases(body={"actions": actions})
    if old is not None and old != build:
        client.index(index=meta_index(alias), id=_STATE, body={"kind": "state", "previous": old}, refresh=True)


def sweep(client, alias: str) -> None:
    """Delete builds that are neither current nor previous, and their lexicons."""
    keep = {current_build(client, alias), _state(client, alias).get("previous")}
    for build in builds(client, alias):
        if build not in keep:
            drop(client, alias, build)


def drop(client, alias: str, build: str) -> None:
    """Delete one build and its lexicon."""
    client.indices.delete(index=build, ignore_unavailable=True)
    # One by one: `_delete_by_query` is in the reindex module, which the core server lacks.
    found = client.search(index=meta_index(alias), body={"query": {"term": {"build": build}}, "_source": False,
                                                         "size": 10_000}, ignore=[404])
    for hit in found.get("hits", {}).get("hits", []):
        client.delete(index=meta_index(alias), id=hit["_id"], ignore=[404])


def wait_for_copies(client, build: str, replicas: int, seconds: int = 600) -> None:
    """Wait until every shard of `build` has its replicas (or as many as the cluster's nodes allow)."""
    nodes = int(client.cluster.health()["number_of_data_nodes"])
    status = "green" if replicas < nodes else "yellow"
    health = client.cluster.health(index=build, wait_for_status=status, timeout=f"{seconds}s",
                                   request_timeout=seconds + 10)
    if health.get("timed_out"):
        raise ClusterError(f"the shards of {build} did not reach {status} within {seconds} s")


# --- the lexicon: syllable statistics per build, in pieces, under a generation number


def _lexicon_id(build: str) -> str:
    return f"lexicon:{build}"


def save_lexicon(client, alias: str, build: str, arrays: dict[str, np.ndarray]) -> None:
    """Store `arrays` (`indexer.lexicon` format) as the build's next lexicon generation.

    The pieces are written first and the head naming them last, so a reader sees the old
    generation or the new one; older pieces go afterwards.
    """
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    data = buffer.getvalue()
    head_id = _lexicon_id(build)
    try:
        old = client.get(index=meta_index(alias), id=head_id)["_source"]
    except opensearchpy.NotFoundError:
        old = None
    generation = (old["generation"] + 1) if old else 1
    pieces = [data[i:i + LEXICON_PIECE] for i in range(0, len(data), LEXICON_PIECE)] or [b""]
    for n, piece in enumerate(pieces):
        client.index(index=meta_index(alias), id=f"{head_id}:{generation}:{n}",
                     body={"kind": "lexicon-piece", "build": build, "data": base64.b64encode(piece).decode()})
    client.index(index=meta_index(alias), id=head_id, refresh=True,
                 body={"kind": "lexicon", "build": build, "generation": generation, "pieces": len(pieces)})
    mark_changed(client, alias, build)  # the lexicon is saved with every build and update
    if old:
        for n in range(old["pieces"]):
            client.delete(index=meta_index(alias), id=f"{head_id}:{old['generation']}:{n}", ignore=[404])


def mark_changed(client, alias: str, build: str) -> None:
    """Record that the build's articles changed now (feeds say when an index last did)."""
    client.index(index=meta_index(alias), id=f"changed:{build}", refresh=True,
                 body={"kind": "changed", "build": build, "when": time.time()})


def changed(client, alias: str, build: str) -> dt.datetime:
    """When the build's articles last changed (in UTC, to the second)."""
    try:
        seconds = client.get(index=meta_index(alias), id=f"changed:{build}")["_source"]["when"]
    except opensearchpy.NotFoundError:
        seconds = time.time()
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).replace(microsecond=0)


def lexicon_generation(client, alias: str, build: str) -> int:
    """The build's lexicon generation (0: none yet)."""
    try:
        return client.get(index=meta_index(alias), id=_lexicon_id(build), _source_includes="generation")[
            "_source"]["generation"]
    except opensearchpy.NotFoundError:
        return 0


def load_lexicon(client, alias: str, build: str) -> tuple[int, dict[str, np.ndarray] | None]:
    """(generation, arrays) of the build's lexicon; (0, None) if it has none."""
    for _ in range(3):  # a writer may replace the generation while we read it
        try:
            head = client.get(index=meta_index(alias), id=_lexicon_id(build))["_source"]
        except opensearchpy.NotFoundError:
            return 0, None
        data = bytearray()
        for n in range(head["pieces"]):
            try:
                piece = client.get(index=meta_index(alias), id=f"{_lexicon_id(build)}:{head['generation']}:{n}")
            except opensearchpy.NotFoundError:
                break
            data += base64.b64decode(piece["_source"]["data"])
        else:
            with np.load(io.BytesIO(bytes(data))) as arrays:
                return head["generation"], {name: arrays[name] for name in arrays.files}
    raise ClusterError(f"the lexicon of {build} kept changing while being read")


# --- one writer at a time


@contextmanager
def write_lock(client, alias: str, wait: bool = False) -> Iterator[None]:
    """Hold the cluster-wide writer lock of `alias`; fail at once with a clear message unless `wait`.

    A lock document created only if absent; its holder refreshes it in the background,
    so the lock of a writer that was killed goes stale and is taken over.
    """
    ensure_meta(client, alias)
    index = meta_index(alias)
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    while True:
        try:
            response = client.index(index=index, id=_LOCK, op_type="create", refresh=True,
                                    body={"kind": "lock", "owner": owner, "heartbeat": time.time()})
            break
        except opensearchpy.ConflictError:
            held = client.get(index=index, id=_LOCK)
            if time.time() - held["_source"]["heartbeat"] > LOCK_STALE:
                try:  # take over a dead writer's lock, unless someone else just did
                    response = client.index(index=index, id=_LOCK, if_seq_no=held["_seq_no"],
                                            if_primary_term=held["_primary_term"], refresh=True,
                                            body={"kind": "lock", "owner": owner, "heartbeat": time.time()})
                    break
                except opensearchpy.ConflictError:
                    pass
            if not wait:
                raise ClusterError(f"another vnsearch process ({held['_source']['owner']}) is writing the "
                                   f"index {alias!r}; try again when it ends")
            time.sleep(1)
    seq = {"if_seq_no": response["_seq_no"], "if_primary_term": response["_primary_term"]}
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(LOCK_HEARTBEAT):
            try:
                renewed = client.index(index=index, id=_LOCK, **seq,
                                       body={"kind": "lock", "owner": owner, "heartbeat": time.time()})
                seq.update(if_seq_no=renewed["_seq_no"], if_primary_term=renewed["_primary_term"])
            except opensearchpy.ConflictError:
                return  # taken over: this writer was presumed dead
            except opensearchpy.OpenSearchException:
                pass  # a node lost for a moment: try again at the next beat

    heartbeat = threading.Thread(target=beat, daemon=True)
    heartbeat.start()
    try:
        yield
    finally:
        stop.set()
        heartbeat.join()
        try:
            client.delete(index=index, id=_LOCK, **seq, refresh=True)
        except opensearchpy.ConflictError:
            pass
