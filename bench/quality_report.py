"""Scores and Markdown tables of the relevance benchmark, one function per query set."""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from quality_sets import TYPO_EDITS, Query, TopicalQuery, TypoQuery

# The targets, printed next to the figures.
KNOWN_ITEM_TARGETS = {"full": 0.995, "full_folded": 0.995, "half_stripped": 0.995,
                      "fragment_folded": 0.95, "fragment_accented": 0.95,
                      "verbose_accented": 0.85, "verbose_folded": 0.85}
TOPICAL_PRECISION, TOPICAL_RECALL = 0.90, 0.98
TYPO_RIGHT, CONTROL_WRONG = 0.80, 0.05
# The accent-free headline queries must score within this much MRR@10 of the accented ones.
ACCENT_TOLERANCE = 0.02


def verdict(passed: bool) -> str:
    return "**pass**" if passed else "**FAIL**"


def share(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "–"


# --- known items (headlines, verbose)


@dataclass
class Run:
    name: str
    ranks: list[int | None] = field(default_factory=list)  # 1-based rank in the top 10, or None
    firsts: list[str | None] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    errors: dict[int, str] = field(default_factory=dict)  # query index -> exception; counts as not found


def scores(ranks: list[int | None]) -> tuple[float, float, float]:
    """MRR@10, Recall@1, Recall@10."""
    n = len(ranks) or 1
    return (sum(1 / r for r in ranks if r) / n,
            sum(1 for r in ranks if r == 1) / n,
            sum(1 for r in ranks if r) / n)


def by_kind(queries: list[Query], ranks: list[int | None], kind: str | None) -> list[int | None]:
    return [r for q, r in zip(queries, ranks) if kind is None or q.kind == kind]


def known_item_table(queries: list[Query], runs: list[Run], kinds: tuple[str, ...]) -> str:
    """vnsearch's MRR@10, R@1 and R@10 against the target, then each other engine's MRR@10 and R@10."""
    ours, others = runs[0], runs[1:]
    head = ["Query kind", "target MRR@10", f"{ours.name} MRR@10", "R@1", "R@10", "target met"]
    head += [f"{r.name} {m}" for r in others for m in ("MRR@10", "R@10")]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for kind in (*kinds, None):
        mrr, r1, r10 = scores(by_kind(queries, ours.ranks, kind))
        target = KNOWN_ITEM_TARGETS.get(kind) if kind else None
        cells = [f"`{kind}`" if kind else "**all**", f"≥ {target}" if target else "",
                 f"{mrr:.3f}", f"{r1:.3f}", f"{r10:.3f}", verdict(mrr >= target) if target else ""]
        for r in others:
            m, _, r10_ = scores(by_kind(queries, r.ranks, kind))
            cells += [f"{m:.3f}", f"{r10_:.3f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def headline_checks(queries: list[Query], run: Run) -> str:
    parts, passed = [], True
    for folded, accented in (("full_folded", "full"), ("fragment_folded", "fragment_accented")):
        gap = scores(by_kind(queries, run.ranks, folded))[0] - scores(by_kind(queries, run.ranks, accented))[0]
        passed &= gap >= -ACCENT_TOLERANCE
        parts.append(f"`{folded}` − `{accented}` = {gap:+.3f}")
    return (f"Accent-free within {ACCENT_TOLERANCE} MRR@10 of with diacritics ({run.name}): "
            f"{verdict(passed)} ({'; '.join(parts)}).")


def verbose_checks(queries: list[Query], run: Run) -> str:
    accented = scores(by_kind(queries, run.ranks, "verbose_accented"))[0]
    folded = scores(by_kind(queries, run.ranks, "verbose_folded"))[0]
    return (f"With diacritics never below without ({run.name}): {verdict(accented >= folded)} "
            f"(`verbose_accented` − `verbose_folded` = {accented - folded:+.3f} MRR@10).")


def known_item_times(runs: list[Run]) -> str:
    return "Median time per query: " + ", ".join(
        f"{r.name} {statistics.median(r.seconds) * 1000:.1f} ms" for r in runs if r.seconds) + "."


def raised(queries: list[Query], runs: list[Run]) -> list[str]:
    lines = []
    for r in runs:
        if r.errors:
            first = min(r.errors)
            lines.append(f"{r.name} raised an exception on {len(r.errors):,} of {len(r.ranks):,} queries, "
                         f"counted as not found (first: `{r.errors[first]}` for `{queries[first].text}`).")
    return lines


def known_item_failures(queries: list[Query], runs: list[Run], titles: dict[str, str]) -> list[dict]:
    """Queries where vnsearch misses the article or ranks it below another engine."""
    ours, others = runs[0], runs[1:]
    out = []
    for i, query in enumerate(queries):
        rank = ours.ranks[i]
        best_other = min((p.ranks[i] for p in others if p.ranks[i]), default=None)
        if rank is None or (best_other is not None and best_other < rank):
            first = ours.firsts[i]
            out.append({
                "kind": query.kind, "query": query.text, "expected": query.article_id,
                "expected_title": titles[query.article_id], "vnsearch_rank": rank,
                "vnsearch_first": first, "vnsearch_first_title": titles.get(first) if first else None,
                "vnsearch_error": ours.errors.get(i),
                **{f"{p.name}_rank": p.ranks[i] for p in others},
            })
    return out


# --- topical precision and recall

TYPINGS = ("accented", "folded")


@dataclass
class SetResult:
    """One engine's answer to one topical query typed one way."""
    returned: int
    right: int  # returned and relevant
    relevant: int
    newest: int  # how many of the first page by date
    newest_right: int
    seconds: float
    # Judged strictly: only the articles holding the query with its diacritics as typed
    # are relevant (for the accented typing).
    exact_right: int = 0
    exact_relevant: int = 0

    @property
    def precision(self) -> float:
        return self.right / self.returned if self.returned else 0.0  # nothing returned: nothing found

    @property
    def recall(self) -> float:
        return self.right / self.relevant if self.relevant else 1.0

    @property
    def exact_precision(self) -> float:
        return self.exact_right / self.returned if self.returned else 0.0

    @property
    def exact_recall(self) -> float:
        return self.exact_right / self.exact_relevant if self.exact_relevant else 1.0


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values) if values else 0.0


def judged(results: dict, queries: list[TopicalQuery], typing: str) -> list[SetResult]:
    """The answers to the queries that have relevant articles (the others judge nothing)."""
    rows = [results[(i, typing)] for i in range(len(queries))]
    return [r for r in rows if r.relevant]


def topical_table(engines: list[tuple[str, str]], results: dict, queries: list[TopicalQuery], dated: bool) -> str:
    """Per engine and mode (rows), per typing: mean precision, mean recall, mean share of
    relevant articles in the first 10 by date."""
    head = ["Engine", "query as"]
    for typing in TYPINGS:
        head += [f"{typing}: precision", "recall", "top 10 by date relevant"]
    head += ["accented, judged accent-exact: precision", "recall"]
    lines = ["| " + " | ".join(head) + " |", "|---|---|" + "---:|" * (len(head) - 2)]
    for name, mode in engines:
        cells = [name, mode]
        for typing in TYPINGS:
            rows = judged(results[(name, mode)], queries, typing)
            date_share = (f"{_mean(r.newest_right / r.newest for r in rows if r.newest):.3f}"
                          if dated else "not measurable")
            cells += [f"{_mean(r.precision for r in rows):.3f}", f"{_mean(r.recall for r in rows):.3f}", date_share]
        strict = [r for r in judged(results[(name, mode)], queries, "accented") if r.exact_relevant]
        cells += [f"{_mean(r.exact_precision for r in strict):.3f}", f"{_mean(r.exact_recall for r in strict):.3f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def topical_checks(name: str, mode: str, results: dict, queries: list[TopicalQuery]) -> str:
    parts, passed = [], True
    for typing in TYPINGS:
        rows = judged(results[(name, mode)], queries, typing)
        p, r = _mean(x.precision for x in rows), _mean(x.recall for x in rows)
        passed &= p >= TOPICAL_PRECISION and r >= TOPICAL_RECALL
        parts.append(f"{typing}: precision {p:.3f}, recall {r:.3f}")
    return (f"Target ({name}, {mode}): mean precision ≥ {TOPICAL_PRECISION} with mean recall ≥ "
            f"{TOPICAL_RECALL}, both typings: {verdict(passed)} ({'; '.join(parts)}).")


def topical_query_table(name: str, mode: str, results: dict, queries: list[TopicalQuery]) -> str:
    """Per query, for one engine and mode: relevant articles, and per typing results, P and R."""
    head = ["Query", "kind", "relevant", "of which accent-exact"]
    for typing in TYPINGS:
        head += [f"{typing}: returned", "P", "R"]
    head += ["accented, judged accent-exact: P", "R"]
    lines = ["| " + " | ".join(head) + " |", "|---|---|" + "---:|" * (len(head) - 2)]
    for i, query in enumerate(queries):
        first = results[(name, mode)][(i, "accented")]
        cells = [query.text, query.kind, f"{first.relevant:,}", f"{first.exact_relevant:,}"]
        for typing in TYPINGS:
            r = results[(name, mode)][(i, typing)]
            cells += [f"{r.returned:,}", f"{r.precision:.2f}", f"{r.recall:.2f}"]
        cells += [f"{first.exact_precision:.2f}", f"{first.exact_recall:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# --- typos


@dataclass
class Suggested:
    query: TypoQuery
    typo: str | None  # the suggestion for the misspelt query
    right_accents: bool  # equal to the intended syllables, diacritics included
    right: bool  # equal once folded
    real_word: bool  # the misspelt word is itself a syllable of the corpus
    control_accented: str | None  # the suggestion for the intended query, fully accented
    control_accented_wrong: bool
    control_folded: str | None  # ... and for the intended query typed without diacritics
    control_folded_wrong: bool  # a suggestion that changes its letters
    control_folded_restored: bool  # a suggestion with exactly the intended diacritics


def _typo_row(label: str, rows: list[Suggested]) -> str:
    return f"| {label} | {len(rows):,} | " + " | ".join(_typo_cells(rows)) + " |"


def _typo_cells(rows: list[Suggested]) -> list[str]:
    """Shares of right (folded), right with diacritics, wrong and no suggestions."""
    n = len(rows)
    right, exact = sum(r.right for r in rows), sum(r.right_accents for r in rows)
    none = sum(r.typo is None for r in rows)
    return [share(right, n), share(exact, n), share(n - right - none, n), share(none, n)]


def typo_groups(rows: list[Suggested]) -> list[tuple[str, list[Suggested]]]:
    """The rows of the typo table: all, by typing, by edit, and by whether the misspelt word is a real one."""
    groups = [("**all**", rows)]
    for kind in ("folded", "accented"):
        groups.append((f"typed {kind}", [r for r in rows if r.query.kind == kind]))
    for edit in TYPO_EDITS:
        if not any(r.query.edit == edit for r in rows):
            continue
        groups.append((f"edit: {edit}", [r for r in rows if r.query.edit == edit]))
    groups.append(("misspelt word not a corpus syllable", [r for r in rows if not r.real_word]))
    groups.append(("misspelt word is a corpus syllable", [r for r in rows if r.real_word]))
    return groups


def typo_tables(rows: list[Suggested]) -> str:
    head = ("| Typo queries | queries | right suggestion (folded) | right with diacritics | wrong suggestion "
            "| no suggestion |\n|---|---:|---:|---:|---:|---:|")
    lines = [head, *(_typo_row(label, group) for label, group in typo_groups(rows))]
    n = len(rows)
    accented_wrong = sum(r.control_accented_wrong for r in rows)
    folded_wrong = sum(r.control_folded_wrong for r in rows)
    restored = sum(r.control_folded_restored for r in rows)
    offered = sum(r.control_folded is not None for r in rows)
    control = "\n".join([
        "| Control: the intended queries without a typo | queries | suggestion offered | wrong suggestion "
        "| suggestion with the intended diacritics |",
        "|---|---:|---:|---:|---:|",
        f"| fully accented (nothing to suggest) | {n:,} | {share(sum(r.control_accented is not None for r in rows), n)} "
        f"| {share(accented_wrong, n)} | – |",
        f"| without diacritics (letters right: only diacritics to restore) | {n:,} | {share(offered, n)} "
        f"| {share(folded_wrong, n)} | {share(restored, n)} |",
    ])
    right = sum(r.right for r in rows)
    checks = (f"Targets: right suggestions ≥ {TYPO_RIGHT:.0%} of typo queries: {share(right, n)}, "
              f"{verdict(n and right / n >= TYPO_RIGHT)}; wrong suggestions on already-right accented queries "
              f"≤ {CONTROL_WRONG:.0%}: {share(accented_wrong, n)}, {verdict(n and accented_wrong / n <= CONTROL_WRONG)}.")
    return "\n\n".join(["\n".join(lines), control, checks])


def typo_side_by_side(runs: dict[str, list[Suggested]]) -> str:
    """Several engines' suggestions for the same typo queries (`runs`: engine name -> rows in
    the same query order), side by side: the typo table, then the control."""
    names = list(runs)
    head = ["Typo queries", "queries"] + [f"{name}: {m}" if j == 0 else m for name in names
                                          for j, m in enumerate(("right (folded)", "right with diacritics",
                                                                 "wrong", "none"))]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    grouped = [typo_groups(rows) for rows in runs.values()]
    for at, (label, group) in enumerate(grouped[0]):
        cells = [label, f"{len(group):,}"] + [c for groups in grouped for c in _typo_cells(groups[at][1])]
        lines.append("| " + " | ".join(cells) + " |")
    n = len(next(iter(runs.values())))
    measures = [
        ("fully accented (nothing to suggest): suggestion offered", lambda r: r.control_accented is not None),
        ("fully accented: wrong suggestion", lambda r: r.control_accented_wrong),
        ("without diacritics (only diacritics to restore): suggestion offered", lambda r: r.control_folded is not None),
        ("without diacritics: wrong suggestion", lambda r: r.control_folded_wrong),
        ("without diacritics: suggestion with the intended diacritics", lambda r: r.control_folded_restored),
    ]
    control = ["| Control: the intended queries without a typo | queries | " + " | ".join(names) + " |",
               "|---|---:|" + "---:|" * len(names)]
    for label, counted in measures:
        control.append(f"| {label} | {n:,} | " + " | ".join(share(sum(map(counted, rows)), n)
                                                           for rows in runs.values()) + " |")
    return "\n".join(lines) + "\n\n" + "\n".join(control)
