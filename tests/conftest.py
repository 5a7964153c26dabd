from __future__ import annotations

import gzip
import json
from itertools import islice
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "corpus" / "samples"
SHARED_CORPUS = ROOT.parent / "shared" / "corpus" / "vietnews-test.jsonl.gz"


@pytest.fixture(scope="session")
def seed_texts() -> dict[str, str]:
    return {p.stem: p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))}


@pytest.fixture(scope="session")
def shared_articles() -> list[dict]:
    """The first 500 articles of the shared real-world corpus."""
    if not SHARED_CORPUS.exists():
        pytest.skip(f"shared corpus not found at {SHARED_CORPUS}")
    with gzip.open(SHARED_CORPUS, "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in islice(lines, 500)]
