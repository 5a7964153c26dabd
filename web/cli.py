"""`vnsearch`: one command-line entry point, a thin layer over the packages' functions."""
from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import click

from vnsearch.corpus import MAX_ARTICLE_CHARS, SAMPLES_DIR, count_articles
from vnsearch.indexer import store
from vnsearch.indexer.build import BuildError, build_index
from vnsearch.indexer.integrity import check_index
from vnsearch.indexer.update import delete_articles, optimize_index, update_index
from vnsearch.indexer.stats import index_stats
from vnsearch.search import sources
from vnsearch.search.backend import BACKENDS, Backend, open_engine
from vnsearch.search.limits import MAX_PER_PAGE, SORTS
from vnsearch.web import addresses, export, server
from vnsearch.web.workers import default_workers
from vnsearch.web.formats import vn_number
from vnsearch.web.terminal import json_printable, printable, render_check, render_results

if TYPE_CHECKING:
    from vnsearch.search.engine import Engine


def _home(index: str | None) -> Path:
    return Path(index).expanduser() if index else store.default_home()


class _IndexOption(click.Option):
    """--index, whose help names the folder used without it: the one of the environment
    the help is shown in ($VNSEARCH_INDEX, $XDG_DATA_HOME), not the one the code was written on."""

    def get_help_record(self, ctx: click.Context):
        self.help = (f"Index folder [default: {_home(None)}, from $VNSEARCH_INDEX, "
                     "else $XDG_DATA_HOME/vnsearch/index]; with --backend opensearch, the index's name "
                     "[default: $VNSEARCH_OPENSEARCH_INDEX, else vnsearch].")
        return super().get_help_record(ctx)


def index_option(fn):
    return click.option("--index", "index", metavar="DIR", cls=_IndexOption, help="Index folder.")(fn)


def backend_options(fn):
    """--backend and --url, the same on every command that opens the index."""
    fn = click.option("--url", metavar="URL", envvar="VNSEARCH_OPENSEARCH_URL", show_envvar=True,
                      help="The OpenSearch cluster, several nodes separated by commas "
                           "[default: http://127.0.0.1:9200].")(fn)
    return click.option("--backend", type=click.Choice(BACKENDS), envvar="VNSEARCH_BACKEND", show_envvar=True,
                        default="embedded", show_default=True,
                        help="Where the index lives: a folder on this machine, or an OpenSearch cluster.")(fn)


class QueryCommand(click.Command):
    """A command whose arguments are the words of a query, which may start with a dash:
    `vnsearch search tham nhung -trung` excludes "trung".

    click would read "-trung" as the options -t, -r, … (or "-nhung" as `-n hung`). Here
    every argument that is not one of the command's options, or an option's value, is a
    word of the query, so the options work before and after the query alike. A short
    option takes its value joined only when it is a number (`-n5`), and an unknown
    `--option` stays an error.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        takes_value = {name: not (param.is_flag or param.count)
                       for param in self.get_params(ctx) if isinstance(param, click.Option)
                       for name in param.opts + param.secondary_opts}
        options, words = [], []
        rest = iter(args)
        for arg in rest:
            name = arg.split("=", 1)[0] if arg.startswith("--") else arg
            if arg == "--":
                words.extend(rest)
            elif name in takes_value:
                options.append(arg)
                if takes_value[name] and name == arg:
                    options.extend(islice(rest, 1))
            elif arg.startswith("--") or takes_value.get(arg[:2]) and arg[2:].isascii() and arg[2:].isdigit():
                options.append(arg)
            else:
                words.append(arg)
        return super().parse_args(ctx, options + ["--"] + words)


def _progress_bar(total: int):
    """A progress bar of articles on stderr. Imported here: tqdm took 55 ms of every
    command's start, a twentieth of `vnsearch index --update`'s time to show an article."""
    from tqdm import tqdm

    return tqdm(total=total, unit=" articles", dynamic_ncols=True, file=sys.stderr)


@contextmanager
def _one_line() -> Iterator[None]:
    """The one place library errors a user can act on become one line instead of a traceback."""
    try:
        yield
    except (BuildError, store.StoreError, server.ServeError) as error:
        raise click.ClickException(str(error)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="vnsearch")
def main() -> None:
    """Full-text search for Vietnamese news, with or without diacritics."""


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@index_option
@click.option("--update", "-u", is_flag=True,
              help="Add the articles to the live index, replacing those with the same id, instead of rebuilding.")
@click.option("--wait", is_flag=True, help="If another process is writing the index, wait for it instead of failing.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary; warnings still go to stderr.")
@click.option("--procs", type=click.IntRange(1, 64), default=None, help="Segmentation processes [default: one per core].")
@click.option("--max-article-chars", type=click.IntRange(1), default=MAX_ARTICLE_CHARS, show_default=True,
              envvar="VNSEARCH_MAX_ARTICLE_CHARS", metavar="N",
              help="Index at most N characters of an article's text, and skip JSON Lines lines over 8N bytes "
                   "unread.", show_envvar=True)
@backend_options
def index(paths: tuple[str, ...], index: str | None, update: bool, wait: bool, quiet: bool,
          procs: int | None, max_article_chars: int, backend: str, url: str | None) -> None:
    """Rebuild the whole index from article files or folders (or --update it).

    PATHS are .txt articles, .jsonl or .jsonl.gz files, or folders holding them
    (read recursively). Without PATHS the bundled sample articles are indexed.
    A rebuild replaces the old index only once it is complete; an update changes
    the live index, and running servers see it within a second.
    """
    sources = [Path(p) for p in paths] or [SAMPLES_DIR]
    missing = [str(p) for p in sources if not p.exists()]
    if missing:
        raise click.ClickException(f"no such file or folder: {', '.join(missing)}")
    if update and not paths:
        raise click.ClickException("--update needs the files or folders to add")
    chosen = Backend.chosen(backend, index, url)
    bar = _progress_bar(count_articles(sources, max_article_chars)) if not quiet and sys.stderr.isatty() else None

    def warn(problem) -> None:
        line = printable(f"warning: {problem}")
        bar.write(line, file=sys.stderr) if bar is not None else click.echo(line, err=True)

    try:
        common = dict(wait=wait, on_problem=warn, on_article=bar.update if bar is not None else lambda: None,
                      max_article_chars=max_article_chars)
        with _one_line():
            if chosen.kind == "opensearch":
                from vnsearch.indexer import opensearch_build as cluster

                if update:
                    report = cluster.update_cluster_index(sources, chosen.url, chosen.alias,
                                                          procs=procs or os.cpu_count() or 1, **common)
                else:
                    report = cluster.build_cluster_index(sources, chosen.url, chosen.alias, procs=procs, **common)
            elif update:
                report = update_index(sources, chosen.home, procs=procs or os.cpu_count() or 1, **common)
            else:
                report = build_index(sources, chosen.home, procs=procs, **common)
    except KeyboardInterrupt:
        raise click.ClickException("interrupted; the previous index is unchanged")
    finally:
        if bar is not None:  # not `if bar`: a bar of 0 articles is false
            bar.close()
    if quiet:
        return
    if update:
        click.echo(f"Added {vn_number(report.added)} and replaced {vn_number(report.replaced)} articles, skipped "
                   f"{vn_number(report.skipped)} in {vn_number(report.seconds, 1)} s; "
                   f"{vn_number(report.segments)} segments in {chosen.describe()}")
    else:
        rate = report.indexed / report.seconds if report.seconds else 0
        click.echo(
            f"Indexed {vn_number(report.indexed)} articles, skipped {vn_number(report.skipped)} "
            f"in {vn_number(report.seconds, 1)} s ({vn_number(rate)} articles/s) into {chosen.describe()}"
        )


@main.command()
@click.argument("ids", nargs=-1, required=True)
@index_option
@click.option("--wait", is_flag=True, help="If another process is writing the index, wait for it instead of failing.")
@backend_options
def delete(ids: tuple[str, ...], index: str | None, wait: bool, backend: str, url: str | None) -> None:
    """Remove articles from the live index by id."""
    chosen = Backend.chosen(backend, index, url)
    with _one_line():
        if chosen.kind == "opensearch":
            from vnsearch.indexer.opensearch_build import delete_cluster_articles

            report = delete_cluster_articles(ids, chosen.url, chosen.alias, wait=wait)
        else:
            report = delete_articles(ids, chosen.home, wait=wait)
    for article_id in report.missing:
        click.echo(f"warning: no article with id {article_id!r}", err=True)
    click.echo(f"Deleted {vn_number(report.deleted)} articles.")


@main.command()
@index_option
@click.option("--wait", is_flag=True, help="If another process is writing the index, wait for it instead of failing.")
@backend_options
def optimize(index: str | None, wait: bool, backend: str, url: str | None) -> None:
    """Merge the segments updates added, for the fastest searches.

    Updates already merge small segments as they go; run this after many updates.
    The updates' segments become one, and every segment's postings go into the
    index's one postings file, which searches read without decoding. The build's
    segments stay as they are (merging them took longer than a rebuild): the space
    of articles deleted from them comes back with the next full `vnsearch index`.
    On OpenSearch, each shard is merged into one segment and deleted articles purged.
    """
    chosen = Backend.chosen(backend, index, url)
    with _one_line():
        if chosen.kind == "opensearch":
            from vnsearch.indexer.opensearch_build import optimize_cluster_index

            before = optimize_cluster_index(chosen.url, chosen.alias, wait=wait)
        else:
            before = optimize_index(chosen.home, wait=wait)
    after = "one per shard" if chosen.kind == "opensearch" else vn_number(store.segment_count(chosen.home))
    click.echo(f"Merged {vn_number(before)} segments into {after}.")


@main.command(cls=QueryCommand)
@click.argument("query", nargs=-1, required=True)
@index_option
@click.option("--limit", "-n", type=click.IntRange(1, export.MAX_ROWS), default=None,
              help=f"Hits per page [default: 10, at most {MAX_PER_PAGE}]; with --format csv or jsonl, hits in all "
                   f"[default and at most: {vn_number(export.MAX_ROWS)}].")
@click.option("--page", "-p", type=click.IntRange(1), default=1, show_default=True,
              help="Page of results (text and json).")
@click.option("--sort", type=click.Choice(SORTS), default="relevance", show_default=True)
@click.option("--format", "format", type=click.Choice(("text", "json") + export.FORMATS), default="text",
              show_default=True,
              help="text for people; json for the page of results as one object; csv or jsonl for every hit, "
                   "one per row or line (id, title, date, source, source_name, url, score, snippet).")
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option("--explain", is_flag=True, help="Show each hit's score, part by part.")
@click.option("--as-typed", is_flag=True,
              help="Search the query exactly as typed, even where a correction would find more.")
@backend_options
def search(query: tuple[str, ...], index: str | None, limit: int | None, page: int, sort: str, format: str,
           as_json: bool, explain: bool, as_typed: bool, backend: str, url: str | None) -> None:
    """Search the index and print ranked hits with highlighted snippets.

    QUERY may be typed with or without diacritics, and may use "quoted phrases",
    -word to exclude (no `--` needed), OR, title:, source:, year:2021 or year:2019..2021.
    Options go before or after it.
    """
    text = " ".join(query)
    if not text.strip():
        raise click.UsageError("the query is empty: give the words to search for")
    if as_json and format not in ("text", "json"):
        raise click.UsageError(f"--json and --format {format} disagree: give one of them")
    format = "json" if as_json else format
    if format in ("text", "json") and (limit or 0) > MAX_PER_PAGE:
        raise click.UsageError(f"--limit is at most {MAX_PER_PAGE} hits per page; "
                               f"--format csv or jsonl writes up to {vn_number(export.MAX_ROWS)}")
    with _one_line():
        engine = open_engine(Backend.chosen(backend, index, url))
        if format in export.FORMATS:
            _export(engine, text, format, limit, sort, as_typed)
            return
        results = engine.search(text, page=page, per_page=limit or 10, sort=sort, explain=explain,
                                correct=not as_typed)
    if format == "json":
        click.echo(json_printable(json.dumps(results.to_dict(), ensure_ascii=False, indent=2)))
        return
    click.echo(render_results(results, color=sys.stdout.isatty(), sort=sort))


def _export(engine: Engine, text: str, format: str, limit: int | None, sort: str, as_typed: bool) -> None:
    """Every hit (up to `limit`, else export.MAX_ROWS) to stdout, in UTF-8 whatever the locale."""
    results, hits = engine.export(text, limit or export.MAX_ROWS, sort=sort, correct=not as_typed)
    out = sys.stdout.buffer
    for line in export.lines(format, hits):
        out.write(line.encode("utf-8"))
    out.flush()
    if not limit and results.total > export.MAX_ROWS:
        click.echo(f"warning: wrote the first {vn_number(export.MAX_ROWS)} of {vn_number(results.total)} hits",
                   err=True)


@main.command()
@index_option
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@backend_options
def stats(index: str | None, as_json: bool, backend: str, url: str | None) -> None:
    """Article count, sources, date range and size on disk of the index."""
    chosen = Backend.chosen(backend, index, url)
    with _one_line():
        if chosen.kind == "opensearch":
            from vnsearch.indexer.opensearch_build import cluster_stats

            figures = cluster_stats(chosen.url, chosen.alias)
        else:
            figures = index_stats(chosen.home)
    if as_json:
        click.echo(json_printable(json.dumps(figures, ensure_ascii=False, indent=2)))
        return
    click.echo(f"Index:     {figures['index']}")
    click.echo(f"Articles:  {vn_number(figures['articles'])}")
    dates = figures["dates"]
    click.echo(f"Dates:     {dates['first'] or '?'} to {dates['last'] or '?'} "
               f"({vn_number(dates['undated'])} undated)")
    click.echo(f"On disk:   {vn_number(figures['bytes'] / 1e6, 1)} MB")
    click.echo("Sources:")
    width = max(map(len, figures["sources"]), default=0)
    for code, count in figures["sources"].items():
        line = f"  {vn_number(count):>8}  {printable(code):<{width}}  {sources.name(code) or ''}"
        click.echo(line.rstrip())


def _base_url(ctx, param, value: str | None) -> str | None:
    try:
        return addresses.base_url(value) if value else None
    except ValueError as error:
        raise click.BadParameter(str(error), ctx, param)


@main.command()
@index_option
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; 0.0.0.0 opens the server to the network.")
@click.option("--port", type=click.IntRange(0, 65535), default=5000, show_default=True,
              help="Port to listen on; 0 picks a free one.")
@click.option("--base-url", metavar="URL", envvar="VNSEARCH_BASE_URL", callback=_base_url,
              help="Public address of the site, such as https://tim.example.vn/, for the links browsers keep "
                   "[default: $VNSEARCH_BASE_URL, else the request's Host].")
@click.option("--quiet", "-q", is_flag=True, help="No access log (one Common Log Format line per request on stderr).")
@click.option("--workers", type=click.IntRange(1, 64), default=None, envvar="VNSEARCH_WORKERS", show_envvar=True,
              help="Server processes answering requests [default: one per core].")
@backend_options
def serve(index: str | None, host: str, port: int, base_url: str | None, quiet: bool, workers: int | None,
          backend: str, url: str | None) -> None:
    """Serve the search page, article pages and JSON API over HTTP.

    Runs under waitress, a production WSGI server, in one process per core (--workers),
    and logs each request to stderr in the Common Log Format. Without an index it first indexes the bundled
    sample articles. A rebuild by `vnsearch index` is picked up while serving,
    without a restart.
    """
    with _one_line():
        chosen = Backend.chosen(backend, index, url)
        server.serve(chosen.home, host, port, echo=click.echo, base_url=base_url, access_log=not quiet,
                     backend=chosen, workers=workers or default_workers())


@main.command()
@index_option
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@click.pass_context
def check(ctx: click.Context, index: str | None, as_json: bool) -> None:
    """Verify every file of the index against the checksums recorded when it was written.

    Names the damaged or missing files and how to recover. Exit status 0 when the
    index is sound, 1 when it is damaged or cannot be verified.
    """
    with _one_line():
        report = check_index(_home(index))
    if as_json:
        click.echo(json_printable(json.dumps(report.to_dict(), ensure_ascii=False, indent=2)))
    else:
        click.echo(printable(render_check(report)))
    ctx.exit(0 if report.sound else 1)


if __name__ == "__main__":
    main()
