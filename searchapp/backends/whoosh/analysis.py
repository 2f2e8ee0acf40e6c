"""Analyzers that request threads can share.

Whoosh 2.7.4's ``StemFilter`` remembers stems in a cache of its own (``lfu_cache``) that
is not safe across threads: when it is full, one thread walks the use counts to evict
while another adds to them ("dictionary changed size during iteration"), and two
threads adding at once push it past its size, after which it never evicts again. Every
analyzer an index is searched with gets its stemming cache replaced by
``functools.lru_cache`` of the same size, which is safe across threads and bounded.
"""

from __future__ import annotations

import functools
import threading

import Stemmer
from whoosh.analysis import STOP_WORDS, CharsetFilter, StemFilter, StemmingAnalyzer
from whoosh.lang import stemmer_for_language
from whoosh.support.charset import accent_map

# PyStemmer's stemmers are not safe to share between threads: one each.
_local = threading.local()


def stem(word: str) -> str:
    """Return the stem of a lower-case English word: Snowball's English (Porter2) stemmer.

    It runs in C through PyStemmer, the algorithm OpenSearch's ``snowball`` filter runs.
    Whoosh's own ``porter2`` is pure Python, took a fifth of the time to index, and
    differs on 59 of Reuters-21578's 58,955 words, mostly for the worse ("added" and
    "adding" became "ad"; "international" and "internal", "intern").
    """
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        # Without PyStemmer's own cache of 10,000 words: callers keep theirs, and past
        # 10,000 words it cost five times the stemming itself (analysing a new word at
        # indexing took 9.1 µs with it, 4.4 without; BENCHMARKS.md, "Session 8: indexing").
        stemmer = _local.stemmer = Stemmer.Stemmer("english", 0)
    return stemmer.stemWord(word)


# English stemming (Porter2, the Snowball English stemmer: better ranking than Porter's
# on all five test collections in BENCHMARKS.md), stop words dropped, and accents folded
# so "Elysee" finds "Élysée". Searches analyse words with the analyzer an index was
# built with (its schema keeps it), so an index built before a change keeps working, on
# the older analysis, until it is rebuilt.
ANALYZER = StemmingAnalyzer(stemfn=stem) | CharsetFilter(accent_map)
# StemmingAnalyzer's defaults, which ANALYZER keeps: shorter words are not indexed.
MIN_WORD_CHARS = 2

# The limit of a stemming cache that was asked to have none (Whoosh's default size).
STEM_CACHE_WORDS = 50_000


def thread_safe(analyzer):
    """Give ``analyzer``'s stemming filters a bounded cache threads can share; return it."""
    for part in getattr(analyzer, "items", [analyzer]):
        if not isinstance(part, StemFilter) or hasattr(part._stem, "cache_parameters"):
            continue  # not a stemmer, or already a functools cache
        size = part.cachesize
        if not isinstance(size, int) or size in (0, 1):
            continue  # no cache: nothing shared between threads
        stemfn = stemmer_for_language(part.lang) if part.lang else part.stemfn
        # A negative size asks for no limit; an unbounded cache is a memory leak in a
        # server fed with hostile words, so it gets the default limit instead.
        part._stem = functools.lru_cache(maxsize=size if size > 0 else STEM_CACHE_WORDS)(stemfn)
    return analyzer


def term_and_spelling(word: str) -> tuple:
    """Analyse one word as ``ANALYZER`` does; return its term (UTF-8) and its spelling word.

    The spelling word is what the analyzer gives without stemming (``no_morph``): the
    word the body's spelling field keeps. A stop word or a single letter gives ``()``.
    """
    lowered = word.lower()
    if len(lowered) < MIN_WORD_CHARS or lowered in STOP_WORDS:
        return ()
    return _term(lowered), lowered.translate(accent_map)


@functools.lru_cache(maxsize=200_000)
def _term(lowered: str) -> bytes:
    """Return a lower-case word's term: "Tax" and "TAX" are stemmed once between them."""
    return stem(lowered).translate(accent_map).encode("utf-8")
