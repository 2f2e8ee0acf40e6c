"""How many of a query's words each result must have: every word counts.

A short query finds the articles that have all its words (and phrases); a long one, such
as a question or a pasted paragraph, those that have most of them, as Elasticsearch's
``minimum_should_match`` does. When no article has that many, the count steps down one
word at a time until some do, and the results say so (``SearchResults.relaxed``).
Words the reader marked as required (``+word``, ``AND``) keep the others optional.
"""

from __future__ import annotations

import math

from whoosh import query as wq

# Queries of up to this many words find only the articles that have every one of them.
ALL_WORDS_UP_TO = 4
# Longer ones find the articles that have at least this share of their words (rounded
# down, never fewer than ALL_WORDS_UP_TO). Measured on the test collections (BENCHMARKS.md).
LONG_QUERY_SHARE = 0.5


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
        return wq.AndNot(requiring(query.a, count), query.b, boost=query.boost)
    if isinstance(query, wq.Or) and query is _words(query):
        return type(query)(query.subqueries, boost=query.boost, minmatch=count)
    return query


def _words(query: wq.Query | None) -> wq.Or | None:
    """Return the OR of a reader's plain words in a built query, if it has one."""
    if isinstance(query, wq.AndNot):
        return _words(query.a)
    # With required words (an AndMaybe) the others stay optional, as the reader asked.
    return query if isinstance(query, wq.Or) else None
