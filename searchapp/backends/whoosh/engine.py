"""Evaluate a query tree term at a time over the index's postings.

A word's postings are read a block of 128 at a time into arrays of article numbers and
frequencies, scored with BM25F in a few array operations (``ranking``); phrases are found
from their rarest word's postings. Each segment of the index is evaluated on its own,
with the length and date columns it needs read once (``Segment``) and shared by all
threads. Whoosh's own matchers score only prefixes and quoted single words.
"""

from __future__ import annotations

import bisect
import functools
import io
import itertools
import math
import pickle
import struct
import time
import zlib
from array import array
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
from whoosh import index as whoosh_index
from whoosh import query as wq
from whoosh.codec import whoosh3
from whoosh.matching import FilterMatcher
from whoosh.reading import TermNotFound
from whoosh.util.numeric import byte_to_length

from searchapp.backends.whoosh import ranking
from searchapp.backends.whoosh.indexing import column_values, length_codes
from searchapp.backends.whoosh.query import FIELD_WEIGHTS, PhraseQuery, WordQuery
from searchapp.querylang import FIELD_ALIASES

# BM25's term-frequency saturation and length normalisation.
BM25_K1 = 1.6
BM25_B = 0.65
# The sort key of a missing date in Whoosh's 64-bit date column.
UNDATED_KEY = 2**64 - 1
# The fields a query can look in: those every word looks in, and those named (``author:``).
SEARCHABLE_FIELDS = sorted(set(FIELD_WEIGHTS) | set(FIELD_ALIASES.values()))
# The article length each of the index's one-byte length codes stands for.
CODED_LENGTHS = [byte_to_length(code) for code in range(256)]
# Words whose article counts a searcher remembers (``word_frequency``).
MAX_CACHED_FREQUENCIES = 50_000
# A block of postings: its length (negative for a term's last block), then the pickle of
# its info, then its data (``whoosh3.W3LeafMatcher._goto``).
BLOCK_LENGTH = struct.Struct("!i")
# Where a block's positions start in its data, the pickle of (gaps between article
# numbers, frequencies, positions): Python pickles each article's positions (bytes) as
# a call of ``_codecs.encode``, the first of them spelled out in full. (Nothing before
# them can hold these bytes: the gaps and frequencies are pickled as opcodes K, M, J and
# G, none of which is among them, each followed by 1 to 8 bytes.)
POSITIONS_START = b"c_codecs\nencode\n"
# The same call with the ``bytes`` constructor (protocol 2 spells builtins so).
BYTES_GLOBAL = b"c__builtin__\nbytes\n"
# How much of a block's data is unpacked at a time, looking for its positions: the
# article numbers and frequencies before them take 1,400 bytes of a body word's block.
HEAD_BYTES = 1024


def _read_ids(self):
    """Whoosh 2.7.4's ``W3LeafMatcher._read_ids``, with the gaps between article numbers
    added up by ``itertools.accumulate`` (in C) instead of a Python generator, one call a
    posting: the same numbers, and the generator alone was 3% of the CPU time of searching
    Reuters-21578 under cProfile (BENCHMARKS.md, issue 16, session 5)."""
    if self._data is None:
        self._read_data()
    ids = self._data[0]
    if not self._byteids:
        ids = tuple(itertools.accumulate(ids))
    self._ids = ids


whoosh3.W3LeafMatcher._read_ids = _read_ids


def _idf(searcher, text: str) -> float:
    """Return BM25's idf of a word, counting an article that has it in any field once."""
    n_docs = searcher.get_parent().doc_count_all()
    df = word_frequency(searcher, text)
    # Lucene's idf: a word in most articles weighs next to nothing (Whoosh's adds 1).
    return math.log(1 + (n_docs - df + 0.5) / (df + 0.5))


def word_frequency(searcher, text: str) -> int:
    """Return how many articles of the whole index have a word (as the index holds it) in
    the field where it is commonest, which stands in for "articles that have it".

    Remembered by the searcher, which sees one state of the index (a commit brings a new
    one): each count is a look-up in every segment's word table, a few reads of the file.
    """
    parent = searcher.get_parent()  # statistics of the whole index, not one segment
    counts = parent.__dict__.setdefault("_searchapp_word_frequencies", {})
    count = counts.get(text)
    if count is None:
        if len(counts) >= MAX_CACHED_FREQUENCIES:
            counts.clear()
        count = counts[text] = max(parent.doc_frequency(name, text) for name in FIELD_WEIGHTS)
    return count


@dataclass
class Segment:
    """What scoring needs of one segment of the index, read once and shared by threads."""

    doc_count: int
    deleted: frozenset[int]
    # One length code per article for each searchable field.
    lengths: dict[str, bytes]
    # Each article's raw date key (UNDATED_KEY when it has none).
    dates: array
    # The segment's words, unstemmed and sorted, read when a correction first needs them:
    # Whoosh's own walk over the term file reads it a few bytes at a time.
    words: list[str] | None = None
    # The articles' near-duplicate signatures, one after another, read when folding
    # copies first needs them (only for a small segment: see archive._signatures).
    signatures: bytes | None = None


@dataclass
class Leaf:
    """One segment as one request sees it."""

    searcher: object
    offset: int
    segment: Segment


class Run:
    """One query's evaluation: index-wide statistics, and the time it may take.

    ``postings`` counts the postings read (and matches scored by Whoosh's matchers): the
    work done, which stops soon after the deadline whatever the query.
    """

    def __init__(self, searcher, deadline: float):
        self.searcher = searcher
        self.deadline = deadline
        self.expired = False
        self.postings = 0
        self._idf: dict[str, float] = {}
        # Each term's look-up in a segment's word table: (reader, field, term) -> info.
        self.term_infos: dict[tuple, object] = {}
        self._counted: dict[tuple, tuple[ranking.Matches, np.ndarray]] = {}

    def out_of_time(self) -> bool:
        if not self.expired and time.monotonic() > self.deadline:
            self.expired = True
        return self.expired

    def counted(self, parts: list[wq.Query], leaf: Leaf) -> tuple[ranking.Matches, np.ndarray]:
        """Return the sum of ``parts``' scores and how many of them match, per article of
        ``leaf``: worked out once for this run."""
        key = (tuple(map(id, parts)), leaf.offset)
        if key not in self._counted:
            self._counted[key] = ranking.count_matches(
                score_segment(part, leaf, self) for part in parts)
        return self._counted[key]

    def idf(self, text: str) -> float:
        if text not in self._idf:
            self._idf[text] = _idf(self.searcher, text)
        return self._idf[text]

    def norms(self, field_name: str, weight: float) -> np.ndarray:
        # The average is remembered by the searcher, which sees one state of the index:
        # Whoosh adds up every segment's total length each time it is asked.
        parent = self.searcher.get_parent()
        averages = parent.__dict__.setdefault("_searchapp_average_lengths", {})
        if field_name not in averages:
            averages[field_name] = parent.avg_field_length(field_name)
        return _length_norms(weight, averages[field_name])


@functools.lru_cache(maxsize=64)
def _length_norms(weight: float, average_length: float) -> np.ndarray:
    """A field's length normalisation for each length code (averages change on commits)."""
    return ranking.length_norms(weight, average_length, BM25_B, CODED_LENGTHS)


def score_segment(query: wq.Query, leaf: Leaf, run: Run) -> ranking.Scores:
    """Score the articles of one segment that ``query`` matches.

    Once the run is out of time, no more postings are read: what was found by then is
    kept where it is certain to match (a word's partial postings, an ``Or`` of what was
    scored), and dropped where it is not (a phrase not checked word by word, anything
    whose exclusions were not all read).
    """
    if isinstance(query, wq.Or) and query.minmatch:
        # The words a reader's query requires most of (``Archive``). Each article's sum
        # of scores and count of words are kept for the run, so that asking again for
        # fewer of the words reads no postings twice and costs one pass over the sums.
        totals, counts = run.counted(query.subqueries, leaf)
        return ranking.counted_at_least(totals, counts, query.minmatch, query.boost)
    if isinstance(query, (wq.Or, wq.And)):
        parts = (score_segment(q, leaf, run) for q in query.subqueries)
        combine = ranking.union if isinstance(query, wq.Or) else ranking.intersection
        return combine(parts, query.boost)
    if isinstance(query, wq.AndMaybe):
        a = score_segment(query.a, leaf, run)
        return ranking.with_optional(a, score_segment(query.b, leaf, run), query.boost)
    if isinstance(query, wq.AndNot):
        # Exclusions first: an article may be listed only if all of them were read.
        excluded = score_segment(query.b, leaf, run)
        if run.out_of_time():
            return ranking.NO_MATCHES
        return ranking.without(score_segment(query.a, leaf, run), excluded, query.boost)
    if isinstance(query, wq.Every):
        # Every article scores the same: no table the size of the archive.
        return ranking.Everything(leaf.segment.doc_count)
    if run.out_of_time():
        return ranking.NO_MATCHES
    if isinstance(query, WordQuery):
        return _word_scores(query, leaf, run)
    if isinstance(query, PhraseQuery):
        return _phrase_scores(query, leaf, run)
    return _matcher_scores(query, leaf, run)


def _word_scores(query: WordQuery, leaf: Leaf, run: Run) -> ranking.Scores:
    """Score a word with BM25F, from each field's postings in turn."""
    reader = leaf.searcher.reader()
    fields = []
    for term in query.subqueries:
        name = term.fieldname
        btext = reader.schema[name].to_bytes(term.text)
        ids, counts = _frequency_arrays(reader, name, btext, run)
        codes = np.frombuffer(leaf.segment.lengths[name], dtype=np.uint8)
        fields.append(ranking.field_frequencies(ids, counts, codes,
                                                run.norms(name, term.boost)))
        if run.expired:
            break
    frequencies, _ = ranking.count_matches(fields)
    return ranking.saturate(frequencies, query.boost * run.idf(query.subqueries[0].text),
                            BM25_K1)


def _phrase_scores(query: PhraseQuery, leaf: Leaf, run: Run) -> ranking.Scores:
    """Score a phrase with BM25F: its occurrences stand for a word's, its words' idfs add up."""
    reader = leaf.searcher.reader()
    fields = []
    for part in query.subqueries:
        counts = ranking.Matches.of(
            _phrase_counts(reader, part.fieldname, part.words, query.offsets, run))
        codes = np.frombuffer(leaf.segment.lengths[part.fieldname], dtype=np.uint8)
        fields.append(ranking.field_frequencies(counts.ids, counts.scores, codes,
                                                run.norms(part.fieldname, part.boost)))
    frequencies, _ = ranking.count_matches(fields)
    weight = query.boost * sum(run.idf(word) for word in query.subqueries[0].words)
    return ranking.saturate(frequencies, weight, BM25_K1)


def _phrase_counts(reader, field_name: str, words: list[str], offsets: tuple[int, ...],
                   run: Run) -> dict[int, int]:
    """Count each article's occurrences of the words at the offsets the query has them.

    Each distinct word is read once, the rarest first: its positions give each article
    the places where the phrase may start. Each next word keeps only the places it
    confirms, read only for the articles still in the running, and skips the blocks of
    postings that hold none of them. So the memory is one table the size of the rarest
    word's postings, however long the phrase. Out of time, nothing unconfirmed counts.
    """
    field = reader.schema[field_name]
    shifts: dict[bytes, list[int]] = {}  # a word's offsets in the phrase (more if repeated)
    for word, offset in zip(words, offsets, strict=True):
        shifts.setdefault(field.to_bytes(word), []).append(offset)
    infos = {term: _term_info(reader, field_name, term, run) for term in shifts}
    if any(info is None for info in infos.values()):
        return {}
    order = sorted(shifts, key=lambda term: infos[term].doc_frequency())
    decode = field.format.decode_positions

    def starts(term: bytes, encoded: bytes) -> set[int]:
        positions = decode(encoded)
        found = None
        for shift in shifts[term]:
            here = {p - shift for p in positions}
            found = here if found is None else found & here
        return found

    first = order[0]
    # The rarest word's positions, kept encoded (compact) until the next word is read.
    encoded: dict[int, bytes] = {}
    for ids, values in _postings(reader, field_name, first, run):
        encoded.update(zip(ids, values, strict=True))
        if run.out_of_time():
            return {}
    places = None  # once a second word is read: each article's confirmed starts
    wanted = sorted(encoded)
    for term in order[1:]:
        confirmed = {}
        for docnum, value in _wanted_postings(reader, field_name, term, wanted, run):
            here = starts(term, value)
            here &= starts(first, encoded[docnum]) if places is None else places[docnum]
            if here:
                confirmed[docnum] = here
        if run.out_of_time():
            return {}
        places, wanted = confirmed, sorted(confirmed)
        encoded = {}
        if not places:
            return {}
    if places is None:
        places = {docnum: starts(first, value) for docnum, value in encoded.items()}
    return {docnum: len(found) for docnum, found in places.items() if found}


def _frequency_arrays(reader, field_name: str, btext: bytes, run: Run
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Return a term's postings in one segment as arrays of article numbers and
    frequencies: all of them, or the blocks read before the run ran out of time.

    Deleted articles are included; the caller drops them once for the whole query.
    """
    postings = _postings_bytes(reader, field_name, btext, run)
    if postings is None:
        matcher = _leaf_matcher(reader, field_name, btext, run)
        ids, counts = [], []
        while matcher is not None and matcher.is_active():
            ids.append(matcher.id())
            counts.append(matcher.weight())
            matcher.next()
        run.postings += len(ids)
        return np.array(ids, dtype=np.int64), np.array(counts, dtype=np.float64)
    # Every gap between article numbers in one array, added up in one go at the end:
    # a block's first number is whole, so the last number of the block before it (its
    # info says which) is taken off.
    gaps, counts = array("q"), array("d")
    last = 0
    for count, top, data, compressed in _blocks(postings):
        block_gaps, weights = _gaps_and_weights(data, compressed, count)
        start = len(gaps)
        gaps.extend(block_gaps)
        gaps[start] -= last
        last = top
        if weights is None or isinstance(weights, float):
            weights = (1.0 if weights is None else weights,) * count
        counts.extend(weights)
        run.postings += count
        if run.out_of_time():
            break
    ids = np.cumsum(np.frombuffer(gaps, dtype=np.int64)) if gaps else np.zeros(0, np.int64)
    return ids, np.frombuffer(counts, dtype=np.float64) if counts else np.zeros(0)


def _postings(reader, field_name: str, btext: bytes, run: Run):
    """Yield a term's postings a block at a time, as (article numbers, encoded positions).

    Deleted articles are included; the caller drops them once for the whole query.
    """
    postings = _postings_bytes(reader, field_name, btext, run, positions=True)
    if postings is not None:
        for count, _, data, compressed in _blocks(postings):
            ids, values = _positions(zlib.decompress(data) if compressed else data)
            run.postings += count
            yield ids, values
        return
    matcher = _leaf_matcher(reader, field_name, btext, run)
    while matcher is not None and matcher.is_active():
        run.postings += 1
        yield (matcher.id(),), (matcher.value(),)
        matcher.next()


def _wanted_postings(reader, field_name: str, btext: bytes, wanted: list[int], run: Run):
    """Yield (article number, encoded positions) of a term for the sorted ``wanted``
    articles only, skipping unread the blocks of postings that hold none of them."""
    postings = _postings_bytes(reader, field_name, btext, run, positions=True)
    if postings is None:
        keep = set(wanted)
        for ids, values in _postings(reader, field_name, btext, run):
            yield from ((d, v) for d, v in zip(ids, values, strict=True) if d in keep)
        return
    if not wanted:
        return
    keep = set(wanted)
    below = 0  # wanted[below] is the first wanted article past the blocks read
    for count, top, data, compressed in _blocks(postings):
        if top >= wanted[below]:  # the block may hold some: read it
            ids, values = _positions(zlib.decompress(data) if compressed else data)
            run.postings += count
            for docnum, value in zip(ids, values, strict=True):
                if docnum in keep:
                    yield docnum, value
            below = bisect.bisect_right(wanted, top, below)
            if below == len(wanted) or run.out_of_time():
                return


def _blocks(postings: bytes):
    """Yield each block of a term's postings (``_postings_bytes``) as (how many postings,
    the last article number, its data, whether the data is compressed)."""
    if not postings:  # the segment has no such term
        return
    if postings[:len(whoosh3.WHOOSH3_HEADER_MAGIC)] != whoosh3.WHOOSH3_HEADER_MAGIC:
        # Whoosh's own words for it (W3LeafMatcher._read_header).
        raise whoosh_index.IndexError(f"Block tag error {postings[:4]!r}")
    stream = io.BytesIO(postings)
    position = len(whoosh3.WHOOSH3_HEADER_MAGIC)
    last = False
    while not last:
        (length,) = BLOCK_LENGTH.unpack_from(postings, position)
        last = length < 0
        end = position + BLOCK_LENGTH.size + abs(length)
        stream.seek(position + BLOCK_LENGTH.size)
        count, top, _, compressed, _, _ = pickle.load(stream)
        data = postings[stream.tell():end]
        yield count, top, data, compressed
        position = end


def _positions(data: bytes) -> tuple[tuple[int, ...], tuple[bytes, ...]]:
    """Return a block's article numbers and each one's encoded positions.

    Each article's positions are rebuilt by ``bytes(text, "latin1")`` rather than the
    pickle's ``_codecs.encode(text, "latin1")``: the same bytes, and a third less time to
    unpickle a block, as the codec is not looked up for each article.
    """
    gaps, _, values = pickle.loads(data.replace(POSITIONS_START, BYTES_GLOBAL, 1))
    return tuple(itertools.accumulate(gaps)), values


def _gaps_and_weights(data: bytes, compressed: int, count: int
                      ) -> tuple[tuple[int, ...], tuple[float, ...] | float | None]:
    """Return the gaps between a block's article numbers and its frequencies (a tuple,
    one float for all, or None for all 1.0), without unpickling its positions.

    Python pickles each article's positions (bytes) as a call of ``_codecs.encode``:
    unpickling them with the rest was four fifths of reading a body word's postings, and
    unpacking them a tenth (BENCHMARKS.md, "Session 7: matching"). Here the data is
    unpacked up to where the positions start, and the pickle cut there.
    """
    head = _unpacked_head(data) if compressed else data
    cut = head.find(POSITIONS_START)
    if cut > 0:
        # The data pickles a 3-tuple item by item (protocol 2): up to the cut, it holds
        # the first two items, and the positions tuple's mark when it has more than 3.
        head = head[:cut - 1] if head[cut - 1:cut] == b"(" else head[:cut]
        try:
            gaps, weights = pickle.loads(head + pickle.TUPLE2 + pickle.STOP)
        except Exception:  # noqa: BLE001 - not cut where expected: read it all below
            gaps, weights = None, None
        if (isinstance(gaps, tuple) and len(gaps) == count
                and (weights is None or isinstance(weights, float) or len(weights) == count)):
            return gaps, weights
    gaps, weights, _ = pickle.loads(zlib.decompress(data) if compressed else data)
    return gaps, weights


def _unpacked_head(data: bytes) -> bytes:
    """Unpack compressed block data as far as its positions (or all of it)."""
    unpacker = zlib.decompressobj()
    head = unpacker.decompress(data, HEAD_BYTES)
    while unpacker.unconsumed_tail and head.find(POSITIONS_START, -HEAD_BYTES - 16) < 0:
        head += unpacker.decompress(unpacker.unconsumed_tail, HEAD_BYTES)
    return head


def _leaf_matcher(reader, field_name: str, btext: bytes, run: Run):
    """Return a matcher over a term's postings in one segment, deleted articles included
    (None when no article of the segment has the term)."""
    if _term_info(reader, field_name, btext, run) is None:
        return None
    matcher = reader.postings(field_name, btext)
    return matcher.child if isinstance(matcher, FilterMatcher) else matcher


def _term_info(reader, field_name: str, btext: bytes, run: Run):
    """Return a term's statistics and place in one segment (None when it has no such term).

    Remembered for the run: a look-up in Whoosh's word table is a few reads of the file,
    and a query looks up each word in every field of every segment, again when it asks
    for fewer of its words. Not for longer: a search then reads the table again, and a
    damaged index is noticed (``_reads_index``).
    """
    key = (id(reader), field_name, btext)
    if key not in run.term_infos:
        try:
            run.term_infos[key] = reader.term_info(field_name, btext)
        except TermNotFound:
            run.term_infos[key] = None
    return run.term_infos[key]


def _postings_bytes(reader, field_name: str, btext: bytes, run: Run, positions: bool = False
                    ) -> bytes | None:
    """Return a term's postings as the postings file holds them, read in one go: empty
    when the segment has no such term, None when they are not read so (a term with one
    posting kept in the words file, an index of another codec or layout).

    Whoosh 2.7.4 reads them block by block, a few bytes at a time (the block's header is
    unpickled straight from the file), a seek and a read each, which was a tenth of a
    search's time.
    """
    terms = getattr(reader, "_terms", None)
    if not isinstance(terms, whoosh3.W3TermsReader):
        return None
    if positions and reader.schema[field_name].format.fixed_value_size() is not None:
        return None  # not encoded positions, one bytes string each: Whoosh decodes them
    info = _term_info(reader, field_name, btext, run)
    if info is None:
        return b""
    if info.is_inlined():
        return None
    offset, length = info.extent()
    # Whoosh 2.7.4 reads the length back as a one-item tuple (it never uses it).
    length = length[0] if isinstance(length, tuple) else length
    return terms._postfile.get(offset, length)


def _matcher_scores(query: wq.Query, leaf: Leaf, run: Run) -> ranking.Scores:
    """Score prefixes and quoted single words with Whoosh's own matchers."""
    scores = {}
    matcher = query.matcher(leaf.searcher, leaf.searcher.context())
    count = 0
    while matcher.is_active():
        scores[matcher.id()] = matcher.score()
        matcher.next()
        count += 1
        if count % 1024 == 0 and run.out_of_time():
            break
    run.postings += count
    return scores


def read_segment(reader) -> Segment:
    """Read the length and date columns of one segment into memory."""
    doc_count = reader.doc_count_all()
    lengths = {name: length_codes(reader._perdoc, name) for name in SEARCHABLE_FIELDS}
    column = reader.column_reader("date", translate=False) if reader.has_column("date") else None
    dates = column_values(column, doc_count, "Q", UNDATED_KEY)
    return Segment(doc_count, frozenset(reader.segment().deleted_docs()), lengths, dates)


def first_matches(matches: list[tuple[Leaf, ranking.Scores]], count: int,
                  sort: str) -> list[tuple[int, float]]:
    """Return the first ``count`` matches in the order asked for, as (article, score)."""
    if sort == "relevance":
        if not matches:
            return []
        # Each segment's best, merged in one sort of arrays: sorted as Python tuples,
        # they took 0.23 ms a query of the median-type speed queries (the 100 results
        # that copies are looked for in), 0.07 so (BENCHMARKS.md, "Session 9").
        firsts = [ranking.best_matches(scores, count) for _, scores in matches]
        ids = np.concatenate([leaf.offset + found.ids
                              for (leaf, _), found in zip(matches, firsts, strict=True)])
        values = np.concatenate([found.scores for found in firsts])
        order = np.lexsort((ids, -values))[:count]
        return list(zip(ids[order].tolist(), values[order].tolist(), strict=True))
    keyed = []
    for leaf, scores in matches:
        keys = _date_order(leaf.segment.dates, sort)
        keyed += [(int(keys[d]), -score, leaf.offset + d) for d, score in
                  ranking.first_by_keys(scores, count, keys)]
    return [(docnum, -negated) for _, negated, docnum in sorted(keyed)[:count]]


def _date_order(dates: array, sort: str) -> np.ndarray:
    """Return each article's sort key for ``sort`` (smallest first), undated articles last."""
    keys = np.frombuffer(dates, dtype=np.uint64)
    if sort == "oldest":
        return keys
    # Whoosh gives an undated article the largest key: keep it largest, turn the rest
    # round (what negating them would do, in unsigned numbers).
    return np.where(keys == UNDATED_KEY, keys, np.uint64(UNDATED_KEY - 1) - keys)


def date_column(segment: Segment) -> np.ndarray:
    """Return a segment's raw date keys as an array (a view of ``Segment.dates``)."""
    return np.frombuffer(segment.dates, dtype=np.uint64)


def date_keys(searcher, date_from: date | None, date_to: date | None):
    """Return the date range as the date column's keys, or (None, None) for any date."""
    if not date_from and not date_to:
        return None, None
    to_key = searcher.schema["date"].to_column_value
    low = to_key(datetime(date_from.year, date_from.month, date_from.day)) if date_from else 0
    high = (to_key(datetime(date_to.year, date_to.month, date_to.day, 23, 59, 59))
            if date_to else UNDATED_KEY - 1)  # an undated article is outside any range
    return low, high
