"""Spelling corrections: the article word nearest to a word that found nothing."""

from __future__ import annotations

import bisect

from whoosh.codec.base import Automata
from whoosh.support.levenshtein import distance as edit_distance

from searchapp.searching.engine import Leaf

MAX_CORRECTION_EDITS = 2


def closest_word(leaves: list[Leaf], searcher, word: str, min_frequency: int = 0) -> str | None:
    """Return the article word nearest to ``word`` in edits, the commonest of equals.

    Only words in at least ``min_frequency`` articles are offered.
    """
    automaton = Automata.levenshtein_dfa(word, MAX_CORRECTION_EDITS, prefix=1)
    candidates = set()
    for leaf in leaves:
        words = leaf.segment.words
        if words is None:
            field_name = searcher.schema["body"].spelling_fieldname("body")
            words = leaf.segment.words = [
                term.decode("utf-8") for term in leaf.searcher.reader().lexicon(field_name)]
        candidates.update(Automata.find_matches(automaton, WordCursor(words)))
    candidates.discard(word)
    field_name = searcher.schema["body"].spelling_fieldname("body")
    reader = searcher.reader()
    if min_frequency > 1:
        candidates = {candidate for candidate in candidates
                      if reader.doc_frequency(field_name, candidate) >= min_frequency}
    if not candidates:
        return None
    return min(candidates, key=lambda candidate: (
        edit_distance(candidate, word), -reader.doc_frequency(field_name, candidate), candidate))


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
