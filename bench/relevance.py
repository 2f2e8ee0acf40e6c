"""Measure ranking on the relevance test collections, the way that folder's README says.

Each collection's documents are indexed through the project's own indexer (title as the
headline), and each judged query is run, exactly as written, through ``Archive.search``:
the call the web page and the API make. Figures follow trec_eval: nDCG@10 (ndcg_cut.10,
gain = relevance grade), MAP over a run of depth 1000, P@10 and Recall@100, averaged over
the judged queries (one with no results scores 0). ``qps`` is the rate of first-page
searches as a reader's (ten hits with snippets), one query at a time.

``--engine opensearch`` indexes into a cluster instead (``--opensearch-url``, default
$SEARCHAPP_OPENSEARCH_URL; one index per collection, deleted afterwards); ``--engine both``
measures the same collections on both engines and prints them side by side, with each
OpenSearch figure's difference from Whoosh's.

Example::

    .venv/bin/python -m bench.relevance                  # ../shared/data/relevance
    .venv/bin/python -m bench.relevance --collections cacm,cisi --json figures.json
    .venv/bin/python -m bench.relevance --engine both --opensearch-url http://127.0.0.1:9200
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from searchapp.backends import Archive, open_archive
from searchapp.querylang import QueryError

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "relevance"
COLLECTIONS = ("cranfield", "cacm", "npl", "med", "cisi")
DEPTH = 1000
PAGE_SIZE = 50
# The README's "BM25 k1=1.2 b=0.75 +stem+stop" row: (nDCG@10, MAP).
REFERENCE = {
    "cranfield": (0.369, 0.305),
    "cacm": (0.476, 0.318),
    "npl": (0.434, 0.287),
    "med": (0.695, 0.530),
    "cisi": (0.385, 0.217),
}

Judgements = dict[str, int]  # doc id -> relevance grade
ENGINES = ("whoosh", "opensearch")


@dataclass
class Figures:
    """One collection's averaged figures."""

    collection: str
    queries: int
    ndcg10: float
    map: float
    p10: float
    recall100: float
    qps: float
    engine: str = "whoosh"


def ndcg_at(ranking: list[str], judged: Judgements, k: int = 10) -> float:
    """Return trec_eval's ndcg_cut: graded gain, log2(rank + 1) discount, ideal from the qrels."""
    dcg = sum(max(judged.get(doc, 0), 0) / math.log2(rank + 1)
              for rank, doc in enumerate(ranking[:k], start=1))
    ideal = sorted((g for g in judged.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(rank + 1) for rank, g in enumerate(ideal, start=1))
    return dcg / idcg if idcg else 0.0


def average_precision(ranking: list[str], judged: Judgements, depth: int = DEPTH) -> float:
    """Return trec_eval's map for one query: precision at each relevant hit, over all relevant."""
    relevant = sum(1 for g in judged.values() if g > 0)
    found, total = 0, 0.0
    for rank, doc in enumerate(ranking[:depth], start=1):
        if judged.get(doc, 0) > 0:
            found += 1
            total += found / rank
    return total / relevant if relevant else 0.0


def precision_at(ranking: list[str], judged: Judgements, k: int = 10) -> float:
    """Return the share of the first ``k`` places that hold relevant documents."""
    return sum(1 for doc in ranking[:k] if judged.get(doc, 0) > 0) / k


def recall_at(ranking: list[str], judged: Judgements, k: int = 100) -> float:
    """Return the share of the relevant documents found in the first ``k`` places."""
    relevant = {doc for doc, g in judged.items() if g > 0}
    return len(relevant.intersection(ranking[:k])) / len(relevant) if relevant else 0.0


def load_collection(folder: Path) -> tuple[dict[str, str], dict[str, Judgements]]:
    """Read the judged queries' texts and their judgements from one collection folder."""
    qrels: dict[str, Judgements] = {}
    for line in (folder / "qrels.tsv").read_text(encoding="utf-8").splitlines():
        if line.strip():
            query_id, doc_id, grade = line.split("\t")
            qrels.setdefault(query_id, {})[doc_id] = int(grade)
    texts = {}
    for line in (folder / "queries.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            texts[record["id"]] = record["text"]
    return {q: texts[q] for q in qrels if q in texts}, qrels


def build_index(folder: Path, workdir: Path, engine: str = "whoosh",
                opensearch_url: str | None = None) -> Archive:
    """Index a collection's documents (title as headline, body) with the project's indexer,
    into a Whoosh folder under ``workdir`` or a new index on the cluster."""
    articles = workdir / folder.name / "articles"
    articles.mkdir(parents=True, exist_ok=True)
    with (folder / "docs.jsonl").open(encoding="utf-8") as source, \
            (articles / "docs.jsonl").open("w", encoding="utf-8") as target:
        for line in source:
            if line.strip():
                doc = json.loads(line)
                record = {"id": doc["id"], "headline": doc.get("title", ""),
                          "body": doc.get("body", "")}
                target.write(json.dumps(record) + "\n")
    index_dir = workdir / folder.name / f"index-{engine}"
    name = f"searchapp-relevance-{folder.name}-{uuid.uuid4().hex[:8]}"
    archive = open_archive(index_dir, opensearch_url if engine == "opensearch" else None, name)
    archive.update([articles])
    return archive


def drop_index(archive: Archive) -> None:
    """Delete a collection's index from the cluster (a Whoosh one goes with the temp dir)."""
    if archive.engine == "opensearch":
        # The physical index, its file records and its zero-result log all start so.
        archive.client.indices.delete(index=f"{archive.alias}-*", expand_wildcards="all")


def rank(archive: Archive, text: str, depth: int = DEPTH) -> list[str]:
    """Return the ids ``search`` ranks for ``text``, paging through to ``depth``.

    A query the page would refuse (too long) finds nothing, as it would for a reader.
    """
    ids: list[str] = []
    for page in range(1, depth // PAGE_SIZE + 1):
        try:
            # Every article in its place: folding copies is presentation, not ranking.
            hits = archive.search(text, page=page, per_page=PAGE_SIZE, snippets=False,
                                  fold=False).hits
        except QueryError:
            return []
        ids.extend(hit.id for hit in hits)
        if len(hits) < PAGE_SIZE:
            break
    return ids


def evaluate(name: str, folder: Path, workdir: Path, engine: str = "whoosh",
             opensearch_url: str | None = None) -> Figures:
    """Index one collection, run its judged queries and average their figures."""
    texts, qrels = load_collection(folder)
    archive = build_index(folder, workdir, engine, opensearch_url)
    try:
        return _measure(name, archive, texts, qrels, engine)
    finally:
        drop_index(archive)


def _measure(name: str, archive: Archive, texts: dict[str, str],
             qrels: dict[str, Judgements], engine: str) -> Figures:
    started = time.perf_counter()
    for text in texts.values():
        try:
            archive.search(text)  # the reader's first page, snippets and all
        except QueryError:
            pass
    qps = len(texts) / (time.perf_counter() - started)
    scores = []
    for query_id, text in texts.items():
        ranking, judged = rank(archive, text), qrels[query_id]
        scores.append((ndcg_at(ranking, judged), average_precision(ranking, judged),
                       precision_at(ranking, judged), recall_at(ranking, judged)))
    n = len(scores)
    columns = [sum(column) / n if n else 0.0 for column in zip(*scores, strict=True)] or [0.0] * 4
    return Figures(name, n, *columns, qps, engine)


def report(figures: list[Figures]) -> str:
    """Lay the figures out as a Markdown table, the README's BM25 row alongside, and for
    OpenSearch rows the difference from Whoosh's on the same collection."""
    whoosh = {f.collection: f for f in figures if f.engine == "whoosh"}
    lines = [
        "| collection | engine | queries | nDCG@10 | MAP | P@10 | R@100 | qps "
        "| BM25 1.2/0.75 nDCG@10 / MAP | vs reference | vs Whoosh nDCG@10 / MAP |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|---|---|",
    ]
    for f in figures:
        ref = REFERENCE.get(f.collection)
        ref_text = f"{ref[0]:.3f} / {ref[1]:.3f}" if ref else "-"
        verdict = "-"
        if ref:
            verdict = "match or beat" if f.ndcg10 >= ref[0] and f.map >= ref[1] else "below"
        versus = "-"
        if f.engine != "whoosh" and f.collection in whoosh:
            base = whoosh[f.collection]
            dn, dm = f.ndcg10 - base.ndcg10, f.map - base.map
            within = "within 0.01" if abs(dn) <= 0.01 and abs(dm) <= 0.01 else "MORE than 0.01"
            versus = f"{dn:+.3f} / {dm:+.3f} ({within})"
        lines.append(f"| {f.collection} | {f.engine} | {f.queries} | {f.ndcg10:.3f} | "
                     f"{f.map:.3f} | {f.p10:.3f} | {f.recall100:.3f} | {f.qps:.0f} | "
                     f"{ref_text} | {verdict} | {versus} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Measure ranking on the test collections and print the table."""
    parser = argparse.ArgumentParser(prog="python -m bench.relevance", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help=f"folder of collections (default: {DEFAULT_DATA})")
    parser.add_argument("--collections", default=",".join(COLLECTIONS),
                        help="comma-separated names (default: all five)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the figures as JSON")
    parser.add_argument("--engine", choices=[*ENGINES, "both"], default="whoosh",
                        help="the engine to measure, or both side by side (default: whoosh)")
    parser.add_argument("--opensearch-url", default=os.environ.get("SEARCHAPP_OPENSEARCH_URL"),
                        help="the cluster for --engine opensearch/both "
                             "(default: $SEARCHAPP_OPENSEARCH_URL)")
    args = parser.parse_args(argv)
    engines = list(ENGINES) if args.engine == "both" else [args.engine]
    if "opensearch" in engines and not args.opensearch_url:
        parser.error("--engine opensearch needs --opensearch-url (or SEARCHAPP_OPENSEARCH_URL)")
    data = args.data if args.data.is_absolute() else REPO_ROOT / args.data
    names = [n.strip() for n in args.collections.split(",") if n.strip()]
    missing = [n for n in names if not (data / n / "qrels.tsv").is_file()]
    if missing:
        print(f"error: no collection {', '.join(missing)} in {data}", file=sys.stderr)
        return 2
    figures = []
    with tempfile.TemporaryDirectory(prefix="relevance-") as workdir:
        for name in names:
            for engine in engines:
                figures.append(evaluate(name, data / name, Path(workdir), engine,
                                        args.opensearch_url))
                done = figures[-1]
                print(f"  {name} on {engine}: nDCG@10 {done.ndcg10:.3f}, MAP {done.map:.3f}",
                      file=sys.stderr)
    where = f" (OpenSearch at {args.opensearch_url})" if "opensearch" in engines else ""
    print(f"relevance benchmark: {data}, {' and '.join(engines)}{where}")
    print(report(figures))
    if args.json:
        args.json.write_text(json.dumps([asdict(f) for f in figures], indent=2) + "\n",
                             encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
