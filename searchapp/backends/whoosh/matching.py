"""How many of a query's words each result must have: every word counts.

A query of a few words finds the articles that have all its words (and phrases); a long
one, such as a question or a pasted paragraph, those that have most of them, as
Elasticsearch's ``minimum_should_match`` does. Those articles are the results: the count,
the timeline, the date sorts and the feed are made of them. Only when none has that many
does the search ask for one word fewer, step by step, and the results say so
(``SearchResults.relaxed``). A ranked list that the matches leave short (fewer than
``enough_ranked_matches``) goes on below them with the articles that have fewer of the
words, best first, as Meilisearch's "last" matching strategy does; they are not counted
(``SearchResults.partial``). Words the reader marked as required (``+word``, ``AND``), or
an ``OR``, keep the other words optional.
"""

from __future__ import annotations

import math

from whoosh import query as wq

# Queries of up to this many words find only the articles that have every one of them.
ALL_WORDS_UP_TO = 8
# Longer ones find the articles that have at least this share of their words (rounded
# down, never fewer than ALL_WORDS_UP_TO).
LONG_QUERY_SHARE = 0.75
# Ranked by relevance, fewer matches than this (or than this percentage of the archive,
# when that is fewer) are followed by the articles with any of the words. With
# ALL_WORDS_UP_TO and LONG_QUERY_SHARE, measured on the five test collections so that no
# ranking figure falls (BENCHMARKS.md): their judged articles often lack one of a short
# query's words (CACM's "parallel algorithms" has 22 articles with both, and relevant
# ones with only one).
MIN_RANKED_MATCHES = 30
MIN_RANKED_PERCENT = 2


def enough_ranked_matches(articles: int) -> int:
    """Return how many matches a ranked list needs before it leaves out partial ones."""
    return min(MIN_RANKED_MATCHES, articles * MIN_RANKED_PERCENT // 100)


def required_words(words: int) -> int:
    """Return how many of a query's ``words`` each result must have."""
    if words <= ALL_WORDS_UP_TO:
        return words
    return max(ALL_WORDS_UP_TO, math.floor(words * LONG_QUERY_SHARE))


def optional_words(query: wq.Query | None) -> int:
    """Return how many words (and phrases) the query scores as optional parts of one OR."""
    words = _words(query)
    return len(words.subqueries) if words is not None else 0


def requiring(query: wq.Query, count: int) -> wq.Query:
    """Return ``query`` with ``count`` of its optional words required of each result."""
    if isinstance(query, wq.AndNot):
        required = wq.AndNot(requiring(query.a, count), query.b)
        required.boost = query.boost
        return required
    if isinstance(query, wq.Or) and query is _words(query):
        return type(query)(query.subqueries, boost=query.boost, minmatch=count)
    return query


def _words(query: wq.Query | None) -> wq.Or | None:
    """Return the OR of a reader's plain words in a built query, if it has one."""
    if isinstance(query, wq.AndNot):
        return _words(query.a)
    # With required words (an AndMaybe) the others stay optional, as the reader asked.
    return query if isinstance(query, wq.Or) else None
