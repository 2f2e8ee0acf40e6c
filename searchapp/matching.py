"""What a reader's query looks for, whatever the engine: every word counts.

A query of a few words finds the articles that have all its words (and phrases); a long
one, such as a question or a pasted paragraph, those that have most of them, as
Elasticsearch's ``minimum_should_match`` does. Those articles are the results: the count,
the timeline, the date sorts and the feed are made of them. Only when none has that many
does the search ask for one word fewer, step by step, and the results say so
(``SearchResults.relaxed``). A ranked list that the matches leave short (fewer than
``enough_ranked_matches``) also takes in the articles with fewer of the words, ranked
with the matches as BM25 ranks them (an article with more of the words scores higher)
and marked as such (``Hit.partial``); they are not counted (``SearchResults.partial``).
Like a web search engine's "Missing: word" results, they keep what a reader is likely to
want in the list: relevant articles often lack one of the words. Words the reader marked
as required (``+word``, ``AND``), or an ``OR``, keep the other words optional.
"""

from __future__ import annotations

import math
from collections import Counter

from searchapp.querylang import MUST_NOT, SHOULD, Clause, ParsedQuery

# A word's occurrences in the headline count one and a half times those in the body; in
# the caption, half. Tuned with bench/relevance.py (BENCHMARKS.md).
FIELD_WEIGHTS = {"headline": 1.5, "body": 1.0, "caption": 0.5}
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
# A prefix looks for at most this many words a field; all the prefixes of a query, for
# this many in all, shared out between them (64 prefixes looked for 9,600 words).
MAX_PREFIX_TERMS = 50
MAX_QUERY_PREFIX_TERMS = 300

# Queries of up to this many words find only the articles that have every one of them.
ALL_WORDS_UP_TO = 8
# Longer ones find the articles that have at least this share of their words (rounded
# down, never fewer than ALL_WORDS_UP_TO).
LONG_QUERY_SHARE = 0.75
# Ranked by relevance, fewer matches than this (or than this percentage of the archive,
# when that is fewer) take in the articles with any of the words. With
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


def weighed_clauses(parsed: ParsedQuery) -> tuple[Counter, int]:
    """Return what a query looks for, each (text, kind, field, occur) with how often it was
    typed, and how many words each prefix may expand to.

    Plain stop words ("what", "which", "about") are left out unless they are all there
    is; a query's prefixes share ``MAX_QUERY_PREFIX_TERMS`` out between their fields.
    """
    clauses = parsed.clauses
    topical = [c for c in clauses if not _is_stop_word(c)]
    if any(c.occur != MUST_NOT for c in topical):
        clauses = topical
    weights = Counter((c.text.lower(), c.kind, c.field, c.occur) for c in clauses)
    prefix_fields = sum(1 if field_name else len(FIELD_WEIGHTS)
                        for _, kind, field_name, _ in weights if kind == "prefix")
    prefix_terms = min(MAX_PREFIX_TERMS, MAX_QUERY_PREFIX_TERMS // max(prefix_fields, 1)) or 1
    return weights, prefix_terms


def _is_stop_word(clause: Clause) -> bool:
    return (clause.kind == "word" and clause.occur == SHOULD and clause.field is None
            and clause.text.lower() in STOP_WORDS)
