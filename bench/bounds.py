"""Work and memory of one search of each kind, each in a fresh child process.

Each kind of query (a 400-word phrase, a negative-only query, a prefix, a field query,
a date-only query, ...) is searched in its own child process against an existing index,
once to warm up the process and once measured: wall time of the measured search, the
child's peak RSS before the search and after it (``resource.getrusage``), the number
of hits and whether the search was cut short by the time limit. With ``--parallel N``,
N threads of one child run the same query at once.

Example::

    .venv/bin/searchapp index /work/shared/data/corpora/reuters21578.jsonl.gz \\
        --index-dir /tmp/h2/reuters
    .venv/bin/python -m bench.bounds /tmp/h2/reuters
    .venv/bin/python -m bench.bounds /tmp/h2/reuters --kinds phrase-400 --parallel 8
"""

from __future__ import annotations

import argparse
import gzip
import json
import multiprocessing
import random
import resource
import string
import threading
import time

REUTERS = "/work/shared/data/corpora/reuters21578.jsonl.gz"


def text_phrase(corpus: str, limit: int = 2000) -> str:
    """Return a quoted phrase of the first words of the corpus's bodies, ``limit`` long."""
    found: list[str] = []
    with gzip.open(corpus, "rt", encoding="utf-8") as lines:
        for line in lines:
            found += json.loads(line).get("body", "").split()
            if sum(map(len, found)) + len(found) > limit:
                break
    phrase = ""
    for word in found:
        if len(phrase) + len(word) + 3 > limit:
            break
        phrase = f"{phrase} {word}".strip()
    return f'"{phrase}"'


def queries(corpus: str) -> dict[str, str]:
    """Return one query of each kind, by name."""
    return {
        # 400 of the commonest words, within the 2,000 characters a query may have.
        "phrase-400": '"' + " ".join(("said pct mln dlrs year oil " * 67).split()[:400]) + '"',
        "phrase-text": text_phrase(corpus),
        "phrase-common": '"the company said it"',
        "words-128": " ".join(dict.fromkeys(
            w for w in text_phrase(corpus).strip('"').lower().split() if w.isalpha())),
        # Misspellings: each word is looked up for a spelling correction.
        "fresh-128": " ".join("".join(random.Random(n).choices(string.ascii_lowercase, k=8))
                              for n in range(128)),
        "negative-only": "-oil",
        "negative-stop": "-the",
        "prefix-64": " ".join(f"{a}{b}{c}*" for a in "cps" for b in "aeo" for c in "mnrt")
        + " " + " ".join(f"{a}{b}{c}*" for a in "dfm" for b in "aei" for c in "lnrs")[:180],
        "field": "headline:oil body:prices",
        "date-only": "date:1987",
        "common-words": "said company year pct",
    }


def _measure(index_dir: str, query: str, parallel: int, out) -> None:
    from searchapp.backends.whoosh import WhooshArchive as Archive

    archive = Archive(index_dir)
    archive.search("warm up the caches")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    results: list = [None] * parallel
    started = time.perf_counter()

    def run(number: int) -> None:
        results[number] = archive.search(query)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(parallel)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    first = results[0]
    out.send({"seconds": seconds, "rss_before_mb": before / 1024, "rss_after_mb": after / 1024,
              "total": first.total, "complete": first.complete})


def measure(index_dir: str, query: str, parallel: int = 1) -> dict:
    """Run one query in a fresh child process and return its figures."""
    receive, send = multiprocessing.Pipe(duplex=False)
    child = multiprocessing.get_context("spawn").Process(
        target=_measure, args=(index_dir, query, parallel, send))
    child.start()
    figures = receive.recv()
    child.join()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("index_dir")
    parser.add_argument("--corpus", default=REUTERS, help="where the long phrase comes from")
    parser.add_argument("--kinds", help="comma-separated kinds (default: all)")
    parser.add_argument("--parallel", type=int, default=1, help="threads running the query")
    args = parser.parse_args()
    kinds = queries(args.corpus)
    names = args.kinds.split(",") if args.kinds else list(kinds)
    print(f"{'kind':<15} {'threads':>7} {'seconds':>8} {'RSS before':>11} {'RSS peak':>9} "
          f"{'+MB':>6} {'hits':>6} complete")
    for name in names:
        f = measure(args.index_dir, kinds[name], args.parallel)
        print(f"{name:<15} {args.parallel:>7} {f['seconds']:>8.2f} {f['rss_before_mb']:>10.0f}M "
              f"{f['rss_after_mb']:>8.0f}M {f['rss_after_mb'] - f['rss_before_mb']:>6.0f} "
              f"{f['total']:>6} {f['complete']}")


if __name__ == "__main__":
    main()
