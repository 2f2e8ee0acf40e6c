"""What a search gives back, whatever the engine: plain dataclasses that the web page, the
JSON API, the command line and the tests all share.

Text leaves an index through these types, and each makes its text safe to output as it is
built (``textsafety``): an index written before text was cleaned at indexing, or a cluster
fed by another program, may hold lone surrogates and control characters.
"""

from __future__ import annotations

import calendar
import math
import re
from dataclasses import dataclass, field
from datetime import date

from searchapp.textsafety import safe_text

SORTS = ("relevance", "newest", "oldest")
DEFAULT_PER_PAGE = 10
MAX_PER_PAGE = 50
# Deeper than this, paging is scraping: nobody reads result 10,001.
MAX_RESULT_WINDOW = 10_000
# Matches that span less than this many years are counted by month, else by year;
# those within one month (or a date filter of up to this many days), by day.
TIMELINE_MONTHS_UNDER_YEARS = 2
TIMELINE_DAYS_UNDER = 62


@dataclass
class Hit:
    """One search result."""

    id: str
    headline: str
    date: date | None
    snippet: str  # HTML: escaped text, matches in <mark>
    score: float = 0.0
    # HTML: the headline escaped, the query's words in <mark>.
    headline_html: str = ""
    # The ids of copies of this article (wire copies, reruns) folded into this result.
    similar: list[str] = field(default_factory=list)
    # True for an article listed after the matches, with fewer of the query's words
    # (``SearchResults.partial``).
    partial: bool = False

    def __post_init__(self) -> None:
        _make_safe(self, "headline", "snippet", "headline_html")


@dataclass
class Period:
    """One bar of the timeline of matches: a year, month or day, and how many matched."""

    label: str
    start: date
    end: date
    count: int
    # How many articles the archive holds in the period, matching or not.
    total: int = 0

    @property
    def share(self) -> float:
        """The matches' share of the period's articles (0 when it holds none)."""
        return self.count / self.total if self.total else 0.0

    @property
    def unit(self) -> str:
        return {4: "year", 7: "month"}.get(len(self.label), "day")


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
    # True when the query had more words than are looked for (querylang.MAX_WORDS).
    truncated: bool = False
    # The corrected query whose results these are, when the one typed found nothing.
    corrected: str | None = None
    timeline: list[Period] = field(default_factory=list)
    # How many words (and phrases) the query looks for, and how many of them each result
    # has at least; ``relaxed`` when no article had as many as the query asked for.
    query_words: int = 0
    required_words: int = 0
    relaxed: bool = False
    # Matching articles folded into another result as its copies (``Hit.similar``), among
    # those compared; ``total`` counts every matching article, copies included.
    collapsed: int = 0
    # The article whose copies these results are (no folding then), when asked for.
    similar_to: str | None = None
    # Articles with fewer of the words, listed after the matches when these are few (a
    # ranked list only); ``total`` does not count them.
    partial: int = 0

    @property
    def matched_all(self) -> bool:
        """True when every result has every word of the query."""
        return self.required_words >= self.query_words

    @property
    def pages(self) -> int:
        shown = self.total + self.partial - self.collapsed
        return min(math.ceil(shown / self.per_page), MAX_RESULT_WINDOW // self.per_page)


@dataclass
class Related:
    """An article like another one."""

    id: str
    headline: str
    date: date | None

    def __post_init__(self) -> None:
        _make_safe(self, "headline")


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
    # Who supplied the article: the `source` of a JSON Lines record (a wire, a paper).
    credit: str | None = None

    def __post_init__(self) -> None:
        _make_safe(self, "headline", "body", "caption", "author", "url")

    @property
    def paragraphs(self) -> list[str]:
        return [p for p in self.body.split("\n\n") if p.strip()]

    @property
    def words(self) -> int:
        """Count the body's words without building a list of them."""
        return sum(1 for _ in re.finditer(r"\S+", self.body))

    def excerpt(self, max_chars: int) -> tuple[list[str], bool]:
        """Return the paragraphs of the first ``max_chars`` of the body, and whether it was cut.

        A cut falls between words, never inside one.
        """
        if len(self.body) <= max_chars:
            return self.paragraphs, False
        head = self.body[:max_chars + 1]
        cut = max(head.rfind(" "), head.rfind("\n"))
        head = head[:cut] if cut > 0 else head[:max_chars]
        return [p for p in head.split("\n\n") if p.strip()], True


def _make_safe(record, *names: str) -> None:
    """Make stored text safe to output, as it leaves the index.

    Indexing makes text safe, but an index built before it did may hold lone surrogates
    and control characters that no page, JSON or feed can carry. Nearly free on clean text.
    """
    for name in names:
        if value := getattr(record, name):
            setattr(record, name, safe_text(value))


def period_start(day: date, unit: str) -> date:
    """Return the first day of the year, month or day (``Period.unit``) that holds ``day``."""
    if unit == "year":
        return date(day.year, 1, 1)
    return date(day.year, day.month, 1) if unit == "month" else day


def period_end(start: date, unit: str) -> date:
    """Return the last day of the period that starts on ``start``."""
    if unit == "year":
        return date(start.year, 12, 31)
    if unit == "month":
        return date(start.year, start.month, calendar.monthrange(start.year, start.month)[1])
    return start


def timeline_span(first: date, last: date, date_from: date | None, date_to: date | None
                  ) -> tuple[date, date, str]:
    """Return the span a timeline shows and its unit ("year", "month" or "day"), from the
    first and last dated match and the reader's date filter."""
    if date_from and date_to and (date_to - date_from).days < TIMELINE_DAYS_UNDER:
        first, last = date_from, date_to  # a chosen month shows all its days
    months = (last.year - first.year) * 12 + last.month - first.month
    if months == 0 or (last - first).days < TIMELINE_DAYS_UNDER and date_from and date_to:
        return first, last, "day"
    if months < 12 * TIMELINE_MONTHS_UNDER_YEARS:
        return first, last, "month"
    return first, last, "year"
