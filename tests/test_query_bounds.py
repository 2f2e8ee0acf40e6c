"""Every kind of query does bounded work: long phrases, exclusions alone, many prefixes,
and the deadline; and the stemming caches that request threads share stay sound."""

import random
import string
import sys
import threading
from datetime import date

import pytest
from conftest import whoosh_index_of, write_articles
from whoosh import query as wq
from whoosh.analysis import StemmingAnalyzer

from searchapp.backends.whoosh import WhooshArchive as Archive
from searchapp.backends.whoosh import engine, ranking
from searchapp.backends.whoosh.analysis import thread_safe
from searchapp.backends.whoosh.indexing import update_index
from searchapp.backends.whoosh.marking import SHARED_ANALYZER
from searchapp.backends.whoosh.query import build_query
from searchapp.matching import MAX_QUERY_PREFIX_TERMS
from searchapp.querylang import MAX_WORDS, parse_query

# More articles than a block of postings (128), so phrases skip and read several blocks.
ARTICLES = 700


def _article(number: int) -> str:
    words = ["harbour"]
    if number % 7 == 0:
        words += ["copper", "mine", "strike"]  # the phrase
    elif number % 5 == 0:
        words += ["mine", "copper", "strike"]  # the same words, out of order
    if number % 11 == 0:
        words += ["gamma", "gamma", "gamma"]
    words += ["copper"] * (number % 3) + ["strike"] * (number % 2)
    month = number % 12 + 1
    return f"Date: 2020-{month:02}-01\n\nStory {number}\n\n" + " ".join(words) + " ends."


@pytest.fixture(scope="module")
def big_index(tmp_path_factory):
    return whoosh_index_of(tmp_path_factory, "many",
                           {f"a{n:04}.txt": _article(n) for n in range(ARTICLES)})


def _all_ids(archive, text, **kwargs):
    results = archive.search(text, per_page=50, snippets=False, correct=False, **kwargs)
    found = []
    for page in range(1, results.pages + 1):
        found += [hit.id for hit in archive.search(text, page, 50, snippets=False,
                                                  correct=False, **kwargs).hits]
    return results, found


def test_phrase_matches_only_words_in_a_row_across_blocks(big_index):
    results, found = _all_ids(Archive(big_index), '"copper mine strike"')
    assert sorted(found) == sorted(f"a{n:04}" for n in range(ARTICLES) if n % 7 == 0)
    assert results.total == len(found) and results.complete


def test_phrase_of_one_word_repeated_needs_it_that_many_times(big_index):
    _, found = _all_ids(Archive(big_index), '"gamma gamma gamma"')
    assert sorted(found) == sorted(f"a{n:04}" for n in range(ARTICLES) if n % 11 == 0)


def test_phrase_words_count_toward_the_word_cap():
    parsed = parse_query('"' + " ".join(["oil"] * 400) + '"')
    assert parsed.truncated
    assert [(c.kind, len(c.text.split())) for c in parsed.clauses] == [("phrase", MAX_WORDS)]


def test_a_400_word_phrase_is_cut_and_the_page_says_so(client):
    phrase = '"' + " ".join(["oil"] * 400) + '"'
    archive = client.application.extensions["archive"]
    results = archive.search(phrase)
    assert results.truncated and results.complete
    from bs4 import BeautifulSoup

    page = BeautifulSoup(client.get("/", query_string={"q": phrase}).data, "html.parser")
    notices = [p.get_text(" ", strip=True) for p in page.select("p.notice")]
    assert any("only its first words were searched for" in n for n in notices)


class OneBlockRun(engine.Run):
    """A run whose time is up as soon as it has read anything."""

    def out_of_time(self) -> bool:
        self.expired = self.expired or self.postings > 0
        return self.expired


@pytest.mark.parametrize("text", ['"copper mine strike"', "copper strike harbour",
                                  "-copper", "harbour -strike"])
def test_reading_stops_at_the_deadline(big_index, text):
    archive = Archive(big_index)
    searcher = archive._searcher()
    query = build_query(parse_query(text), searcher.reader())
    full = engine.Run(searcher, deadline=float("inf"))
    for leaf in archive._leaves(searcher):
        engine.score_segment(query, leaf, full)
    cut = OneBlockRun(searcher, deadline=float("inf"))
    scores = [engine.score_segment(query, leaf, cut) for leaf in archive._leaves(searcher)]
    assert full.postings > 128 and not full.expired
    assert cut.expired and 0 < cut.postings <= 128  # one block, then nothing more
    if '"' in text or "-" in text:
        # Nothing unconfirmed is listed: no phrase not checked word by word, and no
        # article whose exclusions were not all read.
        assert all(not s for s in scores)


def test_a_search_past_its_time_limit_is_marked_cut_short(big_index):
    results = Archive(big_index, time_limit=0).search('"copper mine strike" harbour')
    assert not results.complete
    assert results.total >= len(results.hits)


@pytest.mark.parametrize("sort", ["relevance", "newest", "oldest"])
def test_exclusions_alone_list_every_other_article(big_index, sort):
    archive = Archive(big_index)
    results, found = _all_ids(archive, "-copper", sort=sort)
    with_copper = {f"a{n:04}" for n in range(ARTICLES) if n % 7 == 0 or n % 5 == 0 or n % 3}
    expected = {f"a{n:04}" for n in range(ARTICLES)} - with_copper
    assert len(found) == len(set(found)) and set(found) == expected
    assert results.total == len(expected)
    assert sum(period.count for period in results.timeline) == len(expected)


def test_exclusions_alone_within_a_date_range(big_index):
    archive = Archive(big_index)
    results, found = _all_ids(archive, "-copper", date_from=date(2020, 3, 1),
                              date_to=date(2020, 4, 30))
    expected = {f"a{n:04}" for n in range(ARTICLES)
                if not (n % 7 == 0 or n % 5 == 0 or n % 3) and n % 12 + 1 in (3, 4)}
    assert set(found) == expected and results.total == len(expected)


def test_exclusions_alone_skip_deleted_articles(tmp_path):
    folder = write_articles(tmp_path / "a", {f"{n}.txt": f"Story {n}\n\nPlain words {n}."
                                             for n in range(5)})
    update_index([folder], tmp_path / "ix")
    (folder / "3.txt").unlink()
    update_index([folder], tmp_path / "ix")
    results = Archive(tmp_path / "ix").search("-nothing")
    assert sorted(hit.id for hit in results.hits) == ["0", "1", "2", "4"]
    assert results.total == 4


def test_everything_holds_only_the_exclusions():
    every = ranking.Everything(1_000_000).without({5, 7}).without({7, 9})
    assert len(every) == 999_997 and 5 not in every and 6 in every
    assert ranking.best(every, 4) == [(0, 0.0), (1, 0.0), (2, 0.0), (3, 0.0)]
    assert ranking.best(ranking.only(every, lambda d: d >= 6), 3) == [
        (6, 0.0), (8, 0.0), (10, 0.0)]
    assert len(every.excluded) == 3


def test_prefixes_share_a_bounded_number_of_words(big_index):
    archive = Archive(big_index)
    searcher = archive._searcher()
    prefixes = " ".join(f"{a}{b}{c}*" for a in "cghms" for b in "aeiot" for c in "ampr")
    query = build_query(parse_query(prefixes), searcher.reader())
    terms = [q for q in query.leaves() if isinstance(q, wq.Term)]
    assert 0 < len(terms) <= MAX_QUERY_PREFIX_TERMS
    # One or two prefixes keep their full expansion.
    assert build_query(parse_query("cop*"), searcher.reader()) is not None


def _hammer(analyzer, threads: int = 6, words: int = 4000) -> list[str]:
    errors = []

    def work(seed: int) -> None:
        rnd = random.Random(seed)
        try:
            for _ in range(words):
                word = "".join(rnd.choice(string.ascii_lowercase) for _ in range(10))
                [token.text for token in analyzer(word)]
        except Exception as error:  # what the race raised: the test reports it
            errors.append(repr(error))

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often, as a busy server does
    try:
        workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    finally:
        sys.setswitchinterval(interval)
    return errors


def _stem_cache(analyzer):
    return next(part._stem for part in analyzer.items if hasattr(part, "_stem"))


def test_stemming_cache_survives_threads_and_stays_bounded():
    analyzer = thread_safe(StemmingAnalyzer(cachesize=500))
    assert _hammer(analyzer) == []
    info = _stem_cache(analyzer).cache_info()
    assert info.currsize <= 500 and info.misses >= 4000


def test_analyzers_that_threads_share_are_thread_safe(big_index):
    archive = Archive(big_index)
    searcher = archive._searcher()
    for analyzer in (SHARED_ANALYZER, searcher.schema["body"].analyzer):
        assert _stem_cache(analyzer).cache_info().maxsize == 50_000

    errors = []

    def search(seed: int) -> None:
        rnd = random.Random(seed)
        try:
            for _ in range(30):
                archive.search(" ".join("".join(rnd.choice(string.ascii_lowercase)
                                                for _ in range(8)) for _ in range(20)))
        except Exception as error:
            errors.append(repr(error))

    workers = [threading.Thread(target=search, args=(n,)) for n in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []


def test_spelling_corrections_look_up_a_bounded_number_of_words(big_index, monkeypatch):
    import searchapp.backends.whoosh.archive as searching

    looked_up = []

    def closest_word(leaves, searcher, word, min_frequency=1, max_edits=2):
        looked_up.append(word)
        return "harbour" if word == "harbuor" else None

    monkeypatch.setattr(searching, "closest_word", closest_word)
    fresh = " ".join("".join(random.Random(n).choices(string.ascii_lowercase, k=9))
                     for n in range(40))
    results = Archive(big_index).search(f"harbuor {fresh}", correct=False)
    assert len(looked_up) == searching.MAX_CORRECTED_WORDS
    assert results.suggestion and results.suggestion.startswith("harbour ")
    looked_up.clear()
    Archive(big_index, time_limit=0).search(f"harbuor {fresh}", correct=False)
    assert looked_up == []


def test_segment_words_are_read_in_one_go_as_whoosh_lists_them(big_index):
    from searchapp.backends.whoosh.corrections import segment_words

    searcher = Archive(big_index)._searcher()
    for leaf, _ in searcher.reader().leaf_readers():
        for field_name in ("spell_body", "body", "headline", "author", "id"):
            expected = [term.decode("utf-8") for term in leaf.lexicon(field_name)]
            assert segment_words(leaf, field_name) == expected
