"""What to mark in a result: the query's words and phrases, as the index holds them."""

from __future__ import annotations

import copy
import functools
import html

from whoosh import query as wq

from searchapp.backends.whoosh.analysis import thread_safe
from searchapp.backends.whoosh.indexing import ANALYZER
from searchapp.snippets import Marks, mark_all

# Distinct words whose analysed form a process remembers, for marking snippets.
ANALYSED_WORDS_CACHED = 100_000
# Marks in one text of an article page; past them the reader has seen where the words are.
MAX_MARKS = 1_000
# The indexer's analyzer, with a stemming cache that every request thread can share.
SHARED_ANALYZER = thread_safe(copy.deepcopy(ANALYZER))
# Analyzers (each searcher reads its own from the index) whose analysing function is kept.
MAX_ANALYSERS = 16
_ANALYSERS: dict[int, tuple[object, object]] = {}


def query_marks(query: wq.Query, searcher, field_name: str = "body") -> Marks:
    """Return the words and phrases of ``query`` to mark in a field (not those it excludes).

    A phrase is marked as a whole, never word by word; a word the query also has on
    its own is marked wherever it stands.
    """
    words: set[str] = set()
    phrases: list[tuple[str, ...]] = []
    _collect(query, searcher, field_name, words, phrases)
    return Marks(_analyser(searcher.schema[field_name].analyzer), frozenset(words),
                 tuple(dict.fromkeys(phrases)))


def _analyser(analyzer):
    """Return the function that analyses a word as ``analyzer`` does, with a cache.

    The indexer's own analyzer shares one cache; an index built with another analyzer
    is read with its own. Which it is, is remembered for each analyzer object (one per
    searcher): comparing two analyzers compares their maps of accents, which took
    three quarters of the time of working out what to mark (0.24 ms a search; 0.07 now).
    """
    known = _ANALYSERS.get(id(analyzer))
    if known is not None and known[0] is analyzer:
        return known[1]
    if analyzer == ANALYZER:
        analyse = _analysed
    else:
        analyse = functools.lru_cache(maxsize=10_000)(
            lambda word: _analysed_with(analyzer, word))
    if len(_ANALYSERS) >= MAX_ANALYSERS:
        _ANALYSERS.clear()
    _ANALYSERS[id(analyzer)] = (analyzer, analyse)
    return analyse


def _collect(query: wq.Query, searcher, field_name: str, words: set, phrases: list) -> None:
    if isinstance(query, wq.AndNot):
        _collect(query.a, searcher, field_name, words, phrases)
    elif isinstance(query, wq.AndMaybe):
        for part in (query.a, query.b):
            _collect(part, searcher, field_name, words, phrases)
    elif isinstance(query, wq.CompoundQuery):
        for part in query.subqueries:
            _collect(part, searcher, field_name, words, phrases)
    elif isinstance(query, wq.Term):
        if query.fieldname == field_name:
            words.add(query.text)
    elif isinstance(query, wq.Phrase):
        if query.fieldname == field_name and query.words:
            phrases.append(tuple(query.words))
    elif not isinstance(query, wq.Every):
        for name, text in query.existing_terms(searcher.reader(), phrases=True, expand=True):
            if name == field_name:
                words.add(text.decode("utf-8") if isinstance(text, bytes) else text)


@functools.lru_cache(maxsize=ANALYSED_WORDS_CACHED)
def _analysed(word: str) -> str | None:
    """Return a word as the index holds it (stemmed, accents folded), None for a stop word."""
    return _analysed_with(SHARED_ANALYZER, word)


def _analysed_with(analyzer, word: str) -> str | None:
    tokens = [token.text for token in analyzer(word)]
    return tokens[0] if len(tokens) == 1 else None


def mark_words(text: str, marks: Marks | None, limit: int = MAX_MARKS) -> str:
    """Escape ``text`` and mark the first ``limit`` of the query's words and phrases in it."""
    if not marks:
        return html.escape(text, quote=False)
    return mark_all(text, marks, limit)
