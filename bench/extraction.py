"""Score the HTML cleaner on the extraction-dev pages, the way that folder's README says.

The text scored is each page's indexed body: ``parse_html_article(html).body``. Texts are
compared as multisets of 4-token shingles (tokens are ``\\w+`` runs); each page gets a
precision and a recall, the system's F1 is the harmonic mean of their means, and
accuracy is the share of pages whose token sequence equals the ground truth's.

Example::

    .venv/bin/python -m bench.extraction                     # ../shared/data/extraction-dev
    .venv/bin/python -m bench.extraction /data/pages --show-meta 20 --json figures.json
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from searchapp.articles import Article, parse_html_article

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "extraction-dev"
SHINGLE_SIZE = 4
WORST_PAGES = 10
TOKEN_RE = re.compile(r"\w+")


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


def extract_all(html: dict[str, str]) -> tuple[dict[str, Article], float, float]:
    """Run the indexer's HTML parser over every page; return articles, wall and CPU seconds.

    CPU time is this process's own, so it stays fair when other programs share the cores.
    """
    articles = {}
    start, start_cpu = time.perf_counter(), time.process_time()
    for page_id, page in html.items():
        articles[page_id] = parse_html_article(page, page_id)
    return articles, time.perf_counter() - start, time.process_time() - start_cpu


def run(folder: Path) -> tuple[Figures, list[PageScore], dict[str, Article]]:
    """Extract and score every page of the benchmark folder."""
    truth, html = load_pages(folder)
    articles, seconds, cpu_seconds = extract_all(html)
    scores = [
        score_page(page_id, truth[page_id]["url"], articles[page_id].body,
                   truth[page_id]["articleBody"])
        for page_id in html
    ]
    precision, recall, f1, as_zero = summarize(scores)
    megabytes = sum(len(page.encode("utf-8")) for page in html.values()) / 1e6
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
    return figures, scores, articles


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
        "extraction only)",
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
    args = parser.parse_args(argv)
    folder = resolve_folder(args.path)
    if not (folder / "ground-truth.json").is_file():
        print(f"error: no ground-truth.json in {folder}", file=sys.stderr)
        return 2
    figures, scores, articles = run(folder)
    print(f"extraction benchmark: {folder}")
    print(report(figures, scores))
    if args.show_meta:
        urls = {score.id: score.url for score in scores}
        print("\nheadline and date of the first", args.show_meta, "pages:")
        print(show_meta(articles, urls, args.show_meta))
    if args.json:
        data = {**asdict(figures), "pages_scored": [asdict(s) for s in scores]}
        args.json.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
