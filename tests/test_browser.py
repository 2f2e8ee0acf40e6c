"""End to end in a real browser: `searchapp serve` started as a subprocess, driven by
Debian's chromium through Playwright.

Each test saves PNGs of the pages it checks in its ``tmp_path``, and also in
$SEARCHAPP_SCREENSHOT_DIR when that is set; the README's screenshots are refreshed with

    SEARCHAPP_SCREENSHOT_DIR=docs/screenshots pytest tests/test_browser.py -k keyboard
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from conftest import ARTICLES, SEED, write_articles

from searchapp.backends.whoosh.indexing import update_index

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:
    sync_playwright = None

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Quiet, offline chromium: no sandbox (CI runs as root), no GPU, no calls home.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
VIEWPORT = {"width": 1000, "height": 900}
SCREENSHOT_DIR_VAR = "SEARCHAPP_SCREENSHOT_DIR"
SERVER_START_SECONDS = 30
SERVER_STOP_SECONDS = 10
WAIT_MS = 10_000

SEED_ID = "000_5181227ef7dc2b03"
SEED_HEADLINE = "Fighting Continues on Armenia-Azerbaijan Border"
SEED_CAPTION = "Armenian soldiers take up positions on the border with Azerbaijan, May 17, 2021"

# A hostile article, as plain text and as JSON Lines: every field carries markup that
# would run if it reached the page unescaped.
HOSTILE_CAPTION = (
    'Photo: <img src=x onerror="window.__xss=2"> lanterns over the river '
    "<svg onload=window.__xss=3>"
)
HOSTILE_HEADLINE = (
    'Lantern Festival <script>window.__xss=1</script> Lights Up Gyumri '
    '"><script>window.__xss=6</script>'
)
HOSTILE_PARAGRAPHS = [
    "GYUMRI, August 5, 2023 — Thousands came to the lantern festival on Saturday, where a sign "
    'read <a href="javascript:window.__xss=7">click me</a> and another '
    '"><img src=x onerror=window.__xss=8> without harm.',
    'Organisers said the <iframe src="javascript:window.__xss=9"></iframe> lanterns would '
    "return next summer.",
]
HOSTILE_RECORD = {
    "id": "lantern-parade",
    "headline": 'Lantern Parade <script>window.__xss=1</script> "><svg onload=window.__xss=3>',
    "date": "2023-08-06",
    "caption": '<img src=x onerror="window.__xss=2"> parade photo',
    "url": "javascript:window.__xss=4",
    "body": 'The lantern parade <script>window.__xss=1</script> crossed the bridge.\n'
            '<a href="javascript:window.__xss=7">more</a> "><img src=x onerror=window.__xss=8> '
            "ended at midnight.",
}
# An id and a source address that try to break out of the attributes they land in.
HOSTILE_ID_RECORD = {
    "id": 'makers"><script>window.__xss=10</script>',
    "headline": "Lantern Makers Share Their Craft",
    "date": "2023-08-07",
    "url": 'https://example.com/"><script>window.__xss=11</script>',
    "body": "Lantern makers showed visitors how to fold <b onmouseover=window.__xss=12>paper</b>.",
}
# For search as you type: a word that is easy to catch half-typed.
LIVE_ARTICLES = {
    "live/coffee.txt": "Date: 2023-02-01\n\nBrazil Coffee Exports Climb\n\n"
                       "Brazil shipped more coffee this winter, exporters said.",
}
HOSTILE_ARTICLES = {
    "hostile/lantern-festival.txt": "\n\n".join(
        [HOSTILE_CAPTION, HOSTILE_HEADLINE, *HOSTILE_PARAGRAPHS]
    ),
    "hostile/lanterns.jsonl": "\n".join(json.dumps(r) for r in (HOSTILE_RECORD, HOSTILE_ID_RECORD)),
}

# Every attribute and URL an injection would leave in the DOM, whether it ran or not.
FIND_INJECTIONS_JS = """() => [...document.querySelectorAll("*")].flatMap(el => [...el.attributes]
    .filter(a => a.name.startsWith("on") || (
        ["href", "src", "action", "formaction", "data", "xlink:href"].includes(a.name)
        && /^\\s*javascript:/i.test(a.value)))
    .map(a => `<${el.localName} ${a.name}="${a.value}">`))"""


@pytest.fixture(scope="module", autouse=True)
def chromium() -> str:
    """Debian's chromium, checked before any server starts.

    Without it the tests are skipped, except on CI, which must install it.
    """
    if sync_playwright is None:
        problem = "the playwright package is not installed (pip install -e '.[test]')"
    elif not os.access(CHROMIUM, os.X_OK):
        problem = f"no chromium at {CHROMIUM} (apt-get install chromium)"
    else:
        return CHROMIUM
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run: {problem}; CI must install the browser",
                    pytrace=False)
    pytest.skip(f"browser tests need Debian's chromium: {problem}")


@pytest.fixture(scope="module")
def browser(chromium: str):
    """A headless chromium for the module; Playwright never downloads a browser of its own."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, args=CHROMIUM_ARGS, timeout=30_000
        )
        try:
            yield browser
        finally:
            browser.close()


def _new_page(browser, **options):
    options.setdefault("viewport", VIEWPORT)
    context = browser.new_context(**options)
    context.set_default_timeout(WAIT_MS)
    context.set_default_navigation_timeout(WAIT_MS)
    return context, context.new_page()


@pytest.fixture
def page(browser):
    """A fresh page with the server's real security headers in force."""
    context, page = _new_page(browser)
    yield page
    context.close()


@pytest.fixture
def unguarded_page(browser):
    """A fresh page that ignores the Content-Security-Policy, so that only our escaping
    stands between injected markup and a running script."""
    context, page = _new_page(browser, bypass_csp=True)
    yield page
    context.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    """Run `searchapp serve` on a free port over an index of the seed, the small test
    archive and the hostile articles; yield its base URL and always stop it."""
    root = tmp_path_factory.mktemp("browser")
    folder = write_articles(root / "articles", {**ARTICLES, **HOSTILE_ARTICLES, **LIVE_ARTICLES})
    (folder / SEED.name).write_bytes(SEED.read_bytes())
    report = update_index([folder], root / "index")
    assert not report.skipped

    port = _free_port()
    command = [sys.executable, "-m", "searchapp", "serve", "--host", "127.0.0.1",
               "--port", str(port), "--index-dir", str(root / "index")]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEARCHAPP_")}
    log_path = root / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=root, env=env, stdin=subprocess.DEVNULL,
                                   stdout=log, stderr=subprocess.STDOUT)
    try:
        base_url = f"http://127.0.0.1:{port}"
        _wait_until_serving(base_url, process, log_path)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(SERVER_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(SERVER_STOP_SECONDS)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_serving(base_url: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(base_url + "/", timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    pytest.fail(f"the server did not answer within {SERVER_START_SECONDS} s:\n"
                f"{log_path.read_text()}")


def save_screenshot(page, tmp_path: Path, name: str) -> None:
    """Save a PNG of the page in ``tmp_path``, and in $SEARCHAPP_SCREENSHOT_DIR when set."""
    png = page.screenshot(path=tmp_path / name)
    if folder := os.environ.get(SCREENSHOT_DIR_VAR):
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / name).write_bytes(png)


def search_box(page):
    return page.get_by_role("search").get_by_label("Search the archive", exact=True)


def assert_inert(page, dialogs: list[str], *texts: str) -> None:
    """Assert that nothing injected ran or became markup, and that ``texts`` show as text."""
    page.wait_for_load_state("load")
    assert page.evaluate("window.__xss") is None
    assert dialogs == []
    assert page.locator("script:not([src='/static/search.js'])").count() == 0
    # Our only graphic is the timeline chart; anything else came from an article or query.
    graphics = "main :is(img, svg:not(.timeline-chart), iframe, object, embed)"
    assert page.locator(graphics).count() == 0
    assert page.evaluate(FIND_INJECTIONS_JS) == []
    for text in texts:
        expect(page.locator("main")).to_contain_text(text, use_inner_text=True)


@pytest.mark.browser
def test_browser_search_by_keyboard_and_open_article(page, server, tmp_path):
    page.goto(server + "/")
    expect(page.get_by_role("search")).to_have_count(1)
    box = search_box(page)
    expect(box).to_have_accessible_name("Search the archive")

    box.focus()
    page.keyboard.type("Jermuk")
    page.keyboard.press("Enter")

    expect(page).to_have_url(re.compile(r"[?&]q=Jermuk(&|$)"))
    result = page.get_by_role("listitem").filter(
        has=page.get_by_role("heading", name=SEED_HEADLINE, exact=True)
    )
    expect(result).to_have_count(1)
    expect(result.locator("time")).to_have_text("2022-09-14")
    expect(result.locator(".snippet mark").first).to_have_text("Jermuk")
    save_screenshot(page, tmp_path, "results.png")

    result.get_by_role("link", name=SEED_HEADLINE, exact=True).click()

    # The article's address carries the search (issue 14.7).
    expect(page).to_have_url(f"{server}/articles/{SEED_ID}?q=Jermuk")
    article = page.get_by_role("article")
    expect(article.get_by_role("heading", level=1)).to_have_text(SEED_HEADLINE)
    expect(article.locator("header time")).to_have_attribute("datetime", "2022-09-14")
    expect(article.locator(".caption")).to_contain_text(SEED_CAPTION)
    paragraphs = article.locator(":scope > p")
    expect(paragraphs.first).to_have_text(re.compile(r"^YEREVAN"))
    assert paragraphs.count() >= 5
    save_screenshot(page, tmp_path, "article.png")
    page.get_by_role("link", name="← Back to results").click()
    expect(page).to_have_url(f"{server}/?q=Jermuk")


@pytest.mark.browser
def test_browser_hostile_articles_stay_inert(unguarded_page, server, tmp_path):
    page = unguarded_page
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    page.goto(server + "/")
    search_box(page).focus()
    page.keyboard.type("lantern")
    page.keyboard.press("Enter")
    expect(page.get_by_role("listitem")).to_have_count(3)
    results_url = page.url
    assert_inert(page, dialogs, HOSTILE_HEADLINE, HOSTILE_RECORD["headline"],
                 HOSTILE_ID_RECORD["headline"], '<a href="javascript:window.__xss=7">')
    save_screenshot(page, tmp_path, "xss-results.png")

    page.get_by_role("link", name=HOSTILE_HEADLINE, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(HOSTILE_HEADLINE)
    assert_inert(page, dialogs, HOSTILE_CAPTION, *HOSTILE_PARAGRAPHS)
    save_screenshot(page, tmp_path, "xss-article.png")

    page.goto(results_url)
    page.get_by_role("link", name=HOSTILE_RECORD["headline"], exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(HOSTILE_RECORD["headline"])
    assert_inert(page, dialogs, HOSTILE_RECORD["caption"], *HOSTILE_RECORD["body"].split("\n"))
    expect(page.get_by_text("Originally published")).to_have_count(0)

    page.goto(results_url)
    page.get_by_role("link", name=HOSTILE_ID_RECORD["headline"], exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(HOSTILE_ID_RECORD["headline"])
    assert_inert(page, dialogs, HOSTILE_ID_RECORD["body"], HOSTILE_ID_RECORD["url"])
    source = page.get_by_role("link", name=HOSTILE_ID_RECORD["url"], exact=True)
    expect(source).to_have_attribute("href", HOSTILE_ID_RECORD["url"])


@pytest.mark.browser
def test_browser_hostile_queries_stay_inert(unguarded_page, server, tmp_path):
    page = unguarded_page
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    misspelt = "<script>window.__xss=5</script> festivl"
    corrected = "<script>window.__xss=5</script> festival"
    page.goto(server + "/?" + urlencode({"q": misspelt}))
    expect(page).to_have_title(f"{misspelt} – Archive search")
    expect(search_box(page)).to_have_value(misspelt)
    suggestion = page.locator(".suggestion a")
    expect(suggestion).to_have_text(corrected)
    assert parse_qs(urlsplit(suggestion.get_attribute("href")).query)["q"] == [corrected]
    assert_inert(page, dialogs, f"Did you mean {corrected}?")

    suggestion.click()
    expect(search_box(page)).to_have_value(corrected)
    expect(page.get_by_role("heading", name=HOSTILE_HEADLINE, exact=True)).to_be_visible()
    assert_inert(page, dialogs, HOSTILE_HEADLINE)
    save_screenshot(page, tmp_path, "xss-query.png")

    # Nothing matches a misspelt payload: the corrected query's results are shown.
    page.goto(server + "/?" + urlencode({"q": "<b>lanternn</b>"}))
    expect(page.locator(".suggestion")).to_contain_text("Showing results for")
    assert_inert(page, dialogs, "Search instead for <b>lanternn</b>")

    nothing = "</title><svg onload=window.__xss=13> +qqzzy"
    page.goto(server + "/?" + urlencode({"q": nothing}))
    expect(page).to_have_title(f"{nothing} – Archive search")
    assert_inert(page, dialogs, f"No articles match {nothing}")

    bad_date = "date:<script>window.__xss=14</script>"
    response = page.goto(server + "/?" + urlencode({"q": bad_date}))
    assert response.status == 400
    expect(page.get_by_role("alert")).to_contain_text("<script>window.__xss=14</script>")
    assert_inert(page, dialogs, "<script>window.__xss=14</script>")


@pytest.mark.browser
def test_browser_results_follow_typing_and_offer_completions(page, server, tmp_path):
    page.goto(server + "/")
    box = search_box(page)
    box.focus()
    page.keyboard.type("jerm", delay=30)
    expect(page.locator("#q-completions option").first).to_have_attribute("value", "jermuk")
    page.keyboard.type("uk", delay=30)
    # No submit: the results follow what is typed, and the address can be shared.
    result = page.get_by_role("listitem").filter(
        has=page.get_by_role("heading", name=SEED_HEADLINE, exact=True))
    expect(result.locator(".snippet mark").first).to_have_text("Jermuk")
    expect(page).to_have_url(re.compile(r"[?&]q=jermuk(&|$)"))
    save_screenshot(page, tmp_path, "live-results.png")


@pytest.mark.browser
def test_browser_live_results_read_the_word_being_typed_as_a_prefix(page, server, tmp_path):
    page.goto(server + "/?sort=newest")
    box = search_box(page)
    box.focus()
    page.keyboard.type("coff", delay=30)
    # "coff" is the start of "coffee", not a misspelt word to correct.
    result = page.get_by_role("listitem").filter(
        has=page.get_by_role("heading", name="Brazil Coffee Exports Climb", exact=True))
    expect(result.locator(".snippet mark").first).to_have_text("coffee")
    expect(page.locator(".suggestion")).to_have_count(0)
    # What the submitted page shows: its title, its feed link; the sort is kept.
    expect(page).to_have_title("coff – Archive search")
    expect(page.locator(".feed-link a")).to_have_attribute("href", "/feed?q=coff")
    expect(page).to_have_url(re.compile(r"[?&]sort=newest(&|$)"))
    page.keyboard.type(" bra", delay=30)
    expect(page).to_have_title("coff bra – Archive search")
    expect(page.locator("#results-title")).to_contain_text("1 result")
    save_screenshot(page, tmp_path, "live-prefix.png")


@pytest.mark.browser
def test_browser_timeline_screenshot(page, server, tmp_path):
    page.goto(server + "/?" + urlencode({"q": "border OR jermuk OR festival OR lantern OR chess"}))
    expect(page.locator("figure.timeline .chart-count svg a")).to_have_count(3)
    save_screenshot(page, tmp_path, "timeline.png")


@pytest.mark.browser
def test_browser_timeline_toggles_to_shares_without_script(browser, server):
    context, page = _new_page(browser, java_script_enabled=False)
    page.goto(server + "/?" + urlencode({"q": "border jermuk festival lantern chess"}))
    counts, shares = page.locator(".chart-count svg"), page.locator(".chart-share svg")
    expect(counts).to_be_visible()
    expect(shares).to_be_hidden()
    page.get_by_label(re.compile(r"^Share of the \w+’s articles")).check()
    expect(shares).to_be_visible()
    expect(counts).to_be_hidden()
    context.close()


@pytest.mark.browser
def test_browser_more_than_four_results_fit_a_laptop_screen(browser, server):
    """Snippets stay at two or three lines: five results are shorter than a 768 px screen."""
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    page.goto(server + "/?" + urlencode(
        {"q": "border OR jermuk OR festival OR lantern OR chess OR ceasefire"}))
    results = page.locator("li.result")
    assert results.count() >= 5
    heights = [results.nth(n).bounding_box()["height"] for n in range(results.count())]
    assert sum(sorted(heights)[-5:]) < 768
    snippet_lines = page.evaluate("""() => [...document.querySelectorAll('.snippet')].map(
        p => Math.round(p.getBoundingClientRect().height
                        / parseFloat(getComputedStyle(p).lineHeight)))""")
    assert max(snippet_lines) <= 3
    context.close()


@pytest.mark.browser
def test_browser_timeline_labels_stay_legible_on_a_phone(browser, server):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    page.goto(server + "/?" + urlencode({"q": "border jermuk festival lantern chess"}))
    chart = page.locator(".chart-count svg")
    # The chart keeps its width and scrolls sideways rather than squash its labels.
    assert chart.bounding_box()["width"] > 390
    sizes = page.evaluate("""() => [...document.querySelectorAll('.chart-count text.axis')]
        .map(t => t.getBoundingClientRect().height)""")
    assert min(sizes) >= 9
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    context.close()


@pytest.mark.browser
def test_browser_live_results_keep_hostile_text_inert(unguarded_page, server):
    page = unguarded_page
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(server + "/")
    search_box(page).focus()
    page.keyboard.type("lantern", delay=20)
    expect(page.get_by_role("heading", name=HOSTILE_HEADLINE, exact=True)).to_be_visible()
    assert_inert(page, dialogs, HOSTILE_HEADLINE, HOSTILE_RECORD["headline"])


@pytest.mark.browser
def test_browser_article_page_marks_the_search_and_goes_back_to_the_same_results(
        unguarded_page, server, tmp_path):
    page = unguarded_page
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    results = server + "/?" + urlencode({"q": "lantern script", "sort": "oldest"})
    page.goto(results)
    page.get_by_role("link", name=HOSTILE_HEADLINE, exact=True).click()
    expect(search_box(page)).to_have_value("lantern script")
    heading = page.get_by_role("article").get_by_role("heading", level=1)
    expect(heading).to_have_text(HOSTILE_HEADLINE)
    expect(heading.locator("mark")).to_have_text(["Lantern", "script", "script", "script",
                                                   "script"])
    assert page.get_by_role("article").locator(":scope > p mark").count() >= 2
    assert_inert(page, dialogs, HOSTILE_HEADLINE)
    page.get_by_role("link", name="← Back to results").click()
    expect(page).to_have_url(results)
    status = page.get_by_role("status")
    expect(status).to_have_text(re.compile(r"^\d+ results? for lantern script$"))


@pytest.mark.browser
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_browser_search_box_border_has_3_to_1_contrast(browser, server, scheme):
    context, page = _new_page(browser, color_scheme=scheme)
    try:
        page.goto(server + "/")
        colours = page.evaluate("""() => [
            getComputedStyle(document.querySelector("input[name=q]")).borderTopColor,
            getComputedStyle(document.body).backgroundColor]""")
    finally:
        context.close()
    border, background = ([int(n) for n in re.findall(r"\d+", c)[:3]] for c in colours)
    assert _contrast(border, background) >= 3, colours


def _contrast(first: list[int], second: list[int]) -> float:
    def luminance(rgb: list[int]) -> float:
        linear = [c / 255 / 12.92 if c / 255 <= 0.04045 else ((c / 255 + 0.055) / 1.055) ** 2.4
                  for c in rgb]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    low, high = sorted([luminance(first), luminance(second)])
    return (high + 0.05) / (low + 0.05)


@pytest.mark.browser
def test_browser_related_dates_stay_on_one_line_on_a_phone(browser, server, tmp_path):
    context, page = _new_page(browser, viewport={"width": 390, "height": 844})
    try:
        page.goto(f"{server}/articles/{SEED_ID}?q=border")
        dates = page.locator(".related time")
        assert dates.count() >= 1
        lines = dates.evaluate_all("els => els.map(el => el.getClientRects().length)")
        assert lines == [1] * len(lines)
        save_screenshot(page, tmp_path, "article-phone-test.png")
    finally:
        context.close()


@pytest.mark.browser
def test_browser_live_results_announce_only_the_count(page, server):
    page.goto(server + "/")
    search_box(page).focus()
    page.keyboard.type("lantern", delay=20)
    expect(page.get_by_role("status")).to_have_text(re.compile(r"^\d+ results? for lantern$"))
    assert page.locator("#live-results[aria-live]").count() == 0
    assert page.locator("[aria-live]").count() == 1
    # A result reached from the live view carries the search too.
    link = page.locator("#live-results ol.results h2 a").first
    expect(link).to_have_attribute("href", re.compile(r"\?q=lantern$"))
