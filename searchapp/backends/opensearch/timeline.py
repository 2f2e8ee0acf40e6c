"""The timeline of matches from the cluster's date histograms, as the embedded index draws it.

Matches are counted per year, per month when they span under two years, per day within a
month (or a date filter of a few weeks); each period also says how many articles the
archive holds in it. The cluster counts (``date_histogram``); the periods are laid out
here, empty ones included, exactly as ``backends/whoosh/archive._timeline`` lays them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from searchapp.results import (
    TIMELINE_DAYS_UNDER,
    Period,
    period_end,
    period_start,
    timeline_span,
)

DAY_FORMAT = "yyyy-MM-dd"


@dataclass
class Plan:
    """Which unit the timeline counts in, and the days it spans."""

    unit: str
    first: date
    last: date


def _histogram(unit: str) -> dict:
    return {"date_histogram": {"field": "date", "calendar_interval": unit,
                               "min_doc_count": 1, "format": DAY_FORMAT}}


def match_aggregations(date_from: date | None, date_to: date | None) -> dict:
    """Return the aggregations a search asks for, to draw its timeline by year or month,
    and by day when the date filter alone makes it a timeline of days."""
    aggregations = {"first": {"min": {"field": "date", "format": DAY_FORMAT}},
                    "last": {"max": {"field": "date", "format": DAY_FORMAT}},
                    "year": _histogram("year"), "month": _histogram("month")}
    if date_from and date_to and (date_to - date_from).days < TIMELINE_DAYS_UNDER:
        aggregations.update(day_aggregations())
    return aggregations


def total_aggregations() -> dict:
    """Return the aggregations that count the archive's articles per year and month."""
    return {"year": _histogram("year"), "month": _histogram("month")}


def day_aggregations() -> dict:
    return {"day": _histogram("day")}


def count_days(days: Iterable[date | None]) -> Counter:
    """Return the matches per day from their dates (undated ones are not counted), as the
    day histogram counts them."""
    return Counter(day for day in days if day is not None)


def months(first: date, last: date) -> list[date]:
    """Return the first day of each month from ``first``'s to ``last``'s."""
    found = []
    start = period_start(first, "month")
    while start <= last:
        found.append(start)
        start = period_end(start, "month") + timedelta(days=1)
    return found


def read_buckets(aggregations: dict, unit: str) -> Counter:
    """Return a histogram's counts by the first day of each period."""
    counts: Counter = Counter()
    for bucket in aggregations.get(unit, {}).get("buckets", []):
        day = _parse(bucket.get("key_as_string"))
        if day is not None:
            counts[day] += bucket.get("doc_count", 0)
    return counts


def read_totals(answer: dict) -> dict:
    """Return the archive's article count and its counts per year and month."""
    aggregations = answer.get("aggregations", {})
    return {"articles": answer["hits"]["total"]["value"],
            "year": read_buckets(aggregations, "year"),
            "month": read_buckets(aggregations, "month")}


def plan(aggregations: dict, date_from: date | None, date_to: date | None) -> Plan | None:
    """Choose the unit from the first and last dated match, or None when none is dated."""
    first = _parse(aggregations.get("first", {}).get("value_as_string"))
    last = _parse(aggregations.get("last", {}).get("value_as_string"))
    if first is None or last is None:
        return None
    first, last, unit = timeline_span(first, last, date_from, date_to)
    return Plan(unit, first, last)


def periods(plan: Plan, counts: Counter, totals: Counter) -> list[Period]:
    """Lay out every period from the first match's to the last's, empty ones included."""
    found = []
    start = period_start(plan.first, plan.unit)
    while start <= plan.last:
        end = period_end(start, plan.unit)
        label = {"year": f"{start.year}", "month": f"{start.year}-{start.month:02}"}.get(
            plan.unit, start.isoformat())
        found.append(Period(label, start, end, counts[start], totals[start]))
        start = end + timedelta(days=1)
    return found


def _parse(value) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


