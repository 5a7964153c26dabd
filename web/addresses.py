"""The site's public address, for the URLs a client keeps (the OpenSearch description).

The Host header is whatever the client wrote. Copied into a document a browser saves, a
hostile one would send its searches elsewhere or break the markup, so it is used only
when it is a plain host[:port]; a configured base URL (`--base-url`, `VNSEARCH_BASE_URL`)
beats it, and is what a server behind a proxy should have: the proxy knows the public
scheme and name, the Host it forwards may not.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:  # importing Flask costs a command that serves nothing half a second
    from flask import Request

# A DNS name or IPv4 address (labels of letters, digits and dashes), or an IPv6 address in
# brackets; then an optional port.
_HOST_RE = re.compile(r"(?:[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.?|\[[0-9A-Fa-f:.]{2,45}\])(?::(\d{1,5}))?")
MAX_HOST_CHARS = 253 + len(":65535")  # the longest DNS name, and a port
_PATH_RE = re.compile(r"[A-Za-z0-9._~/-]*")


def plain_host(value: str) -> bool:
    """Whether `value` is a host[:port] fit to be copied into a URL."""
    found = _HOST_RE.fullmatch(value) if len(value) <= MAX_HOST_CHARS else None
    return bool(found) and (found.group(1) is None or int(found.group(1)) <= 65535)


def base_url(value: str) -> str:
    """A configured base URL, checked and without its final slash: `http(s)://host[:port][/path]`.

    Raises ValueError saying what is wrong.
    """
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not plain_host(parts.netloc):
        raise ValueError(f"{value!r} is not an http:// or https:// address with a plain host name")
    if parts.query or parts.fragment or not _PATH_RE.fullmatch(parts.path):
        raise ValueError(f"{value!r} has more than a scheme, host and path")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def public_root(configured: str | None, request: Request) -> str:
    """The site's root to put before a path: the configured base URL, else scheme and Host of
    the request when the Host is plain, else '' (paths only: a browser always sends the plain
    Host it used, so only odd or hostile clients get those)."""
    if configured:
        return configured
    # The header itself, not request.host: without one, werkzeug falls back to the WSGI
    # server's name, which under waitress is `waitress.invalid`.
    host = request.headers.get("Host", "")
    if plain_host(host):
        return f"{request.scheme}://{host}{request.script_root}"
    return ""
