"""Search the index: ranked, filtered, paged results with highlighted snippets.

``Archive`` opens the index once per process and gives each thread its own searcher,
refreshed when the indexer commits, so new articles appear without a restart. Results
are plain dataclasses that the web page, the JSON API and the tests all share.
"""

from __future__ import annotations

import calendar
import heapq
import html
import math
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from whoosh import highlight, matching, scoring
from whoosh.collectors import TimeLimit, TimeLimitCollector
from whoosh import query as wq
from whoosh.sorting import FieldFacet, ScoreFacet, TranslateFacet
from whoosh.util import make_binary_tree

from searchapp.indexing import ANALYZER, open_index
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
COUNT_CHECK_EVERY = 4096
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
SNIPPET_CHARS = 240
SNIPPET_SURROUND = 70
SNIPPET_FRAGMENTS = 2
RELATED_ARTICLES = 5
RELATED_KEY_TERMS = 12
# Words shorter than this are not spell-corrected; too many false friends.
MIN_CORRECTION_CHARS = 4


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


class MarkFormatter(highlight.Formatter):
    """Wrap matches in <mark> and escape everything else: snippets are safe HTML."""

    between = " … "

    def _text(self, text: str) -> str:
        return html.escape(text, quote=False)

    def format_token(self, text, token, replace=False):
        return f"<mark>{html.escape(highlight.get_text(text, token, replace), quote=False)}</mark>"

    def format(self, fragments, replace=False):
        """Join the passages, with an ellipsis where the article's text goes on."""
        snippet = super().format(fragments, replace)
        if fragments and fragments[0].startchar > 0:
            snippet = "… " + snippet
        if fragments and fragments[-1].endchar < len(fragments[-1].text):
            snippet += " …"
        return snippet


CONTEXT = highlight.ContextFragmenter(maxchars=SNIPPET_CHARS, surround=SNIPPET_SURROUND)
WHOLE = highlight.WholeFragmenter()


def _idf(searcher, text: str) -> float:
    """Return BM25's idf of a word, counting an article that has it in any field once."""
    parent = searcher.get_parent()  # statistics of the whole index, not one segment
    n_docs = parent.doc_count_all()
    # The field where the word is commonest stands in for "articles that have it".
    df = max(parent.doc_frequency(name, text) for name in FIELD_WEIGHTS)
    # Lucene's idf: a word in most articles weighs next to nothing (Whoosh's adds 1).
    return math.log(1 + (n_docs - df + 0.5) / (df + 0.5))


class _FieldFrequency(scoring.WeightingModel):
    """Score a posting with its field-weighted, length-normalised frequency (BM25F's tf)."""

    def __init__(self, field_weight: float):
        self.field_weight = field_weight

    def scorer(self, searcher, fieldname, text, qf=1):
        return _FieldFrequencyScorer(searcher, fieldname, text, self.field_weight)


class _FieldFrequencyScorer(scoring.WeightLengthScorer):
    def __init__(self, searcher, fieldname, text, field_weight):
        self.avgfl = searcher.get_parent().avg_field_length(fieldname) or 1
        self.field_weight = field_weight
        self.setup(searcher, fieldname, text)

    def _score(self, weight, length):
        return self.field_weight * weight / ((1 - BM25_B) + BM25_B * length / self.avgfl)


class _Saturated(matching.WrappingMatcher):
    """Turn the summed frequencies of a word's fields into its BM25 score."""

    def __init__(self, child, idf: float, boost: float = 1.0):
        super().__init__(child, boost)
        self.idf = idf

    def _replacement(self, newchild):
        return self.__class__(newchild, self.idf, self.boost)

    def copy(self):
        return self.__class__(self.child.copy(), self.idf, self.boost)

    def _saturate(self, frequency: float) -> float:
        return self.boost * self.idf * frequency * (BM25_K1 + 1) / (frequency + BM25_K1)

    def _frequency_for(self, quality: float) -> float:
        """Return the least summed frequency that scores ``quality`` (the inverse)."""
        top = self.boost * self.idf * (BM25_K1 + 1)
        return math.inf if quality >= top else quality * BM25_K1 / (top - quality)

    def replace(self, minquality=0):
        child = self.child.replace(self._frequency_for(minquality) if minquality else 0)
        return self if child is self.child else self._replacement(child)

    def skip_to_quality(self, minquality):
        return self.child.skip_to_quality(self._frequency_for(minquality))

    def score(self):
        return self._saturate(self.child.score())

    def max_quality(self):
        return self._saturate(self.child.max_quality())

    def block_quality(self):
        return self._saturate(self.child.block_quality())

    def weight(self):
        return self.child.weight()


class WordQuery(wq.CompoundQuery):
    """A word looked for in several fields and scored once, with BM25F.

    Each field's frequency is weighted and length-normalised, the sum is saturated
    once: a word in the headline and the body counts more than in one of them, but not
    twice as much, and a common word cannot outscore a rare one by filling fields.
    """

    JOINT = " WORD "

    def normalize(self):
        return self

    def matcher(self, searcher, context=None):
        reader = searcher.reader()
        children = []
        for term in self.subqueries:
            btext = searcher.schema[term.fieldname].to_bytes(term.text)
            if (term.fieldname, btext) in reader:
                children.append(searcher.postings(
                    term.fieldname, btext, weighting=_FieldFrequency(term.boost)))
        if not children:
            return matching.NullMatcher()
        child = children[0] if len(children) == 1 else make_binary_tree(
            matching.UnionMatcher, children)
        return _Saturated(child, _idf(searcher, self.subqueries[0].text), self.boost)


class Archive:
    """The searchable archive in one index folder, shared by all threads of a process."""

    def __init__(self, index_dir: Path | str):
        self.index_dir = Path(index_dir)
        self._index = None
        self._lock = threading.Lock()
        self._local = threading.local()

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
            deadline = time.monotonic() + SEARCH_SECONDS
            # The date range is part of the query (with a constant score, so it does not
            # change the order): Whoosh's filter collector would bypass the time limit.
            query = _and(query, _date_filter(date_from, date_to))
            collector = TimeLimitCollector(
                searcher.collector(limit=page * per_page, sortedby=_sort_facet(sort)),
                timelimit=SEARCH_SECONDS, use_alarm=False,  # signals only work in the main thread
            )
            try:
                searcher.search_with_collector(query, collector)
            except TimeLimit:
                results.complete = False
            found = collector.results()
            found.formatter = MarkFormatter()
            start = (page - 1) * per_page
            results.hits = [_hit(hit, snippets) for hit in found[start:start + per_page]]
            dates: Counter = Counter()
            total, counted = _count(searcher, query, deadline, dates)
            results.total = max(total, found.scored_length())
            results.complete = results.complete and counted
            results.timeline = _timeline(searcher, dates)
            if results.complete:
                results.suggestion = self._suggest(searcher, parsed, text, results, deadline)
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
                 deadline: float):
        """Return a spelling-corrected query when it finds more than ``text`` did."""
        corrector = searcher.corrector("body")
        corrected = text
        for clause in parsed.clauses:
            word = clause.text.lower()
            if (clause.kind != "word" or clause.occur == MUST_NOT
                    or len(word) < MIN_CORRECTION_CHARS or not word.isalpha()):
                continue
            tokens = [t.text for t in ANALYZER(word)]
            if not tokens or any(searcher.doc_frequency(f, tokens[0]) for f in FIELD_WEIGHTS):
                continue
            suggestions = corrector.suggest(word, limit=1, maxdist=2, prefix=1)
            if suggestions and suggestions[0] != word:
                corrected = re.sub(rf"(?<!\w){re.escape(clause.text)}(?!\w)",
                                   suggestions[0], corrected, count=1)
        if corrected == text or len(corrected) > MAX_QUERY_CHARS:
            return None
        query = build_query(parse_query(corrected), searcher.reader())
        if query is None:
            return None
        date_range = _date_filter(results.date_from, results.date_to)
        total, counted = _count(searcher, _and(query, date_range), deadline)
        return corrected if counted and total > results.total else None


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
        tokens = [token.text for token in reader.schema[name].analyzer(clause.text)]
        if len(tokens) == 1 and clause.kind == "word":
            parts.append(wq.Term(name, tokens[0], boost=weight))
            words = True
        elif len(tokens) == 1:
            parts.append(wq.Term(name, tokens[0], boost=weight))
        elif tokens:
            parts.append(wq.Phrase(name, tokens, boost=weight))
    if not parts:
        return None
    if words:
        return WordQuery(parts)
    return parts[0] if len(parts) == 1 else wq.Or(parts)


def _and(query: wq.Query, date_range: wq.Query | None) -> wq.Query:
    return wq.And([query, date_range]) if date_range is not None else query


def _timeline(searcher, dates: Counter) -> list[Period]:
    """Turn matches per day into matches per year, or per month over a short span."""
    to_datetime = searcher.schema["date"].from_column_value
    days = Counter()
    for key, count in dates.items():
        if key < UNDATED_KEY:
            days[to_datetime(key).date()] += count
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


def _count(searcher, query: wq.Query, deadline: float,
           dates: Counter | None = None) -> tuple[int, bool]:
    """Count the articles ``query`` matches; stop at the deadline and say so.

    :param dates: when given, also counts the matches per raw date-column value.
    """
    column = searcher.reader().column_reader("date", translate=False) if dates is not None else None
    count = 0
    for count, docnum in enumerate(searcher.docs_for_query(query), start=1):
        if column is not None:
            dates[column[docnum]] += 1
        if count % COUNT_CHECK_EVERY == 0 and time.monotonic() > deadline:
            return count, False
    return count, True


def _sort_facet(sort: str):
    """Sort by date with undated articles last either way, then by relevance."""
    if sort == "relevance":
        return None
    by_date = FieldFacet("date")
    if sort == "newest":
        by_date = TranslateFacet(_newest_first, by_date)
    return [by_date, ScoreFacet()]


def _newest_first(key: int) -> int:
    # Whoosh gives an undated article the largest key; keep it largest, negate the rest.
    return key if key >= UNDATED_KEY else -key


def _date_filter(date_from: date | None, date_to: date | None):
    if not date_from and not date_to:
        return None
    start = datetime(date_from.year, date_from.month, date_from.day) if date_from else None
    end = datetime(date_to.year, date_to.month, date_to.day, 23, 59, 59) if date_to else None
    return wq.DateRange("date", start, end)


def _date(value) -> date | None:
    return value.date() if isinstance(value, datetime) else None


def _hit(hit, snippets: bool = True) -> Hit:
    score = hit.score if isinstance(hit.score, float) else 0.0  # a sort key when sorted
    if not snippets:
        return Hit(hit["id"], hit.get("headline", ""), _date(hit.get("date")), "", score)
    body = hit.get("body", "")
    # A short article is its own snippet; a long one shows the passages around matches.
    hit.results.fragmenter = WHOLE if len(body) <= SNIPPET_CHARS else CONTEXT
    # Snippets hold only text and <mark> tags, so collapsing whitespace is safe.
    snippet = " ".join(hit.highlights("body", top=SNIPPET_FRAGMENTS).split())
    if not snippet:
        snippet = html.escape(lead(body), quote=False)
    return Hit(hit["id"], hit.get("headline", ""), _date(hit.get("date")), snippet, score)


def lead(body: str, limit: int = SNIPPET_CHARS) -> str:
    """Return the start of an article, cut at a word boundary."""
    text = " ".join(body.split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + " …"
