"""Lists of strings as one UTF-8 buffer (indexer/strings.py): what the lexicon's vocabulary
and folds and the completion tables are kept in, so every string must come back as it
went in and be found where it is."""
from __future__ import annotations

import hypothesis
import numpy as np
import pytest
from hypothesis import strategies as st

from vnsearch.indexer import strings
from vnsearch.indexer.strings import StringIndex, Strings

# Any text, lone surrogates included (text read from JSON may hold them).
_ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=8)
TRICKY = ["", "đảng", "Đảng", "dang", "中国", "🇻🇳", "a\ud800b", "\x7f", "nguyễn phú trọng", "ß"]


@hypothesis.settings(max_examples=200, deadline=None, derandomize=True)
@hypothesis.given(st.lists(_ANY_TEXT, unique=True, max_size=30), _ANY_TEXT)
def test_every_string_comes_back_and_is_found_where_it_is(values, other):
    table = StringIndex.of(values)
    assert list(table) == values and len(table) == len(values)
    assert [table.find(s) for s in values] == list(range(len(values)))
    assert table.find_all(values + [other]).tolist() == list(range(len(values))) + [
        values.index(other) if other in values else -1]


@hypothesis.settings(max_examples=200, deadline=None, derandomize=True)
@hypothesis.given(st.lists(_ANY_TEXT, max_size=30))
def test_utf8_sorts_as_the_strings_do(values):
    """The completion tables bisect their folded text as UTF-8, undecoded."""
    table = Strings.of(values)
    assert sorted(range(len(values)), key=table.encoded) == sorted(range(len(values)), key=values.__getitem__)


@pytest.mark.parametrize("text", ["", "a", "\n", "a\nbb\n\nc", "đảng\nĐảng\n", "中国\n🇻🇳"])
def test_a_text_splits_into_its_lines(text):
    assert list(StringIndex.split(text)) == (text.split("\n") if text else [])


def test_strings_come_back_in_any_order():
    table = Strings.of(TRICKY)
    order = np.array([3, 0, 9, 9, 6])
    assert list(table.take(order)) == [TRICKY[i] for i in order]
    assert list(table.take(np.zeros(0, np.int64))) == []


def test_strings_are_found_when_every_hash_collides(monkeypatch):
    monkeypatch.setattr(strings, "_hash", lambda s: 7)
    table = StringIndex.of(TRICKY)
    assert [table.find(s) for s in TRICKY] == list(range(len(TRICKY)))
    assert table.find("absent") == -1
    assert table.find_all(["ß", "absent", ""]).tolist() == [TRICKY.index("ß"), -1, 0]


def test_nothing_is_found_in_an_empty_table():
    table = StringIndex.of([])
    assert len(table) == 0 and table.find("") == -1 and table.find_all(["a", ""]).tolist() == [-1, -1]
    with pytest.raises(IndexError):
        table[0]
