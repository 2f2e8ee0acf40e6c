import datetime
import json

import pytest

from searchapp.extraction import Page, extract_page

BODY = [
    "The city council voted on Tuesday to rebuild the old harbour bridge, ending a debate "
    "that had lasted for more than a decade.",
    "Engineers said the new bridge, which will carry trams as well as cars, should open "
    "in the spring of 2027 if the funding arrives on time.",
    "Residents who had campaigned for the repairs welcomed the decision, although several "
    "shop owners worried about two years of road works.",
]


def page(body: str = "", head: str = "") -> str:
    """Wrap markup in a small but complete news page."""
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Bridge vote | The Harbour Gazette</title>{head}</head>
<body>
<header class="site-header"><a href="/">The Harbour Gazette</a> <a href="/news">News</a></header>
<nav><ul><li><a href="/sport">Sport</a></li><li><a href="/weather">Weather</a></li></ul></nav>
{body}
<footer><p>Copyright 2024 The Harbour Gazette. All rights reserved, including reprints.</p>
</footer>
</body></html>"""


def article(extra: str = "", heading: str = "<h1>Council backs new harbour bridge</h1>") -> str:
    paragraphs = "".join(f"<p>{text}</p>" for text in BODY)
    return f"<article>{heading}{paragraphs}{extra}</article>"


def json_ld(data: object) -> str:
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


def test_extract_page_returns_article_body_paragraphs_in_order():
    result = extract_page(page(article()))

    assert isinstance(result, Page)
    assert result.paragraphs == BODY


def test_extract_page_reads_json_ld_metadata():
    head = json_ld({
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": "Council backs bridge &amp; tram plan",
        "datePublished": "2024-03-05T09:30:00+01:00",
        "author": {"@type": "Person", "name": "Ann Lee"},
        "url": "https://gazette.example/news/bridge",
    })

    result = extract_page(page(article(), head))

    assert result.headline == "Council backs bridge & tram plan"
    assert result.date == datetime.date(2024, 3, 5)
    assert result.author == "Ann Lee"
    assert result.url == "https://gazette.example/news/bridge"


def test_extract_page_finds_article_in_json_ld_graph_with_author_list():
    head = json_ld({
        "@context": "https://schema.org",
        "@graph": [
            {"@type": "WebSite", "name": "The Harbour Gazette", "url": "https://gazette.example"},
            {
                "@type": ["ReportageNewsArticle"],
                "headline": "Council backs new harbour bridge",
                "dateCreated": "2024-03-04",
                "author": [{"@type": "Person", "name": "Ann Lee"}, "Bo Chen"],
                "mainEntityOfPage": {"@id": "https://gazette.example/news/bridge"},
            },
        ],
    })

    result = extract_page(page(article(), head))

    assert result.headline == "Council backs new harbour bridge"
    assert result.date == datetime.date(2024, 3, 4)
    assert result.author == "Ann Lee, Bo Chen"
    assert result.url == "https://gazette.example/news/bridge"


def test_extract_page_prefers_json_ld_over_meta_tags():
    head = json_ld({"@type": "NewsArticle", "headline": "From JSON-LD"}) + (
        '<meta property="og:title" content="From OpenGraph">'
    )

    assert extract_page(page(article(), head)).headline == "From JSON-LD"


def test_extract_page_falls_back_to_opengraph_and_article_meta():
    head = """
        <meta property="og:title" content="Bridge vote: council says yes">
        <meta property="og:url" content="https://gazette.example/news/bridge">
        <meta property="article:published_time" content="2024-03-05T09:30:00Z">
        <meta property="article:author" content="https://gazette.example/staff/ann-lee">
        <meta name="author" content="By Ann Lee">"""

    result = extract_page(page(article(), head))

    assert result.headline == "Bridge vote: council says yes"
    assert result.url == "https://gazette.example/news/bridge"
    assert result.date == datetime.date(2024, 3, 5)
    assert result.author == "Ann Lee"  # the profile URL is no name, "By" no part of it


@pytest.mark.parametrize(
    "meta",
    [
        '<meta name="date" content="2024-03-05">',
        '<meta name="pubdate" content="20240305">',
        '<meta name="publish-date" content="March 5, 2024">',
        '<meta name="dc.date" content="2024-03-05">',
        '<meta name="DC.date.issued" content="2024-03-05">',
        '<meta name="parsely-pub-date" content="2024-03-05T08:00:00Z">',
        '<meta name="sailthru.date" content="Tue, 05 Mar 2024 08:00:00 -0000">',
        '<meta itemprop="datePublished" content="2024-03-05">',
    ],
)
def test_extract_page_reads_date_from_common_meta(meta):
    assert extract_page(page(article(), meta)).date == datetime.date(2024, 3, 5)


def test_extract_page_prefers_time_inside_the_article():
    body = (
        '<div class="ticker"><time datetime="2023-12-31">Yesterday</time></div>'
        + article(heading='<time datetime="2024-03-05T10:00">5 March</time>')
    )

    assert extract_page(page(body)).date == datetime.date(2024, 3, 5)


def test_extract_page_falls_back_to_h1_and_canonical_link():
    head = '<link rel="canonical" href="https://gazette.example/news/bridge">'

    result = extract_page(page(article(), head))

    assert result.headline == "Council backs new harbour bridge"
    assert result.url == "https://gazette.example/news/bridge"


@pytest.mark.parametrize(
    ("title", "headline"),
    [
        ("Bridge vote | The Harbour Gazette", "Bridge vote"),
        ("Council backs new harbour bridge - Gazette", "Council backs new harbour bridge"),
        ("Council backs bridge — The Gazette", "Council backs bridge"),
        ("Covid-19 rules end", "Covid-19 rules end"),
    ],
)
def test_extract_page_uses_title_without_site_name_as_last_resort(title, headline):
    html = f"<html><head><title>{title}</title></head><body>{article(heading='')}</body></html>"

    assert extract_page(html).headline == headline


def test_extract_page_does_not_repeat_headline_in_body():
    result = extract_page(page(article()))

    assert result.headline == "Council backs new harbour bridge"
    assert "Council backs new harbour bridge" not in result.paragraphs


@pytest.mark.parametrize(
    "furniture",
    [
        '<div class="share-bar"><p>Share this story on Facebook, Twitter and by e-mail</p></div>',
        '<div class="newsletter-signup"><p>Get our free morning briefing every day</p></div>',
        '<section id="comments"><p>Great article, I have always loved that bridge!</p></section>',
        '<div class="related-articles"><p>Ferry fares to rise again in the spring</p></div>',
        '<aside><p>Most read: ferry fares to rise again in the spring</p></aside>',
        '<div class="ad-slot"><p>Buy the best garden furniture at half price</p></div>',
        '<div class="cookie-banner"><p>We use cookies to improve your experience</p></div>',
        '<ol class="breadcrumb"><li>Home</li><li>News</li><li>Local</li></ol>',
        '<div class="author-bio"><p>Ann Lee covers city politics for the Gazette</p></div>',
        '<form><p>Search the archive for older stories about the bridge</p></form>',
        '<div role="navigation"><p>Previous story about the tram network</p></div>',
        '<div style="display: none"><p>Hidden text the reader never sees</p></div>',
    ],
)
def test_extract_page_removes_site_furniture(furniture):
    result = extract_page(page(article(extra=furniture)))

    assert result.paragraphs == BODY


def test_extract_page_removes_page_navigation_header_and_footer():
    text = " ".join(extract_page(page(article())).paragraphs)

    assert "Sport" not in text
    assert "Harbour Gazette" not in text
    assert "Copyright" not in text


def test_extract_page_keeps_article_despite_furniture_word_on_its_wrapper():
    body = f'<div class="layout has-sidebar"><div class="story">{article()}</div></div>'

    assert extract_page(page(body)).paragraphs == BODY


def test_extract_page_drops_boilerplate_and_link_lists_inside_article():
    extra = (
        "<p>Get the Gazette in your inbox:</p>"
        '<ul><li><a href="/a">Ferry fares to rise again</a></li>'
        '<li><a href="/b">Tram line opens next year</a></li></ul>'
    )

    assert extract_page(page(article(extra=extra))).paragraphs == BODY


def test_extract_page_keeps_blocks_as_separate_paragraphs():
    body = """<article>
        <p>First paragraph, with <b>bold</b> and <a href="/x">a link</a> inside it.</p>
        <h2>A subheading</h2>
        <ul><li>First point of the list.</li><li>Second point of the list.</li></ul>
        <blockquote>A quotation from the mayor.</blockquote>
        <div>Loose line one<br><br>Loose line two</div>
        <p>Last   paragraph
           spread over lines.</p>
    </article>"""

    assert extract_page(page(body)).paragraphs == [
        "First paragraph, with bold and a link inside it.",
        "A subheading",
        "First point of the list.",
        "Second point of the list.",
        "A quotation from the mayor.",
        "Loose line one",
        "Loose line two",
        "Last paragraph spread over lines.",
    ]


def test_extract_page_decodes_entities():
    body = article(extra="<p>Caf&eacute; owners &amp; residents said &#8220;yes&#8221;.</p>")

    assert extract_page(page(body)).paragraphs[-1] == "Café owners & residents said “yes”."


def test_extract_page_captures_first_caption_outside_body():
    figures = (
        '<figure><img src="a.jpg"><figcaption>The old bridge in 1950. '
        "Photo: City Archive</figcaption></figure>"
        '<figure><img src="b.jpg"><figcaption>A tram in 2019.</figcaption></figure>'
    )

    result = extract_page(page(article(extra=figures)))

    assert result.caption == "The old bridge in 1950. Photo: City Archive"
    assert result.paragraphs == BODY


def test_extract_page_caption_is_none_without_photos():
    assert extract_page(page(article())).caption is None


def test_extract_page_finds_body_without_semantic_markup():
    paragraphs = "".join(f"<p>{text}</p>" for text in BODY)
    body = f"""
        <div class="top"><a href="/">Home</a> <a href="/news">News</a>
        <a href="/sport">Sport</a></div>
        <div class="wrap"><div class="col-8">{paragraphs}</div>
        <div class="col-4"><a href="/a">Ferry fares to rise again this spring</a><br>
        <a href="/b">Tram line opens next year after delays</a></div></div>"""

    assert extract_page(page(body)).paragraphs == BODY


def test_extract_page_prefers_itemprop_article_body():
    body = (
        '<article><div class="teaser"><p>A teaser that is not the story at all, '
        "only a summary of it.</p></div>"
        '<div itemprop="articleBody">' + "".join(f"<p>{text}</p>" for text in BODY) + "</div>"
        "</article>"
    )

    assert extract_page(page(body)).paragraphs == BODY


def test_extract_page_falls_back_to_json_ld_article_body():
    head = json_ld({
        "@type": "NewsArticle",
        "headline": "Council backs new harbour bridge",
        "articleBody": "\n\n".join(BODY),
    })

    result = extract_page(page('<div id="app">Loading…</div>', head))

    assert result.paragraphs == BODY


@pytest.mark.parametrize(
    "broken",
    [
        '{"@type": "NewsArticle", "headline": ',
        "not json at all",
        "[" * 5000 + "]" * 5000,
        '{"@type": 5, "headline": ["list"], "author": [null, 3, {"name": 7}]}',
        '{"@type": "NewsArticle", "headline": 5, "datePublished": {"a": 1}, "url": [1]}',
        "",
    ],
)
def test_extract_page_ignores_malformed_json_ld(broken):
    head = (
        f'<script type="application/ld+json">{broken}</script>'
        '<meta property="og:title" content="Bridge vote: council says yes">'
    )

    result = extract_page(page(article(), head))

    assert result.headline == "Bridge vote: council says yes"
    assert result.paragraphs == BODY


def test_extract_page_survives_deeply_nested_markup():
    depth = 10_000
    html = (
        "<html><body>" + "<div>" * depth + f"<p>{BODY[0]}</p>" + "</div>" * depth
        + "</body></html>"
    )

    assert extract_page(html).paragraphs == [BODY[0]]


@pytest.mark.parametrize(
    "html",
    [
        "",
        "   \n ",
        "just some plain text",
        "http://example.com/",
        "<p>unclosed <b>tags <i>everywhere",
        "</div></p></html>",
        "<<<>>>",
        "\x00\x01 control characters",
        '<?xml version="1.0"?><rss><channel><title>Feed</title></channel></rss>',
        "<html><head><title></title></head><body></body></html>",
    ],
)
def test_extract_page_accepts_any_input(html):
    result = extract_page(html)

    assert isinstance(result, Page)
    assert all(isinstance(paragraph, str) and paragraph for paragraph in result.paragraphs)


def test_extract_page_returns_empty_page_for_empty_input():
    assert extract_page("") == Page(None, None, None, None, None, [])


@pytest.mark.parametrize(
    "text",
    [
        "Der Stadtrat hat am Dienstag beschlossen, die alte Hafenbrücke neu zu bauen, "
        "nachdem jahrelang über die Kosten gestritten worden war.",
        "Городской совет во вторник проголосовал за реконструкцию старого моста в порту, "
        "завершив многолетний спор.",
        "市議会は火曜日、港の古い橋を建て替えることを決定し、十年以上続いた議論に終止符を打った。",
        "시의회는 화요일 오래된 항구 다리를 재건하기로 결정하여 10년 넘게 이어진 논쟁을 끝냈다.",
    ],
)
def test_extract_page_keeps_non_english_text(text):
    body = f"<article><h1>Titel</h1><p>{text}</p><p>{text}</p></article>"

    assert extract_page(page(body)).paragraphs == [text, text]


def test_extract_page_keeps_portuguese_text():
    text = (
        "A câmara municipal votou na terça-feira a reconstrução da velha ponte do porto, "
        "pondo fim a um debate que durava há mais de uma década."
    )
    body = f"<article><h1>Título</h1><p>{text}</p><p>{text}</p></article>"

    assert extract_page(page(body)).paragraphs == [text, text]


def test_extract_page_drops_link_dense_blocks():
    links = "".join(
        f'<a href="/{n}">Another story about the harbour, part {n}</a> ' for n in range(6)
    )
    extra = (
        f"<div>{links}</div><p>See <a href='/more-on-the-bridge-and-the-ferries'>"
        "more on the bridge and the ferries</a></p>"
    )

    assert extract_page(page(article(extra=extra))).paragraphs == BODY


@pytest.mark.parametrize(
    "phrase",
    ["Get the Gazette in your inbox:", "Sign up for our daily newsletter.", "Advertisement",
     "Share this article", "Read more:", "Leave a comment", "Click here to subscribe today"],
)
def test_extract_page_drops_boilerplate_phrases(phrase):
    assert extract_page(page(article(extra=f"<p>{phrase}</p>"))).paragraphs == BODY


def test_extract_page_drops_nul_characters():
    body = article(extra="<p>\x00</p>").replace("council voted", "council\x00 voted")

    assert extract_page(page(body)).paragraphs == BODY


@pytest.mark.parametrize(
    ("title", "head", "h1", "headline"),
    [
        ("Bridge vote | TheGazette", '<meta property="og:site_name" content="TheGazette">',
         "Other", "Bridge vote"),
        ("Bridge vote - gazette.example",
         '<meta property="og:url" content="https://www.gazette.example/bridge">',
         "Other", "Bridge vote"),
        ("Gazette | Bridge vote", '<meta property="og:site_name" content="Gazette">',
         "Other", "Bridge vote"),
        ("Bridge vote | Opinion", "", "Bridge vote", "Bridge vote"),
        ("Week 2018 | Bridge vote", '<meta property="og:site_name" content="Gazette">',
         "Week 2018 | Bridge vote", "Week 2018 | Bridge vote"),
    ],
)
def test_extract_page_drops_site_name_from_headline(title, head, h1, headline):
    head += f'<meta property="og:title" content="{title}">'

    assert extract_page(page(article(heading=f"<h1>{h1}</h1>"), head)).headline == headline


def test_extract_page_reads_json_ld_that_is_not_valid_json():
    broken = (
        '<script type="application/ld+json">{"@type": "NewsArticle", '
        '"headline": "Council backs bridge", "description": "an "unescaped" quote", '
        '"datePublished": "2024-03-05"}</script>'
    )

    result = extract_page(page(article(), broken))

    assert (result.headline, result.date) == ("Council backs bridge", datetime.date(2024, 3, 5))


def test_extract_page_reads_json_ld_with_raw_newlines_in_strings():
    raw = '{"@type": "NewsArticle", "headline": "Two\nlines", "datePublished": "2024-03-05"}'

    result = extract_page(page(article(), f'<script type="application/ld+json">{raw}</script>'))

    assert (result.headline, result.date) == ("Two lines", datetime.date(2024, 3, 5))


def test_extract_page_reads_other_published_meta_but_not_modified():
    head = ('<meta name="last-modified" content="2024-04-01">'
            '<meta name="xyz-post-date" content="2024/03/05">')

    assert extract_page(page(article(), head)).date == datetime.date(2024, 3, 5)


def test_extract_page_reads_date_line_under_headline():
    heading = ('<h1>Council backs new harbour bridge</h1>'
               '<div class="publish-date">Published 11:11 PM EST Mar 5, 2024 | Updated Mar 6, 2024'
               '</div>')

    assert extract_page(page(article(heading=heading))).date == datetime.date(2024, 3, 5)


def test_extract_page_ignores_caption_date_under_headline():
    heading = ('<h1>Council backs new harbour bridge</h1><figure><figcaption>'
               'The bridge, photographed by Ann Lee on May 17, 2021</figcaption></figure>')

    assert extract_page(page(article(heading=heading))).date is None


@pytest.mark.parametrize(
    ("published", "expected"),
    [
        ("2024-03-06T03:00:00Z", datetime.date(2024, 3, 5)),  # UTC: the local date line wins
        ("2024-03-06T03:00:00-06:00", datetime.date(2024, 3, 6)),  # a zone: metadata wins
    ],
)
def test_extract_page_prefers_local_date_line_to_utc_timestamp(published, expected):
    head = f'<meta property="article:published_time" content="{published}">'
    heading = (
        '<h1>Council backs new harbour bridge</h1><p class="byline">By Ann Lee, March 5, 2024</p>'
    )

    assert extract_page(page(article(heading=heading), head)).date == expected


def test_parse_text_article_seed_parses_as_before():
    from pathlib import Path

    from searchapp.articles import parse_text_article

    seed = Path(__file__).resolve().parent.parent / "seeds" / "000_5181227ef7dc2b03.txt"
    result = parse_text_article(seed.read_text(encoding="utf-8"), "000_5181227ef7dc2b03")

    assert result.headline == "Fighting Continues on Armenia-Azerbaijan Border"
    assert result.date == datetime.date(2022, 9, 14)
    assert result.caption == (
        "Armenian soldiers take up positions on the border with Azerbaijan, May 17, 2021"
    )
    assert result.body.startswith("YEREVAN — Fighting reportedly continued")
    assert len(result.paragraphs) == 11
    assert "in your inbox" not in result.body


# --- the body on pages whose markup misleads one extractor --------------------------------

STORY = [
    "The harbour authority confirmed on Monday that the old swing bridge will close for "
    "good next spring, after inspectors found that two of its four steel piers had lost "
    "almost a third of their thickness to corrosion since the last survey in 2016.",
    "Engineers had warned for years that salt water was eating into the foundations. The "
    "authority's own report, published in the autumn, said the bridge could carry light "
    "traffic only until the end of the decade and buses not at all.",
    "A replacement will take at least three years to build. Until it opens, drivers will "
    "have to use the ring road, which adds about twenty minutes to a trip from the old "
    "town to the station at the busiest hours of the morning.",
    "Shopkeepers on the quay said they feared losing the passing trade that the bridge "
    "brings. One baker who has worked there for thirty years said half of her customers "
    "came across it on foot every morning on their way to the ferry terminal.",
    "The mayor promised a free shuttle boat across the harbour while the work goes on. She "
    "said the city would ask the national government to pay for most of the new bridge, "
    "whose cost the engineers put at about ninety million.",
    "Residents will be able to see the designs at the town hall from next month. A final "
    "choice between a lifting bridge and a higher fixed span is expected in the summer, "
    "after the shipping companies have said what clearance their vessels need.",
    "Campaigners who have fought to save the old bridge as a monument said they would ask "
    "for it to be kept as a footpath. Its iron railings, cast in the town's foundry in "
    "the 1890s, are listed, and cannot be removed without the heritage board's consent.",
]


def story(wrapper: str = '<div class="article-body">{}</div>') -> str:
    return wrapper.format("".join(f"<p>{text}</p>" for text in STORY))


def body_text(html: str) -> str:
    return " ".join(extract_page(page(html)).paragraphs)


def assert_story_chosen(html: str) -> None:
    text = body_text(html)
    for paragraph in STORY:
        assert paragraph in text
    assert len(text) < len(" ".join(STORY)) * 1.1


def test_extract_page_prefers_the_longer_article_to_an_about_us_box():
    about = (
        '<article class="about"><h3>About us</h3><p>The Harbour Gazette has served the city '
        "since 1871, with a newsroom of twelve reporters, four photographers and two editors "
        "working from the old customs house, and is owned by a charitable trust, which "
        "appoints the editor and guarantees the paper's independence from its advertisers."
        "</p></article>"
    )

    assert_story_chosen(f"<h1>Old swing bridge to close</h1>{story()}{about}")


def test_extract_page_prefers_the_article_to_a_more_stories_list():
    teaser = (
        '<li><a href="/n{0}">Story {0}</a><p>Council, unions, parents, teachers and the port '
        "all disagree, again, on budgets, plans, dates, costs and blame, says a report.</p></li>"
    )
    more = f'<div class="stories"><ul>{"".join(teaser.format(i) for i in range(9))}</ul></div>'

    assert_story_chosen(
        f'<h1>Old swing bridge to close</h1>{story("<div class=entry-content>{}</div>")}{more}'
    )


def test_extract_page_prefers_the_article_to_the_publishers_address():
    address = "".join(
        f"<p>Harbour Gazette Ltd, {i} Quay Street, Suite {i}, Portsmouth, PO1 2AB, Hampshire, "
        f"United Kingdom, Registered in England, No. 12{i}456, VAT GB 99{i}, Tel. 023 90{i}</p>"
        for i in range(4)
    )

    assert_story_chosen(
        f'<h1>Old swing bridge to close</h1>{story()}<div class="site-info">{address}</div>'
    )


def test_extract_page_prefers_the_article_to_another_post_of_the_page():
    other = (
        '<article class="next-post"><h2><a href="/p/2">Ferry timetable changes</a></h2><p>'
        "The winter timetable for the island ferries starts on the first Sunday of November, "
        "with two fewer crossings a day on weekdays and the last boat leaving at nine, as the "
        "operator struggles to find crews and the council refuses to raise its subsidy again."
        "</p></article>"
    )

    assert_story_chosen(
        f'<h1>Old swing bridge to close</h1>{story("<div class=post-content>{}</div>")}{other}'
    )


def test_extract_page_keeps_an_article_split_across_blocks():
    lead = "".join(f"<p>{text}</p>" for text in STORY[:2])
    rest = "".join(f"<p>{text}</p>" for text in STORY[2:])
    html = (
        f'<div class="article-body"><article><h1>Old swing bridge to close</h1>{lead}'
        f'</article><div class="ad-free"><img src="/a.png"></div><div class="part">{rest}'
        "</div></div>"
    )

    assert_story_chosen(html)


def test_extract_page_drops_widgets_inside_the_article():
    widgets = (
        '<div class="tools"><span>Text size</span> <a href="#">A</a> <a href="#">A</a></div>'
        '<div class="tools"><span>Share this:</span> <a href="#">Facebook</a> '
        '<a href="#">Email</a></div>'
    )
    author_box = (
        '<div class="writer"><p>Jane Doe is our transport reporter. '
        '<a href="/staff/jane">More from Jane</a></p></div>'
    )
    html = f'<article><h1>Old swing bridge to close</h1>{widgets}{story()}{author_box}</article>'

    text = body_text(html)

    assert_story_chosen(html)
    assert "Text size" not in text and "Share this" not in text and "Jane Doe" not in text


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("publiziert am 14. März 2023", datetime.date(2023, 3, 14)),
        ("Publié le 3 février 2022, mis à jour le 4 février 2022", datetime.date(2022, 2, 3)),
        ("Publicado el 5 de marzo de 2021", datetime.date(2021, 3, 5)),
        ("Publicado em 12 de março de 2020", datetime.date(2020, 3, 12)),
        ("Pubblicato il 7 dicembre 2019", datetime.date(2019, 12, 7)),
    ],
)
def test_extract_page_reads_non_english_date_line_without_metadata(line, expected):
    heading = f'<h1>Council backs new harbour bridge</h1><p class="meta-line">{line}</p>'

    assert extract_page(page(article(heading=heading))).date == expected


def test_extract_page_reads_non_english_date_in_the_text_of_a_page_without_metadata():
    from searchapp.articles import parse_html_article

    lead = "<p>Hamburg, 14. März 2023. Der Stadtrat hat am Dienstag den Neubau beschlossen.</p>"

    heading = f"<h1>Council backs new harbour bridge</h1>{lead}"

    assert parse_html_article(page(article(heading=heading)), "x").date == datetime.date(
        2023, 3, 14
    )


def test_extract_page_reads_date_line_above_the_headline_of_an_undated_page():
    heading = (
        '<p><span class="about">Moritz Bachmann</span> <span>publiziert am 30. Juli 2018</span>'
        "</p><h1>Council backs new harbour bridge</h1>"
    )

    assert extract_page(page(article(heading=heading))).date == datetime.date(2018, 7, 30)


def test_extract_page_ignores_a_date_above_the_headline_when_metadata_has_one():
    head = '<meta property="article:published_time" content="2024-03-05T09:30:00Z">'
    # The site header's "today", a day after the UTC timestamp.
    heading = '<div class="date">Wednesday, March 6, 2024</div><h1>Council backs bridge</h1>'

    assert extract_page(page(article(heading=heading), head)).date == datetime.date(2024, 3, 5)


def test_extract_page_prefers_the_whole_h1_to_a_headline_cut_short_in_metadata():
    head = json_ld({"@type": "NewsArticle", "headline": "Council backs new harbour"})

    assert extract_page(page(article(), head)).headline == "Council backs new harbour bridge"


def test_choose_body_keeps_our_short_lines_when_trafilatura_read_another_text():
    from searchapp.extraction import Agreement, choose_body, compare_bodies

    ours = [*BODY, "Photo: Ann Lee"]
    other = ["A short note about the weather, which was fine all week long."]

    assert choose_body(compare_bodies(ours, other, []), Agreement()) == ours


def test_choose_body_keeps_ours_when_trafilatura_found_nothing():
    from searchapp.extraction import Agreement, choose_body, compare_bodies

    assert choose_body(compare_bodies(BODY, [], []), Agreement()) == BODY


def test_choose_body_follows_the_complete_json_ld_article_body():
    from searchapp.extraction import Agreement, choose_body, compare_bodies

    ours = BODY[:1] + ["Council backs bridge: read more stories from the harbour desk today."]
    library = BODY

    bodies = compare_bodies(ours, library, BODY)

    assert choose_body(bodies, Agreement()) == BODY


@pytest.mark.parametrize("opening", ["<script>", "<style>", "<!--", "<script "])
def test_extract_page_cuts_unclosed_scripts_without_rescanning_the_page(opening):
    # Each unclosed opening used to be searched to the page's end again: minutes of work.
    result = extract_page("<p>Before the scripts, a line of text.</p>" + opening * 20000)

    assert result.paragraphs in ([], ["Before the scripts, a line of text."])


# --- one parse for both extractors, and pages that are hard to parse ----------------------


def test_library_body_reads_our_tree_as_it_reads_the_page_and_leaves_it_intact():
    import lxml.html

    from searchapp.extraction import library_body, parse_page

    html = page(f"<h1>Old swing bridge to close</h1>{story()}")
    ours, for_library = parse_page(html)
    before = lxml.html.tostring(ours)

    assert ours is for_library
    assert library_body(for_library) == library_body(html)
    assert all(paragraph in " ".join(library_body(html)) for paragraph in STORY)
    assert lxml.html.tostring(ours) == before


def test_extract_page_keeps_scripts_styles_and_comments_out_of_the_text():
    extra = (
        "<p>Before the code <script>var secret = 'tracking pixel';</script>and after it.</p>"
        "<style>.story { color: red }</style><!-- an editor's note -->"
    )
    heading = "<h1>Council backs <script>var hidden = 1;</script>new harbour bridge</h1>"

    result = extract_page(page(article(extra=extra, heading=heading)))

    assert result.headline == "Council backs new harbour bridge"
    assert result.paragraphs == [*BODY, "Before the code and after it."]


def test_extract_page_joins_the_words_of_inline_markup_in_the_headline():
    heading = "<h1>Council <em>backs</em> new <a href='/b'>harbour bridge</a></h1>"

    assert extract_page(page(article(heading=heading))).headline == (
        "Council backs new harbour bridge"
    )


def test_extract_page_leaves_ruby_readings_out_of_the_text():
    text = "市議会は火曜日、港の古い橋を建て替えることを決定し、十年以上続いた議論に終止符を打った"
    ruby = "<ruby>港<rt>みなと</rt></ruby>"
    body = f"<article><h1>Titel</h1><p>{ruby}{text}</p><p>{text}</p></article>"

    assert extract_page(page(body)).paragraphs == [f"港{text}", text]


def test_extract_page_reads_json_ld_placed_in_the_body():
    data = {"@type": "NewsArticle", "headline": "Council backs bridge",
            "datePublished": "2024-03-05"}

    result = extract_page(page(json_ld(data) + article()))

    assert (result.headline, result.date) == ("Council backs bridge", datetime.date(2024, 3, 5))
    assert result.paragraphs == BODY


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5. März 2024", datetime.date(2024, 3, 5)),
        ("5 mars 2024", datetime.date(2024, 3, 5)),
        ("5 de marzo de 2024", datetime.date(2024, 3, 5)),
        ("5 de março de 2024", datetime.date(2024, 3, 5)),
        ("5 marzo 2024", datetime.date(2024, 3, 5)),
        ("14. Dezember 2023", datetime.date(2023, 12, 14)),
        ("1er août 2022", datetime.date(2022, 8, 1)),
    ],
)
def test_extract_page_reads_non_english_month_names_in_metadata(value, expected):
    head = f'<meta name="date" content="{value}">'

    assert extract_page(page(article(), head)).date == expected


@pytest.mark.parametrize(
    "line",
    [
        "Veröffentlicht am 5. März 2024",
        "Publié le 5 mars 2024",
        "Publicado el 5 de marzo de 2024",
        "Publicado em 5 de março de 2024",
        "Pubblicato il 5 marzo 2024",
    ],
)
def test_extract_page_reads_non_english_date_in_a_time_element(line):
    heading = f"<h1>Council backs new harbour bridge</h1><time>{line}</time>"

    assert extract_page(page(article(heading=heading))).date == datetime.date(2024, 3, 5)


def test_extract_page_reads_an_article_after_markup_nested_deeper_than_libxml2_builds():
    # libxml2 stops building at 256 levels and drops the rest of the page.
    depth = 300
    head = ('<meta property="og:title" content="Council backs new harbour bridge">'
            '<meta property="article:published_time" content="2024-03-05">')
    html = page("<div>" * depth + "<span>deep</span>" + "</div>" * depth + article(), head)

    result = extract_page(html)

    assert result.headline == "Council backs new harbour bridge"
    assert result.date == datetime.date(2024, 3, 5)
    assert result.paragraphs == BODY


def test_extract_page_reads_a_deep_page_whose_names_lxml_refuses():
    depth = 2000
    html = (
        '<html xmlns:og="http://ogp.me/ns#"><head><meta property="og:title" '
        'content="Deep page"></head><body>' + '<div data-x:y="1">' * depth
        + f'<fb:like></fb:like><p 1bad="x">{BODY[0]}</p>' + "</div>" * depth + "</body></html>"
    )

    result = extract_page(html)

    assert result.headline == "Deep page"
    assert result.paragraphs == [BODY[0]]


def test_extract_page_walks_deeply_nested_inline_markup_in_linear_work(monkeypatch):
    from lxml import etree

    from searchapp import extraction

    events = [0]

    class CountingEtree:
        def __getattr__(self, name):
            return getattr(etree, name)

        @staticmethod
        def iterwalk(*args, **kwargs):
            for event in etree.iterwalk(*args, **kwargs):
                events[0] += 1
                yield event

    monkeypatch.setattr(extraction, "etree", CountingEtree())
    depth = 200
    html = ("<html><body><h1>Deep Inline Nesting</h1>" + "<div><span>" * depth
            + f"<p>{BODY[0]}</p>" + "</span></div>" * depth + "</body></html>")

    assert extract_page(html).paragraphs == [BODY[0]]
    # Each of the 400 elements is walked a few times, not once for each of its ancestors.
    assert events[0] < 50 * 2 * depth


def test_extract_page_reads_a_huge_page_whole():
    paragraphs = [f"Paragraph {number} of a very long report on the harbour bridge works, "
                  "with enough words to count as prose." for number in range(3000)]
    body = "".join(f"<p>{text}</p>" for text in paragraphs)

    result = extract_page(page(f"<article><h1>Long report</h1>{body}</article>"))

    assert result.headline == "Long report"
    assert result.paragraphs == paragraphs


@pytest.mark.parametrize(
    "html",
    [
        # An XML declaration with an encoding, which lxml refuses in a str.
        '<?xml version="1.0" encoding="iso-8859-1"?>' + page(article()),
        # A charset the text no longer is in (it was decoded already).
        page(article(), '<meta charset="shift_jis">'),
        page(article(), '<meta http-equiv="Content-Type" content="text/html; charset=koi8-r">'),
        # Lone surrogates, as os.fsdecode or a broken JSON escape leave them.
        page(article(extra="<p>Caf\udce9 owners \ud83d said yes.</p>")),
        # Non-characters and control characters.
        page(article(extra="<p>Caf\ufffe owners\x07 said\x1b yes.\uffff</p>")),
        # Mojibake: UTF-8 read as Latin-1.
        page(article(extra="<p>CafÃ© owners said â€œyesâ€\x9d.</p>")),
    ],
)
def test_extract_page_survives_broken_encodings(html):
    result = extract_page(html)

    assert result.paragraphs[: len(BODY)] == BODY
    for text in [result.headline or "", *result.paragraphs]:
        text.encode("utf-8")  # no lone surrogate left: every field can be stored and served
        assert "\ufffe" not in text and "\x07" not in text


def test_extract_page_drops_widgets_and_furniture_nested_in_removed_blocks():
    extra = (
        '<div class="share-tools"><div><p>Share this story with your friends and family today'
        '</p><figure><figcaption>A caption inside the share bar, never the photo caption'
        "</figcaption></figure></div></div>"
    )

    result = extract_page(page(article(extra=extra)))

    assert result.paragraphs == BODY
    assert result.caption is None
