"""The query mix of the performance benchmarks: how it is made from headlines, written
and read (`bench/perf_queries.tsv`, `bench/perf_queries_128k.tsv`), and the hand-written
queries it always holds.
"""
from __future__ import annotations

import random
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from common import ROOT

from vnsearch.corpus import Article
from vnsearch.indexer.analysis import fold_text as fold

QUERIES = ROOT / "bench/perf_queries.tsv"
QUERY_SEED = 5
PER_PAGE = 10

# Hand-written queries: the seed examples, the syntax of README's table, abbreviations,
# document numbers, and words common enough to match thousands of articles.
HAND_QUERIES = [
    ("hand", "chi thi 35", ""),
    ("hand", "Chỉ thị 35", ""),
    ("hand", "Chỉ thi 35", ""),
    ("hand", "Hồ Thị Hoàng Yến", ""),
    ("hand", "ho thi hoang yen", ""),
    ("hand", '"Hồ Thị Hoàng Yến"', ""),
    ("hand", '"ho thi hoang yen"', ""),
    ("hand", "35-CT/TW", ""),
    ("hand", "35 CT TW", ""),
    ("hand", "nghị quyết trung ương 4", ""),
    ("hand", "đảng", ""),
    ("hand", "dang", ""),
    ("hand", "đảng -viên", ""),
    ("hand", 'chính phủ -"phủ nhận"', ""),
    ("hand", "covid OR dịch", ""),
    ("hand", 'title:"chính phủ"', ""),
    ("hand", "title:dương", ""),
    ("hand", "UBND tỉnh", ""),
    ("hand", "HĐND", ""),
    ("hand", "ủy ban nhân dân", ""),
    ("hand", "uy ban nhan dan", ""),
    ("hand", "thủ tướng Nguyễn Xuân Phúc", ""),
    ("hand", "thu tuong nguyen xuan phuc", ""),
    ("hand", "Hà Nội", ""),
    ("hand", "ha noi", ""),
    ("hand", "tham nhũng", ""),
    ("hand", "bổ nhiệm", ""),
    ("hand", "đại hội đại biểu toàn quốc", ""),
    ("hand", "year:2021 chính phủ", ""),
    ("hand", "source:vietnews hội nghị", ""),
    ("hand", "hội nghị", "source=VietNews"),
    ("hand", "quốc hội", "sort=date"),
    ("hand", "kinh tế", "page=3"),
]


@dataclass(frozen=True)
class Query:
    kind: str
    q: str
    params: str = ""  # extra API parameters as a query string, e.g. "source=VietNews&sort=date"

    def path(self, per_page: int = PER_PAGE) -> str:
        args = {"q": self.q, "per_page": str(per_page), **dict(urllib.parse.parse_qsl(self.params))}
        return "/api/search?" + urllib.parse.urlencode(args)


def make_queries(articles: list[Article], seed: int = QUERY_SEED, scale: int = 1) -> list[Query]:
    """A deterministic mix: words and fragments of seeded headlines, plus HAND_QUERIES.

    40 single words, 50 fragments of 2-6 words as written (lowercased), 50 folded (no
    diacritics), 30 quoted phrases (half folded), 30 with a filter or sort, each `scale`
    times over (distinct queries only), and the 33 by hand.
    """
    rng = random.Random(seed)
    words_n, fragments_n, phrases_n, filters_n = 40 * scale, 50 * scale, 30 * scale, 30 * scale
    titles = [words for a in articles if len(words := re.findall(r"[^\W_]+", a.title)) >= 2]

    def fragment(low: int, high: int) -> str:
        words = rng.choice(titles)
        length = rng.randint(low, min(high, len(words)))
        start = rng.randint(0, len(words) - length)
        return " ".join(words[start:start + length]).lower()

    queries: list[Query] = []
    seen: set[Query] = set()

    def add(kind: str, q: str, params: str = "") -> bool:
        query = Query(kind, q, params)
        if query in seen:
            return False
        seen.add(query)
        queries.append(query)
        return True

    words = 0
    while words < words_n:
        word = rng.choice(rng.choice(titles)).lower()
        if len(word) >= 2 and not word.isdigit():
            words += add("word", word if words % 2 else fold(word))
    for kind, make in (("words", lambda: fragment(2, 6)), ("words_folded", lambda: fold(fragment(2, 6)))):
        made = 0
        while made < fragments_n:
            made += add(kind, make())
    made = 0
    while made < phrases_n:
        text = fragment(2, 4)
        made += add("phrase", f'"{fold(text) if made % 2 else text}"')
    filters = [("", "source=VietNews"), ("", "year=2021"), ("", "sort=date"), ("title:", ""),
               ("-", ""), ("source:vietnews ", ""), ("year:2019..2021 ", "")]
    made = 0
    while made < filters_n:
        prefix, params = filters[made % len(filters)]
        text = fragment(1, 3)
        if prefix == "title:":
            q = f"title:{text.split()[0]}" + (" " + " ".join(text.split()[1:]) if " " in text else "")
        elif prefix == "-":
            q = f"{fragment(1, 2)} -{text.split()[0]}"
        else:
            q = prefix + text
        made += add("filter", q, params)
    for row in HAND_QUERIES:
        add(*row)
    rng.shuffle(queries)
    return queries


def write_queries(queries: list[Query], path: Path, how: str) -> None:
    lines = [f"# The query mix of the performance benchmarks ({len(queries)} queries), made by: {how}",
             "# kind<TAB>q<TAB>extra API parameters (query string)"]
    lines += [f"{q.kind}\t{q.q}\t{q.params}" for q in queries]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def read_queries(path: Path = QUERIES) -> list[Query]:
    if not path.exists():
        raise SystemExit(f"error: no query mix at {path}; make it with `python bench/perf_query.py --make-queries`")
    rows = [line.rstrip("\n").split("\t") for line in path.read_text(encoding="utf-8").splitlines()
            if line and not line.startswith("#")]
    return [Query(kind, q, params) for kind, q, params in rows]


def kinds_summary(queries: list[Query]) -> str:
    counts: dict[str, int] = {}
    for q in queries:
        counts[q.kind] = counts.get(q.kind, 0) + 1
    return ", ".join(f"{n} {kind}" for kind, n in counts.items())
