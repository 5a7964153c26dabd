"""The query sets of the relevance benchmark, made from articles without any engine.

- headlines: known-item queries, a headline typed five ways;
- verbose: the first sentence of an article's summary, as written and folded;
- topical: short queries of `topical_queries.tsv`, whose relevant articles are those
  holding the query's syllables side by side, accent-insensitive (`Relevance`);
- typos: 2–5 headline words with exactly one typing mistake in one word.

Everything is seeded and pure, so tests/test_bench_sets.py can check it on hand-made
articles.
"""
from __future__ import annotations

import random
import string
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from common import title_key, words

from vnsearch.corpus import Article
from vnsearch.indexer.analysis import analyse, fold_syllable
from vnsearch.indexer.analysis import fold_text as fold
from vnsearch.indexer.normalize import has_diacritics, nfc, normalize

TOPICAL_FILE = Path(__file__).with_name("topical_queries.tsv")


@dataclass(frozen=True)
class Query:
    """A known-item query: `text` should find the article `article_id`."""
    kind: str
    text: str
    article_id: str


# --- known items: headlines

HEADLINE_KINDS = ("full", "full_folded", "fragment_folded", "fragment_accented", "half_stripped")


def headline_queries(articles: list[Article], seed: int) -> list[Query]:
    """Five queries per headline; the fragment and the stripped words are drawn from `seed`."""
    rng = random.Random(seed)
    queries = []
    for article in articles:
        tokens = article.title.split()
        # Words are the whitespace tokens with a letter or digit: the corpus spaces out its
        # punctuation ("' Ngáo đá ' đâm chết…"), and "' ngáo đá '" is not a 4-word fragment.
        word_at = [i for i, token in enumerate(tokens) if any(c.isalnum() for c in token)]  # as common.words
        length = rng.randint(min(4, len(word_at)), min(6, len(word_at)))
        start = rng.randint(0, len(word_at) - length)
        fragment = " ".join(tokens[i] for i in word_at[start:start + length])
        stripped = set(rng.sample(word_at, round(len(word_at) / 2)))
        half = " ".join(fold(t) if i in stripped else t for i, t in enumerate(tokens))
        texts = {
            "full": article.title,
            "full_folded": fold(article.title),
            "fragment_folded": fold(fragment),
            "fragment_accented": fragment.lower(),
            "half_stripped": half,
        }
        queries.extend(Query(kind, texts[kind], article.id) for kind in HEADLINE_KINDS)
    return queries


# --- known items: verbose queries

VERBOSE_KINDS = ("verbose_accented", "verbose_folded")
MAX_VERBOSE_WORDS = 30
MIN_VERBOSE_WORDS = 8
_CLOSERS = "\"'”’)»"


def _ends_sentence(token: str, following: str) -> bool:
    """Does `token` close a sentence, given the token after it?"""
    bare = token.rstrip(_CLOSERS)
    if not bare.endswith((".", "!", "?", "…")):
        return False
    start = following.lstrip("\"'“‘(«")
    if not start or not (start[0].isupper() or start[0].isdigit()):
        return False
    letters = bare.rstrip(".!?…").lstrip("(\"'“‘")
    # "TP. Đà Nẵng", "ông H. kể", "ThS. Lê": short capitalised words with a period are
    # abbreviations and initials, not sentence ends.
    return not (bare.endswith(".") and letters[:1].isupper() and (len(letters) <= 3 or letters.isupper()))


def first_sentence(text: str, max_words: int = MAX_VERBOSE_WORDS) -> str:
    """The first sentence of `text`, cut after `max_words` words (tokens with a letter or digit)."""
    tokens = text.split()
    out, count = [], 0
    for i, token in enumerate(tokens):
        out.append(token)
        count += any(c.isalnum() for c in token)
        if count >= max_words or (i + 1 < len(tokens) and _ends_sentence(token, tokens[i + 1])):
            break
    return " ".join(out)


def verbose_queries(articles: list[Article], size: int, seed: int) -> list[Query]:
    """For a seeded sample of articles, the first sentence of the summary as written and folded.

    Eligible: a unique headline and a unique first sentence of at least
    MIN_VERBOSE_WORDS words, so that each query has exactly one right answer.
    """
    sentences = {a.id: first_sentence(a.summary or "") for a in articles}
    titles: dict[str, int] = {}
    keys: dict[str, int] = {}
    for a in articles:
        titles[title_key(a.title)] = titles.get(title_key(a.title), 0) + 1
        keys[title_key(sentences[a.id])] = keys.get(title_key(sentences[a.id]), 0) + 1
    eligible = [a for a in articles
                if titles[title_key(a.title)] == 1 and keys[title_key(sentences[a.id])] == 1
                and len(words(sentences[a.id])) >= MIN_VERBOSE_WORDS]
    if size > len(eligible):
        raise SystemExit(f"error: only {len(eligible)} articles have a usable summary; ask for a smaller sample")
    sample = sorted(random.Random(seed).sample(range(len(eligible)), size))
    queries = []
    for i in sample:
        article = eligible[i]
        sentence = sentences[article.id]
        queries.append(Query("verbose_accented", sentence, article.id))
        queries.append(Query("verbose_folded", fold(sentence), article.id))
    return queries


# --- topical queries and their relevant articles


@dataclass(frozen=True)
class TopicalQuery:
    kind: str  # person, institution, topic, place
    text: str  # as typed with diacritics; the folded typing is fold(text)


def read_topical(path: Path = TOPICAL_FILE) -> list[TopicalQuery]:
    queries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            kind, text = line.split("\t")[:2]
            queries.append(TopicalQuery(kind.strip(), text.strip()))
    return queries


Form = tuple[str, ...]


def phrase_forms(text: str, table: dict[Form, list[Form]]) -> set[Form]:
    """The phrase's accented syllables and every spelling with known abbreviations
    swapped in or out, run by run ("đại biểu quốc hội" → "ĐBQH", "đại biểu QH", …).

    `table` is vnsearch's abbreviations table: folded form -> accented syllables of the
    equivalent forms (`vnsearch.search.abbreviations.table()`).
    """
    syllables = tuple(analyse(text).accented)
    folded = tuple(fold_syllable(s) for s in syllables)
    forms: set[Form] = set()

    def walk(i: int, prefix: Form) -> None:
        if i == len(syllables):
            forms.add(prefix)
            return
        walk(i + 1, prefix + (syllables[i],))
        for j in range(i + 1, len(syllables) + 1):
            for other in table.get(folded[i:j], ()):
                walk(j, prefix + tuple(other))

    walk(0, ())
    return {f for f in forms if f}


class Relevance:
    """Which articles hold a phrase: its syllables one after the other (punctuation
    between them ignored) in the title, the summary or the body.

    Each field's syllables are kept as one space-separated string, folded and accented,
    with a bar between fields so that no run crosses from one field into the next.
    """

    def __init__(self, articles: list[Article], progress=lambda it, **kw: it):
        self.ids = [a.id for a in articles]
        self.folded: list[str] = []
        self.accented: list[str] = []
        self.vocabulary: set[str] = set()  # accented syllables, lowercased
        for a in progress(articles, desc="relevance: syllables", unit=" articles"):
            fields = [analyse(text or "").accented for text in (a.title, a.summary, a.body)]
            for syllables in fields:
                self.vocabulary.update(syllables)
            self.accented.append(" " + " | ".join(" ".join(s) for s in fields) + " ")
            self.folded.append(" " + " | ".join(" ".join(map(fold_syllable, s)) for s in fields) + " ")
        self.folded_vocabulary = {fold_syllable(s) for s in self.vocabulary}

    def matching(self, forms: set[Form], accents: bool = False) -> set[str]:
        """Ids of the articles holding any of `forms`; with `accents`, as written, else folded."""
        texts = self.accented if accents else self.folded
        needles = {" " + " ".join(f if accents else map(fold_syllable, f)) + " " for f in forms}
        return {self.ids[i] for i, text in enumerate(texts) if any(n in text for n in needles)}


# --- typos

TYPO_EDITS = ("dropped", "swapped", "wrong", "added", "tone")
_TONE_MARKS = "\u0300\u0301\u0303\u0309\u0323"  # grave, acute, tilde, hook above, dot below
_ASCII = string.ascii_lowercase


@dataclass(frozen=True)
class TypoQuery:
    kind: str  # "folded" (typed without diacritics) or "accented"
    typed: str  # with the typo
    intended: str  # the words as meant, lowercased, with diacritics
    edit: str  # one of TYPO_EDITS
    word: int  # which word has the typo
    article_id: str

    @property
    def intended_typed(self) -> str:
        """The intended query typed the same way (folded or accented), without the typo."""
        return fold(self.intended) if self.kind == "folded" else self.intended


def tone_of(syllable: str) -> str | None:
    marks = [c for c in unicodedata.normalize("NFD", syllable) if c in _TONE_MARKS]
    return marks[0] if marks else None


def _edits_possible(word: str, accented: bool) -> list[str]:
    letters = [i for i, c in enumerate(word) if c in _ASCII]
    edits = []
    if len(letters) and len(word) > 2:
        edits += ["dropped", "wrong"]
    elif letters:
        edits.append("wrong")
    if any(word[i] in _ASCII and word[i + 1] in _ASCII and word[i] != word[i + 1] for i in range(len(word) - 1)):
        edits.append("swapped")
    edits.append("added")
    if accented and tone_of(word):
        edits.append("tone")
    return edits


def misspell(word: str, edit: str, rng: random.Random) -> str:
    """`word` with one typing mistake of kind `edit`. Letter edits touch only plain
    letters (a-z): a letter with a diacritic takes several keys to type."""
    letters = [i for i, c in enumerate(word) if c in _ASCII]
    if edit == "dropped":
        i = rng.choice(letters)
        return word[:i] + word[i + 1:]
    if edit == "wrong":
        i = rng.choice(letters)
        return word[:i] + rng.choice([c for c in _ASCII if c != word[i]]) + word[i + 1:]
    if edit == "swapped":
        i = rng.choice([i for i in range(len(word) - 1)
                        if word[i] in _ASCII and word[i + 1] in _ASCII and word[i] != word[i + 1]])
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if edit == "added":
        i = rng.randint(0, len(word))
        return word[:i] + rng.choice(_ASCII) + word[i:]
    if edit == "tone":
        old = tone_of(word)
        new = rng.choice([m for m in _TONE_MARKS if m != old])
        chars = list(unicodedata.normalize("NFD", word))
        at = chars.index(old)
        del chars[at]
        # After the vowel's other marks: "ộ" is o, dot below, circumflex, and "ổ" must be
        # o, circumflex, hook (marks of one class compose in order).
        while at < len(chars) and unicodedata.combining(chars[at]):
            at += 1
        chars.insert(at, new)
        return normalize(nfc("".join(chars)))
    raise ValueError(f"unknown edit {edit!r}")


def typo_queries(articles: list[Article], size: int, seed: int, accented_share: float = 1 / 3) -> list[TypoQuery]:
    """`size` queries, each 2–5 consecutive words of a different headline (seeded), with
    exactly one edit in one word of three letters or more; about `accented_share` of
    them typed with diacritics, the rest folded as most users type."""
    rng = random.Random(seed)
    counts: dict[str, int] = {}
    for a in articles:
        counts[title_key(a.title)] = counts.get(title_key(a.title), 0) + 1
    eligible = [a for a in articles if counts[title_key(a.title)] == 1 and _letter_runs(a.title)]
    if len(eligible) < size:
        raise SystemExit(f"error: only {len(eligible)} headlines can make typo queries; ask for fewer")
    queries = []
    for article in rng.sample(eligible, size):
        run = rng.choice(_letter_runs(article.title))
        length = rng.randint(2, min(5, len(run)))
        # A window over at least one word long enough to misspell.
        anchor = rng.choice([i for i, w in enumerate(run) if len(w) >= 3])
        start = rng.randint(max(0, anchor - length + 1), min(anchor, len(run) - length))
        intended = [normalize(w).lower() for w in run[start:start + length]]
        accented = rng.random() < accented_share
        typed = intended if accented else [fold(w) for w in intended]
        editable = [i for i, w in enumerate(typed) if len(w) >= 3]
        at = rng.choice(editable)
        edit = rng.choice(_edits_possible(typed[at], accented))
        typed = typed[:at] + [misspell(typed[at], edit, rng)] + typed[at + 1:]
        queries.append(TypoQuery("accented" if accented else "folded", " ".join(typed), " ".join(intended),
                                 edit, at, article.id))
    return queries


def _letter_runs(title: str) -> list[list[str]]:
    """Runs of 2+ consecutive all-letter words with at least one of 3+ letters."""
    runs, run = [], []
    for token in title.split() + [""]:
        if token.isalpha():
            run.append(token)
            continue
        if len(run) >= 2 and any(len(w) >= 3 for w in run):
            runs.append(run)
        run = []
    return runs


def syllables_of(text: str) -> list[str]:
    """Lowercased, normalised syllables: how suggestions and intended queries are compared."""
    return analyse(text or "").accented


def folded_syllables_of(text: str) -> list[str]:
    return [fold_syllable(s) for s in syllables_of(text)]


def judge(query: TypoQuery, suggestion: str | None) -> tuple[bool, bool]:
    """(right, right with diacritics): is `suggestion` the intended query?

    Right means the same syllables once folded, except for a wrong tone mark, which
    folding cannot see: there only the intended diacritics count as right.
    """
    if suggestion is None:
        return False, False
    exact = syllables_of(suggestion) == syllables_of(query.intended)
    if query.edit == "tone":
        return exact, exact
    return folded_syllables_of(suggestion) == folded_syllables_of(query.intended), exact


def is_known_word(word: str, relevance: Relevance) -> bool:
    """Is the (mis)typed word a syllable the corpus has (a real-word typo)?"""
    word = normalize(word).lower()
    return word in (relevance.vocabulary if has_diacritics(word) else relevance.folded_vocabulary)

