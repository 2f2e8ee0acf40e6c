"""Search the index: ranked, filtered, paged results with highlighted snippets.

``Archive`` opens the index once per process and gives each thread its own searcher,
refreshed when the indexer commits, so new articles appear without a restart. A query
is scored term at a time: each word's postings are read a block at a time into a table
of scores (``ranking``), and the length and date columns each segment needs are read
once and shared by all threads. Whoosh's own matchers score only phrases, prefixes and
field words. Results are plain dataclasses that the web page, the JSON API and the
tests all share."""

from __future__ import annotations

import bisect
import calendar
import functools
import heapq
import html
import math
import re
import threading
import time
from array import array
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from whoosh import query as wq
from whoosh import scoring
from whoosh.codec import whoosh3
from whoosh.codec.base import Automata
from whoosh.matching import FilterMatcher
from whoosh.support.charset import accent_map
from whoosh.support.levenshtein import distance as edit_distance
from whoosh.util.numeric import byte_to_length

from searchapp import ranking
from searchapp.indexing import ANALYZER, column_values, make_schema, open_index
from searchapp.querylang import (
    MAX_QUERY_CHARS,
    MUST,
    MUST_NOT,
    SHOULD,
    Clause,
    ParsedQuery,
    clean_query,
    parse_query,
)
from searchapp.snippets import SNIPPET_CHARS, snippet

SORTS = ("relevance", "newest", "oldest")
MIN_COMPLETION_CHARS = 2
MAX_COMPLETIONS = 8
# Completions look at this many words after the prefix: bounded work per keystroke.
MAX_COMPLETION_SCAN = 2000
# Matches that span less than this many years are counted by month, else by year.
TIMELINE_MONTHS_UNDER_YEARS = 2
DEFAULT_PER_PAGE = 10
MAX_PER_PAGE = 50
# Matching and counting stop after this long; the reader gets what was found by then.
SEARCH_SECONDS = 2.0
# Deeper than this, paging is scraping: nobody reads result 10,001.
MAX_RESULT_WINDOW = 10_000
# A word's occurrences in the headline count one and a half times those in the body; in
# the caption, half. Tuned with bench/relevance.py (BENCHMARKS.md), like the two below.
FIELD_WEIGHTS = {"headline": 1.5, "body": 1.0, "caption": 0.5}
# BM25's term-frequency saturation and length normalisation.
BM25_K1 = 1.6
BM25_B = 0.65
# Words that carry no topic in a typed question ("what are the effects of ..."); the
# indexer keeps them (phrases need them), but a query looks for them only when quoted,
# required, or when they are all it has.
STOP_WORDS = frozenset("""
a about above after again against all am an and any are as at be because been before
being below between both but by can could did do does doing down during each few for from
further had has have having he her here hers herself him himself his how i if in into is it
its itself just me more most my myself no nor not now of off on once only or other our ours
ourselves out over own same she should so some such than that the their theirs them
themselves then there these they this those through to too under until up very was we were
what when where which while who whom why will with would you your yours yourself yourselves
""".split())
MIN_PREFIX_CHARS = 3
MAX_PREFIX_TERMS = 50
# The sort key of a missing date in Whoosh's 64-bit date column.
UNDATED_KEY = 2**64 - 1
# The article length each of the index's one-byte length codes stands for.
CODED_LENGTHS = [byte_to_length(code) for code in range(256)]
# Segments whose columns an Archive keeps read; more means the index was rewritten.
MAX_CACHED_SEGMENTS = 64
# The date field, to turn its column's keys back into dates.
DATE_FIELD = make_schema()["date"]
# Distinct words whose analysed form a process remembers, for marking snippets.
ANALYSED_WORDS_CACHED = 100_000
RELATED_ARTICLES = 5
RELATED_KEY_TERMS = 12
# Words shorter than this are not spell-corrected; too many false friends.
MIN_CORRECTION_CHARS = 4
MAX_CORRECTION_EDITS = 2


class IndexUnavailable(Exception):
    """There is no index to search yet; the message says how to build one."""


@dataclass
class Hit:
    """One search result."""

    id: str
    headline: str
    date: date | None
    snippet: str  # HTML: escaped text, matches in <mark>
    score: float = 0.0


@dataclass
class Period:
    """One bar of the timeline of matches: a year or a month, and how many matched."""

    label: str
    start: date
    end: date
    count: int


@dataclass
class SearchResults:
    """A page of results and what produced it."""

    query: str
    total: int
    page: int
    per_page: int
    took_ms: float
    sort: str = "relevance"
    date_from: date | None = None
    date_to: date | None = None
    suggestion: str | None = None
    hits: list[Hit] = field(default_factory=list)
    # False when the time limit cut the search short: the total is then a lower bound.
    complete: bool = True
    # The corrected query whose results these are, when the one typed found nothing.
    corrected: str | None = None
    timeline: list[Period] = field(default_factory=list)

    @property
    def pages(self) -> int:
        return min(math.ceil(self.total / self.per_page), MAX_RESULT_WINDOW // self.per_page)


@dataclass
class Related:
    """An article like another one."""

    id: str
    headline: str
    date: date | None


@dataclass
class ArticleRecord:
    """An article as stored in the index."""

    id: str
    headline: str
    body: str
    date: date | None = None
    caption: str | None = None
    author: str | None = None
    url: str | None = None
    related: list[Related] = field(default_factory=list)

    @property
    def paragraphs(self) -> list[str]:
        return [p for p in self.body.split("\n\n") if p.strip()]


def _idf(searcher, text: str) -> float:
    """Return BM25's idf of a word, counting an article that has it in any field once."""
    parent = searcher.get_parent()  # statistics of the whole index, not one segment
    n_docs = parent.doc_count_all()
    # The field where the word is commonest stands in for "articles that have it".
    df = max(parent.doc_frequency(name, text) for name in FIELD_WEIGHTS)
    # Lucene's idf: a word in most articles weighs next to nothing (Whoosh's adds 1).
    return math.log(1 + (n_docs - df + 0.5) / (df + 0.5))


class WordQuery(wq.CompoundQuery):
    """A word looked for in several fields and scored once, with BM25F.

    Each field's frequency is weighted and length-normalised, the sum is saturated
    once: a word in the headline and the body counts more than in one of them, but not
    twice as much, and a common word cannot outscore a rare one by filling fields.
    Its subqueries are one ``Term`` a field, boosted by the field's weight; the scoring
    is ``_word_scores``.
    """

    JOINT = " WORD "

    def normalize(self):
        return self

    def matcher(self, searcher, context=None):
        raise TypeError("a WordQuery is scored term at a time, by searching._word_scores")


class PhraseQuery(wq.CompoundQuery):
    """Words in a row, looked for in several fields and scored once, like a word.

    Its subqueries are one ``Phrase`` a field, boosted by the field's weight;
    ``offsets`` are the words' places relative to the first, as the analyzer numbers
    them (it closes the gaps stop words leave, in the query as in the index). The
    scoring is ``_phrase_scores``.
    """

    JOINT = " PHRASE "

    def __init__(self, subqueries, offsets: tuple[int, ...], boost: float = 1.0):
        super().__init__(subqueries, boost=boost)
        self.offsets = offsets

    def normalize(self):
        return self

    def matcher(self, searcher, context=None):
        raise TypeError("a PhraseQuery is scored by searching._phrase_scores")


@dataclass
class _Segment:
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


@dataclass
class _Leaf:
    """One segment as one request sees it."""

    searcher: object
    offset: int
    segment: _Segment


class _Run:
    """One query's evaluation: index-wide statistics, and the time it may take."""

    def __init__(self, searcher, deadline: float):
        self.searcher = searcher
        self.deadline = deadline
        self.expired = False
        self._idf: dict[str, float] = {}

    def out_of_time(self) -> bool:
        if not self.expired and time.monotonic() > self.deadline:
            self.expired = True
        return self.expired

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


class Archive:
    """The searchable archive in one index folder, shared by all threads of a process."""

    def __init__(self, index_dir: Path | str):
        self.index_dir = Path(index_dir)
        self._index = None
        self._lock = threading.Lock()
        self._local = threading.local()
        # Keyed by (segment id, deletions): a segment's data never changes once written.
        self._segments: dict[tuple[str, int], _Segment] = {}

    def _searcher(self):
        """Return this thread's searcher, refreshed if the index has a newer commit."""
        if self._index is None:
            with self._lock:
                if self._index is None:
                    self._index = open_index(self.index_dir)
            if self._index is None:
                raise IndexUnavailable(
                    f"There is no index in {self.index_dir} yet. Build it with "
                    f"`searchapp index --index-dir {self.index_dir}` (or start "
                    "`searchapp serve`, which builds it from seeds/)."
                )
        searcher = getattr(self._local, "searcher", None)
        if searcher is None:
            searcher = self._index.searcher(weighting=scoring.BM25F(B=BM25_B, K1=BM25_K1))
        elif not searcher.up_to_date():
            searcher = searcher.refresh()
        self._local.searcher = searcher
        if searcher.doc_count() == 0:
            raise IndexUnavailable(
                f"The index in {self.index_dir} has no articles yet. Add article files "
                "and run `searchapp index`."
            )
        return searcher

    def count(self) -> int:
        """Return how many articles the index holds."""
        return self._searcher().doc_count()

    def search(
        self,
        text: str,
        page: int = 1,
        per_page: int = DEFAULT_PER_PAGE,
        sort: str = "relevance",
        date_from: date | None = None,
        date_to: date | None = None,
        *,
        snippets: bool = True,
        correct: bool = True,
    ) -> SearchResults:
        """Run a reader's query and return one page of results.

        ``snippets=False`` leaves each hit's snippet empty, for callers that only rank.
        With ``correct``, a query that finds nothing is run again with the spelling
        correction that finds most, and the results say so in ``corrected``.

        :raises QueryError: for a query that cannot be run (the message says why).
        :raises ValueError: for out-of-range paging or an unknown sort.
        """
        # One searcher for the whole request: a correction is counted against the same
        # commit as the query it corrects, even while the indexer commits.
        return self._search(self._searcher(), text, page, per_page, sort, date_from, date_to,
                            snippets=snippets, correct=correct)

    def _search(self, searcher, text, page, per_page, sort, date_from, date_to, *,
                snippets: bool, correct: bool) -> SearchResults:
        started = time.perf_counter()
        if sort not in SORTS:
            raise ValueError(f"sort must be one of {', '.join(SORTS)}")
        if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
            raise ValueError(f"page must be 1 or more and per_page 1 to {MAX_PER_PAGE}")
        if page * per_page > MAX_RESULT_WINDOW:
            raise ValueError(f"results beyond the first {MAX_RESULT_WINDOW:,} are not shown")
        parsed = parse_query(text)
        asked = (date_from, date_to)
        date_from = max(filter(None, (date_from, parsed.date_from)), default=None)
        date_to = min(filter(None, (date_to, parsed.date_to)), default=None)
        results = SearchResults(text, 0, page, per_page, 0.0, sort, date_from, date_to)

        query = build_query(parsed, searcher.reader())
        if query is not None:
            run = _Run(searcher, time.monotonic() + SEARCH_SECONDS)
            matches = self._matches(run, query, date_from, date_to)
            results.total = sum(len(scores) for _, scores in matches)
            start = (page - 1) * per_page
            best = _first(matches, page * per_page, sort)[start:]
            terms = _highlight_terms(query, searcher) if snippets else frozenset()
            is_match = _WordTest(terms, searcher.schema["body"].analyzer) if terms else None
            results.hits = [_hit(searcher, docnum, score, is_match, snippets)
                            for docnum, score in best]
            results.timeline = _timeline(searcher, matches)
            results.complete = not run.expired
            if results.complete:
                results.suggestion = self._suggest(searcher, parsed, text, results, run)
        if correct and results.suggestion and not results.total:
            retry = self._search(searcher, results.suggestion, page, per_page, sort, *asked,
                                 snippets=snippets, correct=False)
            retry.query, retry.corrected, retry.suggestion = text, results.suggestion, None
            results = retry
        results.took_ms = (time.perf_counter() - started) * 1000
        return results

    def complete(self, text: str, limit: int = MAX_COMPLETIONS) -> list[str]:
        """Complete the last word of ``text`` from the articles' words, most common first."""
        head, _, word = clean_query(text).rpartition(" ")
        word = word.lower()
        if len(word) < MIN_COMPLETION_CHARS or not word.isalnum():
            return []
        searcher = self._searcher()
        reader = searcher.reader()
        # The unstemmed words that the body's spelling corrector uses.
        field_name = searcher.schema["body"].spelling_fieldname("body")
        candidates = []
        for number, term in enumerate(reader.expand_prefix(field_name, word)):
            if number >= MAX_COMPLETION_SCAN:
                break
            candidate = term.decode("utf-8") if isinstance(term, bytes) else term
            if candidate != word and candidate.isalpha():
                candidates.append((reader.doc_frequency(field_name, candidate), candidate))
        return [f"{head} {candidate}".strip() for _, candidate in heapq.nlargest(limit, candidates)]

    def article(self, article_id: str) -> ArticleRecord | None:
        """Return the stored article with ``article_id`` and articles like it, or None."""
        searcher = self._searcher()
        docnum = searcher.document_number(id=article_id)
        if docnum is None:
            return None
        stored = searcher.stored_fields(docnum)
        record = ArticleRecord(
            id=stored["id"],
            headline=stored.get("headline", ""),
            body=stored.get("body", ""),
            date=_date(stored.get("date")),
            caption=stored.get("caption"),
            author=stored.get("author"),
            url=stored.get("url"),
        )
        field_name = "body" if record.body else "headline"
        similar = searcher.more_like(docnum, field_name, top=RELATED_ARTICLES,
                                     numterms=RELATED_KEY_TERMS)
        record.related = [
            Related(hit["id"], hit.get("headline", ""), _date(hit.get("date"))) for hit in similar
        ]
        return record

    def _suggest(self, searcher, parsed: ParsedQuery, text: str, results: SearchResults,
                 run: _Run):
        """Return a spelling-corrected query when it finds more than ``text`` did."""
        corrected = text
        for clause in parsed.clauses:
            word = clause.text.lower()
            if (clause.kind != "word" or clause.occur == MUST_NOT
                    or len(word) < MIN_CORRECTION_CHARS or not word.isalpha()):
                continue
            tokens = [t.text for t in searcher.schema["body"].analyzer(word)]
            if not tokens or any(searcher.doc_frequency(f, tokens[0]) for f in FIELD_WEIGHTS):
                continue
            if suggestion := _closest_word(self._leaves(searcher), searcher, word):
                corrected = re.sub(rf"(?<!\w){re.escape(clause.text)}(?!\w)",
                                   suggestion, corrected, count=1)
        if corrected == text or len(corrected) > MAX_QUERY_CHARS:
            return None
        query = build_query(parse_query(corrected), searcher.reader())
        if query is None:
            return None
        matches = self._matches(run, query, results.date_from, results.date_to)
        total = sum(len(scores) for _, scores in matches)
        return corrected if not run.expired and total > results.total else None

    def _matches(self, run: _Run, query: wq.Query, date_from: date | None,
                 date_to: date | None) -> list[tuple[_Leaf, ranking.Scores]]:
        """Score every article ``query`` matches in each segment, within the date range."""
        low, high = _date_keys(run.searcher, date_from, date_to)
        matches = []
        for leaf in self._leaves(run.searcher):
            scores = _scores(query, leaf, run)
            if leaf.segment.deleted:
                scores = ranking.without(scores, leaf.segment.deleted)
            if low is not None:
                dates = leaf.segment.dates
                scores = {d: score for d, score in scores.items() if low <= dates[d] <= high}
            matches.append((leaf, scores))
        return matches

    def _leaves(self, searcher) -> list[_Leaf]:
        """Return the index's segments with their columns, read once per segment."""
        leaves = []
        for leaf_searcher, offset in searcher.leaf_searchers():
            reader = leaf_searcher.reader()
            segment = reader.segment()
            key = (segment.segment_id(), segment.deleted_count())
            data = self._segments.get(key)
            if data is None:
                data = _read_segment(reader)
                with self._lock:
                    if len(self._segments) >= MAX_CACHED_SEGMENTS:
                        self._segments.clear()
                    self._segments[key] = data
            leaves.append(_Leaf(leaf_searcher, offset, data))
        return leaves


def _closest_word(leaves: list[_Leaf], searcher, word: str) -> str | None:
    """Return the article word nearest to ``word`` in edits, the commonest of equals."""
    automaton = Automata.levenshtein_dfa(word, MAX_CORRECTION_EDITS, prefix=1)
    candidates = set()
    for leaf in leaves:
        words = leaf.segment.words
        if words is None:
            field_name = searcher.schema["body"].spelling_fieldname("body")
            words = leaf.segment.words = [
                term.decode("utf-8") for term in leaf.searcher.reader().lexicon(field_name)]
        candidates.update(Automata.find_matches(automaton, _WordCursor(words)))
    candidates.discard(word)
    if not candidates:
        return None
    field_name = searcher.schema["body"].spelling_fieldname("body")
    reader = searcher.reader()
    return min(candidates, key=lambda candidate: (
        edit_distance(candidate, word), -reader.doc_frequency(field_name, candidate), candidate))


class _WordCursor:
    """Walk a sorted word list the way Whoosh's automata walk a term file."""

    def __init__(self, words: list[str]):
        self.words = words
        self.position = 0

    def text(self) -> str | None:
        return self.words[self.position] if self.position < len(self.words) else None

    def find(self, word: str) -> None:
        # The automaton only ever asks for a word after the last one.
        self.position = bisect.bisect_left(self.words, word, lo=self.position)


def build_query(parsed: ParsedQuery, reader) -> wq.Query | None:
    """Turn parsed clauses into an engine query, or None when nothing is searchable.

    Words are OR-ed so that every word counts towards the score; required clauses
    are AND-ed; excluded ones are subtracted. A word typed twice weighs twice. Plain
    stop words ("what", "which", "about") are left out unless they are all there is.
    """
    clauses = parsed.clauses
    topical = [c for c in clauses if not _is_stop_word(c)]
    if any(c.occur != MUST_NOT for c in topical):
        clauses = topical
    weights = Counter((c.text.lower(), c.kind, c.field, c.occur) for c in clauses)
    groups: dict[str, list[wq.Query]] = {SHOULD: [], MUST: [], MUST_NOT: []}
    for (text, kind, field_name, occur), count in weights.items():
        clause_query = _clause_query(Clause(text, kind, field_name, occur), reader)
        if clause_query is not None:
            clause_query.boost *= count
            groups[occur].append(clause_query)
    should, must, must_not = groups[SHOULD], groups[MUST], groups[MUST_NOT]
    if must and should:
        positive = wq.AndMaybe(wq.And(must), wq.Or(should))
    elif must:
        positive = wq.And(must)
    elif should:
        positive = wq.Or(should)
    elif must_not:
        positive = wq.Every()
    else:
        return None
    if not must_not:
        return positive
    if isinstance(positive, wq.Or):
        # Whoosh 2.7.4's preloaded Or (its choice under 5,000 articles) understates its
        # best score, and an AndNot around it then drops the best matches from the page.
        positive = wq.DefaultOr(positive.subqueries)
    return wq.AndNot(positive, wq.Or(must_not))


def _is_stop_word(clause: Clause) -> bool:
    return (clause.kind == "word" and clause.occur == SHOULD and clause.field is None
            and clause.text.lower() in STOP_WORDS)


def _clause_query(clause: Clause, reader) -> wq.Query | None:
    fields = [clause.field] if clause.field else list(FIELD_WEIGHTS)
    parts: list[wq.Query] = []
    words = False
    offsets: tuple[int, ...] = ()
    for name in fields:
        weight = 1.0 if clause.field else FIELD_WEIGHTS[name]
        if clause.kind == "prefix" and len(clause.text) >= MIN_PREFIX_CHARS:
            prefix = clause.text.lower()
            terms = []
            for term in reader.expand_prefix(name, prefix):
                word = term.decode("utf-8") if isinstance(term, bytes) else term
                terms.append(wq.Term(name, word))
                if len(terms) >= MAX_PREFIX_TERMS:
                    break
            if terms:
                parts.append(wq.Or(terms, boost=weight))
            continue
        # The field's own analyzer: an index built with an older stemmer still matches.
        analyzer = reader.schema[name].analyzer
        tokens = [(token.text, token.pos) for token in analyzer(clause.text, positions=True)]
        if len(tokens) == 1 and clause.kind == "word":
            parts.append(wq.Term(name, tokens[0][0], boost=weight))
            words = True
        elif len(tokens) == 1:
            parts.append(wq.Term(name, tokens[0][0], boost=weight))
        elif tokens:
            parts.append(wq.Phrase(name, [text for text, _ in tokens], boost=weight))
            offsets = tuple(position - tokens[0][1] for _, position in tokens)
    if not parts:
        return None
    if words:
        return WordQuery(parts)
    if isinstance(parts[0], wq.Phrase):
        return PhraseQuery(parts, offsets)
    return parts[0] if len(parts) == 1 else wq.Or(parts)


def _scores(query: wq.Query, leaf: _Leaf, run: _Run) -> ranking.Scores:
    """Score the articles of one segment that ``query`` matches."""
    if isinstance(query, WordQuery):
        return _word_scores(query, leaf, run)
    if isinstance(query, PhraseQuery):
        return _phrase_scores(query, leaf, run)
    if isinstance(query, wq.Or):
        return ranking.union([_scores(q, leaf, run) for q in query.subqueries], query.boost)
    if isinstance(query, wq.And):
        return ranking.intersection([_scores(q, leaf, run) for q in query.subqueries],
                                    query.boost)
    if isinstance(query, wq.AndMaybe):
        return ranking.with_optional(_scores(query.a, leaf, run), _scores(query.b, leaf, run),
                                     query.boost)
    if isinstance(query, wq.AndNot):
        return ranking.without(_scores(query.a, leaf, run), _scores(query.b, leaf, run),
                               query.boost)
    if isinstance(query, wq.Every):
        return dict.fromkeys(range(leaf.segment.doc_count), 0.0)
    return _matcher_scores(query, leaf, run)


def _word_scores(query: WordQuery, leaf: _Leaf, run: _Run) -> ranking.Scores:
    """Score a word with BM25F, reading each field's postings a block at a time."""
    reader = leaf.searcher.reader()
    frequencies: ranking.Scores = {}
    for term in query.subqueries:
        name = term.fieldname
        btext = reader.schema[name].to_bytes(term.text)
        if (name, btext) not in reader:
            continue
        norms = run.norms(name, term.boost)
        codes = leaf.segment.lengths[name]
        for ids, counts in _posting_blocks(reader, name, btext):
            ranking.add_frequencies(frequencies, ids, counts, codes, norms)
            if run.out_of_time():
                break
    return ranking.saturate(frequencies, query.boost * run.idf(query.subqueries[0].text),
                            BM25_K1)


def _phrase_scores(query: PhraseQuery, leaf: _Leaf, run: _Run) -> ranking.Scores:
    """Score a phrase with BM25F: its occurrences stand for a word's, its words' idfs add up."""
    reader = leaf.searcher.reader()
    frequencies: ranking.Scores = {}
    for part in query.subqueries:
        counts = _phrase_counts(reader, part.fieldname, part.words, query.offsets, run)
        norms, codes = run.norms(part.fieldname, part.boost), leaf.segment.lengths[part.fieldname]
        get = frequencies.get
        for docnum, count in counts.items():
            frequencies[docnum] = get(docnum, 0.0) + count * norms[codes[docnum]]
    weight = query.boost * sum(run.idf(word) for word in query.subqueries[0].words)
    return ranking.saturate(frequencies, weight, BM25_K1)


def _phrase_counts(reader, field_name: str, words: list[str], offsets: tuple[int, ...],
                   run: _Run) -> dict[int, int]:
    """Count each article's occurrences of the words at the offsets the query has them.

    The rarest word is read first; each next word's postings are kept only for the
    articles that have every word so far, and only those articles' positions are read.
    """
    field = reader.schema[field_name]
    terms = [field.to_bytes(word) for word in words]
    if any((field_name, term) not in reader for term in terms):
        return {}
    order = sorted(range(len(terms)), key=lambda i: reader.doc_frequency(field_name, terms[i]))
    found: list[dict[int, bytes]] = [{} for _ in terms]
    candidates = None  # the articles that have every word read so far
    for number in order:
        kept = found[number]
        for ids, values in _posting_values(reader, field_name, terms[number]):
            if candidates is None:
                kept.update(zip(ids, values, strict=True))
            else:
                kept.update((d, v) for d, v in zip(ids, values, strict=True) if d in candidates)
            if run.out_of_time():
                break
        candidates = kept
        if not kept:
            return {}
    decode = field.format.decode_positions
    counts = {}
    for docnum in candidates:
        starts = set(decode(found[0][docnum]))
        for number in range(1, len(terms)):
            starts &= {p - offsets[number] for p in decode(found[number][docnum])}
        if starts:
            counts[docnum] = len(starts)
    return counts


def _posting_values(reader, field_name: str, btext: bytes):
    """Yield a term's postings as (article numbers, encoded positions), a block at a time."""
    matcher = reader.postings(field_name, btext)
    if isinstance(matcher, FilterMatcher):
        matcher = matcher.child
    if not isinstance(matcher, whoosh3.W3LeafMatcher):
        while matcher.is_active():
            yield (matcher.id(),), (matcher.value(),)
            matcher.next()
        return
    while matcher.is_active():
        matcher._read_ids()
        matcher._read_values()
        yield matcher._ids, matcher._values
        matcher._next_block()


def _posting_blocks(reader, field_name: str, btext: bytes):
    """Yield a term's postings as (article numbers, frequencies), a block at a time.

    Deleted articles are included; the caller drops them once for the whole query.
    """
    matcher = reader.postings(field_name, btext)
    if isinstance(matcher, FilterMatcher):
        matcher = matcher.child
    if not isinstance(matcher, whoosh3.W3LeafMatcher):
        while matcher.is_active():
            yield (matcher.id(),), (matcher.weight(),)
            matcher.next()
        return
    # Whoosh 2.7.4 decodes a whole block at once; reading it so saves a call a posting.
    while matcher.is_active():
        matcher._read_ids()
        matcher._read_weights()
        yield matcher._ids, matcher._weights
        matcher._next_block()


def _matcher_scores(query: wq.Query, leaf: _Leaf, run: _Run) -> ranking.Scores:
    """Score phrases, prefixes and field words with Whoosh's own matchers."""
    scores = {}
    matcher = query.matcher(leaf.searcher, leaf.searcher.context())
    count = 0
    while matcher.is_active():
        scores[matcher.id()] = matcher.score()
        matcher.next()
        count += 1
        if count % 1024 == 0 and run.out_of_time():
            break
    return scores


def _read_segment(reader) -> _Segment:
    """Read the length and date columns of one segment into memory."""
    doc_count = reader.doc_count_all()
    lengths = {}
    for name in FIELD_WEIGHTS:
        column = reader._perdoc._cached_reader(whoosh3._lenfield(name), whoosh3.LENGTHS_COLUMN)
        lengths[name] = bytes(column_values(column, doc_count, "B", 0))
    dates = array("Q", [UNDATED_KEY]) * doc_count
    if reader.has_column("date"):
        dates = column_values(reader.column_reader("date", translate=False), doc_count, "Q",
                              UNDATED_KEY)
    return _Segment(doc_count, frozenset(reader.segment().deleted_docs()), lengths, dates)


def _first(matches: list[tuple[_Leaf, ranking.Scores]], count: int,
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


def _timeline(searcher, matches: list[tuple[_Leaf, ranking.Scores]]) -> list[Period]:
    """Count matches per year, or per month when they span a short time."""
    dates: Counter = Counter()
    for leaf, scores in matches:
        dates.update(map(leaf.segment.dates.__getitem__, scores))
    days = Counter()
    for key, count in dates.items():
        if key < UNDATED_KEY:
            days[_day(key)] += count
    if not days:
        return []
    first, last = min(days), max(days)
    months = (last.year - first.year) * 12 + last.month - first.month
    by_month = months < 12 * TIMELINE_MONTHS_UNDER_YEARS
    counts = Counter()
    for day, count in days.items():
        counts[(day.year, day.month if by_month else 0)] += count
    periods = []
    year, month = first.year, first.month if by_month else 0
    while (year, month) <= (last.year, last.month if by_month else 0):
        if by_month:
            end = date(year, month, calendar.monthrange(year, month)[1])
            label, start, count = f"{year}-{month:02}", date(year, month, 1), counts[(year, month)]
            periods.append(Period(label, start, end, count))
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        else:
            start, end = date(year, 1, 1), date(year, 12, 31)
            periods.append(Period(str(year), start, end, counts[(year, 0)]))
            year += 1
    return periods


def _date_order(dates: array, sort: str):
    """Return the sort key of an article number for ``sort``, undated articles last."""
    if sort == "oldest":
        return dates.__getitem__
    return lambda docnum: _newest_first(dates[docnum])


def _newest_first(key: int) -> int:
    # Whoosh gives an undated article the largest key; keep it largest, negate the rest.
    return key if key >= UNDATED_KEY else -key


@functools.lru_cache(maxsize=100_000)
def _day(key: int) -> date:
    """Return the day a raw date-column key stands for (few distinct days, many articles)."""
    return DATE_FIELD.from_column_value(key).date()


def _date_keys(searcher, date_from: date | None, date_to: date | None):
    """Return the date range as the date column's keys, or (None, None) for any date."""
    if not date_from and not date_to:
        return None, None
    to_key = searcher.schema["date"].to_column_value
    low = to_key(datetime(date_from.year, date_from.month, date_from.day)) if date_from else 0
    high = (to_key(datetime(date_to.year, date_to.month, date_to.day, 23, 59, 59))
            if date_to else UNDATED_KEY - 1)  # an undated article is outside any range
    return low, high


def _date(value) -> date | None:
    return value.date() if isinstance(value, datetime) else None


def _hit(searcher, docnum: int, score: float, is_match, snippets: bool) -> Hit:
    stored = searcher.stored_fields(docnum)
    article_date = _date(stored.get("date"))
    if not snippets:
        return Hit(stored["id"], stored.get("headline", ""), article_date, "", score)
    body = stored.get("body", "")
    marked = snippet(body, is_match, is_match.initials) if is_match else ""
    # Snippets hold only text and <mark> tags, so collapsing whitespace is safe.
    marked = " ".join(marked.split()) or html.escape(lead(body), quote=False)
    return Hit(stored["id"], stored.get("headline", ""), article_date, marked, score)


class _WordTest:
    """Tell whether a lower-case word of an article is one of ``terms`` once analysed.

    A word whose first letter (accents folded) starts none of the terms is not
    analysed at all: stemming only changes the ends of words.
    """

    def __init__(self, terms: frozenset[str], analyzer):
        self.terms = terms
        self.first_letters = {term[0] for term in terms}
        # The same, for the snippet's first pass over the text.
        self.initials = "".join(sorted(i for i in self.first_letters if i.isascii()))
        # An index built with another analyzer is read with its own (and no shared cache).
        self.analysed = _analysed if analyzer == ANALYZER else functools.lru_cache(
            maxsize=None)(lambda word: _analysed_with(analyzer, word))

    def __call__(self, word: str) -> bool:
        initial = word[0] if word[0].isascii() else word[0].translate(accent_map)[:1]
        return initial in self.first_letters and self.analysed(word) in self.terms


@functools.lru_cache(maxsize=ANALYSED_WORDS_CACHED)
def _analysed(word: str) -> str | None:
    """Return a word as the index holds it (stemmed, accents folded), None for a stop word."""
    return _analysed_with(ANALYZER, word)


def _analysed_with(analyzer, word: str) -> str | None:
    tokens = [token.text for token in analyzer(word)]
    return tokens[0] if len(tokens) == 1 else None


def _highlight_terms(query: wq.Query, searcher) -> frozenset[str]:
    """Return the body words to mark in snippets: those the query looks for, not excludes."""
    if isinstance(query, wq.AndNot):
        return _highlight_terms(query.a, searcher)
    if isinstance(query, (wq.AndMaybe, wq.CompoundQuery)):
        parts = [query.a, query.b] if isinstance(query, wq.AndMaybe) else query.subqueries
        return frozenset().union(*(_highlight_terms(part, searcher) for part in parts))
    if isinstance(query, wq.Term):
        return frozenset([query.text]) if query.fieldname == "body" else frozenset()
    if isinstance(query, wq.Phrase):
        return frozenset(query.words) if query.fieldname == "body" else frozenset()
    terms = query.existing_terms(searcher.reader(), phrases=True, expand=True)
    return frozenset(text.decode("utf-8") if isinstance(text, bytes) else text
                     for name, text in terms if name == "body")


def lead(body: str, limit: int = SNIPPET_CHARS) -> str:
    """Return the start of an article, cut at a word boundary."""
    text = " ".join(body.split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + " …"
