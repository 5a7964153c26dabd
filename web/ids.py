"""Article ids in URLs: readable where a path keeps them intact, encoded where it cannot.

Ids come from the data, and a researcher's `2021/05/abc` is a plausible one, so a link
carries an id as a path when that path survives the trip. Some do not: browsers (and
curl) resolve "." and ".." segments before asking (`/article/a/../b` arrives as
`/article/b`), the router redirects an empty segment or a leading "/" to another path,
and a newline matches no route. Those ids travel as "~" followed by their UTF-8 in
base64url, and so do ids starting with "~", so that the encoded form is never ambiguous.
"""
from __future__ import annotations

import base64
import binascii
import unicodedata

from werkzeug.routing import PathConverter

ENCODED = "~"


def _plain(article_id: str) -> bool:
    """True when the id, percent-encoded as a path, reaches the server unchanged."""
    return (
        not article_id.startswith(ENCODED)
        and all(segment not in ("", ".", "..") for segment in article_id.split("/"))
        and not any(unicodedata.category(c) == "Cc" for c in article_id)
    )


def to_path(article_id: str) -> str:
    if _plain(article_id):
        return article_id
    return ENCODED + base64.urlsafe_b64encode(article_id.encode("utf-8")).decode("ascii").rstrip("=")


def from_path(path: str) -> str:
    """The id a path names. A "~" path that `to_path` would not have made (an id typed by
    hand that happens to start with "~") is taken as it is."""
    if not path.startswith(ENCODED):
        return path
    data = path[len(ENCODED):]
    try:
        decoded = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)).decode("utf-8")
    except (binascii.Error, ValueError):
        return path
    return decoded if to_path(decoded) == path else path


class ArticleIdConverter(PathConverter):
    """`<article:article_id>`: a path converter that encodes the ids a path cannot carry."""

    def to_python(self, value: str) -> str:
        return from_path(value)

    def to_url(self, value: str) -> str:
        return super().to_url(to_path(value))
