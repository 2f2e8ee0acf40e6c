"""Build and update the search index from article files.

The index itself records which file each article came from and that file's size and
modification time, so an update reads only new and changed files, and a run that is
killed at any point leaves the last commit as it was. Whoosh stays behind this package
(``backends.whoosh``).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import shutil
import sys
import time
from array import array
from collections.abc import Iterable, Iterator
from datetime import datetime
from itertools import islice
from pathlib import Path

from whoosh import index as whoosh_index
from whoosh.codec import whoosh3
from whoosh.columns import FixedBytesColumn
from whoosh.fields import COLUMN, DATETIME, ID, STORED, TEXT, Schema
from whoosh.filedb.filestore import FileStorage
from whoosh.util.numeric import byte_to_length
from whoosh.writing import CLEAR

from searchapp import duplicates
from searchapp.articles import Article, Skip, SourceFile, file_kind, read_articles
from searchapp.backends import (
    IndexerError,
    IndexLocked,
    IndexReport,
    IndexStats,
    Progress,
)
from searchapp.backends.whoosh.analysis import ANALYZER
from searchapp.backends.whoosh.writer import ArticleWriter
from searchapp.backends.workers import (
    as_worker,
    fewer_collections,
    start_method,
    stop_signals_held,
)
from searchapp.changes import find_sources, plan_changes
from searchapp.textsafety import safe_text

INDEX_NAME = "MAIN"
# Memory the writers of one run may hold postings in (shared among its worker processes)
# before they spill them to disk, which is slower: about 5.8 KB an article of Reuters-21578
# length, so a 100,000-article batch stays in memory (BENCHMARKS.md).
WRITER_LIMIT_MB = 768
# The separator between a file's path and its signature in the `source_key` field.
KEY_SEPARATOR = "\x00"
# Below this much new text, starting worker processes costs more than it saves.
PARALLEL_MIN_BYTES = 2 * 2**20
# How often the main process reports the workers' progress.
PROGRESS_SECONDS = 0.25

# The descriptors of the write locks this process holds: a forked worker closes its copies,
# so that a worker outliving a killed indexer does not keep the index locked.
_held_lock_fds: set[int] = set()
# The receiving ends of the workers' pipes, held by the indexer: a forked worker lets go of
# its copies, so that once the indexer is gone (killed) no one holds one, and a worker
# sending its result gets an error instead of waiting for ever for a reader.
_receiving_fds: set[int] = set()


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


def _field_length(self, docnum, fieldname, default=0):
    """Return an article's length in a field from the field's lengths, read once.

    Whoosh 2.7.4 reads the byte from the file on every call, and the postings
    writer asks once per posting (8% of indexing time).
    """
    lengths = self.__dict__.setdefault("_searchapp_lengths", {})
    if fieldname not in lengths:
        found = self._cached_reader(whoosh3._lenfield(fieldname), whoosh3.LENGTHS_COLUMN)
        lengths[fieldname] = length_codes(self, fieldname) if found is not None else None
    codes = lengths[fieldname]
    if codes is None:
        return default
    if docnum > self._doccount:
        raise IndexError(f"Asked for docnum {docnum} of {self._doccount}")
    code = codes[docnum] if docnum < len(codes) else 0
    return byte_to_length(code) if code else None  # as Whoosh: None for an empty field


whoosh3.W3PerDocReader._cached_reader = _cached_column_reader
whoosh3.W3PerDocReader.doc_field_length = _field_length


def length_codes(perdoc, fieldname: str) -> bytes:
    """Return a field's one-byte length code for every article of a segment (0: none)."""
    column = perdoc._cached_reader(whoosh3._lenfield(fieldname), whoosh3.LENGTHS_COLUMN)
    return bytes(column_values(column, perdoc.doc_count_all(), "B", 0))


def column_values(column, doc_count: int, typecode: str, default: int) -> array:
    """Return a numeric column's values for every article, read in one go."""
    if column is None:
        return array(typecode, [default]) * doc_count
    if getattr(column, "_typecode", None) != typecode:
        return array(typecode, column)  # not the layout read below: read value by value
    # Whoosh stores the values big-endian, one after another, up to the last one set.
    values = array(typecode)
    values.frombytes(column._dbfile.get(column._basepos, column._count * values.itemsize))
    if sys.byteorder == "little":
        values.byteswap()
    values.extend(array(typecode, [default]) * (doc_count - len(values)))
    return values


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
        # Who supplied the article (a wire service, a paper), shown on its page.
        credit=STORED(),
        # The file an article came from, to delete its articles when it changes or goes.
        source=ID(stored=True),
        # "path NUL size:mtime": the index's own record of what it was built from.
        source_key=ID(),
        # The text's near-duplicate signature (duplicates.py), a column read at search
        # time; articles indexed before it existed have none and are never folded.
        signature=COLUMN(FixedBytesColumn(duplicates.SIGNATURE_BYTES)),
    )


def add_missing_fields(writer) -> None:
    """Give an index built by an older version the fields it lacks, before writing to it.

    Articles already indexed keep no value for them; new ones get theirs.
    """
    for name, field_type in make_schema().items():
        if name not in writer.schema:
            writer.add_field(name, field_type)


PROGRESS_EVERY = 500


def open_index(index_dir: Path):
    """Open the index in ``index_dir``, or return None when there is none yet.

    Files are read, not memory-mapped: Whoosh 2.7.4 copies each part of a mapped
    segment into a private buffer for every reader, so each searcher held a copy of
    the postings (about 60 MB per thread on Reuters-21578, growing with the index).
    """
    if not whoosh_index.exists_in(str(index_dir), indexname=INDEX_NAME):
        return None
    return FileStorage(str(index_dir), supports_mmap=False).open_index(INDEX_NAME)


def update_index(
    paths: Iterable[Path],
    index_dir: Path,
    rebuild: bool = False,
    progress: Progress | None = None,
    workers: int = 1,
) -> IndexReport:
    """Index the article files under ``paths`` into ``index_dir``, incrementally.

    New and changed files are (re)read, articles whose files are gone from these paths
    are removed, and unchanged files are not read at all. With ``rebuild`` the index is
    replaced by one built from ``paths`` alone, in a single commit, so a reader sees
    either the old index or the new one, never a half-built one. With ``workers``
    above one, a large batch of files is read and indexed by that many processes,
    each writing a segment of its own, all committed together.

    :raises IndexLocked: when another indexer is running.
    :raises IndexerError: for missing paths and an index folder that cannot be written.
    """
    started = time.perf_counter()
    report = IndexReport()
    walk = find_sources(paths, report)
    lock = _lock(index_dir)
    _held_lock_fds.add(lock.fd)
    try:
        ix = _open_or_create(index_dir)
        indexed = {} if rebuild else _indexed_sources(ix)
        changed, gone = plan_changes(walk, indexed, report)
        if changed or gone or rebuild:
            with fewer_collections():  # forked workers start with it too
                _write_changes(ix, changed, gone, set(indexed), rebuild, report, progress,
                               workers)
    finally:
        _held_lock_fds.discard(lock.fd)
        lock.release()
    report.seconds = time.perf_counter() - started
    return report


def _write_changes(ix, changed, gone, indexed, rebuild, report, progress, workers) -> None:
    """Apply the changes in one writer and commit them, or leave no trace at all."""
    parts: list = []  # segments written by worker processes
    # Files in the index folder before this run: all the others are this run's, and go
    # if it fails (the write lock keeps any other writer out).
    before = set(ix.storage.list())
    try:
        # The caller holds the write lock for the whole run.
        writer = ArticleWriter(ix, limitmb=WRITER_LIMIT_MB, _lk=False)
        if rebuild:
            # Start from the current schema too, so a rebuild also upgrades an old index.
            writer.schema = make_schema()
        add_missing_fields(writer)
        try:
            _remove_stale_temporaries(ix)
            if changed and workers > 1 and sum(f.size for f in changed) >= PARALLEL_MIN_BYTES:
                parts = _apply_changes_in_parallel(
                    ix, writer, changed, gone, indexed, rebuild, report, progress, workers)
            else:
                _apply_changes(ix, writer, changed, gone, indexed, rebuild, report, progress)
            if not (report.indexed or report.removed or rebuild):
                _discard(ix, writer, parts)
                return
            _commit(writer, parts, CLEAR if rebuild else None)
            report.written = True
        except BaseException:
            _discard(ix, writer, parts, before)
            raise
    except OSError as error:
        raise IndexerError(f"could not write the index in {ix.storage.folder}: {error}") from error


def _commit(writer, parts: list, mergetype) -> None:
    """Commit the writer's changes and the workers' segments in one table of contents."""
    if not parts:
        writer.commit(mergetype=mergetype)
        return
    # SegmentWriter.commit, with the workers' segments added to the list it commits.
    segments = writer._merge_segments(mergetype, False, True)
    segments += parts
    if writer._added:
        segments.append(writer._finalize_segment())
    else:
        writer._close_segment()
    writer._commit_toc(segments)
    writer._finish()


def _discard(ix, writer, parts: list = (), before: set[str] | None = None) -> None:
    """Cancel a writer and delete the files of the segments it and its workers began.

    With ``before``, the names the index folder held when the run began, every other
    file and spill folder goes too: those of workers that finished, and of workers that
    were stopped half-way (a full disk must not fill up with a failed run's leftovers).
    """
    try:
        if not writer.is_closed:
            writer.cancel()
    finally:
        _delete_segment_files(ix.storage, [writer.newsegment, *parts])
        if before is not None:
            _delete_new_files(ix.storage, before)


def _delete_segment_files(storage, segments) -> None:
    prefixes = tuple(segment.segment_id() for segment in segments)
    for name in list(storage):
        if name.startswith(prefixes):
            try:
                storage.delete_file(name)
            except OSError:
                pass  # the next commit removes what is left


def _delete_new_files(storage, before: set[str]) -> None:
    """Delete what a failed run left in the index folder: files and spill folders."""
    for name in set(storage.list()) - before:
        try:
            storage.delete_file(name)
        except OSError:
            pass  # the next commit removes what is left
    for path in Path(storage.folder).glob(f"{INDEX_NAME}*.tmp"):
        shutil.rmtree(path, ignore_errors=True)  # the writer and every worker have stopped


def _remove_stale_temporaries(ix) -> None:
    """Delete the spill folders of workers of a run that was killed."""
    for path in Path(ix.storage.folder).glob(f"{INDEX_NAME}.*.tmp"):
        shutil.rmtree(path, ignore_errors=True)


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
    """Map each source file in the index to the signature it had when indexed.

    Only articles still in the index count: a segment keeps the words of the articles
    deleted from it (a file's earlier version, an article refused for its id) until it is
    merged away, so the files those came from are checked against live articles.
    """
    with ix.reader() as reader:
        sources = {}
        for leaf, _ in reader.leaf_readers():
            segment = leaf.segment()  # None for an index with no articles yet
            deleted = segment.deleted_docs() if segment is not None else ()
            touched = {leaf.stored_fields(docnum).get("source") for docnum in deleted}
            for term in leaf.lexicon("source_key"):
                path, _, signature = term.decode("utf-8").partition(KEY_SEPARATOR)
                if path in touched and not leaf.postings("source_key", term).is_active():
                    continue  # every article with this key was deleted
                sources[path] = signature
        return sources


def _apply_changes(ix, writer, changed, gone, indexed, rebuild, report, progress) -> None:
    total = sum(f.size for f in changed)
    done = 0
    owners: dict[str, str] = {}
    with ix.searcher() as searcher:
        _remove_gone(writer, searcher, gone, report)
        # Ids are looked up among the articles already indexed: none in a new index.
        lookup = None if rebuild or not searcher.doc_count_all() else searcher
        count = 0
        for source in changed:
            if progress:
                progress(done, total, count)
            articles = []
            key = source.key
            for item in read_articles(source):
                if not isinstance(item, Skip) and (
                    problem := _id_conflict(item.id, key, owners, lookup, gone)
                ):
                    item = Skip(item.origin or key, problem)
                if isinstance(item, Skip):
                    report.skipped.append(item)
                    continue
                owners[item.id] = key
                articles.append(item)
                if progress and len(articles) % PROGRESS_EVERY == 0:
                    progress(done + _bytes_read(source), total, count + len(articles))
            done += source.size
            if not articles:
                continue  # an unusable new version never replaces a usable old one
            _replace_source(writer, searcher, source, {a.id for a in articles}, indexed, report)
            key = _source_key(source)
            for article, signature in _signed(articles):
                writer.add_document(**_document(article, key, signature))
            count += len(articles)
    if progress:
        progress(total, total, count)


def _bytes_read(source: SourceFile, sharers: int = 1) -> int:
    """Return how far into ``source`` its reader is, short of the end: a file is done when
    its last article is, not when its last byte has been read ahead."""
    return max(0, min(source.extra.get("bytes_read", 0), source.size - 1)) // sharers


def _remove_gone(writer, searcher, gone, report) -> None:
    for path in gone:
        report.removed += len(_ids_from(searcher, path))
        writer.delete_by_term("source", path)


def _replace_source(writer, searcher, source: SourceFile, ids: set[str], indexed,
                    report: IndexReport) -> None:
    """Delete the articles a file had before and count what its new version changes."""
    before = set()
    if source.key in indexed:
        before = _ids_from(searcher, source.key)
        writer.delete_by_term("source", source.key)
    report.added += len(ids - before)
    report.updated += len(ids & before)
    report.removed += len(before - ids)


def _source_key(source: SourceFile) -> str:
    return f"{source.key}{KEY_SEPARATOR}{source.signature}"


def _apply_changes_in_parallel(ix, writer, changed, gone, indexed, rebuild, report, progress,
                               workers) -> list:
    """Read and index the changed files in worker processes; return their segments.

    Each worker writes a segment of its own. The ids are then checked here, in the
    order the files and lines come in, exactly as one process would: an article whose
    id is taken is deleted from its worker's segment and reported.
    """
    shares = _share_out(changed, workers)
    results = _run_workers(ix, shares, rebuild, progress, sum(f.size for f in changed))
    parts = [segment for segment, _, _ in results]
    found = _in_file_order([articles for _, articles, _ in results])
    skips = sorted(
        ((file_number, line, skip) for _, _, skipped in results
         for file_number, line, skip in skipped),
        key=lambda entry: entry[:2],
    )
    owners: dict[str, str] = {}
    with ix.searcher() as searcher:
        _remove_gone(writer, searcher, gone, report)
        # Ids are looked up among the articles already indexed: none in a new index.
        lookup = None if rebuild or not searcher.doc_count_all() else searcher
        position = 0
        for file_number, source in enumerate(changed):
            report.skipped += [skip for number, _, skip in skips if number == file_number]
            ids = set()
            key = source.key  # a property that makes a string: once a file, not an article
            while position < len(found) and found[position] >> _FILE_SHIFT == file_number:
                line, worker, index = _placed(found[position])
                position += 1
                article_id = results[worker][1].ids[index]
                problem = _id_conflict(article_id, key, owners, lookup, gone)
                if problem:
                    parts[worker].delete_document(results[worker][1].docnums[index])
                    origin = f"{source.path}:{line}" if line else key
                    report.skipped.append(Skip(origin, problem))
                    continue
                owners[article_id] = key
                ids.add(article_id)
            if ids:  # an unusable new version never replaces a usable old one
                _replace_source(writer, searcher, source, ids, indexed, report)
    return [part for part in parts if part is not None]


class WorkerArticles:
    """The articles a worker indexed, in the order it indexed them: for each, its file
    (its number in the run), its line (0 for a whole file), its number in the worker's
    segment and its id. Arrays, not a tuple an article: a million headlines' tuples, each
    with its "path:line" origin, held hundreds of megabytes in the main process and again
    in the workers (BENCHMARKS.md, "Indexing speed (issue 16, session 6)")."""

    def __init__(self) -> None:
        self.files = array("I")
        self.lines = array("Q")
        self.docnums = array("I")
        self.ids: list[str] = []

    def add(self, file_number: int, line: int, docnum: int, article_id: str) -> None:
        self.files.append(file_number)
        self.lines.append(line)
        self.docnums.append(docnum)
        self.ids.append(article_id)

    def __len__(self) -> int:
        return len(self.ids)


# An article's place in the run as one number, sorted as (file, line, worker, index in
# the worker's articles): a small int each instead of a tuple each.
_INDEX_BITS, _WORKER_BITS, _LINE_BITS = 32, 16, 40
_FILE_SHIFT = _INDEX_BITS + _WORKER_BITS + _LINE_BITS


def _in_file_order(found: list[WorkerArticles]) -> list[int]:
    """Return every worker's articles as places (``_placed``), in file and line order."""
    places = []
    for worker, articles in enumerate(found):
        places += [((file_number << _LINE_BITS | line) << _WORKER_BITS | worker)
                   << _INDEX_BITS | index
                   for index, (file_number, line)
                   in enumerate(zip(articles.files, articles.lines, strict=True))]
    places.sort()
    return places


def _placed(place: int) -> tuple[int, int, int]:
    """Return the line, worker and index in the worker's articles of a place."""
    index = place & (1 << _INDEX_BITS) - 1
    worker = place >> _INDEX_BITS & (1 << _WORKER_BITS) - 1
    line = place >> (_INDEX_BITS + _WORKER_BITS) & (1 << _LINE_BITS) - 1
    return line, worker, index


def _share_out(changed: list[SourceFile], workers: int) -> list[list]:
    """Split the files among the workers: each JSON Lines export line by line, the
    other files whole, largest first to whoever has least so far."""
    shares: list[list] = [[] for _ in range(workers)]
    loads = [0] * workers
    numbered = sorted(enumerate(changed), key=lambda item: -item[1].size)
    for file_number, source in numbered:
        if file_kind(source.path) == "jsonl":
            for worker in range(workers):
                shares[worker].append((file_number, source, (worker, workers)))
                loads[worker] += source.size // workers
        else:
            worker = loads.index(min(loads))
            shares[worker].append((file_number, source, (0, 1)))
            loads[worker] += source.size
    return [share for share in shares if share]


def _run_workers(ix, shares: list[list], rebuild: bool, progress, total: int) -> list:
    """Run one worker process a share and return their results, or stop them all.

    :raises IndexerError: when a worker dies without a word (killed, out of memory).
    """
    context = multiprocessing.get_context(start_method())
    read = context.Value("q", 0, lock=False)
    bytes_done = context.Value("q", 0)
    limit = max(32, WRITER_LIMIT_MB // len(shares))
    workers = []
    try:
        for share in shares:
            receiver, sender = context.Pipe(duplex=False)
            _receiving_fds.add(receiver.fileno())
            process = context.Process(
                target=_worker_main, daemon=True,
                args=(sender, str(ix.storage.folder), share, rebuild, limit, read, os.getpid(),
                      bytes_done))
            with stop_signals_held():
                process.start()
            sender.close()
            workers.append((process, receiver))
        results: list = [None] * len(workers)
        while any(result is None for result in results):
            for number, (process, receiver) in enumerate(workers):
                if results[number] is not None:
                    continue
                alive = process.is_alive()  # asked first: a worker sends, then ends
                try:
                    if receiver.poll(PROGRESS_SECONDS / len(workers)):
                        outcome, value = receiver.recv()
                        if outcome == "error":
                            raise value
                        results[number] = value
                        continue
                except EOFError:
                    alive = False  # it closed its end without a word
                if not alive:
                    process.join()
                    raise IndexerError(f"an indexing worker process died (exit code "
                                       f"{process.exitcode}); nothing from this run was committed")
            if progress:
                progress(min(bytes_done.value, total - 1), total, read.value)
        if progress:
            progress(total, total, read.value)
        return results
    finally:
        for process, receiver in workers:
            if process.is_alive():
                process.terminate()
            process.join()
            _receiving_fds.discard(receiver.fileno())
            receiver.close()
            # A stopped worker leaves its spill folder; its segment files go at the next commit.
            shutil.rmtree(Path(ix.storage.folder) / f"{INDEX_NAME}.{process.pid}.tmp",
                          ignore_errors=True)


def _worker_main(sender, index_dir: str, share: list, rebuild: bool, limit_mb: int, read,
                 parent: int, bytes_done=None) -> None:
    """Index a share in this worker process and send back the result or the error."""
    as_worker()
    for fd in _held_lock_fds:  # the indexer's, copied by a fork: only it releases them
        os.close(fd)
    _held_lock_fds.clear()
    # The indexer's ends of the pipes, copied by a fork: each now reads /dev/null (its
    # number stays taken, as the copied objects that name it are never closed).
    with open(os.devnull, "rb") as null:
        for fd in _receiving_fds:
            os.dup2(null.fileno(), fd)
    _receiving_fds.clear()
    _worker.update(read=read, parent=parent, bytes_done=bytes_done)
    try:
        message = ("done", _index_share(index_dir, share, rebuild, limit_mb))
    except Exception as error:  # the indexer raises it as its own
        message = ("error", error)
    try:
        sender.send(message)
    except BrokenPipeError:
        return  # the indexer is gone: there is no one to send the result to
    sender.close()


# Set in each worker process by _worker_main.
_worker: dict = {}


def _index_share(index_dir: str, share: list, rebuild: bool, limit_mb: int):
    """Read and index one share of the files into a new segment (in a worker process).

    :returns: the segment (None when nothing was indexed), the articles
        (``WorkerArticles``), and the
        skips as (file number, line, Skip).
    """
    ix = open_index(Path(index_dir))
    writer = ArticleWriter(ix, _lk=False, limitmb=limit_mb)
    if rebuild:
        writer.schema = make_schema()
    add_missing_fields(writer)
    # Whoosh names a writer's spill folder after the index and deletes it when done, so
    # each worker gets a folder of its own.
    own = ix.storage.temp_storage(f"{INDEX_NAME}.{os.getpid()}.tmp")
    writer._tempstorage = writer.pool.tempstore = own
    entries, skips = WorkerArticles(), []
    try:
        for file_number, source, part in share:
            key = _source_key(source)
            counted = 0  # bytes of this file added to the shared count so far
            for item, signature in _signed(read_articles(source, part)):
                if isinstance(item, Skip):
                    skips.append((file_number, _line(item.path), item))
                    continue
                entries.add(file_number, _line(item.origin) if item.origin else 0,
                            writer.docnum, item.id)
                writer.add_document(**_document(item, key, signature))
                if len(entries) % PROGRESS_EVERY == 0:
                    _worker["read"].value += PROGRESS_EVERY
                    counted = _count_bytes(_bytes_read(source, part[1]), counted)
                    if os.getppid() != _worker["parent"]:
                        raise SystemExit("the indexer that started this worker is gone")
            # Each of the n workers sharing a file reads all of it and counts 1/n of it.
            _count_bytes(source.size // part[1], counted)
        _worker["read"].value += len(entries) % PROGRESS_EVERY
        if not entries:
            writer.cancel()
            _delete_segment_files(ix.storage, [writer.newsegment])
            return None, entries, skips
        segment = writer._finalize_segment()
        return segment, entries, skips
    except BaseException:
        # The first error is the one to report: cancelling a writer whose files a full
        # disk left half-written can fail too ("I/O operation on closed file").
        with contextlib.suppress(Exception):
            if not writer.is_closed:
                writer.cancel()
        _delete_segment_files(ix.storage, [writer.newsegment])
        raise
    finally:
        shutil.rmtree(own.folder, ignore_errors=True)


def _count_bytes(position: int, counted: int) -> int:
    """Add what a worker has read of a file since ``counted`` to the shared byte count."""
    if _worker.get("bytes_done") is not None and position > counted:
        with _worker["bytes_done"].get_lock():
            _worker["bytes_done"].value += position - counted
        return position
    return counted


def _line(origin: str) -> int:
    """Return the line number of a "path:line" origin, or 0 for a whole file."""
    _, _, number = origin.rpartition(":")
    return int(number) if number.isdigit() else 0


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


def _signed(items: Iterable[Article | Skip]) -> Iterator[tuple[Article | Skip, bytes | None]]:
    """Yield each article with its signature (None for a skip), made many at a time."""
    items = iter(items)
    while batch := list(islice(items, duplicates.SIGNATURE_BATCH)):
        made = iter(duplicates.signatures(
            (item.body, item.headline) for item in batch if not isinstance(item, Skip)))
        for item in batch:
            yield item, None if isinstance(item, Skip) else next(made)


def _document(article: Article, source_key: str, signature: bytes) -> dict:
    document = {
        "id": article.id,
        "headline": article.headline,
        "body": article.body,
        "source": article.source,
        "source_key": source_key,
        "signature": signature,
    }
    if article.date:
        document["date"] = datetime(article.date.year, article.date.month, article.date.day)
    for name in ("caption", "author", "url", "credit"):
        if value := getattr(article, name):
            document[name] = value
    return document


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
                # An index built before text was made safe when indexed may hold any.
                headline = safe_text(stored.get("headline", ""))
                stats.largest.append((stored["id"], headline, words))
    return stats
