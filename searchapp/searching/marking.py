"""What to mark in a result: the query's words and phrases, as the index holds them."""

from __future__ import annotations

import functools

from whoosh import query as wq

from searchapp.indexing import ANALYZER
from searchapp.snippets import Marks

# Distinct words whose analysed form a process remembers, for marking snippets.
ANALYSED_WORDS_CACHED = 100_000


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
    return _analysed_with(ANALYZER, word)


def _analysed_with(analyzer, word: str) -> str | None:
    tokens = [token.text for token in analyzer(word)]
    return tokens[0] if len(tokens) == 1 else None
