import pytest

from bench.extraction import PageScore, precision_recall, shingles, summarize, tokens


def test_tokens_are_word_runs_with_case_kept():
    assert tokens("Hello, wörld! It's 2024.") == ["Hello", "wörld", "It", "s", "2024"]


@pytest.mark.parametrize("count", [1, 2, 3])
def test_shingles_short_text_gives_one_shorter_shingle(count):
    words = ["a", "b", "c"][:count]

    assert shingles(words) == {tuple(words): 1}


def test_shingles_of_empty_text_are_none():
    assert shingles([]) == {}


def test_precision_recall_identical_texts_score_one():
    text = "The council voted on Tuesday to rebuild the bridge."

    assert precision_recall(text, text) == (1.0, 1.0)


def test_precision_recall_disjoint_texts_score_zero():
    assert precision_recall("one two three four five", "six seven eight nine ten") == (0.0, 0.0)


def test_precision_recall_empty_prediction_has_no_precision():
    assert precision_recall("", "one two three four five") == (None, 0.0)


def test_precision_recall_both_empty_score_one():
    assert precision_recall("", "") == (1.0, 1.0)


def test_summarize_leaves_empty_predictions_out_of_precision_only():
    scores = [PageScore("a", "u", 1.0, 1.0, True), PageScore("b", "u", None, 0.0, False)]

    precision, recall, f1, precision_as_zero = summarize(scores)

    assert (precision, recall, precision_as_zero) == (1.0, 0.5, 0.5)
    assert f1 == pytest.approx(2 / 3)
