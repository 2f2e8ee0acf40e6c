"""Dump what readers get for the speed benchmark's queries, to check that a faster version
gives the same results: run it with each version's code on the same index, then compare
the two files (``cmp``).

    python -m bench.same_results INDEX_DIR OUT [--reuters PATH]

Each query goes through ``/api/search`` (Flask's test client) three times: as the speed
benchmark asks it, page 2 newest first, and 50 a page. For each, the file holds the
status, the response headers (without Date and Content-Length) and the JSON as sent (its
``took_ms`` blanked); every eighth query's HTML page of results follows, timings blanked.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from bench.speed_queries import build_queries
from searchapp.web import create_app

DEFAULT_REUTERS = Path("../shared/data/corpora/reuters21578.jsonl.gz")
# Headers that differ from one run to the next whatever the code.
VARYING_HEADERS = {"Date", "Content-Length"}
HTML_SAMPLE_EVERY = 8
# A time the page shows ("12.3 ms"), blanked in the HTML compared.
_TIMING = re.compile(r"\d+(?:\.\d+)? ?(?:ms|seconds)")
# The search's own time in the JSON.
_TOOK = re.compile(r'"took_ms":[-+.\deE]+')


def dump_results(index_dir: Path, out: Path, reuters: Path) -> int:
    """Write the answers to every query to ``out``; return how many requests were made."""
    client = create_app({"INDEX_DIR": str(index_dir), "TESTING": True}).test_client()
    requests = 0
    with out.open("w", encoding="utf-8") as lines:
        for number, query in enumerate(build_queries(reuters)):
            asked = {"q": query.text}
            if query.date_from:
                asked["from"] = query.date_from.isoformat()
            if query.date_to:
                asked["to"] = query.date_to.isoformat()
            for params in (dict(asked, page=query.page, sort=query.sort),
                           dict(asked, page=2, sort="newest"), dict(asked, per_page=50)):
                response = client.get("/api/search", query_string=params)
                headers = sorted((name, value) for name, value in response.headers.items()
                                 if name not in VARYING_HEADERS)
                lines.write(json.dumps([params, response.status_code, headers]) + "\n")
                body = _TOOK.sub('"took_ms":T', response.get_data(as_text=True))
                lines.write(body.rstrip("\n") + "\n")
                requests += 1
            if number % HTML_SAMPLE_EVERY == 0:
                page = client.get("/search", query_string=dict(asked, page=query.page,
                                                               sort=query.sort))
                lines.write(_TIMING.sub("T", page.get_data(as_text=True)) + "\n")
                requests += 1
    return requests


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("index_dir", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--reuters", type=Path, default=DEFAULT_REUTERS)
    args = parser.parse_args(argv)
    requests = dump_results(args.index_dir, args.out, args.reuters)
    print(f"{requests} answers written to {args.out}")


if __name__ == "__main__":
    main()
