"""What one search may ask for, shared by the engines, the web API and the command line.

A module of its own so that the command line can declare its options without importing
the engine: that took 50 ms of every command's start, `vnsearch index --update`'s too.
"""
MAX_PER_PAGE = 100
SORTS = ("relevance", "date")
