"""Normalisation, segmentation and the three analysed views, with exact offsets."""
from __future__ import annotations

import pickle
import unicodedata

import pytest

from vnsearch.indexer.analysis import (AccentedAnalyzer, FoldedAnalyzer, WordAnalyzer, analyse,
                              folded_terms, syllable_terms, word_terms)
from vnsearch.indexer.normalize import fold, normalize
from vnsearch.indexer.schema import build_schema


@pytest.mark.parametrize("given, expected", [
    ("hoà", "hòa"), ("Hoà Bình", "Hòa Bình"), ("HOÀ", "HÒA"),
    ("uỷ", "ủy"), ("Uỷ ban", "Ủy ban"), ("Đảng uỷ", "Đảng ủy"),
    ("thuỷ", "thủy"), ("toà", "tòa"), ("tuý", "túy"), ("khoẻ", "khỏe"), ("xoá", "xóa"),
    # Already classic, or not ambiguous: unchanged.
    ("hòa", "hòa"), ("ủy", "ủy"), ("quý", "quý"), ("quỳnh", "quỳnh"),
    ("hoàng", "hoàng"), ("ngoài", "ngoài"), ("khuyến", "khuyến"),
])
def test_tone_placement_is_normalised(given, expected):
    assert normalize(given) == expected


def test_decomposed_input_gives_the_same_terms():
    text = "Đảng uỷ Khối, Hồ Thị Hoàng Yến, Chỉ thị số 35-CT/TW"
    nfd = unicodedata.normalize("NFD", text)
    assert nfd != text
    assert analyse(nfd) == analyse(text)


def test_normalisation_keeps_nfc_length():
    text = unicodedata.normalize("NFD", "phiên toà, ma tuý, Uỷ ban, hoà bình")
    assert len(normalize(text)) == len(unicodedata.normalize("NFC", text))


def test_d_with_stroke_folds_to_d():
    assert fold("Đảng đoàn") == "dang doan"


def test_document_number_splits_into_syllables():
    text = "Chỉ thị số 35-CT/TW"
    assert [t.text for t in syllable_terms(text)] == ["chỉ", "thị", "số", "35", "ct", "tw"]
    # The code typed with spaces or without accents gives the same sequence.
    assert [t.text for t in folded_terms("35 CT TW")] == [t.text for t in folded_terms("35-CT/TW")]


def test_compounds_are_single_word_terms():
    words = [t.text for t in word_terms("Chỉ thị số 35-CT/TW của Bộ Chính trị")]
    assert "chỉ thị" in words
    assert "chính trị" in words
    assert "35" in words and "ct" in words


def test_name_folds_to_what_people_type():
    assert [t.text for t in folded_terms("Hồ Thị Hoàng Yến")] == ["ho", "thi", "hoang", "yen"]
    assert [t.text for t in syllable_terms("Hồ Thị Hoàng Yến")] == ["hồ", "thị", "hoàng", "yến"]


def test_old_and_new_tone_placement_index_alike():
    assert analyse("Đảng uỷ") == analyse("Đảng ủy")


def test_text_without_diacritics_is_not_segmented():
    # pyvi joins accent-free syllables wrongly, so each stays its own word.
    assert [t.text for t in word_terms("chi thi so 35 cua bo chinh tri")] == \
        ["chi", "thi", "so", "35", "cua", "bo", "chinh", "tri"]


def test_words_never_join_across_scripts_or_lines():
    words = [t.text for t in word_terms("Đảng uỷ 中国\nBộ Chính trị")]
    assert "đảng ủy" in words and "中国" in words
    assert all("\n" not in w for w in words)


def _assert_offsets(text: str) -> int:
    """Every token of every view points at its own surface in the NFC text."""
    nfc = unicodedata.normalize("NFC", text)
    checked = 0
    for term in syllable_terms(text):
        assert normalize(nfc[term.start:term.end]).lower() == term.text
        checked += 1
    for term in folded_terms(text):
        assert "".join(fold(nfc[term.start:term.end]).split()) == term.text
    for term in word_terms(text):
        surface = nfc[term.start:term.end]
        assert "\n" not in surface
        assert " ".join(normalize(surface).lower().split()) == term.text
    return checked


def test_offsets_match_surface_in_every_seed(seed_texts):
    assert len(seed_texts) == 5
    for text in seed_texts.values():
        assert _assert_offsets(text) > 300


def test_offsets_match_surface_in_500_real_articles(shared_articles):
    assert len(shared_articles) == 500
    for article in shared_articles:
        for name in ("title", "summary", "body"):
            _assert_offsets(article.get(name) or "")


def test_analyzers_survive_pickling():
    for analyzer in (WordAnalyzer(), AccentedAnalyzer(), FoldedAnalyzer()):
        clone = pickle.loads(pickle.dumps(analyzer))
        text = "Đảng uỷ Khối tổ chức Hội nghị"
        assert [t.text for t in clone(text)] == [t.text for t in analyzer(text)]
    schema = pickle.loads(pickle.dumps(build_schema()))
    assert [t.text for t in schema["body_fold"].analyzer("Đảng uỷ")] == ["dang", "uy"]


def test_whoosh_analyzer_reports_chars_and_positions():
    text = "Phó bí thư Hồ Thị Hoàng Yến"
    tokens = [(t.text, t.pos, t.startchar, t.endchar)
              for t in WordAnalyzer()(text, positions=True, chars=True)]
    assert [text[s:e] for _, _, s, e in tokens] == ["Phó bí thư", "Hồ Thị", "Hoàng Yến"]
    assert [p for _, p, _, _ in tokens] == [0, 1, 2]


def test_segmentation_labels_equal_pyvis_own(shared_articles):
    """Our model loading and feature names must give exactly the labels pyvi's own
    tokenizer gives (its estimator, its feature dicts)."""
    from pyvi.ViTokenizer import ViTokenizer
    from vnsearch.indexer import pyvi_model
    from vnsearch.indexer.segmentation import _features, units
    checked = 0
    for article in shared_articles[:100]:
        for line in normalize(article["body"]).split("\n"):
            words = [u.text for u in units(line)]
            if not words:
                continue
            pyvi_labels = ViTokenizer.model.tagger_.tag(ViTokenizer.sent2features(words, False))
            assert pyvi_model.tagger().tag(_features(words)) == pyvi_labels
            checked += 1
    assert checked > 500


def test_analyse_gives_the_terms_of_each_views_analyzer(shared_articles):
    """Index time (analyse, all views in one pass) and the per-view functions behind the
    schema's analyzers must agree, or queries analysed one way miss text indexed the other."""
    from vnsearch.indexer.analysis import folded_terms, pair_terms_of, syllable_terms, word_terms
    texts = [a[key] for a in shared_articles[:60] for key in ("title", "summary", "body") if a.get(key)]
    texts += ["Chỉ thị số 35-CT/TW", "Đảng uỷ Khối, 中国 và hoà bình", "chi thi 35 ho thi hoang yen"]
    for text in texts:
        views = analyse(text)
        assert views.words == [t.text for t in word_terms(text)]
        assert views.acc == [t.text for t in syllable_terms(text)]
        assert views.fold == [t.text for t in folded_terms(text)]
        assert views.pairs == [t.text for t in pair_terms_of(text)]
