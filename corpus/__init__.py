"""Articles from files: scraped plain text and JSON Lines, as plain Article records.

corpus knows files and formats only; text analysis belongs to the indexer.
"""
from pathlib import Path

from .article import Article
from .cleanup import MAX_ARTICLE_CHARS
from .problem import Problem, ProblemHandler
from .reader import count_articles, read_articles

# The seed articles shipped inside the package, so a fresh install has something to index.
SAMPLES_DIR = Path(__file__).resolve().parent / "samples"

__all__ = ["Article", "MAX_ARTICLE_CHARS", "Problem", "ProblemHandler", "SAMPLES_DIR", "count_articles", "read_articles"]
