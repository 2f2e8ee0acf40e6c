"""Score the HTML cleaner on the extraction-dev pages, the way that folder's README says.

The text scored is each page's indexed body: ``parse_html_article(html).body``. Texts are
compared as multisets of 4-token shingles (tokens are ``\\w+`` runs); each page gets a
precision and a recall, the system's F1 is the harmonic mean of their means, and
accuracy is the share of pages whose token sequence equals the ground truth's.

Speed is timed for three systems in the same run, page by page in turn: the combination
(what indexing does), our own extractor alone and trafilatura alone (from the page's text,
its own parse included). Per core means pages per CPU second of this process
(``time.process_time``), which holds on a loaded machine; wall time is printed too. Each
page is run ``--repeat`` times and its least time counts, as timeit does: the other jobs
of a shared machine only ever add time.

With ``--halves`` it also scores the development pages honestly, in two fixed halves: a
page is in half A when the SHA-256 of its URL's host (without "www.") is even, else in
half B, so both pages of a site fall in the same half. The settings of the body choice
(``searchapp.extraction.Agreement``) are tuned on one half, by a small grid, and scored
on the other; side by side with trafilatura alone, our own body alone and, given the
per-page scores of an older run (``--before``, written by ``--json``), that extractor.

``--parsers`` times building a tree of each page with BeautifulSoup (its lxml builder,
as the extractor did before) against lxml's own parser (as it does now).

Example::

    .venv/bin/python -m bench.extraction                     # ../shared/data/extraction-dev
    .venv/bin/python -m bench.extraction /data/pages --show-meta 20 --json figures.json
    .venv/bin/python -m bench.extraction /data/pages --halves --before before.json
    .venv/bin/python -m bench.extraction /data/pages --repeat 5 --parsers
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import re
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

from searchapp.articles import Article, parse_html_article
from searchapp.extraction import (
    Agreement,
    Bodies,
    choose_body,
    extract_bodies,
    library_body,
    parse_page,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "extraction-dev"
SHINGLE_SIZE = 4
WORST_PAGES = 10
REPEAT = 3
# The systems timed, each a function of the page's text; "combined" is what indexing runs.
COMBINED, OURS, LIBRARY = "combined (indexed body)", "ours alone", "trafilatura alone"
TOKEN_RE = re.compile(r"\w+")
# The values tried for each setting of the body choice; the shipped default comes first,
# so that on a tie the tuning keeps it.
AGREEMENT_GRID = {
    "agree": [0.5, 0.3, 0.7, 0.9],
    "fragment": [0.5, 0.3, 0.7],
    "short_chars": [200, 0, 80, 400],
    "longer_ratio": [1.0, 0.8, 1.5],
    "publisher_agree": [0.5, 0.8, 2.0],  # 2.0: never let the JSON-LD body decide
}


@dataclass
class PageScore:
    """One page's precision and recall; precision is None for an empty prediction."""

    id: str
    url: str
    precision: float | None
    recall: float
    exact: bool

    @property
    def f1(self) -> float:
        return harmonic_mean(self.precision or 0.0, self.recall)


@dataclass
class Figures:
    """A system's scores over all pages, and how fast it got them."""

    pages: int
    precision: float
    recall: float
    f1: float
    precision_empty_as_zero: float
    f1_empty_as_zero: float
    empty_predictions: int
    accuracy: float
    seconds: float
    cpu_seconds: float
    pages_per_second: float
    pages_per_cpu_second: float
    megabytes_per_second: float
    headlines_found: int
    dates_found: int


def tokens(text: str) -> list[str]:
    """Split text into tokens: maximal runs of Unicode word characters, case kept."""
    return TOKEN_RE.findall(text)


def shingles(words: list[str], size: int = SHINGLE_SIZE) -> Counter[tuple[str, ...]]:
    """Count the runs of ``size`` consecutive tokens; 1 to size-1 tokens give one shingle."""
    if not words:
        return Counter()
    if len(words) < size:
        return Counter([tuple(words)])
    return Counter(tuple(words[i : i + size]) for i in range(len(words) - size + 1))


def precision_recall(predicted: str, truth: str) -> tuple[float | None, float]:
    """Score one page: (precision, recall), precision None when nothing was predicted.

    Both are 1 when the shingles match exactly (two empty texts included).
    """
    guess, gold = shingles(tokens(predicted)), shingles(tokens(truth))
    true_pos = sum((guess & gold).values())
    false_pos = sum((guess - gold).values())
    false_neg = sum((gold - guess).values())
    if false_pos == 0 and false_neg == 0:
        return 1.0, 1.0
    # The README normalises the counts by their total; the ratios below are unchanged by it.
    precision = true_pos / (true_pos + false_pos) if true_pos + false_pos else None
    recall = true_pos / (true_pos + false_neg) if true_pos + false_neg else 1.0
    return precision, recall


def harmonic_mean(a: float, b: float) -> float:
    """Return the harmonic mean of two scores, 0 when both are 0."""
    return 2 * a * b / (a + b) if a + b else 0.0


def mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def score_page(page_id: str, url: str, predicted: str, truth: str) -> PageScore:
    """Score one page's predicted body against its ground truth."""
    precision, recall = precision_recall(predicted, truth)
    return PageScore(page_id, url, precision, recall, tokens(predicted) == tokens(truth))


def summarize(scores: list[PageScore]) -> tuple[float, float, float, float]:
    """Return (precision, recall, F1, precision with empty outputs as 0) over all pages.

    Empty predictions are left out of the precision mean, as the README says.
    """
    kept = [s.precision for s in scores if s.precision is not None]
    precision, recall = mean(kept), mean([s.recall for s in scores])
    as_zero = mean([s.precision or 0.0 for s in scores])
    return precision, recall, harmonic_mean(precision, recall), as_zero


def load_pages(folder: Path) -> tuple[dict[str, dict], dict[str, str]]:
    """Read ground-truth.json and every page it names (decoded as UTF-8)."""
    truth = json.loads((folder / "ground-truth.json").read_text(encoding="utf-8"))
    html = {
        page_id: (folder / "html" / f"{page_id}.html").read_text(encoding="utf-8")
        for page_id in sorted(truth)
    }
    return truth, html


def extract_all(html: dict[str, str]) -> dict[str, Article]:
    """Run the indexer's HTML parser over every page."""
    return {page_id: parse_html_article(page, page_id) for page_id, page in html.items()}


@dataclass
class Timing:
    """One system's least CPU and wall seconds on each page, by page id."""

    cpu: dict[str, float]
    wall: dict[str, float]

    def seconds(self, page_ids: list[str]) -> tuple[float, float]:
        """Return the CPU and wall seconds of the given pages, summed."""
        return sum(self.cpu[i] for i in page_ids), sum(self.wall[i] for i in page_ids)


def _ours_alone(page: str) -> list[str]:
    return choose_body(extract_bodies(page, library=False)[2], Agreement())


SYSTEMS = {
    COMBINED: lambda page: parse_html_article(page, "page"),
    OURS: _ours_alone,
    LIBRARY: library_body,
}


def measure_speed(html: dict[str, str], repeat: int = REPEAT) -> dict[str, Timing]:
    """Time each system on each page, ``repeat`` times in turn; keep each page's least time.

    CPU time is this process's own, so it stays fair when other programs share the cores.
    """
    timings = {name: Timing({}, {}) for name in SYSTEMS}
    first = next(iter(html.values()), "")
    for extract in SYSTEMS.values():
        extract(first)  # imports done and caches filled, as in an indexer that is running
    for _ in range(max(1, repeat)):
        for page_id, page in html.items():
            for name, extract in SYSTEMS.items():
                start, start_cpu = time.perf_counter(), time.process_time()
                extract(page)
                cpu, wall = time.process_time() - start_cpu, time.perf_counter() - start
                timing = timings[name]
                timing.cpu[page_id] = min(cpu, timing.cpu.get(page_id, cpu))
                timing.wall[page_id] = min(wall, timing.wall.get(page_id, wall))
    return timings


def measure_parsers(html: dict[str, str], repeat: int = REPEAT) -> dict[str, float]:
    """Return the CPU milliseconds a page of building its tree takes, by parser."""
    # Only here: the extractor itself no longer builds BeautifulSoup trees.
    from bs4 import BeautifulSoup

    parsers = {
        "BeautifulSoup(page, 'lxml') (the extractor before)": lambda page: BeautifulSoup(
            page, "lxml"
        ),
        "lxml, searchapp.extraction.parse_page (now)": parse_page,
    }
    least: dict[str, dict[str, float]] = {name: {} for name in parsers}
    for _ in range(max(1, repeat)):
        for page_id, page in html.items():
            for name, parse in parsers.items():
                start = time.process_time()
                parse(page)
                seconds = time.process_time() - start
                least[name][page_id] = min(seconds, least[name].get(page_id, seconds))
    return {name: 1000 * sum(times.values()) / len(times) for name, times in least.items()}


def run(
    folder: Path, repeat: int = REPEAT
) -> tuple[Figures, list[PageScore], dict[str, Article], dict[str, Timing]]:
    """Extract and score every page of the benchmark folder, and time the three systems."""
    truth, html = load_pages(folder)
    articles = extract_all(html)
    timings = measure_speed(html, repeat)
    scores = [
        score_page(page_id, truth[page_id]["url"], articles[page_id].body,
                   truth[page_id]["articleBody"])
        for page_id in html
    ]
    precision, recall, f1, as_zero = summarize(scores)
    megabytes = sum(len(page.encode("utf-8")) for page in html.values()) / 1e6
    cpu_seconds, seconds = timings[COMBINED].seconds(list(html))
    figures = Figures(
        pages=len(scores),
        precision=precision,
        recall=recall,
        f1=f1,
        precision_empty_as_zero=as_zero,
        f1_empty_as_zero=harmonic_mean(as_zero, recall),
        empty_predictions=sum(s.precision is None for s in scores),
        accuracy=mean([float(s.exact) for s in scores]),
        seconds=seconds,
        cpu_seconds=cpu_seconds,
        pages_per_second=len(scores) / seconds if seconds else 0.0,
        pages_per_cpu_second=len(scores) / cpu_seconds if cpu_seconds else 0.0,
        megabytes_per_second=megabytes / seconds if seconds else 0.0,
        headlines_found=sum(bool(a.headline) for a in articles.values()),
        dates_found=sum(a.date is not None for a in articles.values()),
    )
    return figures, scores, articles, timings


def format_speed(timings: dict[str, Timing], repeat: int) -> str:
    """Format the three systems' speed, per core (CPU time) and by the clock."""
    lines = [
        f"speed, each page's least time of {repeat} runs, one process:",
        f"  {'system':26s} {'pages/s per core':>16s} {'pages/s wall':>12s} "
        f"{'CPU s':>7s} {'wall s':>7s}",
    ]
    for name, timing in timings.items():
        cpu, wall = timing.seconds(list(timing.cpu))
        pages = len(timing.cpu)
        lines.append(f"  {name:26s} {pages / cpu if cpu else 0:16.1f} "
                     f"{pages / wall if wall else 0:12.1f} {cpu:7.2f} {wall:7.2f}")
    return "\n".join(lines)


def report(figures: Figures, scores: list[PageScore]) -> str:
    """Format the figures and the worst pages for a terminal."""
    n = figures.pages
    lines = [
        f"pages        {n}",
        f"precision    {figures.precision:.3f}   (README: empty outputs left out; "
        f"{figures.empty_predictions} empty)",
        f"recall       {figures.recall:.3f}",
        f"F1           {figures.f1:.3f}   (harmonic mean of mean precision and mean recall)",
        f"precision'   {figures.precision_empty_as_zero:.3f}   (empty outputs count as 0)",
        f"F1'          {figures.f1_empty_as_zero:.3f}   (empty outputs count as 0)",
        f"accuracy     {figures.accuracy:.3f}   (token sequence equal to the ground truth's)",
        f"headline     {figures.headlines_found}/{n} found",
        f"date         {figures.dates_found}/{n} found",
        f"speed        {figures.pages_per_second:.1f} pages/s, "
        f"{figures.megabytes_per_second:.2f} MB/s ({figures.seconds:.2f} s, one process, "
        "extraction only, each page's least time)",
        f"CPU          {figures.pages_per_cpu_second:.1f} pages per CPU second "
        f"({figures.cpu_seconds:.2f} s of this process's CPU time)",
        "",
        f"worst {WORST_PAGES} pages by F1:",
    ]
    for score in sorted(scores, key=lambda s: (s.f1, s.id))[:WORST_PAGES]:
        precision = "  -  " if score.precision is None else f"{score.precision:.3f}"
        lines.append(
            f"  {score.id[:10]}  P={precision} R={score.recall:.3f} F1={score.f1:.3f}  {score.url}"
        )
    return "\n".join(lines)


def show_meta(articles: dict[str, Article], urls: dict[str, str], count: int) -> str:
    """List id, URL, headline and date of the first ``count`` pages, to check by eye."""
    rows = []
    for page_id in list(articles)[:count]:
        article = articles[page_id]
        rows.append(f"{page_id[:10]}  {urls[page_id]}\n"
                    f"            headline: {article.headline or '-'}\n"
                    f"            date:     {article.date or '-'}")
    return "\n".join(rows)


@dataclass
class HalfRow:
    """One system's figures on one half of the pages."""

    half: str
    system: str
    pages: int
    precision: float
    recall: float
    f1: float
    pages_per_cpu_second: float | None = None


@dataclass
class PageRun:
    """What the halves report needs of one page: its candidates and CPU seconds spent."""

    id: str
    truth: str
    bodies: Bodies
    library_body: list[str]
    combined_seconds: float
    library_seconds: float
    ours_seconds: float | None = None


def half_of(url: str) -> str:
    """Return a page's fixed half: "A" when the SHA-256 of its host is even, else "B"."""
    host = (urlsplit(url).hostname or "").removeprefix("www.")
    return "AB"[int(hashlib.sha256(host.encode("utf-8")).hexdigest(), 16) % 2]


def agreement_grid() -> list[Agreement]:
    """Return every combination of the settings in AGREEMENT_GRID, the default first."""
    names = list(AGREEMENT_GRID)
    return [
        Agreement(**dict(zip(names, values, strict=True)))
        for values in itertools.product(*AGREEMENT_GRID.values())
    ]


def run_pages(
    truth: dict[str, dict], html: dict[str, str], timings: dict[str, Timing]
) -> list[PageRun]:
    """Extract every page's candidate bodies; the CPU seconds come from ``timings``."""
    runs = []
    for page_id, page in html.items():
        _, _, bodies = extract_bodies(page)
        runs.append(PageRun(page_id, truth[page_id]["articleBody"], bodies, bodies.library,
                            timings[COMBINED].cpu[page_id], timings[LIBRARY].cpu[page_id],
                            timings[OURS].cpu[page_id]))
    return runs


class Scorer:
    """Score bodies against the truth, remembering each (page, text) already scored."""

    def __init__(self) -> None:
        self.known: dict[tuple[str, str], tuple[float | None, float]] = {}

    def score(self, run: PageRun, paragraphs: list[str]) -> tuple[float | None, float]:
        text = "\n\n".join(paragraphs)
        if (run.id, text) not in self.known:
            self.known[run.id, text] = precision_recall(text, run.truth)
        return self.known[run.id, text]

    def figures(self, runs: list[PageRun], bodies: list[list[str]]) -> tuple[float, ...]:
        """Return (precision, recall, F1) of the given bodies of the given pages."""
        scores = [
            PageScore(run.id, "", *self.score(run, body), False)
            for run, body in zip(runs, bodies, strict=True)
        ]
        precision, recall, f1, _ = summarize(scores)
        return precision, recall, f1


def tune(runs: list[PageRun], scorer: Scorer) -> Agreement:
    """Return the settings with the best F1 on these pages (the earliest on a tie)."""
    best, best_f1 = Agreement(), -1.0
    for agreement in agreement_grid():
        f1 = scorer.figures(runs, [choose_body(run.bodies, agreement) for run in runs])[2]
        if f1 > best_f1:
            best, best_f1 = agreement, f1
    return best


def halves_report(
    runs: list[PageRun], urls: dict[str, str], before: dict | None
) -> tuple[list[HalfRow], dict[str, Agreement]]:
    """Tune on each half and score the other, side by side with the single extractors."""
    scorer = Scorer()
    halves = {half: [run for run in runs if half_of(urls[run.id]) == half] for half in "AB"}
    tuned = {half: tune(halves[half], scorer) for half in "AB"}
    rows = []
    for half, other in (("A", "B"), ("B", "A")):
        pages = halves[half]
        if before:
            known = {score["id"]: score for score in before["pages_scored"]}
            scores = [PageScore(run.id, "", known[run.id]["precision"], known[run.id]["recall"],
                                False) for run in pages]
            precision, recall, f1, _ = summarize(scores)
            rows.append(HalfRow(half, "before (extractor of the --before run)", len(pages),
                                precision, recall, f1, before.get("pages_per_cpu_second")))
        ours_seconds = [run.ours_seconds for run in pages]
        systems = [
            ("trafilatura alone", [run.library_body for run in pages],
             sum(run.library_seconds for run in pages)),
            ("our body alone", [run.bodies.ours for run in pages],
             None if None in ours_seconds else sum(ours_seconds)),
            (f"combination, tuned on half {other}",
             [choose_body(run.bodies, tuned[other]) for run in pages],
             sum(run.combined_seconds for run in pages)),
        ]
        for name, bodies, seconds in systems:
            speed = len(pages) / seconds if seconds else None
            rows.append(HalfRow(half, name, len(pages), *scorer.figures(pages, bodies), speed))
    return rows, tuned


def format_halves(rows: list[HalfRow], tuned: dict[str, Agreement]) -> str:
    """Format the halves report as a Markdown table, with the tuned settings under it."""
    lines = [
        "| half | system | F1 | precision | recall | pages/s per core |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        speed = f"{row.pages_per_cpu_second:.1f}" if row.pages_per_cpu_second else "-"
        lines.append(f"| {row.half} ({row.pages} pages) | {row.system} | {row.f1:.3f} | "
                     f"{row.precision:.3f} | {row.recall:.3f} | {speed} |")
    lines.append("")
    for half, agreement in tuned.items():
        lines.append(f"settings tuned on half {half}: {asdict(agreement)}")
    return "\n".join(lines)


def resolve_folder(path: Path) -> Path:
    """Resolve a relative folder against the working directory, else the repository root."""
    if path.is_absolute() or path.exists():
        return path.resolve()
    return (REPO_ROOT / path).resolve()


def main(argv: list[str] | None = None) -> int:
    """Score the HTML cleaner on a benchmark folder and print the figures."""
    parser = argparse.ArgumentParser(prog="python -m bench.extraction", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT_DATA,
                        help=f"folder with ground-truth.json and html/ (default: {DEFAULT_DATA})")
    parser.add_argument("--show-meta", type=int, default=0, metavar="N",
                        help="also print id, URL, headline and date of N pages")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the figures as JSON")
    parser.add_argument("--halves", action="store_true",
                        help="also tune on each half of the pages and score the other")
    parser.add_argument("--before", type=Path, metavar="FILE",
                        help="with --halves: the --json file of an older run, to compare")
    parser.add_argument("--repeat", type=int, default=REPEAT, metavar="N",
                        help=f"time each page N times, keep the least (default {REPEAT})")
    parser.add_argument("--parsers", action="store_true",
                        help="also time building each page's tree: BeautifulSoup against lxml")
    args = parser.parse_args(argv)
    folder = resolve_folder(args.path)
    if not (folder / "ground-truth.json").is_file():
        print(f"error: no ground-truth.json in {folder}", file=sys.stderr)
        return 2
    before = None
    if args.before:
        try:
            before = json.loads(args.before.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            print(f"error: cannot read {args.before}: {error}", file=sys.stderr)
            return 2
    figures, scores, articles, timings = run(folder, args.repeat)
    print(f"extraction benchmark: {folder}")
    print(report(figures, scores))
    print()
    print(format_speed(timings, args.repeat))
    speeds = {}
    for name, timing in timings.items():
        cpu, wall = timing.seconds(list(timing.cpu))
        speeds[name] = {"cpu_seconds": cpu, "wall_seconds": wall, "pages": len(timing.cpu)}
    if args.parsers:
        _, html = load_pages(folder)
        print(f"\ntree building, CPU ms a page (each page's least of {args.repeat} runs):")
        for name, milliseconds in measure_parsers(html, args.repeat).items():
            print(f"  {name:52s} {milliseconds:6.1f}")
    if args.show_meta:
        urls = {score.id: score.url for score in scores}
        print("\nheadline and date of the first", args.show_meta, "pages:")
        print(show_meta(articles, urls, args.show_meta))
    halves = []
    if args.halves:
        truth, html = load_pages(folder)
        urls = {page_id: record["url"] for page_id, record in truth.items()}
        rows, tuned = halves_report(run_pages(truth, html, timings), urls, before)
        print("\nhalves (tune on one, score the other):")
        print(format_halves(rows, tuned))
        halves = [asdict(row) for row in rows]
    if args.json:
        data = {**asdict(figures), "speed": speeds,
                "pages_scored": [asdict(s) for s in scores]}
        if halves:
            data["halves"] = halves
        args.json.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
