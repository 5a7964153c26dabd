"""The relevance benchmark's query sets (bench/quality_sets.py), on hand-made articles.

No shared corpus and no tantivy needed: the benchmark's figures are only as good as
these makers, so their rules are pinned here.
"""
from __future__ import annotations

import random
import sys
import unicodedata
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

from peers import Fts5  # noqa: E402
from quality_data import synthetic_date  # noqa: E402
from quality_sets import (HEADLINE_KINDS, Relevance, TypoQuery, first_sentence, headline_queries,  # noqa: E402
                          judge, misspell, phrase_forms, read_topical, tone_of, typo_queries, verbose_queries)

from vnsearch.corpus import Article  # noqa: E402
from vnsearch.indexer.analysis import fold_text as fold  # noqa: E402
from vnsearch.search import abbreviations  # noqa: E402


def article(id_: str, title: str, body: str = "Nội dung.", summary: str | None = None) -> Article:
    return Article(id=id_, title=title, body=body, summary=summary)


RELEVANCE_ARTICLES = [
    article("accented", "Tàu cá Việt Nam trên Biển Đông"),
    article("folded", "Tin ngắn", body="Ngư dân ra khơi ở bien dong hôm qua."),
    article("apart", "Biển hôm nay rất đông người tắm"),
    article("across-fields", "Chuyến đi ra biển", summary="Đông người đến xem."),
    article("other-accents", "Thị trường biến động mạnh"),  # folds to "bien dong" too
    article("ubnd", "UBND tỉnh họp phiên thường kỳ"),
    article("long-form", "Ủy ban nhân dân huyện ra quyết định"),
    article("none", "Chỉ thị 35 của Bộ Chính trị"),
]


@pytest.fixture(scope="module")
def relevance() -> Relevance:
    return Relevance(RELEVANCE_ARTICLES)


@pytest.mark.parametrize("query, expected", [
    # accent-insensitive, the syllables side by side, in one field
    ("biển đông", {"accented", "folded", "other-accents"}),
    ("bien dong", {"accented", "folded", "other-accents"}),
    # the long form finds its abbreviation, and the abbreviation its long form
    ("Ủy ban nhân dân", {"ubnd", "long-form"}),
    ("ubnd", {"ubnd", "long-form"}),
    ("bộ chính trị", {"none"}),
    ("chính trị bộ", set()),  # order counts
])
def test_relevant_articles_hold_the_syllables_side_by_side(relevance, query, expected):
    assert relevance.matching(phrase_forms(query, abbreviations.table())) == expected


def test_accent_exact_relevance_tells_the_homographs_apart(relevance):
    forms = phrase_forms("Biển Đông", abbreviations.table())
    assert relevance.matching(forms, accents=True) == {"accented"}


def test_phrase_forms_swap_abbreviations_run_by_run():
    forms = phrase_forms("đại biểu Quốc hội", abbreviations.table())
    assert ("đại", "biểu", "quốc", "hội") in forms
    assert ("đbqh",) in forms  # the whole phrase
    assert ("đại", "biểu", "qh") in forms  # a run of it (QH = Quốc hội)


def test_topical_queries_file_has_enough_queries_of_each_kind():
    queries = read_topical()
    kinds = {q.kind for q in queries}
    assert kinds == {"person", "institution", "topic", "place"}
    assert len(queries) >= 20 and all(2 <= len(q.text.split()) <= 4 for q in queries)


@pytest.mark.parametrize("text, expected", [
    ("Ngày 25/2, TAND TP. Đà Nẵng tuyên phạt ông H. 12 năm tù. Câu thứ hai dài.",
     "Ngày 25/2, TAND TP. Đà Nẵng tuyên phạt ông H. 12 năm tù."),  # abbreviations and initials are not ends
    ("Sáng 3/4, Thủ tướng phát biểu: \"Phải làm ngay!\" Sau đó ông rời đi.",
     "Sáng 3/4, Thủ tướng phát biểu: \"Phải làm ngay!\""),
    ("một " * 40, " ".join(["một"] * 30)),  # at most 30 words
])
def test_first_sentence(text, expected):
    assert first_sentence(text) == expected


def test_verbose_queries_are_the_summary_sentence_as_written_and_folded():
    articles = [article(f"a{i}", f"Tiêu đề số {i} khác nhau",
                        summary=f"Chiều {i}/5, Quốc hội thảo luận về dự án luật đất đai sửa đổi lần {i}. Câu sau.")
                for i in range(6)]
    articles.append(article("short", "Tiêu đề ngắn riêng", summary="Quá ngắn."))  # under 8 words: not eligible
    queries = verbose_queries(articles, 4, seed=1)
    assert [q.kind for q in queries] == ["verbose_accented", "verbose_folded"] * 4
    for accented, folded in zip(queries[::2], queries[1::2]):
        assert accented.article_id == folded.article_id != "short"
        assert accented.text.endswith("lần " + accented.article_id[1:] + ".")
        assert folded.text == fold(accented.text)


def test_headline_queries_make_five_kinds_per_headline():
    queries = headline_queries([article("a", "Quốc hội thông qua Luật Đất đai sửa đổi")], seed=3)
    assert [q.kind for q in queries] == list(HEADLINE_KINDS)
    assert queries[1].text == "quoc hoi thong qua luat dat dai sua doi"


def _distance(a: str, b: str) -> int:
    """Optimal string alignment distance: insertions, deletions, substitutions and
    swaps of adjacent letters, each one edit."""
    d = [[max(i, j) if 0 in (i, j) else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


@pytest.mark.parametrize("edit", ["dropped", "swapped", "wrong", "added"])
def test_misspell_makes_one_letter_edit(edit):
    rng = random.Random(7)
    for word in ("thang", "nguyen", "chính", "đường"):
        typo = misspell(word, edit, rng)
        assert typo != word and _distance(typo, word) == 1
        assert (len(typo) - len(word)) == {"dropped": -1, "added": 1}.get(edit, 0)


def test_misspell_tone_changes_only_the_tone_mark():
    rng = random.Random(7)
    for word in ("hội", "động", "đảng", "thủy", "quốc", "nghiệp", "ngữ"):
        for _ in range(8):
            typo = misspell(word, "tone", rng)
            assert fold(typo) == fold(word) and tone_of(typo) not in (None, tone_of(word))
            # one precomposed letter per letter, as typed: no stray combining mark
            assert len(typo) == len(word) and not any(unicodedata.combining(c) for c in typo), typo


SYLLABLES = "quốc hội chính phủ thủ tướng biển đông giao thông tham nhũng bảo hiểm xã hội ma túy".split()


def test_typo_queries_have_exactly_one_edit_in_one_word():
    rng = random.Random(0)
    articles = [article(f"h{i}", " ".join(rng.choice(SYLLABLES) for _ in range(6)) + f" số {i}") for i in range(80)]
    queries = typo_queries(articles, 60, seed=5)
    assert len(queries) == 60 and len({q.article_id for q in queries}) == 60
    assert {q.kind for q in queries} == {"folded", "accented"}
    for q in queries:
        typed, meant = q.typed.split(), q.intended_typed.split()
        assert 2 <= len(meant) <= 5 and len(typed) == len(meant)
        differ = [i for i, (a, b) in enumerate(zip(typed, meant)) if a != b]
        assert differ == [q.word], q
        if q.edit == "tone":
            assert q.kind == "accented" and fold(typed[q.word]) == fold(meant[q.word])
        else:
            assert _distance(typed[q.word], meant[q.word]) == 1, q
    assert typo_queries(articles, 60, seed=5) == queries  # seeded


@pytest.mark.parametrize("kind, typed, edit, suggestion, expected", [
    ("folded", "chi thi 53", "swapped", "Chỉ thị 53", (False, False)),  # the typo kept
    ("folded", "chi thi 53", "swapped", "Chỉ thị 35", (True, True)),
    ("folded", "quoc hoii", "added", "Quốc hội", (True, True)),
    ("folded", "quoc hoii", "added", "quốc hồi", (True, False)),  # letters right, diacritics not
    ("accented", "quốc hồi", "tone", "Quốc hồi", (False, False)),  # a tone typo needs the right tone
    ("accented", "quốc hồi", "tone", "Quốc hội", (True, True)),
    ("folded", "quoc hoii", "added", None, (False, False)),
])
def test_judge_suggestion(kind, typed, edit, suggestion, expected):
    query = TypoQuery(kind, typed, "quốc hội" if "quoc" in fold(typed) else "chỉ thị 35", edit, 1, "a")
    assert judge(query, suggestion) == expected


def test_synthetic_dates_depend_on_the_id_only():
    assert synthetic_date("a", 13) == synthetic_date("a", 13) != synthetic_date("b", 13)
    assert 2015 <= synthetic_date("a", 13).year <= 2019


def test_fts5_phrase_is_narrower_than_and_of_words():
    engine = Fts5(RELEVANCE_ARTICLES, quiet=True)
    assert set(engine.result_set("biển đông", "and")) >= {"accented", "apart", "across-fields"}
    assert set(engine.result_set("biển đông", "phrase")) == {"accented", "other-accents"}


BENCH = Path(__file__).resolve().parent.parent / "bench"
SCRIPTS = sorted(path.name for path in BENCH.glob("*.py") if 'if __name__ == "__main__"' in path.read_text())


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_bench_script_explains_itself(script):
    """`--help` is how a reader finds a benchmark's options: it must never crash
    (two scripts once both declared --section)."""
    import subprocess
    done = subprocess.run([sys.executable, str(BENCH / script), "--help"], capture_output=True, text=True,
                          cwd=BENCH.parent, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage:" in done.stdout
