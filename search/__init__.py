"""Turning a user's query into ranked results with highlighted snippets."""
