"""The ``searchapp`` command: index article files and serve the search."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import click

from searchapp import __version__, config
from searchapp.backends import (
    Archive,
    IndexerError,
    IndexLocked,
    IndexReport,
    IndexUnavailable,
    open_archive,
)
from searchapp.serving import Limits

# Exit codes of `searchapp index` (documented in the README and in --help).
EXIT_OK = 0
EXIT_SKIPPED = 1
EXIT_USAGE = 2
EXIT_NOTHING_INDEXED = 3
EXIT_LOCKED = 4
EXIT_FAILED = 5
EXIT_INTERRUPTED = 130

LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("debug", "info", "warning", "error")
METRICS_DIR_VAR = "PROMETHEUS_MULTIPROC_DIR"

PROGRESS_WIDTH = 30
PROGRESS_INTERVAL = 0.1
# Rate and time left are shown once this much time has passed: before, they are noise.
PROGRESS_MIN_SECONDS = 1.0


index_dir_option = click.option(
    "--index-dir", type=click.Path(path_type=Path), default=None,
    help=f"Index folder [default: ${config.INDEX_DIR_VAR} or {config.DEFAULT_INDEX_DIR}/].",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="searchapp")
def main() -> None:
    """searchapp: full-text search for a newspaper's archive."""


@main.command("index")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@index_dir_option
@click.option("--rebuild", is_flag=True, help="Build the index anew from PATHS alone.")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Processes that read and index a large batch of files at once "
                   "[default: one per core].")
def index_command(paths: tuple[Path, ...], index_dir: Path | None, rebuild: bool,
                  workers: int | None) -> None:
    """Index article files (.txt, .html, .jsonl, .jsonl.gz) found under PATHS.

    PATHS are folders (walked recursively) or single files; the default is
    $SEARCHAPP_SOURCES or seeds/. Only new and changed files are read; articles
    whose files are gone are removed. Example:

        searchapp index seeds/ --index-dir index/

    Exit codes: 0 all files indexed (or nothing to do); 1 some files were skipped,
    the rest were indexed; 2 bad arguments or a missing path; 3 nothing could be
    indexed; 4 another indexer holds the index; 5 the index could not be written;
    130 interrupted (the index keeps its last commit).
    """
    sources = list(paths) or config.source_paths()
    archive = _archive(index_dir)
    _raise_on_sigterm()
    try:
        report = archive.update(sources, rebuild=rebuild, progress=_progress_bar(),
                                workers=workers or os.cpu_count() or 1)
    except KeyboardInterrupt:
        _clear_progress()
        _fail(f"interrupted: {archive.interrupted_note}", EXIT_INTERRUPTED)
    except IndexLocked as error:
        _fail(str(error), EXIT_LOCKED)
    except IndexerError as error:
        code = EXIT_USAGE if str(error).startswith("no such file") else EXIT_FAILED
        _fail(str(error), code)
    _clear_progress()
    for skip in report.skipped:
        click.echo(f"skipped {skip.path}: {skip.reason}", err=True)
    click.echo(_summary(report))
    sys.exit(_exit_code(report))


def _archive(index_dir: Path | None) -> Archive:
    """Open the archive the settings name: $SEARCHAPP_OPENSEARCH_URL's cluster, else the
    index folder."""
    try:
        return open_archive(index_dir or config.index_dir(), config.opensearch_url(),
                            config.opensearch_index())
    except config.ConfigError as error:
        _fail(str(error), EXIT_USAGE)


def _summary(report: IndexReport) -> str:
    counts = (
        f"{report.added:,} added, {report.updated:,} updated, {report.removed:,} removed, "
        f"{report.unchanged:,} unchanged files, {len(report.skipped):,} skipped"
    )
    if report.written:
        return f"Indexed in {report.seconds:.2f} s: {counts}."
    return f"No changes ({report.seconds:.2f} s): {counts}; the index was not written."


def _exit_code(report: IndexReport) -> int:
    if report.skipped and not (report.indexed or report.unchanged):
        return EXIT_NOTHING_INDEXED
    if report.skipped:
        return EXIT_SKIPPED
    if not (report.indexed or report.unchanged or report.removed):
        click.echo("No article files found.", err=True)
        return EXIT_NOTHING_INDEXED
    return EXIT_OK


def _fail(message: str, code: int) -> None:
    click.echo(f"searchapp: {message}", err=True)
    sys.exit(code)


def _raise_on_sigterm() -> None:
    """Treat SIGTERM like Ctrl-C, so the writer is cancelled and its lock released."""
    def handler(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def _progress_bar():
    """Return a progress callback that draws a bar on a terminal, or None off one."""
    if not sys.stderr.isatty():
        return None
    started = time.monotonic()
    last = [0.0]

    def draw(done: int, total: int, articles: int) -> None:
        now = time.monotonic()
        if now - last[0] < PROGRESS_INTERVAL and done < total:
            return
        last[0] = now
        sys.stderr.write("\r" + progress_text(done, total, articles, now - started) + "\x1b[K")
        sys.stderr.flush()

    return draw


def progress_text(done: int, total: int, articles: int, seconds: float) -> str:
    """Return the progress line: a bar of the bytes read, articles, their rate and time left.

        indexing [#########---------------------]  31%  6,500 articles  812/s  about 18 s left
    """
    fraction = min(done / total, 1.0) if total else 1.0
    filled = int(fraction * PROGRESS_WIDTH)
    bar = "#" * filled + "-" * (PROGRESS_WIDTH - filled)
    # Floored, so the bar says 100% only when everything is done.
    text = f"indexing [{bar}] {int(fraction * 100):3d}%  {articles:,} articles"
    if seconds >= PROGRESS_MIN_SECONDS and articles:
        text += f"  {articles / seconds:,.0f}/s"
    if seconds >= PROGRESS_MIN_SECONDS and 0 < fraction < 1:
        text += f"  about {_duration(seconds * (1 - fraction) / fraction)} left"
    return text


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02} min"


def _clear_progress() -> None:
    if sys.stderr.isatty():
        sys.stderr.write("\r\x1b[K")
        sys.stderr.flush()


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 256),
              help="Requests served at once by each worker.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Server processes; one per core serves the most requests per second.")
@index_dir_option
@click.option("--connection-limit", default=Limits.connections, show_default=True,
              type=click.IntRange(1, 100_000),
              help="Open connections per worker; more wait in the listen backlog.")
@click.option("--timeout", default=Limits.timeout, show_default=True,
              type=click.IntRange(1, 3600),
              help="Seconds a client has to send a whole request, and that an idle "
                   "connection is kept open.")
@click.option("--max-body-size", default=Limits.max_body, show_default=True,
              type=click.IntRange(0), help="Bytes of request body; more is refused with 413.")
@click.option("--max-header-size", default=Limits.max_header, show_default=True,
              type=click.IntRange(1024),
              help="Bytes of request line and headers; more is refused with 431.")
@click.option("--backlog", default=Limits.backlog, show_default=True,
              type=click.IntRange(1, 65535),
              help="Connections the kernel queues before the server accepts them.")
@click.option("--shutdown-timeout", default=Limits.shutdown_timeout, show_default=True,
              type=click.FloatRange(0, 3600),
              help="Seconds requests in flight get to finish on SIGTERM or Ctrl-C.")
@click.option("--log-format", type=click.Choice(LOG_FORMATS), default="text",
              show_default=True, help="Log lines as text, or as JSON objects for log shippers.")
@click.option("--log-level", type=click.Choice(LOG_LEVELS, case_sensitive=False),
              default="info", show_default=True,
              help="The least important log lines written (access lines are info).")
def serve_command(host: str, port: int, threads: int, workers: int, index_dir: Path | None,
                  connection_limit: int, timeout: int, max_body_size: int,
                  max_header_size: int, backlog: int, shutdown_timeout: float,
                  log_format: str, log_level: str) -> None:
    """Serve the search page and the JSON API with a production WSGI server (waitress).

    When there is no index yet, it is first built from $SEARCHAPP_SOURCES or seeds/.
    Every request is logged to stderr (one line: method, path, status, time); /metrics
    has Prometheus metrics. Set $SEARCHAPP_BASE_URL to the address readers use. Example:

        searchapp serve --port 8000 --workers 2 --log-format json

    SIGTERM or Ctrl-C stops accepting connections, lets the requests in flight finish
    (for --shutdown-timeout seconds at most) and exits 0. Exit codes: 0 stopped; 2 bad
    arguments; 5 the address could not be listened on, the app could not start, or the
    workers kept failing (5 times within 30 s).
    """
    from searchapp.logs import configure_logging

    configure_logging(log_format, log_level.upper())
    target = index_dir or config.index_dir()
    archive = _archive(target)
    if not archive.exists():
        sources = config.source_paths()
        click.echo(f"No index in {archive.location} yet: indexing "
                   f"{', '.join(map(str, sources))} first.")
        try:
            report = archive.update(sources, progress=_progress_bar())
        except IndexerError as error:
            _fail(str(error), EXIT_FAILED)
        _clear_progress()
        for skip in report.skipped:
            click.echo(f"skipped {skip.path}: {skip.reason}", err=True)
        click.echo(_summary(report))
    limits = Limits(connections=connection_limit, timeout=timeout, max_body=max_body_size,
                    max_header=max_header_size, backlog=backlog,
                    shutdown_timeout=shutdown_timeout)
    with _metrics_shared_by(workers):
        _serve(host, port, threads, workers, target, limits)
    click.echo("Stopped.")


def _serve(host: str, port: int, threads: int, workers: int, target: Path,
           limits: Limits) -> None:
    # Imported only now: prometheus_client picks its multi-process mode when first imported.
    from searchapp.serving import WorkersFailing, serve
    from searchapp.web import SECURITY_HEADERS, create_app

    def ready() -> None:
        processes = f" in {workers} processes" if workers > 1 else ""
        click.echo(f"Serving on http://{host}:{port}/{processes} (press Ctrl-C to stop)")

    try:
        serve(lambda: create_app({"INDEX_DIR": str(target)}), host, port, threads, workers,
              ready, limits, error_headers=SECURITY_HEADERS.items())
    except OSError as error:
        _fail(f"cannot listen on {host}:{port}: {error.strerror or error}. "
              "Is another server using it? Choose another with --port.", EXIT_FAILED)
    except config.ConfigError as error:
        _fail(f"cannot start: {error}", EXIT_FAILED)
    except WorkersFailing as error:
        _fail(str(error), EXIT_FAILED)
    except KeyboardInterrupt:  # Ctrl-C twice: stopped without waiting
        pass


@contextmanager
def _metrics_shared_by(workers: int):
    """Give the workers a fresh folder to add up their metrics in, unless one is set."""
    if workers == 1 or os.environ.get(METRICS_DIR_VAR):
        yield
        return
    folder = tempfile.mkdtemp(prefix="searchapp-metrics-")
    os.environ[METRICS_DIR_VAR] = folder
    try:
        yield
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@main.command("search")
@click.argument("query")
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 50))
@click.option("--json", "as_json", is_flag=True,
              help="Print the API's JSON instead (what GET /api/search answers).")
@index_dir_option
def search_command(query: str, limit: int, as_json: bool, index_dir: Path | None) -> None:
    """Search the index from the terminal, with matches highlighted. Example:

        searchapp search '"ceasefire" Armenia' --limit 5

    Exits 0 when something was found, 1 when nothing was (as grep does), 2 for a query
    that cannot be run or a missing index.
    """
    import html
    import json

    from searchapp.api import results_json
    from searchapp.querylang import QueryError
    from searchapp.web import create_app

    app = create_app({"INDEX_DIR": str(index_dir or config.index_dir())})
    try:
        results = app.extensions["archive"].search(query, per_page=limit)
    except (QueryError, IndexUnavailable) as error:
        _fail(str(error), EXIT_USAGE)
    found = EXIT_OK if results.total else EXIT_SKIPPED
    if as_json:
        # The API's own rendering, article addresses and all.
        with app.test_request_context():
            click.echo(json.dumps(results_json(results), ensure_ascii=False, indent=2))
        sys.exit(found)
    color = sys.stdout.isatty()
    plural = "" if results.total == 1 else "s"
    click.echo(f"{results.total:,} result{plural} ({results.took_ms:.0f} ms)")
    if results.corrected:
        click.echo(f"Showing results for: {results.corrected} (nothing matched {query!r}; "
                   "search exactly what you typed on the web page with exact=1)")
    if results.relaxed and results.total and results.required_words > 1:
        click.echo(f"No article has all the words; showing those with {results.required_words} "
                   f"of the {results.query_words}.")
    elif results.relaxed and results.total:
        click.echo("No article has all the words; showing those with any of them, "
                   "the best matches first.")
    if not results.complete:
        click.echo("The search took too long and was stopped: these are the best found so far.")
    if results.suggestion:
        click.echo(f"Did you mean: {results.suggestion}")
    for number, hit in enumerate(results.hits, start=1):
        snippet = hit.snippet.replace("<mark>", "\x1b[1;33m" if color else "*")
        snippet = html.unescape(snippet.replace("</mark>", "\x1b[0m" if color else "*"))
        date_text = hit.date.isoformat() if hit.date else "undated"
        some = "  (some of the words)" if hit.partial else ""
        click.echo(f"\n{number}. {click.style(hit.headline, bold=color)}  [{date_text}]  "
                   f"{hit.id}{some}")
        click.echo("   " + " ".join(snippet.split()))
    sys.exit(found)


@main.command("stats")
@click.option("--largest", default=5, show_default=True, type=click.IntRange(0, 100),
              help="How many of the longest articles to list.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead.")
@index_dir_option
def stats_command(largest: int, as_json: bool, index_dir: Path | None) -> None:
    """Show what the index holds: articles, last commit, dates, the longest articles.

        searchapp stats --largest 3
    """
    import json

    archive = _archive(index_dir)
    try:
        stats = archive.stats(largest=largest, date_range=True)
    except IndexUnavailable as error:
        _fail(str(error), EXIT_FAILED)
    if stats is None:
        _fail(f"there is no index in {archive.location}; build it with `searchapp index`.",
              EXIT_USAGE)

    def day(value):
        return value.date().isoformat() if value else None

    info = {
        "index": archive.location, "engine": archive.engine, "version": __version__,
        "articles": stats.articles,
        "last_commit": stats.last_commit.isoformat() if stats.last_commit else None,
        "first_date": day(stats.first_date), "last_date": day(stats.last_date),
        "largest": [{"id": i, "headline": h, "words": w} for i, h, w in stats.largest],
    }
    if as_json:
        click.echo(json.dumps(info, ensure_ascii=False, indent=2))
        return
    click.echo(f"index        {info['index']} ({archive.engine}, searchapp {__version__})")
    click.echo(f"articles     {stats.articles:,}")
    click.echo(f"last commit  {info['last_commit']}")
    click.echo(f"dates        {info['first_date'] or '-'} to {info['last_date'] or '-'}")
    for number, (article_id, headline, words) in enumerate(stats.largest, start=1):
        click.echo(f"longest {number}    {words:,} words  {article_id}  {headline}")


@main.command("report")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@index_dir_option
def report_command(limit: int, index_dir: Path | None) -> None:
    """List the searches readers made that found nothing, most frequent first.

        searchapp report --limit 10
    """
    misses = _archive(index_dir).top_misses(limit)
    if not misses:
        click.echo("No searches without results have been recorded.")
        return
    click.echo(f"{'searches':>8}  query")
    for query, count in misses:
        click.echo(f"{count:>8}  {query}")
