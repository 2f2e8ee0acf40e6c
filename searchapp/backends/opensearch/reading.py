"""Read article files into documents ready for the bulk API, in worker processes or here.

Reading, cleaning, the near-duplicate signature and JSON encoding cost far more than the
cluster's own work, so a large batch of files is read by several processes: JSON Lines
exports line by line between them, other files whole. Each file's results come back in
the order of its lines, so ids taken twice are settled exactly as one process would, and
as they are read: the indexer sends a file's first articles while the workers read on.
"""

from __future__ import annotations

import base64
import heapq
import json
import os
import pickle
import queue
import re
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from multiprocessing import get_context
from operator import itemgetter

from searchapp import duplicates
from searchapp.articles import Article, Skip, SourceFile, file_kind, read_articles
from searchapp.backends import IndexerError
from searchapp.backends.opensearch.mapping import STOP_WORDS
from searchapp.backends.workers import (
    as_worker,
    fewer_collections,
    start_method,
    stop_signals_held,
)

# OpenSearch refuses document ids longer than this many bytes.
MAX_ID_BYTES = 512
# Below this much new text, starting worker processes costs more than it saves.
PARALLEL_MIN_BYTES = 2 * 2**20
# A JSON Lines export at least this large is shared line by line among the workers.
SHARE_MIN_BYTES = 256 * 1024
# Small files go to a worker in groups of about this many bytes.
GROUP_BYTES = 512 * 1024
# A worker sends its items back this many at a time, and may be this many chunks ahead of
# the indexer, so reading goes on while the indexer waits for the cluster.
CHUNK_ITEMS = 200
CHUNKS_AHEAD = 16
# How often a wait for a worker checks that it is still alive.
WAIT_SECONDS = 1.0
# The words the index counts in a body (the analyser's, without stemming); the same
# words as r"\w+(?:\.?\w+)*" finds (a greedy \w+ leaves no word character to follow),
# found a little faster.
WORD_RE = re.compile(r"\w+(?:\.\w+)*")
STOPS = frozenset(word for word in STOP_WORDS if len(word) > 1)  # one-letter words go anyway
# A document's JSON (one encoder for all: ``json.dumps`` with options makes one a call).
_encode = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode


@dataclass
class Entry:
    """One article read from a file: its id, where it came from and its document."""

    id: str
    origin: str
    document: bytes  # the JSON source, UTF-8


@dataclass
class FileRead:
    """A file's articles and skips, in the order of its lines (read as they are used
    when the file is read in this process)."""

    number: int
    source: SourceFile
    items: Iterable[tuple[int, Entry | Skip]] = field(default_factory=list)


def read_files(changed: list[SourceFile], workers: int) -> Iterator[FileRead]:
    """Yield each changed file's articles and skips, file by file in the order given."""
    if workers > 1 and sum(f.size for f in changed) >= PARALLEL_MIN_BYTES:
        yield from _read_in_parallel(changed, workers)
        return
    for number, source in enumerate(changed):
        yield FileRead(number, source, read_part(source, (0, 1)))


def read_part(source: SourceFile, share: tuple[int, int]
              ) -> Iterator[tuple[int, Entry | Skip]]:
    """Read one file (or its share of lines) into (line, Entry or Skip) items."""
    for item in read_articles(source, share):
        if isinstance(item, Skip):
            yield _line(item.path), item
            continue
        origin = item.origin or source.key
        if len(item.id.encode("utf-8")) > MAX_ID_BYTES:
            yield _line(origin), Skip(origin, f"id longer than {MAX_ID_BYTES} bytes, which "
                                              "OpenSearch cannot hold")
            continue
        yield _line(origin), Entry(item.id, origin, document(item, source))


def document(article: Article, source: SourceFile) -> bytes:
    """Return an article as the JSON source of its document (mapping.MAPPINGS)."""
    signature = duplicates.signature(article.body, article.headline)
    words = WORD_RE.findall(article.body.lower())
    # Counted with C-level maps: a loop in Python cost a tenth of the reading time.
    length = len(words) - sum(map(STOPS.__contains__, words)) - words_of_one_letter(words)
    fields = {
        "id": article.id,
        "headline": article.headline,
        "body": article.body,
        "source": article.source,
        "source_signature": source.signature,
        "signature": base64.b64encode(signature).decode("ascii"),
        "body_words": length,
    }
    if article.date:
        fields["date"] = article.date.isoformat()
    for name in ("caption", "author", "url", "credit"):
        if value := getattr(article, name):
            fields[name] = value
    return _encode(fields).encode("utf-8")


def words_of_one_letter(words: list[str]) -> int:
    return sum(map((1).__eq__, map(len, words)))


def _line(origin: str) -> int:
    """Return the line number of a "path:line" origin, or 0 for a whole file."""
    _, _, number = origin.rpartition(":")
    return int(number) if number.isdigit() else 0


def _tasks(changed: list[SourceFile], workers: int) -> list[list[tuple]]:
    """Split the files into tasks, in file order: a large export into one share per worker,
    small files in groups."""
    tasks: list[list[tuple]] = []
    group: list[tuple] = []
    group_bytes = 0
    for number, source in enumerate(changed):
        if file_kind(source.path) == "jsonl" and source.size >= SHARE_MIN_BYTES:
            if group:
                tasks.append(group)
                group, group_bytes = [], 0
            tasks.extend([[(number, source, (k, workers))] for k in range(workers)])
            continue
        group.append((number, source, (0, 1)))
        group_bytes += source.size
        if group_bytes >= GROUP_BYTES:
            tasks.append(group)
            group, group_bytes = [], 0
    if group:
        tasks.append(group)
    return tasks


def _read_in_parallel(changed: list[SourceFile], workers: int) -> Iterator[FileRead]:
    """Read the files in ``workers`` processes and yield them in order, each file's items
    arriving while its later lines are still being read."""
    tasks = _tasks(changed, workers)
    context = get_context(start_method())
    readers = [_Reader(context) for _ in range(workers)]
    try:
        with fewer_collections():  # this process sorts and sends what they read
            for reader in readers:
                reader.start()
            for number, reader in enumerate(readers):
                reader.give(tasks[number::workers])
            at = 0
            while at < len(tasks):
                number, source, share = tasks[at][0]
                if share[1] > 1:
                    # An export shared line by line: its shares are the next `workers` tasks,
                    # one in each reader, each in line order; merged, the lines are in order.
                    shares = [readers[(at + k) % workers].items(number) for k in range(workers)]
                    items = heapq.merge(*shares, key=itemgetter(0))
                    yield FileRead(number, source, items)
                    deque(items, maxlen=0)  # whatever the caller left
                    at += workers
                    continue
                reader = readers[at % workers]
                for number, source, _ in tasks[at]:
                    items = reader.items(number)
                    yield FileRead(number, source, items)
                    deque(items, maxlen=0)
                at += 1
    finally:
        for reader in readers:
            reader.stop()


class _Reader:
    """A worker process reading its tasks in order, its items sent back in chunks; it may
    be at most ``CHUNKS_AHEAD`` chunks ahead of the indexer."""

    def __init__(self, context):
        self.tasks = context.Queue()
        self.results = context.Queue(CHUNKS_AHEAD)
        self.process = context.Process(target=_serve,
                                       args=(self.tasks, self.results, os.getpid()),
                                       daemon=True)

    def start(self) -> None:
        """Start the process (forked before any queue's thread is, see start_method)."""
        with stop_signals_held():
            self.process.start()

    def give(self, tasks: list) -> None:
        """Give the reader its tasks, in order; none follows."""
        for task in tasks:
            self.tasks.put(task)
        self.tasks.put(None)

    def items(self, number: int) -> Iterator[tuple[int, Entry | Skip]]:
        """Yield the items of file ``number``, the next file this reader sends."""
        while True:
            kind, sent, payload = self._next()
            if kind == "error":
                raise payload
            if sent != number:
                raise RuntimeError(f"reading worker sent file {sent}, expected {number}")
            if kind == "done":
                return
            yield from payload

    def _next(self) -> tuple:
        while True:
            try:
                return self.results.get(timeout=WAIT_SECONDS)
            except queue.Empty:
                if self.process.exitcode is not None:
                    raise IndexerError(
                        f"a reading worker process died (exit code {self.process.exitcode}); "
                        "articles written so far stay, and the next run does their files "
                        "again") from None

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.terminate()
        if self.process.pid is not None:
            self.process.join(WAIT_SECONDS)
        for channel in (self.tasks, self.results):
            channel.cancel_join_thread()
            channel.close()


def _serve(tasks, results, indexer: int) -> None:
    """Read tasks until there are none left (in a worker process).

    A reader whose indexer is gone (killed) ends by itself: it would otherwise wait for
    ever for room to send its items. ``indexer`` is the indexer's pid, taken before the
    reader started (asked later, the parent of a reader whose indexer died is another).
    """
    as_worker()
    while (task := _task(tasks, results, indexer)) is not None:
        for number, source, share in task:
            chunk: list = []
            try:
                for item in read_part(source, share):
                    chunk.append(item)
                    if len(chunk) >= CHUNK_ITEMS:
                        _send(results, ("items", number, chunk), indexer)
                        chunk = []
            except BaseException as error:  # noqa: BLE001 - the indexer raises it
                _send(results, ("error", number, _sendable(error)), indexer)
                return
            if chunk:
                _send(results, ("items", number, chunk), indexer)
            _send(results, ("done", number, None), indexer)


def _task(tasks, results, indexer: int):
    """Return the next task (None: there is no more), waiting while the indexer lives."""
    while True:
        try:
            return tasks.get(timeout=WAIT_SECONDS)
        except queue.Empty:
            _end_if_alone(indexer, results)


def _send(results, message: tuple, indexer: int) -> None:
    """Send a message to the indexer, waiting for room while the indexer lives."""
    while True:
        try:
            results.put(message, timeout=WAIT_SECONDS)
            return
        except queue.Full:
            _end_if_alone(indexer, results)


def _end_if_alone(indexer: int, results) -> None:
    """End this reader at once if the indexer that started it is gone: nothing it holds
    needs closing, and what it has not sent has no one to read it."""
    if os.getppid() != indexer:
        results.cancel_join_thread()  # its queue's thread would wait for a reader
        os._exit(0)


def _sendable(error: BaseException) -> BaseException:
    """Return ``error`` if it survives pickling, else an ``IndexerError`` saying what it was."""
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:  # noqa: BLE001 - any pickling failure
        return IndexerError(f"a reading worker failed: {error!r}")
    return error
