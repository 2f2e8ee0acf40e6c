"""What folding copies of a story costs a search: the speed benchmark's queries, each run
with copies folded and without, alternately, in-process, snippets and all.

    python -m bench.collapse INDEX_DIR [--reuters PATH] [--rounds 3]

INDEX_DIR is an index of Reuters-21578 built by this version (with signatures). Prints
p50 and p95 of both, the difference, and how many articles were folded.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from bench.speed_queries import build_queries
from searchapp.backends.whoosh import WhooshArchive as Archive

DEFAULT_REUTERS = Path("../shared/data/corpora/reuters21578.jsonl.gz")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index_dir", type=Path)
    parser.add_argument("--reuters", type=Path, default=DEFAULT_REUTERS)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    archive = Archive(args.index_dir)
    queries = build_queries(args.reuters)
    times: dict[bool, list[float]] = {True: [], False: []}
    folded = pages = 0
    for query in queries:  # warm the caches once
        archive.search(query.text, query.page, sort=query.sort, date_from=query.date_from,
                       date_to=query.date_to)
    for _ in range(args.rounds):
        for query in queries:
            for fold in (True, False):
                started = time.perf_counter()
                results = archive.search(query.text, query.page, sort=query.sort,
                                         date_from=query.date_from, date_to=query.date_to,
                                         fold=fold)
                times[fold].append((time.perf_counter() - started) * 1000)
                if fold:
                    folded += results.collapsed
                    pages += 1
    for fold, label in ((True, "folded"), (False, "not folded")):
        values = sorted(times[fold])
        print(f"{label:>11}: p50 {statistics.median(values):6.1f} ms, "
              f"p95 {values[int(len(values) * 0.95)]:6.1f} ms over {len(values)} searches")
    extra = [a - b for a, b in zip(times[True], times[False], strict=True)]
    print(f"   folding: median extra {statistics.median(extra):+.1f} ms a search; "
          f"{folded / pages:.1f} articles folded a search on average ({len(queries)} queries)")


if __name__ == "__main__":
    main()
