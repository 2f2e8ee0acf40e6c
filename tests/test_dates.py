from datetime import date

import pytest

from searchapp.dates import find_dates, find_weekday_date, find_years, parse_date


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2022-09-14", date(2022, 9, 14)),
        ("2022-09-14T10:30:00+04:00", date(2022, 9, 14)),
        ("20220914", date(2022, 9, 14)),
        ("2022/09/14", date(2022, 9, 14)),
        ("Wed, 14 Sep 2022 10:00:00 GMT", date(2022, 9, 14)),
        ("September 14, 2022", date(2022, 9, 14)),
        ("Sept. 14, 2022", date(2022, 9, 14)),
        ("14 September 2022", date(2022, 9, 14)),
        ("14th of September, 2022", date(2022, 9, 14)),
        ("", None),
        ("yesterday", None),
        ("2022-02-30", None),
        ("3022-01-01", None),
        (None, None),
        (12345, None),
    ],
)
def test_parse_date_reads_metadata_formats(value, expected):
    assert parse_date(value) == expected


def test_find_dates_returns_dates_in_text_order():
    text = "Talks began on 2 March 2023 and ended on April 5, 2023."
    assert [d for d, _ in find_dates(text)] == [date(2023, 3, 2), date(2023, 4, 5)]


def test_find_weekday_date_uses_the_first_matching_year_from_context():
    # September 14 was a Tuesday in 2021 and a Wednesday in 2022.
    text = "overnight and on Wednesday morning, September 14, despite efforts"
    assert find_weekday_date(text, [2021]) == date(2022, 9, 14)


def test_find_weekday_date_needs_a_context_year():
    assert find_weekday_date("on Wednesday, September 14, the", []) is None


def test_find_weekday_date_reads_day_before_month():
    assert find_weekday_date("on Wednesday, 14 September the", [2022]) == date(2022, 9, 14)


def test_find_years_ignores_numbers_that_are_not_years():
    assert find_years("In 2020, 1,2019 dlrs and 12.2021 pct; the 1987 crash") == [2020, 1987]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("14. März 2023", date(2023, 3, 14)),
        ("Wien, 3. Jänner 2021", date(2021, 1, 3)),
        ("3 février 2022", date(2022, 2, 3)),
        ("le 1er mars 2022", date(2022, 3, 1)),
        ("5 de marzo de 2021", date(2021, 3, 5)),
        ("12 de março de 2020", date(2020, 3, 12)),
        ("7 dicembre 2019", date(2019, 12, 7)),
        ("30 agosto 2018", date(2018, 8, 30)),
    ],
)
def test_parse_date_reads_german_french_spanish_portuguese_italian_months(text, expected):
    assert parse_date(text) == expected


def test_find_dates_reads_non_english_dates_inside_text():
    text = (
        "Berlin. Der Rat hat am 14. März 2023 entschieden; "
        "à Paris, le 3 février 2022, et en Madrid el 5 de marzo de 2021."
    )

    assert [d for d, _ in find_dates(text)] == [
        date(2023, 3, 14), date(2022, 2, 3), date(2021, 3, 5),
    ]


def test_find_dates_does_not_take_a_foreign_word_without_day_and_year():
    assert find_dates("Mars and Mai are names; mars 2022 has no day.") == []
