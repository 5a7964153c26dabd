"""Accent restoration: how many words of a headline typed without diacritics come back right?

Held out: a seeded sample of headlines. The syllable statistics (indexer.lexicon.Lexicon)
are built from every OTHER article (titles, summaries and bodies), as the indexer builds
them; search.accents.AccentModel then restores each held-out headline from its folded
syllables. pyvi's ViUtils.add_accents, applied to the same folded headline, is the
baseline. A word counts as restored when it equals the original syllable, normalised
(NFC, classic tone placement) and lowercased. Results go to stdout and into
docs/BENCHMARKS.md between <!-- accents:start --> and <!-- accents:end -->; the most
frequent mistakes go to bench/out/accents-errors.json.

No extra dependency: pyvi is one of the project's own.

    python bench/accents.py
    python bench/accents.py --limit-docs 3000 --sample 200 --no-doc   # quick iteration
"""
from __future__ import annotations

import argparse
import difflib
import json
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from common import (DEFAULT_CORPUS, DEFAULT_DOC, OUT, code_version, command_line, load_articles, machine,
                    progress, sample_articles, today, update_section)

from vnsearch.indexer.analysis import analyse, fold_syllable, fold_text
from vnsearch.indexer.lexicon import Lexicon, SyllableStats
from vnsearch.indexer.normalize import has_diacritics
from pyvi import ViUtils
from vnsearch.search.accents import AccentModel

TARGET = 0.95


@dataclass
class Score:
    name: str
    words: int = 0
    right: int = 0
    accented_words: int = 0  # words written with diacritics (or đ) in the original
    accented_right: int = 0
    headlines: int = 0
    headlines_right: int = 0
    seconds: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)  # (expected, restored) -> count
    examples: list[dict] = field(default_factory=list)

    def add(self, expected: list[str], restored: list[str | None], seconds: float, title: str) -> None:
        """`restored[i]` is the engine's form of `expected[i]`, None when it lost the word."""
        self.seconds.append(seconds)
        self.headlines += 1
        right_here = 0
        for want, got in zip(expected, restored):
            ok = got == want
            right_here += ok
            if has_diacritics(want):
                self.accented_words += 1
                self.accented_right += ok
            if not ok:
                self.errors[(want, got)] += 1
        self.words += len(expected)
        self.right += right_here
        if right_here == len(expected):
            self.headlines_right += 1
        elif len(self.examples) < 200:
            self.examples.append({"title": title, "restored": " ".join(g or "∅" for g in restored)})

    def row(self) -> str:
        ms = statistics.median(self.seconds) * 1000 if self.seconds else 0.0
        return (f"| {self.name} | {self.right / self.words:.1%} | {self.accented_right / self.accented_words:.1%} "
                f"| {self.headlines_right / self.headlines:.1%} | {ms:.2f} ms |")


def original_words(title: str) -> tuple[list[str], list[str]]:
    """The headline's syllables as typed without diacritics, and as written (normalised, lowercase)."""
    analysis = analyse(title)
    return analysis.folded, analysis.accented


def align(folded: list[str], restored: list[str]) -> list[str | None]:
    """pyvi's syllables matched to ours through their folded forms; unmatched ones are None."""
    out: list[str | None] = [None] * len(folded)
    matcher = difflib.SequenceMatcher(None, folded, [fold_syllable(r) for r in restored], autojunk=False)
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            out[block.a + k] = restored[block.b + k]
    return out


def build_stats(articles, held_out: set[str], quiet: bool) -> SyllableStats:
    """The statistics the index would hold without the held-out articles, through the
    same file format the engine loads."""
    lexicon = Lexicon()
    for article in progress(articles, quiet, desc="lexicon", unit=" articles"):
        if article.id in held_out:
            continue
        for text in (article.title, article.summary, article.body):
            if text:
                lexicon.add_text(text)
    with tempfile.TemporaryDirectory() as folder:
        lexicon.save(Path(folder))
        return SyllableStats.load(Path(folder))


def report(args, corpus_size: int, sample: int, lexicon_seconds: float, scores: list[Score]) -> str:
    ours = scores[0]
    verdict = "meets" if ours.right / ours.words >= TARGET else "is below"
    return "\n".join([
        f"Measured {today()} with `{command_line()}` on {machine()}; code at {code_version()}.",
        "",
        f"Corpus: {corpus_size:,} articles from `{Path(args.corpus).name}`"
        + (f" (first {args.limit_docs:,} only)" if args.limit_docs else "")
        + f". Held out: {sample:,} headlines (seed {args.seed}), {ours.words:,} words; "
          f"the lexicon is built from the other {corpus_size - sample:,} articles in {lexicon_seconds:.0f} s.",
        "",
        "| Restorer | Words right | Words with diacritics right | Headlines all right | Median time per headline |",
        "|---|---|---|---|---|",
        *(s.row() for s in scores),
        "",
        f"vnsearch {verdict} the target of {TARGET:.0%} of words restored exactly.",
    ])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Accent restoration accuracy on held-out headlines typed without diacritics: "
                    "vnsearch's AccentModel against pyvi's ViUtils.add_accents. No extra dependency.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS), help="JSON Lines corpus (.jsonl or .jsonl.gz).")
    parser.add_argument("--sample", type=int, default=1000, help="Held-out headlines.")
    parser.add_argument("--seed", type=int, default=13, help="Seed for choosing the held-out headlines.")
    parser.add_argument("--limit-docs", type=int, metavar="N",
                        help="Use only the first N articles (quick iterations).")
    parser.add_argument("--doc", default=str(DEFAULT_DOC), help="Markdown file whose accents section is replaced.")
    parser.add_argument("--no-doc", action="store_true", help="Print the results without writing the doc.")
    parser.add_argument("--errors", type=int, default=20, metavar="N",
                        help="Print vnsearch's N most frequent mistakes (more in bench/out/accents-errors.json).")
    parser.add_argument("--quiet", "-q", action="store_true", help="No progress bars.")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if not Path(args.corpus).exists():
        raise SystemExit(f"error: no corpus at {args.corpus}; pass --corpus")
    articles = load_articles(Path(args.corpus), args.limit_docs, args.quiet)
    held_out = sample_articles(articles, args.sample, args.seed, min_words=1)

    started = time.monotonic()
    model = AccentModel(build_stats(articles, {a.id for a in held_out}, args.quiet))
    lexicon_seconds = time.monotonic() - started

    ours, pyvi = Score("vnsearch (AccentModel)"), Score("pyvi (ViUtils.add_accents)")
    for article in progress(held_out, args.quiet, desc="restoring", unit=" headlines"):
        folded, expected = original_words(article.title)
        if not folded:
            continue
        started = time.perf_counter()
        restored = model.restore(folded)
        ours.add(expected, restored, time.perf_counter() - started, article.title)
        started = time.perf_counter()
        baseline = ViUtils.add_accents(fold_text(article.title))
        seconds = time.perf_counter() - started
        pyvi.add(expected, align(folded, analyse(baseline).accented), seconds, article.title)

    text = report(args, len(articles), len(held_out), lexicon_seconds, [ours, pyvi])
    print(text)
    if not args.no_doc:
        update_section(Path(args.doc), "accents", text)
        print(f"\nwrote the accents section of {args.doc}")

    mistakes = [{"expected": e, "restored": g, "count": n} for (e, g), n in ours.errors.most_common()]
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "accents-errors.json").write_text(
        json.dumps({"mistakes": mistakes, "headlines": ours.examples}, ensure_ascii=False, indent=1),
        encoding="utf-8")
    print(f"\nvnsearch's most frequent mistakes (expected → restored; all in {OUT / 'accents-errors.json'}):")
    for m in mistakes[:args.errors]:
        print(f"  {m['expected']} → {m['restored']}  ×{m['count']}")


if __name__ == "__main__":
    main()
