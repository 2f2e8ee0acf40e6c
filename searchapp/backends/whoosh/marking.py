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


def query_marks(query: wq.Query, searcher, field_name: str = "body") -> Marks:
    """Return the words and phrases of ``query`` to mark in a field (not those it excludes).

    A phrase is marked as a whole, never word by word; a word the query also has on
    its own is marked wherever it stands.
    """
    words: set[str] = set()
    phrases: list[tuple[str, ...]] = []
    _collect(query, searcher, field_name, words, phrases)
    analyzer = searcher.schema[field_name].analyzer
    # An index built with another analyzer is read with its own (and no shared cache).
    analyse = _analysed if analyzer == ANALYZER else functools.lru_cache(maxsize=10_000)(
        lambda word: _analysed_with(analyzer, word))
    return Marks(analyse, frozenset(words), tuple(dict.fromkeys(phrases)))


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
