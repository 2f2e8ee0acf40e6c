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


def test_half_of_is_fixed_and_keeps_a_sites_pages_together():
    from bench.extraction import half_of

    first = half_of("https://www.example.com/news/one.html")

    assert first in {"A", "B"}
    assert half_of("http://example.com/other/page") == first
    assert half_of("https://www.example.com/news/one.html") == first


def test_halves_report_tunes_on_one_half_and_scores_the_other():
    from bench.extraction import PageRun, format_halves, half_of, halves_report
    from searchapp.extraction import Agreement, compare_bodies

    article = ["The council voted on Tuesday to rebuild the old harbour bridge in stone."]
    widget = ["Text size"]
    urls, runs = {}, []
    for number in range(12):
        url = f"https://site{number}.example/a"
        urls[str(number)] = url
        bodies = compare_bodies(article + widget, article, [])
        runs.append(PageRun(str(number), article[0], bodies, article, 0.01, 0.01))
    halves = {half_of(url) for url in urls.values()}

    rows, tuned = halves_report(runs, urls, None)

    assert halves == {"A", "B"}
    assert set(tuned) == {"A", "B"}
    assert all(isinstance(agreement, Agreement) for agreement in tuned.values())
    combined = [row for row in rows if row.system.startswith("combination")]
    assert {row.half for row in combined} == {"A", "B"}
    # The widget trafilatura does not have is dropped, on the half not tuned on too.
    assert all(row.f1 == 1.0 for row in combined)
    table = format_halves(rows, tuned)
    assert table.splitlines()[0].startswith("| half | system | F1 |")


def test_measure_speed_times_each_system_on_each_page():
    from bench.extraction import COMBINED, LIBRARY, OURS, format_speed, measure_speed

    text = "The council voted on Tuesday to rebuild the old harbour bridge in stone. " * 5
    html = {
        name: f"<html><body><article><h1>{name}</h1><p>{text}</p></article></body></html>"
        for name in ("one", "two")
    }

    timings = measure_speed(html, repeat=2)

    assert set(timings) == {COMBINED, OURS, LIBRARY}
    for timing in timings.values():
        assert set(timing.cpu) == set(timing.wall) == {"one", "two"}
        cpu, wall = timing.seconds(["one", "two"])
        assert cpu >= 0 and wall > 0
    lines = format_speed(timings, 2).splitlines()
    assert "pages/s per core" in lines[1] and "pages/s wall" in lines[1]
    assert [line.split("  ")[1].strip() for line in lines[2:]] == [COMBINED, OURS, LIBRARY]


def test_halves_report_gives_our_body_alone_its_speed():
    from bench.extraction import PageRun, halves_report
    from searchapp.extraction import compare_bodies

    article = ["The council voted on Tuesday to rebuild the old harbour bridge in stone."]
    urls, runs = {}, []
    for number in range(6):
        urls[str(number)] = f"https://site{number}.example/a"
        runs.append(PageRun(str(number), article[0], compare_bodies(article, article, []),
                            article, 0.04, 0.02, 0.01))

    rows, _ = halves_report(runs, urls, None)

    speeds = {row.system.split(",")[0]: row.pages_per_cpu_second for row in rows}
    assert speeds == {"trafilatura alone": pytest.approx(50), "our body alone": pytest.approx(100),
                      "combination": pytest.approx(25)}


def test_measure_parsers_times_beautifulsoup_against_lxml():
    from bench.extraction import measure_parsers

    html = {"one": "<html><body><p>" + "word " * 200 + "</p></body></html>"}

    times = measure_parsers(html, repeat=1)

    assert len(times) == 2
    assert any("BeautifulSoup" in name for name in times)
    assert all(milliseconds >= 0 for milliseconds in times.values())
