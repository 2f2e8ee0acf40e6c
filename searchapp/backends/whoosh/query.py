"""Turn a reader's parsed query into the engine's query tree.

Each plain word becomes a ``WordQuery`` over the searchable fields, each quoted phrase (or
hyphenated word) a ``PhraseQuery``; both are scored by ``engine`` with BM25F. A prefix is a
``WordQuery`` of the words it starts. Required words are AND-ed, excluded ones
subtracted.
"""

from __future__ import annotations

import heapq

from whoosh import query as wq
from whoosh.support.charset import accent_map

from searchapp.matching import (
    FIELD_WEIGHTS,
    MAX_PREFIX_TERMS,
    MIN_PREFIX_CHARS,
    weighed_clauses,
)
from searchapp.querylang import MUST, MUST_NOT, SHOULD, Clause, ParsedQuery

# A prefix looks at this many index words for its MAX_PREFIX_TERMS commonest (fewer when
# a query's prefixes share out MAX_QUERY_PREFIX_TERMS).
MAX_PREFIX_SCAN = 2000


class WordQuery(wq.CompoundQuery):
    """A word looked for in several fields and scored once, with BM25F.

    Each field's frequency is weighted and length-normalised, the sum is saturated
    once: a word in the headline and the body counts more than in one of them, but not
    twice as much, and a common word cannot outscore a rare one by filling fields.
    Its subqueries are one ``Term`` a field, boosted by the field's weight; the scoring
    is ``_word_scores``.
    """

    JOINT = " WORD "

    def normalize(self):
        return self

    def matcher(self, searcher, context=None):
        raise TypeError("a WordQuery is scored term at a time, by searching._word_scores")


class PhraseQuery(wq.CompoundQuery):
    """Words in a row, looked for in several fields and scored once, like a word.

    Its subqueries are one ``Phrase`` a field, boosted by the field's weight;
    ``offsets`` are the words' places relative to the first, as the analyzer numbers
    them (it closes the gaps stop words leave, in the query as in the index). The
    scoring is ``_phrase_scores``.
    """

    JOINT = " PHRASE "

    def __init__(self, subqueries, offsets: tuple[int, ...], boost: float = 1.0):
        super().__init__(subqueries, boost=boost)
        self.offsets = offsets

    def normalize(self):
        return self

    def matcher(self, searcher, context=None):
        raise TypeError("a PhraseQuery is scored by searching._phrase_scores")


def build_query(parsed: ParsedQuery, reader) -> wq.Query | None:
    """Turn parsed clauses into an engine query, or None when nothing is searchable.

    Words are OR-ed so that every word counts towards the score; required clauses
    are AND-ed; excluded ones are subtracted. A word typed twice weighs twice. Plain
    stop words ("what", "which", "about") are left out unless they are all there is.
    """
    weights, prefix_terms = weighed_clauses(parsed)
    groups: dict[str, list[wq.Query]] = {SHOULD: [], MUST: [], MUST_NOT: []}
    for (text, kind, field_name, occur), count in weights.items():
        clause_query = _clause_query(Clause(text, kind, field_name, occur), reader, prefix_terms)
        if clause_query is not None:
            clause_query.boost *= count
            groups[occur].append(clause_query)
    should, must, must_not = groups[SHOULD], groups[MUST], groups[MUST_NOT]
    if must and should:
        positive = wq.AndMaybe(wq.And(must), wq.Or(should))
    elif must:
        positive = wq.And(must)
    elif should:
        positive = wq.Or(should)
    elif must_not:
        positive = wq.Every()
    else:
        return None
    if not must_not:
        return positive
    if isinstance(positive, wq.Or):
        # Whoosh 2.7.4's preloaded Or (its choice under 5,000 articles) understates its
        # best score, and an AndNot around it then drops the best matches from the page.
        positive = wq.DefaultOr(positive.subqueries)
    return wq.AndNot(positive, wq.Or(must_not))


def _clause_query(clause: Clause, reader, prefix_terms: int = MAX_PREFIX_TERMS
                  ) -> wq.Query | None:
    fields = [clause.field] if clause.field else list(FIELD_WEIGHTS)
    parts: list[wq.Query] = []
    words = False
    offsets: tuple[int, ...] = ()
    for name in fields:
        weight = 1.0 if clause.field else FIELD_WEIGHTS[name]
        if clause.kind == "prefix" and len(clause.text) >= MIN_PREFIX_CHARS:
            # As the index holds words: lower case, accents folded ("café*" finds "cafe").
            # Its words are scored as one word (BM25F over all their occurrences, the
            # commonest one's idf), so a rare word that happens to start so ("bradt" for
            # "bra") does not outrank the common one meant ("brazil").
            prefix = clause.text.lower().translate(accent_map)
            parts += [wq.Term(name, word, boost=weight)
                      for word in _prefix_words(reader, name, prefix, prefix_terms)]
            words = True
            continue
        # The field's own analyzer: an index built with an older stemmer still matches.
        analyzer = reader.schema[name].analyzer
        tokens = [(token.text, token.pos) for token in analyzer(clause.text, positions=True)]
        if len(tokens) == 1 and clause.kind == "word":
            parts.append(wq.Term(name, tokens[0][0], boost=weight))
            words = True
        elif len(tokens) == 1:
            parts.append(wq.Term(name, tokens[0][0], boost=weight))
        elif tokens:
            parts.append(wq.Phrase(name, [text for text, _ in tokens], boost=weight))
            offsets = tuple(position - tokens[0][1] for _, position in tokens)
    if not parts:
        return None
    if words:
        return WordQuery(parts)
    if isinstance(parts[0], wq.Phrase):
        return PhraseQuery(parts, offsets)
    return parts[0] if len(parts) == 1 else wq.Or(parts)


def _prefix_words(reader, field_name: str, prefix: str, limit: int = MAX_PREFIX_TERMS
                  ) -> list[str]:
    """Return the field's ``limit`` commonest index words that start with ``prefix`` or its stem.

    The index holds stems, which can be shorter than a whole word typed as a prefix
    ("prices*" is stored as "price", "inflation" as "inflat").
    """
    starts = {prefix}
    starts.update(token.text for token in reader.schema[field_name].analyzer(prefix))
    found: dict[str, int] = {}
    scan = MAX_PREFIX_SCAN * limit // MAX_PREFIX_TERMS or 1
    for start in sorted(starts):
        for number, term in enumerate(reader.expand_prefix(field_name, start)):
            if number >= scan:
                break
            word = term.decode("utf-8") if isinstance(term, bytes) else term
            found[word] = reader.doc_frequency(field_name, word)
    return heapq.nlargest(limit, found, key=lambda word: (found[word], word))
