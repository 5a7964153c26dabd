"""The analysis contract: a query typed from any span of a text gets exactly the terms the
index holds for that span, in every view, however it is typed."""
from __future__ import annotations

import json
import random
import unicodedata

import pytest

from vnsearch.corpus import SAMPLES_DIR, read_articles
from vnsearch.indexer.analysis import Analysis, analyse, fold_text
from vnsearch.indexer.build import build_index
from vnsearch.search.engine import Engine
from vnsearch.search.syntax import parse

from conftest import TRICKY

# Views compared span by span. The words view is pyvi's CRF, which looks at neighbours:
# it is compared on whole lines below.
SPAN_VIEWS = ("acc", "fold", "pairs")
# Characters the query syntax reads as operators; spans holding them are compared at the
# analysis level only.
_SYNTAX = set('"-:|&')

HAND_MADE = [
    "Chỉ thị số 35-CT/TW của Bộ Chính trị; Chỉ thị 35, 35 CT TW.",
    "Đảng uỷ Khối và Uỷ ban nhân dân tỉnh hoà giải phiên toà (old tone placement)",
    "Hội nghị 中国 và 日本, Straße in München, ½ số phiếu, Æsir, ĐBQH khoá XV",
    "hoi nghi tong ket cong tac xay dung Dang, Hồ Thi Hoang Yến half-accented",
    "Số 1/2021/NĐ-CP ngày 05/01/2021; COVID-19; KT-XH; 3,5%; 10.000 tỷ đồng",
]


def _texts(seed_texts) -> list[str]:
    texts = list(seed_texts.values()) + HAND_MADE
    for article in read_articles([TRICKY], lambda problem: None):
        texts += [article.title, article.body]
    return texts


def _spans(analysis: Analysis, rng: random.Random, count: int) -> list[tuple[int, int]]:
    """`count` random runs of 1 to 6 syllables, as (first, last) syllable indexes."""
    n = len(analysis.syllables)
    runs = []
    for _ in range(count if n else 0):
        first = rng.randrange(n)
        runs.append((first, min(n - 1, first + rng.randint(0, 5))))
    return runs


def _index_terms(analysis: Analysis, view: str, first: int, last: int) -> list[str]:
    start, end = analysis.syllables[first].start, analysis.syllables[last].end
    return [t.text for t in analysis.terms(view) if start <= t.start and t.end <= end]


def _typings(span: str, rng: random.Random) -> dict[str, str]:
    """The ways a user may type the same words."""
    words = span.split(" ")
    return {
        "as written": span,
        "decomposed": unicodedata.normalize("NFD", span),
        "without diacritics": fold_text(span),
        "half accented": " ".join(fold_text(w) if rng.random() < 0.5 else w for w in words),
        "capitals": span.upper(),
    }


def _check_text(text: str, rng: random.Random, spans: int) -> int:
    analysis = analyse(text)
    checked = 0
    for first, last in _spans(analysis, rng, spans):
        start, end = analysis.syllables[first].start, analysis.syllables[last].end
        span = analysis.text[start:end]
        expected = {view: _index_terms(analysis, view, first, last) for view in SPAN_VIEWS}
        for typing, typed in _typings(span, rng).items():
            query = analyse(typed).views()
            assert query.fold == expected["fold"], (typing, span)
            assert query.pairs == expected["pairs"], (typing, span)
            if typing in ("as written", "decomposed"):
                assert query.acc == expected["acc"], (typing, span)
        # And through the query parser, as the search box reads it.
        if not _SYNTAX & set(span) and not {"OR", "AND"} & set(span.split()):
            texts = [t for group in parse(span).groups for t in group]
            assert [f for t in texts for f in t.folded] == expected["fold"], span
            assert [s for t in texts for s in t.syllables] == expected["acc"], span
        checked += 1
    return checked


def test_query_terms_of_a_span_are_its_index_terms(seed_texts):
    rng = random.Random(7)
    checked = sum(_check_text(text, rng, spans=40) for text in _texts(seed_texts))
    assert checked > 500


def test_query_terms_of_a_span_are_its_index_terms_in_500_real_articles(shared_articles):
    rng = random.Random(11)
    checked = 0
    for article in shared_articles:
        for name in ("title", "summary", "body"):
            checked += _check_text(article.get(name) or "", rng, spans=4)
    assert checked > 4000


def test_a_whole_line_gets_the_index_words(seed_texts):
    """The words view (pyvi) of a line typed as a query is the line's words in the index."""
    for text in _texts(seed_texts):
        whole = analyse(text)
        for line in whole.text.split("\n"):
            if line.strip():
                start = whole.text.index(line)
                indexed = [t.text for t in whole.terms("words") if start <= t.start and t.end <= start + len(line)]
                assert analyse(line).views().words == indexed, line


@pytest.fixture(scope="module")
def foreign_home(tmp_path_factory):
    """An index of articles holding words of other scripts and ligatures."""
    home = tmp_path_factory.mktemp("foreign")
    source = home / "foreign.jsonl"
    records = [
        {"id": "cn", "title": "Quan hệ Việt Nam – 中国", "body": "Đoàn đại biểu 中国 thăm Hà Nội."},
        {"id": "de", "title": "Hội chợ ở Straße München", "body": "Triển lãm tại Straße số 5."},
        {"id": "half", "title": "Hơn ½ số phiếu tán thành", "body": "Đại biểu biểu quyết, hơn ½ tán thành."},
        {"id": "ae", "title": "Æsir và thần thoại", "body": "Bài viết về Æsir."},
        {"id": "vn", "title": "Chỉ thị số 35-CT/TW", "body": "Đảng ủy thực hiện Chỉ thị 35-CT/TW."},
    ]
    source.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records), encoding="utf-8")
    build_index([source, SAMPLES_DIR], home / "index", procs=1)
    return home / "index"


@pytest.mark.parametrize("query, article", [
    ("中国", "cn"),          # as written
    ("zhongguo", "cn"),      # its Latin spelling, as the folded view holds it
    ("Straße", "de"),
    ("strasse", "de"),       # ß folds to ss on both sides
    ("STRASSE", "de"),
    ("½", "half"),
    ("Æsir", "ae"),
    ("aesir", "ae"),
    ("35-CT/TW", "vn"),
    ("35 ct tw", "vn"),
])
def test_other_scripts_fold_alike_on_both_sides(foreign_home, query, article):
    results = Engine(foreign_home).search(query)
    assert article in [hit.id for hit in results.hits], query
    assert not results.partial
