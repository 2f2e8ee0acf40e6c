"""Time one article's page and measure the memory it takes, each request in a fresh process.

    python -m bench.article_page INDEX_DIR ARTICLE_ID [--runs 3]

Prints, for the HTML page and the JSON record, the status, the size of the answer, the
wall time and how much the child's peak resident memory grew while answering.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import time


def _measure(index_dir: str, path: str, queue) -> None:
    from searchapp.web import create_app

    client = create_app({"INDEX_DIR": index_dir}).test_client()
    client.get("/api/search?q=warmup")  # open the index and load the code first
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    response = client.get(path)
    size = len(response.get_data())
    seconds = time.perf_counter() - started
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    queue.put((response.status_code, size, seconds, grown / 1024))


def measure(index_dir: str, path: str) -> tuple[int, int, float, float]:
    """Answer ``path`` in a new process: (status, bytes, seconds, peak memory growth in MB)."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_measure, args=(index_dir, path, queue))
    process.start()
    result = queue.get(timeout=600)
    process.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index_dir")
    parser.add_argument("article_id")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    for path in (f"/articles/{args.article_id}", f"/articles/{args.article_id}?q=words",
                 f"/api/articles/{args.article_id}"):
        for _ in range(args.runs):
            status, size, seconds, grown = measure(args.index_dir, path)
            print(f"{path:40} {status} {size / 1024:9,.0f} KB {seconds:7.2f} s "
                  f"+{grown:6,.0f} MB peak")


if __name__ == "__main__":
    main()
