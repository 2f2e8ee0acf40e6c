"""Cut a result's snippet: the sentence of an article that best shows why it matched.

The snippet is HTML: the article's text escaped, the query's words and phrases in
``<mark>`` (a phrase as one mark, its words never on their own), and "…" wherever the
article's text goes on, so two cut passages never read as one sentence. Whole sentences
are preferred; a sentence too long for the snippet is cut around its matches.

Which words match is the caller's question, asked through ``Marks.analyse`` (a word as
the index holds it), so the same stemming decides what is found and what is marked.
The work is bounded whatever the article's size: the first ``HEAD_CHARS`` of the text are
read word by word, and beyond them only windows around the first place each query word
appears, found by a plain substring search.
"""

from __future__ import annotations

import functools
import html
import itertools
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

# The indexer's word pattern (Whoosh's default tokenizer).
WORD_RE = re.compile(r"\w+(?:\.?\w+)*")
# About three lines of a laptop's column, two on a wide screen.
SNIPPET_CHARS = 220
# Text kept before the first match when a long sentence has to be cut.
SURROUND = 60
PASSAGES = 2
# A second passage shorter than this would say too little.
MIN_PASSAGE_CHARS = 40
# Beyond this many matches an article has shown what it is about.
MAX_MATCHES = 500
ELLIPSIS = "…"
# The text read word by word; beyond it, only windows around far matches.
HEAD_CHARS = 20_000
FAR_WINDOW_CHARS = 600
# How far from a match a sentence's start or end is looked for.
SENTENCE_SEARCH = 400
# Stop words (the index leaves them out) a phrase may have between its words.
PHRASE_GAP = 4
# A full stop ends a sentence unless it follows an initial ("U.S.", "J.") or one of these.
_ABBREVIATIONS = ("Mr", "Mrs", "Ms", "Dr", "St", "Jr", "Sr", "Co", "Inc", "Corp", "Ltd", "No",
                  "vs", "Gen", "Gov", "Sen", "Rep", "Jan", "Feb", "Aug", "Sept", "Oct", "Nov",
                  "Dec")
# A sentence ends at punctuation or a blank line. The pattern starts with one set of
# characters, so the search skips along the text in C to the next of them (a pattern
# that starts with a choice is tried at every character: a quarter slower on prose).
# After a full stop, the pattern first looks ahead for the space that must follow, and
# looks behind for the abbreviations of each length at once: a stop inside a number
# ("1.5") is then rejected five times faster, and a sentence end found twice as fast.
_SENTENCE_END = re.compile(
    r"[.!?\n](?:(?<=[.!?])(?=[\"'”’)\]]*\s)(?<!\b[A-Z][.!?])"
    + "".join(rf"(?<!\b(?:{'|'.join(words)})[.!?])"
              for _, words in itertools.groupby(sorted(_ABBREVIATIONS, key=len), key=len))
    + r"[\"'”’)\]]*(?=\s)|(?<=\n)\s*\n)"
)


@dataclass(frozen=True)
class Marks:
    """What a snippet marks: the query's words and phrases, as the index holds them.

    ``analyse`` turns a lower-case word of the article into the index's form (stemmed,
    accents folded), or None for a word the index leaves out (a stop word).
    ``initials`` are the first letters (lower case, accents folded) of the words and
    phrases: other words are not analysed, except inside a phrase.
    """

    analyse: Callable[[str], str | None]
    words: frozenset[str] = frozenset()
    phrases: tuple[tuple[str, ...], ...] = ()

    # Worked out once per query, not once per text marked.
    @functools.cached_property
    def initials(self) -> frozenset[str]:
        return frozenset(w[0] for w in self.words | {p[0] for p in self.phrases} if w)

    @functools.cached_property
    def phrase_starts(self) -> frozenset[str]:
        return frozenset(p[0] for p in self.phrases)

    def __bool__(self) -> bool:
        return bool(self.words or self.phrases)


def snippet(text: str, marks: Marks, max_chars: int = SNIPPET_CHARS,
            passages: int = PASSAGES) -> str:
    """Return the best sentence(s) of ``text`` with matches marked, or "" if none match.

    A text of up to ``max_chars`` is shown whole; a longer one by its sentence with the
    most different matches (cut around them when too long), followed, when room is
    left, by up to ``passages - 1`` other sentences that show other query words.
    """
    matches = _find_all(text, marks)
    if not matches:
        return ""
    if len(text) <= max_chars:
        return _marked(text, 0, len(text), matches)
    chosen = _passages(text, matches, max_chars, passages)
    parts = [_marked(text, start, end, matches) for start, end in chosen]
    result = f" {ELLIPSIS} ".join(parts)
    if chosen[0][0] > 0:
        result = f"{ELLIPSIS} {result}"
    if chosen[-1][1] < len(text.rstrip()):
        result = f"{result} {ELLIPSIS}"
    return result


def mark(text: str, marks: Marks) -> str:
    """Return ``text`` (a headline) escaped, with the query's words and phrases marked."""
    return _marked(text, 0, len(text), _find_all(text[:HEAD_CHARS], marks))


def mark_all(text: str, marks: Marks, limit: int) -> str:
    """Return ``text`` escaped with its first ``limit`` matches marked, reading all of it.

    For text the caller has already bounded (an article page shows a capped part).
    """
    matches = _find(text, 0, len(text), marks) if marks else []
    return _marked(text, 0, len(text), matches[:limit])


# A match: (start, end, what it matched: a word, or a phrase as a tuple).
Match = tuple[int, int, object]


def _find_all(text: str, marks: Marks) -> list[Match]:
    """Return the matches in the parts of ``text`` that are read, in text order.

    The first ``HEAD_CHARS`` are read word by word. A query word missing from them is
    looked for further on by its stem's first letters (a plain substring search, done
    in C), and only the window around its first appearance is read too.
    """
    if not marks:
        return []
    head = len(text) if len(text) <= HEAD_CHARS else _word_edge(text, HEAD_CHARS)
    matches = _find(text, 0, head, marks)
    if head == len(text) or len(matches) >= MAX_MATCHES:
        return matches[:MAX_MATCHES]
    seen = {found for _, _, found in matches}
    wanted = {w for w in marks.words if w not in seen}
    wanted |= {p[0] for p in marks.phrases if p not in seen}
    windows = []
    for word in sorted(wanted):
        at = _first_word_starting(text, word[:max(3, len(word) - 1)], head)
        if at != -1:
            windows.append((max(head, at - FAR_WINDOW_CHARS),
                            min(len(text), at + FAR_WINDOW_CHARS)))
    regions: list[tuple[int, int]] = []
    for start, end in sorted(windows):
        start, end = _word_edge(text, start, forward=True), _word_edge(text, end)
        if regions and start <= regions[-1][1]:
            regions[-1] = (regions[-1][0], max(end, regions[-1][1]))
        else:
            regions.append((start, end))
    for start, end in regions:
        matches += _find(text, start, end, marks)
    return matches[:MAX_MATCHES]


# Occurrences of a stem's letters inside other words looked at before giving up on it.
_MAX_FALSE_STARTS = 64


def _first_word_starting(text: str, letters: str, start: int) -> int:
    """Return where the first word beginning with ``letters`` (in lower, title or upper
    case) starts after ``start``, or -1."""
    found = []
    for variant in {letters, letters.capitalize(), letters.upper()}:
        position = start
        for _ in range(_MAX_FALSE_STARTS):
            at = text.find(variant, position)
            if at == -1 or not text[at - 1].isalnum():
                break
            position = at + 1
        else:
            at = -1
        if at != -1:
            found.append(at)
    return min(found, default=-1)


def _word_edge(text: str, position: int, forward: bool = False) -> int:
    """Move ``position`` to the nearest space so no word is cut (bounded search)."""
    if position <= 0 or position >= len(text):
        return max(0, min(position, len(text)))
    if forward:
        space = text.find(" ", position, position + 100)
        return space + 1 if space != -1 else position
    space = text.rfind(" ", position - 100, position)
    return space if space != -1 else position


def _find(text: str, start: int, end: int, marks: Marks) -> list[Match]:
    """Return the words and phrases of ``marks`` in ``text[start:end]``, in text order.

    A phrase matches its words in a row, the stop words between them left out as the
    index leaves them out; its words are then not marked on their own.
    """
    initials, firsts, words = marks.initials, marks.phrase_starts, marks.words
    matches: list[Match] = []
    # ASCII text is read in lower case (from ``shift`` on: the look-behinds of the
    # patterns read two characters back), for the lower-case initials alone: one
    # initial is then a literal, which the search skips to in C, 2 to 5 times faster
    # than to the class of both cases and every non-ASCII letter.
    shift = max(0, start - 2)
    source = text[shift:end]
    if source.isascii():
        source, pattern = source.lower(), _lower_starting_with(initials)
    else:
        source, shift, pattern = text, 0, _starting_with(initials)
    # The first word is wherever reading starts, even inside a word; after it, only
    # the words that can start with an initial are looked at (found in C).
    first = WORD_RE.search(source, start - shift, end - shift)
    if first is None:
        return matches
    tokens = itertools.chain((first,), pattern.finditer(source, first.end(), end - shift))
    after = start  # where the last phrase found ends: the words up to there are in it
    for token in tokens:
        a, b = token.span()
        a, b = a + shift, b + shift
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


# A word starts at a letter that follows neither a letter nor a letter and a full stop
# (``WORD_RE`` reads "U.S" as one word), which holds after the end of any word.
_WORD_FROM_FIRST_LETTER = r"(?<=\w)(?<!\w.)(?<!\w\..)\w*(?:\.?\w+)*"


@functools.lru_cache(maxsize=1024)
def _starting_with(initials: frozenset[str]) -> re.Pattern:
    """Return a pattern of the words (as ``WORD_RE`` cuts them) that may start with one of
    ``initials``: in either case, and every word starting with a non-ASCII letter, whose
    folded initial ``_find`` works out itself.
    """
    ascii_letters = sorted({c for i in initials if i.isascii() for c in (i, i.upper())})
    first = "".join(map(re.escape, ascii_letters)) + r"\x80-\U0010ffff"
    # The first letter is matched first, so the search skips in C to the next letter
    # that may start a word; the look-behinds then check that it starts one. (Looking
    # behind first tried them at every character: a third of the time more.)
    return re.compile(rf"[{first}]{_WORD_FROM_FIRST_LETTER}", re.DOTALL)


@functools.lru_cache(maxsize=1024)
def _lower_starting_with(initials: frozenset[str]) -> re.Pattern:
    """Return ``_starting_with(initials)`` for lower-case ASCII text: the ASCII initials."""
    # Without an ASCII initial (accented words only), a class no ASCII letter is in.
    letters = "".join(map(re.escape, sorted(i for i in initials if i.isascii()))) or r"^\x00-\x7f"
    return re.compile(rf"[{letters}]{_WORD_FROM_FIRST_LETTER}", re.DOTALL)


def _folded(letter: str) -> str:
    """Return a letter without its accent ("é" gives "e"), as the index folds it."""
    return unicodedata.normalize("NFKD", letter)[:1]


def _phrase_at(text: str, after: int, end: int, first: str, marks: Marks):
    """Return (phrase, where it ends) for a phrase whose first word ends at ``after``."""
    for phrase in marks.phrases:
        if phrase[0] != first:
            continue
        following = WORD_RE.finditer(text, after, end)
        last, gap = after, 0
        for word in phrase[1:]:
            for token in following:
                form = marks.analyse(token.group().lower())
                last = token.end()
                if form is not None:
                    break
                gap += 1
                if gap > PHRASE_GAP:
                    form = ""
                    break
            else:
                form = ""
            if form != word:
                break
        else:
            return phrase, last
    return None


def _passages(text: str, matches: list[Match], max_chars: int,
              passages: int) -> list[tuple[int, int]]:
    """Choose the sentence richest in different matches, then others that add new ones."""
    sentences: dict[tuple[int, int], list[Match]] = {}
    span = (0, -1)
    for match in matches:
        if not (span[0] <= match[0] and match[1] <= span[1]):  # matches come in text order
            span = _sentence(text, match[0], match[1])
        sentences.setdefault(span, []).append(match)
    ranked = sorted(sentences.items(),
                    key=lambda item: (-len({m[2] for m in item[1]}), -len(item[1]), item[0]))
    first_words = {m[2] for m in ranked[0][1]}
    more = passages > 1 and any({m[2] for m in inside} - first_words for _, inside in ranked[1:])
    # When another sentence shows other words, the first leaves it room.
    room = max_chars if not more else (max_chars - len(ELLIPSIS) - 2) // 2
    chosen: list[tuple[int, int]] = []
    shown: set = set()
    for (start, end), inside in ranked:
        if len(chosen) >= passages or room < MIN_PASSAGE_CHARS:
            break
        new = {m[2] for m in inside} - shown
        if not new or not all(end <= a or start >= b for a, b in chosen):
            continue
        if end - start > room:
            start, end = _window(text, inside, start, end, room)
        chosen.append((start, end))
        shown |= {m[2] for m in inside if start <= m[0] and m[1] <= end}
        room = max_chars - sum(b - a + len(ELLIPSIS) + 2 for a, b in chosen)
    return sorted(chosen)


def _sentence(text: str, start: int, end: int) -> tuple[int, int]:
    """Return the span of the sentence around ``text[start:end]`` (bounded search).

    Where no sentence edge is near, the span ends where the search stopped, and the
    snippet shows it was cut.
    """
    low = max(0, start - SENTENCE_SEARCH)
    before = _last_sentence_end(text, low, start)
    first = before.end() if before else low
    while first < start and text[first].isspace():
        first += 1
    after = _first_sentence_end(text, end, min(len(text), end + SENTENCE_SEARCH))
    last = after.end() if after and not after.group().isspace() else (
        after.start() if after else min(len(text), end + SENTENCE_SEARCH))
    while last > end and text[last - 1].isspace():
        last -= 1
    if first == low and low > 0:
        first = _word_edge(text, first, forward=True)
    if last == end + SENTENCE_SEARCH:
        last = _word_edge(text, last)
    return first, last


# What a sentence end (``_SENTENCE_END``) starts with: the pattern is tried only there.
# Looking for sentences with the pattern alone took a quarter of a snippet's time.
_SENTENCE_MARKS = ".!?\n"
# One set of characters, which the search skips along to in C. Looking for each mark
# with str.find was as quick per character, but keeping four places in a dict cost
# more than the search on Reuters' sentences: 2 to 4 us a sentence end against 7.
_SENTENCE_MARK = re.compile(f"[{re.escape(_SENTENCE_MARKS)}]")


def _first_sentence_end(text: str, start: int, end: int) -> re.Match | None:
    """Return the first sentence end in ``text[start:end]``, as ``_SENTENCE_END.search``."""
    while mark := _SENTENCE_MARK.search(text, start, end):
        if edge := _SENTENCE_END.match(text, mark.start(), end):
            return edge
        start = mark.end()
    return None


def _last_sentence_end(text: str, start: int, end: int) -> re.Match | None:
    """Return the last sentence end in ``text[start:end]``, as the last of
    ``_SENTENCE_END.finditer``, or one that ends where it ends.

    Sentence ends overlap only within a run of blank lines, and those all end where the
    run does; so the last to end is the one that starts last, looked for backwards.
    """
    # The last place of each mark, in the order of _SENTENCE_MARKS (a list, not a dict
    # as before: half the time).
    places = [text.rfind(mark, start, end) for mark in _SENTENCE_MARKS]
    while (at := max(places)) != -1:
        if edge := _SENTENCE_END.match(text, at, end):
            return edge
        places[_SENTENCE_MARKS.index(text[at])] = text.rfind(text[at], start, at)
    return None


def _window(text: str, inside: list[Match], start: int, end: int,
            max_chars: int) -> tuple[int, int]:
    """Cut a long sentence to ``max_chars`` around the run of its matches richest in words."""
    best = None
    for number, (first, _, _) in enumerate(inside):
        left = max(start, first - SURROUND)
        right = min(end, left + max_chars)
        covered = [m for m in inside[number:] if m[1] <= right]
        key = (len({m[2] for m in covered}), len(covered), -left)
        if best is None or key > best[0]:
            best = (key, left, right, first, covered[-1][1] if covered else first)
    _, left, right, first, last = best
    if left > start:
        space = text.find(" ", left, first)
        left = space + 1 if space != -1 else left
    if right < end:
        space = text.rfind(" ", last, right)
        right = space if space != -1 else right
    return left, right


def _marked(text: str, start: int, end: int, matches: list[Match]) -> str:
    """Escape ``text[start:end]`` and wrap the matches in it in <mark>."""
    out = []
    position = start
    for a, b, _ in matches:
        if a < position or a < start or b > end:
            continue
        out.append(html.escape(text[position:a], quote=False))
        out.append(f"<mark>{html.escape(text[a:b], quote=False)}</mark>")
        position = b
    out.append(html.escape(text[position:end], quote=False))
    return "".join(out)


def lead(body: str, limit: int = SNIPPET_CHARS) -> str:
    """Return the start of an article, cut at a word boundary."""
    # Only the start is read: a huge article costs no more than a short one.
    text = " ".join(body[:limit * 4].split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + " …"
