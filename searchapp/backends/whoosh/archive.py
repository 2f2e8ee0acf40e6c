"""Search the index: ranked, filtered, paged results with highlighted snippets.

``WhooshArchive`` opens the index once per process and gives each thread its own searcher,
refreshed when the indexer commits, so new articles appear without a restart. A reader's
query becomes a query tree (``query``), which ``engine`` scores term at a time, one segment
of the index after another. Results are the plain dataclasses of ``searchapp.results``.
"""

from __future__ import annotations

import contextlib
import functools
import heapq
import html
import math
import os
import re
import threading
import time
import weakref
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from operator import itemgetter
from pathlib import Path

from whoosh import query as wq
from whoosh import scoring
from whoosh.columns import FixedBytesColumn
from whoosh.filedb.compound import SubFile

from searchapp import duplicates, reports
from searchapp.backends import (
    Archive,
    Health,
    IndexDamaged,
    IndexReport,
    IndexStats,
    IndexUnavailable,
    Progress,
)
from searchapp.backends.whoosh import ranking
from searchapp.backends.whoosh.analysis import thread_safe
from searchapp.backends.whoosh.corrections import MAX_CORRECTION_EDITS, closest_word
from searchapp.backends.whoosh.engine import (
    BM25_B,
    BM25_K1,
    UNDATED_KEY,
    Leaf,
    Run,
    Segment,
    date_column,
    date_keys,
    first_matches,
    read_segment,
    score_segment,
    word_frequency,
)
from searchapp.backends.whoosh.health import check_index, index_signature, is_index_failure
from searchapp.backends.whoosh.indexing import index_stats, make_schema, open_index, update_index
from searchapp.backends.whoosh.marking import mark_words, query_marks
from searchapp.backends.whoosh.matching import optional_words, requiring
from searchapp.backends.whoosh.query import build_query
from searchapp.matching import enough_ranked_matches, required_words
from searchapp.querylang import (
    MAX_QUERY_CHARS,
    MUST_NOT,
    ParsedQuery,
    QueryError,
    clean_query,
    parse_query,
)
from searchapp.results import (
    DEFAULT_PER_PAGE,
    MAX_PER_PAGE,
    MAX_RESULT_WINDOW,
    SORTS,
    ArticleRecord,
    Hit,
    Period,
    Related,
    SearchResults,
    period_end,
    period_start,
    timeline_span,
)
from searchapp.snippets import Marks, lead, mark, snippet

MIN_COMPLETION_CHARS = 2
MAX_COMPLETIONS = 8
# Completions look at this many words after the prefix: bounded work per keystroke.
MAX_COMPLETION_SCAN = 2000
# Copies of a story are looked for among this many times the results up to the page
# shown (at least COLLAPSE_MIN_WINDOW, at most COLLAPSE_MAX_WINDOW results).
COLLAPSE_WINDOW_FACTOR = 3
COLLAPSE_MIN_WINDOW = 100
COLLAPSE_MAX_WINDOW = 20_000
# Matching and counting stop after this long; the reader gets what was found by then.
SEARCH_SECONDS = 2.0
# How often damage() looks at the index folder again.
HEALTH_SECONDS = 5.0
# Segments whose columns an Archive keeps read; more means the index was rewritten.
MAX_CACHED_SEGMENTS = 64
# A segment's signatures are kept in memory, read once and shared by threads, when they
# take up to this much (about 22,000 articles: Reuters-21578 whole); a larger segment's
# are read article by article, to hold no more memory for a large archive.
MAX_KEPT_SIGNATURE_BYTES = 2 * 1024 * 1024
# States of the index (sets of segments) whose timeline totals an Archive keeps.
MAX_CACHED_STATES = 8
# The date field, to turn its column's keys back into dates.
DATE_FIELD = make_schema()["date"]
# Keys of the date column in a day (microseconds).
_DAY_KEYS = 86_400_000_000
RELATED_ARTICLES = 5
RELATED_KEY_TERMS = 12
# Related articles are found from the key words of this much of an article: its lead says
# what it is about, and reading a whole 3 MB body took 16 s and 300 MB.
RELATED_TEXT_CHARS = 20_000
# Words shorter than this are not spell-corrected; too many false friends.
MIN_CORRECTION_CHARS = 4
# Nor longer ones: no typo makes a word this long, and the automaton that looks for
# the nearest word grows with its length (2,000 letters took 5 s).
MAX_CORRECTION_CHARS = 40
# A query with more unknown words than this is not a typo: the rest are not corrected
# (each costs a walk over the index's words).
MAX_CORRECTED_WORDS = 8
# A correction is offered for a query that finds something when it finds this many times
# as many articles, and at least MIN_SUGGESTED_RESULTS; a word in as many articles as that
# is taken as meant.
SUGGEST_RATIO = 10
MIN_SUGGESTED_RESULTS = 20


def _reads_index(method):
    """Lend the call a searcher (``_lent_searcher``), and turn a failure to read a damaged
    or deleted index into ``IndexDamaged``."""

    @functools.wraps(method)
    def reading(self, *args, **kwargs):
        try:
            with self._lent_searcher():
                return method(self, *args, **kwargs)
        except IndexUnavailable:
            raise
        except Exception as error:
            if not is_index_failure(error):
                raise
            raise self._damaged(error) from error

    return reading


class WhooshArchive(Archive):
    """The archive in one index folder, searched by all threads of a process."""

    engine = "whoosh"

    def __init__(self, index_dir: Path | str, time_limit: float | None = None):
        self.index_dir = Path(index_dir)
        # Matching and counting stop after this many seconds (SEARCH_SECONDS unless
        # given); the results then say they are incomplete.
        self.time_limit = time_limit
        self._index = None
        self._lock = threading.Lock()
        # The searcher each thread holds during a call, and those no call holds, the last
        # one put back on top (``_lent_searcher``).
        self._local = threading.local()
        self._idle: list = []
        # Keyed by (segment id, deletions): a segment's data never changes once written.
        self._segments: dict[tuple[str, int], Segment] = {}
        # What damage() found, and for which state of the index folder's files.
        self._health_lock = threading.Lock()
        self._health_checked = -math.inf
        self._health: tuple[tuple, str | None] = ((), None)
        # A failure a request met reading the index, for the same state of its files.
        self._failure: tuple[tuple, str] | None = None
        # The articles of each segment per day, for the timeline: id(segment) -> counts.
        self._days: dict[int, tuple[Segment, Counter]] = {}
        # The archive's articles per period, for each set of segments and unit.
        self._periods: dict[tuple[int, ...], tuple[tuple, dict[str, Counter]]] = {}

    def damage(self) -> str | None:
        """Return why the index cannot be read, or None when it reads well (or is absent).

        Looked at no more than every ``HEALTH_SECONDS``: the folder's files are listed,
        and read in depth (``health.check_index``) only when they changed. A failure a
        search met reading the index counts until its files change.
        """
        with self._health_lock:
            if time.monotonic() - self._health_checked >= HEALTH_SECONDS:
                signature = index_signature(self.index_dir)
                if signature != self._health[0]:
                    self._health = (signature, check_index(self.index_dir))
                self._health_checked = time.monotonic()
            signature, problem = self._health
            if problem is None and self._failure and self._failure[0] == signature:
                problem = self._failure[1]
            return problem

    def _damaged(self, error: Exception) -> IndexDamaged:
        """Note a failure to read the index, forget this thread's searcher, and say why."""
        reason = f"{type(error).__name__}: {error}"
        with self._health_lock:
            self._failure = (index_signature(self.index_dir), reason)
            self._health_checked = -math.inf  # damage() looks again at once
        self._local.searcher = None
        with self._lock:
            self._index = None  # opened afresh once the index is rebuilt or restored
            self._segments.clear()
            self._idle.clear()
        return IndexDamaged(
            "The archive is unavailable: its index was removed or is damaged. "
            "Please try again later."
        )

    @contextlib.contextmanager
    def _lent_searcher(self):
        """Lend this thread a searcher for the length of a call, then take it back.

        Searchers are lent, not kept one a thread: the one used last is lent first, so
        with one request at a time every request gets the same searcher, whose caches
        (its readers' columns, the words' article counts) the last request warmed, and
        not the one a request-thread of eight last used seven requests ago: a search
        over HTTP took about 5% less time so (BENCHMARKS.md, "Session 10"). A searcher
        is never used by two threads at once; as many exist as calls ran at once.
        """
        if getattr(self._local, "searcher", None) is not None:  # lent to an outer call
            yield
            return
        with self._lock:
            self._local.searcher = self._idle.pop() if self._idle else None
        try:
            yield
        finally:
            searcher, self._local.searcher = self._local.searcher, None
            if searcher is not None:  # None when the call found the index damaged
                with self._lock:
                    self._idle.append(searcher)

    def _searcher(self):
        """Return the searcher lent to this thread, or a new one, refreshed if the index
        has a newer commit."""
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
            current = searcher.reader().generation()
            with self._lock:  # those that see an older commit hold its files open
                self._idle = [idle for idle in self._idle
                              if idle.reader().generation() >= current]
        if searcher is not getattr(self._local, "searcher", None):
            for _, field_type in searcher.schema.items():
                if getattr(field_type, "analyzer", None) is not None:
                    thread_safe(field_type.analyzer)
        self._local.searcher = searcher
        if searcher.doc_count() == 0:
            raise IndexUnavailable(
                f"The index in {self.index_dir} has no articles yet. Add article files "
                "and run `searchapp index`."
            )
        return searcher

    @_reads_index
    def count(self) -> int:
        """Return how many articles the index holds."""
        return self._searcher().doc_count()

    @_reads_index
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
        typing: bool = False,
        everything: bool = False,
        similar_to: str | None = None,
        fold: bool = True,
    ) -> SearchResults:
        """Run a reader's query and return one page of results.

        ``snippets=False`` leaves each hit's snippet empty, for callers that only rank.
        With ``correct``, a query that finds nothing is run again with the spelling
        correction that finds most, and the results say so in ``corrected``. With
        ``typing`` (search as you type), the last word, when nothing follows it, is the
        start of a word (``coff`` finds coffee) and is never corrected. With
        ``everything``, a query with nothing to look for finds every article (a feed
        of the newest). Copies of a story (``duplicates``) are folded into its best
        result, listed in its ``similar`` (``fold=False`` keeps every copy in place, for
        measuring ranking); ``similar_to`` (an article id) gives that article and its
        copies that match the query instead, unfolded.

        :raises QueryError: for a query that cannot be run (the message says why).
        :raises ValueError: for out-of-range paging or an unknown sort.
        """
        # One searcher for the whole request: a correction is counted against the same
        # commit as the query it corrects, even while the indexer commits.
        return self._search(self._searcher(), text, page, per_page, sort, date_from, date_to,
                            snippets=snippets, correct=correct, typing=typing,
                            everything=everything, similar_to=similar_to, fold=fold)

    def _search(self, searcher, text, page, per_page, sort, date_from, date_to, *,
                snippets: bool, correct: bool, typing: bool = False,
                everything: bool = False, similar_to: str | None = None,
                fold: bool = True) -> SearchResults:
        started = time.perf_counter()
        if sort not in SORTS:
            raise ValueError(f"sort must be one of {', '.join(SORTS)}")
        if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
            raise ValueError(f"page must be 1 or more and per_page 1 to {MAX_PER_PAGE}")
        if page * per_page > MAX_RESULT_WINDOW:
            raise ValueError(f"results beyond the first {MAX_RESULT_WINDOW:,} are not shown")
        parsed = parse_query(text)
        if typing:
            _read_last_word_as_prefix(parsed, text)
        asked = (date_from, date_to)
        date_from = max(filter(None, (date_from, parsed.date_from)), default=None)
        date_to = min(filter(None, (date_to, parsed.date_to)), default=None)
        results = SearchResults(text, 0, page, per_page, 0.0, sort, date_from, date_to)
        results.truncated = parsed.truncated
        results.similar_to = similar_to

        # The time limit counts from here: expanding prefixes is part of the work.
        limit = SEARCH_SECONDS if self.time_limit is None else self.time_limit
        deadline = time.monotonic() + limit
        query = build_query(parsed, searcher.reader())
        if query is None and everything and not parsed.clauses:
            query = wq.Every()
        if query is not None:
            run = Run(searcher, deadline)
            matches, fewer = self._match_words(run, query, date_from, date_to, results,
                                               every_word=not parsed.any_word)
            if similar_to is not None:
                matches, fewer = _copies_of(searcher, matches, similar_to), None
            results.total = sum(len(scores) for _, scores in matches)
            listed, matched = matches, None
            if fewer is not None:
                # Ranked as BM25 ranks them, with the matches marked (``Hit.partial``).
                listed = fewer
                matched = {leaf.offset + d for leaf, scores in matches for d in scores}
                results.partial = sum(len(scores) for _, scores in listed) - results.total
            best, results.collapsed = _collapsed_page(
                listed, page, per_page, sort, results.total + results.partial,
                fold=fold and similar_to is None)
            marks = ((query_marks(query, searcher), query_marks(query, searcher, "headline"))
                     if snippets else None)
            results.hits = [_hit(searcher, docnum, score, marks, snippets, copies,
                                 partial=matched is not None and docnum not in matched)
                            for docnum, score, copies in best]
            results.timeline = _timeline(
                matches, functools.partial(self._archive_periods, searcher), date_from, date_to)
            results.complete = not run.expired
            if results.complete:
                results.suggestion = self._suggest(searcher, parsed, text, results, run)
        if correct and results.suggestion and not results.total:
            retry = self._search(searcher, results.suggestion, page, per_page, sort, *asked,
                                 snippets=snippets, correct=False, typing=typing,
                                 similar_to=similar_to, fold=fold)
            retry.query, retry.corrected, retry.suggestion = text, results.suggestion, None
            results = retry
        results.took_ms = (time.perf_counter() - started) * 1000
        return results

    @_reads_index
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
                candidates.append((reader.frequency(field_name, candidate), candidate))
        return [f"{head} {candidate}".strip() for _, candidate in heapq.nlargest(limit, candidates)]

    @_reads_index
    def article(self, article_id: str, related: bool = True) -> ArticleRecord | None:
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
            credit=stored.get("credit"),
        )
        if not related:
            return record
        field_name = "body" if record.body else "headline"
        text = (record.body or record.headline)[:RELATED_TEXT_CHARS]
        similar = searcher.more_like(docnum, field_name, text=text, top=RELATED_ARTICLES,
                                     numterms=RELATED_KEY_TERMS) if text.strip() else []
        record.related = [
            Related(hit["id"], hit.get("headline", ""), _date(hit.get("date"))) for hit in similar
        ]
        return record

    @property
    def location(self) -> str:
        return str(self.index_dir)

    def health(self) -> Health:
        """Say whether the index can be searched, with its size and last commit."""
        damage = self.damage()
        if damage is None:
            try:
                stats = index_stats(self.index_dir)
            except Exception as error:  # damaged since damage() last looked
                damage = f"{type(error).__name__}: {error}"
        if damage is not None:
            return Health("damaged", damage)
        if stats is None:
            return Health("no index", f"There is no index in {self.index_dir} yet.")
        return Health("ok", stats=stats)

    def stats(self, largest: int = 0, date_range: bool = False) -> IndexStats | None:
        stats = index_stats(self.index_dir, largest=largest, date_range=date_range)
        if stats is not None:
            stats.size_bytes = _folder_bytes(self.index_dir)
        return stats

    def exists(self) -> bool:
        return open_index(self.index_dir) is not None

    def update(self, paths: Iterable[Path], rebuild: bool = False,
               progress: Progress | None = None, workers: int = 1) -> IndexReport:
        return update_index(paths, self.index_dir, rebuild=rebuild, progress=progress,
                            workers=workers)

    def record_miss(self, query: str) -> None:
        reports.record_miss(reports.log_path(self.index_dir), query)

    def top_misses(self, limit: int = 20) -> list[tuple[str, int]]:
        return reports.top_misses(reports.log_path(self.index_dir), limit)

    def mark(self, text: str, parts: list[str]) -> list[str]:
        """Return each of ``parts`` as escaped HTML with the words ``text`` searches marked.

        An empty or unusable query marks nothing; each part is escaped all the same.
        """
        marks = None
        if text.strip():
            with self._lent_searcher():
                searcher = self._searcher()
                try:
                    query = build_query(parse_query(text), searcher.reader())
                except QueryError:
                    query = None
                if query is not None:
                    marks = query_marks(query, searcher)
        return [mark_words(part, marks) for part in parts]

    def _suggest(self, searcher, parsed: ParsedQuery, text: str, results: SearchResults,
                 run: Run):
        """Return a spelling-corrected query when it finds more than ``text`` did.

        A word no article has is corrected to the nearest one; a rare word, to a near one
        that is ``SUGGEST_RATIO`` times as common ("Volker", 1 article: "volcker", 124).
        The correction is offered when it finds something where ``text`` found nothing,
        has all its words where ``text`` had to do with fewer, or finds ``SUGGEST_RATIO``
        times as many (and at least ``MIN_SUGGESTED_RESULTS``). Words are looked up only
        while ``run`` has time, and at most ``MAX_CORRECTED_WORDS`` of them.
        """
        corrected = text
        looked_up = 0
        for clause in parsed.clauses:
            word = clause.text.lower()
            if (clause.kind != "word" or clause.occur == MUST_NOT
                    or not MIN_CORRECTION_CHARS <= len(word) <= MAX_CORRECTION_CHARS
                    or not word.isalpha()):
                continue
            tokens = [t.text for t in searcher.schema["body"].analyzer(word)]
            if not tokens:
                continue
            frequency = word_frequency(searcher, tokens[0])
            if frequency >= MIN_SUGGESTED_RESULTS:
                continue
            looked_up += 1
            if run.out_of_time():
                return None
            if looked_up > MAX_CORRECTED_WORDS:
                break
            # A word some article has is taken for a typo only one edit away from a far
            # commoner one ("volker"): two edits away, real words abound, and walking
            # the index's words for them cost most of a rare word's search.
            edits = MAX_CORRECTION_EDITS if not frequency else 1
            if suggestion := closest_word(self._leaves(searcher), searcher, word,
                                          min_frequency=frequency * SUGGEST_RATIO,
                                          max_edits=edits):
                corrected = re.sub(rf"(?<!\w){re.escape(clause.text)}(?!\w)",
                                   suggestion, corrected, count=1)
        if corrected == text or len(corrected) > MAX_QUERY_CHARS:
            return None
        parsed = parse_query(corrected)
        query = build_query(parsed, searcher.reader())
        if query is None:
            return None
        # Reading the words of the index for the first time may have used up the time.
        limit = SEARCH_SECONDS if self.time_limit is None else self.time_limit
        run = Run(searcher, time.monotonic() + limit)
        found = SearchResults(corrected, 0, results.page, results.per_page, 0.0, results.sort)
        matches, _ = self._match_words(run, query, results.date_from, results.date_to, found,
                                       every_word=not parsed.any_word)
        total = sum(len(scores) for _, scores in matches)
        if run.expired or not total:
            return None
        if (not results.total or found.required_words > results.required_words
                or total >= max(SUGGEST_RATIO * results.total, MIN_SUGGESTED_RESULTS)):
            return corrected
        return None

    def _match_words(self, run: Run, query: wq.Query, date_from: date | None,
                     date_to: date | None, results: SearchResults, *,
                     every_word: bool = True) -> tuple[list, list | None]:
        """Score the articles that have the words ``query`` requires, or, when none has,
        those with most of them (see ``matching``); note in ``results`` which.

        Returns the matches, which the count, the timeline and the date sorts are made
        of, and, for a ranked list that they alone would leave short, the articles with
        any of the words, to be ranked with them (None otherwise). Without
        ``every_word`` (the reader typed OR), any one word will do.
        """
        words = optional_words(query)
        required = asked = required_words(words) if every_word else min(words, 1)
        first_found = None
        while True:
            wanted = requiring(query, required) if words > 1 else query
            matches = self._matches(run, wanted, date_from, date_to)
            found = sum(len(scores) for _, scores in matches)
            first_found = found if first_found is None else first_found
            if found or required <= 1 or run.out_of_time():
                break
            required -= 1
        results.query_words, results.required_words = words, required
        results.relaxed = required < asked
        enough = enough_ranked_matches(run.searcher.doc_count())
        # Ranked, the articles with fewer words are left out when enough have all the
        # words asked for (none of a tiny archive is enough), else ranked with them.
        if results.sort != "relevance" or required <= 1 or run.out_of_time() or \
                first_found >= enough:
            return matches, None
        return matches, self._matches(run, requiring(query, 1), date_from, date_to)

    def _matches(self, run: Run, query: wq.Query, date_from: date | None,
                 date_to: date | None) -> list[tuple[Leaf, ranking.Scores]]:
        """Score every article ``query`` matches in each segment, within the date range."""
        low, high = date_keys(run.searcher, date_from, date_to)
        matches = []
        for leaf in self._leaves(run.searcher):
            scores = score_segment(query, leaf, run)
            if leaf.segment.deleted:
                scores = ranking.without(scores, leaf.segment.deleted)
            if low is not None:
                scores = ranking.within(scores, date_column(leaf.segment), low, high)
            matches.append((leaf, scores))
        return matches

    def _archive_periods(self, searcher, unit: str) -> Counter:
        """Return how many articles the archive holds per year, month or day (``unit``),
        worked out once per state of the index.

        They were added up from each segment's days (3,500 of them in the 1M headlines)
        for every search: with that, the timeline took 6.5-7.2 ms CPU a search there,
        3.1 now.
        """
        segments = [leaf.segment for leaf in self._leaves(searcher)]
        key = tuple(map(id, segments))
        cached = self._periods.get(key)
        # Weak references: an index state gone by keeps none of its segments in memory.
        if cached is None or any(ref() is not segment
                                 for ref, segment in zip(cached[0], segments, strict=True)):
            cached = (tuple(map(weakref.ref, segments)), {})
            with self._lock:
                if len(self._periods) >= MAX_CACHED_STATES:
                    self._periods.clear()
                self._periods[key] = cached
        by_unit = cached[1]
        if unit not in by_unit:
            totals: Counter = Counter()
            for day, count in self._archive_days(searcher).items():
                totals[period_start(day, unit)] += count
            by_unit[unit] = totals
        return by_unit[unit]

    def _archive_days(self, searcher) -> Counter:
        """Return how many articles the archive holds per day (read once per segment)."""
        days: Counter = Counter()
        for leaf in self._leaves(searcher):
            cached = self._days.get(id(leaf.segment))
            if cached is None or cached[0] is not leaf.segment:
                dates = leaf.segment.dates
                keys = Counter(dates)
                keys.subtract(dates[d] for d in leaf.segment.deleted)
                counts = Counter()
                for key, count in keys.items():
                    if key < UNDATED_KEY and count > 0:
                        counts[_day(key)] += count
                with self._lock:
                    if len(self._days) >= MAX_CACHED_SEGMENTS:
                        self._days.clear()
                    self._days[id(leaf.segment)] = cached = (leaf.segment, counts)
            days.update(cached[1])
        return days

    def _leaves(self, searcher) -> list[Leaf]:
        """Return the index's segments with their columns, read once per segment."""
        leaves = []
        for leaf_searcher, offset in searcher.leaf_searchers():
            reader = leaf_searcher.reader()
            segment = reader.segment()
            key = (segment.segment_id(), segment.deleted_count())
            data = self._segments.get(key)
            if data is None:
                data = read_segment(reader)
                with self._lock:
                    if len(self._segments) >= MAX_CACHED_SEGMENTS:
                        self._segments.clear()
                    self._segments[key] = data
            leaves.append(Leaf(leaf_searcher, offset, data))
        return leaves


def _read_last_word_as_prefix(parsed: ParsedQuery, text: str) -> None:
    """Make the word being typed (the last, with nothing after it) a prefix."""
    last = parsed.clauses[-1] if parsed.clauses else None
    if (last is not None and last.kind == "word"
            and clean_query(text).lower().endswith(last.text.lower())
            and not text[-1:].isspace()):
        last.kind = "prefix"


def _timeline(matches: list[tuple[Leaf, ranking.Scores]],
              archive_periods: Callable[[str], Counter],
              date_from: date | None = None, date_to: date | None = None) -> list[Period]:
    """Count matches per year, per month when they span a short time, per day within a
    month (or a date filter of a few weeks), with the archive's articles per period
    (``archive_periods(unit)``)."""
    keys: Counter = Counter()
    for leaf, scores in matches:
        keys.update(_date_keys_of(leaf.segment.dates, scores))
    dated = [key for key in keys if key < UNDATED_KEY]
    if not dated:
        return []
    # Keys grow with the date, so the first and last keys are the first and last days.
    first, last, unit = timeline_span(_day(min(dated)), _day(max(dated)), date_from, date_to)
    counts: Counter = Counter()
    for key in dated:
        counts[_period_of(key, unit)] += keys[key]
    totals = archive_periods(unit)
    periods = []
    start = period_start(first, unit)
    while start <= last:
        end = period_end(start, unit)
        label = {"year": f"{start.year}", "month": f"{start.year}-{start.month:02}"}.get(
            unit, start.isoformat())
        periods.append(Period(label, start, end, counts[start], totals[start]))
        start = end + timedelta(days=1)
    return periods


def _date_keys_of(dates, docnums) -> Iterable[int]:
    """Return the date keys of some articles of a segment."""
    # One itemgetter call takes them all: a third less time than a map on 1M headlines.
    return itemgetter(*docnums)(dates) if len(docnums) > 1 else [dates[d] for d in docnums]


@functools.lru_cache(maxsize=100_000)
def _period_of(key: int, unit: str) -> date:
    """Return the first day of the period (``unit``) of a raw date-column key."""
    return period_start(_day(key), unit)




def _collapsed_page(matches: list[tuple[Leaf, ranking.Scores]], page: int, per_page: int,
                    sort: str, total: int, fold: bool = True):
    """Return one page of results as (article, score, its copies), and how many were folded.

    Copies are looked for among the first results (``COLLAPSE_WINDOW_FACTOR`` times those
    up to the page, and more when that does not fill the page): a copy is folded into the
    best of them it copies. Folding changes which results fill the page, never their order.
    """
    wanted = page * per_page
    start = wanted - per_page
    if not fold:
        return [(d, score, []) for d, score in first_matches(matches, wanted, sort)[start:]], 0
    count = min(total, max(COLLAPSE_MIN_WINDOW, wanted * COLLAPSE_WINDOW_FACTOR))
    leaves = [leaf for leaf, _ in matches]
    while True:
        ranked = first_matches(matches, count, sort)
        scores = dict(ranked)
        groups = duplicates.group_copies(_signed(leaves, [d for d, _ in ranked]))
        if len(groups) >= wanted or count >= min(total, COLLAPSE_MAX_WINDOW):
            break
        count = min(total, count * 4, COLLAPSE_MAX_WINDOW)
    collapsed = sum(len(group.copies) for group in groups)
    return [(g.first, scores[g.first], g.copies) for g in groups[start:wanted]], collapsed


def _signed(leaves: list[Leaf], docnums: list[int]) -> list[tuple[int, bytes, int | None]]:
    """Return (article, signature, day number or None) of each of ``docnums``, for
    ``duplicates.group_copies``."""
    offsets = [leaf.offset for leaf in leaves]
    numbers = [bisect_right(offsets, docnum) - 1 for docnum in docnums]
    wanted: dict[int, list[int]] = {}
    for docnum, number in zip(docnums, numbers, strict=True):
        wanted.setdefault(number, []).append(docnum - offsets[number])
    read = {number: iter(_signatures(leaves[number], local))
            for number, local in wanted.items()}
    return [(docnum, next(read[number]),
             _day_number(leaves[number].segment.dates[docnum - offsets[number]]))
            for docnum, number in zip(docnums, numbers, strict=True)]


def _signatures(leaf: Leaf, docnums: list[int]) -> list[bytes]:
    """Read the signatures of ``docnums`` (article numbers within ``leaf``'s segment)."""
    column = _signature_column(leaf.searcher.reader())
    if column is None:
        return [duplicates.NO_SIGNATURE] * len(docnums)
    found = _column_file(column)
    if found is None:
        return [column[docnum] for docnum in docnums]
    fileno, start = found
    size, stored = duplicates.SIGNATURE_BYTES, column._count
    # Kept, slicing them took reading the Reuters-21578 speed queries' signatures and
    # days from 0.7 ms a query to 0.25.
    kept = leaf.segment.signatures
    if kept is None and stored * size <= MAX_KEPT_SIGNATURE_BYTES:
        kept = os.pread(fileno, stored * size, start)
        if len(kept) == stored * size:  # else a damaged file: read as Whoosh would
            leaf.segment.signatures = kept
    if leaf.segment.signatures is not None:
        return [kept[docnum * size:(docnum + 1) * size] if docnum < stored else column[docnum]
                for docnum in docnums]
    # Whoosh reads a value through four layers of file objects that seek and read; one
    # read at the value's place (thread-safe: no file position) costs a quarter as much.
    return [os.pread(fileno, size, start + docnum * size) if docnum < stored
            else column[docnum] for docnum in docnums]


def _signature_column(reader):
    """Return a segment's column of signatures, or None for one indexed before them."""
    if "signature" not in reader.schema or not reader.has_column("signature"):
        return None
    return reader.column_reader("signature", translate=False)


def _column_file(column) -> tuple[int, int] | None:
    """Return the open file a column of fixed-size values is in and where they start, or
    None when they are elsewhere (in memory): Whoosh's own reads then."""
    if not isinstance(column, FixedBytesColumn.Reader):
        return None
    part, start = getattr(column._dbfile, "file", None), column._basepos
    if isinstance(part, SubFile):  # a part of the segment's compound file
        part, start = part._file, start + part._offset
    try:
        return part.fileno(), start
    except (AttributeError, OSError, ValueError):  # not a real file, or closed
        return None


def _copies_of(searcher, matches: list[tuple[Leaf, ranking.Scores]],
               article_id: str) -> list[tuple[Leaf, ranking.Scores]]:
    """Keep the matches that are ``article_id`` or a copy of it (none for an unknown id)."""
    try:
        docnum = searcher.document_number(id=article_id)
    except (UnicodeError, ValueError):  # not an id the index could hold
        docnum = None
    if docnum is None:
        return [(leaf, {}) for leaf, _ in matches]
    leaves = [leaf for leaf, _ in matches]
    _, sig, day = _signed(leaves, [docnum])[0]
    kept = []
    for leaf, scores in matches:
        dates, low, high = leaf.segment.dates, None, None
        if day is not None:
            low = _key_of(searcher, date.fromordinal(day - duplicates.MAX_DAYS_APART))
            high = _key_of(searcher, date.fromordinal(day + duplicates.MAX_DAYS_APART + 1))
        near = [d for d in scores if leaf.offset + d == docnum or (
            (dates[d] == UNDATED_KEY) if day is None else low <= dates[d] < high)]
        same = {}
        for other, other_sig, other_day in _signed([leaf], [leaf.offset + d for d in near]):
            if other == docnum or duplicates.is_copy(sig, other_sig, day, other_day):
                same[other - leaf.offset] = scores[other - leaf.offset]
        kept.append((leaf, same))
    return kept


def _key_of(searcher, day: date) -> int:
    """Return the date column's key of the start of ``day``."""
    return searcher.schema["date"].to_column_value(datetime(day.year, day.month, day.day))


def _day_number(key: int) -> int | None:
    """Return the day number (``date.toordinal``) of a raw date-column key, or None for an
    undated article: Whoosh counts microseconds from the start of day 1."""
    return key // _DAY_KEYS + 1 if key < UNDATED_KEY else None


@functools.lru_cache(maxsize=100_000)
def _day(key: int) -> date:
    """Return the day a raw date-column key stands for (few distinct days, many articles)."""
    return DATE_FIELD.from_column_value(key).date()


def _date(value) -> date | None:
    return value.date() if isinstance(value, datetime) else None


def _hit(searcher, docnum: int, score: float, marks: tuple[Marks, Marks] | None,
         snippets: bool, copies: list[int], partial: bool = False) -> Hit:
    stored = searcher.stored_fields(docnum)
    headline = stored.get("headline", "")
    similar = [searcher.stored_fields(copy)["id"] for copy in copies]
    marked_headline = marked = ""
    if snippets:
        body_marks, headline_marks = marks
        marked_headline = mark(headline, headline_marks)
        body = stored.get("body", "")
        # Snippets hold only text and <mark> tags, so collapsing whitespace is safe.
        marked = " ".join(snippet(body, body_marks).split()) or html.escape(lead(body),
                                                                            quote=False)
    # Built whole, so that Hit makes every text of it safe to output in one place.
    return Hit(stored["id"], headline, _date(stored.get("date")), marked, score,
               headline_html=marked_headline, similar=similar, partial=partial)



def _folder_bytes(folder: Path) -> int:
    """Add up the sizes of the files in ``folder`` (0 when it is gone)."""
    total = 0
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            with contextlib.suppress(OSError):
                if entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_size
    return total
