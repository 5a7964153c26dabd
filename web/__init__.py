"""The user-facing surfaces: the `vnsearch` command line and (later) the Flask app."""
