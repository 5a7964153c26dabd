"""Matching and ranking: which articles answer a query, and one score to order them.

Matching is on folded syllables, so every spelling finds the same articles; the words
of the query (`search.words` joins the syllables that form one) match side by side.
A short query needs all of its words; a long one (a question, a pasted sentence) a
share of them that grows with its length, as Lucene's "minimum should match" does.

The score is one weighted sum of evidence, in the manner of Lucene's: each piece is a
BM25 sum, so every term counts by how informative it is (its IDF), and a rare name
matched outranks many common words matched:

    score = Σ_fields weight_f · ( BM25 of the typed syllables, folded (ACCENTED_FOLD_SHARE of
                                  it for a syllable typed with diacritics)
                                + PAIR_WEIGHT   · BM25 of the typed adjacent pairs side by side
                                + the rest of a syllable typed with diacritics: the BM25 of its
                                  exact occurrences, with the folded syllable's IDF
                                + WORD_WEIGHT   · BM25 of the typed words as pyvi compounds )
          + COVER_WEIGHT · Σ IDF of the distinct typed words and pairs the article holds
          + RUN_WEIGHT · IDF of the whole typed run, where it stands in order (best candidates:
                         search/runs.py)

The coverage is BM25 with k1 = 0: each word and each typed pair counts once, by its IDF
alone, however often the article repeats it (a word the same whichever of its
alternatives, such as an abbreviation's long form, the article holds). BM25's own sum
lets an article saying a few of a long query's words many times beat the one saying
nearly all of them once; for a pasted sentence the article holding most of its
informative syllables and pairs is the one it came from.

Diacritics typed only tell occurrences apart; they never filter, nor weigh a syllable
differently: an article holding every folded match in the accents typed scores as the
same query typed without diacritics would score it, and one holding homographs ("đang"
for "Đảng") loses up to 1 − ACCENTED_FOLD_SHARE of those syllables' score. So typing
diacritics can only push down articles that hold other words, not reorder the ones that
hold the words typed (the pyvi compounds, which only text typed with diacritics has,
aside). The weights were tuned on the development split (docs/BENCHMARKS.md, "Tuning").
`Ranking.parts` keeps each piece per document, for `--explain`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from vnsearch.indexer.analysis import fold_syllable, pair_terms
from vnsearch.indexer.fields import FIELD_WEIGHTS, view_field
from vnsearch.indexer.normalize import has_diacritics
from vnsearch.search.ranker import Snapshot, phrase_docs
from vnsearch.search.runs import RERANK, holds, run_evidence, typed_runs
from vnsearch.search.space import Space
from vnsearch.search.syntax import Query, Text
from vnsearch.search.words import SHORT_QUERY_WORDS

# Tuned on the development split (bench/tune.py; docs/BENCHMARKS.md, "Tuning the weights").
PAIR_WEIGHT = 2.0
# The share of a syllable's folded BM25 that any form of it earns when it was typed with
# diacritics; the rest only its occurrences in the accents typed. The dev split finds 0 to
# 1 alike (0.9701 to 0.9703; its queries seldom meet a homograph); at 0.3 "đang" in a
# title and four times in the body outranks "Đảng" once (tests/test_search.py), at 0.1 not.
ACCENTED_FOLD_SHARE = 0.1
# Tuning found 0 to 0.5 alike (0.9704 against 0.9703): kept, for words pyvi knows that
# the query sets rarely hold.
WORD_WEIGHT = 0.5
# With the coverage the dev split's sentences went from 0.829 to 0.918 MRR@10 (headlines
# unchanged or better); 8 to 32 alike within 0.002.
COVER_WEIGHT = 16.0
# A long query (more than SHORT_QUERY_WORDS words) needs this share of its syllables (never
# fewer than a short query's). Tuning found 0.3 to 0.7 alike (0.9455 to 0.9459); the middle
# keeps questions, whose "là gì", "bao nhiêu" no answer holds, matched in full.
MIN_SHOULD_MATCH = 0.5
# Longest pyvi compound looked up, in syllables.
MAX_COMPOUND = 3
# A short query's evidence is gathered over its candidates where they are at most this
# share of the documents (`candidates`).
NARROW_SHARE = 1 / 4
# Quoted phrases of three or more syllables are checked against positions up to this
# many candidates; beyond, and for words of several syllables, a document holding every
# adjacent pair counts as holding them side by side (the pairs appearing apart from each
# other is rare, and reading positions costs about 0.1 ms per document and syllable).
VERIFY_PHRASES = 200
PARTS = ("bm25", "pairs", "accents", "words", "cover", "run")


@dataclass
class Ranking:
    # Matching document numbers, best first; with a `depth`, only that many are in order,
    # the rest follow them unordered.
    docs: np.ndarray
    scores: np.ndarray
    mask: np.ndarray  # all matching documents (over `space`)
    # True when no article had every word and these hold only some of them.
    partial: bool = False
    # The typed words no article (within the filters) holds.
    missing: list[str] = field(default_factory=list)
    # Each piece of the score, per document of `space`, and its weight.
    parts: dict[str, np.ndarray] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)
    space: Space | None = None

    def explain(self, doc: int) -> dict[str, float]:
        at = self.space.place(doc)
        return {name: round(float(self.weights[name] * part[at]), 4) for name, part in self.parts.items()}


def _fields(text: Text) -> dict[str, float]:
    return {"title": FIELD_WEIGHTS["title"]} if text.title_only else FIELD_WEIGHTS


def _all_of(space: Space, field_name: str, terms, weights=None) -> tuple[np.ndarray, np.ndarray]:
    """Documents having every term in the field, and their BM25 summed (with `weights`)."""
    mask = score = None
    for term, weight in zip(terms, weights or [1.0] * len(terms)):
        # The first term's arrays are made, not added to arrays of ones and zeros: most
        # texts are one syllable, for which that was two thirds of the work.
        dense, ids, scores = space.scatter(field_name, term)
        if dense is not None:
            has = dense > 0
            part = np.float32(weight) * dense
            score = part if score is None else np.add(score, part, out=score)
        else:
            has = space.zeros(bool)
            has[ids] = True
            if score is None:
                score = space.zeros()
            score[ids] += weight * scores
        mask = has if mask is None else np.logical_and(mask, has, out=mask)
    if mask is None:
        return np.ones(space.size, dtype=bool), space.zeros()
    return mask, score


def _within(values, mask: np.ndarray) -> np.ndarray:
    """`values` (an array or one float32) where `mask` holds, 0 elsewhere, as float32: a
    product, not `np.where` or a masked assignment, whose branch on every element cost
    4 to 30 times as much over 128,061 documents (0.2 to 1.5 ms each)."""
    return values * mask


def match_text(space: Space, text: Text) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Documents holding `text` in some field (a phrase side by side), its weighted BM25,
    and the weighted BM25 of its syllables typed with diacritics, exactly."""
    folded = text.folded
    # A syllable typed with diacritics counts mostly by its exact form (the accents part);
    # any form of it only a little, or "đang" five times would outrank "Đảng" once.
    shares = [ACCENTED_FOLD_SHARE if has_diacritics(s) else 1.0 for s in text.syllables]
    snapshot = space.snapshot
    mask, score, exact = space.zeros(bool), space.zeros(), space.zeros()
    for name, weight in _fields(text).items():
        field_mask, field_score = _all_of(space, view_field(name, "fold"), folded, shares)
        if text.phrase and len(folded) > 1:
            # Every adjacent pair present is the phrase itself for two syllables, and
            # nearly always for more; positions settle the rest where that is affordable.
            field_mask &= _all_of(space, view_field(name, "pairs"), text.pairs)[0]
            # Counted over every document (`_verified` keeps such queries un-narrowed).
            candidates = np.flatnonzero(field_mask)
            if _verified(text) and len(candidates) <= VERIFY_PHRASES:
                found = phrase_docs(snapshot, view_field(name, "fold"), folded, space.numbers(candidates))
                field_mask = space.zeros(bool)
                field_mask[space.places(found)] = True
        mask |= field_mask
        score += weight * _within(field_score, field_mask)
        for syllable in filter(has_diacritics, text.syllables):
            # Like the folded score, only in the fields that hold the text: "mẹ" in a title
            # that lacks the rest of "mẹ chồng" counts for neither.
            share = weight * exact_weight(snapshot.idf(view_field(name, "fold"), fold_syllable(syllable)),
                                          snapshot.idf(view_field(name, "acc"), syllable))
            dense, ids, scores = space.scatter(view_field(name, "acc"), syllable)
            if dense is not None:
                exact += np.float32(share) * _within(dense, field_mask)
                continue
            held = field_mask[ids]
            exact[ids[held]] += share * scores[held]  # a term's postings name each document once
    return mask, score, exact


def exact_weight(fold_idf: float, exact_idf: float) -> float:
    """What the BM25 of a syllable's occurrences in the accents typed is weighed by, in one
    field: the share of its score the folded match leaves to them, with the folded
    syllable's IDF (`fold_idf`) in place of the exact form's (`exact_idf`). An article whose
    every occurrence has the accents typed then scores as for the query typed without them."""
    return (1 - ACCENTED_FOLD_SHARE) * fold_idf / exact_idf  # BM25's IDF is never 0


def _weighted(space: Space, view: str, terms, score: np.ndarray) -> None:
    """Add every term's BM25 in `view`, over the weighted fields, to `score`."""
    for term in terms:
        for name, weight in FIELD_WEIGHTS.items():
            dense, ids, scores = space.scatter(view_field(name, view), term)
            if dense is not None:
                score += np.float32(weight) * dense
            else:
                score[ids] += weight * scores


def _compounds(run: list[str]) -> list[str]:
    """Runs of 2 to MAX_COMPOUND typed syllables that pyvi may hold as one word; only for
    text typed with diacritics, as pyvi's words keep them."""
    if 2 * sum(map(has_diacritics, run)) < len(run):
        return []
    return [" ".join(run[k:k + size]) for size in range(2, MAX_COMPOUND + 1) for k in range(len(run) - size + 1)]


def _required(words: int) -> int:
    return words if words <= SHORT_QUERY_WORDS else max(SHORT_QUERY_WORDS, math.ceil(MIN_SHOULD_MATCH * words))


def _present(space: Space, view: str, term: str) -> np.ndarray:
    """Documents having `term` in any text's `view`."""
    return _marked(space, view, term, FIELD_WEIGHTS)


def _marked(space: Space, view: str, term: str, names) -> np.ndarray:
    """Documents having `term` in the `view` of any of the text fields `names`."""
    present = space.zeros(bool)
    for name in names:
        dense, ids, _ = space.scatter(view_field(name, view), term)
        if dense is not None:
            present |= dense > 0
        else:
            present[ids] = True
    return present


def idf_terms(query: Query) -> dict[str, list[str]]:
    """The terms whose IDF the score looks up, per field name (`view_field`): in the bodies,
    the folded syllables of every text the query's words may match and the adjacent pairs
    typed (the coverage); in every field, the syllables typed with diacritics and their
    folds (`exact_weight`)."""
    texts = [text for group in query.groups for text in group]
    accented = sorted({s for text in texts for s in text.syllables if has_diacritics(s)})
    wanted = {view_field("body", "fold"): sorted({s for text in texts for s in text.folded}),
              view_field("body", "pairs"): sorted({p for run in typed_runs(query)
                                                   for p in pair_terms([fold_syllable(s) for s in run])})}
    for name in FIELD_WEIGHTS:
        wanted[view_field(name, "acc")] = accented
        wanted[view_field(name, "fold")] = sorted({*wanted.get(view_field(name, "fold"), []),
                                                   *map(fold_syllable, accented)})
    return wanted


def covered_groups(query: Query) -> list[int]:
    """The groups the coverage counts: a word typed twice ("của", "và") counts once."""
    seen, kept = set(), []
    for i, group in enumerate(query.groups):
        key = tuple(tuple(text.folded) for text in group)
        if key not in seen:
            seen.add(key)
            kept.append(i)
    return kept


def group_idf(idf, group: list[Text]) -> float:
    """What holding a word is worth to the coverage, whichever of its alternatives (OR, an
    abbreviation's long form) an article holds: the IDF of the distinct folded syllables of
    the rarest (`idf`: a syllable's IDF in the bodies' folded view)."""
    return max(sum(map(idf, set(text.folded))) for text in group)


def _pair_coverage(space: Space, query: Query, cover: np.ndarray) -> None:
    """Add the IDF (in the bodies) of each distinct typed pair a document holds side by side in any text."""
    for pair in idf_terms(query)[view_field("body", "pairs")]:
        idf = space.snapshot.idf(view_field("body", "pairs"), pair)
        cover += _within(np.float32(idf), _present(space, "pairs", pair))


@dataclass
class Evidence:
    """What a query finds, before the weights: per document of `space`, how many of its
    words it holds and each piece of the score unweighted."""
    allowed: np.ndarray  # live, within the filters, none of the excluded words
    matched: np.ndarray  # how many of the query's words each document holds
    missing: list[str]
    parts: dict[str, np.ndarray]
    space: Space


def gather(snapshot: Snapshot, query: Query, filter_mask: np.ndarray | None = None) -> Evidence:
    """The evidence of `query`: the costly half of `rank`, which `bench/tune.py` gathers
    once per query and weighs many ways. Over the candidates (`candidates`) where some of
    them holds every word, else over every document: the same evidence for every
    document that can match, and the same answers."""
    allowed = snapshot.live if filter_mask is None else snapshot.live & filter_mask
    space = candidates(snapshot, query, allowed, filtered=filter_mask is not None)
    if space.narrowed:
        evidence = _gather(space, query, space.of(allowed))
        if ((evidence.matched >= len(query.groups)) & evidence.allowed).any():
            return evidence
    return _gather(Space(snapshot), query, allowed)


def candidates(snapshot: Snapshot, query: Query, allowed: np.ndarray, filtered: bool = False) -> Space:
    """The `allowed` documents that may hold every word of a short query: for each word,
    its rarest syllable in some field (`search.space`); every document for a long query,
    where a quoted phrase checked by positions would be counted differently over them
    (`_counted_alike`), and where the candidates would be more than NARROW_SHARE of the
    documents (picking their postings out then costs more than it saves). `filtered`:
    `allowed` leaves out documents by a filter, not only deleted ones."""
    if _required(len(query.groups)) < len(query.groups) or not _counted_alike(query, filtered):
        return Space(snapshot)
    everywhere, within = Space(snapshot), allowed.copy()
    for group in query.groups:
        holds = np.zeros(snapshot.size, dtype=bool)
        for text in group:
            if not text.folded:
                holds[:] = True
                continue
            # Any syllable of the text would do; the rarest narrows most. By the syllable
            # statistics, in memory: its postings are read next (by `_all_of`, in the same
            # fields), the others' maybe never.
            rarest = min(text.folded, key=snapshot.accents.count) if snapshot.accents else text.folded[0]
            holds |= _marked(everywhere, "fold", rarest, _fields(text))
        within &= holds
    if np.count_nonzero(within) > NARROW_SHARE * snapshot.size:
        return Space(snapshot)
    return Space(snapshot, np.flatnonzero(within))


def _counted_alike(query: Query, filtered: bool) -> bool:
    """Whether every quoted phrase checked by positions (`_verified`) is counted alike over
    the candidates and over every document: `match_text` reads positions only where at
    most VERIFY_PHRASES documents hold its pairs, and that count is of the documents of the
    space. Every document holding the phrase holds its rarest syllable, so is a candidate
    when the phrase is the query's only word and nothing but deletions leaves documents
    out (the quoted phrases typed as a whole query; a tenth of the mix's queries)."""
    if any(map(_verified, query.excluded)):  # counted over the space to leave documents out
        return False
    verified = any(_verified(text) for group in query.groups for text in group)
    return not verified or (len(query.groups) == 1 and not filtered)


def _verified(text: Text) -> bool:
    """Whether a phrase is checked against positions (when few documents hold its pairs)."""
    return text.phrase and text.quoted and len(text.folded) > 2


def _gather(space: Space, query: Query, allowed: np.ndarray) -> Evidence:
    parts = {name: space.zeros() for name in PARTS}
    matched = space.zeros(np.int32)
    missing = []
    covered = set(covered_groups(query))
    idf = partial(space.snapshot.idf, view_field("body", "fold"))
    for i, group in enumerate(query.groups):
        group_mask, group_score, group_exact = match_text(space, group[0])
        for text in group[1:]:  # the best alternative's score (OR, an abbreviation's long form)
            text_mask, text_score, text_exact = match_text(space, text)
            group_mask = group_mask | text_mask
            better = text_score + text_exact > group_score + group_exact
            group_score = np.where(better, text_score, group_score)
            group_exact = np.where(better, text_exact, group_exact)
        if i in covered:
            parts["cover"] += _within(np.float32(group_idf(idf, group)), group_mask)
        if not (group_mask & allowed).any():
            missing.append(" ".join(group[0].syllables))
        matched += group_mask
        parts["bm25"] += group_score
        parts["accents"] += group_exact
    for text in query.excluded:
        allowed = allowed & ~match_text(space, text)[0]
    runs = typed_runs(query)
    _weighted(space, "pairs", [p for run in runs for p in pair_terms([fold_syllable(s) for s in run])],
              parts["pairs"])
    # Sorted: summed in the order of a set, float32 scores differed in the last bit from
    # one process to the next (string hashes are salted per process).
    _weighted(space, "words", sorted({c for run in runs for c in _compounds(run)}), parts["words"])
    _pair_coverage(space, query, parts["cover"])
    return Evidence(allowed, matched, missing, parts, space)


def rank(snapshot: Snapshot, query: Query, filter_mask: np.ndarray | None = None,
         by_date: bool = False, depth: int | None = None) -> Ranking:
    """Every matching live document, best first (or newest first with `by_date`): all of
    them in order, or the first `depth`."""
    if query.is_empty:
        allowed = snapshot.live if filter_mask is None else snapshot.live & filter_mask
        none = np.zeros(snapshot.size, dtype=np.float32)  # every part 0, as `explain` shows them
        parts = {name: none for name in PARTS if name != "run"}
        return _ordered(Space(snapshot), query, allowed.copy(), parts, dict.fromkeys(parts, 1.0), by_date, depth)
    return weigh(snapshot, query, gather(snapshot, query, filter_mask), by_date, depth)


def weigh(snapshot: Snapshot, query: Query, evidence: Evidence, by_date: bool = False,
          depth: int | None = None) -> Ranking:
    """The ranking from gathered evidence: which documents match, and one weighted score."""
    matched, allowed = evidence.matched, evidence.allowed
    mask = (matched >= _required(len(query.groups))) & allowed
    partial = False
    if not mask.any() and len(query.groups) > 1:
        mask = (matched > 0) & allowed
        partial = bool(mask.any())
    weights = {"bm25": 1.0, "pairs": PAIR_WEIGHT, "accents": 1.0, "words": WORD_WEIGHT,
               "cover": COVER_WEIGHT}
    parts = {name: part for name, part in evidence.parts.items() if name in weights}
    ranking = _ordered(evidence.space, query, mask, parts, weights, by_date, depth)
    ranking.partial, ranking.missing = partial, evidence.missing
    return ranking


def _best_first(keys: tuple[np.ndarray, ...], depth: int | None) -> np.ndarray:
    """The order of `keys` (np.lexsort's: the last key first), or of only the first `depth`
    of them, the rest following unordered. A page needs its top: sorting every one of a
    common word's 60,000 articles cost more than the rest of ranking them."""
    first = keys[-1]
    if depth is None or len(first) <= 2 * depth:
        return np.lexsort(keys)
    # Everything up to the depth-th value of the first key, ties included, is sorted.
    head = first <= np.partition(first, depth - 1)[depth - 1]
    ahead = np.flatnonzero(head)
    return np.concatenate([ahead[np.lexsort(tuple(key[head] for key in keys))], np.flatnonzero(~head)])


def _ordered(space: Space, query: Query, mask: np.ndarray, parts: dict[str, np.ndarray],
             weights: dict[str, float], by_date: bool, depth: int | None = None) -> Ranking:
    """The documents of `mask` in order, scored by the weighted `parts` (computed for
    them only: most queries match a small share of the articles) and, for the best
    RERANK by score, the whole-run evidence."""
    places = np.flatnonzero(mask)
    score = np.zeros(len(places), dtype=np.float32)
    for name, part in parts.items():
        score += weights[name] * part[places]
    snapshot, docs = space.snapshot, space.numbers(places)
    run = np.zeros(snapshot.size, dtype=np.float32)
    if by_date:
        # Newest first; undated articles last, by score.
        order = _best_first((-score, -snapshot.published[docs]), depth)
        docs, score = docs[order], score[order]
    else:
        order = _best_first((docs, -score), depth and max(depth, RERANK))
        docs, score = docs[order], score[order]
        if not query.is_empty and len(docs):
            top = docs[:RERANK]
            run_evidence(snapshot, typed_runs(query), top, run)
            score[:len(top)] += run[top]
            head = np.lexsort((top, -score[:len(top)]))
            docs = np.concatenate([top[head], docs[RERANK:]])
            score = np.concatenate([score[:len(top)][head], score[RERANK:]])
    return Ranking(docs, score, mask, parts={**parts, "run": space.of(run)}, weights={**weights, "run": 1.0},
                   space=space)


def holds_as_typed(snapshot: Snapshot, query: Query, ranking: Ranking) -> bool:
    """Whether some matching article holds every typed syllable exactly as typed, with
    the diacritics typed and without those not typed."""
    if ranking.partial or not len(ranking.docs):
        return False
    syllables = {s for run in typed_runs(query) for s in run}
    # The best few nearly always settle it, by look-ups in the postings: marking the
    # syllables over every matching article cost a third of a millisecond a query.
    top = ranking.docs[:RERANK]
    held = np.ones(len(top), dtype=bool)
    for syllable in syllables:
        held &= holds(snapshot, "acc", syllable, top)
    if held.any():
        return True
    found = ranking.mask.copy()
    for syllable in syllables:
        found &= _present(ranking.space, "acc", syllable)
    return bool(found.any())
