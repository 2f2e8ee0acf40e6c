"""What the results page marks: the query in headlines (escaped once) and phrases whole."""

import json
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

RECORDS = [
    {"id": "gatt",
     "headline": "<script>alert('gatt')</script> Tariffs and Trade talks & <b>more</b>",
     "date": "1987-03-02",
     "body": "Ministers of the General Agreement on Tariffs and Trade met in Geneva. Trade "
             "grew last year, officials said, and tariffs fell. The talks go on."},
]


@pytest.fixture
def client(tmp_path: Path, make_archive):
    source = tmp_path / "a.jsonl"
    source.write_text("\n".join(json.dumps(r) for r in RECORDS), encoding="utf-8")
    return make_archive([source], name="index").client(TESTING=True)


def test_a_headline_is_marked_and_a_script_in_it_stays_inert(client):
    page = BeautifulSoup(client.get("/?q=trade").data, "html.parser")
    headline = page.select_one("li.result h2 a")
    assert not page.select("li.result script") and not headline.find("b")
    assert headline.get_text() == RECORDS[0]["headline"]
    assert [m.get_text() for m in headline.find_all("mark")] == ["Trade"]
    data = client.get("/api/search?q=trade").get_json()["results"][0]
    assert data["headline_html"] == (
        "&lt;script&gt;alert('gatt')&lt;/script&gt; Tariffs and <mark>Trade</mark> talks "
        "&amp; &lt;b&gt;more&lt;/b&gt;")


def test_a_phrase_is_marked_whole_in_headline_and_snippet(client):
    page = BeautifulSoup(client.get('/?q="tariffs and trade"').data, "html.parser")
    result = page.select_one("li.result")
    assert [m.get_text() for m in result.select("h2 mark")] == ["Tariffs and Trade"]
    assert [m.get_text() for m in result.select(".snippet mark")] == ["Tariffs and Trade"]
