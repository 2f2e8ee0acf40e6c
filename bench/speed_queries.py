"""The query set of the speed benchmark: hand-written Reuters queries plus generated ones.

The generated queries come from the Reuters-21578 corpus itself, with a fixed seed, so the
set is the same on every run: single words by document-frequency band (rare, medium, very
common), 2-4 words and 2-word phrases taken from real headlines, and the same kinds again
with a date filter, sorted by date and on page 5. Every query carries the kind it stands
for, so the benchmark can report latency per kind.
"""

from __future__ import annotations

import gzip
import json
import random
import re
from collections import Counter
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

SEED = 20240501
WORD_RE = re.compile(r"[a-z]+")
MIN_WORD_CHARS = 3
# Words too plain to be someone's query on their own (the generator skips them).
STOP_WORDS = frozenset("""
the and for that with from this have has had was were are its their his her they them
not but will would said says say year years pct mln dlrs who which what when been also
into than over after about under new one two three inc corp ltd reuter reuters
""".split())
# Document-frequency bands over the 21,578 stories: (low, high) inclusive.
RARE_BAND = (2, 8)
MEDIUM_BAND = (50, 500)
COMMON_BAND = (2500, 10**9)
# How many generated queries of each kind.
GENERATED = {"rare word": 30, "medium word": 30, "common word": 20, "several words": 40,
             "phrase": 30, "date filter": 20, "sorted by date": 16, "page 5": 16}
REUTERS_SPAN = (date(1987, 2, 26), date(1987, 10, 20))


@dataclass(frozen=True)
class Query:
    """One search as a reader sends it, labelled with the kind it stands for."""

    kind: str
    text: str
    page: int = 1
    sort: str = "relevance"
    date_from: date | None = None
    date_to: date | None = None


def _d(text: str) -> date:
    return date.fromisoformat(text)


# Written by hand, as readers of a 1987 wire archive would type them.
HAND_WRITTEN = [
    Query("several words", "cocoa ivory coast"),
    Query("phrase", '"money supply"'),
    Query("page 5", "oil", page=5),
    Query("sorted by date", "grain", sort="newest"),
    Query("date filter", "coffee", date_from=_d("1987-03-01"), date_to=_d("1987-04-30")),
    Query("one word", "cocoa"),
    Query("one word", "zinc"),
    Query("one word", "opec"),
    Query("one word", "bundesbank"),
    Query("one word", "jaguar"),
    Query("one word", "cruzado"),
    Query("several words", "zinc smelter"),
    Query("several words", "ecuador earthquake"),
    Query("several words", "brazil debt moratorium"),
    Query("several words", "japan trade surplus"),
    Query("several words", "us soybean exports"),
    Query("several words", "interest rates cut"),
    Query("phrase", '"trade deficit"'),
    Query("phrase", '"interest rates"'),
    Query("phrase", '"crude oil"'),
    Query("phrase", '"federal reserve"'),
    Query("phrase", '"stock split"'),
    Query("phrase", '"net loss"'),
    Query("date filter", "bank", date_from=_d("1987-03-01"), date_to=_d("1987-03-31")),
    Query("date filter", "takeover bid", date_from=_d("1987-04-01"), date_to=_d("1987-06-30")),
    Query("date filter", '"money supply"', date_from=_d("1987-10-01")),
    Query("inline date", "coffee date:1987-03"),
    Query("inline date", "wheat date:1987-04"),
    Query("inline date", "dollar yen date:1987-06"),
    Query("sorted by date", "wheat", sort="oldest"),
    Query("sorted by date", "gold", sort="newest"),
    Query("sorted by date", "merger", sort="newest"),
    Query("page 5", "dollar", page=5),
    Query("page 5", "shares", page=5),
    Query("page 5", "trade", page=5, sort="newest"),
    Query("common word", "market"),
    Query("common word", "company"),
]


def read_records(path: Path, limit: int | None = None):
    """Yield the JSON records of a (gzipped) JSON Lines corpus, at most ``limit`` of them."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle):
            if limit is not None and number >= limit:
                return
            if line.strip():
                yield json.loads(line)


def words_of(text: str | None) -> list[str]:
    """Return the lower-case alphabetic words of ``text`` worth searching for."""
    return [w for w in WORD_RE.findall((text or "").lower())
            if len(w) >= MIN_WORD_CHARS and w not in STOP_WORDS]


def document_frequencies(records: list[dict]) -> Counter:
    """Count in how many stories (headline or body) each word occurs."""
    frequencies: Counter = Counter()
    for record in records:
        frequencies.update(set(words_of(record["headline"]) + words_of(record["body"])))
    return frequencies


def _band(frequencies: Counter, band: tuple[int, int]) -> list[str]:
    return sorted(w for w, n in frequencies.items() if band[0] <= n <= band[1])


def _headline_words(records: list[dict]) -> list[list[str]]:
    return [ws for r in records if len(ws := words_of(r["headline"])) >= 2]


def generate(records: list[dict], seed: int = SEED) -> list[Query]:
    """Generate the corpus-based queries, deterministically for one ``seed``."""
    rng = random.Random(seed)
    frequencies = document_frequencies(records)
    rare, medium = _band(frequencies, RARE_BAND), _band(frequencies, MEDIUM_BAND)
    common = _band(frequencies, COMMON_BAND)
    headlines = _headline_words(records)
    pairs = sorted({(a, b) for ws in headlines for a, b in zip(ws, ws[1:], strict=False)
                    if frequencies[a] > 2 and frequencies[b] > 2})
    queries = [Query("rare word", w) for w in rng.sample(rare, GENERATED["rare word"])]
    queries += [Query("medium word", w) for w in rng.sample(medium, GENERATED["medium word"])]
    queries += [Query("common word", w)
                for w in rng.sample(common, min(len(common), GENERATED["common word"]))]
    for _ in range(GENERATED["several words"]):
        words = rng.choice(headlines)
        queries.append(Query("several words", " ".join(rng.sample(words, min(len(words),
                                                                    rng.randint(2, 4))))))
    queries += [Query("phrase", f'"{a} {b}"') for a, b in rng.sample(pairs, GENERATED["phrase"])]
    # Windows start on a day that has stories: the collection has no May or July-September.
    days = sorted({r["date"] for r in records if r.get("date")})
    for _ in range(GENERATED["date filter"]):
        start = date.fromisoformat(rng.choice(days))
        queries.append(Query("date filter", rng.choice(medium + common), date_from=start,
                             date_to=start + timedelta(days=rng.choice((7, 30)))))
    for i in range(GENERATED["sorted by date"]):
        queries.append(Query("sorted by date", rng.choice(medium + common),
                             sort=("newest", "oldest")[i % 2]))
    page_words = rng.sample(common, min(len(common), GENERATED["page 5"]))
    queries += [Query("page 5", w, page=5) for w in page_words]
    return queries


def build_queries(reuters_path: Path, seed: int = SEED) -> list[Query]:
    """Return the whole query set: the hand-written queries, then the generated ones."""
    records = list(read_records(reuters_path))
    return HAND_WRITTEN + generate(records, seed)


INLINE_DATE_RE = re.compile(r"date:(\d{4})-(\d{2})")


def _map_day(day: date, span: tuple[date, date]) -> date:
    """Place ``day`` at the same relative position in ``span`` as it has in 1987's span."""
    share = (day - REUTERS_SPAN[0]).days / max(1, (REUTERS_SPAN[1] - REUTERS_SPAN[0]).days)
    return span[0] + timedelta(days=round(share * (span[1] - span[0]).days))


def fit_dates(query: Query, span: tuple[date, date]) -> Query:
    """Move a query's dates into another corpus's date range, keeping their relative place.

    Date filters written for 1987 would find nothing in headlines of 2007-2016, so each
    date is placed at the same fraction of ``span``; a window keeps its length in days.
    """
    if span == REUTERS_SPAN:
        return query
    changes: dict = {}
    if query.date_from:
        changes["date_from"] = _map_day(query.date_from, span)
        if query.date_to:
            changes["date_to"] = changes["date_from"] + (query.date_to - query.date_from)
    elif query.date_to:
        changes["date_to"] = _map_day(query.date_to, span)

    def month(match: re.Match) -> str:
        moved = _map_day(date(int(match[1]), int(match[2]), 15), span)
        return f"date:{moved:%Y-%m}"

    changes["text"] = INLINE_DATE_RE.sub(month, query.text)
    return replace(query, **changes)
