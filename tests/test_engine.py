"""The embedded index's own reading of postings agrees with Whoosh's matchers."""

import math

import pytest
from conftest import whoosh_index_of

from searchapp.backends.whoosh import WhooshArchive as Archive
from searchapp.backends.whoosh import engine, ranking

ARTICLES = 400


def _article(n: int) -> str:
    # Words in every article, in some, in a handful (blocks of 1 to 3 postings are pickled
    # without a mark), with frequencies that vary or not, and far apart.
    words = ["common"] * (1 + n % 3) + ["steady"]
    if n % 2:
        words += ["odd"] * (n % 5 + 1)
    if n in (7, 250):
        words.append("rare")
    if n == 399:
        words.append("last")
    return f"Story {n}\n\n" + " ".join(words) + f" filler {n}."


@pytest.fixture(scope="module")
def postings_index(tmp_path_factory):
    return whoosh_index_of(tmp_path_factory, "postings",
                           {f"a{n:04}.txt": _article(n) for n in range(ARTICLES)})


def _whoosh_postings(reader, word: str) -> list[tuple[int, float, list[int]]]:
    matcher = reader.postings("body", word)
    found = []
    while matcher.is_active():
        found.append((matcher.id(), matcher.weight(), list(matcher.value_as("positions"))))
        matcher.next()
    return found


@pytest.mark.parametrize("word", ["common", "steady", "odd", "rare", "last", "absent"])
def test_engine_reads_the_postings_whoosh_reads(postings_index, word):
    archive = Archive(postings_index)
    searcher = archive._searcher()
    for leaf_searcher, _ in searcher.leaf_searchers():
        reader = leaf_searcher.reader()
        expected = _whoosh_postings(reader, word) if ("body", word) in reader else []
        run = engine.Run(searcher, deadline=math.inf)
        ids, counts = engine._frequency_arrays(reader, "body", word.encode(), run)
        read = list(zip(ids.tolist(), counts.tolist(), strict=True))
        assert read == [(d, w) for d, w, _ in expected]
        decode = reader.schema["body"].format.decode_positions
        positions = [(d, decode(value)) for ids, values in
                     engine._postings(reader, "body", word.encode(), run)
                     for d, value in zip(ids, values, strict=True)]
        assert positions == [(d, p) for d, _, p in expected]


def test_engine_scores_a_common_word_in_every_article(postings_index):
    results = Archive(postings_index).search("common", per_page=5, snippets=False)
    assert results.total == ARTICLES
    # Three times in a third of the articles: those come first.
    assert all(int(hit.id[1:]) % 3 == 2 for hit in results.hits)


def test_matches_combine_as_dicts_do():
    a = ranking.Matches.of({5: 1.0, 2: 2.0})
    assert list(a) == [2, 5] and a[5] == 1.0 and 3 not in a and "x" not in a
    with pytest.raises(KeyError):
        a[3]
    totals, counts = ranking.count_matches([a, {5: 0.5, 9: 1.0}, {}])
    assert dict(totals.items()) == {2: 2.0, 5: 1.5, 9: 1.0}
    assert counts.tolist() == [1, 2, 1]
    assert ranking.counted_at_least(totals, counts, 2) == {5: 1.5}
    assert ranking.within(totals, ranking.np.array([0, 0, 7, 0, 0, 3, 0, 0, 0, 9]), 3, 7) == {
        2: 2.0, 5: 1.5}
    keys = ranking.np.array([0, 0, 5, 0, 0, 5, 0, 0, 0, 1], dtype=ranking.np.uint64)
    assert ranking.first_by_keys(totals, 2, keys) == [(9, 1.0), (2, 2.0)]
