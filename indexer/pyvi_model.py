"""pyvi's word segmentation model, loaded without importing scikit-learn.

`import pyvi.ViTokenizer` unpickles its CRF as a sklearn-crfsuite estimator, which
imports scikit-learn: about a second before any command can start, half the time of
an `index --update` of one article. We need only what the estimator wraps: the
crfsuite model bytes, opened with pycrfsuite's tagger, and pyvi's lists of known
bigrams and trigrams. Same files, same model, same labels (tests compare them with
pyvi's own).
"""
from __future__ import annotations

import importlib.util
import pickle
from functools import lru_cache
from pathlib import Path

import pycrfsuite

# pyvi's files, found without running its package code.
_PYVI_DIR = Path(importlib.util.find_spec("pyvi").submodule_search_locations[0])
_MODEL_FILE = _PYVI_DIR / "models" / "pyvi3.pkl"
_WORDS_FILE = _PYVI_DIR / "models" / "words.txt"


class _State:
    """Stands in for a pickled sklearn-crfsuite object: keeps its attributes, runs nothing."""

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)


class _ModelUnpickler(pickle.Unpickler):
    _STAND_INS = {("sklearn_crfsuite.estimator", "CRF"), ("sklearn_crfsuite._fileresource", "FileResource")}

    def find_class(self, module: str, name: str):
        if (module, name) in self._STAND_INS:
            return _State
        return super().find_class(module, name)


@lru_cache(maxsize=1)
def _model_bytes() -> bytes:
    """The crfsuite model inside pyvi's pickle (cached: the tagger reads it in place)."""
    with open(_MODEL_FILE, "rb") as model_file:
        estimator = _ModelUnpickler(model_file).load()
    # sklearn-crfsuite pickles the model file's bytes with its FileResource.
    return estimator.modelfile.__dict__["__FILE_RESOURCE_DATA__"]


@lru_cache(maxsize=1)
def tagger() -> pycrfsuite.Tagger:
    """pycrfsuite's tagger over pyvi's CRF model."""
    model = pycrfsuite.Tagger()
    model.open_inmemory(_model_bytes())  # does not copy: the bytes must outlive it
    return model


@lru_cache(maxsize=1)
def ngrams() -> tuple[frozenset[str], frozenset[str]]:
    """pyvi's known bigrams and trigrams of syllables ("chính phủ")."""
    bi_grams, tri_grams = set(), set()
    for line in _WORDS_FILE.read_text(encoding="utf-8").split("\n"):
        size = len(line.split(" "))
        if size == 2:
            bi_grams.add(line)
        elif size == 3:
            tri_grams.add(line)
    return frozenset(bi_grams), frozenset(tri_grams)
