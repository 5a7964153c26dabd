"""Time from `vnsearch index --update` of one new article until the HTTP API returns it.

Copies the benchmark index (the corpus's, built by the other benchmarks or here) to a
scratch folder so that the original stays as built, starts `vnsearch serve` over the
copy on 127.0.0.1, and then, `--repeat` times: writes one new article holding a word
found nowhere else, runs `vnsearch index --update FILE --index COPY --quiet`, and polls
`/api/search?q=WORD` every `--poll-ms` until the answer holds the article (at most
`--timeout` seconds). Reports how long the update command took and how long until
the API returned the article, counted from the command's start and from its end
(the server looks for a new index generation five times a second). Results go into
the `perf-update` section of docs/BENCHMARKS.md.

    python bench/perf_update.py                            # full corpus; reuses bench/out/perf/index-full
    python bench/perf_update.py --limit-docs 2000 --repeat 3 --no-doc   # quick iteration
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import time
from pathlib import Path

from common import DEFAULT_CORPUS, ROOT, code_version, command_line, machine, today, update_section
from perf_common import (PERF, Client, add_run_args, corpus_file, default_home, ensure_index, loadavg, shown,
                         vnsearch, vnsearch_server, wait_until_idle)

BODY = ("Chiều {day}/11, Ban Thường vụ Tỉnh ủy tổ chức hội nghị sơ kết công tác xây dựng Đảng, "
        "triển khai Chỉ thị số 35-CT/TW của Bộ Chính trị. Đồng chí {word} phát biểu chỉ đạo hội nghị.\n"
        "Hội nghị thống nhất các giải pháp trọng tâm trong thời gian tới.")


def new_article(folder: Path, number: int, stamp: str) -> tuple[Path, str, str]:
    """A one-article JSON Lines file with a word no other article has; (file, id, word)."""
    word = f"benchupdate{stamp}x{number}"
    article_id = f"perf-update-{stamp}-{number}"
    record = {"id": article_id, "title": f"Hội nghị sơ kết công tác xây dựng Đảng lần {number}",
              "summary": "Sơ kết công tác xây dựng Đảng.", "body": BODY.format(day=number + 1, word=word),
              "source": "VietNews", "date": "2026-11-21T10:00:00"}
    path = folder / f"{article_id}.jsonl"
    path.write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    return path, article_id, word


def once(home: Path, port: int, folder: Path, number: int, stamp: str, poll: float, timeout: float) -> dict:
    path, article_id, word = new_article(folder, number, stamp)
    client = Client(port)
    command = vnsearch("index", "--update", str(path), "--index", str(home), "--quiet")
    started = time.perf_counter()
    subprocess.run(command, check=True, cwd=ROOT)
    ended = time.perf_counter()
    polls, seen = 0, None
    while time.perf_counter() - ended < timeout:
        polls += 1
        _, status, data = client.search(f"/api/search?q={word}")
        if data and any(hit["id"] == article_id for hit in data["hits"]):
            seen = time.perf_counter()
            break
        time.sleep(poll)
    client.close()
    return {"command": command, "update_s": ended - started, "polls": polls,
            "from_start_s": seen - started if seen else None, "from_end_s": seen - ended if seen else None}


def report(args, articles: int, runs: list[dict], segments: str, idle: str, load_end: float) -> str:
    found = [r for r in runs if r["from_start_s"] is not None]
    missing = len(runs) - len(found)

    def stats(key: str) -> str:
        values = [r[key] for r in found]
        return (f"{statistics.median(values):.2f} s | {min(values):.2f} s | {max(values):.2f} s"
                if values else "— | — | —")

    return "\n".join([
        f"Measured {today()} with `{command_line()}` on {machine()}; code at {code_version()}; {idle}, "
        f"{load_end:.2f} at the end.",
        "",
        f"A copy of the {articles:,}-article index served by `vnsearch serve`; {len(runs)} updates of one new "
        f"article each (`{shown(runs[0]['command'])}`), "
        f"the API polled every {args.poll_ms:.0f} ms. {segments}",
        "",
        "| seconds | median | min | max |",
        "|---|---:|---:|---:|",
        f"| the update command (start-up, analysis, commit) | {stats('update_s')} |",
        f"| **from the command's start until the API returns the article** | {stats('from_start_s')} |",
        f"| from the command's end until the API returns it | {stats('from_end_s')} |",
        "",
        f"Articles never returned within {args.timeout:.0f} s: {missing}.",
    ])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Seconds from `vnsearch index --update` of one new article until the HTTP API returns it.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--corpus", type=Path, nargs="+", default=[DEFAULT_CORPUS],
                        help="JSON Lines corpus (.jsonl or .jsonl.gz); several files are read in order, as one.")
    parser.add_argument("--limit-docs", type=int, metavar="N", help="Only the first N articles (quick iterations).")
    parser.add_argument("--index", type=Path, metavar="DIR",
                        help="Index to copy: reused if it holds as many articles, built there otherwise "
                             "[default: bench/out/perf/index-full, or index-N with --limit-docs].")
    parser.add_argument("--procs", type=int, default=2, help="Indexing processes, when the index is built.")
    parser.add_argument("--repeat", type=int, default=5, help="Updates, one article each.")
    parser.add_argument("--poll-ms", type=float, default=50.0, help="Pause between two polls of the API.")
    parser.add_argument("--timeout", type=float, default=60.0, help="Give up on an article after this many seconds.")
    add_run_args(parser, "perf-update")
    args = parser.parse_args(argv)
    if not 1 <= args.repeat <= 100 or not 0 < args.timeout <= 600:
        parser.error("--repeat must be in 1..100 and --timeout in (0, 600]")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if not all(path.exists() for path in args.corpus):
        raise SystemExit(f"error: no corpus at {' '.join(map(str, args.corpus))}; pass --corpus")
    source, articles = corpus_file(args.corpus, args.limit_docs, args.quiet)
    home = args.index or default_home(args.limit_docs)
    ensure_index(source, home, len(articles), args.procs, rebuild=False)
    copy = PERF / f"update-{home.name}"
    if copy.exists():
        shutil.rmtree(copy)
    shutil.copytree(home, copy, symlinks=True, ignore=shutil.ignore_patterns("write.lock"))
    folder = PERF / "update-articles"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    stamp = time.strftime("%Y%m%d%H%M%S")
    idle = wait_until_idle(args.max_load, args.wait_idle, args.quiet)
    with vnsearch_server(copy) as server:
        runs = []
        for number in range(args.repeat):
            runs.append(once(copy, server.port, folder, number, stamp, args.poll_ms / 1000, args.timeout))
            if not args.quiet:
                print(f"update {number + 1}: {runs[-1]['from_start_s']} s", flush=True)
            time.sleep(1.5)  # let the server settle on this generation before the next update
    segments = subprocess.run(vnsearch("stats", "--index", str(copy), "--json"), capture_output=True, text=True,
                              cwd=ROOT)
    count = f"{json.loads(segments.stdout)['articles']:,}" if segments.returncode == 0 else "?"
    text = report(args, len(articles), runs, f"The copy held {count} articles afterwards.", idle, loadavg())
    print(text)
    if not args.no_doc:
        update_section(args.doc, args.section, text)
        print(f"\nwrote the {args.section} section of {args.doc}")


if __name__ == "__main__":
    main()
