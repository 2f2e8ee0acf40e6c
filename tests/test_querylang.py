from datetime import date

import pytest

from searchapp.querylang import (
    MAX_CLAUSES,
    MAX_PREFIX_CLAUSES,
    MUST,
    MUST_NOT,
    SHOULD,
    QueryError,
    parse_query,
)


def clauses(text):
    return [(c.text, c.kind, c.field, c.occur) for c in parse_query(text).clauses]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Jermuk border", [("Jermuk", "word", None, SHOULD), ("border", "word", None, SHOULD)]),
        ('"fighting continues" -Russia',
         [("fighting continues", "phrase", None, SHOULD), ("Russia", "word", None, MUST_NOT)]),
        ("cats AND dogs", [("cats", "word", None, MUST), ("dogs", "word", None, MUST)]),
        ("cats OR dogs", [("cats", "word", None, SHOULD), ("dogs", "word", None, SHOULD)]),
        ("cats NOT dogs", [("cats", "word", None, SHOULD), ("dogs", "word", None, MUST_NOT)]),
        ("+jermuk spa", [("jermuk", "word", None, MUST), ("spa", "word", None, SHOULD)]),
        ("headline:border title:x",
         [("border", "word", "headline", SHOULD), ("x", "word", "headline", SHOULD)]),
        ('body:"mineral springs"', [("mineral springs", "phrase", "body", SHOULD)]),
        ("armen* talks", [("armen", "prefix", None, SHOULD), ("talks", "word", None, SHOULD)]),
        ("foo:bar", [("foo", "word", None, SHOULD), ("bar", "word", None, SHOULD)]),
    ],
)
def test_parse_query_reads_operators_and_fields(text, expected):
    assert clauses(text) == expected


def test_query_in_capitals_is_read_as_words():
    assert [c[3] for c in clauses("EFFECTS AND CAUSES OF WAR")] == [SHOULD] * 5
    assert [c[0] for c in clauses("EFFECTS AND CAUSES OF WAR")][1] == "AND"


def test_question_mark_and_repeated_words_survive():
    assert [c[0] for c in clauses("what is war war?")] == ["what", "is", "war", "war"]


@pytest.mark.parametrize(
    "text", ['"unbalanced', "*", "?", "((((", "AND", "-", '""', "\x00\x01", "  "])
def test_hostile_fragments_parse_to_something_harmless(text):
    parsed = parse_query(text)
    assert all(c.text.strip() for c in parsed.clauses)


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("date:2022", date(2022, 1, 1), date(2022, 12, 31)),
        ("date:2022-02", date(2022, 2, 1), date(2022, 2, 28)),
        ("date:2022-09-14", date(2022, 9, 14), date(2022, 9, 14)),
        ("date:2022-01..2022-06", date(2022, 1, 1), date(2022, 6, 30)),
        ("date:..2021", None, date(2021, 12, 31)),
        ("date:2020..", date(2020, 1, 1), None),
    ],
)
def test_date_ranges(text, start, end):
    parsed = parse_query(f"elections {text}")
    assert (parsed.date_from, parsed.date_to) == (start, end)
    assert [c.text for c in parsed.clauses] == ["elections"]


@pytest.mark.parametrize("text", ["date:yesterday", "date:2022-13", "date:2022-02-30"])
def test_unreadable_dates_are_explained(text):
    with pytest.raises(QueryError, match="date:2022-09-14"):
        parse_query(text)


def test_overlong_queries_are_refused_and_terms_capped():
    with pytest.raises(QueryError, match="too long"):
        parse_query("x" * 2001)
    assert len(parse_query("word " * 300).clauses) == MAX_CLAUSES == 128


def test_prefixes_are_capped_lower_than_words():
    parsed = parse_query("ab* " * 100 + "word " * 10)
    kinds = [c.kind for c in parsed.clauses]
    assert kinds.count("prefix") == MAX_PREFIX_CLAUSES and kinds.count("word") == 10


@pytest.mark.parametrize("text, expected, truncated", [
    ('"' + "oil " * 400 + '"', [("phrase", 128)], True),
    ("w " * 126 + '"a b c" d', [("word", 1)] * 126 + [("phrase", 2)], True),
    ("w " * 127 + '"a b c" d', [("word", 1)] * 128, True),
    ("w " * 125 + '"a b c"', [("word", 1)] * 125 + [("phrase", 3)], False),
    ("w " * 128, [("word", 1)] * 128, False),
    ("-w " * 129, [("word", 1)] * 128, True),
])
def test_phrase_words_count_toward_the_128_word_cap(text, expected, truncated):
    parsed = parse_query(text)
    assert [(c.kind, len(c.text.split())) for c in parsed.clauses] == expected
    assert parsed.truncated is truncated
