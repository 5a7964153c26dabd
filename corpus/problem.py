"""What readers report instead of stopping: one record per problem found in the input."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Problem:
    # A file path, or "path:lineno" for one line of a JSON Lines file.
    origin: str
    message: str
    # True when a whole file or line was left out; False when the article was kept
    # with a field dropped (e.g. an unreadable date), so callers can count skips.
    skipped: bool = True

    def __str__(self) -> str:
        return f"{self.origin}: {self.message}"


ProblemHandler = Callable[[Problem], None]
