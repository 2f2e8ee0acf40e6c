"""Near-duplicate articles: a signature of each article's text, and grouping by it.

Wire copies and corrected reruns of a story share almost all of their text. Each
article gets a MinHash signature when it is indexed (one-permutation hashing: the
body's shingles, its runs of three words, are hashed into ``BODY_BINS`` bins and each
bin keeps its smallest hash), so two signatures estimate how much of their shingles two
articles share (their Jaccard similarity) without reading either text again. A flash
(a headline with no body) is compared by its headline's words instead,
which the signature holds in ``HEADLINE_BINS`` more bins; an article with a body too
short to compare is never folded. Results are grouped at search
time: an article joins an earlier result when it is dated within a day of it and their
signatures agree on at least ``MIN_SIMILARITY`` of their bins.

Plain text in, bytes out: nothing here knows the search engine.
"""

from __future__ import annotations

import re
import zlib
from array import array
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from itertools import chain, islice

import numpy as np

BODY_BINS = 32
HEADLINE_BINS = 16
# Bytes of one bin: the low 16 bits of its smallest hash (0 marks an empty bin).
BIN_BYTES = 2
BODY_BYTES = BODY_BINS * BIN_BYTES
SIGNATURE_BYTES = (BODY_BINS + HEADLINE_BINS) * BIN_BYTES
NO_SIGNATURE = bytes(SIGNATURE_BYTES)
# Bodies shorter than this are too short to tell a copy from a look-alike (price
# lines, notes that differ in their last few words): such articles are never folded.
# A flash (a headline with no body at all) is compared by its headline.
MIN_WORDS = 30
# The signature reads this many words at most: bounded work for a huge article, and a
# rerun differs from its original, if at all, in a few words of its first screens.
MAX_WORDS = 3000
# Headline words below this many say too little ("GOLD", "OPEC MEETING").
MIN_HEADLINE_WORDS = 4
# Shared shingles (estimated Jaccard similarity) from which two articles are copies.
# A corrected word in a 60-word story keeps about 0.9, a corrected sentence in a
# 100-word one about 0.8, a rerun with a few sentences added (Reuters' Levon Resources
# assays, 109 and 160 words) about 0.65; distinct stories on one topic share well under
# 0.3.
MIN_SIMILARITY = 0.6
# Copies are dated the same day or the next (a rerun after midnight).
MAX_DAYS_APART = 1
# Candidates are found through bands of bins: two signatures that agree on a band meet.
BAND_BINS = 2

# Articles whose signatures are made together: NumPy's arrays stay small.
SIGNATURE_BATCH = 256

_WORD = re.compile(r"\w+")
_MASK = np.uint64(2**64 - 1)
_ODD_1, _ODD_2, _ODD_3 = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F),
                          np.uint64(0x165667B19E3779F9))


def signature(body: str, headline: str = "") -> bytes:
    """Return the signature of an article: its body's bins, then its headline's.

    Case, punctuation and spacing do not count: "Bonn, March 3" and "BONN March 3" give
    the same shingles. Either part is all zeros when its text is too short.
    """
    return signatures([(body, headline)])[0]


def signatures(texts: Iterable[tuple[str, str]]) -> list[bytes]:
    """Return the signature of each (body, headline), as ``signature`` does one.

    The shingles of many articles are hashed together with NumPy: one article at a
    time, its Python loop was a tenth of the time to index (BENCHMARKS.md, "Session 7:
    indexing").
    """
    found: list[bytes] = []
    texts = iter(texts)
    while batch := list(islice(texts, SIGNATURE_BATCH)):
        bodies, titles = [], []
        for body, headline in batch:
            words = _WORD.findall(body[:MAX_WORDS * 16].lower())[:MAX_WORDS]
            signed = len(words) >= MIN_WORDS
            bodies.append(_codes(words) if signed else [])
            distinct = set(_WORD.findall(headline[:1000].lower())[:100])
            # A short body says too little, and its headline alone would fold look-alikes
            # ("Marathon Route Announced" and "New Route Announced"): such articles
            # never fold.
            titled = len(distinct) >= MIN_HEADLINE_WORDS and (signed or not words)
            titles.append(_codes(sorted(distinct)) if titled else [])
        found += map(bytes.__add__, _min_hashes(bodies, 3, BODY_BINS),
                     _min_hashes(titles, 1, HEADLINE_BINS))
    return found


def _codes(words: list[str]) -> list[int]:
    return list(map(zlib.crc32, map(str.encode, words)))


def _min_hashes(texts: list[list[int]], size: int, bins: int) -> list[bytes]:
    """Hash each text's runs of ``size`` words (given as their words' codes) into
    ``bins`` bins, keeping each bin's smallest; return each text's bins as bytes."""
    counts = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    codes = np.fromiter(chain.from_iterable(texts), dtype=np.uint64, count=int(counts.sum()))
    # The runs that start at each word but the last size - 1 of its text.
    texts_of = np.repeat(np.arange(len(texts)), counts)
    starts = np.flatnonzero(np.arange(len(codes)) < (np.cumsum(counts) - (size - 1))[texts_of])
    # A run's hash from its words' hashes: odd multipliers spread them over 64 bits
    # (NumPy's products wrap around as the mask did), and the shift brings the
    # well-mixed high bits down to the low ones.
    values = codes[starts] * _ODD_1
    if size == 3:
        values += codes[starts + 1] * _ODD_2 + codes[starts + 2] * _ODD_3
    values ^= values >> np.uint64(29)
    cells = texts_of[starts] * bins + (values >> np.uint64(64 - (bins.bit_length() - 1))).astype(
        np.int64)
    smallest = np.full(len(texts) * bins, _MASK, dtype=np.uint64)
    np.minimum.at(smallest, cells, values)
    # The rest of the hash orders the bin; its low 16 bits are kept, and 0 means "empty".
    kept = (smallest & np.uint64(0xFFFF)).astype(np.uint16)
    kept[kept == 0] = 1
    kept[np.bincount(cells, minlength=len(smallest)) == 0] = 0
    rows = kept.reshape(len(texts), bins)
    return [row.tobytes() for row in rows]


def similarity(a: bytes, b: bytes) -> float:
    """Estimate the share of shingles two signatures' texts have in common (0 to 1)."""
    if not any(a) or not any(b) or len(a) != len(b):
        return 0.0
    agree = used = 0
    for x, y in zip(array("H", a), array("H", b), strict=True):
        if x or y:
            used += 1
            agree += x == y
    return agree / used if used else 0.0


def is_copy(a: bytes, b: bytes, day_a: int | None, day_b: int | None) -> bool:
    """Tell whether two articles are copies: similar text, dated within a day.

    Two articles with bodies are compared by their bodies; a flash, by its headline.
    """
    if (day_a is None) != (day_b is None):
        return False
    if day_a is not None and abs(day_a - day_b) > MAX_DAYS_APART:
        return False
    if len(a) != SIGNATURE_BYTES or len(b) != SIGNATURE_BYTES:
        return False
    body_a, body_b = a[:BODY_BYTES], b[:BODY_BYTES]
    if any(body_a) and any(body_b):
        return similarity(body_a, body_b) >= MIN_SIMILARITY
    return similarity(a[BODY_BYTES:], b[BODY_BYTES:]) >= MIN_SIMILARITY


@dataclass
class Group:
    """One result and the copies folded into it, in result order."""

    first: Hashable
    signature: bytes
    day: int | None
    # Its place among the groups: an article that is a copy of two joins the first.
    number: int = 0
    copies: list = field(default_factory=list)


def group_copies(items: Iterable[tuple[Hashable, bytes, int | None]]) -> list[Group]:
    """Fold copies into the first of them, keeping the order of ``items``.

    :param items: (key, signature, day number or None), best result first.
    :returns: one group per result that is not a copy of an earlier one.
    """
    groups: list[Group] = []
    # Band -> what is filed under it (``_filed``): only copies dated within a day meet.
    # Bodies meet bodies; a flash meets stories and flashes by headline, and a story
    # meets flashes by headline (headlines alone, sharing common words, would meet too
    # often). Most bands are a single result's, so a result's bands are looked up and
    # filed with set and dict operations done in C, not one by one.
    bodies: dict[int, Group | dict] = {}
    story_titles: dict[int, Group | dict] = {}
    flash_titles: dict[int, Group | dict] = {}
    for key, sig, day in items:
        home = None
        body_keys = title_keys = ()
        if len(sig) == SIGNATURE_BYTES and any(sig):
            body_keys, title_keys = _bands(sig, 0, BODY_BYTES), _bands(sig, BODY_BYTES, len(sig))
            lookups = ((bodies, body_keys), (flash_titles, title_keys)) if body_keys else (
                (story_titles, title_keys), (flash_titles, title_keys))
            met: dict[int, Group] = {}
            for index, keys in lookups:
                for band in index.keys() & keys if index else ():
                    for group in _dated_near(index[band], day):
                        met[group.number] = group
            # The earliest group it is a copy of: the best result keeps it.
            for number in sorted(met):
                if is_copy(met[number].signature, sig, met[number].day, day):
                    home = met[number]
                    break
        if home is not None:
            home.copies.append(key)
            continue
        group = Group(key, sig, day, len(groups))
        groups.append(group)
        registers = ((bodies, body_keys), (story_titles, title_keys)) if body_keys else (
            (flash_titles, title_keys),)
        for index, keys in registers:
            shared = [(band, index[band]) for band in index.keys() & keys] if index else ()
            index.update(dict.fromkeys(keys, group))
            for band, filed in shared:
                index[band] = _filed_with(filed, group)
    return groups


def _dated_near(filed: Group | dict, day: int | None):
    """Return the groups filed under a band that are dated within a day of ``day``.

    A band holds one group, or, once several share it, a dict of day -> groups.
    """
    if isinstance(filed, Group):
        near = (filed.day is None if day is None else
                filed.day is not None and abs(filed.day - day) <= MAX_DAYS_APART)
        return (filed,) if near else ()
    days = (None,) if day is None else range(day - MAX_DAYS_APART, day + MAX_DAYS_APART + 1)
    return [group for near in days for group in filed.get(near, ())]


def _filed_with(filed: Group | dict, group: Group) -> dict:
    """Add ``group`` to what a band holds, as a dict of day -> groups."""
    if isinstance(filed, Group):
        filed = {filed.day: [filed]}
    filed.setdefault(group.day, []).append(group)
    return filed


# A band's bins read as one unsigned number (the array type of its size).
_BAND_TYPE = {array(code).itemsize: code for code in "QLIH"}[BAND_BINS * BIN_BYTES]


def _bands(sig: bytes, start: int, end: int) -> list[int]:
    """Cut ``sig[start:end]`` into bands of ``BAND_BINS`` bins, leaving out empty ones;
    each band is a number that also tells its place (bands meet only in the same place)."""
    size = BAND_BINS * BIN_BYTES
    values = array(_BAND_TYPE, sig[start:end - (end - start) % size])
    return [value << 8 | number for number, value in enumerate(values, start // size) if value]
