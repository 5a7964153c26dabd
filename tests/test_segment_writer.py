"""The bulk writers must produce exactly the files Whoosh's own writers do.

Every case runs on a clean clone: the seed articles, the tricky ones and generated
text; the shared real-world corpus is one more case, skipped when it is absent.
"""
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from whoosh import index as whoosh_index
from whoosh.filedb.filestore import FileStorage
from whoosh.filedb.filetables import OrderedHashReader, OrderedHashWriter

from vnsearch.corpus import SAMPLES_DIR, read_articles
from vnsearch.corpus.jsonl import parse_line
from vnsearch.indexer.build import to_document
from vnsearch.indexer.fields import VIEW_FIELDS
from vnsearch.indexer.schema import build_schema
from vnsearch.indexer import postings_file
from vnsearch.indexer.whoosh_format.segment_writer import WHOOSH_BLOCKS, ViewSegmentWriter, finalize_segment
from vnsearch.indexer.whoosh_format.term_table import BulkOrderedHashWriter

from conftest import TRICKY
from generated_text import generated_documents

BLOCK = 128  # postings per block in Whoosh's W3 codec


def _synthetic() -> list[dict]:
    """Hand-made term lists for what articles rarely show."""
    docs = []
    # Terms in more than one 128-posting block, with repeated frequencies in a block and
    # documents of very different lengths (the blocks' length bytes).
    for n in range(300):
        words = ["chung"] * (1 + n % 3) + ["hiem"] * (n % 7 == 0) + [f"so{n}"] * (n % 50 + 1)
        docs.append({"id": f"synthetic-{n}", "body": " ".join(words),
                     "body_fold": words, "body_acc": words, "body_words": words,
                     "body_pairs": [f"{a}_{b}" for a, b in zip(words, words[1:])]})
    # A field longer than 65,535 tokens: its length byte is computed apart.
    rng = random.Random(7)
    words = [f"dai{rng.randrange(120)}" for _ in range(70_000)]
    docs.append({"id": "synthetic-long", "body": "dai", "body_fold": words, "body_acc": words[:5]})
    return docs


def _clean_clone() -> list[dict]:
    articles = read_articles([SAMPLES_DIR, TRICKY], lambda problem: None)
    return [to_document(a) for a in articles] + list(generated_documents())


def _shared_corpus(shared_articles) -> list[dict]:
    docs = []
    for number, record in enumerate(shared_articles[:150]):
        article = parse_line(json.dumps(record).encode(), f"shared:{number}", lambda problem: None)
        docs.append(to_document(article))
    return docs


@pytest.fixture(params=["clean clone", "shared corpus"])
def documents(request) -> list[dict]:
    """Articles as the build indexes them, plus the synthetic ones."""
    if request.param == "clean clone":
        return _clean_clone() + _synthetic()
    return _shared_corpus(request.getfixturevalue("shared_articles")) + _synthetic()


def _segment_files(home: Path, make_writer, docs) -> dict[str, bytes]:
    home.mkdir()
    ix = whoosh_index.create_in(str(home), build_schema())
    writer = make_writer(ix)
    for doc in docs:
        writer.add_document(**dict(doc))
    segment = finalize_segment(writer)
    prefix = segment.segment_id()
    # Keyed by what follows the random segment id: ".trm", ".pst", "._stored.col", ...
    return {path.name[len(prefix):]: path.read_bytes() for path in home.iterdir()
            if path.name.startswith(prefix)}


def test_view_writer_matches_whooshs_writer_byte_for_byte(tmp_path, documents):
    ours = _segment_files(tmp_path / "ours",
                          lambda ix: ViewSegmentWriter(ix, VIEW_FIELDS, encoding=WHOOSH_BLOCKS, compound=False),
                          documents)
    whooshs = _segment_files(tmp_path / "whoosh", lambda ix: ix.writer(compound=False), documents)
    expected = {".trm", ".pst", "._stored.col", "._body_fold_len.col"}
    if any("published" in doc for doc in documents):  # the first shared articles have no dates
        expected |= {".published.col", ".year.col", ".source.col"}
    assert expected <= set(whooshs)
    # Whoosh's files, plus our own postings file (tests/test_postings_file.py).
    assert sorted(ours) == sorted([*whooshs, postings_file.EXTENSION])
    for suffix in whooshs:
        assert ours[suffix] == whooshs[suffix], f"{suffix} differs"


def _postings(home: Path) -> dict:
    """Every (field, term) of the index with its postings as Whoosh's reader returns them."""
    with whoosh_index.open_dir(str(home)).reader() as reader:
        found = {}
        for field, term in reader.all_terms():
            matcher = reader.postings(field, term)
            rows = []
            while matcher.is_active():
                rows.append((matcher.id(), matcher.weight(), matcher.value()))
                matcher.next()
            found[field, term] = (rows, reader.doc_frequency(field, term), reader.frequency(field, term))
        return found


def test_faster_block_encoding_reads_back_the_same_postings(tmp_path, documents):
    for name, make_writer in [("ours", lambda ix: ViewSegmentWriter(ix, VIEW_FIELDS)),
                              ("whoosh", lambda ix: ix.writer())]:
        (tmp_path / name).mkdir()
        writer = make_writer(whoosh_index.create_in(str(tmp_path / name), build_schema()))
        for doc in documents:
            writer.add_document(**dict(doc))
        writer.commit()
    ours, whooshs = _postings(tmp_path / "ours"), _postings(tmp_path / "whoosh")
    assert len(ours) > 10_000
    # Terms with postings in three blocks or more (compressed, with delta-coded ids).
    assert sum(df > 2 * BLOCK for _, df, _ in ours.values()) >= 3
    assert ours == whooshs


# --- The term table (an ordered hash file), written in bulk.

def _keys_and_values(seed: int, count: int) -> tuple[list[bytes], list[bytes]]:
    """Sorted distinct keys as the segment writer makes them (field id + UTF-8 term)."""
    rng = random.Random(seed)
    alphabet = "abcdđêươ _0123456789"
    keys = {bytes([0, rng.randrange(12)]) + "".join(rng.choices(alphabet, k=rng.randint(1, 40))).encode()
            for _ in range(count)}
    keys = sorted(keys)
    return keys, [bytes(rng.randrange(256) for _ in range(rng.choice([0, 1, 33, 33, 200]))) for _ in keys]


def _table_file(storage: FileStorage, name: str, fill) -> bytes:
    writer_file = storage.create_file(name)
    fill(writer_file)
    return storage.open_file(name).read()


def test_bulk_term_table_matches_whooshs_byte_for_byte(tmp_path):
    # Enough records that the positions outgrow 16 bits (the index array widens on the way).
    keys, values = _keys_and_values(seed=5, count=20_000)
    batches = [(0, 1), (1, 4_000), (4_000, 4_001), (4_001, 12_000), (12_000, len(keys))]
    storage = FileStorage(str(tmp_path))

    def whooshs(dbfile):
        table = OrderedHashWriter(dbfile)
        for key, value in zip(keys, values):
            table.add(key, value)
        table.close()

    def ours(dbfile):
        table = BulkOrderedHashWriter(dbfile)
        for start, end in batches:
            if end - start == 1:
                table.add(keys[start], values[start])  # one key at a time still works between batches
            else:
                table.add_sorted(keys[start:end], values[start:end])
        table.close()

    expected = _table_file(storage, "whoosh.trm", whooshs)
    assert len(expected) > 1 << 16
    assert _table_file(storage, "ours.trm", ours) == expected
    reader = OrderedHashReader.open(storage, "ours.trm")
    assert list(reader.keys()) == keys
    assert [reader[key] for key in keys[::97]] == values[::97]
    assert next(reader.keys_from(keys[9_999] + b"\0")) == keys[10_000]


def test_bulk_term_table_refuses_keys_out_of_order(tmp_path):
    table = BulkOrderedHashWriter(FileStorage(str(tmp_path)).create_file("t.trm"))
    table.add_sorted([b"\0\0b", b"\0\0c"], [b"", b""])
    with pytest.raises(ValueError, match="keys must increase"):
        table.add_sorted([b"\0\0a"], [b""])


def test_field_length_bytes_are_whooshs():
    """Every length a column can hold, and beyond, gets the byte Whoosh's writer gives it."""
    import numpy as np
    from whoosh.util.numeric import length_to_byte

    from vnsearch.indexer.whoosh_format.segment_writer import _length_bytes

    lengths = np.concatenate([np.arange(1 << 17), [106_373, 106_374, 106_375, 10**9]])
    assert _length_bytes(lengths).tolist() == [length_to_byte(int(n)) for n in lengths]
