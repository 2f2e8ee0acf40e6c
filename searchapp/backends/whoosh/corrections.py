"""Spelling corrections: the article word nearest to a word that found nothing."""

from __future__ import annotations

import bisect
import struct
import threading

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein
from whoosh.codec import whoosh3

from searchapp.backends.whoosh.engine import Leaf
from searchapp.spelling import best_correction

MAX_CORRECTION_EDITS = 2
# How Whoosh's words file starts each entry: the key's length and the value's.
ENTRY_LENGTHS = struct.Struct("!ii")
# One thread reads a segment's words while the others wait: each would read them all.
_WORDS_LOCK = threading.Lock()


def closest_word(leaves: list[Leaf], searcher, word: str, min_frequency: int = 0,
                 max_edits: int = MAX_CORRECTION_EDITS) -> str | None:
    """Return the article word nearest to ``word`` in edits, the commonest of equals
    (``spelling.best_correction``).

    Only words in at least ``min_frequency`` articles, and at most ``max_edits`` edits
    away, are offered. A spelling word's count of articles is its summed weight
    (``frequency``): one posting of weight 1 per article in segments Whoosh wrote, one
    per segment weighed by its count in those ``writer.ArticleWriter`` wrote.
    """
    candidates: dict[str, int] = {}
    for leaf in leaves:
        words = leaf.segment.words
        if words is None:
            with _WORDS_LOCK:
                words = leaf.segment.words
                if words is None:
                    field_name = searcher.schema["body"].spelling_fieldname("body")
                    words = leaf.segment.words = segment_words(leaf.searcher.reader(),
                                                               field_name)
        candidates.update(near_words(words, word, max_edits))
    field_name = searcher.schema["body"].spelling_fieldname("body")
    reader = searcher.reader()
    return best_correction(word, [(candidate, edits, reader.frequency(field_name, candidate))
                                  for candidate, edits in candidates.items()], min_frequency)


def near_words(words: list[str], word: str, max_edits: int) -> list[tuple[str, int]]:
    """Return the words of a sorted list that start with ``word``'s first letter and are at
    most ``max_edits`` insertions, deletions or substitutions from it, with their edits.

    A typo is rarely in the first letter, and keeping it cuts the words to compare to a
    slice of the list. The comparing is RapidFuzz's, in C: Whoosh's Levenshtein automaton
    walked in Python found the same words 6 to 30 times slower (BENCHMARKS.md, "Search
    speed on the embedded index", session 6).
    """
    if not word:
        return []
    first = bisect.bisect_left(words, word[0])
    after = chr(ord(word[0]) + 1) if word[0] < "\U0010ffff" else None
    last = bisect.bisect_left(words, after, lo=first) if after else len(words)
    return [(near, edits) for near, edits, _ in process.extract_iter(
        word, words[first:last], scorer=Levenshtein.distance, score_cutoff=max_edits)]


def segment_words(reader, field_name: str) -> list[str]:
    """Return one segment's words of a field, sorted, read from its words file in one go.

    Whoosh's ``lexicon`` reads the file a few bytes at a time: 78,549 words of a
    Reuters-21578 segment took 2 s, and 26 s on a busy machine, in the request that
    first needed a correction.
    """
    terms = getattr(reader, "_terms", None)
    if not isinstance(terms, whoosh3.W3TermsReader) or field_name not in terms._fieldmap:
        return [term.decode("utf-8") for term in reader.lexicon(field_name)]
    table = terms._tindex
    number = terms._fieldmap[field_name]
    # Keys are the field's number then the word; the file holds them in order.
    start = table.closest_key_pos(struct.pack("!H", number))
    if start is None:
        return []
    end = table.closest_key_pos(struct.pack("!H", number + 1)) or table.endofdata
    data = table.dbfile.get(start, end - start)
    words, position = [], 0
    while position < len(data):
        key_length, value_length = ENTRY_LENGTHS.unpack_from(data, position)
        position += ENTRY_LENGTHS.size
        words.append(data[position + 2:position + key_length].decode("utf-8"))
        position += key_length + value_length
    return words
