"""Spelling corrections: the article word nearest to a word that found nothing."""

from __future__ import annotations

import bisect
import struct
import threading

from whoosh.codec import whoosh3
from whoosh.codec.base import Automata
from whoosh.support.levenshtein import distance as edit_distance

from searchapp.backends.whoosh.engine import Leaf

MAX_CORRECTION_EDITS = 2
# How Whoosh's words file starts each entry: the key's length and the value's.
ENTRY_LENGTHS = struct.Struct("!ii")
# One thread reads a segment's words while the others wait: each would read them all.
_WORDS_LOCK = threading.Lock()


def closest_word(leaves: list[Leaf], searcher, word: str, min_frequency: int = 0,
                 max_edits: int = MAX_CORRECTION_EDITS) -> str | None:
    """Return the article word nearest to ``word`` in edits, the commonest of equals.

    Only words in at least ``min_frequency`` articles, and at most ``max_edits`` edits
    away, are offered. A spelling word's count of articles is its summed weight
    (``frequency``): one posting of weight 1 per article in segments Whoosh wrote, one
    per segment weighed by its count in those ``writer.ArticleWriter`` wrote.
    """
    automaton = Automata.levenshtein_dfa(word, max_edits, prefix=1)
    candidates = set()
    for leaf in leaves:
        words = leaf.segment.words
        if words is None:
            with _WORDS_LOCK:
                words = leaf.segment.words
                if words is None:
                    field_name = searcher.schema["body"].spelling_fieldname("body")
                    words = leaf.segment.words = segment_words(leaf.searcher.reader(),
                                                               field_name)
        candidates.update(Automata.find_matches(automaton, WordCursor(words)))
    candidates.discard(word)
    field_name = searcher.schema["body"].spelling_fieldname("body")
    reader = searcher.reader()
    if min_frequency > 1:
        candidates = {candidate for candidate in candidates
                      if reader.frequency(field_name, candidate) >= min_frequency}
    if not candidates:
        return None
    return min(candidates, key=lambda candidate: (
        edit_distance(candidate, word), -reader.frequency(field_name, candidate), candidate))


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


class WordCursor:
    """Walk a sorted word list the way Whoosh's automata walk a term file."""

    def __init__(self, words: list[str]):
        self.words = words
        self.position = 0

    def text(self) -> str | None:
        return self.words[self.position] if self.position < len(self.words) else None

    def find(self, word: str) -> None:
        # The automaton only ever asks for a word after the last one.
        self.position = bisect.bisect_left(self.words, word, lo=self.position)
