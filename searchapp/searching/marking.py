"""Which words of an article to mark in a snippet: the query's words, as the index holds them."""

from __future__ import annotations

import copy
import functools
import html

from whoosh import query as wq
from whoosh.support.charset import accent_map

from searchapp.indexing import ANALYZER
from searchapp.searching.analysis import thread_safe
from searchapp.snippets import WORD_RE

# Distinct words whose analysed form a process remembers, for marking snippets.
ANALYSED_WORDS_CACHED = 100_000
# Marks in one text of an article page; past them the reader has seen where the words are.
MAX_MARKS = 1_000
# The indexer's analyzer, with a stemming cache that every request thread can share.
SHARED_ANALYZER = thread_safe(copy.deepcopy(ANALYZER))


class WordTest:
    """Tell whether a lower-case word of an article is one of ``terms`` once analysed.

    A word whose first letter (accents folded) starts none of the terms is not
    analysed at all: stemming only changes the ends of words.
    """

    def __init__(self, terms: frozenset[str], analyzer):
        self.terms = terms
        self.first_letters = {term[0] for term in terms}
        # The same, for the snippet's first pass over the text.
        self.initials = "".join(sorted(i for i in self.first_letters if i.isascii()))
        # An index built with another analyzer is read with its own (and no shared cache).
        self.analysed = _analysed if analyzer == ANALYZER else functools.lru_cache(
            maxsize=None)(lambda word: _analysed_with(analyzer, word))

    def __call__(self, word: str) -> bool:
        initial = word[0] if word[0].isascii() else word[0].translate(accent_map)[:1]
        return initial in self.first_letters and self.analysed(word) in self.terms


@functools.lru_cache(maxsize=ANALYSED_WORDS_CACHED)
def _analysed(word: str) -> str | None:
    """Return a word as the index holds it (stemmed, accents folded), None for a stop word."""
    return _analysed_with(SHARED_ANALYZER, word)


def _analysed_with(analyzer, word: str) -> str | None:
    tokens = [token.text for token in analyzer(word)]
    return tokens[0] if len(tokens) == 1 else None


def highlight_terms(query: wq.Query, searcher) -> frozenset[str]:
    """Return the body words to mark in snippets: those the query looks for, not excludes."""
    if isinstance(query, wq.AndNot):
        return highlight_terms(query.a, searcher)
    if isinstance(query, (wq.AndMaybe, wq.CompoundQuery)):
        parts = [query.a, query.b] if isinstance(query, wq.AndMaybe) else query.subqueries
        return frozenset().union(*(highlight_terms(part, searcher) for part in parts))
    if isinstance(query, wq.Term):
        return frozenset([query.text]) if query.fieldname == "body" else frozenset()
    if isinstance(query, wq.Phrase):
        return frozenset(query.words) if query.fieldname == "body" else frozenset()
    terms = query.existing_terms(searcher.reader(), phrases=True, expand=True)
    return frozenset(text.decode("utf-8") if isinstance(text, bytes) else text
                     for name, text in terms if name == "body")


def mark_words(text: str, is_match: WordTest | None, limit: int = MAX_MARKS) -> str:
    """Escape ``text`` and wrap the first ``limit`` words that ``is_match`` accepts in <mark>."""
    if is_match is None:
        return html.escape(text, quote=False)
    out = []
    position = marks = 0
    for found in WORD_RE.finditer(text):
        if marks >= limit:
            break
        if is_match(found.group().lower()):
            out.append(html.escape(text[position:found.start()], quote=False))
            out.append(f"<mark>{html.escape(found.group(), quote=False)}</mark>")
            position, marks = found.end(), marks + 1
    out.append(html.escape(text[position:], quote=False))
    return "".join(out)
