"""The user-facing surfaces: the `vnsearch` command line and the Flask app.

`create_app` is exported here so that `flask --app vnsearch.web run --debug` finds the
factory. It is imported on first use (PEP 562): Flask takes about 0.5 s to import, and
`vnsearch index --update` has no use for it, so an update shows sooner.
"""


def __getattr__(name: str):
    if name == "create_app":
        from vnsearch.web.app import create_app
        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["create_app"]
