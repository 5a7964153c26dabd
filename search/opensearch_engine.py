"""The search call every surface uses, answered by an OpenSearch cluster.

The same public methods as `search.engine.Engine`, returning the same `Results` and
`Hit` objects, so the page, the JSON API and the command line cannot tell the backends
apart. Our code parses the query, expands abbreviations, joins words, restores
accents and renders snippets from the stored text; OpenSearch matches, ranks
(`search.opensearch_query`), counts facets and serves from any node that is up.

Each shard scores with its own term statistics; a small index's shards disagree, so
below DFS_BELOW articles searches gather every shard's first (`dfs_query_then_fetch`).
A search that meets a node going down is retried on the others; partial results are
refused rather than shown as if complete.
"""
from __future__ import annotations

import datetime as dt
import heapq
import math
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterator

from vnsearch.indexer import opensearch_store as cluster
from vnsearch.indexer.analysis import analyse, fold_syllable, folded_words, pair_terms
from vnsearch.indexer.fields import TEXT_FIELDS, view_field
from vnsearch.indexer.lexicon import SyllableStats
from vnsearch.indexer.normalize import has_diacritics
from vnsearch.search import abbreviations
from vnsearch.search import opensearch_query as dsl
from vnsearch.search.accents import AccentModel
from vnsearch.search.completions import ATTEST_ARTICLES, TITLE_MATCHES, Completer, Completions, Title, matches
from vnsearch.search.engine import MAX_PER_PAGE, RELATED_TEXT_CHARS, Hit, Results, _filtered, _hit, \
    _keys, _ms_since
from vnsearch.search.ranker import SIMILAR_TERMS
from vnsearch.search.scoring import PARTS, SHORT_QUERY_WORDS, idf_terms
from vnsearch.search.snippets import Key
from vnsearch.search.suggest import suggest
from vnsearch.search.syntax import Query, parse
from vnsearch.search.words import WordStats, join_words

# A search that fails for a passing reason (a node lost, shards moving) is tried this
# many more times, waiting a little longer each time; a node lost is detected at once
# (its connections are refused), a new primary chosen within seconds.
RETRIES = 5
RETRY_WAIT = 0.25
# Below this many articles, searches first gather the term statistics of every shard
# (`dfs_query_then_fetch`, one more round of requests to the shards): in a small index a
# shard's own document frequencies are far from the whole index's (the tests' 15
# articles ranked differently shard by shard). Above it each shard holds enough articles
# for its statistics to stand for all, and the extra round is not paid.
DFS_BELOW = 10_000
# Document frequencies kept per index generation (the run bonus's IDF, related articles),
# and looked up at most this many per request.
_DF_CACHE = 200_000
_COUNTS_PER_REQUEST = 250
# Hits per request when exporting every hit of a query.
EXPORT_PAGE = 500
# How often a searcher asks the cluster whether a rebuild or an update changed the index:
# a request over the network, where the embedded index's check looks at two files.
REFRESH_SECONDS = 1.0


@dataclass
class _Generation:
    """What the engine knows of the current build: its name and its lexicon's models."""
    build: str
    lexicon: int
    stats: SyllableStats | None
    words: WordStats | None = None
    accents: AccentModel | None = None
    completer: Completer | None = None
    doc_frequency: dict[str, int] = field(default_factory=dict)
    size: int = 0  # articles in the index
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.stats is not None:
            self.words = WordStats(self.stats)
            self.accents = AccentModel(self.stats)

    @property
    def search_type(self) -> str:
        return "dfs_query_then_fetch" if self.size < DFS_BELOW else "query_then_fetch"


class _ClusterCompleter(Completer):
    """Completion tables of the lexicon; titles and phrases are looked up in the cluster."""

    def __init__(self, model, engine: "OpenSearchEngine"):
        super().__init__(model, [])
        self.engine = engine

    def _titles(self, typed: str, partial: bool, limit: int) -> list[Title]:
        """Titles with the typed words at a word start, newest first; those that begin with them first."""
        if limit < 1:
            return []
        kind = "match_phrase_prefix" if partial else "match_phrase"
        body = {"size": TITLE_MATCHES, "_source": ["id", "title"], "sort": [{"published": {"order": "desc"}}],
                "query": {kind: {view_field("title", "fold"): {"query": typed, "analyzer": "whitespace",
                                                                **({"max_expansions": 500} if partial else {})}}}}
        hits = self.engine._call(self.engine.client.search, index=self.engine.alias, body=body)["hits"]["hits"]
        titles = [Title(hit["_source"]["id"], " ".join((hit["_source"].get("title") or "").split())) for hit in hits]
        begins = [title for title in titles if _begins(title.title, typed, partial)]
        return (begins + [title for title in titles if title not in begins])[:limit]

    def occurrences(self, syllables: tuple[str, ...], reading) -> list:
        """`completions.occurrences`, from the articles whose pairs view holds every pair."""
        if len(syllables) < 2:
            return []
        pairs = pair_terms([fold_syllable(s) for s in syllables])
        body = {"size": ATTEST_ARTICLES, "_source": list(TEXT_FIELDS), "query": {"bool": {"should": [
            {"bool": {"filter": [{"term": {view_field(name, "pairs"): pair}} for pair in pairs]}}
            for name in TEXT_FIELDS]}}}
        hits = self.engine._call(self.engine.client.search, index=self.engine.alias, body=body)["hits"]["hits"]
        return matches(syllables, ((hit["_id"], hit["_source"]) for hit in hits))


def _begins(title: str, typed: str, partial: bool) -> bool:
    folded = analyse(title).folded
    words = typed.split(" ")
    if len(folded) < len(words) or folded[:len(words) - 1] != words[:-1]:
        return False
    return folded[len(words) - 1].startswith(words[-1]) if partial else folded[len(words) - 1] == words[-1]


class OpenSearchEngine:
    """Searches the alias on the cluster at `url`; every call sees the newest complete build."""

    def __init__(self, url: str | None = None, alias: str = cluster.DEFAULT_ALIAS):
        self.url = url or cluster.DEFAULT_URL
        self.alias = alias
        self.client = cluster.connect(self.url)
        self._generation: _Generation | None = None
        self._checked = 0.0
        self._refreshing = threading.Lock()
        try:
            self._current()  # fail early, with the store's clear message
        except cluster.opensearchpy.ConnectionError as error:
            raise cluster.ClusterError(f"cannot reach the OpenSearch cluster at {self.url}: {error.info or error}") \
                from error

    # --- the cluster

    def _call(self, method, *args, **kwargs):
        """`method(*args, **kwargs)`, tried again (on the other nodes) while the cluster recovers."""
        for attempt in range(RETRIES + 1):
            try:
                return method(*args, **kwargs)
            except (cluster.opensearchpy.ConnectionError, cluster.opensearchpy.TransportError) as error:
                if attempt == RETRIES or not _passing(error):
                    raise
                time.sleep(RETRY_WAIT * 2 ** attempt)

    def _current(self) -> _Generation:
        """The current build's generation; checked once a second, reloaded when a rebuild or
        an update changed it (by one request thread, while the others keep the old one)."""
        generation = self._generation
        due = generation is None or time.monotonic() - self._checked > REFRESH_SECONDS
        if due and self._refreshing.acquire(blocking=generation is None):
            try:
                try:
                    build = self._call(cluster.require_build, self.client, self.alias)
                    lexicon = cluster.lexicon_generation(self.client, self.alias, build)
                    if generation is None or (build, lexicon) != (generation.build, generation.lexicon):
                        number, arrays = cluster.load_lexicon(self.client, self.alias, build)
                        size = self._call(self.client.count, index=build)["count"]
                        self._generation = _Generation(build, number, SyllableStats(arrays) if arrays else None,
                                                       size=size)
                except (cluster.opensearchpy.ConnectionError, cluster.opensearchpy.TransportError,
                        cluster.ClusterError):
                    if generation is None:
                        raise  # nothing to search with yet: the caller says why
                self._checked = time.monotonic()
            finally:
                self._refreshing.release()
        return self._generation

    def _params(self, generation: _Generation) -> dict:
        # Partial results (a shard copy lost mid-request) are refused and the search retried.
        return {"search_type": generation.search_type, "allow_partial_search_results": "false"}

    def _msearch(self, bodies: list[dict], explain: bool = False) -> list[dict]:
        """Several searches in one round trip; any one failing fails (and retries) them all.

        With `explain`, one by one: the named clauses' scores are only had from `_search`.
        """
        params = self._params(self._current())
        if explain:
            params["include_named_queries_score"] = "true"
            return [self._call(self.client.search, index=self.alias, body=body, params=params) for body in bodies]
        header = {"index": self.alias, "search_type": params["search_type"], "allow_partial_search_results": False}

        def once() -> list[dict]:
            lines = []
            for body in bodies:
                lines += [header, body]
            responses = self.client.msearch(body=lines)["responses"]
            failed = [r for r in responses if "error" in r]
            if failed:
                raise cluster.opensearchpy.TransportError(failed[0].get("status", 500), str(failed[0]["error"]))
            return responses

        return self._call(once)

    # --- searching

    def search(self, text: str, page: int = 1, per_page: int = 10, sort: str = "relevance",
               source: str | None = None, year: int | None = None, explain: bool = False,
               correct: bool = True) -> Results:
        """One page of results, as `search.engine.Engine.search` gives it."""
        started = time.perf_counter()
        page = max(1, page)
        per_page = max(1, min(per_page, MAX_PER_PAGE))
        results = Results(text or "", 0, page, per_page, 0.0)
        parsed = _filtered(text, source, year)
        if parsed is not None:
            answer = self._answer(parsed, text, sort, correct, results, (page - 1) * per_page, per_page, explain)
            keys = _keys(answer.query)
            results.hits = [_hit(hit["_source"], hit.get("_score") or 0.0, keys, _explain(hit) if explain else None)
                            for hit in answer.page["hits"]["hits"]]
        results.took_ms = _ms_since(started)
        return results

    def export(self, text: str, limit: int, sort: str = "relevance", source: str | None = None,
               year: int | None = None, correct: bool = True) -> tuple[Results, Iterator[Hit]]:
        """Every hit up to `limit`, as `Engine.export` gives them: the results without hits, and
        the hits, read a page of EXPORT_PAGE at a time as they are used."""
        results = Results(text or "", 0, 1, limit, 0.0)
        parsed = _filtered(text, source, year)
        if parsed is None:
            return results, iter(())
        size = min(limit, EXPORT_PAGE)
        answer = self._answer(parsed, text, sort, correct, results, 0, size, False)

        def hits() -> Iterator[Hit]:
            keys = _keys(answer.query)
            page, first = answer.page, 0
            while True:
                found = page["hits"]["hits"][:limit - first]
                yield from (_hit(hit["_source"], hit.get("_score") or 0.0, keys) for hit in found)
                first += len(found)
                if len(found) < size or first >= min(limit, results.total):
                    return
                body = self._page_body(self._current(), answer.query, first, size, sort == "date", False,
                                       answer.required, answer.evidence)
                page = self._searches({"page": body})["page"]

        return results, hits()

    def _answer(self, parsed: Query, text: str, sort: str, correct: bool, results: Results,
                first: int, size: int, explain: bool) -> "_Answer":
        """One page of the query's articles (or the correction's); fills in the results' total,
        facets, suggestion, correction and partial match, as `Engine._rank` does."""
        generation = self._current()
        by_date = sort == "date"
        planned, evidence = dsl.fit(join_words(abbreviations.expand(parsed), generation.words))
        suggestion = suggest(generation.accents, text) if generation.accents is not None else None
        fixed = fixed_evidence = None
        if suggestion:
            fixed, fixed_evidence = dsl.fit(join_words(abbreviations.expand(parse(suggestion)), generation.words))
            fixed.sources, fixed.start, fixed.end = planned.sources, planned.start, planned.end

        def page_of(query: Query, required: int | None = None) -> dict:
            full = fixed_evidence if query is fixed else evidence
            return self._page_body(generation, query, first, size, by_date, explain, required, full)

        # One round trip: the page; which words some article holds (only a long query may
        # match without all of them); and whether the suggestion is worth showing (as
        # `Engine._suggestion` decides: when some article holds the query exactly as typed,
        # only a correction confident enough over it (`suggest`'s `exact`); one that only
        # adds diacritics finds what the query found; any other only if it finds articles
        # holding all of its words).
        asked = {"page": page_of(planned)}
        if len(planned.groups) > SHORT_QUERY_WORDS:
            asked.update(_presence(planned, "holds"))
        if fixed is not None and has_diacritics(text):
            asked["as typed"] = _exists(dsl.holds_as_typed_query(planned, parse(text)))
        if fixed is not None:
            asked["fixed"] = _exists(dsl.match_query(fixed, scored=False))
        answers = self._searches(asked, explain)
        main = answers["page"]
        if fixed is not None:
            accents_only = folded_words(suggestion) == folded_words(text)
            held = _total(answers.get("as typed")) and _total(main)
            if (held and suggest(generation.accents, text, exact=True) is None) or \
                    not (_total(answers["fixed"]) or (accents_only and _total(main))):
                suggestion = fixed = None
        answer = _Answer(planned, evidence, None, main)
        if not _total(main):
            # No article has every word: those with some of them, or the correction's articles.
            again = {} if len(planned.groups) > SHORT_QUERY_WORDS else _presence(planned, "holds")
            if len(planned.groups) > 1:
                again["partial"] = page_of(planned, required=1)
            if fixed is not None and correct:
                again["fixed page"] = page_of(fixed)
                if len(fixed.groups) > SHORT_QUERY_WORDS:
                    again.update(_presence(fixed, "fixed holds"))
            answers.update(self._searches(again, explain))
            if _total(answers.get("partial")):
                answer = _Answer(planned, evidence, 1, answers["partial"])
                results.partial = True
            if _total(answers.get("fixed page")):
                answer = _Answer(fixed, fixed_evidence, None, answers["fixed page"])
                results.partial, results.showing = False, suggestion
        results.suggestion = suggestion
        prefix = "fixed holds" if results.showing else "holds"
        results.missing = [" ".join(group[0].syllables) for i, group in enumerate(answer.query.groups)
                           if f"{prefix} {i}" in answers and not _total(answers[f"{prefix} {i}"])]
        results.total = _total(answer.page)
        aggregations = answer.page.get("aggregations")
        if aggregations:
            results.facets = dsl.facets(aggregations)
            results.undated = int(aggregations["undated"]["doc_count"])
        return answer

    def _searches(self, asked: dict[str, dict], explain: bool = False) -> dict[str, dict]:
        """The answers to named requests, in one round trip."""
        return dict(zip(asked, self._msearch(list(asked.values()), explain))) if asked else {}

    def _page_body(self, generation: _Generation, query: Query, first: int, size: int, by_date: bool,
                   explain: bool, required: int | None = None, evidence: bool = True) -> dict:
        """The request for one page of `query`, with its total and facets."""
        if first + size > cluster.MAX_RESULT_WINDOW:
            first, size = 0, 0  # past the last page the embedded backend can show either
        # The run bonus's syllables are among the bodies' folded syllables looked up here.
        idf = self._idf(generation, idf_terms(query))
        body = {"query": dsl.match_query(query, required, explain=explain, evidence=evidence, idf=idf),
                "from": first, "size": size,
                "track_total_hits": True, "_source": dsl.HIT_FIELDS, "aggs": dsl.facet_aggregations()}
        if by_date:
            # Newest first; undated articles last, by score.
            body["sort"] = [{"published": {"order": "desc", "missing": "_last"}}, {"_score": {"order": "desc"}}]
            body["track_scores"] = True
        elif not query.is_empty:
            rescore = dsl.rescore(query, idf[view_field("body", "fold")])
            if rescore:
                body["rescore"] = rescore
        return body

    def _idf(self, generation: _Generation, wanted: dict[str, list[str]]) -> dict[str, dict[str, float]]:
        """BM25's IDF of each term in its field (`wanted`: terms per field name), as
        `Snapshot.idf` counts it."""
        frequencies = self._doc_frequencies(generation, wanted)
        # Counts cached at different moments of an update may disagree a little: never below zero.
        size = max([generation.size, *(n for counts in frequencies.values() for n in counts.values())])
        return {field_name: {t: math.log(1 + (size - n + 0.5) / (n + 0.5)) for t, n in counts.items()}
                for field_name, counts in frequencies.items()}

    def query_keys(self, text: str) -> list[Key]:
        """What to mark in a text for this query, as the search marked its snippets."""
        return _keys(join_words(abbreviations.expand(parse(text or "")), self._current().words))

    def _stored(self, article_id: str) -> dict | None:
        hits = self._call(self.client.search, index=self.alias, body={
            "size": 1, "query": {"term": {"id": article_id}}, "_source": {"excludes": ["source_key"]}})
        found = hits["hits"]["hits"]
        return found[0]["_source"] if found else None

    def article(self, article_id: str) -> dict | None:
        return self._stored(article_id)

    def related(self, article_id: str, limit: int = 5) -> list[Hit]:
        """Articles sharing the most informative words of this one (as `search.ranker.similar`:
        its words by frequency in it times rarity in the index, the best looked up in the
        bodies' words view)."""
        stored = self._stored(article_id)
        if stored is None:
            return []
        text = "\n".join(stored.get(name) or "" for name in TEXT_FIELDS)[:RELATED_TEXT_CHARS]
        words = Counter(analyse(text).views().words)
        generation = self._current()
        field_name = view_field("body", "words")
        frequency = self._doc_frequencies(generation, {field_name: list(words)})[field_name]
        size = max(generation.size, 1)
        weighted = [(count * math.log(size / frequency[word]), word) for word, count in words.items()
                    if frequency.get(word)]
        best = [word for _, word in heapq.nlargest(SIMILAR_TERMS, weighted)]
        if not best:
            return []
        body = {"size": limit, "_source": dsl.HIT_FIELDS, "query": {"bool": {
            "should": [{"term": {field_name: cluster.stream([word])}} for word in best],
            "must_not": [{"term": {"id": article_id}}]}}}
        hits = self._call(self.client.search, index=self.alias, body=body,
                          params=self._params(generation))["hits"]["hits"]
        return [_hit(hit["_source"], hit["_score"], []) for hit in hits]

    def _doc_frequencies(self, generation: _Generation, wanted: dict[str, list[str]]) -> dict[str, dict[str, int]]:
        """How many articles hold each term in its field (`wanted`: terms per field name), over
        the whole index (a shard's own counts are far off on a small index); looked up once
        per generation, those not known yet in one round trip."""
        with generation.lock:
            unknown = [(field_name, t) for field_name, terms in wanted.items() for t in dict.fromkeys(terms)
                       if f"{field_name}\0{t}" not in generation.doc_frequency]
        for i in range(0, len(unknown), _COUNTS_PER_REQUEST):
            chunk = unknown[i:i + _COUNTS_PER_REQUEST]
            # The article count with them: an update since the generation began changes both.
            lines = [{"query": {"match_all": {}}, "size": 0, "track_total_hits": True}]
            lines += [{"query": {"term": {field_name: cluster.stream([t])}}, "size": 0, "track_total_hits": True}
                      for field_name, t in chunk]
            responses = self._msearch(lines)
            with generation.lock:
                if len(generation.doc_frequency) > _DF_CACHE:
                    generation.doc_frequency.clear()
                generation.size = _total(responses[0])
                for (field_name, t), response in zip(chunk, responses[1:]):
                    generation.doc_frequency[f"{field_name}\0{t}"] = _total(response)
        with generation.lock:
            return {field_name: {t: generation.doc_frequency.get(f"{field_name}\0{t}", 0) for t in terms}
                    for field_name, terms in wanted.items()}

    def complete(self, prefix: str, limit: int = 8, titles: int = 4) -> Completions:
        """Completions of a query being typed: phrases as articles write them, and titles,
        accent-insensitive."""
        generation = self._current()
        with generation.lock:
            if generation.completer is None:
                generation.completer = _ClusterCompleter(generation.accents, self)
        return generation.completer.complete(prefix, limit, titles, reading=None)

    def changed(self) -> dt.datetime:
        """When the index last changed, by a build, an update or a deletion (in UTC)."""
        return cluster.changed(self.client, self.alias, self._current().build)




@dataclass
class _Answer:
    """The query whose articles are shown (the typed one or its correction), how to ask for more
    of its pages, and the first page asked for."""
    query: Query
    evidence: bool
    required: int | None
    page: dict


def _passing(error) -> bool:
    """Whether a failed request may succeed if tried again: a node that did not answer or is
    shutting down, shards without a copy for a moment, a full queue; not a query refused."""
    if isinstance(error, cluster.opensearchpy.ConnectionError):
        return True
    status = error.status_code
    if status in (429, 502, 503, 504):
        return True
    return status == 500 and not any(refusal in str(error) for refusal in _REFUSALS)


# What a query's own fault looks like inside a 500 ("all shards failed" with the reason inside).
_REFUSALS = ("too_many_nested_clauses", "too_many_clauses", "query_shard_exception", "parsing_exception",
             "illegal_argument_exception", "x_content_parse_exception")


def _exists(query: dict) -> dict:
    """A request that only asks whether some article answers `query`."""
    return {"query": query, "size": 0, "track_total_hits": 1}


def _presence(query: Query, name: str) -> dict[str, dict]:
    """For each group of `query`, whether an article within its filters holds it (`search.scoring.rank`'s
    `missing`: excluded words aside)."""
    return {f"{name} {i}": _exists(dsl.presence_query(query, group)) for i, group in enumerate(query.groups)}


def _total(response: dict | None) -> int:
    return int(response["hits"]["total"]["value"]) if response else 0


def _explain(hit: dict) -> dict[str, float]:
    """The score's parts (`search.scoring.PARTS`) from the named clauses; the run bonus is what
    the rescore added."""
    parts = dict.fromkeys(PARTS, 0.0)
    for name, score in (hit.get("matched_queries") or {}).items():
        parts[name.split("#")[0]] += score
    parts["run"] = max(0.0, (hit.get("_score") or 0.0) - sum(parts.values()))
    return {name: round(value, 4) for name, value in parts.items()}
