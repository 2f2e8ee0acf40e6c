"""How many of a query's words each result must have, on the Whoosh query tree.

The rule is ``searchapp.matching``'s; this applies it to a built query.
"""

from __future__ import annotations

from whoosh import query as wq


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
