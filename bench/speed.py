"""Speed benchmark: indexing, incremental runs, query latency, growth and concurrency.

Five parts, each against the targets printed beside its figures (pass/miss):

1. indexing     full build of Reuters-21578 through `searchapp index`: articles/s, peak
                memory (all processes of the command), index size on disk;
2. incremental  20,000 article files: a no-change re-run, then 100 files added;
3. latency      the query set (bench/speed_queries.py, 200+ queries) against the
                Reuters-21578 index in-process, over HTTP against `searchapp serve`, and the
                same queries over the same stories in SQLite FTS5 (bm25, snippet()) as the
                reference, timed in turns with HTTP, query by query, for three rounds;
                p50/p95/p99 overall and per kind of query;
4. growth       the query set in-process at 10k, 100k and 1M articles, with a PNG plot;
                the 1M set is reuters-headlines as is (no bodies); smaller sets pair
                headline i of reuters-headlines (with its date) with Reuters-21578 body
                number i mod 21,578; plus the service's memory at 100k articles;
5. concurrency  16 clients for 60 s against `searchapp serve --workers W` for each W.

Every run prints tables and writes JSON with the machine and versions. A part that fails
prints why; the others still run. Only loopback is ever contacted. Indexes and temporary
files go under --work; --reuse keeps indexes built there by an earlier run.

Engines (issue 12): ``--engine opensearch`` runs indexing, latency and growth against the
cluster at ``--opensearch-url`` (default $SEARCHAPP_OPENSEARCH_URL; indexes ``bench-<name>``
there, through the same `searchapp index` and `searchapp serve` commands with
SEARCHAPP_OPENSEARCH_URL set), with OpenSearch's own targets; ``--engine both`` runs each
part on Whoosh, then on OpenSearch, on the same corpora and queries, and ends with the two
side by side. For OpenSearch the index size is the cluster's store size (one copy, and all
copies with replicas) and the heap is what the nodes' JVMs use. Incremental and concurrency
are measured on Whoosh only.

Example::

    .venv/bin/pip install -e '.[bench]'          # matplotlib, for the plot
    .venv/bin/python -m bench.speed --work /tmp/speed             # everything, about an hour
    .venv/bin/python -m bench.speed --work /tmp/speed --reuse --parts latency,concurrency
    .venv/bin/python -m bench.speed --work /tmp/speed --engine both \
        --opensearch-url http://127.0.0.1:9200 --parts indexing,latency,growth \
        --sizes 100000,1000000            # Whoosh and OpenSearch side by side
    nice -n 19 .venv/bin/python -m bench.speed --work /tmp/speed-smoke --files 2000 \\
        --sizes 2000,5000 --limit-docs 5000 --seconds 5 --memory-size 5000 \\
        --json /tmp/speed-smoke.json --plot /tmp/growth-smoke.png   # a quick smoke run
"""

from __future__ import annotations

import argparse
import http.client
import importlib.metadata
import json
import os
import platform
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from urllib.parse import urlencode
from urllib.request import Request, urlopen

from bench.load import HttpClient, free_port, percentile
from bench.speed_queries import REUTERS_SPAN, Query, build_queries, fit_dates, read_records

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPORA = REPO_ROOT.parent / "shared" / "data" / "corpora"
REUTERS = "reuters21578.jsonl.gz"
HEADLINES = "reuters-headlines.jsonl.gz"
HEADLINES_RECORDS = 1_000_000
PARTS = ("indexing", "incremental", "latency", "growth", "concurrency")
ENGINES = ("whoosh", "opensearch")
OPENSEARCH_PARTS = ("indexing", "latency", "growth")
URL_VAR, INDEX_VAR = "SEARCHAPP_OPENSEARCH_URL", "SEARCHAPP_OPENSEARCH_INDEX"
PER_PAGE = 10
INCREMENTAL_FILES = 20_000
ADDED_FILES = 100
FILES_PER_FOLDER = 500
NO_CHANGE_RUNS = 3
SERVER_START_SECONDS = 120
REQUEST_TIMEOUT = 60
RSS_SAMPLE_SECONDS = 0.1
# SQLite FTS5 reference: the headline counts more, as in searchapp (FIELD_WEIGHTS).
FTS_HEADLINE_WEIGHT = 1.5
FTS_SNIPPET_TOKENS = 30
# Measured rounds of the query set over HTTP and in FTS5 (``time_http_and_fts``).
LATENCY_ROUNDS = 3
# Targets from the issue: (figure, limit, "min" = at least / "max" = at most).
TARGETS = {
    "indexing articles/s": (2000, "min"),
    "no-change re-run s": (2.0, "max"),
    "add 100 articles s": (5.0, "max"),
    "HTTP p95 ms": (30.0, "max"),
    "HTTP p50 / FTS5 p50": (3.0, "max"),
    "1M in-process p95 ms": (100.0, "max"),  # issue 16 (issue 6 asked 150)
    "concurrency errors": (0, "max"),
    "service RSS at 100k MB": (300.0, "max"),
}
# Issue 12's targets for the 2-node cluster: Reuters-21578 indexed end to end, HTTP p95 on
# Reuters-21578 and on the 1M headlines.
OPENSEARCH_TARGETS = {
    "indexing articles/s": (3000, "min"),
    "HTTP p95 ms": (50.0, "max"),
    "1M HTTP p95 ms": (50.0, "max"),
}


# ----------------------------------------------------------------------------- machine

def machine_info() -> dict:
    """Describe the machine, the versions and the git commit the figures belong to."""
    cpuinfo = _read("/proc/cpuinfo")
    meminfo = _read("/proc/meminfo")
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    ram = re.search(r"^MemTotal:\s*(\d+)", meminfo, re.M)
    versions = {}
    for package in ("Whoosh", "Flask", "waitress", "matplotlib"):
        try:
            versions[package.lower()] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package.lower()] = None
    versions["sqlite"] = sqlite3.sqlite_version
    commit = _git("rev-parse", "HEAD")
    dirty = _git("status", "--porcelain")
    return {
        "cpu": model.group(1).strip() if model else platform.processor(),
        "cpus": os.cpu_count(),
        "ram_gb": round(int(ram.group(1)) / 2**20, 1) if ram else None,
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
        "git_commit": commit,
        "git_uncommitted_files": len(dirty.splitlines()) if dirty else 0,
    }


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True,
                              text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


# ------------------------------------------------------------------ processes and memory

def process_tree(pid: int) -> list[int]:
    """Return ``pid`` and all its descendants, from /proc's children lists."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                pending += [int(child) for child in task.read_text().split()]
            except OSError:
                pass
    return found


def tree_rss_mb(pid: int) -> float:
    """Return the resident memory of ``pid`` and its descendants together (VmRSS summed)."""
    total = 0
    for member in process_tree(pid):
        status = _read(f"/proc/{member}/status")
        if match := re.search(r"^VmRSS:\s*(\d+)", status, re.M):
            total += int(match.group(1))
    return total / 1024


class RssSampler(threading.Thread):
    """Sample a process tree's resident memory in the background and keep the peak."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak_mb, self._done = pid, 0.0, threading.Event()

    def run(self) -> None:
        while not self._done.wait(RSS_SAMPLE_SECONDS):
            self.peak_mb = max(self.peak_mb, tree_rss_mb(self.pid))

    def stop(self) -> float:
        """Stop sampling and return the peak in MB."""
        self.peak_mb = max(self.peak_mb, tree_rss_mb(self.pid))
        self._done.set()
        self.join()
        return round(self.peak_mb, 1)


@dataclass
class CommandRun:
    """One `searchapp` command: exit code, wall time, memory and the summary it printed."""

    code: int
    seconds: float
    peak_rss_mb: float
    summary: str
    stderr_tail: str


def child_env(engine_env: dict[str, str] | None = None) -> dict[str, str]:
    """Return the environment for a `searchapp` child: the cluster's settings for an
    OpenSearch run, none at all for a Whoosh run (even if the shell has them)."""
    env = {k: v for k, v in os.environ.items() if k not in (URL_VAR, INDEX_VAR)}
    return {**env, **(engine_env or {})}


def run_searchapp(args: list[str], workdir: Path,
                  engine_env: dict[str, str] | None = None) -> CommandRun:
    """Run ``python -m searchapp ARGS`` and measure its wall time and peak memory.

    Output goes to files, not pipes, so a chatty command cannot block on a full pipe.
    """
    out_path, err_path = workdir / "command.out", workdir / "command.err"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        started = time.perf_counter()
        process = subprocess.Popen([sys.executable, "-m", "searchapp", *args],
                                   stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                   env=child_env(engine_env))
        sampler = RssSampler(process.pid)
        sampler.start()
        # wait4 also gives the largest single process's peak, which sampling may miss.
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        peak = max(sampler.stop(), usage.ru_maxrss / 1024)
    lines = out_path.read_text(errors="replace").strip().splitlines()
    return CommandRun(process.returncode, round(seconds, 3), round(peak, 1),
                      lines[-1] if lines else "",
                      err_path.read_text(errors="replace")[-2000:])


def index_command(paths: list[Path], index_dir: Path, workers: int | None,
                  rebuild: bool = False) -> list[str]:
    """Return the `searchapp index` arguments; ``--workers`` only when one was asked for."""
    args = ["index", *map(str, paths), "--index-dir", str(index_dir)]
    if rebuild:
        args.append("--rebuild")
    if workers:
        args += ["--workers", str(workers)]
    return args


def checked_index(paths: list[Path], index_dir: Path, workdir: Path, workers: int | None,
                  rebuild: bool = False, engine_env: dict[str, str] | None = None
                  ) -> CommandRun:
    """Run `searchapp index` and raise with its message unless it indexed (exit 0 or 1)."""
    run = run_searchapp(index_command(paths, index_dir, workers, rebuild), workdir, engine_env)
    if run.code not in (0, 1):
        raise RuntimeError(f"searchapp index exited {run.code}: {run.stderr_tail.strip()}")
    return run


def reported_seconds(summary: str) -> float | None:
    """Read the seconds from the summary line ("Indexed in 3.21 s: ...")."""
    match = re.search(r"(?:in|\()\s*([\d.]+) s", summary)
    return float(match.group(1)) if match else None


def reported_count(summary: str, what: str) -> int | None:
    """Read a count such as "21,577 added" from the summary line."""
    match = re.search(rf"([\d,]+) {what}", summary)
    return int(match.group(1).replace(",", "")) if match else None


def folder_mb(path: Path) -> float:
    """Return the size of the files under ``path`` in MB."""
    return round(sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20, 1)


class Server:
    """`searchapp serve` on a free loopback port, ready once GET /healthz answers 200."""

    def __init__(self, index_dir: Path, workdir: Path, workers: int | None = None,
                 engine_env: dict[str, str] | None = None):
        self.port = free_port()
        args = ["serve", "--index-dir", str(index_dir), "--host", "127.0.0.1",
                "--port", str(self.port)]
        if workers:
            args += ["--workers", str(workers)]
        self.log = workdir / f"serve-{self.port}.log"
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "searchapp", *args], stdout=log, stderr=log,
                stdin=subprocess.DEVNULL,
                env={**child_env(engine_env), "SEARCHAPP_SOURCES": str(workdir / "no-sources")})
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"searchapp serve exited {self.process.returncode}: "
                                   f"{self.log.read_text(errors='replace')[-1000:].strip()}")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                connection.request("GET", "/healthz")
                if connection.getresponse().status == 200:
                    connection.close()
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"searchapp serve did not answer in {SERVER_START_SECONDS} s")

    def stop(self) -> None:
        """Stop the server and any worker processes it started."""
        members = process_tree(self.process.pid)
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for pid in members[1:]:
            try:
                os.kill(pid, 15)
            except ProcessLookupError:
                pass

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


# ---------------------------------------------------------------------------- latency

def summarize(samples: list[tuple[str, float]]) -> dict:
    """Return p50/p95/p99 (ms) and count, overall and per kind, from (kind, ms) samples."""
    def figures(values: list[float]) -> dict:
        return {"n": len(values), "p50": round(percentile(values, 0.50), 2),
                "p95": round(percentile(values, 0.95), 2),
                "p99": round(percentile(values, 0.99), 2)}

    kinds = sorted({kind for kind, _ in samples})
    return {"all": figures([ms for _, ms in samples]),
            **{k: figures([ms for kind, ms in samples if kind == k]) for k in kinds}}


@dataclass
class Timings:
    """One pass of the query set: per-query (kind, ms), totals found, and errors."""

    samples: list[tuple[str, float]] = field(default_factory=list)
    ms: list[float | None] = field(default_factory=list)  # per query, None for a failure
    totals: list[int | None] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def add(self, query: Query, ms: float | None, total: int | None = None, error: str = "",
            again: bool = False):
        """Record one measured query: its time and total, or the error that stopped it.

        ``again`` for a later round of the same queries: its time is one more sample, and
        the query's time and total stay its first round's.
        """
        if not again:
            self.ms.append(ms)
            self.totals.append(total)
        if ms is None:
            self.errors.append(f"{error} [{query.kind}] {query.text}")
        else:
            self.samples.append((query.kind, ms))


def time_archive(index_dir: Path, queries: list[Query],
                 engine_env: dict[str, str] | None = None) -> Timings:
    """Run the query set through ``Archive.search`` (snippets on): warm-up, then measured."""
    from searchapp.backends import open_archive

    engine_env = engine_env or {}
    archive = open_archive(index_dir, engine_env.get(URL_VAR), engine_env.get(INDEX_VAR))
    timings = Timings()
    for measured in (False, True):
        for query in queries:
            started = time.perf_counter()
            try:
                results = archive.search(query.text, page=query.page, per_page=PER_PAGE,
                                         sort=query.sort, date_from=query.date_from,
                                         date_to=query.date_to)
            except Exception as error:  # a benchmark reports every failure, never stops
                if measured:
                    timings.add(query, None, error=f"{type(error).__name__}: {error}")
                continue
            if measured:
                timings.add(query, (time.perf_counter() - started) * 1000, results.total)
    return timings


def search_path(query: Query) -> str:
    """Return the /api/search path for a query."""
    params = {"q": query.text, "page": query.page, "per_page": PER_PAGE, "sort": query.sort}
    if query.date_from:
        params["from"] = query.date_from.isoformat()
    if query.date_to:
        params["to"] = query.date_to.isoformat()
    return "/api/search?" + urlencode(params)


def time_http(port: int, queries: list[Query], warm_up: bool = True) -> Timings:
    """Run the query set over HTTP, one request at a time: warm-up, then measured."""
    client, timings = HttpClient(port), Timings()
    for measured in ((False, True) if warm_up else (True,)):
        for query in queries:
            started = time.perf_counter()
            try:
                status, body = client.get(search_path(query))
                elapsed = (time.perf_counter() - started) * 1000
                total = json.loads(body).get("total") if status == 200 else None
            except (OSError, http.client.HTTPException, ValueError) as error:
                status, total, elapsed = f"{type(error).__name__}: {error}", None, 0.0
            if measured and status == 200:
                timings.add(query, elapsed, total)
            elif measured:
                timings.add(query, None, error=f"{status} {search_path(query)}")
    client.close()
    return timings


# ----------------------------------------------------------------------- SQLite FTS5

def build_fts(records: list[dict], db_path: Path) -> float:
    """Put the stories in an FTS5 table (porter unicode61) and return the seconds it took."""
    db_path.unlink(missing_ok=True)
    started = time.perf_counter()
    db = sqlite3.connect(db_path)
    db.execute("CREATE VIRTUAL TABLE fts USING fts5(headline, body, date UNINDEXED, "
               "ext_id UNINDEXED, tokenize='porter unicode61')")
    with db:
        db.executemany("INSERT INTO fts VALUES (?, ?, ?, ?)",
                       ((r["headline"], r["body"] or "", r["date"], r["id"]) for r in records))
    db.close()
    return round(time.perf_counter() - started, 2)


FTS_TOKEN_RE = re.compile(r'"([^"]*)"?|(\S+)')
FTS_DATE_RE = re.compile(r"^date:(\d{4})-(\d{2})$")


def fts_query(query: Query) -> tuple[str | None, str | None, str | None]:
    """Translate a query to an FTS5 MATCH expression plus a date range (ISO strings).

    Words are OR-ed (searchapp ranks any-word matches by BM25 too), phrases stay phrases,
    ``date:YYYY-MM`` becomes a date range. Every term is reduced to letters and digits and
    double-quoted, so no query can be an FTS5 syntax error.
    """
    terms: list[str] = []
    date_from = query.date_from.isoformat() if query.date_from else None
    date_to = query.date_to.isoformat() if query.date_to else None
    for phrase, word in FTS_TOKEN_RE.findall(query.text):
        if word and (month := FTS_DATE_RE.match(word)):
            date_from = max(filter(None, (date_from, f"{month[1]}-{month[2]}-01")))
            date_to = min(filter(None, (date_to, f"{month[1]}-{month[2]}-31")))
            continue
        parts = re.findall(r"\w+", phrase or word)
        if parts:
            terms.append('"' + " ".join(parts) + '"')
    return (" OR ".join(terms) or None), date_from, date_to


class FtsSearcher:
    """The reference: SQLite FTS5 doing a search's work (the words OR-ed, bm25 with the
    headline weighted, ``snippet()`` on the page's rows, and a ``count(*)`` for the total)."""

    def __init__(self, db_path: Path):
        self.db = sqlite3.connect(db_path)
        weights = f"bm25(fts, {FTS_HEADLINE_WEIGHT}, 1.0, 0, 0)"
        self.orders = {"relevance": weights, "newest": f"date DESC, {weights}",
                       "oldest": f"date ASC, {weights}"}

    def statements(self, query: Query) -> list[tuple[str, list]] | None:
        """Return the page's and the count's SQL and values (None when no word is left)."""
        match, date_from, date_to = fts_query(query)
        if not match:
            return None
        where, values = "fts MATCH ?", [match]
        if date_from:
            where, values = where + " AND date >= ?", values + [date_from]
        if date_to:
            where, values = where + " AND date <= ?", values + [date_to]
        page = (f"SELECT ext_id, headline, date, snippet(fts, 1, '<mark>', '</mark>', '…', "
                f"{FTS_SNIPPET_TOKENS}) FROM fts WHERE {where} "
                f"ORDER BY {self.orders[query.sort]} LIMIT ? OFFSET ?")
        return [(page, values + [PER_PAGE, (query.page - 1) * PER_PAGE]),
                (f"SELECT count(*) FROM fts WHERE {where}", values)]

    def time(self, query: Query) -> tuple[float | None, int | None, str]:
        """Run one query; return its milliseconds and total, or None and the error."""
        statements = self.statements(query)  # not timed: searchapp's parsing is
        started = time.perf_counter()
        try:
            total = 0
            if statements:
                (page, page_values), (count, count_values) = statements
                self.db.execute(page, page_values).fetchall()
                total = self.db.execute(count, count_values).fetchone()[0]
        except sqlite3.Error as error:
            return None, None, f"{error} (MATCH {fts_query(query)[0]})"
        return (time.perf_counter() - started) * 1000, total, ""

    def close(self) -> None:
        self.db.close()


def _time_over_http(client: HttpClient, query: Query) -> tuple[float | None, int | None, str]:
    """GET one query's /api/search; return its milliseconds and total, or None and why."""
    started = time.perf_counter()
    try:
        status, body = client.get(search_path(query))
        elapsed = (time.perf_counter() - started) * 1000
        if status != 200:
            return None, None, f"{status} {search_path(query)}"
        return elapsed, json.loads(body).get("total"), ""
    except (OSError, http.client.HTTPException, ValueError) as error:
        return None, None, f"{type(error).__name__}: {error}"


def time_http_and_fts(port: int, db_path: Path, queries: list[Query],
                      rounds: int = LATENCY_ROUNDS) -> tuple[Timings, Timings]:
    """Time the query set over HTTP and in FTS5 in turns, query by query.

    This machine's speed drifts by a fifth within minutes (BENCHMARKS.md), so measured
    one after the other, the ratio of the two medians moved from 2.6 to 3.6 with the same
    code. In turns, both are timed in the same seconds: each query over HTTP and in FTS5,
    which of them goes first alternating, one warm-up round and then ``rounds``
    measured ones. A query's total is its first measured round's.
    """
    client, fts = HttpClient(port), FtsSearcher(db_path)
    over_http, reference = Timings(), Timings()
    try:
        for round_number in range(rounds + 1):
            for number, query in enumerate(queries):
                turns = [(over_http, lambda q: _time_over_http(client, q)),
                         (reference, fts.time)]
                if (number + round_number) % 2:
                    turns.reverse()
                for timings, timed in turns:
                    ms, total, error = timed(query)
                    if round_number:
                        timings.add(query, ms, total, error, again=round_number > 1)
    finally:
        client.close()
        fts.close()
    return over_http, reference


# ---------------------------------------------------------------------------- corpora

def write_article_files(records: list[dict], folder: Path, prefix: str) -> int:
    """Write each record as a plain-text article file (Headline:/Date: lines, then body)."""
    for number, record in enumerate(records):
        sub = folder / f"{prefix}-{number // FILES_PER_FOLDER:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        head = f"Headline: {record['headline']}\n" if record["headline"] else ""
        body = "\n\n".join((record["body"] or "").split("\n"))
        (sub / f"{record['id']}.txt").write_text(f"{head}Date: {record['date']}\n\n{body}\n",
                                                 encoding="utf-8")
    return len(records)


def write_growth_corpus(headlines: Path, bodies: list[str], size: int, as_is: bool,
                        target: Path | None) -> tuple[date, date]:
    """Write ``size`` records for the growth part and return their date range.

    ``as_is``: the headlines alone. Otherwise headline i (with its id and date) gets
    Reuters-21578 body number i mod 21,578. With no ``target`` only the dates are read.
    """
    first, last = date.max, date.min
    with open(target or os.devnull, "w", encoding="utf-8") as out:
        for number, record in enumerate(read_records(headlines, size)):
            day = date.fromisoformat(record["date"])
            first, last = min(first, day), max(last, day)
            if target is None:
                continue
            if not as_is:
                record["body"] = bodies[number % len(bodies)]
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return first, last


# ---------------------------------------------------------------------------- cluster

def cluster_json(url: str, path: str) -> dict:
    """GET one JSON document from the cluster (the first URL of a comma-separated list)."""
    with urlopen(Request(url.split(",")[0].strip().rstrip("/") + path), timeout=60) as answer:
        return json.load(answer)


def cluster_figures(url: str, index: str) -> dict:
    """Return an index's size on disk (one copy and all copies) and the nodes' heap."""
    store = cluster_json(url, f"/{index}/_stats/store")["_all"]
    nodes = cluster_json(url, "/_nodes/stats/jvm")["nodes"].values()
    mb = 2**20
    return {"index_mb": round(store["primaries"]["store"]["size_in_bytes"] / mb, 1),
            "index_mb_all_copies": round(store["total"]["store"]["size_in_bytes"] / mb, 1),
            "nodes": len(nodes),
            "heap_used_mb": round(sum(n["jvm"]["mem"]["heap_used_in_bytes"] for n in nodes) / mb),
            "heap_max_mb": round(sum(n["jvm"]["mem"]["heap_max_in_bytes"] for n in nodes) / mb)}


def cluster_delete(url: str, pattern: str) -> None:
    """Delete the indexes matching ``pattern`` (none matching is fine)."""
    request = Request(url.split(",")[0].strip().rstrip("/") +
                      f"/{pattern}?expand_wildcards=all&allow_no_indices=true", method="DELETE")
    with urlopen(request, timeout=120) as answer:
        answer.read()


def cluster_has(url: str, index: str) -> bool:
    """Tell whether the cluster has an index or alias ``index``."""
    try:
        cluster_json(url, f"/_alias/{index}")
    except OSError:
        return False
    return True


# ------------------------------------------------------------------------------ checks

def check(name: str, value: float | None, note: str = "", engine: str = "whoosh") -> dict:
    """Compare a figure with the engine's target for it and return the verdict."""
    targets = OPENSEARCH_TARGETS if engine == "opensearch" else TARGETS
    if name not in targets:
        return {"target": name, "engine": engine, "value": value, "limit": "-",
                "verdict": "n/a", "note": note}
    limit, sense = targets[name]
    if value is None:
        verdict = "n/a"
    else:
        verdict = "pass" if (value >= limit if sense == "min" else value <= limit) else "miss"
    text = "= 0" if limit == 0 else f"{'>=' if sense == 'min' else '<='} {limit:g}"
    return {"target": name, "engine": engine, "value": value, "limit": text,
            "verdict": verdict, "note": note}


def table(headers: list[str], rows: list[list]) -> str:
    """Lay rows out as a Markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join("-" if v is None else str(v) for v in row) + " |"
              for row in rows]
    return "\n".join(lines)


def verdict_text(result: dict) -> str:
    return f"{result['verdict']} (target {result['limit']})"


# ------------------------------------------------------------------------------- parts

class Bench:
    """The benchmark's settings, shared data, and one method per part."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.work: Path = args.work
        self.corpora: Path = args.corpora
        self.checks: list[dict] = []
        self._queries: list[Query] | None = None
        self._records: list[dict] | None = None
        self._fts_seconds: float | None = None
        self.engine = "whoosh"  # the engine the part being run measures

    @property
    def on_cluster(self) -> bool:
        return self.engine == "opensearch"

    def engine_env(self, name: str) -> dict[str, str]:
        """The environment that points `searchapp` at index ``name`` on this engine."""
        if not self.on_cluster:
            return {}
        return {URL_VAR: self.args.opensearch_url, INDEX_VAR: f"bench-{name}"}

    def index_dir(self, name: str) -> Path:
        """The Whoosh index folder of ``name`` (on OpenSearch a folder nothing writes to)."""
        return self.work / (f"opensearch-{name}" if self.on_cluster else name)

    @property
    def records(self) -> list[dict]:
        """The Reuters-21578 records, read once."""
        if self._records is None:
            self._records = list(read_records(self.corpora / REUTERS))
        return self._records

    @property
    def queries(self) -> list[Query]:
        """The query set, built once."""
        if self._queries is None:
            self._queries = build_queries(self.corpora / REUTERS)
        return self._queries

    def record(self, result: dict) -> dict:
        self.checks.append(result)
        return result

    def check(self, name: str, value: float | None, note: str = "") -> dict:
        """Check a figure against the current engine's target and keep the verdict."""
        return self.record(check(name, value, note, self.engine))

    def build_index(self, name: str, paths: list[Path]) -> tuple[Path, dict]:
        """Build index ``name`` under --work (or reuse it with --reuse); return it and figures.

        A ``.json`` file beside the index keeps its build figures, and marks it complete.
        """
        if self.on_cluster:
            return self.build_cluster_index(name, paths)
        index_dir, marker = self.work / name, self.work / f"{name}.json"
        if self.reusable(name):
            return index_dir, {**json.loads(marker.read_text()), "reused": True}
        # Built aside and swapped in, so a failed build leaves an earlier index usable.
        building = self.work / f"{name}.building"
        shutil.rmtree(building, ignore_errors=True)
        run = checked_index(paths, building, self.work, self.args.index_workers, rebuild=True)
        marker.unlink(missing_ok=True)
        shutil.rmtree(index_dir, ignore_errors=True)
        building.rename(index_dir)
        articles = reported_count(run.summary, "added")
        figures = {"articles": articles, "seconds": run.seconds,
                   "reported_seconds": reported_seconds(run.summary),
                   "articles_per_second": round(articles / run.seconds) if articles else None,
                   "peak_rss_mb": run.peak_rss_mb, "index_mb": folder_mb(index_dir),
                   "exit_code": run.code, "summary": run.summary}
        marker.write_text(json.dumps(figures, indent=2))
        return index_dir, figures

    def build_cluster_index(self, name: str, paths: list[Path]) -> tuple[Path, dict]:
        """Build ``bench-<name>`` on the cluster afresh with `searchapp index` (or reuse it
        with --reuse); return its placeholder folder and the build's figures.

        The earlier index is deleted first, so this is an archive's first indexing run
        (replicas written as it goes), as a user moving to a cluster does.
        """
        index_dir, marker = self.index_dir(name), self.work / f"opensearch-{name}.json"
        if self.reusable(name):
            return index_dir, {**json.loads(marker.read_text()), "reused": True}
        env = self.engine_env(name)
        cluster_delete(self.args.opensearch_url, f"{env[INDEX_VAR]}-*")
        run = checked_index(paths, index_dir, self.work, self.args.index_workers,
                            engine_env=env)
        marker.unlink(missing_ok=True)
        articles = reported_count(run.summary, "added")
        figures = {"articles": articles, "seconds": run.seconds,
                   "reported_seconds": reported_seconds(run.summary),
                   "articles_per_second": round(articles / run.seconds) if articles else None,
                   "peak_rss_mb": run.peak_rss_mb,
                   **cluster_figures(self.args.opensearch_url, env[INDEX_VAR]),
                   "exit_code": run.code, "summary": run.summary}
        marker.write_text(json.dumps(figures, indent=2))
        return index_dir, figures

    def reusable(self, name: str) -> bool:
        """Tell whether --reuse applies and a complete index ``name`` is in --work (or, on
        OpenSearch, on the cluster)."""
        if self.on_cluster:
            return (self.args.reuse and (self.work / f"opensearch-{name}.json").exists()
                    and cluster_has(self.args.opensearch_url, f"bench-{name}"))
        return (self.args.reuse and (self.work / f"{name}.json").exists()
                and (self.work / name).is_dir())

    def reuters_index(self) -> Path:
        """The Reuters-21578 index the latency and concurrency parts search."""
        return self.build_index("reuters", [self.corpora / REUTERS])[0]

    def part_indexing(self) -> dict:
        """Time a full build of Reuters-21578 through `searchapp index`."""
        reuse, self.args.reuse = self.args.reuse, False  # this part measures the build
        try:
            _, figures = self.build_index("reuters", [self.corpora / REUTERS])
        finally:
            self.args.reuse = reuse
        result = self.check("indexing articles/s", figures["articles_per_second"],
                            "wall time of the whole command")
        if self.on_cluster:
            print(f"into the cluster at {self.args.opensearch_url} ({figures['nodes']} nodes); "
                  "peak RSS is the indexing command's, heap the nodes' JVMs' after the build")
            print(table(["articles", "wall s", "reported s", "articles/s", "peak RSS MB",
                         "index MB one copy", "index MB all copies", "heap used / max MB",
                         "target"],
                        [[figures["articles"], figures["seconds"], figures["reported_seconds"],
                          figures["articles_per_second"], figures["peak_rss_mb"],
                          figures["index_mb"], figures["index_mb_all_copies"],
                          f"{figures['heap_used_mb']} / {figures['heap_max_mb']}",
                          verdict_text(result)]]))
            return figures
        print(table(["articles", "wall s", "reported s", "articles/s", "peak RSS MB",
                     "index MB", "target"],
                    [[figures["articles"], figures["seconds"], figures["reported_seconds"],
                      figures["articles_per_second"], figures["peak_rss_mb"],
                      figures["index_mb"], verdict_text(result)]]))
        return figures

    def part_incremental(self) -> dict:
        """Time a no-change re-run over N article files, then adding 100 files."""
        folder = self.work / "incremental"
        shutil.rmtree(folder, ignore_errors=True)
        articles, index_dir = folder / "articles", folder / "index"
        usable = [r for r in self.records if r["headline"] or r["body"]]
        count = min(self.args.files, len(usable) - ADDED_FILES)
        write_article_files(usable[:count], articles, "batch")
        first = checked_index([articles], index_dir, self.work, self.args.index_workers)
        runs = [checked_index([articles], index_dir, self.work, self.args.index_workers)
                for _ in range(NO_CHANGE_RUNS)]
        write_article_files(usable[count:count + ADDED_FILES], articles, "added")
        added = checked_index([articles], index_dir, self.work, self.args.index_workers)
        no_change = statistics.median(r.seconds for r in runs)
        note = "" if count == INCREMENTAL_FILES else f"measured at {count:,} files"
        rerun = self.check("no-change re-run s", no_change, note)
        add = self.check("add 100 articles s", added.seconds, note)
        print(table(["run", "files", "wall s", "reported s", "summary", "target"], [
            ["first build", count, first.seconds, reported_seconds(first.summary),
             first.summary, None],
            *[[f"no change #{i}", count, r.seconds, reported_seconds(r.summary), r.summary,
               verdict_text(rerun) if i == 1 else None] for i, r in enumerate(runs, 1)],
            ["100 added", count + ADDED_FILES, added.seconds, reported_seconds(added.summary),
             added.summary, verdict_text(add)],
        ]))
        return {"files": count, "first_build": asdict(first),
                "no_change_runs": [asdict(r) for r in runs],
                "no_change_median_seconds": no_change, "added": asdict(added)}

    def part_latency(self) -> dict:
        """Time the query set in-process, over HTTP and in SQLite FTS5 on Reuters-21578."""
        index_dir, queries = self.reuters_index(), self.queries
        env = self.engine_env("reuters")
        in_process = time_archive(index_dir, queries, env)
        fts_path = self.work / "reuters-fts.sqlite"
        if self._fts_seconds is None:  # one table for both engines
            self._fts_seconds = build_fts(self.records, fts_path)
        fts_seconds = self._fts_seconds
        with Server(index_dir, self.work, engine_env=env) as server:
            over_http, fts = time_http_and_fts(server.port, fts_path, queries)
        engines = {"in-process": in_process, "HTTP": over_http, "FTS5": fts}
        figures = {name: summarize(t.samples) for name, t in engines.items()}
        http_p95 = figures["HTTP"]["all"]["p95"]
        fts_p50 = figures["FTS5"]["all"]["p50"]
        ratio = round(figures["HTTP"]["all"]["p50"] / fts_p50, 2) if fts_p50 else None
        p95 = self.check("HTTP p95 ms", http_p95, "snippets included, Reuters-21578")
        versus = self.check("HTTP p50 / FTS5 p50", ratio, "FTS5 in-process")
        print(f"{len(queries)} queries ({len({q.kind for q in queries})} kinds); in process one "
              f"warm-up pass then one measured; HTTP and FTS5 in turns, query by query, one "
              f"warm-up round then {LATENCY_ROUNDS} measured; FTS5 table built in "
              f"{fts_seconds} s")
        kinds = list(figures["HTTP"])
        print(table(["kind", "n", "in-process p50/p95/p99", "HTTP p50/p95/p99",
                     "FTS5 p50/p95/p99"],
                    [[k, figures["HTTP"][k]["n"] if k in figures["HTTP"] else None,
                      *[_triple(figures[e].get(k)) for e in engines]] for k in kinds]))
        print(f"HTTP p95 {http_p95} ms: {verdict_text(p95)}; HTTP p50 is {ratio}x FTS5's: "
              f"{verdict_text(versus)}")
        same = sum(1 for a, b in zip(in_process.totals, fts.totals, strict=True) if a == b)
        print(f"searchapp and FTS5 find the same number of stories for {same} of "
              f"{len(queries)} queries (searchapp drops question words such as 'more')")
        for name, timings in engines.items():
            for error in timings.errors[:5]:
                print(f"  {name} error: {error}")
        timed = [(ms, q) for q, ms in zip(queries, in_process.ms, strict=True) if ms is not None]
        for ms, query in sorted(timed, key=lambda pair: -pair[0])[:10]:
            print(f"  slow in-process: {ms:7.1f} ms  [{query.kind}] {search_path(query)}")
        return {"queries": len(queries), "fts_build_seconds": fts_seconds, "figures": figures,
                "errors": {name: t.errors for name, t in engines.items()},
                "per_query": [{"kind": q.kind, "path": search_path(q),
                               "fts5": fts_query(q)[0],
                               "totals": {n: t.totals[i] for n, t in engines.items()}}
                              for i, q in enumerate(queries)]}

    def part_growth(self) -> dict:
        """Build indexes of growing size, time the query set at each, plot, check memory."""
        headlines = self.corpora / HEADLINES
        whole = self.args.limit_docs or HEADLINES_RECORDS
        bodies = [r["body"] or "" for r in self.records]
        rows, results = [], []
        for size in self.args.sizes:
            as_is = size >= whole
            if size > whole:
                raise ValueError(f"size {size:,} is more than the {whole:,} headlines")
            whole_file = (as_is and not self.args.limit_docs) or self.reusable(f"growth-{size}")
            corpus = None if whole_file else self.work / f"growth-{size}.jsonl"
            span = write_growth_corpus(headlines, bodies, size, as_is, corpus)
            index_dir, build = self.build_index(f"growth-{size}", [corpus or headlines])
            if corpus:
                corpus.unlink()  # up to 100 MB; the index keeps the stories it needs
            env = self.engine_env(f"growth-{size}")
            fitted = [fit_dates(q, span) for q in self.queries]
            timings = time_archive(index_dir, fitted, env)
            overall = summarize(timings.samples)["all"]
            with Server(index_dir, self.work, engine_env=env) as server:
                over_http = time_http(server.port, fitted)
            http_all = summarize(over_http.samples)["all"]
            if self.on_cluster:
                build = {**build, **cluster_figures(self.args.opensearch_url,
                                                    env[INDEX_VAR])}
            kind = ("headlines only" if as_is else
                    f"headline + Reuters-21578 body (i mod {len(bodies):,})")
            verdicts = []
            if size == HEADLINES_RECORDS or (self.args.limit_docs and as_is):
                note = "" if size == HEADLINES_RECORDS else f"measured at {size:,}"
                for name, value in (("1M in-process p95 ms", overall["p95"]),
                                    ("1M HTTP p95 ms", http_all["p95"])):
                    result = self.check(name, value, note)
                    if result["verdict"] != "n/a":
                        verdicts.append(f"{name.split()[1]} {verdict_text(result)}")
            heap = (f"{build['heap_used_mb']} / {build['heap_max_mb']}" if self.on_cluster
                    else None)
            rows.append([size, kind, build["seconds"], build["articles_per_second"],
                         build["index_mb"], build.get("index_mb_all_copies"), heap,
                         overall["p50"], overall["p95"], http_all["p50"], http_all["p95"],
                         len(timings.errors) + len(over_http.errors),
                         "; ".join(verdicts) or None])
            results.append({"size": size, "corpus": kind, "dates": [str(d) for d in span],
                            "build": build, "latency": summarize(timings.samples),
                            "http": summarize(over_http.samples),
                            "errors": (timings.errors + over_http.errors)[:20],
                            "index_dir": str(index_dir)})
        print("Sizes below the headline count pair headline i of reuters-headlines (its id and "
              "date) with Reuters-21578 body i mod 21,578; the full count is the headlines "
              "alone. Date filters are moved into each corpus's own date range.")
        if self.on_cluster:
            print("Index MB: one copy, then all copies (replicas included); heap: the nodes' "
                  "JVMs after the build, used / max.")
        print(table(["articles", "corpus", "build s", "articles/s", "index MB",
                     "index MB all copies", "heap MB", "in-process p50 ms",
                     "in-process p95 ms", "HTTP p50 ms", "HTTP p95 ms", "errors", "target"],
                    rows))
        plot_path = self.args.plot
        if self.on_cluster:
            plot_path = plot_path.with_name(f"{plot_path.stem}-opensearch{plot_path.suffix}")
        plot = plot_growth(results, plot_path)
        memory = self.service_memory(results)
        return {"sizes": results, "plot": plot, "service_memory": memory}

    def service_memory(self, results: list[dict]) -> dict | None:
        """Serve the --memory-size index, run the query set once over HTTP, read its RSS."""
        chosen = [r for r in results if r["size"] == self.args.memory_size]
        if not chosen:
            print(f"service memory: no {self.args.memory_size:,}-article index in this run")
            return None
        result = chosen[0]
        queries = [fit_dates(q, tuple(date.fromisoformat(d) for d in result["dates"]))
                   for q in self.queries]
        env = self.engine_env(f"growth-{result['size']}")
        with Server(Path(result["index_dir"]), self.work, engine_env=env) as server:
            sampler = RssSampler(server.process.pid)
            sampler.start()
            timings = time_http(server.port, queries, warm_up=False)
            peak = sampler.stop()
            settled = round(tree_rss_mb(server.process.pid), 1)
        note = "" if result["size"] == 100_000 else f"measured at {result['size']:,}"
        verdict = self.check("service RSS at 100k MB", peak, note)
        print(f"service memory at {result['size']:,} articles after the query set over HTTP: "
              f"peak {peak} MB, {settled} MB at the end: {verdict_text(verdict)}")
        return {"size": result["size"], "peak_rss_mb": peak, "end_rss_mb": settled,
                "http": summarize(timings.samples), "errors": timings.errors[:20]}

    def part_concurrency(self) -> dict:
        """Run --clients threads for --seconds against `serve --workers W`, for each W."""
        index_dir, rows, results = self.reuters_index(), [], []
        paths = [search_path(q) for q in self.queries]
        for workers in self.args.server_workers:
            try:
                server = Server(index_dir, self.work, workers if workers != 1 else None)
            except RuntimeError as error:
                rejected = "No such option '--workers'" in str(error)
                reason = "serve rejects --workers" if rejected else str(error)
                print(f"workers {workers}: skipped, {reason}")
                results.append({"workers": workers, "error": reason})
                continue
            with server:
                figures = run_clients(server, paths, self.args.clients, self.args.seconds)
            figures["workers"] = workers
            results.append(figures)
            errors = self.check("concurrency errors", figures["errors"],
                                f"{workers} worker process(es)")
            rows.append([workers, self.args.clients, figures["seconds"], figures["requests"],
                         figures["rps"], figures["p50"], figures["p99"], figures["errors"],
                         figures["peak_rss_mb"], verdict_text(errors)])
        rates = [r["rps"] for r in results if "rps" in r]
        growing = (all(b > a for a, b in zip(rates, rates[1:], strict=False))
                   if len(rates) > 1 else None)
        print(table(["workers", "clients", "s", "requests", "req/s", "p50 ms", "p99 ms",
                     "errors", "peak RSS MB", "target"], rows))
        print(f"requests/s growing with worker processes: "
              f"{'n/a' if growing is None else 'pass' if growing else 'miss'} ({rates}); "
              f"the clients run on the same {os.cpu_count()} cores as the server")
        self.checks.append({"target": "req/s grows with workers", "value": rates,
                            "limit": "increasing", "note": "",
                            "verdict": "n/a" if growing is None else
                            "pass" if growing else "miss"})
        for r in results:
            for sample in r.get("error_samples", [])[:5]:
                print(f"  workers {r['workers']} error: {sample}")
        return {"runs": results, "rps_growing": growing}


def _triple(f: dict | None) -> str | None:
    return f"{f['p50']} / {f['p95']} / {f['p99']}" if f else None


def run_clients(server: Server, paths: list[str], clients: int, seconds: float) -> dict:
    """Loop ``clients`` threads over ``paths`` for ``seconds``; return rps, latency, errors."""
    until = time.monotonic() + seconds
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list[list[str]] = [[] for _ in range(clients)]

    def client(number: int) -> None:
        connection, position = HttpClient(server.port), number * len(paths) // clients
        while time.monotonic() < until:
            path = paths[position % len(paths)]
            position += 1
            started = time.perf_counter()
            try:
                status, _ = connection.get(path)
            except (OSError, http.client.HTTPException) as error:
                errors[number].append(f"{type(error).__name__}: {error} on {path}")
                continue
            if status == 200:
                latencies[number].append((time.perf_counter() - started) * 1000)
            else:
                errors[number].append(f"{status} {path}")
        connection.close()

    sampler = RssSampler(server.process.pid)
    sampler.start()
    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    peak = sampler.stop()
    done = [ms for per_client in latencies for ms in per_client]
    failed = [e for per_client in errors for e in per_client]
    return {"clients": clients, "seconds": round(elapsed, 1),
            "requests": len(done) + len(failed), "errors": len(failed),
            "rps": round((len(done) + len(failed)) / elapsed, 1),
            "p50": round(percentile(done, 0.50), 1), "p95": round(percentile(done, 0.95), 1),
            "p99": round(percentile(done, 0.99), 1), "peak_rss_mb": peak,
            "error_samples": failed[:10]}


def plot_growth(results: list[dict], target: Path) -> str | None:
    """Draw latency and index size against articles (log x) into a PNG, if matplotlib is there."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("plot skipped: matplotlib is not installed (pip install -e '.[bench]')")
        return None
    from matplotlib.ticker import NullFormatter

    sizes = [r["size"] for r in results]
    figure, (latency, size) = plt.subplots(1, 2, figsize=(10, 4))
    for key, style in (("p50", "o-"), ("p95", "s--")):
        latency.plot(sizes, [r["latency"]["all"][key] for r in results], style, label=key)
    latency.set(ylabel="ms, in-process, with snippets", title="Query latency")
    latency.legend()
    size.plot(sizes, [r["build"]["index_mb"] for r in results], "o-")
    size.set(ylabel="MB", title="Index size on disk")
    for axes in (latency, size):
        axes.set(xscale="log", xlabel="articles (log scale)")
        # The largest set is another corpus (no bodies): its tick says so.
        axes.set_xticks(sizes, [f"{r['size']:,}" + ("\nheadlines only" if r["corpus"] ==
                                                     "headlines only" else "") for r in results])
        axes.xaxis.set_minor_formatter(NullFormatter())
        axes.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    target.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(target, dpi=100)
    plt.close(figure)
    print(f"plot written to {target}")
    return str(target)


# -------------------------------------------------------------------------------- main

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Read the command line."""
    def numbers(text: str) -> list[int]:
        return [int(n.replace("_", "")) for n in text.split(",") if n.strip()]

    parser = argparse.ArgumentParser(prog="python -m bench.speed", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA,
                        help=f"folder of the corpora [default: {DEFAULT_CORPORA}]")
    parser.add_argument("--work", type=Path, default=None,
                        help="folder for indexes and temporary files [default: a new temp dir]")
    parser.add_argument("--reuse", action="store_true",
                        help="reuse indexes an earlier run left in --work")
    parser.add_argument("--parts", default=",".join(PARTS), help="comma-separated parts")
    parser.add_argument("--sizes", type=numbers, default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--limit-docs", type=int, default=None,
                        help="use only the first N headlines (the largest size is then N)")
    parser.add_argument("--files", type=int, default=INCREMENTAL_FILES,
                        help="article files for the incremental part")
    parser.add_argument("--memory-size", type=int, default=100_000,
                        help="growth size whose served memory is checked")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--server-workers", type=numbers, default=[1, 2])
    parser.add_argument("--index-workers", type=int, default=None,
                        help="pass --workers N to `searchapp index` [default: not passed]")
    parser.add_argument("--engine", choices=[*ENGINES, "both"], default="whoosh",
                        help="the engine to measure, or both side by side [default: whoosh]")
    parser.add_argument("--opensearch-url", default=os.environ.get(URL_VAR),
                        help="the cluster for --engine opensearch/both, one URL or several "
                             f"comma-separated [default: ${URL_VAR}]")
    parser.add_argument("--json", type=Path, default=REPO_ROOT / "bench/results/speed.json")
    parser.add_argument("--plot", type=Path, default=REPO_ROOT / "docs/growth.png")
    args = parser.parse_args(argv)
    args.parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    if unknown := set(args.parts) - set(PARTS):
        parser.error(f"unknown parts: {', '.join(sorted(unknown))}")
    args.engines = list(ENGINES) if args.engine == "both" else [args.engine]
    if "opensearch" in args.engines and not args.opensearch_url:
        parser.error(f"--engine {args.engine} needs --opensearch-url (or {URL_VAR})")
    return args


def side_by_side(parts: dict) -> str | None:
    """Lay the headline figures of both engines out in one table, when both ran."""
    def figures(part: str, engine: str) -> dict | None:
        key = part if engine == "whoosh" else f"{part}/{engine}"
        entry = parts.get(key, {})
        return entry.get("figures") if entry.get("status") == "ok" else None

    rows = []
    indexing = {e: figures("indexing", e) for e in ENGINES}
    if all(indexing.values()):
        rows.append(["Reuters-21578 end to end, articles/s",
                     *[indexing[e]["articles_per_second"] for e in ENGINES]])
        rows.append(["Reuters-21578 index MB (one copy)",
                     *[indexing[e]["index_mb"] for e in ENGINES]])
    latency = {e: figures("latency", e) for e in ENGINES}
    if all(latency.values()):
        for where in ("in-process", "HTTP"):
            rows.append([f"Reuters-21578 {where} p50 / p95 ms",
                         *[f"{latency[e]['figures'][where]['all']['p50']} / "
                           f"{latency[e]['figures'][where]['all']['p95']}" for e in ENGINES]])
    growth = {e: figures("growth", e) for e in ENGINES}
    if all(growth.values()):
        sizes = {e: {r["size"]: r for r in growth[e]["sizes"]} for e in ENGINES}
        for size in sorted(set(sizes["whoosh"]) & set(sizes["opensearch"])):
            pair = [sizes[e][size] for e in ENGINES]
            rows.append([f"{size:,}: build s (articles/s)",
                         *[f"{r['build']['seconds']} ({r['build']['articles_per_second']})"
                           for r in pair]])
            rows.append([f"{size:,}: index MB (one copy)", *[r["build"]["index_mb"] for r in pair]])
            rows.append([f"{size:,}: HTTP p50 / p95 ms",
                         *[f"{r['http']['all']['p50']} / {r['http']['all']['p95']}"
                           for r in pair]])
    return table(["figure", *ENGINES], rows) if rows else None


def main(argv: list[str] | None = None) -> int:
    """Run the chosen parts, print their tables and the targets, and write the JSON."""
    args = parse_args(argv)
    args.work = args.work or Path(tempfile.mkdtemp(prefix="speed-"))
    args.work.mkdir(parents=True, exist_ok=True)
    bench = Bench(args)
    machine = machine_info()
    print(f"speed benchmark: {machine['cpu']} x {machine['cpus']}, {machine['ram_gb']} GB, "
          f"Python {machine['python']}, commit {machine['git_commit']}; work in {args.work}")
    if "opensearch" in args.engines:
        print(f"OpenSearch: {args.opensearch_url}, indexes bench-<name>; other programs on this "
              "machine share its cores with the cluster and this benchmark")
    parts = {}
    for name in args.parts:
        for engine in args.engines:
            if engine == "opensearch" and name not in OPENSEARCH_PARTS:
                continue
            key = name if engine == "whoosh" else f"{name}/{engine}"
            print(f"\n## {name}" + (f" on {engine}\n" if len(args.engines) > 1 or
                                    engine != "whoosh" else "\n"))
            bench.engine = engine
            started = time.perf_counter()
            try:
                figures = getattr(bench, f"part_{name}")()
                parts[key] = {"status": "ok", "figures": figures}
            except Exception as error:  # one failing part must not stop the others
                print(f"{name} failed: {type(error).__name__}: {error}")
                parts[key] = {"status": "failed", "error": f"{type(error).__name__}: {error}",
                              "traceback": traceback.format_exc()}
            parts[key]["seconds"] = round(time.perf_counter() - started, 1)
    if both := side_by_side(parts):
        print("\n## Whoosh and OpenSearch side by side\n")
        print(both)
    print("\n## targets\n")
    print(table(["target", "engine", "figure", "limit", "verdict", "note"],
                [[c["target"], c.get("engine", "whoosh"), c["value"], c["limit"], c["verdict"],
                  c["note"]] for c in bench.checks]))
    report = {"machine": machine, "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
              "arguments": {k: str(v) if isinstance(v, Path) else v
                            for k, v in vars(args).items()},
              "reuters_span": [str(d) for d in REUTERS_SPAN],
              "parts": parts, "targets": bench.checks}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"\nfigures written to {args.json}")
    return 1 if any(p["status"] == "failed" for p in parts.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
