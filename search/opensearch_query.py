"""Our ranking design (`search.scoring`) written as OpenSearch query DSL.

Queries are parsed, expanded and joined into words by our own code; this module only
translates the result, term by term, into a query over the fields of
`indexer.opensearch_store`, whose terms are our analysis's own:

- a typed text matches where some field holds all of its folded syllables (`term` on
  the fold view; a word of several syllables also every adjacent pair, from the pairs
  view; a quoted phrase the syllables in order, `match_phrase`), and scores each field's
  BM25 of them times the field's weight (FIELD_WEIGHTS; ACCENTED_FOLD_SHARE of it for a
  syllable typed with diacritics), plus, in the same field's clause, the rest of such a
  syllable's score from its exact occurrences: its BM25 in the accented view, boosted to
  the folded syllable's IDF (`exact_weight`);
- the alternatives of one group (OR, abbreviations) are a `dis_max`; the groups go in
  one `bool` whose `minimum_should_match` is scoring's: all words of a short query, a
  share of a long one's;
- the typed pairs (pairs view) and pyvi compounds (words view) add their weighted BM25
  as optional clauses, the whole typed run in order (`span_near`) adds RUN_WEIGHT times
  its IDF to the best candidates through a `rescore`;
- the coverage is a `constant_score` clause per distinct typed word (any of its
  alternatives) and per typed pair, worth COVER_WEIGHT times its IDF in the bodies
  (`Engine` looks the IDFs up);
- sources and dates are filters, facets aggregations.

OpenSearch's default similarity is BM25 with our k1 and b and the same (k1 + 1) factor
(its "legacy" BM25, kept for compatible scores), so every part keeps its weight. What
differs, and why it may: Lucene stores field lengths in one byte (lengths within a few
percent); its IDF counts the articles that have the field, not all; quoted phrases are
always checked against positions (the embedded index checks them only up to
VERIFY_PHRASES candidates); and the run bonus goes to the best RERANK of each shard, not
of all.
"""
from __future__ import annotations

import datetime as dt

from vnsearch.indexer.analysis import fold_syllable, folded_words, pair_terms
from vnsearch.indexer.fields import FIELD_WEIGHTS, view_field
from vnsearch.indexer.normalize import has_diacritics
from vnsearch.indexer.opensearch_store import WORD_JOINER
from vnsearch.search import sources
from vnsearch.search.runs import RERANK, RUN_GAPPED_MAX, RUN_SLOP, RUN_WEIGHT, typed_runs
from vnsearch.search.scoring import (ACCENTED_FOLD_SHARE, COVER_WEIGHT, PAIR_WEIGHT, WORD_WEIGHT, _compounds, _fields,
                                     _required, covered_groups, exact_weight, group_idf, idf_terms)
from vnsearch.search.syntax import Query, Text

# Enough buckets for every source and year of an archive.
FACET_BUCKETS = 1000
# Clauses a page's query may have: OpenSearch's limit (1,024) less what `holds_as_typed_query`
# adds to it (48 syllables in three fields).
CLAUSE_BUDGET = 1024 - 3 * 48
# What a hit needs for its snippet and its line in the results.
HIT_FIELDS = ["id", "title", "summary", "body", "date", "source", "url"]


def text_query(text: Text, scored: bool = True, name: str | None = None,
               idf: dict[str, dict[str, float]] | None = None) -> dict:
    """Articles holding `text` in some field, scored (`search.scoring.match_text`) by the BM25
    of its folded syllables in the fields that hold it, plus, with `idf` (per field name),
    the exact accents: the BM25 of the syllables typed with diacritics in the accented view,
    each weighed by `exact_weight`. Both count only in the fields holding the text, as
    one field's clause: "mẹ" in a title that lacks the rest of "mẹ chồng" counts for neither."""
    shares = [ACCENTED_FOLD_SHARE if has_diacritics(s) else 1.0 for s in text.syllables]
    per_field = []
    for field, weight in _fields(text).items():
        fold, acc = view_field(field, "fold"), view_field(field, "acc")
        clause: dict = {"must": [_term(fold, f, weight * share, name and f"bm25#{name}.{field}.{i}")
                                 for i, (f, share) in enumerate(zip(text.folded, shares))]}
        side_by_side = _side_by_side(text, field)
        if side_by_side:
            clause["filter"] = side_by_side
        if scored and idf is not None:
            fold_idf, acc_idf = idf.get(fold, {}), idf.get(acc, {})
            clause["should"] = [
                _term(acc, s, weight * exact_weight(fold_idf.get(fold_syllable(s), 1.0), acc_idf.get(s, 1.0)),
                      name and f"accents#{name}.{field}.{s}")
                for s in filter(has_diacritics, text.syllables)]
        per_field.append({"bool": clause})
    matched = {"bool": {"should": per_field, "minimum_should_match": 1}}
    return matched if scored else {"constant_score": {"filter": matched}}


def _term(field_name: str, value: str, boost: float, label: str | None = None) -> dict:
    """A `term` clause, named `label` (for `--explain`) when given."""
    term = {"value": value, "boost": boost}
    if label:
        term["_name"] = label
    return {"term": {field_name: term}}


def _side_by_side(text: Text, field: str) -> list[dict]:
    """What else a field needs, beyond the text's syllables, to hold a phrase: the phrase
    itself if quoted, else (a word of several syllables, a document number) every adjacent pair."""
    if not text.phrase or len(text.folded) < 2:
        return []
    fold = view_field(field, "fold")
    if text.quoted:
        return [{"match_phrase": {fold: {"query": " ".join(text.folded), "analyzer": "whitespace"}}}]
    return [{"term": {view_field(field, "pairs"): pair}} for pair in text.pairs]


def _best(queries: list[dict]) -> dict:
    return queries[0] if len(queries) == 1 else {"dis_max": {"queries": queries}}


def group_query(group: list[Text], scored: bool = True, name: str | None = None,
                idf: dict[str, dict[str, float]] | None = None) -> dict:
    """Any one of the group's alternatives (OR, an abbreviation's long form), scored as the
    best of them (`search.scoring.gather`); without `idf`, by the folded BM25 alone."""
    names = [f"{name}.{i}" if name else None for i in range(len(group))]
    return _best([text_query(text, scored, n, idf) for text, n in zip(group, names)])


def filters(query: Query) -> list[dict]:
    """The source and date filters."""
    found = []
    if query.sources:
        # By code or by the publication's name (search/sources.tsv): source:GLO, source:"Báo Gia Lai".
        wanted = {folded_words(s) for s in query.sources}
        named = {code for code, name in sources.table().items() if folded_words(name) in wanted}
        found.append({"terms": {"source_key": sorted(wanted | named)}})
    if query.start or query.end:
        bounds = {}
        if query.start:
            bounds["gte"] = _iso(query.start)
        if query.end and query.end < dt.datetime.max:
            bounds["lt"] = _iso(query.end)
        found.append({"range": {"published": bounds}})
    return found


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="seconds")  # four-digit years, unlike strftime's %Y before 1000


def _evidence(query: Query, explain: bool) -> list[dict]:
    """Optional clauses: the typed pairs side by side, and pyvi compounds, in every field."""
    clauses = []
    runs = typed_runs(query)
    pairs = [p for run in runs for p in pair_terms([fold_syllable(s) for s in run])]
    compounds = sorted({c for run in runs for c in _compounds(run)})
    for view, terms, weight in (("pairs", pairs, PAIR_WEIGHT), ("words", compounds, WORD_WEIGHT)):
        for i, term in enumerate(terms):
            for field, field_weight in FIELD_WEIGHTS.items():
                clause = {"value": term.replace(" ", WORD_JOINER), "boost": weight * field_weight}
                if explain:
                    clause["_name"] = f"{view}#{i}.{field}"
                clauses.append({"term": {view_field(field, view): clause}})
    return clauses


def coverage(query: Query, idf: dict[str, dict[str, float]], explain: bool = False) -> list[dict]:
    """Optional clauses, scoring's coverage: COVER_WEIGHT times the IDF in the bodies (`idf`,
    per field name) of each distinct typed word an article holds (any of its alternatives)
    and of each typed pair it holds side by side, however often."""
    if not COVER_WEIGHT:
        return []
    clauses = []
    for i in covered_groups(query):
        group = query.groups[i]
        held = group_query(group, scored=False)
        weight = COVER_WEIGHT * group_idf(lambda s: idf.get(view_field("body", "fold"), {}).get(s, 0.0), group)
        clauses.append({"constant_score": {"filter": held, "boost": weight}})
    pairs = view_field("body", "pairs")
    for pair in idf_terms(query)[pairs]:
        held = {"bool": {"should": [{"term": {view_field(field, "pairs"): pair}} for field in FIELD_WEIGHTS]}}
        clauses.append({"constant_score": {"filter": held, "boost": COVER_WEIGHT * idf.get(pairs, {}).get(pair, 0.0)}})
    if explain:
        for i, clause in enumerate(clauses):
            next(iter(clause.values()))["_name"] = f"cover#{i}"
    return clauses


def match_query(query: Query, required: int | None = None, scored: bool = True, explain: bool = False,
                evidence: bool = True, idf: dict[str, dict[str, float]] | None = None) -> dict:
    """The articles answering `query` (`required` of its groups, by default scoring's share),
    within its filters and without its excluded texts; without `evidence`, scored by the
    BM25 of the folded syllables alone (see `fit`). `idf` weighs the exact accents and the
    coverage."""
    bool_query: dict = {"filter": filters(query)}
    if not query.is_empty:
        required = _required(len(query.groups)) if required is None else required
        idf = idf or {}
        groups = [group_query(group, scored, str(i) if explain else None, idf if evidence else None)
                  for i, group in enumerate(query.groups)]
        bool_query["must"] = [{"bool": {"should": groups, "minimum_should_match": required}}]
        if scored and evidence:
            bool_query["should"] = _evidence(query, explain) + coverage(query, idf, explain)
    excluded = [text_query(text, scored=False) for text in query.excluded]
    if excluded:
        bool_query["must_not"] = excluded
    return {"bool": bool_query}


def clauses(dsl: dict | list) -> int:
    """How many clauses OpenSearch counts in a query: its terms, a phrase's each."""
    if isinstance(dsl, list):
        return sum(map(clauses, dsl))
    if not isinstance(dsl, dict):
        return 0
    count = 0
    for key, value in dsl.items():
        if key in ("term", "span_term"):
            count += 1
        elif key == "match_phrase":
            count += len(next(iter(value.values()))["query"].split())
        else:
            count += clauses(value)
    return count


def fit(query: Query) -> tuple[Query, bool]:
    """`query` as OpenSearch will take it, and whether it keeps its optional evidence.

    OpenSearch refuses a query of more than 1,024 clauses (`indices.query.bool.max_clause_count`),
    and ours has one per term and field. Only a query of dozens of abbreviations, each with
    its long form, comes near (the syntax keeps 48 syllables): such a query loses its
    pairs, compounds and accents first, then its last words, as the syntax drops syllables
    past its cap. CLAUSE_BUDGET leaves room for the checks made beside the page.
    """
    if clauses(match_query(query)) <= CLAUSE_BUDGET:
        return query, True
    while query.groups and clauses(match_query(query, evidence=False)) > CLAUSE_BUDGET:
        query = Query(query.groups[:-1], query.excluded, query.sources, query.start, query.end)
    return query, False


def run_terms(query: Query) -> list[list[str]]:
    """The folded syllables of each typed run long enough for the in-order bonus."""
    return [[fold_syllable(s) for s in run] for run in typed_runs(query) if len(run) >= 3]


def rescore(query: Query, idf: dict[str, float]) -> dict | None:
    """RUN_WEIGHT times a run's IDF (`idf`: of each folded syllable in the body's fold view) for
    the best candidates holding the run in order, a word or so apart, in the title or body."""
    clauses = []
    for run in run_terms(query):
        weight = RUN_WEIGHT * sum(idf.get(s, 0.0) for s in run)
        # Every pair of the run side by side in some text is the run itself, nearly always;
        # else the run in order, a word or so apart ("chỉ thị số 35" for "chỉ thị 35").
        paired = {"bool": {"filter": [{"bool": {"should": [{"term": {view_field(field, "pairs"): pair}}
                                                           for field in FIELD_WEIGHTS]}}
                                      for pair in pair_terms(run)]}}
        spans = [{"span_near": {"clauses": [{"span_term": {view_field(field, "fold"): s}} for s in run],
                                "slop": (len(run) - 1) * (RUN_SLOP - 1), "in_order": True}}
                 for field in ("title", "body")] if len(run) <= RUN_GAPPED_MAX else []
        clauses.append({"constant_score": {"filter": {"bool": {"should": [paired, *spans]}}, "boost": weight}})
    if not clauses:
        return None
    return {"window_size": RERANK, "query": {"rescore_query": {"bool": {"should": clauses}}, "query_weight": 1.0,
                                             "rescore_query_weight": 1.0, "score_mode": "total"}}


def facet_aggregations() -> dict:
    """The facets, and how many of the articles have no date (`Results.undated`)."""
    return {"source": {"terms": {"field": "source", "size": FACET_BUCKETS}},
            "year": {"terms": {"field": "year", "size": FACET_BUCKETS}},
            "undated": {"missing": {"field": "published"}}}


def facets(aggregations: dict) -> dict[str, dict[str, int]]:
    """The facets in `search.engine.Results`' shape: sources by count, years newest first."""
    by_source = {b["key"]: b["doc_count"] for b in aggregations["source"]["buckets"] if b["key"]}
    by_year = {str(b["key"]): b["doc_count"] for b in aggregations["year"]["buckets"] if b["key"]}
    return {"source": dict(sorted(by_source.items(), key=lambda kv: (-kv[1], kv[0]))),
            "year": dict(sorted(by_year.items(), key=lambda kv: int(kv[0]), reverse=True))}


def presence_query(query: Query, group: list[Text]) -> dict:
    """Articles within the query's filters that hold `group`."""
    return {"bool": {"filter": [*filters(query), group_query(group, scored=False)]}}


def holds_as_typed_query(query: Query, typed: Query) -> dict:
    """Articles answering `query` that hold every syllable of `typed` exactly as typed
    (as `search.scoring.holds_as_typed` checks)."""
    must = [match_query(query, scored=False)]
    for syllable in sorted({s for run in typed_runs(typed) for s in run}):
        must.append({"bool": {"should": [{"term": {view_field(field, "acc"): syllable}} for field in FIELD_WEIGHTS],
                              "minimum_should_match": 1}})
    return {"bool": {"filter": must}}
