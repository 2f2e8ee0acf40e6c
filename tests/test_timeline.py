"""The timeline of matches: periods, the archive's own totals, days within a month."""

import json
from datetime import date
from pathlib import Path

import pytest
from bs4 import BeautifulSoup


def _record(number, day, topic):
    return {"id": f"a{number}", "headline": f"{topic} report number {number}", "date": day,
            "body": f"A {topic} story, number {number}, about {topic} and more {topic}."}


# Wheat twice in March, once in June; the archive has other articles in March, April and
# June, and none at all in May.
RECORDS = [
    _record(1, "1987-03-02", "wheat"), _record(2, "1987-03-20", "wheat"),
    _record(3, "1987-06-11", "wheat"),
    *[_record(10 + n, f"1987-03-{n + 1:02}", "coffee") for n in range(6)],
    _record(20, "1987-04-09", "coffee"), _record(21, "1987-06-01", "coffee"),
]


@pytest.fixture
def timeline_index(tmp_path: Path, make_archive):
    source = tmp_path / "archive.jsonl"
    source.write_text("\n".join(json.dumps(r) for r in RECORDS), encoding="utf-8")
    return make_archive([source], name="index")


def test_periods_carry_the_archives_totals(timeline_index):
    timeline = timeline_index.open().search("wheat").timeline
    assert [(p.label, p.count, p.total) for p in timeline] == [
        ("1987-03", 2, 8), ("1987-04", 0, 1), ("1987-05", 0, 0), ("1987-06", 1, 2)]
    assert timeline[0].share == pytest.approx(0.25)
    assert timeline[2].share == 0


def test_a_month_chosen_shows_its_days(timeline_index):
    timeline = timeline_index.open().search(
        "wheat", date_from=date(1987, 3, 1), date_to=date(1987, 3, 31)).timeline
    assert len(timeline) == 31
    assert timeline[0].label == "1987-03-01" and timeline[-1].end == date(1987, 3, 31)
    days = {p.label: (p.count, p.total) for p in timeline}
    assert days["1987-03-02"] == (1, 2) and days["1987-03-20"] == (1, 1)
    assert days["1987-03-10"] == (0, 0)


def test_matches_within_one_month_are_counted_by_day(timeline_index):
    timeline = timeline_index.open().search("coffee", date_to=date(1987, 3, 31)).timeline
    assert [p.label for p in timeline][:2] == ["1987-03-01", "1987-03-02"]


def _page(built, url):
    client = built.client(TESTING=True)
    return BeautifulSoup(client.get(url).data, "html.parser")


def test_the_chart_labels_every_bar_and_tells_gaps_from_no_matches(timeline_index):
    page = _page(timeline_index, "/?q=wheat")
    chart = page.select_one(".chart-count svg")
    labels = [node["aria-label"] for node in chart.select("[aria-label]")]
    assert labels == [
        "March 1987: 2 matching articles of 8 (25.0%)",
        "April 1987: 0 matching articles of 1 (0.0%)",
        "May 1987: the archive has no articles",
        "June 1987: 1 matching article of 2 (50.0%)",
    ]
    assert chart.select_one(".no-archive") and chart.select_one(".no-match")
    # The axis says what the tallest bar stands for, in both modes.
    axis = [t.get_text() for t in chart.select("text.axis")]
    assert axis[:2] == ["2", "0"] and "Mar 1987" in axis
    share_axis = [t.get_text() for t in page.select(".chart-share text.axis")]
    assert share_axis[0] == "50.0%"
    # Bars link to their month; a month with no match links nowhere.
    links = chart.select("a")
    assert [a["href"] for a in links] == ["/?q=wheat&from=1987-03-01&to=1987-03-31",
                                          "/?q=wheat&from=1987-06-01&to=1987-06-30"]
    toggle = page.select(".timeline input[type=radio]")
    assert [t["id"] for t in toggle] == ["timeline-count", "timeline-share"]
    assert page.select_one("label[for=timeline-share]")


def test_a_month_link_leads_to_a_timeline_of_days(timeline_index):
    page = _page(timeline_index, "/?q=wheat&from=1987-03-01&to=1987-03-31")
    bars = page.select(".chart-count svg [aria-label]")
    assert len(bars) == 31
    assert bars[1]["aria-label"] == "March 2, 1987: 1 matching article of 2 (50.0%)"
    assert "per day" in page.select_one(".timeline figcaption").get_text()


@pytest.mark.whoosh_only  # OpenSearch counts its totals again only every TOTALS_SECONDS
def test_the_archives_totals_follow_the_index_as_it_changes(timeline_index, tmp_path):
    archive = timeline_index.open()
    march = {"date_from": date(1987, 3, 1), "date_to": date(1987, 3, 31)}
    assert [p.total for p in archive.search("wheat").timeline] == [8, 1, 0, 2]
    assert {p.label: p.total for p in archive.search("wheat", **march).timeline}[
        "1987-03-09"] == 0
    more = tmp_path / "more"
    more.mkdir()
    (more / "may.jsonl").write_text("\n".join(json.dumps(r) for r in [
        _record(30, "1987-05-04", "coffee"), _record(31, "1987-05-05", "coffee"),
        _record(32, "1987-03-09", "coffee")]), encoding="utf-8")
    timeline_index.update([more])
    # The same archive, still open, counts the new articles in their months and days.
    assert [p.total for p in archive.search("wheat").timeline] == [9, 1, 2, 2]
    assert {p.label: p.total for p in archive.search("wheat", **march).timeline}[
        "1987-03-09"] == 1
