"""Extract a news article's parts from one saved web page.

Metadata comes from the page's own markup, most explicit first: JSON-LD, then OpenGraph
and other meta tags, then plain HTML. The body is chosen from candidates that fail in
different ways: ours, the text of the element that holds the article, found with general
signals (semantic markup, paragraph text, link density) after the site furniture around it
is removed; trafilatura's; and the page's own JSON-LD articleBody where it is complete.
Where they agree our text is kept, less the short lines only we found; where they do not,
the evidence decides (see ``choose_body``).

The page is parsed once, by lxml as trafilatura parses it, and that one tree serves our
metadata, our block finder and trafilatura (which works on a copy of it): building a
BeautifulSoup tree cost more than everything else together (bench.extraction --parsers).
This is the only module that parses HTML and calls trafilatura.
"""

from __future__ import annotations

import datetime
import html as html_entities
import itertools
import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

import lxml.html
import trafilatura
from bs4.dammit import EncodingDetector
from lxml import etree
from lxml.html import HtmlElement

from searchapp.cleaning import clean_paragraphs, normalize_space, split_paragraphs
from searchapp.dates import find_dates, parse_date

# schema.org types whose JSON-LD describes the article itself (any other "...Article" too).
# Where a page's declaration of its encoding is looked for.
DECLARED_ENCODING_BYTES = 4096
ARTICLE_TYPES = {
    "BlogPosting", "LiveBlogPosting", "SocialMediaPosting", "DiscussionForumPosting", "Report",
}
HEADLINE_META = ["og:title", "twitter:title", "title", "dc.title"]
DATE_META = [
    "article:published_time", "og:article:published_time", "article.published",
    "date", "pubdate", "publishdate", "publish-date", "publish_date", "dc.date",
    "dc.date.issued", "dcterms.date", "dcterms.created", "parsely-pub-date",
    "sailthru.date", "datepublished", "og:published_time", "article:modified_time",
]
AUTHOR_META = [
    "article:author", "author", "parsely-author", "sailthru.author", "dc.creator", "byl",
]
URL_META = ["og:url", "twitter:url"]
SITE_NAME_META = ["og:site_name", "application-name", "apple-mobile-web-app-title"]
# Other meta names that say "published" ("sn-post-date", "pub_date"), never "modified".
PUBLISHED_META_NAME = re.compile(r"pub|post|creat|issued")
MODIFIED_META_NAME = re.compile(r"modif|updat|expir|revis")
# The date a page shows under its headline: in an element named for it, or after a phrase.
DATE_ELEMENT_NAME = re.compile(r"date|time|publish|posted", re.IGNORECASE)  # <time> too
# English, German, French, Spanish, Portuguese and Italian ("publiziert am", "publié le").
DATE_PHRASE = re.compile(
    r"\b(?:published|posted|written by|by|veröffentlicht|publiziert|von|publié|par|publicado"
    r"|por|pubblicato|di)\b",
    re.IGNORECASE,
)
UPDATED_PHRASE = re.compile(
    r"\b(?:updated|modified|edited|aktualisiert|geändert|mis à jour|modifié|actualizado"
    r"|atualizado|aggiornato)\b",
    re.IGNORECASE,
)
# How many nodes after the <h1> the date line may be, and how long it may be.
DATE_LINE_WINDOW = 200
DATE_ABOVE_WINDOW = 20
DATE_LINE_MAX_CHARS = 120
DATE_LINE_MAX_PARTS = 12
# A metadata timestamp in UTC (or with no zone) may be a day off the publisher's local date;
# then the page's own date line, a day apart at most, wins.
UTC_TIMESTAMP = re.compile(r"\d[T ]\d\d:\d\d(?::\d\d)?(?:\.\d+)?\s*(?:Z|[+-]00:?00|UTC|GMT)?$")
LOCAL_DATE_TOLERANCE = datetime.timedelta(days=1)
# A title part this short may be the site's name ("Headline | TheHill").
SITE_NAME_MAX_WORDS = 4

# Elements that never hold article text.
DROPPED_TAGS = [
    "script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form",
    "button", "iframe", "svg", "select", "input", "textarea", "object", "embed", "canvas",
    "video", "audio", "dialog", "menu",
]
# Substrings of class/id values that mark site furniture rather than article text.
FURNITURE_WORDS = [
    "share", "sharing", "social", "newsletter", "subscri", "signup", "sign-up", "comment",
    "disqus", "related", "recommend", "more-stories", "read-more", "readmore", "promo",
    "sponsor", "advert", "adslot", "ad-slot", "ad-container", "ad-wrapper", "dfp-",
    "outbrain", "taboola", "cookie", "consent", "gdpr", "breadcrumb", "tag-list", "taglist",
    "author-bio", "authorbio", "byline", "popup", "modal", "sidebar", "widget", "masthead",
    "navbar", "menu", "trending", "popular", "most-read", "mostread", "banner", "toolbar",
    "sr-only", "visually-hidden", "screen-reader", "skip-link", "paywall", "login",
]
# Short words that mark furniture only as a whole word, so "head" or "shadow" survive.
FURNITURE_TOKENS = [
    "ad", "ads", "nav", "tag", "tags", "bio", "meta", "author", "date", "time", "timestamp",
    "dateline", "print", "keywords", "topics", "footer", "header",
]
# Words in a class/id value that say "this is the article", overriding a furniture word
# found in another class of the same element ("article-body has-sidebar").
CONTENT_WORDS = ["article", "body", "content", "story", "entry", "main", "post", "text"]
FURNITURE_ROLES = {
    "navigation", "banner", "contentinfo", "complementary", "search", "dialog", "alertdialog",
    "menu", "menubar", "toolbar",
}
BROKEN_LD_ARTICLE = re.compile(r'"@type"\s*:\s*"[^"]*(?:Article|Posting)"')
BROKEN_LD_FIELD = re.compile(
    r'"(?P<key>headline|datePublished|dateCreated)"\s*:\s*"(?P<value>(?:[^"\\]|\\.)*)"'
)
# Elements whose text is never the page's text: code, styles, templates, and the ruby
# readings printed over East Asian characters (they repeat the characters' sound).
INERT_TAGS = {"script", "style", "template", "rt", "rp"}
# The HTML parser's settings: trafilatura's own, so that it reads the tree we hand it as it
# would read the page (its output is the same on every development page).
PARSER_OPTIONS = {
    "collect_ids": False, "default_doctype": False, "encoding": "utf-8",
    "remove_comments": True, "remove_pis": True,
}
# Characters libxml2 refuses in a document (NUL would become U+FFFD paragraphs).
INVALID_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
XML_NAME = re.compile(r"[A-Za-z_][\w.-]*\Z", re.ASCII)
HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
CAPTION_CLASS = re.compile(r"caption|credit", re.IGNORECASE)
MEDIA_CLASS = re.compile(r"caption|credit|image|photo|picture|media|gallery|figure", re.I)

# Elements that end a paragraph: their text never runs on into their neighbours'.
BLOCK_TAGS = {
    "address", "article", "aside", "blockquote", "br", "center", "dd", "details", "dialog",
    "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3",
    "h4", "h5", "h6", "header", "hgroup", "hr", "li", "main", "nav", "ol", "p", "pre",
    "section", "summary", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul", "caption",
}
# Block elements that break lines inside a paragraph rather than hold text of their own.
LINE_BREAKS = {"br", "hr"}
_HOLDING_BLOCK_TAGS = BLOCK_TAGS - LINE_BREAKS
# Elements whose own text counts towards the score of the block around them.
SCORED_TAGS = {"p", "pre", "blockquote", "div", "td", "li"}
MIN_SCORED_CHARS = 25
# The best block grows to an ancestor only if that adds this share of paragraphs and the
# text added is mostly paragraphs (articles split into sections around photos).
WIDEN_MIN_GAIN = 0.5
WIDEN_MIN_PROSE = 0.6
# A semantic container with less text than this is a teaser, not the article.
MIN_CONTAINER_CHARS = 250
# Below this much body text the page's JSON-LD articleBody is the better source.
MIN_BODY_CHARS = 200
# Paragraphs whose text is mostly link text are navigation, not prose.
MAX_PARAGRAPH_LINK_DENSITY = 0.5
# The body trafilatura reads: its fast mode (no second extractor run as a fallback) and
# its precision bias, since our own body is there to make up for what it leaves out.
TRAFILATURA_OPTIONS = {
    "fast": True,
    "favor_precision": True,
    "include_comments": False,
    "include_tables": True,
    "deduplicate": False,
    "output_format": "txt",
}
LIST_BULLET = re.compile(r"^- ")
# A JSON-LD articleBody that ends like this is a teaser, not the whole text.
TRUNCATED = re.compile(r"(?:\.\.\.|…|\[\.\.\.\])\s*$")
# Bodies are compared as multisets of 4-word shingles (as the benchmark scores them).
WORD = re.compile(r"\w+")
SHINGLE_SIZE = 4
SHORT_PARAGRAPH_TOKENS = 8
# A paragraph is in the other text when that holds this share of its shingles.
PARAGRAPH_HELD = 0.5
BYLINE_PREFIX = re.compile(r"^by\s+", re.IGNORECASE)
TITLE_SEPARATOR = re.compile(r"\s+(?:\||-|–|—|::|·|•)\s+")
COMMAS = re.compile(r"[,，、،]")


class TextCounts(NamedTuple):
    """Characters of text inside one element: all, in links, in prose paragraphs.

    ``text_block``: the element holds paragraph text itself, not other blocks that do.
    """

    text: int
    links: int
    paragraphs: int
    commas: int = 0
    text_block: bool = False


_NO_TEXT = TextCounts(0, 0, 0, 0)
# TextCounts of the elements of a page.
Stats = dict[HtmlElement, TextCounts]


@dataclass
class Page:
    """The parts of one news page; None where the page does not say."""

    headline: str | None = None
    date: datetime.date | None = None
    author: str | None = None
    url: str | None = None
    caption: str | None = None
    paragraphs: list[str] = field(default_factory=list)


@dataclass
class _Metadata:
    headline: str | None = None
    date: datetime.date | None = None
    author: str | None = None
    url: str | None = None
    article_body: str | None = None
    site_names: list[str] = field(default_factory=list)
    date_text: str | None = None


@dataclass(frozen=True)
class Agreement:
    """How the body is chosen from the candidates; bench.extraction tunes these on dev pages.

    ``agree``: the share of one candidate's shingles the other must hold for the two to
    agree. ``fragment``: below this share of trafilatura's length, our body held inside it
    is a fragment of the article. ``short_chars``: our paragraphs shorter than this that
    trafilatura does not have are widgets. ``longer_ratio``: when the two disagree, how
    much longer trafilatura's body must be to win. ``publisher_agree``: how well a
    candidate must match the page's complete JSON-LD articleBody for that to decide.
    """

    agree: float = 0.5
    fragment: float = 0.5
    short_chars: int = 200
    longer_ratio: float = 1.0
    publisher_agree: float = 0.5


@dataclass
class Bodies:
    """The candidate bodies of one page and how far they agree, shingle by shingle."""

    ours: list[str]
    library: list[str]  # trafilatura's
    publisher: list[str]  # the JSON-LD articleBody, when complete
    headline: str | None = None
    # The JSON-LD articleBody even if cut short: better than a body of a few words.
    fallback: list[str] = field(default_factory=list)
    ours_in_library: float = 0.0
    library_in_ours: float = 0.0
    # Each of our paragraphs: does trafilatura's text hold it?
    supported: list[bool] = field(default_factory=list)
    # How well ours and trafilatura's match the publisher's body (0 without one).
    ours_publisher: float = 0.0
    library_publisher: float = 0.0



def declared_encoding(data: bytes) -> str | None:
    """Return the encoding a saved page declares for itself, or None.

    BeautifulSoup's detector reads each form a page may declare it in (an XML
    declaration, ``<meta charset>``, ``<meta http-equiv="Content-Type">``) from the
    first ``DECLARED_ENCODING_BYTES``; the name may still be one Python does not know.
    """
    return EncodingDetector.find_declared_encoding(data[:DECLARED_ENCODING_BYTES], is_html=True)

def extract_page(html: str) -> Page:
    """Extract headline, date, author, URL, caption and body paragraphs from a news page."""
    meta, caption, bodies = extract_bodies(html)
    paragraphs = choose_body(bodies, Agreement())
    return Page(meta.headline, meta.date, meta.author, meta.url, caption, paragraphs)


def extract_bodies(html: str, library: bool = True) -> tuple[_Metadata, str | None, Bodies]:
    """Read a page's metadata and photo caption, and compare its candidate bodies.

    With ``library`` false trafilatura is not asked: our own reading alone.
    """
    document, library_tree = parse_page(html)
    if document is None:
        return _Metadata(), None, Bodies([], [], [])
    # Held to the end: lxml then reuses these objects, instead of making new ones each walk.
    tags = list(document.iter(etree.Element))
    meta = _read_metadata(tags)
    root = _body(document)
    elements = list(root.iterdescendants(etree.Element))
    whole = _text_stats(root, elements)
    elements, removed = _drop_furniture(root, elements, whole)
    stats = _text_stats(root, elements, removed, whole)
    containers = _find_article(root, elements, stats, removed)
    caption, captions = _take_caption(containers, elements, removed)
    ours = clean_paragraphs(_block_texts(containers, removed | captions))
    fallback = clean_paragraphs(_split_article_body(meta.article_body or ""))
    complete = meta.article_body and not TRUNCATED.search(meta.article_body)
    library_paragraphs = library_body(library_tree) if library else []
    bodies = compare_bodies(ours, library_paragraphs, fallback if complete else [])
    bodies.headline, bodies.fallback = meta.headline, fallback
    return meta, caption, bodies


def parse_page(html: str) -> tuple[HtmlElement | None, HtmlElement | None]:
    """Parse a page once; return the tree for us and the tree for trafilatura.

    They are one tree but on pages nested deeper than libxml2 builds (it stops at 256
    levels and drops the rest): those are read again, whole, for us, and trafilatura
    keeps the tree that was cut, which it reads as fast as any (the whole one took it
    over a minute).
    """
    text = INVALID_CHARS.sub("", html or "")
    if not text.strip():
        return None, None
    parser = lxml.html.HTMLParser(**PARSER_OPTIONS)  # one a call: its error log is ours
    try:
        tree = lxml.html.document_fromstring(text, parser=parser)
    except ValueError:
        # A string that declares its encoding (<?xml ... encoding=...?>) is parsed as bytes.
        try:
            tree = lxml.html.document_fromstring(
                text.encode("utf-8", "surrogatepass"), parser=parser
            )
        except (ValueError, etree.LxmlError):
            return None, None
    except etree.LxmlError:
        return None, None
    if any(error.type_name == "ERR_RESOURCE_LIMIT" for error in parser.error_log):
        whole = _parse_whole(text)
        return (tree if whole is None else whole), tree
    return tree, tree


class _TreeTarget:
    """Build a tree from the parser's events: libxml2 sets no depth limit on those.

    Names lxml would refuse ("xmlns:og", "fb:like") become <span> or are dropped.
    """

    def __init__(self) -> None:
        self.builder = etree.TreeBuilder(element_factory=lxml.html.html_parser.makeelement)

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        names = {name: value for name, value in attrib.items() if XML_NAME.match(name)}
        self.builder.start(tag if XML_NAME.match(tag) else "span", names)

    def end(self, tag: str) -> None:
        self.builder.end(tag if XML_NAME.match(tag) else "span")

    def data(self, text: str) -> None:
        self.builder.data(text)

    def close(self) -> HtmlElement:
        return self.builder.close()


def _parse_whole(text: str) -> HtmlElement | None:
    """Parse a page nested too deep for libxml2's own tree, through our tree builder."""
    parser = etree.HTMLParser(target=_TreeTarget(), remove_comments=True, remove_pis=True)
    try:
        parser.feed(text)
        return parser.close()
    except (ValueError, etree.LxmlError):
        return None


def _body(document: HtmlElement) -> HtmlElement:
    return next(document.iter("body"), document)


def _clean(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    return " ".join(normalize_space(value).split()) or None


def _is_element(node: object) -> bool:
    # Comments and processing instructions are nodes too, with a function for a tag.
    return isinstance(getattr(node, "tag", None), str)


def _classes(element: HtmlElement) -> list[str]:
    value = element.get("class")
    return value.split() if value else []


def _strings(element: HtmlElement, removed: set | frozenset = frozenset()) -> Iterator[str]:
    """Yield the text of an element in document order, without code, styles or ruby notes.

    The text inside ``removed`` elements is left out too.
    """
    inert = 0
    for event, node in etree.iterwalk(element, events=("start", "end")):
        if event == "start":
            if node.tag in INERT_TAGS or node in removed:
                inert += 1
            elif not inert and node.text and _is_element(node):
                yield node.text
        else:
            if node.tag in INERT_TAGS or node in removed:
                inert -= 1
            if not inert and node.tail and node is not element:
                yield node.tail


def _text(element: HtmlElement, separator: str = "", removed: set | frozenset = frozenset()) -> str:
    return separator.join(_strings(element, removed))


# --- metadata -------------------------------------------------------------------------------


def _read_metadata(tags: list[HtmlElement]) -> _Metadata:
    """Read the metadata from every element of a page, in document order."""
    # The elements by name, in one pass: each lookup below would walk the page again.
    named: dict[str, list[HtmlElement]] = {}
    for tag in tags:
        named.setdefault(tag.tag, []).append(tag)
    found = _json_ld_metadata(named.get("script", []))
    meta = _meta_tags(named.get("meta", []), tags)
    found.url = found.url or _first(meta, URL_META) or _canonical_url(named.get("link", []))
    headings = named.get("h1", [])
    h1s = [text for text in (_clean(_text(tag, " ")) for tag in headings) if text]
    found.headline = found.headline or _first(meta, HEADLINE_META) or next(iter(h1s), None)
    found.headline = found.headline or _title_text(named.get("title", []))
    if found.headline:
        sites = found.site_names + _first_all(meta, SITE_NAME_META) + _host_names(found.url)
        found.headline = _drop_site_name(found.headline, sites, h1s)
        found.headline = _whole_headline(found.headline, h1s)
    if not found.date:
        times = [str(tag.get("datetime")) for tag in _times(named.get("time", []))]
        values = _first_all(meta, DATE_META) + _published_meta(meta) + times
        found.date_text, found.date = next(
            ((value, day) for value in values if (day := parse_date(value))), (None, None)
        )
    # Only an undated page is trusted with a date line above its headline: the site's
    # header often shows today's date there.
    shown = _date_line(headings, found.headline, above=not found.date)
    if shown and (
        not found.date
        or UTC_TIMESTAMP.search(found.date_text or "")
        and abs(shown - found.date) <= LOCAL_DATE_TOLERANCE
    ):
        found.date = shown
    found.author = found.author or _first_name(_first_all(meta, AUTHOR_META))
    return found


def _whole_headline(headline: str, h1s: list[str]) -> str:
    """Return the page's <h1> where the metadata headline is only its start (cut short)."""
    start = headline.casefold().rstrip(".… ")
    return next((h1 for h1 in h1s if len(h1) > len(headline) and h1.casefold().startswith(start)),
                headline)


def _drop_site_name(headline: str, site_names: list[str], h1s: list[str]) -> str:
    """Remove the site's name from a title: "Headline | Site", "Headline - Site.com"."""
    headline = re.sub(r"\s+[-|–—:]$", "", headline)
    separators = list(TITLE_SEPARATOR.finditer(headline))
    # The page's own <h1> before a separator is the headline without the rest.
    for separator in reversed(separators):
        if headline[: separator.start()].casefold() in {h1.casefold() for h1 in h1s}:
            return headline[: separator.start()]
    names = {_letters(name) for name in site_names} - {""}
    if separators:
        last = headline[separators[-1].end() :]
        if _is_site_name(last, names):
            return headline[: separators[-1].start()]
        first = headline[: separators[0].start()]
        if _is_site_name(first, names):
            return headline[separators[0].end() :]
    return headline


def _is_site_name(part: str, names: set[str]) -> bool:
    key = _letters(part)
    if not key or len(part.split()) > SITE_NAME_MAX_WORDS:
        return False
    return any(key == name or (len(name) >= 3 and (name in key or key in name)) for name in names)


def _letters(text: str) -> str:
    return "".join(char for char in text.casefold() if char.isalnum())


def _host_names(url: str | None) -> list[str]:
    """Return a page's host ("www.thehill.com" -> "thehill.com", "thehill")."""
    match = re.match(r"https?://(?:www\d?\.)?([^/:?#]+)", url or "")
    if not match:
        return []
    host = match.group(1)
    return [host, host.split(".")[0]]


def _published_meta(meta: dict[str, list[str]]) -> list[str]:
    return [
        value
        for key, values in meta.items()
        if "date" in key and PUBLISHED_META_NAME.search(key) and not MODIFIED_META_NAME.search(key)
        for value in values
    ]


class _String(NamedTuple):
    """A piece of a page's text and the element it sits in (None in code and styles)."""

    text: str
    parent: HtmlElement | None


def _subtree_nodes(
    element: HtmlElement, itself: bool = True, tail: bool = True
) -> Iterator[HtmlElement | _String]:
    """Yield an element, its contents and the text after it, in document order.

    Scripts and styles are left out: they hold no date line, and counting their nodes
    would shorten the window of nodes searched for one.
    """
    inert = skipped = 0
    for event, node in etree.iterwalk(element, events=("start", "end")):
        code = node.tag in ("script", "style")
        if event == "start":
            skipped += code
            inert += node.tag in INERT_TAGS
            if skipped or not _is_element(node):
                continue
            if itself or node is not element:
                yield node
            if node.text:
                yield _String(node.text, None if inert else node)
        else:
            skipped -= code
            inert -= node.tag in INERT_TAGS
            if not skipped and node.tail and (tail or node is not element):
                yield _String(node.tail, None if inert else node.getparent())


def _nodes_after(start: HtmlElement) -> Iterator[HtmlElement | _String]:
    """Yield what follows an element's start in document order: its contents, then on."""
    yield from _subtree_nodes(start, itself=False, tail=False)
    node = start
    while (parent := node.getparent()) is not None:
        if node.tail:
            yield _String(node.tail, None if parent.tag in INERT_TAGS else parent)
        for sibling in node.itersiblings():
            yield from _subtree_nodes(sibling)
        node = parent


def _nodes_before(start: HtmlElement) -> Iterator[HtmlElement | _String]:
    """Yield what comes before an element in document order, nearest first."""
    node = start
    while (parent := node.getparent()) is not None:
        for sibling in node.itersiblings(preceding=True):
            yield from reversed(list(_subtree_nodes(sibling)))
        if parent.text:
            yield _String(parent.text, None if parent.tag in INERT_TAGS else parent)
        yield parent
        node = parent


def _date_line(h1s: list[HtmlElement], headline: str | None, above: bool) -> datetime.date | None:
    """Return the date the page shows under its headline ("Published 2:16 AM Nov 20, 2019").

    ``h1s`` are the page's <h1> elements. With ``above``, a date line just over the
    headline counts too ("publiziert am ...").
    """
    if not h1s:
        return None
    # The headline's own <h1>, not the site's logo or a menu heading.
    h1 = next((tag for tag in h1s if _clean(_text(tag, " ")) == headline), h1s[0])
    nodes = itertools.islice(_nodes_after(h1), DATE_LINE_WINDOW)
    if above:
        nodes = itertools.chain(nodes, itertools.islice(_nodes_before(h1), DATE_ABOVE_WINDOW))
    for node in nodes:
        if not isinstance(node, _String) or node.parent is None or not node.text.strip():
            continue
        line = node.parent
        if _part_count(line) > DATE_LINE_MAX_PARTS:
            continue  # loose text in a big block is no date line
        text = _clean(_text(line, " "))
        if not text or len(text) > DATE_LINE_MAX_CHARS:
            continue
        names = _element_names(line)
        if DATE_ELEMENT_NAME.search(names) or DATE_PHRASE.search(text):
            # "Published May 1, 2019 | Updated May 2, 2019": only the first is published.
            found = find_dates(UPDATED_PHRASE.split(text)[0])
            if found and not _in_caption(line):
                return found[0][0]
    return None


def _part_count(element: HtmlElement) -> int:
    """Count an element's children and the strings between them."""
    count = 1 if element.text else 0
    for child in element:
        if child.tag not in ("script", "style"):
            count += 1
        count += 1 if child.tail else 0
    return count


def _element_names(element: HtmlElement) -> str:
    """Return the tag names, classes and ids of an element and its parent, for matching."""
    names = []
    for item in (element, element.getparent()):
        if item is not None:
            names += [item.tag, *_classes(item), str(item.get("id") or "")]
    return " ".join(names)


def _in_caption(tag: HtmlElement) -> bool:
    return any(
        _is_caption(element) or element.tag == "figure"
        for element in [tag, *tag.iterancestors()]
    )


def _json_ld_metadata(tags: list[HtmlElement]) -> _Metadata:
    found = _Metadata()
    for article in _json_ld_articles(tags):
        found.headline = found.headline or _unescaped(article.get("headline"))
        found.headline = found.headline or _unescaped(article.get("name"))
        for key in ("datePublished", "dateCreated"):
            if not found.date and (day := parse_date(article.get(key))):
                found.date, found.date_text = day, str(article.get(key))
        found.author = found.author or _author_names(article.get("author"))
        found.url = found.url or _ld_url(article.get("url"))
        found.url = found.url or _ld_url(article.get("mainEntityOfPage"))
        publisher = article.get("publisher")
        if isinstance(publisher, dict) and (name := _unescaped(publisher.get("name"))):
            found.site_names.append(name)
        body = article.get("articleBody")
        if isinstance(body, str) and len(body) > len(found.article_body or ""):
            found.article_body = body
    return found


def _json_ld_articles(tags: list[HtmlElement]) -> Iterator[dict]:
    for script in tags:
        if script.tag != "script" or "ld+json" not in (script.get("type") or "").lower():
            continue
        text = script.text or ""
        try:
            # strict=False: raw newlines inside strings are the commonest breakage.
            data = json.loads(text, strict=False)
        except (ValueError, RecursionError):
            # Publishers' JSON-LD is often broken; its plain fields may still be readable.
            yield from _broken_json_ld_article(text)
            continue
        yield from (node for node in _walk_json(data) if _is_article(node))


def _broken_json_ld_article(text: str) -> Iterator[dict]:
    """Read the string fields of an article from JSON-LD that is not valid JSON."""
    if not BROKEN_LD_ARTICLE.search(text):
        return
    article = {}
    for match in BROKEN_LD_FIELD.finditer(text):
        try:
            article.setdefault(match["key"], json.loads(f'"{match["value"]}"', strict=False))
        except ValueError:
            continue
    yield article


def _walk_json(data: object) -> Iterator[dict]:
    # Iterative, because articles hide in lists, "@graph" and "mainEntity" at any depth.
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            yield node
            stack.extend(reversed(list(node.values())))
        elif isinstance(node, list):
            stack.extend(reversed(node))


def _is_article(node: dict) -> bool:
    types = node.get("@type")
    for name in types if isinstance(types, list) else [types]:
        if isinstance(name, str):
            name = name.rsplit("/", 1)[-1]
            if name.endswith("Article") or name in ARTICLE_TYPES:
                return True
    return False


def _unescaped(value: object) -> str | None:
    # JSON-LD sits in a <script>, so the parser left its entities ("&#8217;") encoded.
    return _clean(html_entities.unescape(value)) if isinstance(value, str) else None


def _author_names(value: object) -> str | None:
    names = []
    for item in value if isinstance(value, list) else [value]:
        name = item.get("name") if isinstance(item, dict) else item
        if isinstance(name, list):
            name = next((n for n in name if isinstance(n, str)), None)
        name = _unescaped(name)
        name = BYLINE_PREFIX.sub("", name) if name else None
        if name and not _is_url(name) and name not in names:
            names.append(name)
    return ", ".join(names) or None


def _ld_url(value: object) -> str | None:
    if isinstance(value, dict):
        value = value.get("@id") or value.get("url")
    url = _clean(value)
    return url if url and _is_url(url) else None


def _is_url(text: str) -> bool:
    return bool(re.match(r"https?://\S+$", text))


def _meta_tags(metas: list[HtmlElement], tags: list[HtmlElement]) -> dict[str, list[str]]:
    """Return the values of the page's <meta> elements, and of its datePublished items."""
    values: dict[str, list[str]] = {}
    for tag in metas:
        key = tag.get("property") or tag.get("name") or tag.get("itemprop")
        value = _clean(tag.get("content"))
        if key and value:
            values.setdefault(key.strip().lower(), []).append(value)
    for tag in tags:
        if tag.get("itemprop") == "datePublished" and tag.tag != "meta":
            if value := _clean(tag.get("datetime") or _text(tag)):
                values.setdefault("datepublished", []).append(value)
    return values


def _first_all(meta: dict[str, list[str]], keys: list[str]) -> list[str]:
    return [value for key in keys for value in meta.get(key, [])]


def _first(meta: dict[str, list[str]], keys: list[str]) -> str | None:
    return next(iter(_first_all(meta, keys)), None)


def _first_name(values: list[str]) -> str | None:
    # article:author is often a profile URL, which is no name.
    names = (BYLINE_PREFIX.sub("", value) for value in values if not _is_url(value))
    return next(filter(None, names), None)


def _times(tags: list[HtmlElement]) -> list[HtmlElement]:
    """Return the <time datetime> elements, those inside an <article> first."""
    times = [tag for tag in tags if tag.tag == "time" and tag.get("datetime")]
    inside = [time for time in times if next(time.iterancestors("article"), None) is not None]
    return inside + times


def _title_text(tags: list[HtmlElement]) -> str | None:
    title = next((_clean(_text(tag)) for tag in tags if tag.tag == "title"), None)
    # "Headline | Site Name": the last separated part is the site's name.
    separators = list(TITLE_SEPARATOR.finditer(title or ""))
    return title[: separators[-1].start()] if separators else title


def _canonical_url(tags: list[HtmlElement]) -> str | None:
    for link in tags:
        if link.tag == "link" and link.get("href") and "canonical" in _rel(link):
            return _clean(link.get("href"))
    return None


def _rel(link: HtmlElement) -> list[str]:
    value = link.get("rel")
    return value.split() if value else []


# --- body -----------------------------------------------------------------------------------


def _drop_furniture(
    root: HtmlElement, elements: list[HtmlElement], stats: Stats
) -> tuple[list[HtmlElement], set[HtmlElement]]:
    """Find the page's navigation, share bars, prompts and other non-article elements.

    Return the ``elements`` that are left, in document order, and the removed ones (whose
    descendants are left out too). The tree itself is not changed: trafilatura reads it.
    """
    # Never remove what holds most of the page's prose, whatever its class says.
    most_prose = _prose_chars(root, stats) / 2
    protected = _landmark_lineage(elements, stats)
    kept: set[HtmlElement] = set()
    removed: set[HtmlElement] = set()
    stack = _child_tags(root)
    while stack:
        element = stack.pop()
        removable = element not in protected and _prose_chars(element, stats) <= most_prose
        if removable and _is_furniture(element):
            removed.add(element)
        else:
            kept.add(element)
            stack.extend(_child_tags(element))
    return [element for element in elements if element in kept], removed


def _child_tags(element: HtmlElement) -> list[HtmlElement]:
    return [child for child in element if _is_element(child)]


def _is_furniture(element: HtmlElement) -> bool:
    if element.tag in _DROPPED or _is_hidden(element):
        return True
    role = element.get("role")
    if role and role.lower() in FURNITURE_ROLES:
        return True
    names = [*_classes(element), element.get("id") or ""]
    names = [name.lower() for name in names if name]
    furniture = [name for name in names if _FURNITURE_RE.search(name)]
    content = [name for name in names if _CONTENT_RE.search(name) and name not in furniture]
    return bool(furniture) and not content


def _is_hidden(element: HtmlElement) -> bool:
    style = element.get("style")
    return (
        "hidden" in element.attrib
        or element.get("aria-hidden") == "true"
        or bool(style and HIDDEN_STYLE.search(style))
    )


_DROPPED = set(DROPPED_TAGS)
_FURNITURE_RE = re.compile(
    "|".join(map(re.escape, FURNITURE_WORDS))
    + r"|(?:^|[-_])(?:" + "|".join(FURNITURE_TOKENS) + r")(?:$|[-_])"
)
_CONTENT_RE = re.compile("|".join(CONTENT_WORDS))


def _landmarks(
    elements: list[HtmlElement],
) -> tuple[list[HtmlElement], list[HtmlElement], list[HtmlElement]]:
    """Return the elements marked as the article: articleBody items, <article>s, <main>s."""
    bodies = [element for element in elements if element.get("itemprop") == "articleBody"]
    articles = [element for element in elements if element.tag == "article"]
    mains = [element for element in elements if element.tag == "main"]
    return bodies, articles, mains


def _landmark_lineage(elements: list[HtmlElement], stats: Stats) -> set[HtmlElement]:
    """Return the article landmarks and every element around them."""
    bodies, articles, mains = _landmarks(elements)
    landmarks = bodies + mains
    if articles:
        landmarks.append(max(articles, key=lambda article: stats[article].text))
    lineage: set[HtmlElement] = set()
    for landmark in landmarks:
        for element in [landmark, *landmark.iterancestors()]:
            if element in lineage:
                break
            lineage.add(element)
    return lineage


def _text_stats(
    root: HtmlElement,
    elements: list[HtmlElement],
    removed: set[HtmlElement] | frozenset = frozenset(),
    known: Stats | None = None,
) -> Stats:
    """Count, for ``root`` and its ``elements``, characters of text, link text and prose.

    ``elements`` are those left after ``removed``, whose text does not count. ``known``
    holds the counts from before anything was removed: only the elements around removed
    ones are counted again.
    """
    changed: set[HtmlElement] = set()
    for element in removed if known is not None else ():
        for ancestor in element.iterancestors():
            if ancestor in changed:
                break
            changed.add(ancestor)
    stats: Stats = {}
    # Reversed document order visits children before parents, with no recursion.
    for element in reversed([root, *elements]):
        if known is not None and element not in changed:
            stats[element] = known[element]
            continue
        tag = element.tag
        if tag in INERT_TAGS:
            stats[element] = _NO_TEXT
            continue
        text = links = paragraphs = commas = 0
        holds_blocks = False
        strings = [element.text] if element.text else []
        for child in element:
            if child.tail:
                strings.append(child.tail)  # the text after a child is its parent's
            counts = stats.get(child)
            if counts is not None:
                text += counts.text
                links += counts.links
                paragraphs += counts.paragraphs
                commas += counts.commas
            if child.tag in _HOLDING_BLOCK_TAGS and child not in removed:
                holds_blocks = True
        for string in strings:
            size = len(string.strip())
            text += size
            commas += len(COMMAS.findall(string))
            # Loose text between blocks (<br>-separated posts) is prose too.
            paragraphs += size if size >= MIN_SCORED_CHARS else 0
        if tag == "a":
            links = text
        text_block = tag in SCORED_TAGS and not holds_blocks
        if text_block:
            paragraphs = text - links if _is_prose(text, links) else 0
        stats[element] = TextCounts(text, links, paragraphs, commas, text_block)
    return stats


def _is_prose(text: int, links: int) -> bool:
    return text >= MIN_SCORED_CHARS and links <= text * MAX_PARAGRAPH_LINK_DENSITY


def _find_article(
    root: HtmlElement, elements: list[HtmlElement], stats: Stats, removed: set[HtmlElement]
) -> list[HtmlElement]:
    """Return the element(s) holding the article body, most explicit markup first."""
    for candidates in _landmarks(elements):
        if candidates:
            best = max(candidates, key=lambda element: _prose_chars(element, stats))
            if _prose_chars(best, stats) >= MIN_CONTAINER_CHARS:
                return [best]
    return _densest_block(root, elements, stats, removed)


def _prose_chars(element: HtmlElement, stats: Stats) -> int:
    counts = stats.get(element, _NO_TEXT)
    return counts.text - counts.links


def _link_density(element: HtmlElement, stats: Stats) -> float:
    counts = stats.get(element, _NO_TEXT)
    return counts.links / counts.text if counts.text else 0.0


def _densest_block(
    root: HtmlElement, elements: list[HtmlElement], stats: Stats, removed: set[HtmlElement]
) -> list[HtmlElement]:
    """Score blocks by the paragraph text they directly hold (the readability method)."""
    scores: dict[HtmlElement, float] = {}
    for block in elements:
        if block.tag not in SCORED_TAGS:
            continue
        counts = stats.get(block, _NO_TEXT)
        if not counts.text_block or not _is_prose(counts.text, counts.links):
            continue  # blocks around text blocks are scored through them
        if _is_media_text(block):
            continue
        # Counted in the one pass over the tree: the text per block would be quadratic.
        score = 1 + counts.commas + min(counts.text / 100, 3)
        for level, ancestor in enumerate(block.iterancestors()):
            if level > 2 or ancestor not in stats:
                break  # only the block's own surroundings, and only inside the page body
            scores[ancestor] = scores.get(ancestor, 0) + score / (1, 2, 6)[level]
    if not scores:
        return [root]
    final = {
        element: score * (1 - _link_density(element, stats))
        for element, score in scores.items()
    }
    best = _widen(max(final, key=final.__getitem__), root, stats)
    return _with_siblings(best, final, stats, removed)


def _widen(best: HtmlElement, root: HtmlElement, stats: Stats) -> HtmlElement:
    """Climb to the ancestors that add more paragraphs of prose and little else."""
    for parent in best.iterancestors():
        if parent is root or parent not in stats:
            break
        inner, outer = stats[best], stats[parent]
        added_paragraphs = outer.paragraphs - inner.paragraphs
        added_text = outer.text - inner.text
        if added_paragraphs >= inner.paragraphs * WIDEN_MIN_GAIN and (
            added_paragraphs >= added_text * WIDEN_MIN_PROSE
        ):
            best = parent
        elif added_text:
            break
    return best


def _is_media_text(block: HtmlElement) -> bool:
    # Photo captions are paragraphs too, but they must not pull the article towards a photo.
    for element in (block, block.getparent()):
        if element is None:
            continue
        if element.tag in ("figure", "figcaption") or MEDIA_CLASS.search(
            " ".join(_classes(element))
        ):
            return True
    return False


def _with_siblings(
    best: HtmlElement, scores: dict[HtmlElement, float], stats: Stats, removed: set[HtmlElement]
) -> list[HtmlElement]:
    # Articles split into several sibling blocks (text, embed, more text) stay whole.
    parent = best.getparent()
    if parent is None:
        return [best]
    threshold = max(10, max(scores.values()) * 0.2)
    chosen = []
    for sibling in _child_tags(parent):
        if sibling in removed:
            continue
        if sibling is best or scores.get(sibling, 0) >= threshold:
            chosen.append(sibling)
        elif sibling.tag == "p" and _prose_chars(sibling, stats) > 80:
            if _link_density(sibling, stats) < 0.25:
                chosen.append(sibling)
    return chosen


def _take_caption(
    containers: list[HtmlElement], elements: list[HtmlElement], removed: set[HtmlElement]
) -> tuple[str | None, set[HtmlElement]]:
    """Return the first photo caption and the captions to leave out of the article body.

    ``elements`` are the page body's elements left after the ``removed`` furniture.
    """
    left = set(elements)
    captions = [
        element
        for scope in containers
        for element in scope.iterdescendants()
        if element in left and _is_caption(element)
    ]
    texts = (_clean(_text(element, " ", removed)) for element in captions)
    caption = next(filter(None, texts), None)
    if caption is None:
        everywhere = (element for element in elements if _is_caption(element))
        texts = (_clean(_text(element, " ", removed)) for element in everywhere)
        caption = next(filter(None, texts), None)
    return caption, set(captions)


def _is_caption(element: HtmlElement) -> bool:
    if element.tag == "figcaption" or element.get("itemprop") == "caption":
        return True
    return bool(CAPTION_CLASS.search(" ".join(_classes(element)))) and element.tag != "figure"


class _Paragraphs:
    """Collect text into paragraphs, remembering how much of each is link text."""

    def __init__(self) -> None:
        self.paragraphs: list[str] = []
        self.parts: list[str] = []
        self.link_chars = 0

    def add(self, text: str, in_link: bool) -> None:
        self.parts.append(text)
        if in_link:
            self.link_chars += len(text.strip())

    def end(self) -> None:
        text = " ".join("".join(self.parts).split())
        if text and self.link_chars / len(text) <= MAX_PARAGRAPH_LINK_DENSITY:
            self.paragraphs.append(text)
        self.parts, self.link_chars = [], 0


def _block_texts(containers: list[HtmlElement], removed: set[HtmlElement]) -> list[str]:
    """Split the containers' text into paragraphs at block boundaries, less ``removed``."""
    collected = _Paragraphs()
    link_depth = 0
    # (node, closing) pairs on an explicit stack: pages nest deeper than Python recurses.
    # A node is an element or a string; the text after an element is its parent's.
    stack: list[tuple[HtmlElement | str, bool]] = [(node, False) for node in reversed(containers)]
    while stack:
        node, closing = stack.pop()
        if isinstance(node, str):
            collected.add(node, link_depth > 0)
            continue
        if closing:
            link_depth -= node.tag == "a"
            if node.tag in BLOCK_TAGS:
                collected.end()
            continue
        # The headline is not body text; code, comments and removed elements are none.
        if node.tag == "h1" or node.tag in INERT_TAGS or node in removed:
            continue
        if not _is_element(node):
            continue
        if node.tag in BLOCK_TAGS:
            collected.end()
        link_depth += node.tag == "a"
        stack.append((node, True))
        for child in reversed(node):
            if child.tail:
                stack.append((child.tail, False))
            stack.append((child, False))
        if node.text:
            stack.append((node.text, False))
    collected.end()
    return collected.paragraphs


def _split_article_body(body: str) -> list[str]:
    if re.search(r"<(?:p|br|div)\b", body, re.IGNORECASE):
        document, _ = parse_page(body)
        return _block_texts([_body(document)], set()) if document is not None else []
    text = html_entities.unescape(body)
    # Some sites separate paragraphs with one newline, others with a blank line.
    if re.search(r"\n\s*\n", text):
        return split_paragraphs(text)
    return text.splitlines()


def _drop_headline(paragraphs: list[str], headline: str | None) -> list[str]:
    if paragraphs and headline and paragraphs[0].casefold() == headline.casefold():
        return paragraphs[1:]
    return paragraphs


# --- choosing the body ----------------------------------------------------------------------


def library_body(page: str | HtmlElement) -> list[str]:
    """Return trafilatura's article body for a page or its tree, one paragraph a line item.

    trafilatura works on a copy of a tree it is given: the caller's tree stays as it was.
    """
    try:
        text = trafilatura.extract(page if page is not None else "", **TRAFILATURA_OPTIONS)
    except (ValueError, TypeError, LookupError, RecursionError, etree.LxmlError):
        return []  # the page is too broken for it; our own reading still stands
    lines = (LIST_BULLET.sub("", line) for line in (text or "").splitlines())
    return clean_paragraphs(list(lines))


def compare_bodies(ours: list[str], library: list[str], publisher: list[str]) -> Bodies:
    """Measure how far our body, trafilatura's and the publisher's agree."""
    # Each text is split into words once: the whole text's words are its paragraphs' words.
    ours_tokens = [_tokens(text) for text in ours]
    library_words = _tokens(" ".join(library))
    ours_shingles = _count_shingles([word for tokens in ours_tokens for word in tokens])
    library_shingles = _count_shingles(library_words)
    # The words between spaces: a run of words is in the text when " run " is in this.
    library_text = f" {' '.join(library_words)} "
    bodies = Bodies(
        ours,
        library,
        publisher,
        ours_in_library=_share_held(ours_shingles, library_shingles),
        library_in_ours=_share_held(library_shingles, ours_shingles),
        supported=[_holds(library_shingles, library_text, words) for words in ours_tokens],
    )
    if publisher:
        publisher_shingles = _shingles(publisher)
        bodies.ours_publisher = _match(ours_shingles, publisher_shingles)
        bodies.library_publisher = _match(library_shingles, publisher_shingles)
    return bodies


def choose_body(bodies: Bodies, agreement: Agreement) -> list[str]:
    """Pick the article body's paragraphs, without the headline."""
    paragraphs = _backed_body(bodies, agreement)
    if bodies.fallback and sum(map(len, paragraphs)) < MIN_BODY_CHARS:
        paragraphs = bodies.fallback
    return _drop_headline(paragraphs, bodies.headline)


def _backed_body(bodies: Bodies, agreement: Agreement) -> list[str]:
    """Return the candidate the evidence backs, without our widgets."""
    ours, library = bodies.ours, bodies.library
    if not ours or not library:
        return ours or library
    # The publisher's own complete text is the best judge where it has one.
    if max(bodies.ours_publisher, bodies.library_publisher) >= agreement.publisher_agree:
        if bodies.library_publisher > bodies.ours_publisher:
            return library
    ours_held = bodies.ours_in_library >= agreement.agree
    library_held = bodies.library_in_ours >= agreement.agree
    ours_size, library_size = _size(ours), _size(library)
    if not ours_held and not library_held:
        # Two different texts: ours may be a staff box, a list of stories or another post
        # of the page, and the article, when it is the other text, is the longer one.
        return library if library_size > ours_size * agreement.longer_ratio else ours
    if ours_held and not library_held and ours_size < library_size * agreement.fragment:
        return library  # ours kept one block of an article split across several
    # The two agree: keep our text, less the short lines trafilatura found no article in.
    kept = [
        text
        for text, held in zip(ours, bodies.supported, strict=True)
        if held or len(text) >= agreement.short_chars
    ]
    return kept or library


def _tokens(text: str) -> list[str]:
    return WORD.findall(text)


def _shingles(paragraphs: list[str]) -> Counter[tuple[str, ...]]:
    return _count_shingles(_tokens(" ".join(paragraphs)))


def _count_shingles(words: list[str]) -> Counter[tuple[str, ...]]:
    if len(words) < SHINGLE_SIZE:
        return Counter([tuple(words)] if words else [])
    return Counter(zip(*(words[i:] for i in range(SHINGLE_SIZE)), strict=False))


def _size(paragraphs: list[str]) -> int:
    return sum(len(_tokens(text)) for text in paragraphs)


def _share_held(part: Counter, whole: Counter) -> float:
    """Return the share of ``part``'s shingles that ``whole`` holds too."""
    total = sum(part.values())
    if not total:
        return 0.0
    held = 0
    # A loop of dict lookups: Counter's "&" builds a third Counter and looks up through
    # __missing__, three times slower here.
    found = whole.get
    for shingle, count in part.items():
        if other := found(shingle):
            held += count if count < other else other
    return held / total


def _match(a: Counter, b: Counter) -> float:
    """Return how well two texts match: the harmonic mean of their shares held."""
    first, second = _share_held(a, b), _share_held(b, a)
    return 2 * first * second / (first + second) if first + second else 0.0


def _holds(shingles: Counter, spaced_words: str, paragraph: list[str]) -> bool:
    """Tell whether a text holds most of one paragraph, given as its words.

    The text is given as its shingles and as its words joined by spaces, with a space at
    either end.
    """
    if not paragraph:
        return False
    if len(paragraph) < SHORT_PARAGRAPH_TOKENS:
        # Too short for shingles to say: the words must appear together as they are.
        return f" {' '.join(paragraph)} " in spaced_words
    return _share_held(_count_shingles(paragraph), shingles) >= PARAGRAPH_HELD
