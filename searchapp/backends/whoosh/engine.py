"""Evaluate a query tree term at a time over the index's postings.

A word's postings are read a block at a time (Whoosh decodes a block of 128 at once) into
a table of article number to BM25F score (``ranking``); phrases are found from their
rarest word's postings. Each segment of the index is evaluated on its own, with the length
and date columns it needs read once (``Segment``) and shared by all threads. Whoosh's own
matchers score only prefixes and quoted single words.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
import time
from array import array
from dataclasses import dataclass
from datetime import date, datetime

from whoosh import query as wq
from whoosh.codec import whoosh3
from whoosh.filedb.structfile import BufferFile
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
        self._counted: dict[tuple, tuple[ranking.Scores, dict]] = {}

    def out_of_time(self) -> bool:
        if not self.expired and time.monotonic() > self.deadline:
            self.expired = True
        return self.expired

    def counted(self, parts: list[wq.Query], leaf: Leaf) -> tuple[ranking.Scores, dict]:
        """Return the sum of ``parts``' scores and how many of them match, per article of
        ``leaf``: worked out once for this run, folding in one part at a time."""
        key = (tuple(map(id, parts)), leaf.offset)
        if key not in self._counted:
            self._counted[key] = ranking.count_matches(
                score_segment(part, leaf, self) for part in parts)
        return self._counted[key]

    def idf(self, text: str) -> float:
        if text not in self._idf:
            self._idf[text] = _idf(self.searcher, text)
        return self._idf[text]

    def norms(self, field_name: str, weight: float) -> list[float]:
        return _length_norms(weight, self.searcher.get_parent().avg_field_length(field_name))


@functools.lru_cache(maxsize=64)
def _length_norms(weight: float, average_length: float) -> list[float]:
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
        # Folded in one part at a time: a query's 128 words never hold 128 tables at once.
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
            return {}
        return ranking.without(score_segment(query.a, leaf, run), excluded, query.boost)
    if isinstance(query, wq.Every):
        # Every article scores the same: no table the size of the archive.
        return ranking.Everything(leaf.segment.doc_count)
    if run.out_of_time():
        return {}
    if isinstance(query, WordQuery):
        return _word_scores(query, leaf, run)
    if isinstance(query, PhraseQuery):
        return _phrase_scores(query, leaf, run)
    return _matcher_scores(query, leaf, run)


def _word_scores(query: WordQuery, leaf: Leaf, run: Run) -> ranking.Scores:
    """Score a word with BM25F, reading each field's postings a block at a time."""
    reader = leaf.searcher.reader()
    frequencies: ranking.Scores = {}
    for term in query.subqueries:
        name = term.fieldname
        btext = reader.schema[name].to_bytes(term.text)
        norms = run.norms(name, term.boost)
        codes = leaf.segment.lengths[name]
        for ids, counts in _postings(reader, name, btext, run):
            ranking.add_frequencies(frequencies, ids, counts, codes, norms)
            if run.out_of_time():
                break
    return ranking.saturate(frequencies, query.boost * run.idf(query.subqueries[0].text),
                            BM25_K1)


def _phrase_scores(query: PhraseQuery, leaf: Leaf, run: Run) -> ranking.Scores:
    """Score a phrase with BM25F: its occurrences stand for a word's, its words' idfs add up."""
    reader = leaf.searcher.reader()
    frequencies: ranking.Scores = {}
    for part in query.subqueries:
        counts = _phrase_counts(reader, part.fieldname, part.words, query.offsets, run)
        norms, codes = run.norms(part.fieldname, part.boost), leaf.segment.lengths[part.fieldname]
        ranking.add_frequencies(frequencies, counts.keys(), counts.values(), codes, norms)
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
    if any((field_name, term) not in reader for term in shifts):
        return {}
    order = sorted(shifts, key=lambda term: reader.doc_frequency(field_name, term))
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
    for ids, values in _postings(reader, field_name, first, run, positions=True):
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


def _postings(reader, field_name: str, btext: bytes, run: Run, positions: bool = False):
    """Yield a term's postings a block at a time: (article numbers, frequencies), or with
    ``positions`` (article numbers, encoded positions).

    Deleted articles are included; the caller drops them once for the whole query.
    """
    matcher = _leaf_matcher(reader, field_name, btext)
    if matcher is None:
        return
    if not isinstance(matcher, whoosh3.W3LeafMatcher):
        while matcher.is_active():
            run.postings += 1
            yield (matcher.id(),), (matcher.value() if positions else matcher.weight(),)
            matcher.next()
        return
    # Whoosh 2.7.4 decodes a whole block at once; reading it so saves a call a posting.
    while matcher.is_active():
        matcher._read_ids()
        run.postings += len(matcher._ids)
        if positions:
            matcher._read_values()
            yield matcher._ids, matcher._values
        else:
            matcher._read_weights()
            yield matcher._ids, matcher._weights
        matcher._next_block()


def _wanted_postings(reader, field_name: str, btext: bytes, wanted: list[int], run: Run):
    """Yield (article number, encoded positions) of a term for the sorted ``wanted``
    articles only, skipping unread the blocks of postings that hold none of them."""
    matcher = _leaf_matcher(reader, field_name, btext)
    if matcher is None:
        return
    if not isinstance(matcher, whoosh3.W3LeafMatcher):
        keep = set(wanted)
        for ids, values in _postings(reader, field_name, btext, run, positions=True):
            yield from ((d, v) for d, v in zip(ids, values, strict=True) if d in keep)
        return
    if not wanted:
        return
    keep = set(wanted)
    below = 0  # wanted[below] is the first wanted article past the blocks read
    while matcher.is_active():
        top = matcher.block_max_id()
        if top >= wanted[below]:  # the block may hold some: read it
            matcher._read_ids()
            matcher._read_values()
            run.postings += len(matcher._ids)
            for docnum, value in zip(matcher._ids, matcher._values, strict=True):
                if docnum in keep:
                    yield docnum, value
            below = bisect.bisect_right(wanted, top, below)
            if below == len(wanted) or run.out_of_time():
                return
        matcher._next_block()


def _leaf_matcher(reader, field_name: str, btext: bytes):
    """Return a matcher over a term's postings in one segment, deleted articles included
    (None when no article of the segment has the term).

    A term's postings are read from the file in one go and decoded from memory: Whoosh
    2.7.4 reads them block by block, a few bytes at a time (the block's header is
    unpickled straight from the file), a seek and a read each, which was a tenth of a
    search's time.
    """
    terms = getattr(reader, "_terms", None)
    if isinstance(terms, whoosh3.W3TermsReader):
        try:
            info = terms.term_info(field_name, btext)
        except TermNotFound:
            return None
        if not info.is_inlined():
            offset, length = info.extent()
            # Whoosh 2.7.4 reads the length back as a one-item tuple (it never uses it).
            length = length[0] if isinstance(length, tuple) else length
            postings = BufferFile(terms._postfile.get(offset, length))
            return whoosh3.W3LeafMatcher(postings, 0, length, reader.schema[field_name].format,
                                         term=(field_name, btext))
    if (field_name, btext) not in reader:
        return None
    matcher = reader.postings(field_name, btext)
    return matcher.child if isinstance(matcher, FilterMatcher) else matcher


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
        found = [(leaf.offset + d, score) for leaf, scores in matches
                 for d, score in ranking.best(scores, count)]
        return sorted(found, key=lambda item: (-item[1], item[0]))[:count]
    keyed = []
    for leaf, scores in matches:
        key = _date_order(leaf.segment.dates, sort)
        keyed += [(key(d), -score, leaf.offset + d) for d, score in
                  ranking.first_by(scores, count, key)]
    return [(docnum, -negated) for _, negated, docnum in sorted(keyed)[:count]]


def _date_order(dates: array, sort: str):
    """Return the sort key of an article number for ``sort``, undated articles last."""
    if sort == "oldest":
        return dates.__getitem__
    return lambda docnum: _newest_first(dates[docnum])


def _newest_first(key: int) -> int:
    # Whoosh gives an undated article the largest key; keep it largest, negate the rest.
    return key if key >= UNDATED_KEY else -key


def date_keys(searcher, date_from: date | None, date_to: date | None):
    """Return the date range as the date column's keys, or (None, None) for any date."""
    if not date_from and not date_to:
        return None, None
    to_key = searcher.schema["date"].to_column_value
    low = to_key(datetime(date_from.year, date_from.month, date_from.day)) if date_from else 0
    high = (to_key(datetime(date_to.year, date_to.month, date_to.day, 23, 59, 59))
            if date_to else UNDATED_KEY - 1)  # an undated article is outside any range
    return low, high
