"""Build and update the search index from article files.

The index itself records which file each article came from and that file's size and
modification time, so an update reads only new and changed files, and a run that is
killed at any point leaves the last commit as it was. Whoosh stays behind this module
and ``searching``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from whoosh import index as whoosh_index
from whoosh.analysis import CharsetFilter, StemmingAnalyzer
from whoosh.codec import whoosh3
from whoosh.fields import DATETIME, ID, STORED, TEXT, Schema
from whoosh.filedb.filestore import FileStorage
from whoosh.lang.porter2 import stem
from whoosh.support.charset import accent_map
from whoosh.writing import CLEAR

from searchapp.articles import Article, Skip, SourceFile, find_files, read_articles

INDEX_NAME = "MAIN"
# Memory the writer may use before it spills postings to disk.
WRITER_LIMIT_MB = 256
# The separator between a file's path and its signature in the `source_key` field.
KEY_SEPARATOR = "\x00"

# English stemming (Porter2, the Snowball English stemmer: better ranking than Porter's
# on all five test collections in BENCHMARKS.md), stop words dropped, and accents folded
# so "Elysee" finds "Élysée". Searches analyse words with the analyzer an index was
# built with, so an index built before a change keeps working until it is rebuilt.
ANALYZER = StemmingAnalyzer(stemfn=stem) | CharsetFilter(accent_map)


def _cached_column_reader(self, fieldname, column):
    """Remember a segment's missing columns as well as its present ones.

    Whoosh 2.7.4 caches only the columns it finds, so writing postings for a field with
    no length column (every ID field) costs an os.stat per posting: about 15% of the
    time to index Reuters-21578. Segments never change once written, so a column that
    is missing stays missing.
    """
    if fieldname not in self._readers:
        found = self.has_column(fieldname)
        self._readers[fieldname] = self.column_reader(fieldname, column) if found else None
    return self._readers[fieldname]


whoosh3.W3PerDocReader._cached_reader = _cached_column_reader


def make_schema() -> Schema:
    """Return the index schema: searchable text fields, a sortable date, and bookkeeping."""
    return Schema(
        id=ID(stored=True, unique=True),
        headline=TEXT(stored=True, analyzer=ANALYZER),
        body=TEXT(stored=True, analyzer=ANALYZER, spelling=True),
        caption=TEXT(stored=True, analyzer=ANALYZER),
        author=TEXT(stored=True, analyzer=ANALYZER),
        date=DATETIME(stored=True, sortable=True),
        url=STORED(),
        # The file an article came from, to delete its articles when it changes or goes.
        source=ID(stored=True),
        # "path NUL size:mtime": the index's own record of what it was built from.
        source_key=ID(),
    )


class IndexerError(Exception):
    """An indexing run could not be done; the message says why and what to do."""


class IndexLocked(IndexerError):
    """Another indexer holds the index's write lock."""


@dataclass
class IndexReport:
    """What an indexing run did."""

    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    skipped: list[Skip] = field(default_factory=list)
    seconds: float = 0.0
    written: bool = False

    @property
    def indexed(self) -> int:
        return self.added + self.updated


# Called as progress(bytes done, bytes in all, articles read so far).
Progress = Callable[[int, int, int], None]
PROGRESS_EVERY = 500


def open_index(index_dir: Path):
    """Open the index in ``index_dir``, or return None when there is none yet."""
    if not whoosh_index.exists_in(str(index_dir), indexname=INDEX_NAME):
        return None
    return whoosh_index.open_dir(str(index_dir), indexname=INDEX_NAME)


def update_index(
    paths: Iterable[Path],
    index_dir: Path,
    rebuild: bool = False,
    progress: Progress | None = None,
) -> IndexReport:
    """Index the article files under ``paths`` into ``index_dir``, incrementally.

    New and changed files are (re)read, articles whose files are gone from these paths
    are removed, and unchanged files are not read at all. With ``rebuild`` the index is
    replaced by one built from ``paths`` alone, in a single commit, so a reader sees
    either the old index or the new one, never a half-built one.

    :raises IndexLocked: when another indexer is running.
    :raises IndexerError: for missing paths and an index folder that cannot be written.
    """
    started = time.perf_counter()
    roots = [Path(os.path.abspath(p)) for p in paths]
    for root in roots:
        if not root.exists():
            raise IndexerError(f"no such file or folder: {root}")
    report = IndexReport()
    found: list[SourceFile] = []
    for root in roots:
        for item in find_files(root):
            if isinstance(item, Skip):
                report.skipped.append(item)
            else:
                found.append(item)

    lock = _lock(index_dir)
    try:
        ix = _open_or_create(index_dir)
        indexed = {} if rebuild else _indexed_sources(ix)
        changed = [f for f in found if indexed.get(f.key) != f.signature]
        seen = {f.key for f in found}
        gone = {path for path in indexed if path not in seen and _is_under(path, roots)}
        report.unchanged = len(found) - len(changed)
        if changed or gone or rebuild:
            _write_changes(ix, changed, gone, set(indexed), rebuild, report, progress)
    finally:
        lock.release()
    report.seconds = time.perf_counter() - started
    return report


def _write_changes(ix, changed, gone, indexed, rebuild, report, progress) -> None:
    """Apply the changes in one writer and commit them, or leave no trace at all."""
    try:
        # The caller holds the write lock for the whole run.
        writer = ix.writer(limitmb=WRITER_LIMIT_MB, _lk=False)
        if rebuild:
            # Start from the current schema too, so a rebuild also upgrades an old index.
            writer.schema = make_schema()
        try:
            _apply_changes(ix, writer, changed, gone, indexed, rebuild, report, progress)
            if not (report.indexed or report.removed or rebuild):
                _discard(ix, writer)
                return
            writer.commit(mergetype=CLEAR if rebuild else None)
            report.written = True
        except BaseException:
            _discard(ix, writer)
            raise
    except OSError as error:
        raise IndexerError(f"could not write the index in {ix.storage.folder}: {error}") from error


def _discard(ix, writer) -> None:
    """Cancel a writer and delete the files of the segment it had begun."""
    if not writer.is_closed:
        writer.cancel()
    prefix = writer.newsegment.segment_id()
    for name in list(ix.storage):
        if name.startswith(prefix):
            try:
                ix.storage.delete_file(name)
            except OSError:
                pass  # the next commit removes what is left


def _open_or_create(index_dir: Path):
    try:
        ix = open_index(index_dir)
        if ix is None:
            ix = whoosh_index.create_in(str(index_dir), make_schema(), indexname=INDEX_NAME)
        return ix
    except OSError as error:
        raise IndexerError(f"cannot create or open the index in {index_dir}: {error}") from error


def _lock(index_dir: Path):
    """Take the index's write lock for this run, or say who holds it.

    The lock is taken before the index is created, so two first runs cannot both
    create it (creating an index deletes the tables of contents it finds).
    """
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        lock = FileStorage(str(index_dir)).lock(f"{INDEX_NAME}_WRITELOCK")
        if lock.acquire(blocking=False):
            return lock
    except OSError as error:
        raise IndexerError(f"cannot write to the index in {index_dir}: {error}") from error
    raise IndexLocked(
        "the index is locked: another `searchapp index` is updating it. "
        "Wait for it to finish, then run this again."
    )


def _indexed_sources(ix) -> dict[str, str]:
    """Map each source file in the index to the signature it had when indexed."""
    with ix.reader() as reader:
        sources = {}
        for term in reader.lexicon("source_key"):
            path, _, signature = term.decode("utf-8").partition(KEY_SEPARATOR)
            sources[path] = signature
        return sources


def _apply_changes(ix, writer, changed, gone, indexed, rebuild, report, progress) -> None:
    total = sum(f.size for f in changed)
    done = 0
    owners: dict[str, str] = {}
    with ix.searcher() as searcher:
        for path in gone:
            report.removed += len(_ids_from(searcher, path))
            writer.delete_by_term("source", path)
        lookup = None if rebuild else searcher
        count = 0
        for source in changed:
            if progress:
                progress(done, total, count)
            done += source.size
            articles = []
            for item in read_articles(source):
                if not isinstance(item, Skip) and (
                    problem := _id_conflict(item.id, source.key, owners, lookup, gone)
                ):
                    item = Skip(item.origin or source.key, problem)
                if isinstance(item, Skip):
                    report.skipped.append(item)
                    continue
                owners[item.id] = source.key
                articles.append(item)
                if progress and len(articles) % PROGRESS_EVERY == 0:
                    progress(done, total, count + len(articles))
            if not articles:
                continue  # an unusable new version never replaces a usable old one
            before = set()
            if source.key in indexed:
                before = _ids_from(searcher, source.key)
                writer.delete_by_term("source", source.key)
            after = {a.id for a in articles}
            report.added += len(after - before)
            report.updated += len(after & before)
            report.removed += len(before - after)
            key = f"{source.key}{KEY_SEPARATOR}{source.signature}"
            for article in articles:
                writer.add_document(**_document(article, key))
            count += len(articles)
    if progress:
        progress(total, total, count)


def _ids_from(searcher, source_key: str) -> set[str]:
    """Return the ids of the articles indexed from one source file."""
    return {
        searcher.stored_fields(docnum)["id"]
        for docnum in searcher.document_numbers(source=source_key)
    }


def _id_conflict(article_id, source_key, owners, searcher, gone) -> str | None:
    """Say why ``article_id`` cannot be taken by ``source_key``, or None when it can."""
    if article_id in owners:
        if owners[article_id] == source_key:
            return f"id {article_id!r} appears more than once in this file"
        return f"id {article_id!r} is already used by {owners[article_id]}"
    stored = searcher.document(id=article_id) if searcher else None
    owner = stored.get("source") if stored else None
    if owner and owner != source_key and owner not in gone:
        return f"id {article_id!r} is already used by {owner}"
    return None


def _is_under(path: str, roots: list[Path]) -> bool:
    return any(path == str(root) or path.startswith(str(root) + os.sep) for root in roots)


def _document(article: Article, source_key: str) -> dict:
    document = {
        "id": article.id,
        "headline": article.headline,
        "body": article.body,
        "source": article.source,
        "source_key": source_key,
    }
    if article.date:
        document["date"] = datetime(article.date.year, article.date.month, article.date.day)
    for name in ("caption", "author", "url"):
        if value := getattr(article, name):
            document[name] = value
    return document


@dataclass
class IndexStats:
    """What an index holds, for `searchapp stats` and the health check."""

    articles: int
    last_commit: datetime | None
    first_date: datetime | None = None
    last_date: datetime | None = None
    # (id, headline, body length in words) of the longest articles, longest first.
    largest: list[tuple[str, str, int]] = field(default_factory=list)


def index_stats(index_dir: Path, largest: int = 0, date_range: bool = False) -> IndexStats | None:
    """Describe the index in ``index_dir``, or return None when there is none.

    :param largest: how many of the longest articles to list (reads every length).
    :param date_range: also find the first and last dates (reads every date term).
    """
    ix = open_index(index_dir)
    if ix is None:
        return None
    toc = f"_{INDEX_NAME}_{ix.latest_generation()}.toc"
    committed = datetime.fromtimestamp(ix.storage.file_modified(toc)).astimezone()
    with ix.reader() as reader:
        stats = IndexStats(reader.doc_count(), committed)
        date_field = ix.schema["date"]
        dates = list(date_field.sortable_terms(reader, "date")) if date_range else []
        if dates:
            stats.first_date = date_field.from_bytes(dates[0])
            stats.last_date = date_field.from_bytes(dates[-1])
        if largest:
            lengths = sorted(
                ((reader.doc_field_length(n, "body") or 0, n) for n in reader.all_doc_ids()),
                reverse=True,
            )[:largest]
            for words, docnum in lengths:
                stored = reader.stored_fields(docnum)
                stats.largest.append((stored["id"], stored.get("headline", ""), words))
    return stats
