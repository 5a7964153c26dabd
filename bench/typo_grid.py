"""Tuning the "did you mean" noisy channel: a grid of its costs on the typo queries.

The same queries, judge and control as the typos set of bench/quality.py, decided as
`Engine.search` decides (`Engine._suggestion`: never when a query typed with diacritics
has exact matches, and only a suggestion that finds articles holding all its words),
for each combination of the constants of `vnsearch.search.suggest` given with `--grid`.
The index searches a grid repeats (the query as typed; each distinct suggestion's
check) are made once and reused, so a grid point costs the suggestions alone. Tune on
the dev split only:

    python bench/typo_grid.py --work /work/bench-out/dev --grid EDIT_COST=5,7,9 MARGIN=2,4,6
"""
from __future__ import annotations

import argparse
import itertools
import json
import statistics
import time
from pathlib import Path

from common import OUT, load_articles, progress
from quality_sets import folded_syllables_of, judge, syllables_of, typo_queries

from vnsearch.indexer.analysis import fold_syllable, fold_text
from vnsearch.indexer.normalize import has_diacritics, normalize
from vnsearch.search import abbreviations, engine as engine_module, suggest as suggest_module
from vnsearch.search.engine import Engine
from vnsearch.search.scoring import rank
from vnsearch.search.syntax import parse
from vnsearch.search.words import join_words


def _memo_rank():
    """`rank` for the suggestion checks, remembered by query (the index does not change)."""
    seen = {}

    def memo(snapshot, query, mask=None, by_date=False):
        key = (repr(query), by_date)
        if key not in seen:
            seen[key] = rank(snapshot, query, mask, by_date=by_date)
        return seen[key]
    return memo


def _grid(specs: list[str]) -> list[dict[str, float]]:
    axes = []
    for spec in specs:
        name, _, values = spec.partition("=")
        if not hasattr(suggest_module, name):
            raise SystemExit(f"error: vnsearch.search.suggest has no {name}")
        axes.append([(name, type(getattr(suggest_module, name))(v)) for v in values.split(",")])
    return [dict(point) for point in itertools.product(*axes)] or [{}]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", required=True, help="A split's work folder of bench/quality.py (articles and index).")
    parser.add_argument("--sample", type=int, default=400)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--grid", nargs="*", default=[], metavar="NAME=V1,V2",
                        help="Constants of vnsearch.search.suggest and the values to try.")
    parser.add_argument("--quiet", "-q", action="store_true")
    args = parser.parse_args()

    work = Path(args.work)
    articles = load_articles(work / "articles.jsonl.gz", None, args.quiet)
    queries = typo_queries(articles, args.sample, args.seed)
    engine = Engine(work / "index")
    snapshot = engine._current()
    model = snapshot.accents
    engine_module.rank = _memo_rank()

    texts = sorted({t for q in queries for t in (q.typed, q.intended, fold_text(q.intended))})
    rankings = {t: rank(snapshot, join_words(abbreviations.expand(parse(t)), snapshot.words), None)
                for t in progress(texts, args.quiet, desc="rankings", unit=" q")}

    def real_word(q) -> bool:
        word = normalize(q.typed.split()[q.word]).lower()
        return snapshot.stats.vocab.find(word) >= 0 if has_diacritics(word) else model.knows(fold_syllable(word))

    defaults = {name: getattr(suggest_module, name) for spec in args.grid for name in [spec.partition("=")[0]]}
    results = []
    for point in _grid(args.grid):
        for name, value in {**defaults, **point}.items():
            setattr(suggest_module, name, value)
        times, model_times, rows = [], [], []
        for q in progress(queries, args.quiet, desc=str(point), unit=" q"):
            out = {}
            for key, text in (("typo", q.typed), ("accented", q.intended), ("folded", fold_text(q.intended))):
                started = time.process_time()  # CPU time: the machine is shared
                suggest_module.suggest(model, text)
                model_times.append(time.process_time() - started)
                started = time.perf_counter()
                out[key] = Engine._suggestion(snapshot, text, None, rankings[text])[0]
                times.append(time.perf_counter() - started)
            right, _ = judge(q, out["typo"])
            rows.append({"edit": q.edit, "kind": q.kind, "real_word": real_word(q), "typed": q.typed,
                         "intended": q.intended, "suggestion": out["typo"], "right": right,
                         "control_accented": out["accented"], "control_folded": out["folded"],
                         "accented_wrong": out["accented"] is not None
                         and syllables_of(out["accented"]) != syllables_of(q.intended),
                         "folded_wrong": out["folded"] is not None
                         and folded_syllables_of(out["folded"]) != folded_syllables_of(q.intended)})

        def share(rows, test) -> str:
            return f"{100 * sum(map(test, rows)) / max(len(rows), 1):.1f}"
        outcome = lambda r: "right" if r["right"] else ("none" if r["suggestion"] is None else "wrong")
        groups = {"all": rows, **{f"edit {e}": [r for r in rows if r["edit"] == e] for e in sorted({r["edit"] for r in rows})},
                  **{f"typed {k}": [r for r in rows if r["kind"] == k] for k in ("folded", "accented")},
                  "real word": [r for r in rows if r["real_word"]], "not a word": [r for r in rows if not r["real_word"]]}
        summary = {g: {o: share(rs, lambda r, o=o: outcome(r) == o) for o in ("right", "wrong", "none")} | {"n": len(rs)}
                   for g, rs in groups.items()}
        summary["control"] = {"accented wrong": share(rows, lambda r: r["accented_wrong"]),
                              "folded wrong": share(rows, lambda r: r["folded_wrong"])}
        # `suggest` alone (the model, CPU time), and the engine's whole decision (wall time):
        # holds_as_typed, the model, and the search checking the suggestion (cached here
        # after its first time).
        summary["ms"] = {}
        for name, seconds in (("suggest", model_times), ("decision", times)):
            ms = sorted(1000 * t for t in seconds)
            summary["ms"][name] = {"p50": round(statistics.median(ms), 2), "p95": round(ms[int(0.95 * len(ms))], 2)}
        print(json.dumps({"point": point, **{k: summary[k] for k in ("all", "control", "ms")}}, ensure_ascii=False))
        results.append({"point": point, "summary": summary, "rows": rows})
    OUT.mkdir(parents=True, exist_ok=True)
    out = OUT / "typo-grid.json"
    out.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    last = results[-1]["summary"]
    for group, figures in last.items():
        print(f"  {group}: {figures}")
    print(f"details: {out}")


if __name__ == "__main__":
    main()
