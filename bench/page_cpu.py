"""What building the page of results costs a search, in CPU time: the hits (stored fields,
snippets, marked headlines, the copies' ids), what to mark, and the timeline, beside the
whole search, over the speed benchmark's queries, in-process.

    python -m bench.page_cpu INDEX_DIR [--reuters PATH] [--rounds 3]
        [--fit-dates 2007-01-01 2016-08-16]

Each round runs the query set once (after one round that warms the caches) and prints
the CPU milliseconds per query of the whole search and of each part. ``--fit-dates``
moves the date filters into another corpus's span, as the growth benchmark does (the 1M
headlines run from 2007-01-01 to 2016-08-16). CPU time varies from process to process:
compare two versions by running each several times, alternately.
"""

from __future__ import annotations

import argparse
import time
from datetime import date
from pathlib import Path

from bench.speed_queries import build_queries, fit_dates
from searchapp.backends.whoosh import WhooshArchive as Archive
from searchapp.backends.whoosh import archive as whoosh_archive

DEFAULT_REUTERS = Path("../shared/data/corpora/reuters21578.jsonl.gz")
# The parts timed, as whoosh/archive.py names them; a part called inside another (the
# archive's totals, inside the timeline) counts once, in the outer one.
FUNCTIONS = ("_hit", "query_marks", "_timeline")
METHODS = ("_archive_days", "_archive_periods")


class Parts:
    """CPU seconds spent in each part, counting only the outermost timed call."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self.depth = 0

    def timed(self, name: str, function):
        def timing(*args, **kwargs):
            self.depth += 1
            started = time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                self.depth -= 1
                if not self.depth:
                    spent = time.process_time() - started
                    self.seconds[name] = self.seconds.get(name, 0.0) + spent
        return timing

    def install(self) -> None:
        for name in FUNCTIONS:
            setattr(whoosh_archive, name, self.timed(name, getattr(whoosh_archive, name)))
        for name in METHODS:
            if hasattr(Archive, name):  # one version or the other has each
                setattr(Archive, name, self.timed(name, getattr(Archive, name)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index_dir", type=Path)
    parser.add_argument("--reuters", type=Path, default=DEFAULT_REUTERS)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--fit-dates", nargs=2, type=date.fromisoformat, metavar="DAY")
    args = parser.parse_args()
    queries = build_queries(args.reuters)
    if args.fit_dates:
        queries = [fit_dates(q, tuple(args.fit_dates)) for q in queries]
    archive = Archive(args.index_dir)
    parts = Parts()
    parts.install()

    def run() -> float:
        started = time.process_time()
        for query in queries:
            archive.search(query.text, query.page, sort=query.sort,
                           date_from=query.date_from, date_to=query.date_to)
        return time.process_time() - started

    run()
    for _ in range(args.rounds):
        parts.seconds.clear()
        whole = run()
        per_query = {name: seconds * 1000 / len(queries)
                     for name, seconds in sorted(parts.seconds.items())}
        print(f"search {whole * 1000 / len(queries):.2f} ms/query; page parts "
              f"{sum(per_query.values()):.2f}: "
              + ", ".join(f"{name} {ms:.3f}" for name, ms in per_query.items()))


if __name__ == "__main__":
    main()
