"""How an article is held on OpenSearch: the analysis and fields of the archive's index.

Analysis matches the embedded index's word for word: words are runs of letters and digits
that may hold a dot (``U.S``, ``3.5``), lower-cased; words of one letter and the stop words
of Whoosh's English list are dropped; the rest are stemmed with Porter2 (Snowball English)
and their accents folded, so "Élysée" finds "Elysee". ``body.words`` keeps the body's words
unstemmed, for completions and spelling corrections.
"""

from __future__ import annotations

# Whoosh 2.7.4's English stop words (whoosh.analysis.STOP_WORDS), which the embedded index
# drops: the same words are dropped here, so both engines find and rank the same articles.
STOP_WORDS = (
    "a an and are as at be by can for from have if in is it may not of on or tbd that the "
    "this to us we when will with yet you your"
).split()
# A word: letters and digits, with inner dots kept (Whoosh's RegexTokenizer's pattern; Java
# reads \w as any Unicode letter or digit only with this flag).
WORD_PATTERN = r"\w+(\.?\w+)*"
# BM25's term-frequency saturation and length normalisation, as tuned for the embedded
# index on the five test collections (BENCHMARKS.md).
BM25_K1 = 1.6
BM25_B = 0.65
TEXT_FIELDS = ("headline", "body", "caption", "author")

ANALYSIS = {
    "tokenizer": {
        "words": {"type": "pattern", "pattern": WORD_PATTERN, "group": 0,
                  "flags": "UNICODE_CHARACTER_CLASS"},
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
MAPPINGS = {
    "dynamic": "strict",
    "properties": {
        "id": {"type": "keyword"},
        "headline": TEXT,
        "body": {**TEXT, "fields": {"words": {"type": "text", "analyzer": "plain_words"}}},
        "caption": TEXT,
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


def index_body(shards: int, replicas: int) -> dict:
    """Return the settings and mappings of a new physical index of the archive."""
    return {
        "settings": {
            "index": {
                "number_of_shards": shards,
                "number_of_replicas": replicas,
                "similarity": {"default": {"type": "BM25", "k1": BM25_K1, "b": BM25_B}},
            },
            "analysis": ANALYSIS,
        },
        "mappings": MAPPINGS,
    }
