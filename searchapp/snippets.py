"""Cut a result's snippet: the passages of an article around the words a query found.

The snippet is HTML: the article's text escaped, the words that matched in ``<mark>``,
and "…" wherever the article's text goes on. Which words match is the caller's
question (``is_match``, asked about words in lower case), so the same stemming decides
what is found and what is marked.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Callable

# The indexer's word pattern (Whoosh's default tokenizer).
WORD_RE = re.compile(r"\w+(?:\.?\w+)*")
_WORD_CHAR = re.compile(r"\w")
SNIPPET_CHARS = 240
# Text kept before a passage's first match.
SURROUND = 70
PASSAGES = 2
# Beyond this many matches an article has shown what it is about.
MAX_MATCHES = 500
ELLIPSIS = "…"


def snippet(text: str, is_match: Callable[[str], bool], initials: str | None = None,
            max_chars: int = SNIPPET_CHARS, passages: int = PASSAGES) -> str:
    """Return the best passages of ``text`` with matched words marked, or "" if none match.

    A text of up to ``max_chars`` is shown whole; a longer one by up to ``passages``
    passages of up to ``max_chars`` each, those with the most different matched words,
    in the order they come in the article.

    :param initials: when given, only words that begin with one of these (lower-case
        ASCII) letters or with a letter outside ASCII can match.
    """
    matches = _find(text, is_match, initials)
    if not matches:
        return ""
    if len(text) <= max_chars:
        return _marked(text, 0, len(text), matches)
    chosen = _best_windows(text, matches, max_chars, passages)
    parts = [_marked(text, start, end, matches) for start, end in chosen]
    result = f" {ELLIPSIS} ".join(parts)
    if chosen[0][0] > 0:
        result = f"{ELLIPSIS} {result}"
    if chosen[-1][1] < len(text):
        result = f"{result} {ELLIPSIS}"
    return result


def _find(text: str, is_match: Callable[[str], bool],
          initials: str | None) -> list[tuple[int, int]]:
    """Return where the matching words are, as (start, end), in text order.

    Each distinct word is asked about once, in lower case.
    """
    words = WORD_RE
    if initials is not None:
        words = _candidates("".join(sorted(set(initials.lower() + initials.upper()))))
    answers: dict[str, bool] = {}
    matches = []
    for found in words.finditer(text):
        (start, end), word = found.span(), found.group().lower()
        if not _WORD_CHAR.match(word):
            # A candidate may begin with a character outside ASCII that is not a letter
            # (“Paris): the word is what follows it.
            start, word = start + 1, word[1:]
            if not word:
                continue
        answer = answers.get(word)
        if answer is None:
            answer = answers[word] = is_match(word)
        if answer:
            matches.append((start, end))
            if len(matches) >= MAX_MATCHES:
                break
    return matches


@functools.lru_cache(maxsize=256)
def _candidates(letters: str) -> re.Pattern:
    """The words of ``WORD_RE`` that begin with one of ``letters`` or outside ASCII.

    The first letter comes first in the pattern, so the engine skips along the text to
    the next such letter; the look-behinds then check it begins a word.
    """
    first = re.escape(letters) + "\u0080-\U0010ffff"
    return re.compile(rf"[{first}](?<!\w.)(?<!\w\..)\w*(?:\.\w+)*")


def _best_windows(text: str, matches: list[tuple[int, int]], max_chars: int,
                  passages: int) -> list[tuple[int, int]]:
    """Choose non-overlapping windows, richest in different matched words, in text order."""
    candidates = []
    for number, (first_start, _) in enumerate(matches):
        start = max(0, first_start - SURROUND)
        end = min(len(text), start + max_chars)
        inside = [m for m in matches[number:] if m[1] <= end]
        words = {text[a:b].lower() for a, b in inside}
        candidates.append(((len(words), len(inside), -start), start, end, first_start,
                           inside[-1][1]))
    chosen: list[tuple[int, int]] = []
    for _, start, end, first, last in sorted(candidates, reverse=True):
        if all(end <= a or start >= b for a, b in chosen):
            chosen.append(_snap(text, start, end, first, last))
            if len(chosen) == passages:
                break
    return sorted(chosen)


def _snap(text: str, start: int, end: int, first: int, last: int) -> tuple[int, int]:
    """Move a window's edges to spaces so no word is cut, keeping its matches inside."""
    if start > 0:
        space = text.find(" ", start, first)
        start = space + 1 if space != -1 else start
    if end < len(text):
        space = text.rfind(" ", last, end)
        end = space if space != -1 else end
    return start, end


def _marked(text: str, start: int, end: int, matches: list[tuple[int, int]]) -> str:
    """Escape ``text[start:end]`` and wrap the matches in it in <mark>."""
    out = []
    position = start
    for a, b in matches:
        if a < start or b > end:
            continue
        out.append(html.escape(text[position:a], quote=False))
        out.append(f"<mark>{html.escape(text[a:b], quote=False)}</mark>")
        position = b
    out.append(html.escape(text[position:end], quote=False))
    return "".join(out)
