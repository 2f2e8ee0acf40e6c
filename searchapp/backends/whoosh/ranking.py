"""Score and combine matches term at a time, on plain arrays: the maths of ranking.

``searching`` reads postings (article numbers and word frequencies) and article lengths
out of the engine; this module turns them into BM25F scores and combines the scores of
a query's parts. A word's postings are read in one pass, block by block, into a dict of
article number to score, which is far cheaper in Python than a tree of matchers asked
about one article at a time. Nothing here knows which engine the numbers came from.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

# An article number (within one segment of the index) and its score.
Scores = dict[int, float]


class Everything(Mapping):
    """Every article of a segment but the excluded ones, all with the same score.

    What a query of exclusions only (``-word``) matches, without a table as large as
    the archive: the memory is that of the exclusions. ``keep``, when given, says which
    article numbers to keep besides (a date range).
    """

    def __init__(self, count: int, excluded: frozenset[int] = frozenset(),
                 score: float = 0.0, keep: Callable[[int], bool] | None = None):
        self.count, self.excluded, self.score, self.keep = count, excluded, score, keep
        self._length: int | None = None

    def __iter__(self) -> Iterator[int]:
        kept = itertools.filterfalse(self.excluded.__contains__, range(self.count))
        return filter(self.keep, kept) if self.keep else kept

    def __len__(self) -> int:
        if self._length is None:
            if self.keep is None:
                self._length = self.count - sum(1 for d in self.excluded if 0 <= d < self.count)
            else:
                self._length = sum(1 for _ in self)
        return self._length

    def __getitem__(self, docnum: int) -> float:
        if (not 0 <= docnum < self.count or docnum in self.excluded
                or (self.keep and not self.keep(docnum))):
            raise KeyError(docnum)
        return self.score

    def without(self, excluded: Iterable[int]) -> Everything:
        return Everything(self.count, self.excluded | frozenset(excluded), self.score, self.keep)

    def only(self, keep: Callable[[int], bool]) -> Everything:
        both = keep if self.keep is None else (lambda d: self.keep(d) and keep(d))
        return Everything(self.count, self.excluded, self.score, both)


def length_norms(field_weight: float, average_length: float, b: float,
                 lengths: Sequence[float]) -> list[float]:
    """Return BM25F's weighted length normalisation for each stored length code.

    :param lengths: the article length each code stands for (the index stores a
        length as one byte, so there are 256 of them).
    """
    average = average_length or 1.0
    return [field_weight / ((1 - b) + b * length / average) for length in lengths]


def add_frequencies(frequencies: Scores, ids: Iterable[int], counts: Iterable[float],
                    length_codes: bytes | Sequence[int], norms: Sequence[float]) -> None:
    """Add one block of a field's postings to the summed normalised frequencies."""
    get = frequencies.get
    for docnum, count in zip(ids, counts, strict=True):
        frequencies[docnum] = get(docnum, 0.0) + count * norms[length_codes[docnum]]


def saturate(frequencies: Scores, weight: float, k1: float) -> Scores:
    """Turn summed frequencies into BM25 scores; ``weight`` is the idf times any boost."""
    top = weight * (k1 + 1)
    return {docnum: top * f / (f + k1) for docnum, f in frequencies.items()}


def union(parts: Iterable[Scores], boost: float = 1.0, minimum: int = 1) -> Scores:
    """Return the articles that match any part, each scored by its parts' sum.

    Parts are folded in one at a time (a generator of parts is never held at once),
    into a copy of the largest seen so far. With ``minimum`` above 1, only the articles
    that match at least that many parts (Elasticsearch's ``minimum_should_match``).
    """
    if minimum > 1:
        return _boosted(at_least(parts, minimum), boost)
    result: Scores = {}
    for part in parts:
        if len(part) > len(result):
            result, part = dict(part), result
        get = result.get
        for docnum, score in part.items():
            result[docnum] = get(docnum, 0.0) + score
    return _boosted(result, boost)


def at_least(parts: Iterable[Scores], minimum: int) -> Scores:
    """Return the articles that match ``minimum`` parts or more, scored by their parts' sum."""
    return counted_at_least(*count_matches(parts), minimum)


def count_matches(parts: Iterable[Scores]) -> tuple[Scores, dict[int, int]]:
    """Return each article's sum of the parts' scores, and how many parts it matches."""
    counts: dict[int, int] = {}
    totals: Scores = {}
    for part in parts:
        count, total = counts.get, totals.get
        for docnum, score in part.items():
            counts[docnum] = count(docnum, 0) + 1
            totals[docnum] = total(docnum, 0.0) + score
    return totals, counts


def counted_at_least(totals: Scores, counts: dict[int, int], minimum: int,
                     boost: float = 1.0) -> Scores:
    """Return the articles of ``count_matches`` that match ``minimum`` parts or more."""
    if minimum <= 1:
        return _boosted(totals, boost)
    return _boosted({d: score for d, score in totals.items() if counts[d] >= minimum}, boost)


def intersection(parts: Iterable[Scores], boost: float = 1.0) -> Scores:
    """Return the articles that match every part, each scored by its parts' sum."""
    result: Scores | None = None
    for part in parts:
        if result is None:
            result = dict(part)
        else:  # walk the smaller of the two
            small, large = (part, result) if len(part) < len(result) else (result, part)
            get = large.get
            result = {docnum: score + other for docnum, score in small.items()
                      if (other := get(docnum)) is not None}
        if not result:
            return {}
    return _boosted(result or {}, boost)


def with_optional(required: Scores, optional: Scores, boost: float = 1.0) -> Scores:
    """Keep the required matches, adding the optional part's score where it matches too."""
    get = optional.get
    return _boosted({d: s + get(d, 0.0) for d, s in required.items()}, boost)


def without(scores: Scores, excluded: Iterable[int], boost: float = 1.0) -> Scores:
    """Drop the excluded articles."""
    if isinstance(scores, Everything):
        return _boosted(scores.without(excluded), boost)
    result = dict(scores)
    for docnum in excluded:
        result.pop(docnum, None)
    return _boosted(result, boost)


def only(scores: Scores, keep: Callable[[int], bool]) -> Scores:
    """Keep the articles for which ``keep`` is true."""
    if isinstance(scores, Everything):
        return scores.only(keep)
    return {docnum: score for docnum, score in scores.items() if keep(docnum)}


def _boosted(scores: Scores, boost: float) -> Scores:
    if boost == 1.0:
        return scores
    if isinstance(scores, Everything):
        return Everything(scores.count, scores.excluded, scores.score * boost, scores.keep)
    return {docnum: score * boost for docnum, score in scores.items()}


def best(scores: Scores, count: int) -> list[tuple[int, float]]:
    """Return the ``count`` best-scored matches, best first, ties by article number."""
    if isinstance(scores, Everything):  # all tied: the lowest numbers
        return [(docnum, scores.score) for docnum in itertools.islice(scores, count)]
    if len(scores) > count:
        # Everything above the count-th best score, and the lowest numbers tied with it.
        threshold = heapq.nlargest(count, scores.values())[-1]
        above = [item for item in scores.items() if item[1] > threshold]
        tied = heapq.nsmallest(count - len(above),
                               (d for d, score in scores.items() if score == threshold))
        scores = dict(above + [(d, threshold) for d in tied])
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


def first_by(scores: Scores, count: int, key: Callable[[int], int]) -> list[tuple[int, float]]:
    """Return the ``count`` matches with the smallest ``key``, the better score first on ties."""
    return heapq.nsmallest(count, scores.items(),
                           key=lambda item: (key(item[0]), -item[1], item[0]))
