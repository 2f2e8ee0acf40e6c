"""Near-duplicate articles: signatures, grouping, and folding copies in search results."""

import hashlib
import json
import random
from pathlib import Path

import pytest

from searchapp.duplicates import (
    NO_SIGNATURE,
    SIGNATURE_BATCH,
    SIGNATURE_BYTES,
    group_copies,
    is_copy,
    signature,
    signatures,
    similarity,
)

STORY = ("The Bundesbank left its credit policies unchanged after today's regular meeting of "
         "its central bank council, a spokesman said in answer to enquiries. The discount "
         "rate stays at three pct and the Lombard rate at five pct, he said, and the next "
         "meeting of the council is due in two weeks' time in Frankfurt.")
# Same topic, same day, different story: must never be folded into STORY.
OTHER = ("West German Finance Minister Gerhard Stoltenberg said the Bundesbank's credit "
         "policies were a matter for the central bank alone and declined to say whether "
         "interest rates should fall. He told reporters in Bonn that the government was "
         "content with the mark's level against the dollar after the Paris accord.")


def test_a_rerun_with_a_corrected_word_and_another_headline_case_is_a_copy():
    original = signature(STORY, "BUNDESBANK LEAVES CREDIT POLICIES UNCHANGED")
    rerun = signature(STORY.replace("two weeks'", "three weeks'").upper(),
                      "Bundesbank leaves credit policies unchanged")
    assert similarity(original[:64], rerun[:64]) >= 0.6
    assert is_copy(original, rerun, 100, 100)
    assert is_copy(original, rerun, 100, 101)  # a rerun after midnight


def test_stories_that_share_a_topic_are_not_copies():
    story = signature(STORY, "BUNDESBANK LEAVES CREDIT POLICIES UNCHANGED")
    other = signature(OTHER, "STOLTENBERG DECLINES COMMENT ON BUNDESBANK CREDIT POLICIES")
    assert not is_copy(story, other, 100, 100)


def test_the_same_text_weeks_apart_is_not_a_copy():
    story = signature(STORY, "BUNDESBANK LEAVES CREDIT POLICIES UNCHANGED")
    assert not is_copy(story, story, 100, 114)
    assert not is_copy(story, story, 100, None)
    assert is_copy(story, story, None, None)


def test_a_flash_is_a_copy_of_its_story_by_its_headline():
    story = signature(STORY, "BUNDESBANK LEAVES CREDIT POLICIES UNCHANGED")
    flash = signature("", "Bundesbank says it leaves credit policies unchanged")
    assert flash[:64] == bytes(64)
    assert is_copy(story, flash, 100, 100)
    assert not is_copy(story, signature("", "Bundesbank sees no change in money supply"),
                       100, 100)


@pytest.mark.parametrize("body, headline", [("", ""), ("Gold 400 dlrs", "GOLD"),
                                            ("x " * 5, "A B")])
def test_too_short_a_text_has_no_signature_and_is_never_a_copy(body, headline):
    sig = signature(body, headline)
    assert sig == NO_SIGNATURE and len(sig) == SIGNATURE_BYTES
    assert not is_copy(sig, sig, 1, 1)


def test_short_notes_with_look_alike_headlines_never_fold():
    filler = "The committee met in the hall and discussed the agenda for the coming season."
    one = signature(f"{filler} Runners cheered.", "Marathon Route Announced Today")
    two = signature(f"{filler} Marathon runners.", "New Route Announced Today")
    assert not is_copy(one, two, None, None)


def test_a_huge_text_is_signed_from_its_first_words():
    text = " ".join(f"w{n}" for n in range(400_000))
    assert signature(text) == signature(" ".join(f"w{n}" for n in range(3000)) + " other")


# What the signatures of ``_texts_to_sign`` hash to: made by the code of sessions 4 and 5
# (commit 3bc55fd), whose signatures indexes built then hold. Signatures made now must be
# the same bytes, or copies indexed before and after would no longer fold together.
EARLIER_SIGNATURES_SHA256 = "4ee124030fb76c919c06ad93041e6b92e2099d981b8a68368fb139200bd3dd4d"


def _texts_to_sign():
    """Random word salads of every length around the limits, with headlines of 0-8 words."""
    chance = random.Random(16)
    vocabulary = ["gold", "Bonn", "pct", "the", "Élysée", "3.5", "dlrs", "x", "OPEC", "mln"]
    for length in [0, 1, 2, 3, 4, 29, 30, 31, 100, 2999, 3000, 3001, *range(5, 300, 7)]:
        words = chance.choices(vocabulary, k=length)
        yield " ".join(words), " ".join(words[:chance.randint(0, 8)])


def test_signatures_are_the_bytes_earlier_versions_made():
    now = [signature(body, headline) for body, headline in _texts_to_sign()]
    assert hashlib.sha256(b"".join(now)).hexdigest() == EARLIER_SIGNATURES_SHA256
    assert sum(map(any, now)) > len(now) // 2  # most of them sign something


def test_ascii_words_are_the_words_of_the_lower_case_text():
    """ASCII text (most of it) is split with bytes methods: the same words, lowered, as
    the pattern finds in its lower-case text, whatever the punctuation and controls."""
    from searchapp.duplicates import _WORD, _body_words

    chance = random.Random(16)
    for _ in range(5000):
        text = "".join(chance.choices("aZq9_ .,'-\t\n\x0b\x1f\x7f(", k=chance.randint(0, 30)))
        assert _body_words(text) == [word.encode() for word in _WORD.findall(text.lower())]


def test_signatures_made_together_are_the_bytes_made_one_by_one():
    """Indexing signs many articles at once: each gets its own bytes, across batches."""
    earlier = list(_texts_to_sign())
    texts = earlier * (SIGNATURE_BATCH // len(earlier) + 2)
    together = signatures(texts)
    assert together == [signature(body, headline) for body, headline in texts]
    assert (hashlib.sha256(b"".join(together[:len(earlier)])).hexdigest()
            == EARLIER_SIGNATURES_SHA256)


def test_copies_fold_into_the_first_in_result_order():
    story, other = signature(STORY, "A B C D"), signature(OTHER, "E F G H")
    groups = group_copies([("a", story, 5), ("b", other, 5), ("c", story, 5), ("d", story, 9),
                           ("e", NO_SIGNATURE, 5), ("f", NO_SIGNATURE, 5)])
    assert [(g.first, g.copies) for g in groups] == [
        ("a", ["c"]), ("b", []), ("d", []), ("e", []), ("f", [])]


# An archive with a story, its wire copy, a corrected rerun, a flash, and articles that
# share its topic (the same day and another day).
RECORDS = [
    {"id": "story", "headline": "BUNDESBANK LEAVES CREDIT POLICIES UNCHANGED",
     "date": "1987-03-05", "body": STORY},
    {"id": "copy", "headline": "Bundesbank leaves credit policies unchanged",
     "date": "1987-03-05", "body": STORY},
    {"id": "rerun", "headline": "CORRECTED - BUNDESBANK LEAVES CREDIT POLICIES UNCHANGED",
     "date": "1987-03-06", "body": STORY.replace("two weeks'", "three weeks'")},
    {"id": "flash", "headline": "Bundesbank says it leaves credit policies unchanged",
     "date": "1987-03-05", "body": ""},
    {"id": "other", "headline": "STOLTENBERG DECLINES COMMENT ON BUNDESBANK CREDIT POLICIES",
     "date": "1987-03-05", "body": OTHER},
    {"id": "fortnight", "headline": "BUNDESBANK LEAVES CREDIT POLICIES UNCHANGED",
     "date": "1987-03-19", "body": STORY},
]
COPIES = {"copy", "rerun", "flash"}


@pytest.fixture
def copies_index(tmp_path: Path, make_archive):
    source = tmp_path / "wire.jsonl"
    source.write_text("\n".join(json.dumps(r) for r in RECORDS), encoding="utf-8")
    return make_archive([source], name="index")


@pytest.mark.parametrize("sort", ["relevance", "newest", "oldest"])
def test_search_folds_copies_into_one_result(copies_index, sort):
    results = copies_index.open().search("bundesbank credit policies", sort=sort)
    assert results.total == len(RECORDS)  # total counts every matching article
    assert results.collapsed == len(COPIES)
    assert results.pages == 1
    ids = [hit.id for hit in results.hits]
    assert {"other", "fortnight"} <= set(ids)
    assert len(ids) == len(RECORDS) - len(COPIES)
    folded = [hit for hit in results.hits if hit.similar]
    assert len(folded) == 1
    assert set(folded[0].similar) | {folded[0].id} == COPIES | {"story"}


def test_similar_lists_an_article_and_its_copies_unfolded(copies_index):
    archive = copies_index.open()
    first = archive.search("bundesbank credit policies").hits[0]
    group = archive.search("bundesbank credit policies", similar_to="story")
    assert {hit.id for hit in group.hits} == COPIES | {"story"}
    assert group.total == 4 and group.collapsed == 0
    assert first.id in COPIES | {"story", "other", "fortnight"}
    assert archive.search("bundesbank", similar_to="no-such-article").total == 0


def test_page_api_and_feed_show_similar_articles(copies_index):
    client = copies_index.client(TESTING=True)
    from bs4 import BeautifulSoup

    page = BeautifulSoup(client.get("/?q=bundesbank+credit+policies").data, "html.parser")
    links = page.select("a.similar")
    assert len(links) == 1 and links[0].get_text(strip=True) == "3 similar articles"
    group = BeautifulSoup(client.get(links[0]["href"]).data, "html.parser")
    assert len(group.select("li.result")) == 4
    assert "all results" in group.get_text()

    data = client.get("/api/search?q=bundesbank+credit+policies").get_json()
    assert data["total"] == 6 and data["collapsed"] == 3
    folded = [hit for hit in data["results"] if hit["similar"]["count"]]
    assert len(folded) == 1 and len(folded[0]["similar"]["ids"]) == 3
    listed = client.get(folded[0]["similar"]["url"]).get_json()
    assert {hit["id"] for hit in listed["results"]} == COPIES | {"story"}
    assert all(hit["similar"] == {"count": 0, "ids": [], "url": None}
               for hit in data["results"] if not hit["similar"]["count"])

    feed = BeautifulSoup(client.get("/feed?q=bundesbank+credit+policies").data, "xml")
    entries = feed.find_all("entry")
    assert len(entries) == 3
    summaries = [BeautifulSoup(e.summary.get_text(), "html.parser") for e in entries]
    notes = [a for s in summaries for a in s.find_all("a")]
    assert [a.get_text() for a in notes] == ["3 similar articles"]
    assert "similar=" in notes[0]["href"]


@pytest.mark.whoosh_only  # a Whoosh schema without the signature field
def test_an_index_built_before_signatures_still_searches_and_grows(tmp_path, monkeypatch):
    """An index without the signature field: nothing folds, and new articles get one."""
    import searchapp.backends.whoosh.indexing as indexing
    from searchapp.backends.whoosh import WhooshArchive as Archive
    from searchapp.backends.whoosh.indexing import update_index

    old_schema = indexing.make_schema

    def without_signature():
        schema = old_schema()
        schema.remove("signature")
        return schema

    monkeypatch.setattr(indexing, "make_schema", without_signature)
    real_document = indexing._document
    monkeypatch.setattr(indexing, "_document", lambda article, key, signature: {
        k: v for k, v in real_document(article, key, signature).items() if k != "signature"})
    first = tmp_path / "a.jsonl"
    first.write_text("\n".join(json.dumps(r) for r in RECORDS[:2]), encoding="utf-8")
    update_index([first], tmp_path / "index")
    monkeypatch.undo()

    archive = Archive(tmp_path / "index")
    results = archive.search("bundesbank")
    assert results.total == 2 and results.collapsed == 0
    second = tmp_path / "b.jsonl"
    second.write_text("\n".join(json.dumps(r) for r in RECORDS[2:]), encoding="utf-8")
    update_index([first, second], tmp_path / "index")
    results = Archive(tmp_path / "index").search("bundesbank credit policies")
    assert results.total == len(RECORDS)
    # The new rerun and flash carry signatures and fold into each other only when alike;
    # the old story and copy have none and stay apart.
    ids = {hit.id for hit in results.hits} | {i for hit in results.hits for i in hit.similar}
    assert ids == {r["id"] for r in RECORDS}
    assert {"story", "copy"} <= {hit.id for hit in results.hits}


@pytest.mark.parametrize("article_id", ["\udc80", "x" * 999, "../story", ""])
def test_similar_to_an_odd_id_finds_nothing_and_never_fails(copies_index, article_id):
    results = copies_index.open().search("bundesbank", similar_to=article_id or None)
    assert results.total == (len(RECORDS) if not article_id else 0)
