"""The query language readers type, parsed into plain clauses.

Natural language first: every word counts, and nothing a reader types is a syntax
error. On top of that: "quoted phrases", ``-word`` and ``NOT word`` to exclude,
``+word`` and ``a AND b`` to require, ``OR`` (the default anyway), ``word*`` for a
prefix, ``headline:``/``body:``/``caption:``/``author:`` to pick a field, and
``date:2022``, ``date:2022-09`` or ``date:2022-01-01..2022-06-30`` for dates.

Upper-case AND / OR / NOT are operators only when the query also has lower-case
letters, so a query typed in capitals is read as words.

A query keeps its first 128 words, counting every word of a quoted phrase: a phrase
that runs past the 128th word is cut there, and the rest of the query is left out
(``ParsedQuery.truncated`` says so).
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date

MAX_QUERY_CHARS = 2000
# A long question (a library user's query, a pasted paragraph) keeps its first 128
# words, those of phrases included: more found nothing better on the test collections
# and only costs time. Prefixes, which each expand to many words, are capped lower.
MAX_WORDS = 128
MAX_CLAUSES = MAX_WORDS
MAX_PREFIX_CLAUSES = 64
FIELD_ALIASES = {
    "headline": "headline", "title": "headline", "body": "body", "text": "body",
    "caption": "caption", "author": "author", "by": "author",
}
SHOULD, MUST, MUST_NOT = "should", "must", "not"
OPERATORS = {"AND", "OR", "NOT"}

# A token is a quoted phrase (closed or running to the end), or a run of non-space.
TOKEN_RE = re.compile(
    r'(?P<sign>[+-]?)(?:(?P<field>[A-Za-z]+):)?(?:"(?P<phrase>[^"]*)"?|(?P<word>[^\s"]+))')
DATE_VALUE_RE = re.compile(r"^(\d{4})(?:-(\d{1,2}))?(?:-(\d{1,2}))?$")
# Everything but letters, digits, marks and a few joiners separates words.
WORD_CHARS_RE = re.compile(r"[^\w'’.&-]+")


class QueryError(ValueError):
    """A query that cannot be run; the message tells the reader how to fix it."""


@dataclass
class Clause:
    """One thing to look for: a word, a phrase or a prefix, in a field or everywhere."""

    text: str
    kind: str = "word"  # "word", "phrase" or "prefix"
    field: str | None = None
    occur: str = SHOULD


@dataclass
class ParsedQuery:
    """A query as clauses plus the date range it asks for."""

    clauses: list[Clause] = field(default_factory=list)
    date_from: date | None = None
    date_to: date | None = None
    # True when words past the first MAX_WORDS were left out.
    truncated: bool = False
    # True when the reader typed OR: an article with any of the words will do.
    any_word: bool = False

    @property
    def words(self) -> list[str]:
        """The words and phrase texts that are looked for (not the excluded ones)."""
        return [c.text for c in self.clauses if c.occur != MUST_NOT]


def clean_query(text: str) -> str:
    """Drop control characters and collapse whitespace, keeping every printable letter."""
    text = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in text
    )
    return " ".join(text.split())


def parse_query(text: str) -> ParsedQuery:
    """Parse what a reader typed into clauses.

    :raises QueryError: for an over-long query or a date that cannot be read.
    """
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(f"The query is too long: at most {MAX_QUERY_CHARS:,} characters.")
    text = clean_query(text)
    operators_allowed = any(ch.islower() for ch in text)
    parsed = ParsedQuery()
    pending = SHOULD  # set by AND / NOT for the next clause
    previous: Clause | None = None
    prefixes = 0
    words_left = MAX_WORDS
    for match in TOKEN_RE.finditer(text):
        if words_left <= 0:
            parsed.truncated = True
            break
        word, phrase, sign = match["word"], match["phrase"], match["sign"]
        field_name = (match["field"] or "").lower()
        if operators_allowed and word in OPERATORS and not sign and not field_name:
            if word == "AND" and previous is not None and previous.occur == SHOULD:
                previous.occur = MUST
                pending = MUST
            elif word == "NOT":
                pending = MUST_NOT
            elif word == "OR":
                parsed.any_word = True
            continue
        if field_name == "date":
            _apply_date(parsed, phrase if phrase is not None else word)
            continue
        field = FIELD_ALIASES.get(field_name)
        if field_name and field is None:
            # "foo:bar" is not a field we know: read it as the words it contains.
            word = f"{field_name} {word or phrase or ''}"
            phrase = None
        occur = {"-": MUST_NOT, "+": MUST}.get(sign, pending)
        pending = SHOULD
        for clause in _clauses(word, phrase, field, occur):
            if clause.kind == "prefix":
                if prefixes >= MAX_PREFIX_CLAUSES:
                    continue
                prefixes += 1
            words = clause.text.split(" ")
            if len(words) > words_left:
                parsed.truncated = True
                if words_left == 0:
                    break
                # A phrase that runs past the last word kept is cut there.
                clause = Clause(" ".join(words[:words_left]),
                                "phrase" if words_left > 1 else "word", field, occur)
            words_left -= min(len(words), words_left)
            parsed.clauses.append(clause)
            previous = clause
    return parsed


def _clauses(word: str | None, phrase: str | None, field: str | None, occur: str):
    if phrase is not None:
        words = WORD_CHARS_RE.sub(" ", phrase).split()
        if len(words) > 1:
            yield Clause(" ".join(words), "phrase", field, occur)
        elif words:
            yield Clause(words[0], "word", field, occur)
        return
    parts = [p for p in (p.strip("'’.&-") for p in WORD_CHARS_RE.sub(" ", word).split()) if p]
    # "armen*" searches for a prefix; a "*" anywhere else is just punctuation.
    prefix = word.endswith("*") and not word.startswith(("*", "?")) and bool(parts)
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        yield Clause(part, "prefix" if prefix and last else "word", field, occur)


def _apply_date(parsed: ParsedQuery, value: str) -> None:
    start_text, dots, end_text = value.partition("..")
    if not dots:
        start, end = _date_span(value)
    else:
        start = _date_span(start_text)[0] if start_text else None
        end = _date_span(end_text)[1] if end_text else None
    parsed.date_from, parsed.date_to = start, end


def _date_span(value: str) -> tuple[date, date]:
    """Return the first and last day that ``2022``, ``2022-09`` or ``2022-09-14`` covers."""
    match = DATE_VALUE_RE.match(value.strip())
    try:
        if not match:
            raise ValueError
        year, month, day = (int(g) if g else None for g in match.groups())
        if day:
            return date(year, month, day), date(year, month, day)
        if month:
            return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])
        return date(year, 1, 1), date(year, 12, 31)
    except ValueError:
        raise QueryError(
            f"Cannot read the date {value!r}: write date:2022, date:2022-09, "
            "date:2022-09-14 or a range such as date:2022-01-01..2022-06-30."
        ) from None
