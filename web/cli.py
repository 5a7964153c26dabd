"""`vnsearch`: one command-line entry point, a thin layer over the packages' functions."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click
from tqdm import tqdm

from vnsearch.corpus import SAMPLES_DIR, count_articles
from vnsearch.indexer import store
from vnsearch.indexer.build import BuildError, build_index
from vnsearch.indexer.update import delete_articles, optimize_index, update_index
from vnsearch.indexer.stats import index_stats
from vnsearch.search.engine import MAX_PER_PAGE, SORTS, Engine
from vnsearch.web import addresses, server
from vnsearch.web.terminal import render_results

INDEX_HELP = "Index folder [default: $VNSEARCH_INDEX, else ~/.local/share/vnsearch/index]."


def _home(index: str | None) -> Path:
    return Path(index).expanduser() if index else store.default_home()


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
def index(paths: tuple[str, ...], index: str | None, update: bool, wait: bool, quiet: bool,
          procs: int | None) -> None:
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
    bar = tqdm(total=count_articles(sources) if show else None, disable=not show,
               unit=" articles", dynamic_ncols=True, file=sys.stderr)
    warn = lambda p: tqdm.write(f"warning: {p}", file=sys.stderr)  # noqa: E731
    try:
        if update:
            report = update_index(sources, home, procs=procs or os.cpu_count() or 1, wait=wait,
                                  on_problem=warn, on_article=bar.update)
        else:
            report = build_index(sources, home, procs=procs, wait=wait, on_problem=warn, on_article=bar.update)
    except (BuildError, store.StoreError) as error:
        raise click.ClickException(str(error))
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
    try:
        report = delete_articles(ids, _home(index), wait=wait)
    except store.StoreError as error:
        raise click.ClickException(str(error))
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
    try:
        before = optimize_index(_home(index), wait=wait)
    except store.StoreError as error:
        raise click.ClickException(str(error))
    click.echo(f"Merged {before} segments into 1.")


@main.command()
@click.argument("query", nargs=-1, required=True)
@click.option("--index", "index", metavar="DIR", help=INDEX_HELP)
@click.option("--limit", "-n", type=click.IntRange(1, MAX_PER_PAGE), default=10, show_default=True,
              help="Hits per page.")
@click.option("--page", "-p", type=click.IntRange(1), default=1, show_default=True, help="Page of results.")
@click.option("--sort", type=click.Choice(SORTS), default="relevance", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the whole result object as JSON.")
def search(query: tuple[str, ...], index: str | None, limit: int, page: int, sort: str, as_json: bool) -> None:
    """Search the index and print ranked hits with highlighted snippets.

    QUERY may be typed with or without diacritics, and may use "quoted phrases",
    -word to exclude, OR, title:, source:, year:2021 or year:2019..2021.
    """
    try:
        engine = Engine(_home(index))
    except store.StoreError as error:
        raise click.ClickException(str(error))
    results = engine.search(" ".join(query), page=page, per_page=limit, sort=sort)
    if as_json:
        click.echo(json.dumps(results.to_dict(), ensure_ascii=False, indent=2))
        return
    click.echo(render_results(results, color=sys.stdout.isatty()))


@main.command()
@click.option("--index", "index", metavar="DIR", help=INDEX_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def stats(index: str | None, as_json: bool) -> None:
    """Article count, sources, date range and size on disk of the index."""
    try:
        figures = index_stats(_home(index))
    except store.StoreError as error:
        raise click.ClickException(str(error))
    if as_json:
        click.echo(json.dumps(figures, ensure_ascii=False, indent=2))
        return
    click.echo(f"Index:     {figures['index']}")
    click.echo(f"Articles:  {figures['articles']:,}")
    dates = figures["dates"]
    click.echo(f"Dates:     {dates['first'] or '?'} to {dates['last'] or '?'} "
               f"({dates['undated']:,} undated)")
    click.echo(f"On disk:   {figures['bytes'] / 1e6:,.1f} MB")
    click.echo("Sources:")
    for name, count in figures["sources"].items():
        click.echo(f"  {count:>8,}  {name}")


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
    try:
        server.serve(_home(index), host, port, echo=click.echo, base_url=base_url)
    except (BuildError, store.StoreError, server.ServeError) as error:
        raise click.ClickException(str(error))


if __name__ == "__main__":
    main()
