"""The user-facing surfaces: the `vnsearch` command line and the Flask app.

`create_app` is exported here so that `flask --app vnsearch.web run --debug` finds the factory.
"""
from vnsearch.web.app import create_app

__all__ = ["create_app"]
