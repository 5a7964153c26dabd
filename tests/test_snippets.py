"""Snippets found without analysing the whole article mark exactly what the analysis would."""
from __future__ import annotations

import pytest


def test_snippets_find_matches_without_analysing_the_article_yet_mark_as_the_analysis_would(shared_articles, monkeypatch):
    # search/snippets.py finds the matching syllables of most articles with one regular
    # expression (most of a search's time went into analysing whole articles); what it
    # marks must be exactly what analysing the whole article marks. Keys from each article's own
    # syllables: single ones, folded and accented, adjacent runs (side-by-side rule) and phrases.
    import random

    from vnsearch.indexer.analysis import analyse
    from vnsearch.search import snippets

    rng = random.Random(13)
    cases = []
    for article in shared_articles[:300]:
        text = article["body"].strip()
        accented = analyse(text).accented
        if len(accented) < 4:
            continue
        at = rng.randrange(len(accented) - 3)
        run = accented[at:at + rng.randint(1, 3)]
        cases += [
            (text, snippets.keys_for(run)),                                     # as typed, with diacritics
            (text, snippets.keys_for([snippets.fold_syllable(s) for s in run])),  # folded
            (text, snippets.keys_for([rng.choice(accented), "đảng", "ủy"])),    # scattered and common
            (text, snippets.keys_for([], [tuple(run)])),                         # a phrase
        ]
    found = [snippets.match_spans(text, keys) for text, keys in cases]
    # Every text analysed whole: as if each held a letter the one-for-one fold does not know.
    monkeypatch.setattr(snippets, "_fold_letters", lambda text: None)
    whole = [snippets.match_spans(text, keys) for text, keys in cases]
    assert found == whole
    assert sum(map(bool, whole)) > len(cases) / 2



@pytest.mark.parametrize("text", [
    "Đồng chí HỒ THỊ HOÀNG YẾN, Chỉ thị số 35-CT/TW…", "Müller & Société «Générale» – 2024", "ĐẢNG_ủy",
])
def test_the_snippets_fold_is_the_syllables_fold_letter_for_letter(text):
    from vnsearch.search.snippets import _fold_letters, fold_syllable
    folded = _fold_letters(text)
    assert len(folded) == len(text)
    assert all(f == fold_syllable(c) if c.isalnum() else f in (c, " ") for c, f in zip(text, folded))


@pytest.mark.parametrize("text", ["Tập Cận Bình (习近平)", "Путин", "Hà Nội\u0301", "\ud800"])
def test_text_no_one_letter_fold_holds_for_is_left_to_the_analysis(text):
    from vnsearch.search.snippets import _fold_letters
    assert _fold_letters(text) is None
