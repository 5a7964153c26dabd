"""The bulk segment writer must produce exactly the files Whoosh's own writer does."""
from __future__ import annotations

import json
from pathlib import Path

from whoosh import index as whoosh_index
from whoosh.writing import SegmentWriter

from vnsearch.corpus import SAMPLES_DIR, read_articles
from vnsearch.corpus.jsonl import parse_line
from vnsearch.indexer.build import to_document
from vnsearch.indexer.fields import VIEW_FIELDS
from vnsearch.indexer.schema import build_schema
from vnsearch.indexer.segment_writer import WHOOSH_BLOCKS, ViewSegmentWriter

from conftest import TRICKY


def _documents(shared_articles) -> list[dict]:
    articles = list(read_articles([SAMPLES_DIR, TRICKY], lambda problem: None))
    docs = [to_document(a) for a in articles]
    for number, record in enumerate(shared_articles[:150]):
        article = parse_line(json.dumps(record).encode(), f"shared:{number}", lambda problem: None)
        docs.append(to_document(article))
    # Terms in more than one 128-posting block, with repeated frequencies in a block and
    # documents of very different lengths (the blocks' length bytes).
    for n in range(300):
        words = ["chung"] * (1 + n % 3) + ["hiem"] * (n % 7 == 0) + [f"so{n}"] * (n % 50 + 1)
        docs.append({"id": f"synthetic-{n}", "body": " ".join(words),
                     "body_fold": words, "body_acc": words, "body_words": words,
                     "body_pairs": [f"{a}_{b}" for a, b in zip(words, words[1:])]})
    return docs


def _segment_files(home: Path, make_writer, docs) -> dict[str, bytes]:
    home.mkdir()
    ix = whoosh_index.create_in(str(home), build_schema())
    writer = make_writer(ix)
    for doc in docs:
        writer.add_document(**dict(doc))
    segment = writer._finalize_segment()
    prefix = segment.segment_id()
    # Keyed by what follows the random segment id: ".trm", ".pst", "._stored.col", ...
    return {path.name[len(prefix):]: path.read_bytes() for path in home.iterdir()
            if path.name.startswith(prefix)}


def test_view_writer_matches_whooshs_writer_byte_for_byte(tmp_path, shared_articles):
    docs = _documents(shared_articles)
    ours = _segment_files(tmp_path / "ours",
                          lambda ix: ViewSegmentWriter(ix, VIEW_FIELDS, encoding=WHOOSH_BLOCKS, _lk=False, compound=False), docs)
    whooshs = _segment_files(tmp_path / "whoosh",
                             lambda ix: SegmentWriter(ix, _lk=False, compound=False), docs)
    assert {".trm", ".pst", "._stored.col", "._body_fold_len.col"} <= set(whooshs)
    assert sorted(ours) == sorted(whooshs)
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


def test_faster_block_encoding_reads_back_the_same_postings(tmp_path, shared_articles):
    docs = _documents(shared_articles)
    for name, make_writer in [("ours", lambda ix: ViewSegmentWriter(ix, VIEW_FIELDS, _lk=False)),
                              ("whoosh", lambda ix: SegmentWriter(ix, _lk=False))]:
        (tmp_path / name).mkdir()
        writer = make_writer(whoosh_index.create_in(str(tmp_path / name), build_schema()))
        for doc in docs:
            writer.add_document(**dict(doc))
        writer.commit()
    ours, whooshs = _postings(tmp_path / "ours"), _postings(tmp_path / "whoosh")
    assert len(ours) > 10_000
    assert ours == whooshs
