"""Find publication dates in metadata values and in article text.

Everything here is pure text in, ``datetime.date`` out; nothing guesses a year that the
text does not support. A date that cannot be fixed reliably is ``None``.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from datetime import date, datetime
from email.utils import parsedate

# Month names and the abbreviations newspapers use (AP style "Sept.", "Aug.").
MONTHS = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3,
    "april": 4, "apr": 4, "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7,
    "august": 8, "aug": 8, "september": 9, "sept": 9, "sep": 9, "october": 10,
    "oct": 10, "november": 11, "nov": 11, "december": 12, "dec": 12,
}
# Other languages' month names, with the spellings that drop accents ("Maerz", "fevrier").
FOREIGN_MONTHS = {
    # German (Austrian "Jänner" too)
    "januar": 1, "jänner": 1, "februar": 2, "märz": 3, "maerz": 3, "mai": 5, "juni": 6,
    "juli": 7, "oktober": 10, "dezember": 12,
    # French
    "janvier": 1, "février": 2, "fevrier": 2, "mars": 3, "avril": 4, "juin": 6,
    "juillet": 7, "août": 8, "aout": 8, "septembre": 9, "octobre": 10, "novembre": 11,
    "décembre": 12, "decembre": 12,
    # Spanish
    "enero": 1, "febrero": 2, "marzo": 3, "abril": 4, "mayo": 5, "junio": 6, "julio": 7,
    "agosto": 8, "septiembre": 9, "setiembre": 9, "octubre": 10, "noviembre": 11,
    "diciembre": 12,
    # Portuguese
    "janeiro": 1, "fevereiro": 2, "março": 3, "marco": 3, "maio": 5, "junho": 6,
    "julho": 7, "setembro": 9, "outubro": 10, "dezembro": 12,
    # Italian
    "gennaio": 1, "febbraio": 2, "aprile": 4, "maggio": 5, "giugno": 6, "luglio": 7,
    "settembre": 9, "ottobre": 10, "dicembre": 12,
}
ALL_MONTHS = {**MONTHS, **FOREIGN_MONTHS}
WEEKDAYS = {
    "monday": 0, "mon": 0, "tuesday": 1, "tue": 1, "tues": 1, "wednesday": 2, "wed": 2,
    "thursday": 3, "thu": 3, "thur": 3, "thurs": 3, "friday": 4, "fri": 4,
    "saturday": 5, "sat": 5, "sunday": 6, "sun": 6,
}
EARLIEST_YEAR = 1800
# How many years after the context year a weekday-only date may fall.
WEEKDAY_YEAR_WINDOW = 7

_MONTH = r"(?P<month>" + "|".join(sorted(ALL_MONTHS, key=len, reverse=True)) + r")\.?"
_ENGLISH_MONTH = r"(?P<month>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_WEEKDAY = r"(?P<weekday>" + "|".join(sorted(WEEKDAYS, key=len, reverse=True)) + r")\.?"
# "14th", German "14." and French "1er" are days too.
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th|er|º|°|\.)?"
# "5 de marzo de 2021", "12 de março de 2020", "14th of September".
_OF = r"(?:(?:of|de|del)\s+)?"
_YEAR = r"(?P<year>(?:1[89]|20)\d\d)"

ISO_DATE = re.compile(rf"(?<!\d){_YEAR}-(?P<month>[01]?\d)-(?P<day>[0-3]?\d)(?!\d)")
SLASH_DATE = re.compile(rf"(?<!\d){_YEAR}/(?P<month>[01]?\d)/(?P<day>[0-3]?\d)(?!\d)")
COMPACT_DATE = re.compile(r"^(?P<year>(?:1[89]|20)\d\d)(?P<month>[01]\d)(?P<day>[0-3]\d)$")
MONTH_DAY_YEAR = re.compile(rf"\b{_ENGLISH_MONTH}\s+{_DAY},?\s+{_YEAR}\b", re.IGNORECASE)
DAY_MONTH_YEAR = re.compile(rf"\b{_DAY}\s+{_OF}{_MONTH},?\s+{_OF}{_YEAR}\b", re.IGNORECASE)
# "Wednesday morning, September 14" / "on Wed., Sept. 14" / "Wednesday, 14 September".
WEEKDAY_MONTH_DAY = re.compile(
    rf"\b{_WEEKDAY}(?:\s+(?:morning|afternoon|evening|night))?,?\s+"
    rf"(?:{_ENGLISH_MONTH}\s+{_DAY}|{_DAY.replace('day>', 'day2>')}\s+(?:of\s+)?"
    rf"{_ENGLISH_MONTH.replace('month>', 'month2>')})\b(?!,?\s+(?:1[89]|20)\d\d)",
    re.IGNORECASE,
)
BARE_YEAR = re.compile(r"(?<![\d.,/-])(?:19|20)\d\d(?![\d.,/-]?\d)")


def _make_date(year: int | str, month: int | str, day: int | str) -> date | None:
    try:
        result = date(int(year), int(month), int(day))
    except (TypeError, ValueError):
        return None
    if result.year < EARLIEST_YEAR or result.year > date.today().year + 1:
        return None
    return result


def _month_number(name: str) -> int:
    return ALL_MONTHS[name.lower().rstrip(".")]


def parse_date(value: object) -> date | None:
    """Parse one date value from metadata (ISO 8601, RFC 2822 or written out)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        return None
    text = value.strip()[:200]
    if not text:
        return None
    if match := COMPACT_DATE.match(text):
        return _make_date(match["year"], match["month"], match["day"])
    for pattern in (ISO_DATE, SLASH_DATE):
        if (match := pattern.search(text)) and match.start() < 3:
            return _make_date(match["year"], match["month"], match["day"])
    if found := find_dates(text):
        return found[0][0]
    parsed = parsedate(text)
    if parsed and parsed[0]:
        return _make_date(parsed[0], parsed[1], parsed[2])
    return None


def find_dates(text: str) -> list[tuple[date, int]]:
    """Return the full dates written in ``text`` (with their offsets), in order."""
    found = []
    for pattern in (MONTH_DAY_YEAR, DAY_MONTH_YEAR):
        for match in pattern.finditer(text):
            value = _make_date(match["year"], _month_number(match["month"]), match["day"])
            if value:
                found.append((value, match.start()))
    for match in ISO_DATE.finditer(text):
        value = _make_date(match["year"], match["month"], match["day"])
        if value:
            found.append((value, match.start()))
    found.sort(key=lambda item: item[1])
    return found


def find_years(text: str) -> list[int]:
    """Return the plausible years (1900-2099) mentioned in ``text``."""
    this_year = date.today().year
    return [int(y) for y in BARE_YEAR.findall(text) if int(y) <= this_year + 1]


def find_weekday_date(text: str, context_years: Iterable[int]) -> date | None:
    """Resolve the first "Wednesday, September 14" in ``text`` to a full date.

    The year is the first one, from the latest context year on, in which that day
    really falls on that weekday. Without context years nothing is reliable.
    """
    years = [y for y in context_years if EARLIEST_YEAR <= y <= date.today().year + 1]
    if not years:
        return None
    anchor = max(years)
    for match in WEEKDAY_MONTH_DAY.finditer(text):
        month = _month_number(match["month"] or match["month2"])
        day = int(match["day"] or match["day2"])
        weekday = WEEKDAYS[match["weekday"].lower().rstrip(".")]
        for year in range(anchor, anchor + WEEKDAY_YEAR_WINDOW + 1):
            if day <= calendar.monthrange(year, month)[1] and (
                calendar.weekday(year, month, day) == weekday
            ):
                return _make_date(year, month, day)
    return None
