"""The names of what is indexed: the searched texts of an article and the analysed views
of each. Named once here and imported everywhere (schema, ranking, backends).

No Whoosh here: a second storage backend reuses the same names.
"""
from __future__ import annotations

# The texts of an article that are searched; each gets every view below.
TEXT_FIELDS = ("title", "summary", "body")

# The analysed views of a text, in the order `indexer.analysis.Views` holds them:
# - words: pyvi's segmentation with diacritics ("chỉ thị" is one term);
# - acc: syllables with diacritics, lowercased ("đảng" is not "đang");
# - fold: syllables without diacritics (what a plain keyboard types);
# - pairs: adjacent folded syllables as one term ("hoi_dong"): phrases and closeness by look-up.
VIEWS = ("words", "acc", "fold", "pairs")

# Only the folded view keeps positions (phrase checks); the ranking looks the other
# views up as whole terms, and positions would cost index time and space for nothing.
POSITIONAL = frozenset({"fold"})

# How much a match in each text counts in the ranking.
FIELD_WEIGHTS = {"title": 3.0, "summary": 1.5, "body": 1.0}


def view_field(text_field: str, view: str) -> str:
    """`view_field("title", "fold")` -> "title_fold"."""
    return f"{text_field}_{view}"


# Every analysed field.
VIEW_FIELDS = tuple(view_field(text, view) for text in TEXT_FIELDS for view in VIEWS)
