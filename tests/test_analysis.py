"""Normalisation, segmentation and the analysed views, with exact offsets."""
from __future__ import annotations

import pickle
import unicodedata

import pytest

from vnsearch.indexer.analysis import analyse, fold_syllable, fold_text, folded_words
from vnsearch.indexer.fields import VIEWS
from vnsearch.indexer.normalize import normalize
from vnsearch.indexer.schema import ViewAnalyzer, build_schema


def terms(text: str, view: str) -> list[str]:
    return [t.text for t in analyse(text).terms(view)]


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
    assert analyse(nfd).views() == analyse(text).views()


def test_normalisation_keeps_nfc_length():
    text = unicodedata.normalize("NFD", "phiên toà, ma tuý, Uỷ ban, hoà bình")
    assert len(normalize(text)) == len(unicodedata.normalize("NFC", text))


def test_d_with_stroke_folds_to_d():
    assert fold_text("Đảng đoàn") == "dang doan"


def test_folded_words_are_the_folded_view_as_one_key():
    assert folded_words("Hồ Thị  Hoàng-Yến, ĐẢNG ủy 35-CT/TW") == "ho thi hoang yen dang uy 35 ct tw"


def test_document_number_splits_into_syllables():
    text = "Chỉ thị số 35-CT/TW"
    assert terms(text, "acc") == ["chỉ", "thị", "số", "35", "ct", "tw"]
    # The code typed with spaces or without accents gives the same sequence.
    assert terms("35 CT TW", "fold") == terms("35-CT/TW", "fold")


def test_compounds_are_single_word_terms():
    words = terms("Chỉ thị số 35-CT/TW của Bộ Chính trị", "words")
    assert "chỉ thị" in words
    assert "chính trị" in words
    assert "35" in words and "ct" in words


def test_name_folds_to_what_people_type():
    assert terms("Hồ Thị Hoàng Yến", "fold") == ["ho", "thi", "hoang", "yen"]
    assert terms("Hồ Thị Hoàng Yến", "acc") == ["hồ", "thị", "hoàng", "yến"]


def test_old_and_new_tone_placement_index_alike():
    assert analyse("Đảng uỷ").views() == analyse("Đảng ủy").views()


def test_text_without_diacritics_is_not_segmented():
    # pyvi joins accent-free syllables wrongly, so each stays its own word.
    assert terms("chi thi so 35 cua bo chinh tri", "words") == \
        ["chi", "thi", "so", "35", "cua", "bo", "chinh", "tri"]


def test_words_never_join_across_scripts_or_lines():
    words = terms("Đảng uỷ 中国\nBộ Chính trị", "words")
    assert "đảng ủy" in words and "中国" in words
    assert all("\n" not in w for w in words)


def _assert_offsets(text: str) -> int:
    """Every token of every view points at its own surface in the NFC text."""
    nfc = unicodedata.normalize("NFC", text)
    checked = 0
    analysis = analyse(text)
    for term in analysis.terms("acc"):
        assert normalize(nfc[term.start:term.end]).lower() == term.text
        checked += 1
    for term in analysis.terms("fold"):
        assert fold_syllable(nfc[term.start:term.end]) == term.text
    for term in analysis.terms("words"):
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
    for analyzer in map(ViewAnalyzer, VIEWS):
        clone = pickle.loads(pickle.dumps(analyzer))
        text = "Đảng uỷ Khối tổ chức Hội nghị"
        assert [t.text for t in clone(text)] == [t.text for t in analyzer(text)]
    schema = pickle.loads(pickle.dumps(build_schema()))
    assert [t.text for t in schema["body_fold"].analyzer("Đảng uỷ")] == ["dang", "uy"]


def test_whoosh_analyzer_reports_chars_and_positions():
    text = "Phó bí thư Hồ Thị Hoàng Yến"
    tokens = [(t.text, t.pos, t.startchar, t.endchar)
              for t in ViewAnalyzer("words")(text, positions=True, chars=True)]
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


def test_views_and_their_offsets_come_from_one_split(seed_texts):
    """The terms the index stores (views()) are the terms with offsets (terms()), view by view."""
    texts = list(seed_texts.values()) + ["Chỉ thị số 35-CT/TW", "Đảng uỷ Khối, 中国 và hoà bình", "chi thi 35"]
    for text in texts:
        analysis = analyse(text)
        for view, stored in analysis.views()._asdict().items():
            assert stored == [t.text for t in analysis.terms(view)], view
