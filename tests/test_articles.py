import gzip
import json
from datetime import date
from pathlib import Path
from xml.etree import ElementTree

import pytest
from conftest import SEED, write_articles

from searchapp.articles import (
    Article,
    Skip,
    SourceFile,
    decode_bytes,
    find_files,
    parse_jsonl_record,
    parse_text_article,
    read_articles,
)
from searchapp.textsafety import is_safe, printable, safe_text


def read_one(path: Path, root: Path | None = None):
    """Read a single file and return what the reader yields for it."""
    stat = path.stat()
    source = SourceFile(path, root or path.parent, stat.st_size, stat.st_mtime_ns)
    return list(read_articles(source))


# --- the client's seed ------------------------------------------------------------------

@pytest.fixture(scope="module")
def seed() -> Article:
    return parse_text_article(SEED.read_text(encoding="utf-8"), "seed")


def test_seed_headline_is_the_third_line(seed):
    assert seed.headline == "Fighting Continues on Armenia-Azerbaijan Border"


def test_seed_date_comes_from_the_text_not_the_caption(seed):
    # The caption's "May 17, 2021" is the photo's; "Wednesday morning, September 14" is 2022.
    assert seed.date == date(2022, 9, 14)


def test_seed_caption_is_kept_apart(seed):
    assert seed.caption == ("Armenian soldiers take up positions on the border with Azerbaijan, "
                            "May 17, 2021")
    assert "Armenian soldiers take up positions" not in seed.body


def test_seed_body_starts_at_the_dateline_without_dangling_bracket(seed):
    assert seed.body.startswith("YEREVAN — Fighting reportedly continued")
    assert "(" not in seed.paragraphs[0]


def test_seed_body_has_no_newsletter_prompts(seed):
    assert "in your inbox" not in seed.body
    assert seed.paragraphs[-1].startswith("“He emphasized to President Aliyev")
    assert len(seed.paragraphs) == 11


def test_seed_with_windows_line_endings_parses_the_same(seed):
    crlf = SEED.read_text(encoding="utf-8").replace("\n", "\r\n")
    assert parse_text_article(crlf, "seed") == seed


# --- plain-text variants ----------------------------------------------------------------

BODY = (
    "The council voted on Tuesday to rebuild the old bridge across the river, ending a "
    "debate that has divided the town for more than a decade and cost two mayors their jobs."
)


@pytest.mark.parametrize(
    ("text", "headline", "caption", "published"),
    [
        # no caption
        (f"Council Votes to Rebuild the Bridge\n\n{BODY}", "Council Votes to Rebuild the Bridge",
         None, None),
        # a caption without a date, before the headline
        ("The old bridge in winter (Photo: Town Archive)\n\n"
         f"Council Votes to Rebuild the Bridge\n\n{BODY}",
         "Council Votes to Rebuild the Bridge", "The old bridge in winter (Photo: Town Archive)",
         None),
        # a dateline with a date
        ("Council Votes to Rebuild the Bridge\n\nGYUMRI, March 3, 2023 — " + BODY,
         "Council Votes to Rebuild the Bridge", None, date(2023, 3, 3)),
        # an explicit Date: line wins over the dateline
        ("Date: 2024-03-01\nCouncil Votes to Rebuild the Bridge\n\nGYUMRI, March 3, 2023 — " + BODY,
         "Council Votes to Rebuild the Bridge", None, date(2024, 3, 1)),
        # a written-out date in the lead
        (f"Council Votes to Rebuild the Bridge\n\nOn 14 September 2022 the council met. {BODY}",
         "Council Votes to Rebuild the Bridge", None, date(2022, 9, 14)),
        # a date on a line of its own under the headline
        (f"Council Votes to Rebuild the Bridge\n\nSeptember 14, 2022\n\n{BODY}",
         "Council Votes to Rebuild the Bridge", None, date(2022, 9, 14)),
    ],
)
def test_parse_text_article_variants(text, headline, caption, published):
    article = parse_text_article(text, "x")
    assert (article.headline, article.caption, article.date) == (headline, caption, published)
    assert article.paragraphs[-1].endswith("cost two mayors their jobs.")


def test_parse_text_article_reads_a_byline():
    article = parse_text_article(
        f"Council Votes to Rebuild the Bridge\n\nBy Anna Petrosyan\n\n{BODY}", "x")
    assert article.author == "Anna Petrosyan"
    assert article.body == BODY


def test_parse_text_article_never_invents_a_year():
    text = f"Council Votes\n\nThe council met on Wednesday, September 14, to vote. {BODY}"
    assert parse_text_article(text, "x").date is None


def test_parse_text_article_without_headline_takes_the_first_words():
    article = parse_text_article(BODY, "x")
    assert article.headline.startswith("The council voted on Tuesday")
    assert article.headline.endswith("…") and len(article.headline) < 100
    assert article.body == BODY


# --- encodings and unusable files ------------------------------------------------------

@pytest.mark.parametrize(
    ("data", "text"),
    [
        ("Café – “Yerevan”".encode(), "Café – “Yerevan”"),
        (b"\xef\xbb\xbf" + "Café".encode(), "Café"),
        ("Café – “Yerevan”".encode("cp1252"), "Café – “Yerevan”"),
        ("Ça va".encode("latin-1"), "Ça va"),
        ("Café".encode("utf-16"), "Café"),
        (b"caf\x81", "caf\x81"),  # a byte cp1252 leaves undefined is kept as latin-1
    ],
)
def test_decode_bytes_reads_common_encodings(data, text):
    assert decode_bytes(data) == text


@pytest.mark.parametrize(
    "declaration",
    [
        '<meta charset="windows-1251">',
        "<meta http-equiv='Content-Type' content='text/html; charset=windows-1251'>",
        '<?xml version="1.0" encoding="windows-1251"?>',
    ],
)
def test_decode_bytes_reads_the_encoding_a_page_declares(declaration):
    page = f"{declaration}<title>Новости Еревана</title><p>Текст статьи.</p>"
    text = decode_bytes(page.encode("windows-1251"), html=True)
    assert "Новости Еревана" in text and "Текст статьи." in text
    # An encoding Python does not know falls back to cp1252, keeping every byte.
    assert decode_bytes(b'<meta charset="klingon"><p>caf\xe9</p>', html=True).endswith("café</p>")


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.txt", b"", "empty file"),
        ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 20, "binary"),
        ("blank.txt", b"  \n\n \n", "no article text"),
        ("only-prompt.txt", b"Get the Mirror in your inbox:\n", "no article text"),
        ("photo.jpg", b"\xff\xd8\xff", "unsupported file type"),
    ],
)
def test_unusable_files_are_skipped_with_a_reason(tmp_path, name, content, reason):
    write_articles(tmp_path, {name: content})
    found = list(find_files(tmp_path))
    items = found if isinstance(found[0], Skip) else read_one(tmp_path / name)
    assert len(items) == 1 and isinstance(items[0], Skip)
    assert reason in items[0].reason
    assert items[0].path.endswith(name)


def test_oversized_web_pages_are_skipped_before_parsing(tmp_path, monkeypatch):
    import searchapp.articles as articles

    monkeypatch.setattr(articles, "MAX_HTML_BYTES", 1000)
    write_articles(tmp_path, {"big.html": "<html><body>" + "<p>Words here.</p>" * 100})
    items = read_one(tmp_path / "big.html")
    assert isinstance(items[0], Skip) and "too large for a web page" in items[0].reason


def test_find_files_walks_folders_skips_hidden_and_survives_symlink_loops(tmp_path):
    write_articles(tmp_path, {"a.txt": "A\n\nText.", "deep/er/b.html": "<h1>B</h1>",
                              ".hidden/c.txt": "C", ".DS_Store": b"\x00"})
    (tmp_path / "deep" / "loop").symlink_to(tmp_path, target_is_directory=True)
    found = [f for f in find_files(tmp_path) if isinstance(f, SourceFile)]
    assert [f.base_id for f in found] == ["a", "deep/er/b"]


# --- JSON Lines ------------------------------------------------------------------------

def test_jsonl_record_fields():
    article = parse_jsonl_record(json.dumps({
        "id": "r-1", "headline": "Cocoa Review", "date": "1987-02-26",
        "body": "First paragraph.\nSecond paragraph.", "url": "https://example.com/a",
        "author": "Desk",
    }), "default")
    assert article == Article(
        id="r-1", headline="Cocoa Review", body="First paragraph.\n\nSecond paragraph.",
        date=date(1987, 2, 26), author="Desk", url="https://example.com/a",
    )


def test_jsonl_record_without_headline_gets_one_from_the_body():
    article = parse_jsonl_record(
        '{"id": 7, "headline": "", "body": "FEDERAL RESERVE WEEKLY REPORT"}', "d")
    assert (article.id, article.headline) == ("7", "FEDERAL RESERVE WEEKLY REPORT")


def test_jsonl_record_without_body_is_indexed_with_an_empty_body():
    article = parse_jsonl_record('{"headline": "BRIEF ITEM", "body": ""}', "file/3")
    assert (article.id, article.headline, article.body) == ("file/3", "BRIEF ITEM", "")


def test_jsonl_record_keeps_no_unsafe_url():
    article = parse_jsonl_record('{"headline": "x", "url": "javascript:alert(1)"}', "d")
    assert article.url is None


def test_jsonl_file_reports_each_bad_line_and_reads_the_rest(tmp_path):
    lines = [
        '{"id": "ok-1", "headline": "Good", "body": "Text", "date": "2020-01-02"}',
        "{not json",
        "[1, 2]",
        '{"id": "bad-type", "headline": 5}',
        '{"id": "empty", "headline": "", "body": ""}',
        "",
        '{"id": "ok-2", "headline": "Also good", "date": "not a date"}',
    ]
    path = tmp_path / "feed.jsonl.gz"
    path.write_bytes(gzip.compress("\n".join(lines).encode()))
    items = read_one(path)
    articles = [i for i in items if isinstance(i, Article)]
    skips = {s.path.rsplit(":", 1)[1]: s.reason for s in items if isinstance(s, Skip)}
    assert [a.id for a in articles] == ["ok-1", "ok-2"]
    assert articles[1].date is None  # an unreadable date is left empty, never guessed
    assert set(skips) == {"2", "3", "4", "5"}
    assert "not valid JSON" in skips["2"] and "must be a string" in skips["4"]


def test_truncated_gzip_is_reported_not_raised(tmp_path):
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"headline": "a"}\n' * 1000)[:60])
    items = read_one(path)
    assert isinstance(items[-1], Skip) and "cannot read" in items[-1].reason


# --- text no output can carry -------------------------------------------------------------

@pytest.mark.parametrize("raw, safe", [
    ("plain text\n\twith tab", "plain text\n\twith tab"),
    ("half \ud83d", "half \ufffd"),
    ("lone \udfff low", "lone \ufffd low"),
    ("pair \ud83d\ude00 joined", "pair \U0001f600 joined"),
    ("no\ufffe\uffffn-characters\ufdd0\U0001fffe\U0010ffff", "non-characters"),
    ("c0\x00\x01\x1b and c1\x85\x9f and del\x7f", "c0 and c1 and del"),
    ("accents é, emoji 😀, CJK 漢字", "accents é, emoji 😀, CJK 漢字"),
])
def test_safe_text_keeps_only_what_every_format_carries(raw, safe):
    assert safe_text(raw) == safe
    assert is_safe(safe) and safe_text(safe) == safe
    assert is_safe(raw) == (raw == safe)
    safe.encode("utf-8")  # no lone surrogate left
    ElementTree.fromstring(f"<t>{safe}</t>".encode())  # and XML 1.0 takes it


@pytest.mark.parametrize("raw, shown", [
    ("caf\udce9.txt", "caf\\xe9.txt"),  # a Latin-1 byte of a file name (os.fsdecode)
    ("id-\ud800", "id-\\ud800"),
    ("tab\tok", "tab\tok"),
    ("bell\x07", "bell\\x07"),
])
def test_printable_writes_what_cannot_be_shown_as_escapes(raw, shown):
    assert printable(raw) == shown


def test_jsonl_record_with_an_id_that_is_not_text_is_refused(tmp_path):
    folder = write_articles(tmp_path, {"feed.jsonl": "\n".join(json.dumps(record) for record in [
        {"id": "ok", "headline": "Fine \ud83d", "author": "Ann\x01e", "url": "https://x.org/\ufffe"},
        {"id": "bad\ud800", "headline": "Refused"},
        {"id": "bad\ufffe", "headline": "Refused"},
    ])})
    items = read_one(folder / "feed.jsonl")
    assert [type(item) for item in items] == [Article, Skip, Skip]
    assert (items[0].headline, items[0].author, items[0].url) == (
        "Fine \ufffd", "Anne", "https://x.org/")
    assert items[1].reason.startswith("id 'bad\\ud800' holds a character that is not text")
    assert items[2].path == f"{folder / 'feed.jsonl'}:3"
