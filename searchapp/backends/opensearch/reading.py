"""Read article files into documents ready for the bulk API, in worker processes or here.

Reading, cleaning, the near-duplicate signature and JSON encoding cost far more than the
cluster's own work, so a large batch of files is read by several processes: JSON Lines
exports line by line between them, other files whole. Each file's results come back in
the order of its lines, so ids taken twice are settled exactly as one process would.
"""

from __future__ import annotations

import base64
import json
import re
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from multiprocessing import get_context

from searchapp import duplicates
from searchapp.articles import Article, Skip, SourceFile, file_kind, read_articles
from searchapp.backends import IndexerError
from searchapp.backends.opensearch.mapping import STOP_WORDS

# OpenSearch refuses document ids longer than this many bytes.
MAX_ID_BYTES = 512
# Below this much new text, starting worker processes costs more than it saves.
PARALLEL_MIN_BYTES = 2 * 2**20
# A JSON Lines export at least this large is shared line by line among the workers.
SHARE_MIN_BYTES = 256 * 1024
# Small files go to a worker in groups of about this many bytes.
GROUP_BYTES = 512 * 1024
# Tasks handed out ahead of the one being waited for, per worker.
AHEAD = 2
# The words the index counts in a body (the analyser's, without stemming).
WORD_RE = re.compile(r"\w+(?:\.?\w+)*")
STOPS = frozenset(word for word in STOP_WORDS if len(word) > 1)  # one-letter words go anyway


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
    return json.dumps(fields, ensure_ascii=False, check_circular=False).encode("utf-8")


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


def _read_task(task: list[tuple]) -> list[tuple[int, list]]:
    """Read one task's files or shares (in a worker process)."""
    return [(number, list(read_part(source, share))) for number, source, share in task]


def _read_in_parallel(changed: list[SourceFile], workers: int) -> Iterator[FileRead]:
    """Read the files in ``workers`` processes and yield them whole, in order."""
    tasks = iter(_tasks(changed, workers))
    pending: deque = deque()
    current: FileRead | None = None
    pool = ProcessPoolExecutor(workers, mp_context=get_context("spawn"))
    try:
        for task in tasks:
            pending.append(pool.submit(_read_task, task))
            if len(pending) >= workers * AHEAD:
                break
        while pending:
            results = pending.popleft().result()
            for task in tasks:  # one more in place of the one done
                pending.append(pool.submit(_read_task, task))
                break
            for number, items in results:
                if current is not None and current.number != number:
                    yield _in_line_order(current)
                    current = None
                if current is None:
                    current = FileRead(number, changed[number], [])
                current.items.extend(items)
        if current is not None:
            yield _in_line_order(current)
    except BrokenProcessPool as error:
        raise IndexerError(f"a reading worker process died ({error}); articles written so "
                           "far stay, and the next run does their files again") from error
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _in_line_order(read: FileRead) -> FileRead:
    read.items.sort(key=lambda item: item[0])
    return read
