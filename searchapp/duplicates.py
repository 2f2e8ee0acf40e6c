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
# In ASCII text, \w is letters, digits and "_": the words, in lower case, are what is
# left between spaces once upper case is lowered and every other byte is a space.
_LOWER_WORD_BYTES = bytes(
    code if chr(code).isascii() and (chr(code).isalnum() or chr(code) == "_") else 32
    for code in range(256)).lower()
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
            words = _body_words(body[:MAX_WORDS * 16])[:MAX_WORDS]
            signed = len(words) >= MIN_WORDS
            bodies.append(list(map(zlib.crc32, words)) if signed else [])
            distinct = set(_WORD.findall(headline[:1000].lower())[:100])
            # A short body says too little, and its headline alone would fold look-alikes
            # ("Marathon Route Announced" and "New Route Announced"): such articles
            # never fold.
            titled = len(distinct) >= MIN_HEADLINE_WORDS and (signed or not words)
            titles.append(_codes(sorted(distinct)) if titled else [])
        found += map(bytes.__add__, _min_hashes(bodies, 3, BODY_BINS),
                     _min_hashes(titles, 1, HEADLINE_BINS))
    return found


def _body_words(text: str) -> list[bytes]:
    """Return the words of text in lower case, each in UTF-8 (what its code is made of)."""
    if text.isascii():  # most text: the same words, found in its bytes without encoding each
        return text.encode("ascii").translate(_LOWER_WORD_BYTES).split()
    return list(map(str.encode, _WORD.findall(text.lower())))


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
    items = list(items)
    homes = _homes(items)
    if not homes:
        return [Group(key, sig, day, n) for n, (key, sig, day) in enumerate(items)]
    groups: list[Group] = []
    firsts: dict[int, Group] = {}
    for n, (key, sig, day) in enumerate(items):
        if n in homes:
            firsts[homes[n]].copies.append(key)
        else:
            firsts[n] = Group(key, sig, day, len(groups))
            groups.append(firsts[n])
    return groups


def _homes(items: list[tuple[Hashable, bytes, int | None]]) -> dict[int, int]:
    """Map the place in ``items`` of each copy to that of the result it copies.

    Articles meet through the bands of bins they share: bodies meet bodies; a flash meets
    stories and flashes by headline, and a story meets flashes by headline (headlines
    alone, sharing common words, would meet too often). A copy is folded into the
    earliest result it meets that it is a copy of (``is_copy``).
    """
    signed = [n for n, (_, sig, _) in enumerate(items)
              if len(sig) == SIGNATURE_BYTES and sig != NO_SIGNATURE]
    if len(signed) < 2:
        return {}
    # Most results share no band with any other: the bands shared by results dated near
    # each other are found for the whole list at once, and only the results that have one
    # are compared one by one.
    body_bands, headline_bands = _shared_bands(items, signed)
    homes: dict[int, int] = {}
    # Band -> the places of the results filed under it, for each way to meet. The bands
    # are shared near in days, so the few results met far in days are left to
    # ``is_copy``: one look-up a band rather than one for each of three days.
    bodies: dict[int, list[int]] = {}
    story_titles: dict[int, list[int]] = {}
    flash_titles: dict[int, list[int]] = {}
    for n in sorted(body_bands.keys() | headline_bands.keys()):
        _, sig, day = items[n]
        body, title = body_bands.get(n, ()), headline_bands.get(n, ())
        story = not sig.startswith(_NO_BODY)
        lookups = ((bodies, body), (flash_titles, title)) if story else (
            (story_titles, title), (flash_titles, title))
        met: set[int] = set()
        for filed, keys in lookups:
            if filed:
                for band in keys:
                    met.update(filed.get(band, ()))
        # The earliest result it is a copy of keeps it.
        home = next((m for m in sorted(met) if is_copy(items[m][1], sig, items[m][2], day)),
                    None)
        if home is not None:
            homes[n] = home
            continue
        registers = ((bodies, body), (story_titles, title)) if story else (
            (flash_titles, title),)
        for filed, keys in registers:
            for band in keys:
                filed.setdefault(band, []).append(n)
    return homes


_NO_BODY = bytes(BODY_BYTES)
_BAND_TYPE = {np.dtype(code).itemsize: np.dtype(code) for code in ("u8", "u4", "u2")}[
    BAND_BINS * BIN_BYTES]
_BODY_BANDS = BODY_BINS // BAND_BINS
_BANDS = (BODY_BINS + HEADLINE_BINS) // BAND_BINS
# A band as a number: its bins in the low bytes, its place in the signature above them.
_PLACES = np.arange(_BANDS, dtype=np.uint64) << np.uint64(8 * BAND_BINS * BIN_BYTES)
_HEADLINE_START = int(_PLACES[_BODY_BANDS])
_BAND_BITS = int(_PLACES[-1]).bit_length()


def _shared_bands(items: list, signed: list[int]) -> tuple[dict[int, list[int]], ...]:
    """Return the bands of its body, then those of its headline, that each of ``signed``
    (places of results with a signature) shares with another of them dated near it.

    Bands meet only in the same place; empty bands are never shared. Headlines are left
    out when there is no flash: stories meet stories by body.

    Done in NumPy for the whole list at once, sorting the bands by value and day so that
    those shared by results dated near each other are side by side. With a Counter of
    the bands and a look at the days of each shared one, grouping the 100 results of each
    of 11 one-word searches took 76 million instructions; 32 million so (BENCHMARKS.md,
    "Session 8: folding copies").
    """
    rows = np.frombuffer(b"".join([items[n][1] for n in signed]), dtype=_BAND_TYPE)
    rows = rows.reshape(len(signed), _BANDS)
    flash = ~rows[:, :_BODY_BANDS].any(axis=1)
    if not flash.any():  # headlines meet only through a flash
        rows = rows[:, :_BODY_BANDS]
    days = [items[n][2] for n in signed]
    # Undated results sort apart, further than MAX_DAYS_APART below all dated ones.
    undated = min((day for day in days if day is not None), default=0) - 2 * MAX_DAYS_APART - 1
    dated = np.array([undated if day is None else day for day in days], dtype=np.int64)
    by_day = np.argsort(dated, kind="stable")
    rows, dated = rows[by_day], dated[by_day]
    width = rows.shape[1]
    bands = (rows | _PLACES[:width]).ravel()
    held = rows.ravel() != 0
    # Sorted by band, then by place in the list (by day): a band and its place packed in
    # one number sort in place: a fifth fewer instructions for the whole of this function
    # than NumPy's stable argsort of the bands (15.1 million for the 11 searches, 12.0).
    shift = len(bands).bit_length()
    if shift + _BAND_BITS <= 64:
        packed = (bands << np.uint64(shift) | np.arange(len(bands), dtype=np.uint64))[held]
        packed.sort()
        bands, at = packed >> np.uint64(shift), packed & np.uint64((1 << shift) - 1)
    else:
        at = np.flatnonzero(held)
        at = at[np.argsort(bands[at], kind="stable")]
        bands = bands[at]
    row_of = at // width
    days_of = dated[row_of]
    # Each band is near the one before it or after it, if near any.
    near = np.zeros(len(bands) + 1, dtype=bool)
    near[1:-1] = (bands[1:] == bands[:-1]) & (days_of[1:] - days_of[:-1] <= MAX_DAYS_APART)
    near = near[1:] | near[:-1]
    body: dict[int, list[int]] = {}
    title: dict[int, list[int]] = {}
    places = np.asarray(signed)[by_day][row_of[near]].tolist()
    for n, band in zip(places, bands[near].tolist(), strict=True):
        (title if band >= _HEADLINE_START else body).setdefault(n, []).append(band)
    return body, title
