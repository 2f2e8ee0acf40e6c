"""Turn a reader's parsed query into OpenSearch's query DSL.

Only plain, analysed clauses are built (``multi_match``, ``match``, ``match_phrase``,
``prefix``, ``range``), never ``query_string``: nothing a reader types can be read by the
cluster as syntax, so no query makes it answer 400. Each plain word is looked for in
the headline, body and caption at once, in the mapping's weighted combined field, which
scores it with BM25F as the embedded index does (an archive indexed before that field
existed blends the fields' scores instead, ``cross_fields``, until it is rebuilt); each
phrase (or word the analyzer splits, "state-of-the-art") is a phrase in those fields; a
prefix looks for the commonest words it starts, a bounded number of them.
Which words each result must have is ``BuiltQuery.query(required)``: see ``matching``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from searchapp.backends.opensearch.analysis import analyse, fold, terms
from searchapp.backends.opensearch.mapping import COMBINED_FIELD
from searchapp.matching import (
    FIELD_WEIGHTS,
    MIN_PREFIX_CHARS,
    weighed_clauses,
)
from searchapp.querylang import MUST, MUST_NOT, SHOULD, Clause, ParsedQuery

# Without the combined field: how a word's scores in several fields add up (0 takes the
# best field's, 1 adds them all); also phrases' and prefixes'. Tuned on the five test
# collections (BENCHMARKS.md, "OpenSearch ranking").
FIELD_TIE_BREAKER = 0.3


@dataclass
class BuiltQuery:
    """A reader's query as DSL parts, and what to mark in the results."""

    # The optional words and phrases, one DSL clause each: how many of them a result
    # must have is chosen when the query is run.
    words: list[dict] = field(default_factory=list)
    must: list[dict] = field(default_factory=list)
    must_not: list[dict] = field(default_factory=list)
    # Indexed forms to mark (a prefix as "pre*"), and phrases as tuples of indexed forms.
    marks: set[str] = field(default_factory=set)
    headline_marks: set[str] = field(default_factory=set)
    phrases: list[tuple[str, ...]] = field(default_factory=list)
    headline_phrases: list[tuple[str, ...]] = field(default_factory=list)

    @property
    def optional_words(self) -> int:
        """How many words (and phrases) a result may have some of; 0 with required ones,
        which leave the others optional as the reader asked."""
        return 0 if self.must else len(self.words)

    def query(self, required: int = 1, date_from: date | None = None,
              date_to: date | None = None) -> dict:
        """Return the DSL query asking for ``required`` of the optional words."""
        clauses: dict = {}
        if self.must:
            clauses["must"] = list(self.must)
            if self.words:
                clauses["should"] = list(self.words)
        elif self.words:
            clauses["should"] = list(self.words)
            clauses["minimum_should_match"] = max(1, min(required, len(self.words)))
        else:
            clauses["must"] = [{"match_all": {}}]
        if self.must_not:
            clauses["must_not"] = list(self.must_not)
        if date_from or date_to:
            clauses["filter"] = [date_filter(date_from, date_to)]
        return {"bool": clauses}


def date_filter(date_from: date | None, date_to: date | None) -> dict:
    """Return a filter for articles dated within the range (undated ones are outside)."""
    bounds = {"format": "strict_date"}
    if date_from:
        bounds["gte"] = date_from.isoformat()
    if date_to:
        bounds["lte"] = date_to.isoformat()
    if not date_from and not date_to:
        return {"exists": {"field": "date"}}
    return {"range": {"date": bounds}}


def everything_query(date_from: date | None = None, date_to: date | None = None) -> dict:
    """Return the query for every article (within the date range)."""
    return BuiltQuery().query(1, date_from, date_to)


def build_query(parsed: ParsedQuery, combined: bool = True) -> BuiltQuery | None:
    """Turn parsed clauses into DSL parts, or None when nothing is searchable.

    Words count towards the score each; a word typed twice weighs twice. Plain stop
    words ("what", "which", "about") are left out unless they are all there is.

    :param combined: whether the index has the combined field (``mapping.COMBINED_FIELD``)
        that scores a word over the fields with BM25F.
    """
    weights, prefix_terms = weighed_clauses(parsed)
    built = BuiltQuery()
    for (text, kind, field_name, occur), count in weights.items():
        clause = Clause(text, kind, field_name, occur)
        dsl = _clause_query(clause, count, prefix_terms, combined)
        if dsl is None:
            continue
        {SHOULD: built.words, MUST: built.must, MUST_NOT: built.must_not}[occur].append(dsl)
        if occur != MUST_NOT:
            _add_marks(built, clause)
    if not (built.words or built.must or built.must_not):
        return None
    return built


def _fields(clause: Clause) -> list[str]:
    if clause.field:
        return [clause.field]
    return [f"{name}^{weight}" for name, weight in FIELD_WEIGHTS.items()]


def _clause_query(clause: Clause, boost: int, prefix_terms: int,
                  combined: bool = True) -> dict | None:
    """Return one clause's DSL, or None when it holds no word the index keeps."""
    if clause.kind == "prefix" and len(clause.text) >= MIN_PREFIX_CHARS:
        return _prefix_query(clause, boost, prefix_terms)
    words = terms(clause.text)
    if not words:
        return None
    kind = "phrase" if len(words) > 1 else "cross_fields"
    if clause.field and kind != "phrase":
        return {"match": {clause.field: {"query": clause.text, "boost": boost}}}
    if combined and kind != "phrase":
        return {"match": {COMBINED_FIELD: {"query": clause.text, "boost": boost}}}
    return {"multi_match": {"query": clause.text, "type": kind, "fields": _fields(clause),
                            "tie_breaker": FIELD_TIE_BREAKER, "boost": boost}}


def _prefix_query(clause: Clause, boost: int, prefix_terms: int) -> dict:
    """Look for the words that start with the prefix or its stem, as one word.

    The index holds stems, which can be shorter than a whole word typed as a prefix
    ("prices*" is held as "price"), and folds accents ("café*" finds "cafe"). Each
    field looks for its ``prefix_terms`` commonest such words, their frequencies
    blended so a rare word that happens to start so does not outrank the common one meant.
    """
    prefix = fold(clause.text.lower())
    starts = sorted({prefix, analyse(prefix) or prefix})
    rewrite = f"top_terms_blended_freqs_{prefix_terms}"
    parts = []
    for name in _fields(clause):
        name, _, weight = name.partition("^")
        for start in starts:
            parts.append({"prefix": {name: {"value": start, "rewrite": rewrite,
                                            "boost": float(weight or 1.0)}}})
    return {"dis_max": {"queries": parts, "tie_breaker": FIELD_TIE_BREAKER, "boost": boost}}


def _add_marks(built: BuiltQuery, clause: Clause) -> None:
    """Note what a clause marks in the body and in the headline."""
    in_body = clause.field in (None, "body")
    in_headline = clause.field in (None, "headline")
    if clause.kind == "prefix" and len(clause.text) >= MIN_PREFIX_CHARS:
        words = {f"{fold(clause.text.lower())}*"}
        phrases = []
    else:
        found = terms(clause.text)
        words = set(found) if len(found) == 1 else set()
        phrases = [tuple(found)] if len(found) > 1 else []
    if in_body:
        built.marks |= words
        built.phrases += [p for p in phrases if p not in built.phrases]
    if in_headline:
        built.headline_marks |= words
        built.headline_phrases += [p for p in phrases if p not in built.headline_phrases]
