"""Score and combine matches term at a time, on plain arrays: the maths of ranking.

``searching`` reads postings (article numbers and word frequencies) and article lengths
out of the engine; this module turns them into BM25F scores and combines the scores of
a query's parts. A word's postings are read in one pass, block by block, into a dict of
article number to score, which is far cheaper in Python than a tree of matchers asked
about one article at a time. Nothing here knows which engine the numbers came from.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Sequence

# An article number (within one segment of the index) and its score.
Scores = dict[int, float]


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


def union(parts: Sequence[Scores], boost: float = 1.0, minimum: int = 1) -> Scores:
    """Return the articles that match any part, each scored by its parts' sum.

    With ``minimum`` above 1, only the articles that match at least that many parts
    (Elasticsearch's ``minimum_should_match``).
    """
    if not parts:
        return {}
    if minimum > 1:
        return _boosted(at_least(parts, minimum), boost)
    largest = max(range(len(parts)), key=lambda i: len(parts[i]))
    result = dict(parts[largest])
    for number, part in enumerate(parts):
        if number != largest:
            get = result.get
            for docnum, score in part.items():
                result[docnum] = get(docnum, 0.0) + score
    return _boosted(result, boost)


def at_least(parts: Sequence[Scores], minimum: int) -> Scores:
    """Return the articles that match ``minimum`` parts or more, scored by their parts' sum."""
    counts: dict[int, int] = {}
    totals: Scores = {}
    for part in parts:
        count, total = counts.get, totals.get
        for docnum, score in part.items():
            counts[docnum] = count(docnum, 0) + 1
            totals[docnum] = total(docnum, 0.0) + score
    return {docnum: score for docnum, score in totals.items() if counts[docnum] >= minimum}


def intersection(parts: Sequence[Scores], boost: float = 1.0) -> Scores:
    """Return the articles that match every part, each scored by its parts' sum."""
    if not parts:
        return {}
    smallest = min(parts, key=len)
    others = [part for part in parts if part is not smallest]
    result = {}
    for docnum, score in smallest.items():
        total = score
        for part in others:
            other = part.get(docnum)
            if other is None:
                break
            total += other
        else:
            result[docnum] = total
    return _boosted(result, boost)


def with_optional(required: Scores, optional: Scores, boost: float = 1.0) -> Scores:
    """Keep the required matches, adding the optional part's score where it matches too."""
    get = optional.get
    return _boosted({d: s + get(d, 0.0) for d, s in required.items()}, boost)


def without(scores: Scores, excluded: Iterable[int], boost: float = 1.0) -> Scores:
    """Drop the excluded articles."""
    result = dict(scores)
    for docnum in excluded:
        result.pop(docnum, None)
    return _boosted(result, boost)


def _boosted(scores: Scores, boost: float) -> Scores:
    if boost == 1.0:
        return scores
    return {docnum: score * boost for docnum, score in scores.items()}


def best(scores: Scores, count: int) -> list[tuple[int, float]]:
    """Return the ``count`` best-scored matches, best first, ties by article number."""
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
