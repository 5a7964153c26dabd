"""Tune the ranking's weights on the development split, and record the run.

The known-item sets of bench/quality.py (headlines typed five ways, verbose queries as
written and folded) are run on the dev split: a seeded sample of vietnews-train, never
the test split the results are reported on. Each query's evidence
(`search.scoring.gather`: which words each article holds, and each part of the score
unweighted) is gathered once; each setting of the weights then only weighs it
(`search.scoring.weigh`), so a setting costs seconds, not minutes. Settings are searched
one weight at a time (coordinate ascent from the current constants, two rounds), the
objective being the mean MRR@10 over the query kinds, every kind counting alike.
`ACCENTED_FOLD_SHARE` changes the evidence itself, so each of its values gathers anew.

    python bench/tune.py --work /work/bench-out/dev --procs 1
    python bench/tune.py --work /work/bench-out/dev --sample 100 --no-doc   # quick look

The table goes to docs/BENCHMARKS.md (section `tuning`); the chosen values are then
set by hand in search/scoring.py (RUN_WEIGHT in search/runs.py), and bench/quality.py
reports them on the test split.
"""
from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from functools import partial
from pathlib import Path

import numpy as np

from common import DEFAULT_DOC, code_version, command_line, engine_version, machine, progress, sample_articles, \
    today, update_section
from quality import parse_args as quality_args
from quality_data import prepare
from quality_sets import HEADLINE_KINDS, VERBOSE_KINDS, headline_queries, verbose_queries

from vnsearch.search import abbreviations, runs, scoring
from vnsearch.search.engine import Engine
from vnsearch.search.syntax import parse
from vnsearch.search.words import join_words

TOP = 10
# The weights searched, and the values tried for each (the current value is added).
GRID = {
    "PAIR_WEIGHT": [0.5, 1.0, 2.0, 3.0, 4.0, 6.0],
    "WORD_WEIGHT": [0.0, 0.25, 0.5, 1.0],
    "RUN_WEIGHT": [0.0, 0.5, 1.0, 2.0],
    "COVER_WEIGHT": [0.0, 2.0, 4.0, 8.0, 16.0, 32.0],
    "MIN_SHOULD_MATCH": [0.3, 0.4, 0.5, 0.6, 0.7],
}
FOLD_SHARES = [0.3, 1.0]
ROUNDS = 2


class Gathered:
    """Every query's planned form and evidence on one index, for one fold share."""

    def __init__(self, engine: Engine, queries, quiet: bool):
        snapshot = engine._current()
        self.snapshot = snapshot
        ids = [snapshot.searcher.stored_fields(doc).get("id") for doc in range(snapshot.size)]
        self.position = {article_id: doc for doc, article_id in enumerate(ids)}
        self.items = []
        for query in progress(queries, quiet, desc="gathering evidence", unit=" q"):
            planned = join_words(abbreviations.expand(parse(query.text)), snapshot.words)
            self.items.append((query.kind, planned, scoring.gather(snapshot, planned),
                               self.position.get(query.article_id)))


def _memoised_in_order():
    """runs.in_order, remembered per index, run and document: the positions it reads are
    the one costly step of weighing, and the same documents come back setting after setting."""
    original, known = runs.in_order, {}

    def in_order(snapshot, run, docs):
        seen = known.setdefault((id(snapshot), tuple(run)), {})
        new = np.array([d for d in docs.tolist() if d not in seen], dtype=np.int64)
        if len(new):
            for doc, held in zip(new.tolist(), original(snapshot, run, new).tolist()):
                seen[doc] = held
        return np.array([seen[d] for d in docs.tolist()], dtype=bool)
    return in_order


def _memoised_present():
    """scoring._present, remembered per index and term (over every document): the same
    pairs are looked up setting after setting."""
    original, known = scoring._present, {}

    def present(space, view, term):
        if space.narrowed:
            return original(space, view, term)
        key = (id(space.snapshot), view, term)
        if key not in known:
            known[key] = original(space, view, term)
        return known[key]
    return present


def _holder(weight: str):
    """The module whose constant `weight` is: the whole-run evidence's weight is search.runs'."""
    return runs if hasattr(runs, weight) else scoring


def evaluate(gathered: list[Gathered], setting: dict[str, float]) -> dict[str, float]:
    """MRR@10 per query kind under `setting`."""
    for name, value in setting.items():
        setattr(_holder(name), name, value)
    reciprocal = defaultdict(list)
    for each in gathered:
        for kind, planned, evidence, wanted in each.items:
            docs = scoring.weigh(each.snapshot, planned, evidence).docs[:TOP].tolist()
            reciprocal[kind].append(1 / (docs.index(wanted) + 1) if wanted in docs else 0.0)
    return {kind: float(np.mean(values)) for kind, values in reciprocal.items()}


def objective(mrr: dict[str, float]) -> float:
    return float(np.mean(list(mrr.values())))


def tune(gathered: list[Gathered], start: dict[str, float], log, rounds: int) -> tuple[dict[str, float], dict[str, float]]:
    """Coordinate ascent over GRID from `start`: the best setting found and its MRR."""
    best, best_mrr = dict(start), evaluate(gathered, start)
    log(best, best_mrr)
    for _ in range(rounds):
        improved = False
        for name, values in GRID.items():
            for value in sorted(set(values) | {start[name]}):
                if value == best[name]:
                    continue
                trial = {**best, name: value}
                mrr = evaluate(gathered, trial)
                log(trial, mrr)
                if objective(mrr) > objective(best_mrr) + 1e-6:
                    best, best_mrr, improved = trial, mrr, True
        if not improved:
            break
    return best, best_mrr


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--work", help="The dev split's work folder, as for bench/quality.py.")
    parser.add_argument("--procs", type=int, help="Indexing processes if the indexes must be built.")
    parser.add_argument("--sample", type=int, default=400, help="Verbose articles (two queries each).")
    parser.add_argument("--headlines", type=int, default=200, help="Headlines (five queries each).")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="Rounds of coordinate ascent.")
    parser.add_argument("--seed", type=int, default=29,
                        help="Seed of the query samples (not quality.py's 13: tuned on other queries than reported).")
    parser.add_argument("--fold-shares", default=",".join(map(str, FOLD_SHARES)),
                        help="Values of ACCENTED_FOLD_SHARE to gather evidence for.")
    parser.add_argument("--doc", default=str(DEFAULT_DOC))
    parser.add_argument("--no-doc", action="store_true")
    parser.add_argument("--quiet", "-q", action="store_true")
    args = parser.parse_args(argv)
    qargs = quality_args(["--split", "dev", "--sets", "headlines,verbose", "--engines", "vnsearch",
                          "--sample", str(args.sample), "--seed", str(args.seed)]
                         + (["--work", args.work] if args.work else [])
                         + (["--procs", str(args.procs)] if args.procs else []))
    started = time.monotonic()
    split = prepare(qargs, args.quiet)
    headlines = headline_queries(sample_articles(split.articles, args.headlines, args.seed), args.seed)
    verbose = verbose_queries(split.articles, args.sample, args.seed)
    engines = {variant: Engine(split.homes[variant]) for variant in ("full", "nosummary")}
    runs.in_order = _memoised_in_order()
    scoring._present = _memoised_present()
    start = {name: getattr(_holder(name), name) for name in GRID}
    results, settings = [], 0

    def log(setting, mrr, share):
        nonlocal settings
        settings += 1
        if not args.quiet:
            print(f"share {share:g} {setting} -> {objective(mrr):.4f}", file=sys.stderr, flush=True)

    for share in [float(s) for s in args.fold_shares.split(",")]:
        scoring.ACCENTED_FOLD_SHARE = share
        gathered = [Gathered(engines["full"], headlines, args.quiet), Gathered(engines["nosummary"], verbose, args.quiet)]
        best, mrr = tune(gathered, start, partial(log, share=share), args.rounds)
        results.append((share, evaluate(gathered, start), best, mrr))
        del gathered
    text = report(args, split, results, start, len(headlines), len(verbose), settings, time.monotonic() - started)
    print(text)
    if not args.no_doc:
        update_section(Path(args.doc), "tuning", text)


def report(args, split, results, start, headlines: int, verbose: int, settings: int, seconds: float) -> str:
    """`results`: (fold share, start's MRR, best setting, best MRR) for each share."""
    kinds = HEADLINE_KINDS + VERBOSE_KINDS
    lines = [
        f"Measured {today()} with `{command_line()}` on {machine()}; code at {code_version()} "
        f"(the engine as of {engine_version()}).",
        "",
        f"**dev split** (tuning only): {len(split.articles):,} articles sampled from `{split.corpus.name}`. "
        f"Queries (seed {args.seed}, not the report's 13): {headlines:,} headline queries ({headlines // 5} headlines "
        f"typed five ways) on the full index, {verbose:,} verbose queries ({verbose // 2} summaries' first sentences, "
        f"as written and folded) on the index without summaries. {settings} settings weighed in {seconds / 60:.0f} min.",
        "",
        "For each `ACCENTED_FOLD_SHARE`, the constants before this run and the best setting found "
        "(mean MRR@10 over the seven kinds, then each kind):",
        "",
        "| ACCENTED_FOLD_SHARE | setting | mean | " + " | ".join(f"`{k}`" for k in kinds) + " |",
        "|---:|---|---:|" + "---:|" * len(kinds),
    ]
    for share, start_mrr, best, best_mrr in results:
        for setting, mrr in ((start, start_mrr), (best, best_mrr)):
            described = ", ".join(f"{k.lower()} {v:g}" for k, v in setting.items())
            lines.append(f"| {share:g} | {described} | {objective(mrr):.4f} | "
                         + " | ".join(f"{mrr.get(k, 0):.3f}" for k in kinds) + " |")
    share, _, best, _ = max(results, key=lambda r: objective(r[3]))
    lines += ["", f"Best: ACCENTED_FOLD_SHARE {share:g}, " + ", ".join(f"{k} {v:g}" for k, v in best.items()) + "."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
