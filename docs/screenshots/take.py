"""Take the README's screenshots of the results page: desk, phone and dark mode.

    python docs/screenshots/take.py INDEX_DIR [--out docs/screenshots]

INDEX_DIR is an index of the Reuters-21578 archive (``searchapp index
reuters21578.jsonl.gz --index-dir INDEX_DIR``). The script starts ``searchapp serve`` on a
free local port, drives Debian's chromium through Playwright, prints how many results
fit on a 1366x768 screen, and stops the server.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
DESK = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
# (file, query string, viewport, colour scheme, full page)
SHOTS = [
    ("results.png", {"q": "bundesbank credit policies unchanged"}, DESK, "light", False),
    ("timeline.png", {"q": "opec"}, DESK, "light", False),
    ("timeline-days.png", {"q": "opec", "from": "1987-03-01", "to": "1987-03-31"}, DESK,
     "light", False),
    ("phone.png", {"q": "gold"}, PHONE, "light", False),
    ("dark.png", {"q": '"tariffs and trade"'}, DESK, "dark", False),
    ("similar.png", {"q": "gold", "similar": "reuters21578-5564"}, DESK, "light", False),
    ("partial.png", {"q": "coffee brazil frost"}, DESK, "light", False),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index_dir", type=Path)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "searchapp", "serve", "--host", "127.0.0.1", "--port", str(port),
         "--index-dir", str(args.index_dir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(base)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                                 args=["--no-sandbox", "--disable-gpu"])
            for name, query, viewport, scheme, full in SHOTS:
                context = browser.new_context(viewport=viewport, color_scheme=scheme,
                                              is_mobile=viewport is PHONE)
                page = context.new_page()
                page.goto(f"{base}/?{urlencode(query)}")
                page.screenshot(path=args.out / name, full_page=full)
                if viewport is DESK:
                    print(f"{name}: {_results_on_screen(page)} results within the first "
                          f"{viewport['height']} px, {_results_per_screen(page):.1f} per "
                          "screen of results")
                context.close()
            browser.close()
    finally:
        server.terminate()
        server.wait(10)


def _wait(base: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base + "/", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"the server at {base} did not answer")


def _results_on_screen(page) -> int:
    return page.evaluate("""() => [...document.querySelectorAll('li.result')]
        .filter(li => li.getBoundingClientRect().bottom <= window.innerHeight).length""")


def _results_per_screen(page) -> float:
    heights = page.evaluate("""() => [...document.querySelectorAll('li.result')]
        .map(li => li.getBoundingClientRect().height)""")
    return page.viewport_size["height"] / (sum(heights) / len(heights)) if heights else 0.0


if __name__ == "__main__":
    main()
