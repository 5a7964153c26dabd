"""Walking the paths a user gives: files and folders of .txt, .jsonl and .jsonl.gz."""
from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Iterable, Iterator

from .article import Article
from .cleanup import MAX_ARTICLE_CHARS, clean_article, max_read_bytes
from .jsonl import count_lines, read_jsonl_file
from .plaintext import read_text_file
from .problem import Problem, ProblemHandler

TEXT_SUFFIXES = (".txt",)
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz")


def _kind(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith(TEXT_SUFFIXES):
        return "text"
    if name.endswith(JSONL_SUFFIXES):
        return "jsonl"
    return None


def _existing(paths: Iterable[str | Path]) -> list[Path]:
    """All paths, or FileNotFoundError naming every missing one before any work starts."""
    if isinstance(paths, (str, Path)):
        paths = [paths]  # one path passed bare would otherwise be read character by character
    paths = [Path(p) for p in paths]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise FileNotFoundError(f"no such file or folder: {', '.join(missing)}")
    return paths


def _not_regular(path: Path) -> str | None:
    """Why `path` (followed if a link) cannot be read as an article file, or None.

    Only regular files are read: a FIFO blocks the reader forever and /dev/zero never ends.
    """
    try:
        mode = path.stat().st_mode
    except OSError as e:
        return f"cannot read file: {e.strerror or e}"
    if stat.S_ISREG(mode):
        return None
    kind = ("a folder" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode)
            else "a socket" if stat.S_ISSOCK(mode) else "a device")
    return f"not a regular file ({kind}); skipped"


def _files(root: Path, on_problem: ProblemHandler) -> Iterator[Path]:
    """A file as given; a folder's article files, recursively, in sorted order.

    Inside folders, other extensions and hidden entries (editor backups, .git) are
    passed over silently: a folder holds more than articles. Everything else left out
    is reported: unreadable folders, broken links, files that are not regular files.
    A link to a folder is followed, once: a folder reached a second time (a link to
    an enclosing folder, a loop, or two links to one folder) is reported and skipped.
    """
    if not root.is_dir():
        if (reason := _not_regular(root)) is None:
            yield root
        else:
            on_problem(Problem(str(root), reason))
        return
    yield from _walk(root, on_problem, set())


def _walk(folder: Path, on_problem: ProblemHandler, seen: set[tuple[int, int]]) -> Iterator[Path]:
    try:
        info = folder.stat()
        if (info.st_dev, info.st_ino) in seen:
            what = "a link to a folder" if folder.is_symlink() else "a folder reached through a link"
            on_problem(Problem(str(folder), f"{what} already read ({folder.resolve()}); skipped"))
            return
        seen.add((info.st_dev, info.st_ino))
        with os.scandir(folder) as scan:
            # By name, so that a folder's files come before those of a longer name:
            # the order sorting whole paths gives, and duplicate ids keep the first read.
            entries = sorted(scan, key=lambda entry: entry.name)
    except OSError as e:
        on_problem(Problem(str(folder), f"cannot read folder: {e.strerror or e}; skipped"))
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = Path(entry.path)
        try:
            is_dir = entry.is_dir()  # follows links
        except OSError:
            is_dir = False
        if entry.is_symlink() and not path.exists():
            on_problem(Problem(str(path), f"broken link to {os.readlink(path)}; skipped"))
        elif is_dir:
            yield from _walk(path, on_problem, seen)
        elif _kind(path) is not None:
            if (reason := _not_regular(path)) is None:
                yield path
            else:
                on_problem(Problem(str(path), reason))


def read_articles(paths: Iterable[str | Path], on_problem: ProblemHandler,
                  max_article_chars: int = MAX_ARTICLE_CHARS) -> Iterator[Article]:
    """Articles from files and folders, in order: .txt scrapes and .jsonl(.gz) records.

    Raises FileNotFoundError at once if any path is missing. Otherwise bad input
    never stops the run and is never silent: each skipped file, folder or line
    produces exactly one Problem with skipped=True (a damaged gzip counts once, and
    the articles before the damage are still yielded). A kept article with a dropped
    field (an unreadable date), repaired text or text cut to `max_article_chars`
    produces a Problem with skipped=False. Duplicate ids are passed through; the
    indexer decides what to do with them.
    """
    roots = _existing(paths)
    return _read(roots, on_problem, max_article_chars)


def _read(roots: list[Path], on_problem: ProblemHandler, max_chars: int) -> Iterator[Article]:
    max_bytes = max_read_bytes(max_chars)
    for root in roots:
        for path in _files(root, on_problem):
            kind = _kind(path)
            if kind == "text":
                articles = [read_text_file(path, on_problem, max_bytes)]
            elif kind == "jsonl":
                articles = read_jsonl_file(path, on_problem, max_bytes)
            else:
                on_problem(Problem(str(path), "unsupported file type; expected .txt, .jsonl or .jsonl.gz"))
                continue
            for article in articles:
                if article is not None:
                    article = clean_article(article, max_chars, on_problem)
                if article is not None:
                    yield article


def count_articles(paths: Iterable[str | Path], max_article_chars: int = MAX_ARTICLE_CHARS) -> int:
    """How many articles read_articles will yield, at most: a progress bar total.

    One per .txt file and one per non-blank JSON Lines line, without parsing.
    Problems are left for read_articles to report.
    """
    total = 0
    for root in _existing(paths):
        for path in _files(root, lambda problem: None):
            kind = _kind(path)
            if kind == "text":
                total += 1
            elif kind == "jsonl":
                total += count_lines(path, max_read_bytes(max_article_chars))
    return total
