"""An index deleted or damaged under the running service: 503s with the usual error
shapes, never a 500, and /healthz says so."""

import shutil

import pytest
from bs4 import BeautifulSoup
from conftest import write_articles

from searchapp import create_app
from searchapp.backends.whoosh import health
from searchapp.backends.whoosh.indexing import open_index, update_index

# Whoosh only: Whoosh's index files damaged on disk.
pytestmark = pytest.mark.whoosh_only


def _page_title(response) -> str:
    return BeautifulSoup(response.data, "html.parser").h1.get_text(strip=True)


def _assert_json_503(response):
    assert response.status_code == 503
    error = response.get_json()["error"]
    assert error["status"] == 503 and error["message"]


def test_deleted_index_answers_503_json_page_and_healthz(client, index_dir):
    assert client.get("/api/search?q=border").status_code == 200
    assert client.get("/healthz").status_code == 200
    shutil.rmtree(index_dir)
    _assert_json_503(client.get("/api/search?q=border"))
    _assert_json_503(client.get("/api/search?q=jermuk"))
    _assert_json_503(client.get("/api/articles/feed-1"))
    _assert_json_503(client.get("/api/suggest?q=bor"))
    for url in ("/?q=border", "/articles/feed-1", "/feed?q=border", "/"):
        response = client.get(url)
        assert response.status_code == 503, url
    assert client.get("/healthz").status_code == 503


def test_truncated_segment_answers_503_and_healthz_notices(client, index_dir):
    assert client.get("/api/search?q=border").status_code == 200
    for segment in index_dir.glob("*.seg"):
        with open(segment, "r+b") as file:
            file.truncate(segment.stat().st_size // 2)
    _assert_json_503(client.get("/api/search?q=border"))
    page = client.get("/?q=border")
    assert page.status_code == 503 and _page_title(page) == "Archive unavailable"
    health_response = client.get("/healthz")
    assert health_response.status_code == 503
    assert health_response.get_json()["status"] == "damaged"
    assert health_response.get_json()["reason"]


# Enough articles that a word's postings are written as blocks, not inlined in the
# words file, so damage to them shows only when that word is read.
MANY = {f"a{n:03}.txt": f"Story {n}\n\nHarbour cranes {n} and shipping news." for n in range(300)}


@pytest.fixture
def many_index(tmp_path):
    folder = write_articles(tmp_path / "many", MANY)
    target = tmp_path / "many-ix"
    update_index([folder], target)
    return target


def _postings_start(index_dir, field_name: str, word: str):
    """Return the segment file and the offset in it where a word's postings begin."""
    ix = open_index(index_dir)
    with ix.reader() as reader:
        (leaf, _), = reader.leaf_readers()
        segment = leaf.segment()
        info = leaf._terms.term_info(field_name, word.encode())
        assert info._inlined is None
        compound = segment.open_compound_file(ix.storage)
        start = compound.range(segment.make_filename(".pst"))[0] + info._offset
        compound.close()
    return index_dir / segment.make_filename(segment.COMPOUND_EXT), start


def test_one_damaged_word_answers_503_and_healthz_notices(many_index, monkeypatch):
    client = create_app({"INDEX_DIR": str(many_index), "TESTING": True}).test_client()
    assert client.get("/healthz").status_code == 200
    path, start = _postings_start(many_index, "body", "harbour")
    data = bytearray(path.read_bytes())
    assert data[start:start + 4] == b"W3Bl"
    data[start:start + 4] = b"\0\0\0\0"  # Whoosh: "Block tag error"
    path.write_bytes(bytes(data))
    # The sampled check reads only the segment's columns and stored articles here, so
    # healthz must learn of the damage from the search that met it.
    monkeypatch.setattr(health, "SAMPLED_TERMS", 1)
    monkeypatch.setattr(health, "_read_postings", lambda matcher: None)
    assert client.get("/api/search?q=shipping").status_code == 200
    _assert_json_503(client.get("/api/search?q=harbour"))
    page = client.get("/?q=harbour")
    assert page.status_code == 503 and _page_title(page) == "Archive unavailable"
    body = client.get("/healthz").get_json()
    assert body["status"] == "damaged" and "Block tag error" in body["reason"]


def test_healthz_reads_postings_of_a_sample_of_words(many_index, monkeypatch):
    monkeypatch.setattr(health, "SAMPLED_TERMS", 10**6)  # a sample of all the words
    path, start = _postings_start(many_index, "body", "harbour")
    data = bytearray(path.read_bytes())
    data[start:start + 4] = b"\0\0\0\0"
    path.write_bytes(bytes(data))
    # A fresh service: no search has met the damage yet.
    response = create_app({"INDEX_DIR": str(many_index)}).test_client().get("/healthz")
    assert response.status_code == 503
    assert "Block tag error" in response.get_json()["reason"]


def test_a_bug_in_searching_is_not_mistaken_for_damage():
    try:
        {}["missing"]
    except KeyError as error:
        assert not health.is_index_failure(error)
    assert health.is_index_failure(FileNotFoundError("gone"))
