"""The user-facing surfaces: the `vnsearch` command line and the Flask app.

`create_app` is exported here so that `flask --app web run --debug` finds the factory.
"""
from web.app import create_app

__all__ = ["create_app"]
