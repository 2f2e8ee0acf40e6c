"""Time the search-box suggestions endpoint: ``python -m bench.suggest --index-dir DIR``.

Asks ``/api/suggest`` (through Flask's test client, in-process) for every prefix of a list
of common news words and prints p50/p95/p99 in milliseconds.
"""

from __future__ import annotations

import argparse
import statistics
import time

from searchapp import create_app

WORDS = [
    "oil", "bank", "trade", "dollar", "market", "prices", "government", "company", "shares",
    "exports", "interest", "inflation", "minister", "election", "ceasefire", "agreement",
    "production", "billion", "president", "federal", "japan", "germany", "coffee", "cocoa",
    "wheat", "gold", "profit", "merger", "takeover", "strike",
]


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--index-dir", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    client = create_app({"INDEX_DIR": args.index_dir}).test_client()
    client.get("/api/suggest?q=wa")  # open the index before timing
    timings = []
    for _ in range(args.rounds):
        for word in WORDS:
            for end in range(2, len(word) + 1):
                started = time.perf_counter()
                response = client.get("/api/suggest", query_string={"q": "news " + word[:end]})
                timings.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200
    timings.sort()
    def pct(p):
        return timings[min(len(timings) - 1, int(p / 100 * len(timings)))]
    print(f"/api/suggest over {args.index_dir}: {len(timings)} requests")
    print(f"p50 {pct(50):.2f} ms  p95 {pct(95):.2f} ms  p99 {pct(99):.2f} ms  "
          f"mean {statistics.mean(timings):.2f} ms")


if __name__ == "__main__":
    main()
