"""The "did you mean" line: diacritics restored, typing mistakes corrected.

A noisy channel over syllables. Each typed syllable stands for itself (typed without
diacritics, for any of its accented forms) or for a syllable of the corpus one typing
mistake away: a dropped, added, wrong or swapped letter, or, typed with diacritics,
another tone mark. The accent model scores each reading by the corpus's adjacent pairs
(`AccentModel.best`); a reading that assumes a mistake pays its cost (EDIT_COST, more
when the typed syllable is itself a word) and is offered only when it still beats the
best reading of the query as typed: "ha nui" becomes "hà nội", though "núi" is a word,
because the corpus has "hà nội" side by side far more often than "hà núi"; a rare name
the corpus has in this company stays as typed. At most one syllable is corrected
between two numbers (docs/BENCHMARKS.md, "Typos: tuning").
"""
from __future__ import annotations

import functools
import re
import string
import unicodedata

import numpy as np

from vnsearch.indexer.analysis import analyse, fold_syllable
from vnsearch.indexer.normalize import has_diacritics, nfc, normalize
from vnsearch.search.accents import AccentModel

_LETTERS = string.ascii_lowercase


def _edits(word: str) -> set[str]:
    """Every folded spelling one typing mistake away (deleted, swapped, changed, added letter)."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    return ({a + b[1:] for a, b in splits if b}
            | {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
            | {a + c + b[1:] for a, b in splits if b for c in _LETTERS}
            | {a + c + b for a, b in splits for c in _LETTERS})


# Every Vietnamese syllable has a vowel: "th" (an initial, "Nguyễn Hoài Th.") is no correction.
_VOWEL_RE = re.compile("[aeiouy]")
# Vietnamese syllables have at most seven letters; longer words are not worth correcting.
MAX_CORRECTED_LENGTH = 10
# A correction is a syllable the corpus uses, not one it has seen once or twice: at least
# this share of its syllables ("covid" is not "cvid", however close).
MIN_CORRECTION_SHARE = 1e-6
# The noisy channel, as log-probabilities: what assuming a typing mistake costs a
# reading (a wrong letter or a wrong tone), and how much more when the typed syllable
# is itself a word of the corpus (most typed words are meant as typed). A correction is
# offered when the corpus makes it likelier than the query as typed by more than that;
# over a query typed with diacritics that articles hold exactly as typed, by
# EXACT_MARGIN more. Tuned on the development split (docs/BENCHMARKS.md, "Typos: tuning").
EDIT_COST = 3.0
TONE_COST = 3.0
REAL_WORD_COST = 1.0
EXACT_MARGIN = 4.0
# A correction stands beside the query's other syllables in the corpus, and where the
# syllable typed is itself a word, at least this often: on five articles "covid ha noi"
# became "covid và nội" on the strength of one "và nội dung".
MIN_REAL_WORD_PAIRS = 3
# The margin over a run whose every adjacent pair, as read, the corpus has side by side:
# the words as typed are a phrase some article holds.
ATTESTED_MARGIN = 2.0
# Spellings one mistake away, the most frequent first, and the accented forms of each,
# kept per typed syllable: Viterbi's cost grows with the square of the options.
MAX_NEIGHBOURS = 24
# Runs longer than this are restored, not corrected: each syllable's lattice spans the
# run, so the cost grows with its square (a pasted paragraph took minutes).
MAX_CORRECTED_RUN = 12
FORMS_PER_NEIGHBOUR = 6
# Syllables whose candidates a model remembers (a few hundred bytes each).
MEMO_SYLLABLES = 50_000
_TONE_MARKS = set("\u0300\u0301\u0303\u0309\u0323")  # grave, acute, tilde, hook above, dot below


@functools.lru_cache(maxsize=1 << 16)
def _marks(syllable: str) -> tuple[str, str]:
    """(tone mark, the other marks: circumflex, breve, horn, đ), which a typing mistake
    in the plain letters leaves as they are."""
    chars = unicodedata.normalize("NFD", syllable)
    return ("".join(c for c in chars if c in _TONE_MARKS),
            "".join(c for c in chars if unicodedata.combining(c) and c not in _TONE_MARKS) + "đ" * syllable.count("đ"))


def _floor(model: AccentModel) -> float:
    """How often a syllable must occur to be a correction, or a word as typed."""
    return max(2, MIN_CORRECTION_SHARE * model.total)


def _neighbours(model: AccentModel, folded: str) -> list[str]:
    """The folded syllables of the corpus one typing mistake from `folded`, the most frequent first."""
    if not folded.isalpha() or not 2 <= len(folded) <= MAX_CORRECTED_LENGTH:
        return []
    floor = _floor(model)
    spellings = list(_edits(folded) - {folded})
    # A spelling the corpus lacks counts 0, below any floor.
    counted = [(n, w) for n, w in zip(model.counts(spellings).tolist(), spellings)
               if n >= floor and _VOWEL_RE.search(w)]
    return [w for n, w in sorted(counted, reverse=True)][:MAX_NEIGHBOURS]


def _candidates(model: AccentModel, word: str) -> tuple[list[int], list[float], bool]:
    """`_find_candidates`, remembered by the model (at most MEMO_SYLLABLES of them)."""
    found = model.memo.get(word)
    if found is None:
        if len(model.memo) >= MEMO_SYLLABLES:
            model.memo.clear()
        found = model.memo[word] = _find_candidates(model, word)
    return found


def _find_candidates(model: AccentModel, word: str) -> tuple[list[int], list[float], bool]:
    """Syllable ids `word` may stand for, with the cost of each: 0 for the word as typed
    (any accented form, typed without diacritics), EDIT_COST or TONE_COST for one typing
    mistake away; and whether `word` is itself a word of the corpus. A word typed with
    diacritics keeps its marks under a letter mistake."""
    folded = fold_syllable(word)
    chosen: dict[int, float] = {}  # id -> cost, the first (cheapest) kept
    floor = _floor(model)
    accented = has_diacritics(word)
    known = (model.stats.count(word) if accented else model.count(folded)) >= floor
    edit, tone = (EDIT_COST + REAL_WORD_COST, TONE_COST + REAL_WORD_COST) if known else (EDIT_COST, TONE_COST)

    def add(i: int, cost: float) -> None:
        chosen.setdefault(i, cost)

    if accented:
        typed = model.stats.vocab.find(word)
        if typed >= 0:
            add(typed, 0.0)
        typed_tone, marks = _marks(word)
        for i in model.forms(folded):
            if _marks(model.stats.vocab[i])[1] == marks:
                add(i, tone)
        for spelling in _neighbours(model, folded):
            for i in model.forms(spelling):
                if _marks(model.stats.vocab[i]) == (typed_tone, marks):
                    add(i, edit)
    else:
        for i in model.forms(folded):
            add(i, 0.0)
        for spelling in _neighbours(model, folded):
            for i in model.forms(spelling)[:FORMS_PER_NEIGHBOUR]:
                add(i, edit)
    return list(chosen), list(chosen.values()), known


def _supported(model: AccentModel, reading: list[int], at: int, word: bool) -> bool:
    """Whether the corpus backs a correction at `at`: the corrected syllable stands beside
    its neighbours in the query somewhere ("the corrected words together"), and beside
    each MIN_REAL_WORD_PAIRS times where the syllable typed is itself a word."""
    counts = [model.pair_count(reading[k], reading[k + 1]) for k in (at - 1, at) if 0 <= k < len(reading) - 1]
    if not counts:
        return not word  # a lone word typed is meant as typed; a lone non-word is a typo
    return min(counts) >= (MIN_REAL_WORD_PAIRS if word else 1)


def _attested_anywhere(model: AccentModel, reading: list[int]) -> bool:
    """Whether the corpus has some adjacent pair of the reading side by side."""
    return any(model.pair_count(a, b) for a, b in zip(reading, reading[1:]))


def _correct_run(model: AccentModel, run: list[str], margin: float) -> tuple[list[str], bool]:
    """The likeliest reading of a run of lowercase syllables, and whether it corrects one:
    with at most one syllable corrected, where that beats the run as typed by `margin`
    (and ATTESTED_MARGIN more if the corpus has the run as read side by side); else the
    run as typed, with diacritics restored. One mistake a run: a short query with two
    leaves too little context to trust, and each more multiplies the readings."""
    typed_options, options, costs, words = [], [], [], []
    for word in run:
        ids, cost, known = _candidates(model, word)
        words.append(known)
        as_typed = [i for i, c in zip(ids, cost) if c == 0]
        typed_options.append(np.array(as_typed or [-1]))
        options.append(np.array(ids or [-1]))
        costs.append(np.array(cost or [0.0]))
    # The pairs' probabilities between readings as typed, worked out once for every lattice.
    steps = [model.log_p(a, b) for a, b in zip(typed_options, typed_options[1:])]
    typed_best, typed_score = model.best(typed_options, steps=steps)
    chosen = [int(o[j]) for o, j in zip(typed_options, typed_best)]
    corrected = False
    best_score = typed_score + margin + (ATTESTED_MARGIN if model.attested(chosen) else 0.0)
    for at in range(len(run) if len(run) <= MAX_CORRECTED_RUN else 0):
        if not costs[at].any():
            continue  # nothing one mistake away
        lattice = typed_options[:at] + [options[at]] + typed_options[at + 1:]
        lattice_costs = [np.zeros(len(o)) for o in lattice]
        lattice_costs[at] = costs[at]
        lattice_steps: list = list(steps)
        for k in (at - 1, at):  # the steps into and out of the corrected position
            if 0 <= k < len(steps):
                lattice_steps[k] = None
        best, score = model.best(lattice, lattice_costs, lattice_steps)
        if costs[at][best[at]] and score > best_score:
            reading = [int(o[j]) for o, j in zip(lattice, best)]
            if not _supported(model, reading, at, words[at]):
                continue
            chosen, corrected, best_score = reading, True, score
    if not corrected and len(run) > 1 and not _attested_anywhere(model, chosen):
        return run, False  # no pair of it is in the corpus: restoring would be a guess
    return [model.stats.vocab[i] if i >= 0 else word for i, word in zip(chosen, run)], corrected


def _read(model: AccentModel, words: list[str], margin: float) -> tuple[list[str], bool]:
    """The reading of each lowercase syllable, run by run between numbers, and whether
    any is corrected: "35" after a word says little about the word ("Chỉ thị 35" is rare
    where "Chỉ thị số 35" is common), yet one pair seen twice ("thu 35") would outweigh
    "chỉ thị" seen hundreds of times."""
    out: list[str] = []
    run: list[str] = []
    corrected = False
    for word in words + [None]:
        if word is None or not word.isalpha():
            if run:
                read, fixed = _correct_run(model, run, margin)
                out += read
                corrected |= fixed
            run = []
            if word is not None:
                out.append(word)
        else:
            run.append(word)
    return out, corrected


def suggest(model: AccentModel, raw: str, exact: bool = False) -> str | None:
    """The query with diacritics restored and typing mistakes corrected, or None if unchanged.

    A syllable typed with diacritics changes only where it is corrected. `exact`: the
    query as typed has exact matches; then only a correction beating it by EXACT_MARGIN
    is suggested, and no mere restoration of diacritics.
    """
    text = nfc(raw)
    spans = analyse(text).terms("fold")
    typed = [text[t.start:t.end] for t in spans]
    if not spans:
        return None
    lowered = [normalize(t).lower() for t in typed]
    read, corrected = _read(model, lowered, EXACT_MARGIN if exact else 0.0)
    if exact and not corrected:
        return None
    restored = model.capitalised(read)
    out, at = [], 0
    for span, original, lower, new, plain in zip(spans, typed, lowered, restored, read):
        if new.lower() == original.lower() or (has_diacritics(original) and plain == lower):
            new = original  # nothing restored or corrected: keep exactly what was typed
        elif original.isupper() and len(original) > 1:
            new = new.upper()  # "HDND" -> "HĐND"
        elif original[:1].isupper():
            new = new[:1].upper() + new[1:]
        out.append(text[at:span.start] + new)
        at = span.end
    out.append(text[at:])
    suggestion = "".join(out)
    return None if suggestion == text else suggestion
