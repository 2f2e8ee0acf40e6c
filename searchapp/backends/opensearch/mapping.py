"""How an article is held on OpenSearch: the analysis and fields of the archive's index.

Analysis matches the embedded index's word for word: words are runs of letters and digits
that may hold a dot (``U.S``, ``3.5``), lower-cased; words of one letter and the stop words
of Whoosh's English list are dropped; the rest are stemmed with Porter2 (Snowball English)
and their accents folded, so "Élysée" finds "Elysee". ``body.words`` keeps the body's words
unstemmed, for completions and spelling corrections: only which articles hold a word (no
frequencies, positions nor lengths, which nothing reads from it).

``weighted_text`` holds the headline, body and caption together, each copied in as many times as
its weight (``COPIES``: 1.5, 1 and 0.5, doubled to whole copies), so that one BM25 score of
it is BM25F: a word's weighted frequencies over the fields added up and saturated once, with
the weighted length normalised, as Lucene's ``CombinedFieldQuery`` (Elasticsearch's
``combined_fields``, which OpenSearch lacks) scores it. Its k1 is doubled with the copies.
"""

from __future__ import annotations

import functools
import re
import sys
from array import array

from searchapp.matching import FIELD_WEIGHTS

# Whoosh 2.7.4's English stop words (whoosh.analysis.STOP_WORDS), which the embedded index
# drops: the same words are dropped here, so both engines find and rank the same articles.
STOP_WORDS = (
    "a an and are as at be by can for from have if in is it may not of on or tbd that the "
    "this to us we when will with yet you your"
).split()
# A word: letters and digits, with inner dots kept (Whoosh's RegexTokenizer's pattern,
# r"\w+(\.?\w+)*"). The cluster finds it with a `simple_pattern` tokenizer, a Lucene
# automaton, cheaper than the `pattern` tokenizer's java.util.regex (2-3 of the cluster's
# 17-20 CPU seconds for Reuters-21578, BENCHMARKS.md); Lucene's
# regular expressions know no Unicode classes, so \w is spelt out as the ranges of
# characters Python's \w matches (WORD_CHARACTERS), which also makes the cluster split
# words exactly where Whoosh and the snippets do.
# The class is written once, not twice as in "W+(\.W+)*": runs of word characters and
# dots (``[W\.]+``) that are also runs of other characters with single dots between them
# (``&`` intersects; ``[^\.]`` is a small class). The same words; the automaton is built
# each time an index is created (on the cluster manager and on each node), and creating
# a 2-shard index takes about 260 ms instead of 460 (BENCHMARKS.md, "OpenSearch indexing").
# No ``~`` (complement): Lucene 10, under OpenSearch 3, no longer reads it by default.
WORD_PATTERN = "[{word}\\.]+&[^\\.]+(\\.[^\\.]+)*"
WORD_CHARACTERS = re.compile(r"\w+")
# BM25's term-frequency saturation and length normalisation, as tuned for the embedded
# index on the five test collections (BENCHMARKS.md).
BM25_K1 = 1.6
BM25_B = 0.65
TEXT_FIELDS = ("headline", "body", "caption", "author")
# The field that scores a word over headline, body and caption at once (BM25F).
COMBINED_FIELD = "weighted_text"
# Copies of each field in the combined field per unit of its weight: the weights are
# halves, so two copies a unit make them whole (headline 3, body 2, caption 1).
COPIES_PER_WEIGHT = 2
COPIES = {name: round(weight * COPIES_PER_WEIGHT) for name, weight in FIELD_WEIGHTS.items()}
assert all(copies == weight * COPIES_PER_WEIGHT
           for copies, weight in zip(COPIES.values(), FIELD_WEIGHTS.values(), strict=True))

ANALYSIS = {
    "tokenizer": {
        "words": {"type": "simple_pattern"},  # its pattern: word_pattern()
    },
    "filter": {
        "two_letters_or_more": {"type": "length", "min": 2},
        "whoosh_stop_words": {"type": "stop", "stopwords": STOP_WORDS},
        "porter2": {"type": "snowball", "language": "English"},
    },
    "analyzer": {
        "article": {
            "type": "custom", "tokenizer": "words",
            "filter": ["lowercase", "two_letters_or_more", "whoosh_stop_words", "porter2",
                       "asciifolding"],
        },
        "plain_words": {
            "type": "custom", "tokenizer": "words", "filter": ["lowercase", "asciifolding"],
        },
    },
}

TEXT = {"type": "text", "analyzer": "article"}


def _copied(name: str) -> dict:
    """A text field copied into the combined field as many times as its weight asks."""
    return {**TEXT, "copy_to": [COMBINED_FIELD] * COPIES[name]}


MAPPINGS = {
    "dynamic": "strict",
    "properties": {
        "id": {"type": "keyword"},
        "headline": _copied("headline"),
        "body": {**_copied("body"),
                 "fields": {"words": {"type": "text", "analyzer": "plain_words",
                                      "index_options": "docs", "norms": False}}},
        "caption": _copied("caption"),
        # Scored only, never shown nor phrase-searched: frequencies without positions.
        COMBINED_FIELD: {**TEXT, "index_options": "freqs", "similarity": "bm25f"},
        "author": TEXT,
        "date": {"type": "date", "format": "strict_date"},
        "url": {"type": "keyword", "index": False, "doc_values": False},
        "credit": {"type": "keyword", "index": False, "doc_values": False},
        # The file an article came from, and that file's size and modification time when
        # it was read ("size:mtime"): what an update compares to find changed files.
        "source": {"type": "keyword"},
        "source_signature": {"type": "keyword", "index": False},
        # The near-duplicate signature (duplicates.signature), base64; read for folding.
        "signature": {"type": "binary", "doc_values": True},
        # Words in the body, for `searchapp stats --largest`.
        "body_words": {"type": "integer"},
    },
}


@functools.cache
def word_pattern() -> str:
    """Return the word pattern in Lucene's syntax, every character of \\w in a range."""
    # Every code point as one string, decoded at once (a third of the time of chr() each).
    code_points = array("I", range(sys.maxunicode + 1))
    every = code_points.tobytes().decode(f"utf-32-{sys.byteorder[0]}e", "surrogatepass")
    ranges = "".join(run[0] if len(run) == 1 else f"{run[0]}-{run[-1]}"
                     for run in WORD_CHARACTERS.findall(every))
    return WORD_PATTERN.format(word=ranges)


def analysis() -> dict:
    """Return the index's analysis settings (ANALYSIS with the word pattern filled in)."""
    tokenizer = {**ANALYSIS["tokenizer"]["words"], "pattern": word_pattern()}
    return {**ANALYSIS, "tokenizer": {**ANALYSIS["tokenizer"], "words": tokenizer}}


def index_body(shards: int, replicas: int) -> dict:
    """Return the settings and mappings of a new physical index of the archive."""
    return {
        "settings": {
            "index": {
                "number_of_shards": shards,
                "number_of_replicas": replicas,
                "similarity": {
                    "default": {"type": "BM25", "k1": BM25_K1, "b": BM25_B},
                    "bm25f": {"type": "BM25", "k1": BM25_K1 * COPIES_PER_WEIGHT, "b": BM25_B},
                },
            },
            "analysis": analysis(),
        },
        "mappings": MAPPINGS,
    }
