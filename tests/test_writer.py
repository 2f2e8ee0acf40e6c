"""The article writer writes the index Whoosh's own writer would, faster.

Each test indexes the same articles twice, once through Whoosh's ``SegmentWriter`` and
once through ``ArticleWriter``, and compares what searches read back: every word of
every field with its postings (articles, weights, positions) and statistics, the
lengths, the stored fields and columns, and the spelling words with their counts.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from whoosh import index as whoosh_index
from whoosh.formats import Positions
from whoosh.util.numeric import byte_to_length, length_to_byte
from whoosh.writing import SegmentWriter

from searchapp import duplicates
from searchapp.backends.whoosh import indexing, writer
from searchapp.backends.whoosh.archive import WhooshArchive
from searchapp.backends.whoosh.health import check_index
from searchapp.backends.whoosh.writer import ArticleWriter

pytestmark = pytest.mark.whoosh_only

# Text that exercises the analysis: stop words and one-letter words before the first
# word kept (positions start at the first word's place), repeats, dotted words, numbers,
# accents, dotted capital I (lower-cases to two characters), full-width letters, an
# apostrophe, underscores, and words that stem alike.
TRICKY = [
    ("The a I U.S. rates: a rise", "The U.S. Federal Reserve added to rates; rates rose, and "
     "the Élysée said Paris's 3.5% rise was 'modest'. İstanbul ＡＢＣ ａｂｃ naïve café "
     "cafe CAFÉ ran running runs runner e.g. a.b.c snake_case x y z 1987 1,000"),
    ("Cocoa", "Cocoa cocoa COCOA cocoa-bean prices; the cocoa zone. " * 20),
    ("", "a the of and to in"),
    ("Headline only", ""),
    ("Long", " ".join(f"word{n % 700} filler" for n in range(5000))),
    ("Müller über straße", "ÆSIR Øresund œuvre ﬁnance Ωmega σίσυφος Привет мир 東京 株価"),
]


def documents() -> list[dict]:
    found = []
    for number, (headline, body) in enumerate(TRICKY):
        document = {
            "id": f"doc-{number}",
            "headline": headline,
            "body": body,
            "source": "/news/export.jsonl",
            "source_key": "/news/export.jsonl\x0012:34",
            "signature": bytes([number + 1]) * duplicates.SIGNATURE_BYTES,
        }
        if number % 2 == 0:
            document["date"] = datetime(1987, 3, 1 + number)
        if number == 1:
            document["caption"] = "A cocoa farmer in Bahia"
            document["author"] = "Jane Doe"
        for name in ("headline", "body"):
            if not document[name]:
                del document[name]
        found.append(document)
    return found


def build(folder: Path, writer_class, docs: list[dict], limitmb: int = 128, schema=None):
    folder.mkdir()
    ix = whoosh_index.create_in(str(folder), schema or indexing.make_schema(),
                                indexname=indexing.INDEX_NAME)
    writer = writer_class(ix, limitmb=limitmb)
    for document in docs:
        writer.add_document(**document)
    writer.commit()
    return whoosh_index.open_dir(str(folder), indexname=indexing.INDEX_NAME).reader()


def postings(reader, field: str, term: bytes) -> list:
    matcher = reader.postings(field, term)
    found = []
    while matcher.is_active():
        found.append((matcher.id(), matcher.weight(), matcher.value()))
        matcher.next()
    return found


def assert_same_index(whoosh_reader, ours) -> None:
    assert ours.doc_count_all() == whoosh_reader.doc_count_all()
    fields = set(whoosh_reader.indexed_field_names())
    assert set(ours.indexed_field_names()) == fields
    for field in sorted(fields):
        words = list(whoosh_reader.lexicon(field))
        assert list(ours.lexicon(field)) == words, field
        for word in words:
            if field == "spell_body":
                # Ours keeps one posting per word whose weight is the count of articles.
                assert ours.frequency(field, word) == whoosh_reader.doc_frequency(field, word)
                continue
            assert postings(ours, field, word) == postings(whoosh_reader, field, word)
            theirs, mine = whoosh_reader.term_info(field, word), ours.term_info(field, word)
            for statistic in ("doc_frequency", "weight", "min_length", "max_length",
                              "max_weight", "min_id", "max_id"):
                assert getattr(mine, statistic)() == getattr(theirs, statistic)(), (
                    field, word, statistic)
        if whoosh_reader.schema[field].scorable:
            assert ours.field_length(field) == whoosh_reader.field_length(field)
    for docnum in range(whoosh_reader.doc_count_all()):
        assert ours.stored_fields(docnum) == whoosh_reader.stored_fields(docnum)
        for field in ("headline", "body", "caption", "author"):
            assert (ours.doc_field_length(docnum, field)
                    == whoosh_reader.doc_field_length(docnum, field))
    for column in ("signature", "date"):
        theirs = whoosh_reader.column_reader(column, translate=False)
        mine = ours.column_reader(column, translate=False)
        assert [mine[n] for n in range(ours.doc_count_all())] == [
            theirs[n] for n in range(ours.doc_count_all())]


def test_the_article_writer_writes_what_whooshs_writer_writes(tmp_path):
    docs = documents()
    assert_same_index(build(tmp_path / "whoosh", SegmentWriter, docs),
                      build(tmp_path / "ours", ArticleWriter, docs))
    assert check_index(tmp_path / "ours") is None  # every word's postings read back


def test_an_index_built_with_another_analyzer_is_written_with_that_one(tmp_path):
    """An index from before the stemmer changed keeps its own analysis when updated."""
    from whoosh.analysis import CharsetFilter, StemmingAnalyzer
    from whoosh.fields import TEXT
    from whoosh.lang.porter2 import stem
    from whoosh.support.charset import accent_map

    older = StemmingAnalyzer(stemfn=stem) | CharsetFilter(accent_map)
    schema = indexing.make_schema()
    for name in ("headline", "body", "caption", "author"):
        schema.remove(name)
        schema.add(name, TEXT(stored=True, analyzer=older, spelling=name == "body"))
    docs = documents()
    ours = build(tmp_path / "ours", ArticleWriter, docs, schema=schema)
    assert_same_index(build(tmp_path / "whoosh", SegmentWriter, docs, schema=schema), ours)
    assert ("body", b"ad") in ours  # that stemmer's "added"


def test_the_same_holds_when_postings_overflow_the_memory_limit(tmp_path, monkeypatch):
    """Past its memory limit the writer hands its postings to Whoosh's pool, which
    spills to disk: the index is the same."""
    monkeypatch.setattr("searchapp.backends.whoosh.writer.POSTING_BYTES", 2**15)
    docs = [dict(document, id=f"doc-{number}")
            for number, document in enumerate(documents() * 40)]
    ours = build(tmp_path / "ours", ArticleWriter, docs, limitmb=1)
    assert list((tmp_path / "ours").glob("*.tmp")) == []  # the spilled runs are gone
    assert_same_index(build(tmp_path / "whoosh", SegmentWriter, docs), ours)


def test_the_same_holds_on_real_news_across_many_blocks(tmp_path):
    """Words in more than 128 articles span several blocks of postings."""
    docs = []
    for number in range(400):
        docs.append({
            "id": f"story-{number}",
            "headline": f"Story {number} on cocoa and {'coffee' if number % 3 else 'tea'}",
            "body": (f"Prices rose {number} points as traders in New York bought cocoa. "
                     f"The {'dollar' if number % 2 else 'yen'} fell. " * (1 + number % 5)),
            "source": f"/news/{number % 7}.txt",
            "source_key": f"/news/{number % 7}.txt\x001:2",
            "date": datetime(1987, 1 + number % 12, 1 + number % 28),
        })
    assert_same_index(build(tmp_path / "whoosh", SegmentWriter, docs),
                      build(tmp_path / "ours", ArticleWriter, docs))


def test_lengths_are_those_the_lengths_column_gives_back():
    """Postings carry each article's length as Whoosh's one-byte code gives it back; the
    writer's table of them (made with NumPy) says what Whoosh's functions say."""
    assert list(writer._STORED_LENGTH) == [
        byte_to_length(length_to_byte(length)) for length in range(len(writer._STORED_LENGTH))]


def test_positions_are_encoded_as_whooshs_format_encodes_them():
    """Every posting's positions, one or thousands, near or far (one, two and four
    bytes a gap), give the bytes Whoosh's ``Positions`` format gives."""
    import random

    rng = random.Random(8)
    postings = [sorted(rng.sample(range(rng.choice([3000, 5000, 70_000, 2**24])),
                                  rng.choice([1, 1, 2, 3, 40, 999, 1000, 1001, 2500])))
                for _ in range(300)]
    counts = np.array([len(positions) for positions in postings])
    starts = np.cumsum(counts) - counts
    found = writer._position_values(np.array(sum(postings, [])), starts, counts)
    assert found == [Positions().encode(positions) for positions in postings]


@pytest.mark.parametrize("text", [
    "U.S. officials said.", "a..b...c....d", ".lead. trail.", "x.y.z. .a. b.", "...",
    "e.g., 3.5 pct vs 2.25", "snake_case __init__ a_.b", "tab\there\nnew\x1fline", "",
    "café déjà-vu 1.5", "Zürich.Bank", "ﬁne", "١٢٣ digits",
])
def test_split_words_finds_what_the_tokenizer_pattern_finds(text):
    """Words with dots (abbreviations, numbers, sentence ends), underscores, controls
    and non-ASCII letters are found as Whoosh's tokenizer pattern finds them."""
    assert writer.split_words(text) == writer.WORD_PATTERN.findall(text)


def test_split_words_agrees_with_the_pattern_on_random_ascii():
    import random

    rng = random.Random(16)
    alphabet = "aZ9_. .\t\n-,'()\x00\x7f"
    for _ in range(20_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24)))
        assert writer.split_words(text) == writer.WORD_PATTERN.findall(text), repr(text)


@pytest.mark.parametrize("value", ["reuters21578-12", "a b  c ", "", "Caf\u00e9/\u4e2d.txt",
                                   "UPPER lower"])
def test_an_id_fields_terms_are_what_the_field_gives(value):
    """Ids (and sources, keys) get the terms Whoosh's field would give them: the whole
    value, as it is, or lowered for an ID field that lowers."""
    from whoosh.analysis import IDAnalyzer
    from whoosh.fields import ID, KEYWORD

    for field in (ID(stored=True, unique=True), ID(analyzer=IDAnalyzer(lowercase=True)),
                  ID(field_boost=2.0), KEYWORD(lowercase=True)):
        assert writer.terms_of(field, value) == list(field.index(value))


def test_the_words_file_is_the_bytes_whooshs_writer_writes():
    """Words added in batches, their records past 64 KB (the place list's type grows),
    then the hash tables: the bytes Whoosh's ``OrderedHashWriter`` writes a word at a time."""
    from io import BytesIO

    from whoosh.filedb.filetables import OrderedHashWriter
    from whoosh.filedb.structfile import StructFile

    class Kept(BytesIO):
        def close(self):  # the writers close their file: keep its bytes
            pass

    entries = [(f"w{number:06d}".encode(), bytes(number % 50)) for number in range(4000)]
    made = []
    for ours in (False, True):
        stream = Kept()
        words = OrderedHashWriter(StructFile(stream))
        if ours:
            for first, end in ((0, 1), (1, 1500), (1500, 3000)):
                writer._add_to_words_file(words, entries[first:end])
            words._write_hashes = lambda words=words: writer._write_hash_tables(words)
        else:
            for key, value in entries[:3000]:
                words.add(key, value)
        words.close()
        made.append(stream.getvalue())
    assert made[0] == made[1]
    assert len(made[0]) > 2**16


def write_feed(folder: Path, records: list[tuple[str, str]]) -> Path:
    import json
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "feed.jsonl"
    path.write_text("".join(
        json.dumps({"id": f"a{n}", "headline": headline, "date": "1987-03-02", "body": body})
        + "\n" for n, (headline, body) in enumerate(records)))
    return folder


CORRECTION_RECORDS = [
    ("Volcker testifies", "Federal Reserve chairman Paul Volcker told Congress inflation "
     "was under control."),
    ("Volcker on rates", "Volcker said interest rates would stay. Volcker spoke in Washington."),
    ("Volker Stevin results", "Volker Stevin, the Dutch builder, reported profits."),
    ("Coffee quotas", "Coffee producers met in London to discuss coffee export quotas."),
    ("Coffee prices", "Brazil coffee prices rose; coffee growers welcomed the quota talks."),
    ("Cocoa review", "Showers continued in the Bahia cocoa zone, improving cocoa prospects."),
    ("Petroleum output", "Petroleum output rose as petrochemical plants expanded."),
]


def archives_written_both_ways(tmp_path, monkeypatch) -> dict[str, WhooshArchive]:
    """Index CORRECTION_RECORDS with Whoosh's writer and with ours; return both archives."""
    folder = write_feed(tmp_path / "news", CORRECTION_RECORDS)
    archives = {}
    for name, writer_class in (("whoosh", SegmentWriter), ("ours", ArticleWriter)):
        monkeypatch.setattr(indexing, "ArticleWriter", writer_class)
        indexing.update_index([folder], tmp_path / name)
        archives[name] = WhooshArchive(tmp_path / name)
    return archives


@pytest.mark.parametrize("query", ["volcer", "cofee", "cocao", "petrolium", "inflaton"])
def test_corrections_are_what_whooshs_writer_gave(tmp_path, monkeypatch, query):
    """Did-you-mean reads the spelling words' counts: the same with either writer."""
    found = {}
    for name, archive in archives_written_both_ways(tmp_path, monkeypatch).items():
        results = archive.search(query)
        found[name] = (results.suggestion, results.corrected, results.total)
    assert found["ours"] == found["whoosh"]
    assert found["ours"][0] or found["ours"][1]  # each of these has a correction


@pytest.mark.parametrize("prefix", ["cof", "vol", "pet", "coc"])
def test_completions_are_what_whooshs_writer_gave(tmp_path, monkeypatch, prefix):
    found = {name: archive.complete(prefix)
             for name, archive in archives_written_both_ways(tmp_path, monkeypatch).items()}
    assert found["ours"] == found["whoosh"]
    assert found["ours"]
