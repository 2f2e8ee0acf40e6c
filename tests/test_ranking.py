import math

import numpy as np
import pytest
from conftest import write_articles
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.relevance import average_precision, ndcg_at, precision_at, recall_at
from searchapp.backends.whoosh import WhooshArchive as Archive
from searchapp.backends.whoosh.indexing import update_index

# "x" is unjudged, "c" judged not relevant, "a" and "b" relevant.
JUDGED = {"a": 1, "b": 1, "c": 0}
RANKING = ["x", "a", "c", "b"]


def test_average_precision_matches_hand_computation():
    # Relevant at ranks 2 and 4: (1/2 + 2/4) / 2.
    assert average_precision(RANKING, JUDGED) == pytest.approx(0.5)


def test_average_precision_counts_missed_documents_and_stops_at_the_depth():
    assert average_precision(["a"], JUDGED) == pytest.approx(0.5)
    deep = [f"n{i}" for i in range(1000)] + ["a", "b"]
    assert average_precision(deep, JUDGED) == 0.0


def test_precision_and_recall_at_a_cutoff():
    assert precision_at(RANKING, JUDGED, 10) == pytest.approx(0.2)  # 2 of 10 places
    assert recall_at(RANKING, JUDGED, 2) == pytest.approx(0.5)
    assert recall_at(RANKING, JUDGED, 100) == pytest.approx(1.0)


def test_ndcg_binary_matches_hand_computation():
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    ideal = 1 + 1 / math.log2(3)
    assert ndcg_at(RANKING, JUDGED) == pytest.approx(dcg / ideal)


def test_ndcg_uses_grades_as_gains():
    graded = {"a": 3, "b": 1}
    expected = (1 + 3 / math.log2(3)) / (3 + 1 / math.log2(3))
    assert ndcg_at(["b", "a"], graded) == pytest.approx(expected)
    assert ndcg_at(["a", "b"], graded) == pytest.approx(1.0)


@pytest.mark.parametrize("metric", [ndcg_at, average_precision, precision_at, recall_at])
def test_a_query_with_no_results_scores_zero(metric):
    assert metric([], JUDGED) == 0.0


FILLER = "The committee met in the hall and discussed the agenda for the coming season."


@pytest.fixture
def ranking_archive(tmp_path):
    folder = write_articles(tmp_path / "a", {
        "headline.txt": f"Marathon Route Announced Today\n\n{FILLER} Runners cheered.",
        "body.txt": f"New Route Announced Today\n\n{FILLER} Marathon runners.",
        "apricot.txt": f"Notes One\n\n{FILLER} Apricot growers met.",
        "festival.txt": f"Notes Two\n\n{FILLER} Festival growers met.",
        "questions.txt": "What Is What\n\nWhat about it? What is it about? Which is which?",
    })
    update_index([folder], tmp_path / "ix")
    return Archive(tmp_path / "ix")


def ids(results):
    return [hit.id for hit in results.hits]


def test_headline_match_ranks_above_an_equal_body_match(ranking_archive):
    assert ids(ranking_archive.search("marathon"))[:2] == ["headline", "body"]


def test_a_repeated_word_weighs_more(ranking_archive):
    assert ids(ranking_archive.search("apricot apricot festival"))[0] == "apricot"
    assert ids(ranking_archive.search("festival festival apricot"))[0] == "festival"


def test_a_question_in_capitals_ranks_like_the_same_words_in_lower_case(ranking_archive):
    shouted = ranking_archive.search("WHAT ABOUT THE MARATHON ROUTE AND RUNNERS?")
    typed = ranking_archive.search("what about the marathon route and runners")
    assert ids(shouted) == ids(typed)
    assert ids(shouted)[0] == "headline"


def test_question_words_do_not_match_on_their_own(ranking_archive):
    assert ids(ranking_archive.search("what about apricots?")) == ["apricot"]
    # A query of nothing but such words still finds them.
    assert ids(ranking_archive.search("which what")) == ["questions"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("apricot AND growers", ["apricot"]),
        ('"marathon runners"', ["body"]),
        ("growers -festival", ["apricot"]),
    ],
)
def test_operators_still_work_when_clearly_meant(ranking_archive, query, expected):
    assert ids(ranking_archive.search(query)) == expected


def test_excluding_a_word_keeps_the_best_matches_first(tmp_path):
    # Whoosh's preloaded Or (its choice under 5,000 articles) lost the top matches inside
    # an AndNot: the first page showed weak matches while strong ones existed.
    articles = {
        f"{n:03d}.txt": f"Report {n}\n\n{FILLER} " + "apricot " * (n % 2)
        + "festival " * (n % 3 > 0) + "harvest " * (n % 5 > 1) + "jam " * (n % 7 > 2)
        + ("wine" if n % 10 == 0 else "")
        for n in range(300)
    }
    update_index([write_articles(tmp_path / "a", articles)], tmp_path / "ix")
    archive = Archive(tmp_path / "ix")
    query = "apricot festival harvest jam"
    everything = [hit for page in (1, 2, 3, 4, 5, 6)
                  for hit in archive.search(query, page=page, per_page=50).hits]
    best = sorted((round(h.score, 6) for h in everything if int(h.id) % 10), reverse=True)
    hits = archive.search(f"{query} -wine").hits
    assert all(int(hit.id) % 10 for hit in hits)
    assert [round(hit.score, 6) for hit in hits] == best[:10]


# The scoring maths on plain numbers (searchapp.backends.whoosh.ranking).
def test_bm25f_frequencies_are_weighted_length_normalised_then_saturated_once():
    from searchapp.backends.whoosh import ranking

    headline = ranking.length_norms(1.5, average_length=10, b=0.75, lengths=[10, 20])
    body = ranking.length_norms(1.0, average_length=100, b=0.75, lengths=[0, 50, 200])
    fields = [
        ranking.field_frequencies(np.array([3]), np.array([1.0]), np.array([0, 0, 0, 1]),
                                  headline),
        ranking.field_frequencies(np.array([3, 5]), np.array([2.0, 1.0]),
                                  np.array([0, 0, 0, 2, 0, 1]), body),
    ]
    frequencies, counts = ranking.count_matches(fields)
    assert list(frequencies) == [3, 5] and list(counts) == [2, 1]
    expected_3 = 1.5 / (0.25 + 0.75 * 20 / 10) + 2.0 / (0.25 + 0.75 * 200 / 100)
    assert frequencies[3] == pytest.approx(expected_3)
    assert frequencies[5] == pytest.approx(1.0 / (0.25 + 0.75 * 50 / 100))
    scores = ranking.saturate(frequencies, weight=2.0, k1=1.2)
    assert scores[3] == pytest.approx(2.0 * expected_3 * 2.2 / (expected_3 + 1.2))


def test_union_intersection_and_exclusion_combine_scores():
    from searchapp.backends.whoosh import ranking

    a, b = {1: 1.0, 2: 2.0}, {2: 0.5, 3: 4.0}
    assert ranking.union([a, b]) == {1: 1.0, 2: 2.5, 3: 4.0}
    assert ranking.union([a, b], boost=2.0) == {1: 2.0, 2: 5.0, 3: 8.0}
    assert ranking.intersection([a, b]) == {2: 2.5}
    assert ranking.with_optional(a, b) == {1: 1.0, 2: 2.5}
    assert ranking.without(a, b) == {1: 1.0}
    assert a == {1: 1.0, 2: 2.0} and b == {2: 0.5, 3: 4.0}  # the parts are not changed


def test_best_and_first_by_break_ties_by_article_number():
    from searchapp.backends.whoosh import ranking

    scores = {9: 1.0, 4: 3.0, 7: 1.0, 2: 1.0}
    assert ranking.best(scores, 3) == [(4, 3.0), (2, 1.0), (7, 1.0)]
    dates = {9: 5, 4: 5, 7: 1, 2: 5}
    assert ranking.first_by(scores, 3, dates.__getitem__) == [(7, 1.0), (4, 3.0), (2, 1.0)]


def _reference_first_by_relevance(matches, count):
    """``engine.first_matches`` by relevance as it was before session 9: the segments'
    best merged as Python tuples."""
    from searchapp.backends.whoosh import ranking

    found = [(leaf.offset + d, score) for leaf, scores in matches
             for d, score in ranking.best(scores, count)]
    return sorted(found, key=lambda item: (-item[1], item[0]))[:count]


@st.composite
def _segments_of_matches(draw):
    from searchapp.backends.whoosh import ranking
    from searchapp.backends.whoosh.engine import Leaf

    matches, offset = [], 0
    # Few distinct scores, so that ties across segments are common.
    score = st.sampled_from([0.0, 0.5, 1.0, 1.25, 2.0, 7.5])
    for _ in range(draw(st.integers(0, 4))):
        size = draw(st.integers(1, 60))
        kind = draw(st.sampled_from(["matches", "dict", "everything"]))
        if kind == "everything":
            scores = ranking.Everything(size, frozenset(draw(st.sets(st.integers(0, size - 1)))),
                                        draw(score))
        else:
            found = draw(st.dictionaries(st.integers(0, size - 1), score))
            scores = ranking.Matches.of(found) if kind == "matches" else found
        matches.append((Leaf(None, offset, None), scores))
        offset += size
    return matches


@settings(max_examples=300, deadline=None)
@given(_segments_of_matches(), st.integers(0, 80))
def test_first_matches_by_relevance_gives_the_order_of_the_tuple_merge(matches, count):
    from searchapp.backends.whoosh.engine import first_matches

    found = first_matches(matches, count, "relevance")
    assert found == _reference_first_by_relevance(matches, count)
    assert all(type(docnum) is int and type(score) is float for docnum, score in found)
