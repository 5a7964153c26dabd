"""The fast paths of scoring score exactly as the plain ones, bit for bit.

A common term's BM25 is kept as a dense array over every document (`Snapshot.dense`),
reused once evicted; a rare term's is added posting by posting. Both must give the
same float32 evidence for every query, whichever terms happen to be dense and however
often the arrays are evicted and reused.
"""
from __future__ import annotations

import hashlib

import numpy as np
import pytest

from vnsearch.indexer.analysis import fold_syllable, fold_text as fold
from vnsearch.indexer.build import build_index
from vnsearch.search import abbreviations, ranker, runs, scoring
from vnsearch.search.engine import Engine
from vnsearch.search.space import Space
from vnsearch.search.syntax import parse
from vnsearch.search.words import join_words


@pytest.fixture(scope="module")
def real_home(shared_articles, tmp_path_factory):
    """An index of 200 real articles: enough for common and rare syllables alike."""
    import json

    folder = tmp_path_factory.mktemp("real")
    source = folder / "articles.jsonl"
    source.write_text("".join(json.dumps(a, ensure_ascii=False) + "\n" for a in shared_articles[:200]),
                      encoding="utf-8")
    build_index([source], folder / "index", procs=2)
    return folder / "index"


def _queries(articles) -> list[str]:
    """Headline fragments as typed, without diacritics and quoted, a whole headline, and syntax."""
    queries = ["ubnd tỉnh", "hđnd", "\"chủ tịch\" -covid", "title:hà nội", "của và các", "đảng"]
    for article in articles[:40:4]:
        words = article["title"].split()
        queries += [" ".join(words[:3]), fold(" ".join(words[1:4])), f"\"{' '.join(words[:2])}\"", article["title"]]
    return queries


def _evidence(engine: Engine, queries: list[str]) -> list[tuple]:
    snapshot = engine._current()
    found = []
    for text in queries:
        query = join_words(abbreviations.expand(parse(text)), snapshot.words)
        evidence = scoring.gather(snapshot, query)
        ranking = scoring.weigh(snapshot, query, evidence)
        found.append((text, {name: hashlib.sha1(part.tobytes()).hexdigest() for name, part in evidence.parts.items()},
                      evidence.matched.tobytes(), ranking.docs.tolist(), ranking.scores.tobytes()))
    return found


def test_dense_arrays_score_exactly_as_postings(real_home, shared_articles, monkeypatch):
    queries = _queries(shared_articles)
    monkeypatch.setattr(ranker, "DENSE_SHARE", 2.0)  # no term is dense
    sparse = _evidence(Engine(real_home), queries)
    # Every term dense, and only three arrays kept: each is evicted and reused many times.
    monkeypatch.setattr(ranker, "DENSE_SHARE", 0.0)
    monkeypatch.setattr(ranker, "DENSE_TERMS", 3)
    dense = _evidence(Engine(real_home), queries)
    assert dense == sparse
    assert sum(1 for _, _, _, docs, _ in sparse if docs) > len(queries) / 2  # the queries find articles


def test_a_dense_array_is_the_terms_postings_scattered(real_home, monkeypatch):
    monkeypatch.setattr(ranker, "DENSE_SHARE", 0.0)
    monkeypatch.setattr(ranker, "DENSE_TERMS", 2)
    snapshot = Engine(real_home)._current()
    for term in ["cua", "va", "tinh", "cac", "cua"]:
        dense = snapshot.dense("body_fold", term).copy()
        ids, scores = snapshot.bm25("body_fold", term)
        assert len(ids) and (dense[ids] == scores).all()
        dense[ids] = 0
        assert not dense.any()  # nothing left from the array's earlier term


def test_runs_in_order_read_positions_only_where_the_field_has_every_syllable(real_home, shared_articles,
                                                                              monkeypatch):
    snapshot = Engine(real_home)._current()
    docs = np.arange(snapshot.size)
    asked: list[tuple[str, np.ndarray]] = []
    positions = ranker.Snapshot.positions

    def counted(self, field, term, wanted):
        asked.append((field, np.array(wanted)))
        return positions(self, field, term, wanted)

    typed = [[fold_syllable(s) for s in article["title"].split()[k:k + 3]] for article in shared_articles[:30]
             for k in (0, 2)]
    found = 0
    for run in typed:
        plain = set()
        for name in ("title", "body"):  # every document's positions read
            plain |= set(scoring.phrase_docs(snapshot, f"{name}_fold", run, docs, slop=runs.RUN_SLOP).tolist())
        monkeypatch.setattr(ranker.Snapshot, "positions", counted)
        held = runs.in_order(snapshot, run, docs)
        monkeypatch.undo()
        assert set(np.flatnonzero(held).tolist()) == plain
        found += len(plain)
        for field, wanted in asked:
            for term in run:
                assert np.isin(wanted, snapshot.postings(field, term)[0]).all()
        asked.clear()
    assert found


# Also with fewer documents checked by positions, so that some phrases are checked where
# only a few documents (the candidates of a query with another word) would be counted.
@pytest.mark.parametrize("verify", [scoring.VERIFY_PHRASES, 3, 20])
def test_evidence_over_the_candidates_is_the_evidence_over_every_document(real_home, shared_articles, verify,
                                                                          monkeypatch):
    monkeypatch.setattr(scoring, "VERIFY_PHRASES", verify)
    snapshot = Engine(real_home)._current()
    narrowed = 0
    half = np.arange(snapshot.size) % 2 == 0  # a filter: every other article
    # Quoted phrases of three syllables, checked by positions: alone (narrowed, counted
    # alike), with another word, and filtered (both over every document).
    phrases = ["\"khởi tố bị\"", "\"khám nghiệm hiện\"", "\"công an huyện\""] + \
        [f"\"{' '.join(article['title'].split()[:3])}\"" for article in shared_articles[:40:4]]
    texts = _queries(shared_articles) + phrases + [phrase + word for phrase in phrases[:3] for word in (" tỉnh", " xe", " ma túy")] + \
        ["tỉnh -covid", "title:đảng ủy", "zzxq tỉnh"]
    cases = [(text, None) for text in texts] + [(text, half) for text in _queries(shared_articles)[:12] + phrases[:3]]
    verified_narrowed = 0
    checked: list[tuple[str, tuple[str, ...]]] = []  # the phrases positions were read for, in each field
    phrase_docs = scoring.phrase_docs

    def recorded(snapshot, field, terms, docs, *args, **kwargs):
        checked.append((field, tuple(terms)))
        return phrase_docs(snapshot, field, terms, docs, *args, **kwargs)

    monkeypatch.setattr(scoring, "phrase_docs", recorded)
    for text, filter_mask in cases:
        query = join_words(abbreviations.expand(parse(text)), snapshot.words)
        evidence = scoring.gather(snapshot, query, filter_mask)
        over_candidates, checked[:] = list(checked), []
        allowed = snapshot.live if filter_mask is None else snapshot.live & filter_mask
        everywhere = scoring._gather(Space(snapshot), query, allowed)
        # Checked by positions alike (a phrase is where few documents hold its pairs):
        # the evidence may agree by chance where the pairs were side by side anyway.
        assert over_candidates[-len(checked):] == checked if checked else over_candidates == [], text
        checked.clear()
        space = evidence.space
        assert (evidence.allowed == space.of(everywhere.allowed)).all()
        narrowed += space.narrowed
        verified_narrowed += space.narrowed and any(map(scoring._verified, query.groups[0]))
        for name, part in evidence.parts.items():
            assert part.tobytes() == space.of(everywhere.parts[name]).tobytes(), (text, name)
        assert (evidence.matched == space.of(everywhere.matched)).all()
        assert evidence.missing == everywhere.missing
        ranking, plain = scoring.weigh(snapshot, query, evidence), scoring.weigh(snapshot, query, everywhere)
        assert ranking.docs.tolist() == plain.docs.tolist() and ranking.scores.tobytes() == plain.scores.tobytes()
        assert (ranking.partial, ranking.missing) == (plain.partial, plain.missing)
        assert [ranking.explain(doc) for doc in ranking.docs[:5]] == [plain.explain(doc) for doc in plain.docs[:5]]
        assert scoring.holds_as_typed(snapshot, query, ranking) == scoring.holds_as_typed(snapshot, query, plain)
    assert narrowed >= 10 and verified_narrowed >= 3


def test_holds_as_typed_by_the_best_few_is_as_by_every_match(real_home, shared_articles, monkeypatch):
    snapshot = Engine(real_home)._current()
    texts = ["đảng", "Đang", "tỉnh ủy", "tinh uy", "hà nội", "Hà nôi"] + \
        [" ".join(article["title"].split()[:2]) for article in shared_articles[:60:3]]
    answers = set()
    for text in texts:
        query = join_words(abbreviations.expand(parse(text)), snapshot.words)
        ranking = scoring.rank(snapshot, query)
        found = ranking.mask.copy()  # the definition: some match holds every syllable as typed
        for syllable in {s for run in runs.typed_runs(query) for s in run}:
            found &= scoring._present(ranking.space, "acc", syllable)
        expected = bool(found.any()) and not ranking.partial
        for best in (runs.RERANK, 1, 0):  # the best few settle it, or every match does
            monkeypatch.setattr(scoring, "RERANK", best)
            assert scoring.holds_as_typed(snapshot, query, ranking) == expected, (text, best)
        answers.add(expected)
    assert answers == {True, False}
