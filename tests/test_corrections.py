"""Which index words a misspelt word may be corrected to (the embedded index)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from whoosh.support.levenshtein import distance

from searchapp.backends.whoosh.corrections import near_words

WORDS = sorted({
    "coffee", "cocoa", "coff", "cofee", "caffeine", "toffee", "coffees", "cofe", "offer",
    "volcker", "volker", "jermuk", "zzz", "élysée", "elysee", "straße", "strasse", "a", "ab",
})
LETTERS = st.text(alphabet="acdefkloéßsz", min_size=0, max_size=8)


def test_words_within_the_edits_with_the_same_first_letter_are_offered():
    assert dict(near_words(WORDS, "cofee", 1)) == {"coffee": 1, "cofee": 0, "cofe": 1}
    assert dict(near_words(WORDS, "cofee", 2)) == {
        "coffee": 1, "cofee": 0, "cofe": 1, "coff": 2, "coffees": 2}
    # "toffee" is one edit away, but in the first letter.
    assert "toffee" not in dict(near_words(WORDS, "coffee", 1))


def test_accented_first_letters_and_empty_words():
    assert dict(near_words(WORDS, "élysee", 1)) == {"élysée": 1}
    assert near_words(WORDS, "", 2) == []
    assert near_words([], "coffee", 2) == []


@settings(max_examples=300, deadline=None)
@given(words=st.lists(LETTERS, max_size=30), word=LETTERS, edits=st.integers(0, 2))
def test_the_same_words_as_comparing_each_in_turn(words, word, edits):
    words = sorted(set(words))
    expected = {w: distance(w, word) for w in words
                if word and w[:1] == word[:1] and distance(w, word) <= edits}
    assert dict(near_words(words, word, edits)) == expected
