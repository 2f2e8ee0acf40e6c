"""How many of a query's words each result must have: every word counts, as on Whoosh.

A query of a few words finds the articles that have all its words (and phrases); a long
one, those that have most of them (``minimum_should_match``). When too few articles have
that many, the search asks for fewer and the results say so (``SearchResults.relaxed``):
ranked by relevance, articles with any of the words join in below the best; by date, the
count steps down one word at a time while nothing is found. The figures are those the
embedded engine was tuned with (``backends/whoosh/matching.py``, BENCHMARKS.md).
"""

from __future__ import annotations

import math

ALL_WORDS_UP_TO = 8
LONG_QUERY_SHARE = 0.75
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
