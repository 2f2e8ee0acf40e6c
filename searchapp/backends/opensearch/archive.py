"""Search the archive on an OpenSearch cluster: the same results as the embedded index.

``OpenSearchArchive`` is opened once per process and shared by its threads (the client is
thread-safe and keeps a pool of connections per node). A search costs one or two round
trips: one ``_msearch`` for the page's candidates (ids, dates and signatures from doc
values), the count and the timeline (with the archive's own counts per period, cached a
while), then one for the stored text of the page's hits, with the correction lookup when
one may be offered; each is answered from the shard copies of the node asked. Snippets
and marks are cut here, in Python, by ``searchapp.snippets`` with the index's own analysis
repeated (``analysis``), so they equal the embedded index's.
"""

from __future__ import annotations

import base64
import heapq
import html
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime, timezone
from pathlib import Path

from opensearchpy import exceptions as os_errors
from rapidfuzz.distance import Levenshtein

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
from searchapp.backends.opensearch import timeline
from searchapp.backends.opensearch.analysis import analyse, fold
from searchapp.backends.opensearch.connection import (
    check_index_name,
    connect,
    parse_address,
)
from searchapp.backends.opensearch.mapping import COMBINED_FIELD
from searchapp.backends.opensearch.query import (
    FIELD_WEIGHTS,
    BuiltQuery,
    build_query,
    everything_query,
)
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
    Related,
    SearchResults,
    period_end,
    period_start,
)
from searchapp.snippets import Marks, lead, mark, mark_all, snippet
from searchapp.spelling import best_correction

MIN_COMPLETION_CHARS = 2
MAX_COMPLETIONS = 8
# Completions are read from the words of this many articles that have the prefix (of
# those short enough to read quickly), then ranked by how many articles have each.
COMPLETION_SAMPLE = 20
COMPLETION_SAMPLE_MAX_WORDS = 5_000
# Copies of a story are looked for among this many times the results up to the page
# shown (at least COLLAPSE_MIN_WINDOW, at most the cluster's result window).
COLLAPSE_WINDOW_FACTOR = 3
COLLAPSE_MIN_WINDOW = 100
COLLAPSE_MAX_WINDOW = MAX_RESULT_WINDOW
# Matching and counting stop after this long; the reader gets what was found by then.
SEARCH_SECONDS = 2.0
# The client waits this much longer than the search's own time limit for an answer.
REQUEST_SLACK_SECONDS = 5.0
# How often damage() asks the cluster again.
HEALTH_SECONDS = 5.0
HEALTH_REQUEST_SECONDS = 3.0
# The archive's articles per year and month (the timeline's "total") are counted again
# after this long; an update through this archive counts them again at once.
TOTALS_SECONDS = 30.0
# Months whose articles per day are kept (a timeline of days shows one or two).
DAY_TOTALS_MONTHS = 1_000
RELATED_ARTICLES = 5
RELATED_KEY_TERMS = 12
RELATED_TEXT_CHARS = 20_000
MIN_CORRECTION_CHARS = 4
MAX_CORRECTION_CHARS = 40
MAX_CORRECTED_WORDS = 8
MAX_CORRECTION_EDITS = 2
# Near words the cluster offers for each word, before ours are chosen among them.
CORRECTION_CANDIDATES = 20
SUGGEST_RATIO = 10
MIN_SUGGESTED_RESULTS = 20
# Connections kept open to each node: one per thread that searches at once (waitress
# serves 8 by default; more threads open more, and close them after).
CONNECTIONS_PER_NODE = 16
# The zero-result report lives in an index of its own beside the archive's.
MISSES_SUFFIX = "-misses"
HIT_FIELDS = ["id", "headline", "date"]
# Searches and fetches read the copies of the shards on the node asked, where it has them:
# no hop to another node (and the same copies for every page a reader turns); another
# node's copies are read when it has none, or none that is started.
LOCAL_COPIES = "_local"


class OpenSearchArchive(Archive):
    """The archive in one index (an alias) of an OpenSearch cluster."""

    engine = "opensearch"
    interrupted_note = ("the files indexed before the interruption are in the archive, "
                        "each one's articles old or new (a large export may be part-way); "
                        "run the same command again to finish.")

    def __init__(self, urls: str, index_name: str | None = None,
                 time_limit: float | None = None):
        self.address = parse_address(urls)
        self.alias = check_index_name(index_name)
        self.time_limit = time_limit
        self._lock = threading.Lock()
        self._client = None
        self._totals: tuple[float, dict] | None = None
        # Whether the index has the combined field that scores words with BM25F: (when
        # asked, the answer). An index built before it existed is searched the old way.
        self._combined: tuple[float, bool] | None = None
        # The archive's articles per day, by month: (when counted, the counts).
        self._days: dict[date, tuple[float, Counter]] = {}
        self._health_checked = -1e18
        self._health: tuple[str, str | None] = ("", None)

    # The cluster.

    @property
    def client(self):
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = connect(self.address, pool_size=CONNECTIONS_PER_NODE)
        return self._client

    @property
    def location(self) -> str:
        return f"index {self.alias} on {self.address}"

    def _limit(self) -> float:
        return SEARCH_SECONDS if self.time_limit is None else self.time_limit

    def _missing(self) -> IndexUnavailable:
        return IndexUnavailable(
            f"There is no index {self.alias} on the cluster at {self.address} yet. Build it "
            f"with `SEARCHAPP_OPENSEARCH_URL={self.address} searchapp index FOLDER`.")

    def _unavailable(self, error: Exception) -> IndexDamaged:
        with self._lock:
            self._health_checked = -1e18  # damage() asks again at once
        return IndexDamaged(
            f"The archive is unavailable: the cluster at {self.address} cannot be searched "
            f"({_reason(error)}). Please try again later.")

    def _call(self, method: str, **arguments):
        """Call the client, turning the cluster's failures into the archive's errors."""
        try:
            target = self.client
            for name in method.split("."):  # "indices.get_field_mapping" too
                target = getattr(target, name)
            return target(**arguments)
        except os_errors.NotFoundError as error:
            if _is_missing_index(error):
                raise self._missing() from None
            raise self._unavailable(error) from None
        except os_errors.RequestError as error:
            raise QueryError("This search cannot be run; please change it.") from error
        except (os_errors.TransportError, os_errors.ImproperlyConfigured) as error:
            raise self._unavailable(error) from None

    def _msearch(self, searches: list[dict], timeout: float | None = None,
                 scored: bool = True) -> list[dict]:
        """Run several searches in one round trip; each answer, or the archive's error.

        Scored searches first gather the words' statistics over all shards, so that an
        article's score does not depend on the shard it is in; ``scored=False`` skips
        that phase for searches whose scores nobody reads.
        """
        search_type = "dfs_query_then_fetch" if scored else "query_then_fetch"
        lines: list[dict] = []
        for body in searches:
            lines += [{"index": self.alias, "search_type": search_type,
                       "preference": LOCAL_COPIES, "allow_partial_search_results": False},
                      body]
        answer = self._call("msearch", body=lines,
                            params={"request_timeout": (timeout or self._limit())
                                    + REQUEST_SLACK_SECONDS})
        responses = answer.get("responses", [])
        for response in responses:
            if "error" in response:
                error = response["error"]
                kind = error.get("type", "") if isinstance(error, dict) else ""
                status = response.get("status", 500)
                if kind == "index_not_found_exception" or "index_not_found" in str(error):
                    raise self._missing()
                if status == 400:
                    raise QueryError("This search cannot be run; please change it.")
                raise self._unavailable(RuntimeError(f"{status} {kind}"))
        return responses

    # Reading.

    def count(self) -> int:
        """Return how many articles the archive holds."""
        return self._archive_totals()["articles"]

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
        """Run a reader's query and return one page of results (see ``Archive.search``)."""
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
        self._archive_totals()  # an archive without articles cannot be searched yet
        combined = self._has_combined_field()
        asked = (date_from, date_to)
        date_from = max(filter(None, (date_from, parsed.date_from)), default=None)
        date_to = min(filter(None, (date_to, parsed.date_to)), default=None)
        results = SearchResults(text, 0, page, per_page, 0.0, sort, date_from, date_to)
        results.truncated = parsed.truncated
        results.similar_to = similar_to
        built = build_query(parsed, combined)
        if built is None and everything and not parsed.clauses:
            built = BuiltQuery()
        if built is not None:
            near = self._run(built, parsed, results, snippets=snippets,
                             fold=fold and similar_to is None)
            if results.complete and not results.corrected:
                results.suggestion = self._suggest(parsed, text, results, near)
        if correct and results.suggestion and not results.total:
            retry = self.search(results.suggestion, page, per_page, sort, *asked,
                                snippets=snippets, correct=False, typing=typing,
                                similar_to=similar_to, fold=fold)
            retry.query, retry.corrected, retry.suggestion = text, results.suggestion, None
            results = retry
        results.took_ms = (time.perf_counter() - started) * 1000
        return results

    def _run(self, built: BuiltQuery, parsed: ParsedQuery, results: SearchResults, *,
             snippets: bool, fold: bool) -> dict | None:
        """Find the page of ``results``: match, fold copies, count, fetch and mark.

        Returns the cluster's answer about the words a correction may replace, asked in
        the same round trip as the page's articles when the matches call for one.
        """
        page, per_page = results.page, results.per_page
        wanted = page * per_page
        if results.similar_to is not None:
            size = COLLAPSE_MAX_WINDOW
        elif fold:
            size = min(COLLAPSE_MAX_WINDOW,
                       max(COLLAPSE_MIN_WINDOW, wanted * COLLAPSE_WINDOW_FACTOR))
        else:  # just the page, unless partial matches are listed after the matches
            size = per_page
        start = 0 if fold or results.similar_to is not None else wanted - per_page
        found, fewer, any_word = self._match(built, parsed, results, size=size, start=start,
                                             aggs=True)
        results.total = found["hits"]["total"]["value"]
        aggregations = found.get("aggregations", {})
        # Every match in hand (a few): their days are counted here, not asked for again.
        matches = found["hits"]["hits"] if not start else []
        matched_days = (timeline.count_days(_day(_first_value(hit, "date")) for hit in matches)
                        if matches and len(matches) >= results.total else None)
        if fewer and start:
            # Few matches: all of them, then the partial ones, up to the page.
            found = self._msearch([self._search_body(built, results, results.required_words,
                                                     results.total, False)])[0]
            size, start = wanted, 0
        listed = self._listed(built, results, found, fewer, size, any_word)
        if results.similar_to is not None:
            ranked = _copies_of(found["hits"]["hits"], results.similar_to)
            results.total, results.partial = len(ranked), 0
            page_hits = [(doc, score, [], False)
                         for doc, score in ranked[wanted - per_page:wanted]]
        elif fold:
            page_hits, results.collapsed = self._collapsed_page(
                built, results, listed, fewer, wanted, per_page)
        else:
            shown = listed if start else listed[wanted - per_page:wanted]
            page_hits = [(_article_id(hit), hit.get("_score") or 0.0, [], hit.get("partial", False))
                         for hit in shown]
        results.timeline = self._timeline(built, results, aggregations, matched_days)
        words = _distinct(self._correction_words(parsed, results)) if results.complete else []
        results.hits, near = self._hits(built, page_hits, snippets,
                                        _near_words_search(words) if words else None)
        return near

    def _match(self, built: BuiltQuery, parsed: ParsedQuery, results: SearchResults, *,
               size: int, start: int = 0, aggs: bool = False
               ) -> tuple[dict, bool, dict | None]:
        """Search for the articles with the query's words (``matching``), one word fewer at
        a time only when none has them; note in ``results`` which, and whether the time
        limit cut the search short.

        Returns the cluster's answer, which the count, the timeline and the date sorts are
        made of, whether a ranked list that these alone would leave short goes on
        with the articles that have any of the words, and those articles when they were
        found on the way (the same first ``size`` from the start).
        """
        words = built.optional_words
        required = asked = required_words(words) if not parsed.any_word else min(words, 1)
        found = self._msearch([self._search_body(built, results, required, size, aggs,
                                                 start)])[0]
        first_total = found["hits"]["total"]["value"]
        any_word = None
        if not first_total and required > 1 and not found.get("timed_out"):
            # None has all the words: the searches with one word fewer at a time go in one
            # round trip, and the first that finds any is taken.
            steps = range(required - 1, 0, -1)
            answers = self._msearch([self._search_body(built, results, r, size, aggs, start)
                                     for r in steps])
            any_word = answers[-1] if not start else None
            for step, answer in zip(steps, answers, strict=True):
                required, found = step, answer
                if found["hits"]["total"]["value"] or found.get("timed_out"):
                    break
        results.query_words, results.required_words = words, required
        results.relaxed = required < asked
        results.complete = results.complete and not found.get("timed_out")
        # Ranked, the articles with fewer words are left out when enough have all the
        # words asked for (none of a tiny archive is enough), else ranked with them.
        fewer = (results.sort == "relevance" and required > 1 and results.complete
                 and first_total < enough_ranked_matches(self._archive_totals()["articles"]))
        return found, fewer, any_word

    def _listed(self, built: BuiltQuery, results: SearchResults, found: dict, fewer: bool,
                size: int, any_word: dict | None = None) -> list[dict]:
        """Return the first ``size`` results to list: the matches, or, when ``fewer``,
        the articles with any of the words in BM25's order (``any_word`` when they are
        in hand), those that are not matches marked ``partial``."""
        hits = found["hits"]["hits"]
        if not fewer:
            return hits
        searches = [] if any_word else [self._search_body(built, results, 1, size, False)]
        if len(hits) < results.total:  # all of them: fewer than a ranked list needs
            searches.append(self._search_body(built, results, results.required_words,
                                              results.total, False))
        answers = self._msearch(searches) if searches else []  # one round trip for both
        more = any_word or answers.pop(0)
        if answers:
            hits = answers[0]["hits"]["hits"]
        matched = {_article_id(hit) for hit in hits}
        results.partial = more["hits"]["total"]["value"] - results.total
        return [dict(hit, partial=_article_id(hit) not in matched) for hit in more["hits"]["hits"]]

    def _search_body(self, built: BuiltQuery, results: SearchResults, required: int,
                     size: int, aggs: bool, start: int = 0) -> dict:
        body = {
            "query": built.query(required, results.date_from, results.date_to),
            "from": start, "size": size, "track_total_hits": True,
            "timeout": f"{int(self._limit() * 1000)}ms",
            # Each hit's id, date and signature from doc values: no stored field is read
            # (the fetch of a hundred hits' stored fields cost more than the search).
            "stored_fields": "_none_", "docvalue_fields": ["signature", "date", "id"],
        }
        if results.sort != "relevance":
            order = "asc" if results.sort == "oldest" else "desc"
            body["sort"] = [{"date": {"order": order, "missing": "_last",
                                      "unmapped_type": "date"}}, {"_score": "desc"}]
            body["track_scores"] = True
        if aggs:
            body["aggs"] = timeline.match_aggregations(results.date_from, results.date_to)
        return body

    def _collapsed_page(self, built: BuiltQuery, results: SearchResults, listed: list[dict],
                        fewer: bool, wanted: int, per_page: int):
        """Return one page as (article, score, its copies, partial), and how many were
        folded.

        Copies are looked for among the first results (``COLLAPSE_WINDOW_FACTOR`` times
        those up to the page, more when that does not fill the page), as on Whoosh.
        """
        total = results.total + results.partial
        count = len(listed)
        while True:
            groups = duplicates.group_copies(_signed(listed))
            if len(groups) >= wanted or count >= min(total, COLLAPSE_MAX_WINDOW):
                break
            count = min(total, count * 4, COLLAPSE_MAX_WINDOW)
            found = self._msearch([self._search_body(built, results, results.required_words,
                                                     count, False)])[0]
            listed = self._listed(built, results, found, fewer, count)
        by_id = {_article_id(hit): hit for hit in listed}
        collapsed = sum(len(group.copies) for group in groups)
        return ([(g.first, by_id[g.first].get("_score") or 0.0, g.copies,
                  by_id[g.first].get("partial", False))
                 for g in groups[wanted - per_page:wanted]], collapsed)

    def _hits(self, built: BuiltQuery, page_hits: list[tuple[str, float, list[str], bool]],
              snippets: bool, along: dict | None = None) -> tuple[list[Hit], dict | None]:
        """Fetch the page's stored articles and cut their snippets; run the search
        ``along`` in the same round trip, and return its answer too."""
        if not page_hits:
            return [], None
        # A copy's id is its document's: only the page's own articles are read.
        wanted = sorted({doc for doc, *_ in page_hits})
        fields = HIT_FIELDS + (["body"] if snippets else [])
        fetch = {"size": len(wanted), "query": {"ids": {"values": wanted}}, "_source": fields}
        answers = self._msearch([fetch] + ([along] if along else []), scored=False)
        stored = {hit["_id"]: hit.get("_source", {}) for hit in answers[0]["hits"]["hits"]}
        marks = (self._marks(built), self._marks(built, headline=True)) if snippets else None
        hits = []
        for doc, score, copies, partial in page_hits:
            source = stored.get(doc)
            if source is None:  # removed since it was found
                continue
            hits.append(_hit(source, score, marks, snippets, list(copies), partial))
        return hits, (answers[1] if along else None)

    def _marks(self, built: BuiltQuery | None, headline: bool = False) -> Marks:
        if built is None:
            return Marks(analyse)
        words = built.headline_marks if headline else built.marks
        phrases = built.headline_phrases if headline else built.phrases
        prefixes = tuple(sorted(w[:-1] for w in words if w.endswith("*")))
        return Marks(_analyser(prefixes) if prefixes else analyse, frozenset(words),
                     tuple(phrases))

    def _has_combined_field(self) -> bool:
        """Say whether the archive's index has the field that scores a word over headline,
        body and caption with BM25F (``mapping.COMBINED_FIELD``); asked again after
        ``TOTALS_SECONDS``, so a server sees a rebuilt index soon after the swap.

        An index built before that field existed has no copy of the text in it: its
        searches blend the fields' scores as they did then, and
        ``searchapp index --rebuild`` gives it the field.
        """
        cached = self._combined
        if cached is not None and time.monotonic() - cached[0] < TOTALS_SECONDS:
            return cached[1]
        answer = self._call("indices.get_field_mapping", index=self.alias,
                            fields=COMBINED_FIELD)
        combined = bool(answer) and all(COMBINED_FIELD in index.get("mappings", {})
                                        for index in answer.values())
        self._combined = (time.monotonic(), combined)
        return combined

    # The timeline.

    def _archive_totals(self) -> dict:
        """Return the archive's article count and its articles per year and month."""
        cached = self._totals
        if cached is not None and time.monotonic() - cached[0] < TOTALS_SECONDS:
            return cached[1]
        answer = self._msearch([{"size": 0, "track_total_hits": True,
                                 "aggs": timeline.total_aggregations()}])[0]
        totals = timeline.read_totals(answer)
        if not totals["articles"]:
            raise IndexUnavailable(
                f"The index {self.alias} on the cluster at {self.address} has no articles "
                "yet. Add article files and run `searchapp index`.")
        self._totals = (time.monotonic(), totals)
        return totals

    def _day_totals(self, first: date, last: date) -> Counter:
        """Return the archive's articles per day from ``first``'s month to ``last``'s,
        each month counted again after ``TOTALS_SECONDS``."""
        wanted = timeline.months(first, last)
        now = time.monotonic()
        counted = self._days
        missing = [month for month in wanted
                   if month not in counted or now - counted[month][0] >= TOTALS_SECONDS]
        if missing:
            end = period_end(missing[-1], "month")
            answer = self._msearch([{"size": 0, "query": everything_query(missing[0], end),
                                     "aggs": timeline.day_aggregations()}])[0]
            days = timeline.read_buckets(answer.get("aggregations", {}), "day")
            by_month: dict[date, Counter] = {month: Counter() for month in missing}
            for day, count in days.items():
                by_month.setdefault(period_start(day, "month"), Counter())[day] = count
            with self._lock:
                if len(self._days) + len(by_month) > DAY_TOTALS_MONTHS:
                    self._days = {}
                self._days.update({month: (now, found) for month, found in by_month.items()})
                counted = self._days
        totals: Counter = Counter()
        for month in wanted:
            totals.update(counted.get(month, (now, Counter()))[1])
        return totals

    def _timeline(self, built: BuiltQuery, results: SearchResults, aggregations: dict,
                  matched_days: Counter | None = None):
        plan = timeline.plan(aggregations, results.date_from, results.date_to)
        if plan is None:
            return []
        if plan.unit == "day" and "day" in aggregations:  # a date filter of a few weeks
            counts = timeline.read_buckets(aggregations, "day")
            totals = self._day_totals(plan.first, plan.last)
        elif plan.unit == "day" and matched_days is not None:
            counts, totals = matched_days, self._day_totals(plan.first, plan.last)
        elif plan.unit == "day":
            # Days are counted only for the few weeks shown, matches and archive alike.
            query = built.query(results.required_words or 1, plan.first, plan.last)
            day_searches = [{"size": 0, "query": query,
                             "aggs": timeline.day_aggregations()},
                            {"size": 0, "query": everything_query(plan.first, plan.last),
                             "aggs": timeline.day_aggregations()}]
            matched, archived = self._msearch(day_searches)
            counts = timeline.read_buckets(matched.get("aggregations", {}), "day")
            totals = timeline.read_buckets(archived.get("aggregations", {}), "day")
        else:
            counts = timeline.read_buckets(aggregations, plan.unit)
            totals = self._archive_totals()[plan.unit]
        return timeline.periods(plan, counts, totals)

    # Corrections.

    def _correction_words(self, parsed: ParsedQuery, results: SearchResults) -> list[str]:
        """Return the words of a query a correction may replace, in order (none when every
        word is in enough articles)."""
        if (results.total >= MIN_SUGGESTED_RESULTS and not results.relaxed
                and results.required_words >= results.query_words):
            return []  # every word is in that many articles: none is a typo
        return [clause.text.lower() for clause in parsed.clauses
                if clause.kind == "word" and clause.occur != MUST_NOT
                and MIN_CORRECTION_CHARS <= len(clause.text) <= MAX_CORRECTION_CHARS
                and clause.text.isalpha() and analyse(clause.text.lower())]

    def _suggest(self, parsed: ParsedQuery, text: str, results: SearchResults,
                 near_answer: dict | None = None) -> str | None:
        """Return a spelling-corrected query when it finds more than ``text`` did.

        The same rules as on Whoosh: a word no article has is corrected to the nearest
        one, a rare word to a near one ``SUGGEST_RATIO`` times as common, and the
        correction is offered when it finds something where ``text`` found nothing, has
        all its words where ``text`` had to do with fewer, or finds ``SUGGEST_RATIO``
        times as many (and at least ``MIN_SUGGESTED_RESULTS``).
        """
        words = self._correction_words(parsed, results)
        if not words:
            return None
        distinct = _distinct(words)
        if near_answer is None:  # not asked along with the page
            near_answer = self._msearch([_near_words_search(distinct)], scored=False)[0]
        frequencies, near = _read_near_words(near_answer, distinct)
        corrected = text
        looked_up = 0
        # Clause by clause, as on Whoosh: a word typed twice is looked up twice.
        for word in words:
            frequency = frequencies.get(word, 0)
            if frequency >= MIN_SUGGESTED_RESULTS:
                continue
            looked_up += 1
            if looked_up > MAX_CORRECTED_WORDS:
                break
            edits = MAX_CORRECTION_EDITS if not frequency else 1
            candidates = [(option, distance, count) for option, count in near.get(word, [])
                          if option.isalpha()
                          and (distance := Levenshtein.distance(option, word)) <= edits]
            if suggestion := best_correction(word, candidates, frequency * SUGGEST_RATIO):
                corrected = re.sub(rf"(?<!\w){re.escape(word)}(?!\w)", suggestion, corrected,
                                   count=1, flags=re.IGNORECASE)
        if corrected == text or len(corrected) > MAX_QUERY_CHARS:
            return None
        parsed_again = parse_query(corrected)
        built = build_query(parsed_again, self._has_combined_field())
        if built is None:
            return None
        found = SearchResults(corrected, 0, 1, 1, 0.0, results.sort, results.date_from,
                              results.date_to)
        answer, _, _ = self._match(built, parsed_again, found, size=0)
        total = answer["hits"]["total"]["value"]
        if not found.complete or not total:
            return None
        if (not results.total or found.required_words > results.required_words
                or total >= max(SUGGEST_RATIO * results.total, MIN_SUGGESTED_RESULTS)):
            return corrected
        return None

    # Completions, articles, marks.

    def complete(self, text: str, limit: int = MAX_COMPLETIONS) -> list[str]:
        """Complete the last word of ``text`` from the articles' words, most common first.

        The words are read from a few articles that have a word so starting (bounded
        work), and ranked by how many articles of the archive have each.
        """
        head, _, word = clean_query(text).rpartition(" ")
        word = word.lower()
        if len(word) < MIN_COMPLETION_CHARS or not word.isalnum():
            return []
        sample = {"size": COMPLETION_SAMPLE, "_source": False,
                  "query": {"bool": {
                      "must": [{"prefix": {"body.words": {"value": fold(word)}}}],
                      "filter": [{"range": {"body_words": {
                          "lte": COMPLETION_SAMPLE_MAX_WORDS}}}]}}}
        ids = [hit["_id"] for hit in self._msearch([sample])[0]["hits"]["hits"]]
        if not ids:
            return []
        answer = self._call("mtermvectors", index=self.alias, body={
            "ids": ids, "parameters": {
                "fields": ["body.words"], "term_statistics": True, "field_statistics": False,
                "positions": False, "offsets": False, "payloads": False}})
        frequencies: dict[str, int] = {}
        for doc in answer.get("docs", []):
            found = doc.get("term_vectors", {}).get("body.words", {}).get("terms", {})
            for term, stats in found.items():
                if term.startswith(fold(word)) and term != word and term.isalpha():
                    frequencies[term] = stats.get("doc_freq", 0)
        best = heapq.nlargest(limit, frequencies.items(), key=lambda item: (item[1], item[0]))
        return [f"{head} {candidate}".strip() for candidate, _ in best]

    def article(self, article_id: str, related: bool = True) -> ArticleRecord | None:
        """Return the stored article with ``article_id`` and articles like it, or None."""
        if not isinstance(article_id, str) or not article_id or len(article_id) > 1000:
            return None
        try:
            article_id.encode("utf-8")
        except UnicodeError:  # no article has such an id
            return None
        found = self._msearch([{"size": 1, "query": {"term": {"id": article_id}}}])[0]
        hits = found["hits"]["hits"]
        if not hits:
            return None
        stored = hits[0].get("_source", {})
        record = ArticleRecord(
            id=stored.get("id", article_id),
            headline=stored.get("headline") or "",
            body=stored.get("body") or "",
            date=_day(stored.get("date")),
            caption=stored.get("caption"),
            author=stored.get("author"),
            url=stored.get("url"),
            credit=stored.get("credit"),
        )
        if not related:
            return record
        field_name = "body" if record.body else "headline"
        text = (record.body or record.headline)[:RELATED_TEXT_CHARS]
        if text.strip():
            like = {"size": RELATED_ARTICLES, "_source": ["id", "headline", "date"],
                    "query": {"bool": {
                        "must": [{"more_like_this": {
                            "fields": [field_name], "like": text,
                            "max_query_terms": RELATED_KEY_TERMS,
                            "min_term_freq": 1, "min_doc_freq": 1,
                            "minimum_should_match": 1}}],
                        "must_not": [{"term": {"id": record.id}}]}}}
            similar = self._msearch([like])[0]["hits"]["hits"]
            record.related = [
                Related(hit["_source"].get("id", hit["_id"]), hit["_source"].get("headline") or "",
                        _day(hit["_source"].get("date"))) for hit in similar]
        return record

    def mark(self, text: str, parts: list[str]) -> list[str]:
        """Return each of ``parts`` as escaped HTML with the words ``text`` searches marked."""
        marks = None
        if text.strip():
            try:
                built = build_query(parse_query(text))
            except QueryError:
                built = None
            if built is not None:
                marks = self._marks(built)
        return [mark_all(part, marks, MAX_MARKS) if marks else html.escape(part, quote=False)
                for part in parts]

    # Health.

    def damage(self) -> str | None:
        """Return why the cluster cannot be searched, or None when it can (or the archive
        is absent). Asked no more than every ``HEALTH_SECONDS``."""
        with self._lock:
            if time.monotonic() - self._health_checked < HEALTH_SECONDS:
                return self._health[1]
        state, problem = self._cluster_state()
        with self._lock:
            self._health = (state, problem)
            self._health_checked = time.monotonic()
        return problem

    def _cluster_state(self) -> tuple[str, str | None]:
        """Return the cluster's state ("green", "yellow", "red", "unreachable") and what
        stops searches, if anything."""
        try:
            health = self.client.cluster.health(
                params={"request_timeout": HEALTH_REQUEST_SECONDS})
        except (os_errors.TransportError, os_errors.ImproperlyConfigured) as error:
            return "unreachable", (f"The cluster at {self.address} cannot be reached "
                                   f"({_reason(error)}).")
        state = str(health.get("status", "red"))
        if state == "red":
            return state, (f"The cluster at {self.address} is red: some of its data is "
                           "not on any running node.")
        return state, None

    def health(self) -> Health:
        """Say whether the archive can be searched, with the cluster's state."""
        state, problem = self._cluster_state()
        with self._lock:
            self._health, self._health_checked = (state, problem), time.monotonic()
        details = {"cluster": state}
        if problem is not None:
            return Health("damaged", problem, details=details)
        try:
            stats = self.stats()
        except Exception as error:  # the cluster failed since it answered
            return Health("damaged", _reason(error), details=details)
        if stats is None:
            return Health("no index", f"There is no index {self.alias} on the cluster at "
                          f"{self.address} yet.", details=details)
        return Health("ok", stats=stats, details=details)

    def stats(self, largest: int = 0, date_range: bool = False) -> IndexStats | None:
        from searchapp.backends.opensearch.indexing import cluster_stats

        return cluster_stats(self.client, self.alias, largest=largest, date_range=date_range)

    # Writing.

    def exists(self) -> bool:
        from searchapp.backends.opensearch.indexing import archive_exists

        return archive_exists(self.client, self.alias)

    def update(self, paths: Iterable[Path], rebuild: bool = False,
               progress: Progress | None = None, workers: int = 1) -> IndexReport:
        from searchapp.backends.opensearch.indexing import update_cluster

        try:
            return update_cluster(self.client, self.alias, paths, rebuild=rebuild,
                                  progress=progress, workers=workers)
        finally:
            # The timeline's totals are counted again; a rebuilt index's fields looked at.
            self._totals, self._days, self._combined = None, {}, None

    # The zero-result report: an index beside the archive's, one document a miss, so that
    # every web server of the archive adds to one report, kept as long as the cluster.

    def record_miss(self, query: str) -> None:
        text = reports.normalize(query)
        if not text:
            return
        try:
            # An id of its own: a retried request writes the same miss again, not a second.
            # Refreshed at once: `searchapp report` right after a search counts it.
            self.client.index(index=self.alias + MISSES_SUFFIX, id=uuid.uuid4().hex,
                              body={"query": text, "at": _now()},
                              params={"request_timeout": HEALTH_REQUEST_SECONDS,
                                      "refresh": "true"})
        except (os_errors.TransportError, os_errors.ImproperlyConfigured) as error:
            raise OSError(f"cannot record the search on {self.address}: "
                          f"{_reason(error)}") from None

    def top_misses(self, limit: int = 20) -> list[tuple[str, int]]:
        body = {"size": 0, "aggs": {"misses": {"terms": {"field": "query.keyword",
                                                          "size": max(1, limit)}}}}
        try:
            answer = self.client.search(index=self.alias + MISSES_SUFFIX, body=body)
        except os_errors.NotFoundError:
            return []
        except (os_errors.TransportError, os_errors.ImproperlyConfigured) as error:
            raise self._unavailable(error) from None
        buckets = answer.get("aggregations", {}).get("misses", {}).get("buckets", [])
        return [(bucket["key"], bucket["doc_count"]) for bucket in buckets][:limit]


# Marks in one text of an article page; past them the reader has seen where the words are.
MAX_MARKS = 1_000


def _analyser(prefixes: tuple[str, ...]):
    """Return ``analyse`` that also gives "pre*" for a word the query's prefix "pre" finds
    (its folded form or its stem starts so, as the index's words were expanded)."""

    def analysed(word: str) -> str | None:
        form = analyse(word)
        if form is None:
            return None
        folded = fold(word)
        for prefix in prefixes:
            if form.startswith(prefix) or folded.startswith(prefix):
                return f"{prefix}*"
        return form

    return analysed


def _distinct(words: list[str]) -> list[str]:
    """Return the words a correction looks up, each once, in order."""
    return list(dict.fromkeys(words))[:MAX_CORRECTED_WORDS + 1]


def _near_words_search(words: list[str]) -> dict:
    """Return the search for how many articles have each word (in any field), and the
    article words near each (the cluster's term suggester on the body's unstemmed
    words)."""
    filters = {str(n): {"multi_match": {"query": word, "fields": list(FIELD_WEIGHTS)}}
               for n, word in enumerate(words)}
    suggest = {str(n): {"text": word, "term": {
        "field": "body.words", "suggest_mode": "always", "max_edits": MAX_CORRECTION_EDITS,
        "prefix_length": 1, "min_word_length": MIN_CORRECTION_CHARS,
        "size": CORRECTION_CANDIDATES, "max_term_freq": 0.5}}
        for n, word in enumerate(words)}
    return {"size": 0, "query": {"match_all": {}}, "suggest": suggest,
            "aggs": {"words": {"filters": {"filters": filters}}}}


def _read_near_words(answer: dict, words: list[str]) -> tuple[dict[str, int], dict[str, list]]:
    """Return from ``_near_words_search``'s answer each word's article count, and the near
    words with their article counts."""
    buckets = answer.get("aggregations", {}).get("words", {}).get("buckets", {})
    frequencies = {word: buckets.get(str(n), {}).get("doc_count", 0)
                   for n, word in enumerate(words)}
    near: dict[str, list] = {}
    for n, word in enumerate(words):
        for entry in answer.get("suggest", {}).get(str(n), []):
            near.setdefault(word, []).extend(
                (option["text"], option.get("freq", 0)) for option in entry["options"])
    return frequencies, near


def _read_last_word_as_prefix(parsed: ParsedQuery, text: str) -> None:
    """Make the word being typed (the last, with nothing after it) a prefix."""
    last = parsed.clauses[-1] if parsed.clauses else None
    if (last is not None and last.kind == "word"
            and clean_query(text).lower().endswith(last.text.lower())
            and not text[-1:].isspace()):
        last.kind = "prefix"


def _signed(hits: list[dict]):
    """Yield (article, signature, day number or None) for ``duplicates.group_copies``."""
    for hit in hits:
        yield _article_id(hit), _signature(hit), _day_number(hit)


def _signature(hit: dict) -> bytes:
    values = hit.get("fields", {}).get("signature")
    if not values:
        return duplicates.NO_SIGNATURE
    try:
        return base64.b64decode(values[0])
    except (ValueError, TypeError):
        return duplicates.NO_SIGNATURE


def _day_number(hit: dict) -> int | None:
    day = _day((hit.get("fields", {}).get("date") or [None])[0])
    return day.toordinal() if day else None


def _copies_of(hits: list[dict], article_id: str) -> list[tuple[str, float]]:
    """Keep the matches that are ``article_id`` or a copy of it, in their order."""
    target = next((hit for hit in hits if _article_id(hit) == article_id), None)
    if target is None:
        return []
    sig, day = _signature(target), _day_number(target)
    return [(_article_id(hit), hit.get("_score") or 0.0) for hit in hits
            if hit is target or duplicates.is_copy(sig, _signature(hit), day, _day_number(hit))]


def _article_id(hit: dict) -> str:
    """Return a hit's article id (its document's id), read from its doc values."""
    return (hit.get("fields", {}).get("id") or [hit.get("_id")])[0]


def _first_value(hit: dict, name: str):
    return (hit.get("fields", {}).get(name) or [None])[0]


def _day(value) -> date | None:
    """Return the day a stored or doc-value date stands for (None when there is none)."""
    if not value or not isinstance(value, str | int):
        return None
    if isinstance(value, int):
        return datetime.fromtimestamp(value / 1000, tz=timezone.utc).date()
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _hit(stored: dict, score: float, marks: tuple[Marks, Marks] | None, snippets: bool,
         similar: list[str], partial: bool = False) -> Hit:
    headline = stored.get("headline") or ""
    marked_headline = marked = ""
    if snippets:
        body_marks, headline_marks = marks
        marked_headline = mark(headline, headline_marks)
        body = stored.get("body") or ""
        # Snippets hold only text and <mark> tags, so collapsing whitespace is safe.
        marked = " ".join(snippet(body, body_marks).split()) or html.escape(lead(body),
                                                                            quote=False)
    return Hit(str(stored.get("id", "")), headline, _day(stored.get("date")), marked, score,
               headline_html=marked_headline, similar=similar, partial=partial)


def _is_missing_index(error: Exception) -> bool:
    return "index_not_found" in str(getattr(error, "error", "")) or \
        "index_not_found" in str(error)


def _reason(error: Exception) -> str:
    """Say briefly what went wrong talking to the cluster (no stack, no secrets)."""
    if isinstance(error, os_errors.ConnectionTimeout):
        return "it did not answer in time"
    if isinstance(error, os_errors.ConnectionError):
        return "no connection"
    status = getattr(error, "status_code", None)
    kind = getattr(error, "error", None)
    if status is not None:
        return f"it answered {status} {kind or ''}".strip()
    return type(error).__name__
