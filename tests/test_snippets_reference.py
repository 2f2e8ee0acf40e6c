"""Finding matches and sentences: the quick versions give exactly what the plain ones did.

The references are the functions as they were before session 8 (commit 8237642).
"""

import functools
import itertools
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from searchapp import snippets
from searchapp.backends.whoosh.marking import _analysed
from searchapp.snippets import (
    _ABBREVIATIONS,
    MAX_MATCHES,
    SENTENCE_SEARCH,
    WORD_RE,
    Marks,
    _folded,
    _phrase_at,
)

# --- the references ---------------------------------------------------------------------


def reference_find(text, start, end, marks):
    initials, firsts, words = marks.initials, marks.phrase_starts, marks.words
    matches = []
    first = WORD_RE.search(text, start, end)
    if first is None:
        return matches
    tokens = itertools.chain((first,),
                             _reference_starting_with(initials).finditer(text, first.end(), end))
    after = start
    for token in tokens:
        a, b = token.span()
        if a < after:
            continue
        word = token.group().lower()
        initial = word[0] if word[0].isascii() else _folded(word[0])
        if initial in initials:
            form = marks.analyse(word)
            found = _phrase_at(text, b, end, form, marks) if form in firsts else None
            if found:
                phrase, after = found
                matches.append((a, after, phrase))
            else:
                if form in words:
                    matches.append((a, b, form))
                if len(matches) >= MAX_MATCHES:
                    break
    return matches


@functools.cache
def _reference_starting_with(initials):
    ascii_letters = sorted({c for i in initials if i.isascii() for c in (i, i.upper())})
    first = "".join(map(re.escape, ascii_letters)) + r"\x80-\U0010ffff"
    return re.compile(rf"[{first}](?<=\w)(?<!\w.)(?<!\w\..)\w*(?:\.?\w+)*", re.DOTALL)


REFERENCE_SENTENCE_END = re.compile(
    r"[.!?\n](?:(?<=[.!?])(?<!\b[A-Z][.!?])"
    + "".join(rf"(?<!\b{word}[.!?])" for word in _ABBREVIATIONS)
    + r"[\"'”’)\]]*(?=\s)|(?<=\n)\s*\n)"
)


def reference_first_sentence_end(text, start, end):
    found = {mark: text.find(mark, start, end) for mark in ".!?\n"}
    while places := [at for at in found.values() if at != -1]:
        at = min(places)
        if edge := REFERENCE_SENTENCE_END.match(text, at, end):
            return edge
        found[text[at]] = text.find(text[at], at + 1, end)
    return None


def reference_last_sentence_end(text, start, end):
    found = {mark: text.rfind(mark, start, end) for mark in ".!?\n"}
    while places := [at for at in found.values() if at != -1]:
        at = max(places)
        if edge := REFERENCE_SENTENCE_END.match(text, at, end):
            return edge
        found[text[at]] = text.rfind(text[at], start, at)
    return None


# --- what they are given ----------------------------------------------------------------

STOP = {"and", "the", "of", "a", "in", "to"}
VOCABULARY = ["grain", "grains", "gold", "golden", "tomorrow", "tea", "Élysée", "elysee", "œuvre",
              "oeuvre", "U.S", "u.s.", "the", "of", "and", "money", "supply", "Kelvin", "ß",
              "straße", "idly", "dying", "1987", "x_y", "İstanbul", "ǅemal", "a"]
PIECES = [" ", "  ", ". ", ".\n", "\n\n", "! ", "? ", '." ', ") ", "-", ",", "..", "Mr. ",
          "U.S. ", " \n \n", "\t", "—", ".’ ", " Corp. ", " Sept.", "Mrs.", " J. ", "1.5",
          '?" ', ".) ", ".] ", "!’\n", " No.", "vs. ", ".\u2029", "\r\n\r\n"]


def simple_analyse(word):
    """Lower case, a plural "s" dropped, a few stop words."""
    if word in STOP:
        return None
    return word[:-1] if word.endswith("s") and len(word) > 3 else word


def _texts(words, pieces, letters):
    spelt = st.sampled_from(words).flatmap(
        lambda w: st.sampled_from([w, w.lower(), w.upper(), w.capitalize()]))
    word = st.one_of(spelt, spelt, spelt, st.text(letters, max_size=4))
    return st.lists(st.tuples(word, st.sampled_from(pieces)).map("".join),
                    max_size=40).map("".join)


# Half of the texts are ASCII, which is searched another way.
texts = st.one_of(_texts(VOCABULARY, PIECES, st.characters()),
                  _texts([w for w in VOCABULARY if w.isascii()], [p for p in PIECES if p.isascii()],
                         st.characters(max_codepoint=0x7F)))


@st.composite
def marks(draw):
    analyse = draw(st.sampled_from([simple_analyse, _analysed]))
    forms = sorted({f for f in (analyse(w.lower()) for w in VOCABULARY) if f})
    words = draw(st.frozensets(st.sampled_from(forms), min_size=1, max_size=3))
    phrases = draw(st.lists(st.lists(st.sampled_from(forms), min_size=2, max_size=3).map(tuple),
                            max_size=2))
    return Marks(analyse, words, tuple(dict.fromkeys(phrases)))


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts, marks=marks(), cut=st.integers(0, 20), data=st.data())
def test_find_gives_the_reference_matches(text, marks, cut, data):
    start = min(cut, len(text))
    end = data.draw(st.integers(start, len(text)))
    assert snippets._find(text, start, end, marks) == reference_find(text, start, end, marks)


def _span(match):
    return match and match.span()


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts, data=st.data())
def test_sentence_ends_are_the_reference_ones(text, data):
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, min(len(text), start + SENTENCE_SEARCH)))
    for at in range(start, end):
        assert (_span(snippets._SENTENCE_END.match(text, at, end))
                == _span(REFERENCE_SENTENCE_END.match(text, at, end)))
    assert (_span(snippets._first_sentence_end(text, start, end))
            == _span(reference_first_sentence_end(text, start, end)))
    assert (_span(snippets._last_sentence_end(text, start, end))
            == _span(reference_last_sentence_end(text, start, end)))
