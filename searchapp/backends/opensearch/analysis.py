"""Words as the cluster's index holds them, worked out here without asking the cluster.

Snippets and marks need each article word's indexed form, and a query needs to know
whether a clause is one word or several (a phrase); asking the cluster's ``_analyze`` for
every word of every snippet would cost a round trip a word. The ``article`` analyzer of
``mapping`` is small enough to repeat: Whoosh's word pattern, lower case, no words of one
letter nor stop words, Snowball English (Porter2, the very algorithm the cluster's
``snowball`` filter runs, through PyStemmer) and accents folded.
"""

from __future__ import annotations

import functools
import threading
import unicodedata

import Stemmer

from searchapp.backends.opensearch.mapping import STOP_WORDS
from searchapp.snippets import WORD_RE

# Distinct words whose analysed form a process remembers.
ANALYSED_WORDS_CACHED = 100_000
# Letters that Lucene's ASCII folding turns into other letters, not just strips of marks.
FOLDED_LETTERS = str.maketrans({
    "ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "đ": "d", "ð": "d", "þ": "th", "ł": "l",
    "ı": "i", "ŋ": "n", "ħ": "h", "ſ": "s",
})
_STOP_WORDS = frozenset(STOP_WORDS)
# PyStemmer's stemmers are not safe to share between threads: one each.
_local = threading.local()


def _stemmer() -> Stemmer.Stemmer:
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = Stemmer.Stemmer("english")
    return stemmer


def fold(text: str) -> str:
    """Return ``text`` without accents ("café" gives "cafe"), as the index folds it."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text.translate(FOLDED_LETTERS))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@functools.lru_cache(maxsize=ANALYSED_WORDS_CACHED)
def analyse(word: str) -> str | None:
    """Return a lower-case word as the index holds it, or None for a word it leaves out."""
    if len(word) < 2 or word in _STOP_WORDS:
        return None
    return fold(_stemmer().stemWord(word))


def terms(text: str) -> list[str]:
    """Return the indexed forms of the words of ``text``, in order."""
    found = (analyse(match.group().lower()) for match in WORD_RE.finditer(text))
    return [term for term in found if term is not None]
