"""The whole-run evidence: the query's typed runs of three or more syllables in order,
a word or so apart, among the best candidates (`search.scoring`'s RERANK).

Every pair of a run side by side is the run itself, nearly always, and the postings
tell that; positions (the dearest read of a query) settle the rest for runs up to
RUN_GAPPED_MAX syllables.
"""
from __future__ import annotations

import numpy as np

from vnsearch.indexer.analysis import fold_syllable, pair_terms
from vnsearch.indexer.fields import FIELD_WEIGHTS, view_field
from vnsearch.search.ranker import Snapshot, phrase_docs
from vnsearch.search.syntax import Query

# Tuned on the development split (bench/tune.py; docs/BENCHMARKS.md, "Tuning the weights").
RUN_WEIGHT = 2.0
# Words allowed between consecutive typed words for the whole-run evidence: "chỉ thị 35"
# still counts as in order in "Chỉ thị số 35".
RUN_SLOP = 2
# How many of the best candidates get the (slower, position-based) whole-run check.
RERANK = 30
# Runs up to this many syllables are looked for a word or so apart, by positions; a longer
# run (a pasted sentence) counts only where every pair of it is side by side: a gap
# check of 20 syllables cost about 120 ms a query and a paraphrase never passes it.
RUN_GAPPED_MAX = 6


def typed_runs(query: Query) -> list[list[str]]:
    """The syllables typed one after another (as typed, before abbreviation expansion):
    where order and closeness count. A `title:` word starts a run of its own."""
    runs: list[list[str]] = [[]]
    for group in query.groups:
        if group[0].title_only:
            runs.append([])
        else:
            runs[-1].extend(group[0].syllables)
    return [run for run in runs if run]


def in_order(snapshot: Snapshot, run: list[str], docs: np.ndarray) -> np.ndarray:
    """Which of `docs` hold the whole run in order, a word or so apart, in the title or body."""
    folded = [fold_syllable(s) for s in run]
    found: set[int] = set()
    remaining = np.sort(docs)
    for name in ("title", "body"):  # titles first: short, and what they settle is not read again
        field_name = view_field(name, "fold")
        # Positions only where the field holds every syllable of the run (by its postings,
        # which the query has read already): a block of positions is decoded whole for any
        # document asked for, and most titles lack some syllable of a run.
        having = remaining[_all_held(snapshot, field_name, set(folded), remaining)]
        found.update(phrase_docs(snapshot, field_name, folded, having, slop=RUN_SLOP).tolist())
        remaining = np.array([doc for doc in remaining.tolist() if doc not in found], dtype=np.int64)
    return np.array([doc in found for doc in docs.tolist()], dtype=bool)


def run_evidence(snapshot: Snapshot, runs: list[list[str]], top: np.ndarray, run: np.ndarray) -> None:
    """RUN_WEIGHT times the run's IDF for the `top` documents that hold a run in order."""
    for typed in runs:
        if len(typed) < 3:  # two syllables in order are the pair, counted already
            continue
        folded = [fold_syllable(s) for s in typed]
        weight = RUN_WEIGHT * sum(snapshot.idf(view_field("body", "fold"), f) for f in folded)
        # Every pair of the run side by side is the run itself, nearly always; positions
        # settle the others ("chỉ thị số 35" for "chỉ thị 35").
        paired = np.ones(len(top), dtype=bool)
        for pair in pair_terms(folded):
            paired &= holds(snapshot, "pairs", pair, top)
        run[top[paired]] += weight
        if len(typed) <= RUN_GAPPED_MAX:
            gapped = top[~paired]
            run[gapped[in_order(snapshot, typed, gapped)]] += weight


def holds(snapshot: Snapshot, view: str, term: str, docs: np.ndarray) -> np.ndarray:
    """Which of `docs` (a few) have `term` in any text's `view`: looked up in the term's
    ascending postings, not marked over every document as `scoring._present` does."""
    held = np.zeros(len(docs), dtype=bool)
    for name in FIELD_WEIGHTS:
        held |= _held(snapshot, view_field(name, view), term, docs)
    return held


def _all_held(snapshot: Snapshot, field_name: str, terms, docs: np.ndarray) -> np.ndarray:
    """Which of `docs` (a few) have every one of `terms` in the field."""
    held = np.ones(len(docs), dtype=bool)
    for term in terms:
        held &= _held(snapshot, field_name, term, docs)
    return held


def _held(snapshot: Snapshot, field_name: str, term: str, docs: np.ndarray) -> np.ndarray:
    ids = snapshot.postings(field_name, term)[0]
    if not len(ids):
        return np.zeros(len(docs), dtype=bool)
    at = np.minimum(np.searchsorted(ids, docs), len(ids) - 1)
    return ids[at] == docs
