"""Completions from the compact tables: the first and last of the sorted pairs, any script."""
from __future__ import annotations

import pytest

from vnsearch.indexer.fields import TEXT_FIELDS
from vnsearch.indexer.lexicon import Lexicon, SyllableStats
from vnsearch.search.accents import AccentModel
from vnsearch.search.completions import Completer, matches


# The pairs sort from "anh ba" to "y kien"; titles in other scripts, and ids not in ASCII.
COMPLETION_ARTICLES = [
    {"id": "c-anh-ba", "date": "2021-01-01", "title": "Anh Ba kể chuyện",
     "body": "Hôm qua Anh Ba về quê. Sáng nay Anh Ba đi chợ. Chiều Anh Ba ở nhà."},
    {"id": "c-y-kien", "date": "2021-01-02", "title": "Cử tri góp ý kiến",
     "body": "Nhiều ý kiến hay. Các ý kiến được ghi nhận. Mọi ý kiến đều quý."},
    {"id": "c-bài-3", "date": "2021-01-03", "title": "Tập Cận Bình (习近平)  gặp\nTổng thống 🇺🇸", "body": ""},
]


class ListCompleter(Completer):
    """The completion tables of a list of articles, looked up in the list (as the OpenSearch
    engine's completer looks up its cluster)."""

    def __init__(self, articles: list[dict]):
        lexicon = Lexicon()
        for article in articles:
            for name in TEXT_FIELDS:
                lexicon.add_text(article.get(name) or "")
        super().__init__(AccentModel(SyllableStats(lexicon.arrays())),
                         [(article["date"], article["title"], article["id"]) for article in articles])
        self.articles = articles

    def occurrences(self, syllables, reading):
        return matches(syllables, enumerate(self.articles)) if len(syllables) > 1 else []


@pytest.fixture(scope="module")
def completer():
    return ListCompleter(COMPLETION_ARTICLES)


@pytest.mark.parametrize("typed, phrases, titles", [
    ("anh b", ["Anh Ba"], ["c-anh-ba"]),        # the first pairs of the table
    ("an", ["Anh Ba"], ["c-anh-ba"]),
    ("y ki", ["ý kiến"], ["c-y-kien"]),         # the last ones
    ("y kien ", ["ý kiến"], ["c-y-kien"]),
    ("yz", [], []),                             # past the last pair and title
    ("zz", [], []),
    ("tap can", [], ["c-bài-3"]),               # a title in two scripts, an id outside ASCII
])
def test_completions_at_the_ends_of_the_tables(completer, typed, phrases, titles):
    found = completer.complete(typed, 8, 4, reading=None)
    assert found.phrases == phrases and [t.id for t in found.titles] == titles


def test_completed_titles_come_back_as_written_in_any_script(completer):
    found = completer.complete("tong thong", 8, 4, reading=None)
    assert [(t.id, t.title) for t in found.titles] == [("c-bài-3", "Tập Cận Bình (习近平) gặp Tổng thống 🇺🇸")]


def test_completed_titles_come_newest_first_and_undated_last():
    titles = [("2021-01-01", "Hội nghị một", "a"), ("", "Hội nghị không ngày", "b"),
              ("2021-03-01", "Hội nghị ba", "c"), ("2021-01-01", "Hội nghị bốn", "d"), ("2021-03-01", "Hội nghị năm", "e")]
    found = Completer(None, iter(titles)).complete("hoi nghi", 8, 8, reading=None)
    assert [t.id for t in found.titles] == ["c", "e", "a", "d", "b"]  # equal dates: as the index lists them
