import json
import os
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import pytest
from conftest import SEED, write_articles
from whoosh.analysis import StemmingAnalyzer

from searchapp.backends import IndexUnavailable
from searchapp.backends.whoosh import WhooshArchive as Archive
from searchapp.backends.whoosh import indexing
from searchapp.backends.whoosh.indexing import update_index


@pytest.fixture
def archive(small_archive):
    return small_archive.open()


def ids(results):
    return [hit.id for hit in results.hits]


def test_search_finds_the_seed_with_highlighted_snippet(archive):
    results = archive.search("Jermuk")
    assert results.total == 2
    seed = next(hit for hit in results.hits if hit.id == SEED.stem)
    assert seed.headline == "Fighting Continues on Armenia-Azerbaijan Border"
    assert seed.date == date(2022, 9, 14)
    assert "<mark>Jermuk</mark>" in seed.snippet


def test_headline_matches_rank_above_body_matches(archive):
    # "Jermuk" is in feed-1's headline and only in the seed's body.
    assert ids(archive.search("Jermuk"))[0] == "feed-1"


def test_words_are_stemmed(archive):
    assert SEED.stem in ids(archive.search("fight"))


@pytest.fixture
def apricot_notes(tmp_path, make_archive):
    filler = "The committee met in the hall and discussed the agenda for the season."
    folder = write_articles(tmp_path / "a", {
        "one.txt": f"Notes One\n\n{filler} Apricot harvest.",
        "two.txt": f"Notes Two\n\n{filler} Apricot harvest, with festival.",
        "three.txt": f"Notes Three\n\n{filler} Apricot harvest, festival and wine.",
        "none.txt": f"Notes Four\n\n{filler} Nothing else.",
    })
    built = make_archive([folder])
    return built.open()


def test_every_word_counts_results_have_all_the_words(apricot_notes):
    # Issue 14: the words used to be OR-ed, and all three notes were found.
    results = apricot_notes.search("wine festival apricot")
    assert ids(results) == ["three"] and results.total == 1
    assert (results.matched_all, results.relaxed) == (True, False)
    assert sorted(ids(apricot_notes.search("festival apricot"))) == ["three", "two"]


def test_every_word_counts_with_excluded_words(apricot_notes):
    assert ids(apricot_notes.search("festival apricot -wine")) == ["two"]
    assert ids(apricot_notes.search("festival apricot NOT wine")) == ["two"]


def test_or_finds_articles_with_any_word_those_with_more_first(apricot_notes):
    results = apricot_notes.search("wine OR festival OR apricot")
    assert ids(results) == ["three", "two", "one"]


def test_when_no_article_has_every_word_those_with_most_of_them_are_shown(apricot_notes):
    results = apricot_notes.search("wine festival apricot zebra")
    assert ids(results) == ["three"]
    assert (results.query_words, results.required_words) == (4, 3)
    assert results.relaxed and not results.matched_all
    results = apricot_notes.search("zebra harvest giraffe", sort="newest")
    assert sorted(ids(results)) == ["one", "three", "two"] and results.required_words == 1


def test_long_queries_need_most_of_their_words_not_all(apricot_notes):
    # Twelve words: nine of them will do, as a pasted question would want.
    results = apricot_notes.search("apricot harvest festival wine committee hall agenda "
                                   "season met discussed zebra lion")
    assert sorted(ids(results)) == ["three", "two"]
    assert not results.relaxed and (results.query_words, results.required_words) == (12, 9)


def test_a_ranked_list_with_few_matches_ranks_articles_with_some_words_among_them(
        tmp_path, make_archive):
    articles = {f"rain{n}.txt": f"Rain Report {n}\n\nRain fell on the valley, report {n}."
                for n in range(150)}
    articles["both.txt"] = "Rain and Apricots\n\nRain spoiled the apricot harvest."
    articles["also.txt"] = "Apricot Rain\n\nA rain of apricots fell from the trees."
    built = make_archive([write_articles(tmp_path / "a", articles)])
    archive = built.open()
    # Two articles of 152 have both words (fewer than 2%): they are the results, counted
    # and on the timeline; ranked, those with one word are listed too, marked, not counted.
    ranked = archive.search("apricot rain", per_page=50)
    assert sorted(ids(ranked)[:2]) == ["also", "both"]
    assert [hit.partial for hit in ranked.hits[:3]] == [False, False, True]
    assert all(hit.partial and hit.id.startswith("rain") for hit in ranked.hits[2:])
    assert ranked.total == 2 and ranked.partial == 150 and ranked.pages == 4
    assert not ranked.relaxed and ranked.required_words == 2
    last = archive.search("apricot rain", page=4, per_page=50)
    assert len(last.hits) == 2 and all(hit.partial for hit in last.hits)
    # By date the list cannot rank them below, so it keeps to the articles with both.
    newest = archive.search("apricot rain", sort="newest")
    assert sorted(ids(newest)) == ["also", "both"] and newest.partial == 0


def test_when_no_article_has_every_word_the_results_have_most_of_them(tmp_path, make_archive):
    articles = {f"rain{n}.txt": f"Rain Report {n}\n\nRain fell on the valley, report {n}."
                for n in range(100)}
    articles["two.txt"] = "Rain and Apricots\n\nRain spoiled the apricot harvest."
    built = make_archive([write_articles(tmp_path / "a", articles)])
    archive = built.open()
    for sort in ("relevance", "newest"):
        results = archive.search("apricot rain walnut", sort=sort)
        assert ids(results)[0] == "two" and results.total == 1, sort
        assert results.relaxed and (results.query_words, results.required_words) == (3, 2)
    # Ranked, the one article with two of the three words is followed by those with one.
    assert archive.search("apricot rain walnut").partial == 100


def test_headline_only_match_shows_the_lead(archive):
    hit = archive.search("draws").hits[0]
    assert hit.id == "church-festival"
    assert hit.snippet.startswith("Thousands of pilgrims gathered")
    assert "<mark>" not in hit.snippet


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('"resort town"', [SEED.stem]),
        ('"town resort"', []),
        ("border -Jermuk", ["border-talks"]),
        ("border NOT Jermuk", ["border-talks"]),
        ("Jermuk AND spa", ["feed-1"]),
        ("+spa Jermuk", ["feed-1"]),
        ("headline:jermuk", ["feed-1"]),
        ("caption:soldiers", [SEED.stem]),
        ("jerm*", ["feed-1", SEED.stem]),
        ("Jermuk date:2023", ["feed-1"]),
        ("Jermuk date:2022-09-01..2022-09-30", [SEED.stem]),
        ("ELYSEE PALACE", [SEED.stem]),
        ("what about the chess olympiad?", ["feed-2"]),
    ],
)
def test_query_syntax(archive, query, expected):
    assert sorted(ids(archive.search(query))) == sorted(expected)


def test_date_filter_parameters(archive):
    results = archive.search("border jermuk", date_from=date(2023, 1, 1))
    assert sorted(ids(results)) == ["border-talks", "feed-1"]
    results = archive.search("border jermuk", date_to=date(2022, 12, 31))
    assert ids(results) == [SEED.stem]


def test_sort_by_date_puts_undated_articles_last(archive):
    query = "border OR jermuk OR festival OR apricot OR chess"
    newest = archive.search(query, sort="newest")
    oldest = archive.search(query, sort="oldest")
    assert ids(newest) == [
        "feed-1", "border-talks", SEED.stem, "feed-2", "church-festival", "undated-recipe"]
    assert ids(oldest)[:5] == ["church-festival", "feed-2", SEED.stem, "border-talks", "feed-1"]


def test_paging(archive):
    query = "border OR jermuk OR festival OR apricot OR chess"
    everything = ids(archive.search(query, per_page=10))
    pages = [archive.search(query, page=n, per_page=2) for n in (1, 2, 3, 4)]
    assert [ids(p) for p in pages[:3]] == [everything[0:2], everything[2:4], everything[4:6]]
    assert pages[3].hits == [] and pages[3].total == 6 and pages[3].pages == 3


def test_did_you_mean_when_a_correction_finds_more(archive):
    results = archive.search("Jermukk", correct=False)
    assert results.total == 0
    assert results.suggestion == "jermuk"
    assert archive.search("Jermukk spa").suggestion == "jermuk spa"  # relaxed: spa alone
    assert archive.search("Jermuk").suggestion is None


@pytest.mark.parametrize("query", ["the", "*", "?", '"', "-", "AND", "\x00", "((((", "🙂", "שלום"])
def test_queries_with_nothing_searchable_find_nothing(archive, query):
    results = archive.search(query)
    assert results.total == 0 and results.hits == []


def test_bad_paging_and_sort_are_refused(archive):
    for kwargs in ({"page": 0}, {"per_page": 51}, {"sort": "random"}, {"page": 1001}):
        with pytest.raises(ValueError):
            archive.search("jermuk", **kwargs)


def test_article_with_related_articles(archive):
    record = archive.article(SEED.stem)
    assert record.headline == "Fighting Continues on Armenia-Azerbaijan Border"
    assert record.paragraphs[0].startswith("YEREVAN")
    assert record.caption.startswith("Armenian soldiers")
    assert "border-talks" in [r.id for r in record.related]
    assert SEED.stem not in [r.id for r in record.related]
    assert archive.article("no-such-id") is None


def test_snippets_escape_article_markup(tmp_path, make_archive):
    folder = write_articles(tmp_path / "a", {"x.txt": "Hostile\n\nThe <script>alert(1)</script> "
                                              "payload & <b>bold</b> jermuk text."})
    built = make_archive([folder])
    snippet = built.open().search("jermuk").hits[0].snippet
    assert "<script>" not in snippet and "&lt;script&gt;" in snippet
    assert "&amp;" in snippet and "<mark>jermuk</mark>" in snippet


def test_missing_and_empty_index_say_how_to_build_one(tmp_path, make_archive):
    with pytest.raises(IndexUnavailable, match="searchapp index"):
        make_archive(name="none").open().search("x")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(IndexUnavailable, match="no articles"):
        make_archive([empty]).open().search("x")


def test_new_commits_are_seen_without_reopening(archive, archive_dir, built_archive):
    assert archive.search("marathon").total == 0
    write_articles(archive_dir, {"marathon.txt": "City Marathon\n\nRunners filled the streets."})
    built_archive.update([archive_dir])
    assert ids(archive.search("marathon")) == ["marathon"]


def _answer(results) -> tuple:
    return results.total, ids(results), [hit.snippet for hit in results.hits]


def test_searches_from_many_threads_at_once_each_get_their_own_answer(archive):
    # Request threads share the archive's searchers, each lent to one call at a time.
    queries = ["Jermuk", "fight", "border jermuk", "festival olympiad", "apricot", "Jermukk"]
    expected = {query: _answer(archive.search(query)) for query in queries}
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda query: (query, _answer(archive.search(query))),
                                queries * 20))
    assert all(answer == expected[query] for query, answer in answers)


@pytest.mark.whoosh_only  # Whoosh's segment files
def test_a_rebuilt_index_leaves_no_old_file_held_open(archive, archive_dir, built_archive):
    # Searches at once are lent several searchers; after a rebuild, none of them may keep
    # the replaced segments' files open, or their disk space would never come back.
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(archive.search, ["Jermuk", "border", "fight", "festival"] * 10))
    built_archive.update([archive_dir], rebuild=True)
    assert archive.search("Jermuk").total == 2
    held = [os.readlink(fd) for fd in Path("/proc/self/fd").iterdir() if fd.is_symlink()]
    folder = str(built_archive.index_dir.resolve())
    assert not [path for path in held if path.startswith(folder) and path.endswith(" (deleted)")]


def test_a_word_weighs_less_once_articles_added_since_make_it_common(tmp_path, make_archive):
    # The engine remembers each word's article count for one state of the index: once
    # "apricot" is common, the rarer "quince" ranks first.
    folder = write_articles(tmp_path / "a", {
        "apricot.txt": "Orchard Notes\n\nThe apricot trees were pruned in spring.",
        "quince.txt": "Orchard Notes\n\nThe quince trees were pruned in spring.",
        "q1.txt": "Market One\n\nA quince jam sold out.",
        "q2.txt": "Market Two\n\nA quince tart sold out.",
    })
    built = make_archive([folder])
    archive = built.open()
    assert ids(archive.search("apricot quince"))[0] == "apricot"
    write_articles(folder, {f"a{n}.txt": f"Stall {n}\n\nApricot {n} crates sold out."
                            for n in range(8)})
    built.update([folder])
    found = ids(archive.search("apricot quince", per_page=20))
    assert found.index("quince") < found.index("apricot")


def test_long_snippets_show_where_the_text_goes_on(archive):
    seed = next(hit for hit in archive.search("Jermuk").hits if hit.id == SEED.stem)
    assert seed.snippet.startswith("… ") and seed.snippet.endswith(" …")


@pytest.mark.whoosh_only  # the Whoosh engine's own time limit
def test_a_search_stopped_by_the_time_limit_returns_what_it_found(archive, monkeypatch):
    import searchapp.backends.whoosh.archive as searching

    monkeypatch.setattr(searching, "SEARCH_SECONDS", 0.0)
    results = archive.search("border jermuk festival apricot chess")
    assert results.complete is False
    assert results.total >= len(results.hits)
    assert results.suggestion is None


@pytest.mark.whoosh_only  # the Whoosh engine's own time limit
def test_the_page_says_when_a_search_was_stopped(client, monkeypatch):
    import searchapp.backends.whoosh.archive as searching

    monkeypatch.setattr(searching, "SEARCH_SECONDS", 0.0)
    assert "took too long and was stopped" in client.get("/?q=border+jermuk").get_data(as_text=True)


def test_timeline_counts_matches_per_year_with_empty_years_between(tmp_path, make_archive):
    folder = write_articles(tmp_path / "a", {
        "a.txt": "Date: 2019-03-01\n\nOld Apricots\n\nApricots then.",
        "b.txt": "Date: 2021-07-01\n\nNew Apricots\n\nApricots now.",
        "c.txt": "Date: 2021-08-01\n\nMore Apricots\n\nApricots again.",
        "d.txt": "Undated Apricots\n\nApricots, whenever.",
    })
    built = make_archive([folder])
    timeline = built.open().search("apricots").timeline
    assert [(p.label, p.count) for p in timeline] == [("2019", 1), ("2020", 0), ("2021", 2)]
    assert (timeline[0].start, timeline[0].end) == (date(2019, 1, 1), date(2019, 12, 31))


def test_timeline_counts_per_month_when_matches_span_less_than_two_years(archive):
    results = archive.search("jermuk OR border")
    assert [(p.label, p.count) for p in results.timeline][:2] == [("2022-09", 1), ("2022-10", 0)]
    assert results.timeline[-1].label == "2023-05" and len(results.timeline) == 9
    assert results.timeline[-1].end == date(2023, 5, 31)


def test_a_query_that_finds_nothing_is_corrected(archive):
    results = archive.search("Jermukk")
    assert (results.query, results.corrected, results.suggestion) == ("Jermukk", "jermuk", None)
    assert ids(results)[0] == "feed-1" and results.total == 2
    exact = archive.search("Jermukk", correct=False)
    assert (exact.total, exact.corrected, exact.suggestion) == (0, None, "jermuk")


def test_completions_of_the_last_word_most_common_first(archive):
    assert archive.complete("fighting jer") == ["fighting jermuk"]
    assert archive.complete("the bo")[0] == "the border"
    assert archive.complete("x") == [] and archive.complete("") == []
    assert archive.complete("zzzq") == []


# The engine: a random archive in two segments, with replaced and undated articles, checked
# against sets worked out from the articles' own words.
VOCABULARY = ("apricot border chess festival harvest jermuk olympiad pilgrim spa treaty "
              "valley vineyard").split()


def random_articles() -> tuple[dict, dict, dict]:
    """The random archive's first run, the articles its second run replaces or adds, and
    each article's words (the same every time: a seeded generator)."""
    import random

    rng = random.Random(7)
    words_of = {}

    def article(number: int, dated: bool = True) -> str:
        words = rng.choices(VOCABULARY, k=rng.randint(3, 40))
        words_of[f"a{number:03}"] = set(words)
        stamp = f"Date: 2020-{rng.randint(1, 12):02}-{rng.randint(1, 28):02}\n\n" if dated else ""
        return f"{stamp}Story {number}\n\n{' '.join(words)}."

    first = {f"a{n:03}.txt": article(n, dated=n % 7 != 0) for n in range(120)}
    replaced = (*range(0, 120, 10), *range(120, 150))
    second = {f"a{n:03}.txt": article(n) for n in replaced}
    return first, second, words_of


@pytest.fixture
def random_archive(shared_archive):
    # A second run replaces a few articles and adds some: two segments, with deletions.
    first, second, words_of = random_articles()
    built = shared_archive("random", lambda folder: write_articles(folder, first),
                           lambda folder: write_articles(folder, second))
    return built.open(), words_of


def _all_hits(archive, query, **options):
    results = archive.search(query, per_page=50, snippets=False, **options)
    hits = list(results.hits)
    for page in range(2, results.pages + 1):
        hits += archive.search(query, page=page, per_page=50, snippets=False, **options).hits
    return results, hits


@pytest.mark.parametrize("query", ["apricot", "apricot chess", "spa valley treaty", "+chess +spa",
                                   "vineyard -border", '"harvest"', "jermuk OR pilgrim"])
def test_engine_finds_exactly_the_articles_with_the_words(random_archive, query):
    archive, words_of = random_archive
    words = [w.strip('"+') for w in query.split() if w not in ("OR",) and not w.startswith("-")]
    required = [w[1:] for w in query.split() if w.startswith("+")]
    excluded = [w[1:] for w in query.split() if w.startswith("-")]
    # Every word counts (issue 14), unless the query says OR or marks some words required.
    enough = any if "OR" in query or required else all
    expected = {
        article for article, words_in in words_of.items()
        if enough(w in words_in for w in words) and all(w in words_in for w in required)
        and not any(w in words_in for w in excluded)
    }
    results, hits = _all_hits(archive, query)
    assert results.total == len(expected)
    assert {hit.id for hit in hits} == expected
    scores = [hit.score for hit in hits]
    assert scores == sorted(scores, reverse=True)


def test_engine_date_filter_keeps_the_order_of_the_unfiltered_results(random_archive):
    archive, _ = random_archive
    _, everything = _all_hits(archive, "apricot chess harvest")
    start, end = date(2020, 3, 1), date(2020, 8, 31)
    results, filtered = _all_hits(archive, "apricot chess harvest", date_from=start, date_to=end)
    expected = [hit.id for hit in everything if hit.date and start <= hit.date <= end]
    assert [hit.id for hit in filtered] == expected
    assert results.total == len(expected)
    assert sum(period.count for period in results.timeline) == len(expected)


@pytest.mark.parametrize("sort", ["newest", "oldest"])
def test_engine_sorts_by_date_with_undated_articles_last(random_archive, sort):
    archive, _ = random_archive
    _, hits = _all_hits(archive, "border spa", sort=sort)
    dated = [hit.date for hit in hits if hit.date]
    assert dated == sorted(dated, reverse=sort == "newest")
    first_undated = next(i for i, hit in enumerate(hits) if hit.date is None)
    assert all(hit.date is None for hit in hits[first_undated:])


def test_engine_pages_do_not_overlap_or_skip(random_archive):
    archive, _ = random_archive
    one_page = archive.search("festival olympiad", per_page=50, snippets=False).hits
    paged = []
    for page in range(1, 8):
        paged += archive.search("festival olympiad", page=page, per_page=7, snippets=False).hits
    assert len(one_page) > 21
    assert [hit.id for hit in paged] == [hit.id for hit in one_page][:len(paged)]


@pytest.fixture
def phrase_archive(tmp_path, make_archive):
    filler = "The council met on Tuesday and the minutes were read aloud by the clerk."
    folder = write_articles(tmp_path / "p", {
        "exact.txt": f"Rates Held\n\n{filler} The Bank of England held rates.",
        "twice.txt": f"Rates Held Again\n\n{filler} The Bank of England, yes, the bank of england.",
        "apart.txt": f"England Notes\n\n{filler} England has a bank; the bank is old.",
        "headline.txt": f"Bank of England Holds Rates\n\n{filler} Nothing else.",
    })
    return make_archive([folder]).open()


def test_a_phrase_with_a_stop_word_inside_matches_those_words_in_a_row(phrase_archive):
    found = ids(phrase_archive.search('"bank of england"'))
    assert set(found) == {"exact", "twice", "headline"}
    assert ids(phrase_archive.search('"england bank"')) == []


def test_a_phrase_found_in_the_headline_or_more_often_ranks_higher(phrase_archive):
    found = ids(phrase_archive.search('"bank of england"'))
    # Each against "exact", which has the phrase once, in its body.
    assert found.index("headline") < found.index("exact")
    assert found.index("twice") < found.index("exact")
    marked = [h for h in phrase_archive.search('"bank of england"').hits if h.id == "exact"]
    # The phrase is marked as a whole (issue 14.5), not word by word.
    assert "<mark>Bank of England</mark>" in marked[0].snippet


def test_accents_are_folded_in_matching_and_marked_in_the_snippet(tmp_path, make_archive):
    filler = "Officials met on Tuesday to discuss the agenda for the coming season. " * 6
    folder = write_articles(tmp_path / "a", {
        "paris.txt": f"Talks in Paris\n\n{filler}The talks at the Élysée ended late.",
    })
    built = make_archive([folder])
    archive = built.open()
    for query in ("Elysee", "élysée", "ÉLYSÉE"):
        hit = archive.search(query).hits[0]
        assert "<mark>Élysée</mark>" in hit.snippet


def test_a_correction_longer_than_a_query_may_be_is_not_offered(archive):
    assert archive.search("Jermk", correct=False).suggestion == "jermuk"
    results = archive.search("Jermk " * 333)  # 1,998 characters; corrected, 2,331
    assert (results.total, results.suggestion, results.corrected) == (0, None, None)


def _porter_stemmed_archive(tmp_path, monkeypatch) -> Archive:
    """Index one story with Whoosh's Porter stemmer (an older searchapp's analyzer)."""
    folder = write_articles(tmp_path / "a", {"strike.txt": "Strike\n\nThe general strike ended."})
    monkeypatch.setattr(indexing, "ANALYZER", StemmingAnalyzer())  # Porter's "gener"
    update_index([folder], tmp_path / "ix")
    monkeypatch.undo()
    return Archive(tmp_path / "ix")


@pytest.mark.whoosh_only  # a Whoosh index with another analyzer
def test_an_index_built_with_another_stemmer_still_matches(tmp_path, monkeypatch):
    assert ids(_porter_stemmed_archive(tmp_path, monkeypatch).search("general")) == ["strike"]


@pytest.mark.whoosh_only  # a Whoosh index with another analyzer
def test_an_index_built_with_another_stemmer_is_marked_with_it(tmp_path, monkeypatch):
    archive = _porter_stemmed_archive(tmp_path, monkeypatch)
    for _ in range(2):  # the second time with what the first remembered of the analyzer
        assert archive.search("generals").hits[0].snippet == (
            "The <mark>general</mark> strike ended.")


@pytest.mark.parametrize("query", ["author:smith", 'author:"anna smith"', "by:smith",
                                   'headline:"spa town"', "caption:vineyard", "caption:vine*"])
def test_a_word_or_phrase_in_one_named_field_is_found_there(tmp_path, query, make_archive):
    record = {"id": "one", "headline": "Spa Town Reopens", "author": "Anna Smith",
              "caption": "A vineyard near the town", "body": "The springs are open again."}
    folder = write_articles(tmp_path / "a", {"feed.jsonl": json.dumps(record)})
    built = make_archive([folder])
    assert ids(built.open().search(query)) == ["one"]


def test_a_prefix_with_accents_finds_the_words_with_or_without_them(tmp_path, make_archive):
    folder = write_articles(tmp_path / "a", {"cafe.txt": "Café Society\n\nThe café reopened."})
    built = make_archive([folder])
    archive = built.open()
    for query in ("café*", "cafe*", "CAFÉ*", "caf*"):
        assert ids(archive.search(query)) == ["cafe"], query


def test_did_you_mean_for_a_rare_word_when_a_near_one_finds_many_more(tmp_path, make_archive):
    articles = {f"v{n}.txt": f"Fed Note {n}\n\nPaul Volcker spoke on rates, note {n}."
                for n in range(25)}
    articles["typo.txt"] = "Ford Hails Volker\n\nThe carmaker praised Volker and the Fed."
    built = make_archive([write_articles(tmp_path / "a", articles)])
    archive = built.open()
    results = archive.search("Volker")
    assert (results.total, results.suggestion, results.corrected) == (1, "volcker", None)
    # A word in as many articles as the correction would find is taken as meant.
    assert archive.search("Volcker").suggestion is None


def test_a_rare_word_two_edits_from_a_common_one_is_taken_as_meant(tmp_path, make_archive):
    # Two edits away from a word of the index, real words abound ("volkar", a name);
    # only a word no article has is corrected that far.
    articles = {f"v{n}.txt": f"Fed Note {n}\n\nPaul Volcker spoke on rates, note {n}."
                for n in range(25)}
    articles["name.txt"] = "Volkar Wins\n\nThe skater Volkar won the race."
    built = make_archive([write_articles(tmp_path / "a", articles)])
    archive = built.open()
    assert archive.search("Volkar").suggestion is None
    assert archive.search("Volkcer").corrected == "volcker"


def test_a_word_cut_short_is_corrected_to_the_common_word_it_begins(tmp_path, make_archive):
    # "coff" is one letter from "cff" and two from "coffee": a reader who stopped typing
    # means the word far more articles have, not the rare one fewer edits away.
    articles = {f"c{n}.txt": f"Coffee Report {n}\n\nBrazil's coffee crop grew, note {n}."
                for n in range(12)}
    articles.update({f"b{n}.txt": f"CFF Bonds {n}\n\nThe CFF issued bonds, note {n}."
                     for n in range(2)})
    archive = make_archive([write_articles(tmp_path / "a", articles)]).open()
    results = archive.search("coff")
    assert results.corrected == "coffee"
    assert results.total == 12 and all("Coffee" in hit.headline for hit in results.hits)
    assert archive.search("cofee").corrected == "coffee"
    # A typo near the rare word only is still corrected to it.
    assert archive.search("cffx").corrected == "cff"


@pytest.mark.parametrize("typed, found", [
    ("jer", ["feed-1", SEED.stem]),       # the word being typed is a prefix
    ("jermuk spa tow", ["feed-1"]),        # "tow" starts "town"
    ("spa town ", ["feed-1"]),             # a space after it: a whole word
    ("apricots", ["undated-recipe"]),      # a whole word typed is its own prefix, stemmed
])
def test_typing_reads_the_last_word_as_a_prefix(archive, typed, found):
    assert sorted(ids(archive.search(typed, typing=True))) == sorted(found)


def test_typing_never_corrects_the_half_typed_word(archive):
    results = archive.search("jermu", typing=True)
    assert results.corrected is None and results.suggestion is None and results.total == 2
    assert archive.search("jermu").corrected == "jermuk"


def test_prefix_finds_words_whose_stem_is_shorter_than_the_prefix(archive):
    # "apricots" is indexed as the stem "apricot".
    assert ids(archive.search("apricots*")) == ["undated-recipe"]


def test_everything_finds_every_article_for_an_empty_query(archive):
    results = archive.search("", sort="newest", everything=True)
    assert results.total == 6 and ids(results)[0] == "feed-1"
    assert ids(results)[-1] == "undated-recipe"
    assert archive.search("").total == 0
