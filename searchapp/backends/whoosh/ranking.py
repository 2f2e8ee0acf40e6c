"""Score and combine matches term at a time, on arrays: the maths of ranking.

``engine`` reads postings (article numbers and word frequencies) and article lengths out
of the index; this module turns them into BM25F scores and combines the scores of a
query's parts. The matches of a part are two numpy arrays, the article numbers in order
and their scores (``Matches``): a common word's tens of thousands of postings are scored,
added up and ranked in a few vectorised steps, where a dict cost several Python
operations a posting (BENCHMARKS.md, "Session 7: matching"). Every sum is made in the
order the parts come in, as adding them one by one would, so the scores are the same to
the last bit whichever way they are combined. Nothing here knows which engine the numbers
came from.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np


class Matches(Mapping):
    """Articles of one segment, by article number, and their scores.

    ``ids`` are sorted and distinct (int64); ``scores`` are float64, one each. As a
    mapping it gives plain ints and floats, for the code that lists a page of results.
    """

    def __init__(self, ids: np.ndarray, scores: np.ndarray):
        self.ids, self.scores = ids, scores

    @classmethod
    def of(cls, scores: Mapping[int, float]) -> Matches:
        """Return ``scores`` (a dict or Matches) as Matches."""
        if isinstance(scores, Matches):
            return scores
        ids = np.fromiter(scores.keys(), dtype=np.int64, count=len(scores))
        values = np.fromiter(scores.values(), dtype=np.float64, count=len(scores))
        order = np.argsort(ids, kind="stable")
        return cls(ids[order], values[order])

    def __len__(self) -> int:
        return len(self.ids)

    def __iter__(self) -> Iterator[int]:
        return iter(self.ids.tolist())

    def __contains__(self, docnum) -> bool:
        return self._find(docnum) is not None

    def __getitem__(self, docnum: int) -> float:
        at = self._find(docnum)
        if at is None:
            raise KeyError(docnum)
        return float(self.scores[at])

    def _find(self, docnum) -> int | None:
        if not isinstance(docnum, (int, np.integer)):
            return None
        at = int(np.searchsorted(self.ids, docnum))
        return at if at < len(self.ids) and self.ids[at] == docnum else None

    def items(self):
        return zip(self.ids.tolist(), self.scores.tolist(), strict=True)

    def values(self):
        return self.scores.tolist()

    def where(self, keep: np.ndarray) -> Matches:
        """Return the matches for which the boolean array ``keep`` is true."""
        return Matches(self.ids[keep], self.scores[keep])


NO_MATCHES = Matches(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))
# Scores of the articles a part matches: Matches, a dict (Whoosh's own matchers), or
# Everything.
Scores = Mapping[int, float]


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
                 lengths: Sequence[float]) -> np.ndarray:
    """Return BM25F's weighted length normalisation for each stored length code.

    :param lengths: the article length each code stands for (the index stores a
        length as one byte, so there are 256 of them).
    """
    average = average_length or 1.0
    return np.array([field_weight / ((1 - b) + b * length / average) for length in lengths])


def field_frequencies(ids: np.ndarray, counts: np.ndarray, length_codes: np.ndarray,
                      norms: np.ndarray) -> Matches:
    """Return one field's postings as normalised frequencies (each count times the
    field's weighted length normalisation of the article's length)."""
    return Matches(ids, counts * norms[length_codes[ids]])


def saturate(frequencies: Matches, weight: float, k1: float) -> Matches:
    """Turn summed frequencies into BM25 scores; ``weight`` is the idf times any boost."""
    top = weight * (k1 + 1)
    f = frequencies.scores
    return Matches(frequencies.ids, top * f / (f + k1))


def union(parts: Iterable[Scores], boost: float = 1.0, minimum: int = 1) -> Scores:
    """Return the articles that match any part, each scored by its parts' sum.

    With ``minimum`` above 1, only the articles that match at least that many parts
    (Elasticsearch's ``minimum_should_match``).
    """
    if minimum > 1:
        return _boosted(at_least(parts, minimum), boost)
    return _boosted(count_matches(parts)[0], boost)


def at_least(parts: Iterable[Scores], minimum: int) -> Matches:
    """Return the articles that match ``minimum`` parts or more, scored by their parts' sum."""
    return counted_at_least(*count_matches(parts), minimum)


def count_matches(parts: Iterable[Scores]) -> tuple[Matches, np.ndarray]:
    """Return each article's sum of the parts' scores, and how many parts it matches.

    The sums are made part by part, in the order of ``parts`` (``np.bincount`` adds its
    weights in the order given): the same floats as adding the parts one at a time.
    """
    held = [Matches.of(part) for part in parts]
    held = [part for part in held if len(part)]
    if not held:
        return NO_MATCHES, np.zeros(0, dtype=np.int64)
    if len(held) == 1:
        return held[0], np.ones(len(held[0]), dtype=np.int64)
    ids = np.concatenate([part.ids for part in held])
    # A stable sort (Timsort) merges the parts' sorted runs: 10 times faster than
    # np.unique's sort on 100,000 postings, and it keeps each article's parts in order.
    order = np.argsort(ids, kind="stable")
    ranked = ids[order]
    first = np.empty(len(ranked), dtype=bool)
    first[0] = True
    np.not_equal(ranked[1:], ranked[:-1], out=first[1:])
    found = ranked[first]
    where = np.empty(len(ranked), dtype=np.int64)  # each posting's place in ``found``
    where[order] = np.cumsum(first) - 1
    scores = np.concatenate([part.scores for part in held])
    totals = np.bincount(where, weights=scores, minlength=len(found))
    return Matches(found, totals), np.bincount(where, minlength=len(found))


def counted_at_least(totals: Matches, counts: np.ndarray, minimum: int,
                     boost: float = 1.0) -> Matches:
    """Return the articles of ``count_matches`` that match ``minimum`` parts or more."""
    if minimum <= 1:
        return _boosted(totals, boost)
    return _boosted(totals.where(counts >= minimum), boost)


def intersection(parts: Iterable[Scores], boost: float = 1.0) -> Scores:
    """Return the articles that match every part, each scored by its parts' sum."""
    result: Matches | None = None
    for part in parts:
        part = Matches.of(part)
        if result is None:
            result = part
        else:
            ids, mine, theirs = np.intersect1d(result.ids, part.ids, assume_unique=True,
                                               return_indices=True)
            result = Matches(ids, result.scores[mine] + part.scores[theirs])
        if not len(result):
            return NO_MATCHES
    return _boosted(result if result is not None else NO_MATCHES, boost)


def with_optional(required: Scores, optional: Scores, boost: float = 1.0) -> Scores:
    """Keep the required matches, adding the optional part's score where it matches too."""
    required, optional = Matches.of(required), Matches.of(optional)
    _, mine, theirs = np.intersect1d(required.ids, optional.ids, assume_unique=True,
                                     return_indices=True)
    scores = required.scores.copy()
    scores[mine] += optional.scores[theirs]
    return _boosted(Matches(required.ids, scores), boost)


def without(scores: Scores, excluded: Iterable[int], boost: float = 1.0) -> Scores:
    """Drop the excluded articles."""
    if isinstance(scores, Everything):
        return _boosted(scores.without(excluded), boost)
    scores = Matches.of(scores)
    if isinstance(excluded, Matches):
        dropped = excluded.ids
    else:
        dropped = np.fromiter(excluded, dtype=np.int64)
    return _boosted(scores.where(~np.isin(scores.ids, dropped)), boost)


def only(scores: Scores, keep: Callable[[int], bool]) -> Scores:
    """Keep the articles for which ``keep`` is true."""
    if isinstance(scores, Everything):
        return scores.only(keep)
    scores = Matches.of(scores)
    return scores.where(np.fromiter(map(keep, scores), dtype=bool, count=len(scores)))


def within(scores: Scores, keys: np.ndarray, low: int, high: int) -> Scores:
    """Keep the articles whose key (``keys[article]``, a date) is from ``low`` to ``high``."""
    if isinstance(scores, Everything):
        return scores.only(lambda d: low <= keys[d] <= high)
    scores = Matches.of(scores)
    found = keys[scores.ids]
    return scores.where((low <= found) & (found <= high))


def _boosted(scores: Scores, boost: float) -> Scores:
    if boost == 1.0:
        return scores
    if isinstance(scores, Everything):
        return Everything(scores.count, scores.excluded, scores.score * boost, scores.keep)
    scores = Matches.of(scores)
    return Matches(scores.ids, scores.scores * boost)


def best(scores: Scores, count: int) -> list[tuple[int, float]]:
    """Return the ``count`` best-scored matches, best first, ties by article number."""
    found = best_matches(scores, count)
    order = np.lexsort((found.ids, -found.scores))
    return list(zip(found.ids[order].tolist(), found.scores[order].tolist(), strict=True))


def best_matches(scores: Scores, count: int) -> Matches:
    """Return the ``count`` best-scored matches (ties by article number), in no order."""
    if isinstance(scores, Everything):  # all tied: the lowest numbers
        ids = np.fromiter(itertools.islice(scores, max(count, 0)), dtype=np.int64)
        return Matches(ids, np.full(len(ids), scores.score, dtype=np.float64))
    scores = Matches.of(scores)
    ids, values = scores.ids, scores.scores
    if len(ids) > count:
        if count <= 0:
            return NO_MATCHES
        # Everything above the count-th best score, and the lowest numbers tied with it
        # (the numbers are in order).
        threshold = np.partition(values, len(values) - count)[len(values) - count]
        above = values > threshold
        tied = np.flatnonzero(values == threshold)[:count - int(above.sum())]
        above[tied] = True
        ids, values = ids[above], values[above]
    return Matches(ids, values)


def first_by(scores: Scores, count: int, key: Callable[[int], int]) -> list[tuple[int, float]]:
    """Return the ``count`` matches with the smallest ``key``, the better score first on ties."""
    return heapq.nsmallest(count, scores.items(),
                           key=lambda item: (key(item[0]), -item[1], item[0]))


def first_by_keys(scores: Scores, count: int, keys: np.ndarray) -> list[tuple[int, float]]:
    """``first_by`` with each article's key in an array (``keys[article]``, unsigned)."""
    if isinstance(scores, Everything):
        return first_by(scores, count, keys.__getitem__)
    scores = Matches.of(scores)
    ids, values = scores.ids, scores.scores
    found = keys[ids]
    if len(ids) > count:
        if count <= 0:
            return []
        # Only the matches whose key is at most the count-th smallest can be among them.
        threshold = np.partition(found, count - 1)[count - 1]
        near = found <= threshold
        ids, values, found = ids[near], values[near], found[near]
    order = np.lexsort((ids, -values, found))[:count]
    return list(zip(ids[order].tolist(), values[order].tolist(), strict=True))
