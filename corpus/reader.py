"""Walking the paths a user gives: files and folders of .txt, .jsonl and .jsonl.gz."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator

from .article import Article
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


def _files(root: Path) -> Iterator[Path]:
    """A file as given; a folder's readable files, recursively, in sorted order.

    Inside folders, other extensions and hidden entries (editor backups, .git)
    are passed over silently: a folder holds more than articles.
    """
    if not root.is_dir():
        yield root
        return
    for path in sorted(root.rglob("*")):
        hidden = any(part.startswith(".") for part in path.relative_to(root).parts)
        if not hidden and _kind(path) is not None and path.is_file():
            yield path


def read_articles(paths: Iterable[str | Path], on_problem: ProblemHandler) -> Iterator[Article]:
    """Articles from files and folders, in order: .txt scrapes and .jsonl(.gz) records.

    Raises FileNotFoundError at once if any path is missing. Otherwise bad input
    never stops the run and is never silent: each skipped file or line produces
    exactly one Problem with skipped=True (a damaged gzip counts once, and the
    articles before the damage are still yielded). A kept article with a dropped
    field (an unreadable date) produces a Problem with skipped=False. Duplicate
    ids are passed through; the indexer decides what to do with them.
    """
    roots = _existing(paths)
    return _read(roots, on_problem)


def _read(roots: list[Path], on_problem: ProblemHandler) -> Iterator[Article]:
    for root in roots:
        for path in _files(root):
            kind = _kind(path)
            if kind == "text":
                article = read_text_file(path, on_problem)
                if article is not None:
                    yield article
            elif kind == "jsonl":
                yield from read_jsonl_file(path, on_problem)
            else:
                on_problem(Problem(str(path), "unsupported file type; expected .txt, .jsonl or .jsonl.gz"))


def count_articles(paths: Iterable[str | Path]) -> int:
    """How many articles read_articles will yield, at most: a progress bar total.

    One per .txt file and one per non-blank JSON Lines line, without parsing.
    """
    total = 0
    for root in _existing(paths):
        for path in _files(root):
            kind = _kind(path)
            if kind == "text":
                total += 1
            elif kind == "jsonl":
                total += count_lines(path)
    return total
