"""The Flask app factory: configuration, one search engine per process, headers, errors."""
from __future__ import annotations

import os
import threading

from flask import Flask, Response, jsonify, render_template, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import BadHost, HTTPException, ServiceUnavailable

from vnsearch.indexer import store
from vnsearch.search.backend import Backend, open_engine
from vnsearch.search.engine import Engine
from vnsearch.web import addresses, views
from vnsearch.web.formats import vietnam_now

# Scripts and styles come only from our own /static: no inline code, nothing third-party.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "form-action 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
])
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}


class SafeJSONProvider(DefaultJSONProvider):
    """JSON with readable Vietnamese, keys in the documented order, and no raw `<`, `>`, `&`.

    Those three only ever occur inside JSON strings, so escaping them as \\u003c etc.
    changes no value, yet a response can never be sniffed or pasted into a page as markup.
    """
    ensure_ascii = False
    sort_keys = False

    def dumps(self, obj, **kwargs) -> str:
        text = super().dumps(obj, **kwargs)
        return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


class EngineHolder:
    """Opens the index on the first request that needs it, once per process.

    Lazily, so that `flask run` and the tests start without an index and a missing
    index is a clear 503 page rather than a crash at import; the Engine itself then
    follows rebuilds of the index. Opening is tried again on the next request.
    """

    def __init__(self, backend: Backend):
        self.backend = backend
        self._engine: Engine | None = None
        self._lock = threading.Lock()

    def after_fork(self) -> None:
        """In a forked server worker (web/workers.py): its own lock and index files."""
        self._lock = threading.Lock()
        if self._engine is not None and hasattr(self._engine, "after_fork"):
            self._engine.after_fork()

    def get(self) -> Engine:
        """The engine; raises store.StoreError (a 503, see create_app) while there is no sound index."""
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    self._engine = open_engine(self.backend)
        return self._engine


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.json = SafeJSONProvider(app)
    # INDEX: the index folder; None means the CLI's default ($VNSEARCH_INDEX, else per user).
    # BACKEND "opensearch" searches the cluster at OPENSEARCH_URL instead, INDEX naming its alias.
    # BASE_URL: the public address of `/`, for the URLs clients keep; None means the request's Host.
    # NOW: the clock relative dates ("2 giờ trước") are reckoned against, ISO 8601 in
    # Vietnam's time; None is the real clock. $VNSEARCH_NOW sets it for `vnsearch serve`
    # too, so that tests and screenshots show the same page whatever the day.
    app.config.from_mapping(INDEX=None, BACKEND="embedded", OPENSEARCH_URL=None, BASE_URL=None,
                            NOW=os.environ.get("VNSEARCH_NOW") or None)
    if test_config is None:
        app.config.from_prefixed_env("VNSEARCH")
    else:
        app.config.from_mapping(test_config)
    if app.config["BASE_URL"]:
        app.config["BASE_URL"] = addresses.base_url(app.config["BASE_URL"])
    if app.config["NOW"]:
        try:
            vietnam_now(app.config["NOW"])
        except (TypeError, ValueError) as error:
            raise ValueError(f"NOW must be a date and time in ISO 8601, not {app.config['NOW']!r}") from error
    backend = Backend.chosen(app.config["BACKEND"], app.config["INDEX"], app.config["OPENSEARCH_URL"])
    app.extensions["vnsearch"] = EngineHolder(backend)
    app.register_blueprint(views.bp)
    app.after_request(_secure)
    app.register_error_handler(HTTPException, _error)
    # No index yet, or a damaged one: the message says what to run.
    app.register_error_handler(store.StoreError, lambda error: _error(ServiceUnavailable(str(error))))
    return app


def _secure(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def _error(error: HTTPException):
    """JSON errors under /api/, a page in Vietnamese everywhere else."""
    if request.path.startswith("/api/"):
        response = jsonify(error={"status": error.code, "message": error.description})
    elif isinstance(error, BadHost):
        # A Host that is no host name (a label over 63 characters, `a..b`) leaves Flask no
        # way to build a URL, and the page is all links: a line of text instead.
        response = Response(f"{error.code} {error.name}: the Host header is not a valid host name\n",
                            mimetype="text/plain")
    else:
        response = Response(render_template("error.html", error=error), mimetype="text/html")
    response.status_code = error.code
    # Keep what the error adds for clients, such as Allow on a 405.
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response
