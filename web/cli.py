"""`vnsearch`: one command-line entry point, a thin layer over the packages' functions."""
from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import click
from tqdm import tqdm

from vnsearch.corpus import MAX_ARTICLE_CHARS, SAMPLES_DIR, count_articles
from vnsearch.indexer import store
from vnsearch.indexer.build import BuildError, build_index
from vnsearch.indexer.integrity import check_index
from vnsearch.indexer.update import delete_articles, optimize_index, update_index
from vnsearch.indexer.stats import index_stats
from vnsearch.search.engine import MAX_PER_PAGE, SORTS, Engine
from vnsearch.web import addresses, server
from vnsearch.web.terminal import json_printable, printable, render_check, render_results

INDEX_HELP = "Index folder [default: $VNSEARCH_INDEX, else ~/.local/share/vnsearch/index]."


def _home(index: str | None) -> Path:
    return Path(index).expanduser() if index else store.default_home()


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
@click.option("--index", "index", metavar="DIR", help=INDEX_HELP)
@click.option("--update", "-u", is_flag=True,
              help="Add the articles to the live index, replacing those with the same id, instead of rebuilding.")
@click.option("--wait", is_flag=True, help="If another process is writing the index, wait for it instead of failing.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary; warnings still go to stderr.")
@click.option("--procs", type=click.IntRange(1, 64), default=None, help="Segmentation processes [default: one per core].")
@click.option("--max-article-chars", type=click.IntRange(1), default=MAX_ARTICLE_CHARS, show_default=True,
              envvar="VNSEARCH_MAX_ARTICLE_CHARS", metavar="N",
              help="Index at most N characters of an article's text, and skip JSON Lines lines over 8N bytes "
                   "unread.", show_envvar=True)
def index(paths: tuple[str, ...], index: str | None, update: bool, wait: bool, quiet: bool,
          procs: int | None, max_article_chars: int) -> None:
    """Rebuild the whole index from article files or folders (or --update it).

    PATHS are .txt articles, .jsonl or .jsonl.gz files, or folders holding them
    (read recursively). Without PATHS the bundled sample articles are indexed.
    A rebuild replaces the old index only once it is complete; an update changes
    the live index, and running servers see it within a couple of seconds.
    """
    sources = [Path(p) for p in paths] or [SAMPLES_DIR]
    missing = [str(p) for p in sources if not p.exists()]
    if missing:
        raise click.ClickException(f"no such file or folder: {', '.join(missing)}")
    if update and not paths:
        raise click.ClickException("--update needs the files or folders to add")
    home = _home(index)
    show = not quiet and sys.stderr.isatty()
    bar = tqdm(total=count_articles(sources, max_article_chars) if show else None, disable=not show,
               unit=" articles", dynamic_ncols=True, file=sys.stderr)
    warn = lambda p: tqdm.write(printable(f"warning: {p}"), file=sys.stderr)  # noqa: E731
    try:
        with _one_line():
            if update:
                report = update_index(sources, home, procs=procs or os.cpu_count() or 1, wait=wait,
                                      on_problem=warn, on_article=bar.update, max_article_chars=max_article_chars)
            else:
                report = build_index(sources, home, procs=procs, wait=wait, on_problem=warn,
                                     on_article=bar.update, max_article_chars=max_article_chars)
    except KeyboardInterrupt:
        raise click.ClickException("interrupted; the previous index is unchanged")
    finally:
        bar.close()
    if quiet:
        return
    if update:
        click.echo(f"Added {report.added:,} and replaced {report.replaced:,} articles, skipped "
                   f"{report.skipped:,} in {report.seconds:.1f} s; {report.segments} segments in {home}")
    else:
        rate = report.indexed / report.seconds if report.seconds else 0
        click.echo(
            f"Indexed {report.indexed:,} articles, skipped {report.skipped:,} "
            f"in {report.seconds:.1f} s ({rate:,.0f} articles/s) into {home}"
        )


@main.command()
@click.argument("ids", nargs=-1, required=True)
@click.option("--index", "index", metavar="DIR", help=INDEX_HELP)
@click.option("--wait", is_flag=True, help="If another process is writing the index, wait for it instead of failing.")
def delete(ids: tuple[str, ...], index: str | None, wait: bool) -> None:
    """Remove articles from the live index by id."""
    with _one_line():
        report = delete_articles(ids, _home(index), wait=wait)
    for article_id in report.missing:
        click.echo(f"warning: no article with id {article_id!r}", err=True)
    click.echo(f"Deleted {report.deleted:,} articles.")


@main.command()
@click.option("--index", "index", metavar="DIR", help=INDEX_HELP)
@click.option("--wait", is_flag=True, help="If another process is writing the index, wait for it instead of failing.")
def optimize(index: str | None, wait: bool) -> None:
    """Merge the index's segments into one and purge deleted articles.

    Updates already merge small segments as they go; run this after many updates
    or deletions for the fastest searches.
    """
    with _one_line():
        before = optimize_index(_home(index), wait=wait)
    click.echo(f"Merged {before} segments into 1.")


@main.command()
@click.argument("query", nargs=-1, required=True)
@click.option("--index", "index", metavar="DIR", help=INDEX_HELP)
@click.option("--limit", "-n", type=click.IntRange(1, MAX_PER_PAGE), default=10, show_default=True,
              help="Hits per page.")
@click.option("--page", "-p", type=click.IntRange(1), default=1, show_default=True, help="Page of results.")
@click.option("--sort", type=click.Choice(SORTS), default="relevance", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the whole result object as JSON.")
@click.option("--explain", is_flag=True, help="Show each hit's score, part by part.")
@click.option("--as-typed", is_flag=True,
              help="Search the query exactly as typed, even where a correction would find more.")
def search(query: tuple[str, ...], index: str | None, limit: int, page: int, sort: str, as_json: bool,
           explain: bool, as_typed: bool) -> None:
    """Search the index and print ranked hits with highlighted snippets.

    QUERY may be typed with or without diacritics, and may use "quoted phrases",
    -word to exclude, OR, title:, source:, year:2021 or year:2019..2021.
    """
    with _one_line():
        results = Engine(_home(index)).search(" ".join(query), page=page, per_page=limit, sort=sort,
                                              explain=explain, correct=not as_typed)
    if as_json:
        click.echo(json_printable(json.dumps(results.to_dict(), ensure_ascii=False, indent=2)))
        return
    click.echo(render_results(results, color=sys.stdout.isatty()))


@main.command()
@click.option("--index", "index", metavar="DIR", help=INDEX_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def stats(index: str | None, as_json: bool) -> None:
    """Article count, sources, date range and size on disk of the index."""
    with _one_line():
        figures = index_stats(_home(index))
    if as_json:
        click.echo(json_printable(json.dumps(figures, ensure_ascii=False, indent=2)))
        return
    click.echo(f"Index:     {figures['index']}")
    click.echo(f"Articles:  {figures['articles']:,}")
    dates = figures["dates"]
    click.echo(f"Dates:     {dates['first'] or '?'} to {dates['last'] or '?'} "
               f"({dates['undated']:,} undated)")
    click.echo(f"On disk:   {figures['bytes'] / 1e6:,.1f} MB")
    click.echo("Sources:")
    for name, count in figures["sources"].items():
        click.echo(f"  {count:>8,}  {printable(name)}")


def _base_url(ctx, param, value: str | None) -> str | None:
    try:
        return addresses.base_url(value) if value else None
    except ValueError as error:
        raise click.BadParameter(str(error), ctx, param)


@main.command()
@click.option("--index", "index", metavar="DIR", help=INDEX_HELP)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; 0.0.0.0 opens the server to the network.")
@click.option("--port", type=click.IntRange(0, 65535), default=5000, show_default=True,
              help="Port to listen on; 0 picks a free one.")
@click.option("--base-url", metavar="URL", envvar="VNSEARCH_BASE_URL", callback=_base_url,
              help="Public address of the site, such as https://tim.example.vn/, for the links browsers keep "
                   "[default: $VNSEARCH_BASE_URL, else the request's Host].")
def serve(index: str | None, host: str, port: int, base_url: str | None) -> None:
    """Serve the search page, article pages and JSON API over HTTP.

    Runs under waitress, a production WSGI server. Without an index it first
    indexes the bundled sample articles. A rebuild by `vnsearch index` is picked
    up while serving, without a restart.
    """
    with _one_line():
        server.serve(_home(index), host, port, echo=click.echo, base_url=base_url)


@main.command()
@click.option("--index", "index", metavar="DIR", help=INDEX_HELP)
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
