"""Feed the cluster from article files: incrementally, in bulk, a new index on rebuild.

The archive is an alias (``SEARCHAPP_OPENSEARCH_INDEX``) pointing at one physical index,
``<alias>-<UTC time>-<6 hex digits>``; next to it, ``<physical>-files`` records each file's
signature (``files``). An update reads only new and changed files (``changes``), writes
each file's articles, then deletes those its new version no longer has, then records the
file's new signature, in that order: a run that fails or is killed leaves every file
recorded either as it was before or as it is now, and the next run does again the files
it had not finished. Only the files under the run's own folders are touched, so several
indexers may feed one archive at once from different folders (and machines).

``--rebuild`` fills a new physical index, made for speed (no replica, no refresh) and
set back to normal when full, then moves the alias to it in one ``_aliases`` call and
deletes the old one: readers see the old archive or the new one, never a half-built one.
A rebuild that dies leaves its half-built index behind; the next run deletes it. An
archive's first run fills its (new, empty) index the same way, behind the alias from the
start so that other indexers may feed it at once; whichever run ends sets the replicas and
refresh back and waits for the replicas' copy, and a run that finds a first run dead does
it before anything else.

Reading and writing overlap: the reading processes stream their articles back while they
read, and up to ``IN_FLIGHT`` bulk requests are out at once, each from a thread of its own;
their answers are acted on here, oldest first, so a file's record still goes only once
every one of its actions is answered.

The number of shards and replicas of a new index: ``SEARCHAPP_OPENSEARCH_SHARDS``
(default 2) and ``SEARCHAPP_OPENSEARCH_REPLICAS`` (default 1). Two shards spread the
indexing and the searching over two nodes, and a shard of an archive of up to about 20
million articles stays under the 30-50 GB a shard recovers and merges well at; one replica
keeps every article searchable when a node dies. A larger archive wants more shards
(SCALING.md); the count is fixed when an index is made, so changing it takes a rebuild.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path

from opensearchpy.exceptions import NotFoundError, TransportError

from searchapp.articles import Skip, SourceFile
from searchapp.backends import IndexerError, IndexReport, IndexStats, Progress
from searchapp.backends.opensearch import bulk, files
from searchapp.backends.opensearch.bulk import (
    REQUEST_TIMEOUT,
    Action,
    Batch,
    Outcome,
    cluster_error,
    send,
)
from searchapp.backends.opensearch.mapping import index_body
from searchapp.backends.opensearch.reading import Entry, FileRead, read_files
from searchapp.changes import find_sources, plan_changes
from searchapp.textsafety import safe_text

SHARDS_VAR = "SEARCHAPP_OPENSEARCH_SHARDS"
REPLICAS_VAR = "SEARCHAPP_OPENSEARCH_REPLICAS"
DEFAULT_SHARDS = 2
DEFAULT_REPLICAS = 1
# A rebuild notes in its index that it is alive this often; an index being built whose
# builder has not been heard of for STALE_SECONDS (or whose process on this machine is
# gone) is a dead run's, and the next run deletes it.
HEARTBEAT_SECONDS = 30
STALE_SECONDS = 600
# Creating, refreshing, moving and deleting indices may wait this long for the cluster (the
# client's own time-out is a search's).
WAIT = {"request_timeout": REQUEST_TIMEOUT}
# Files whose articles' ids are looked up in one search.
BATCH_LOOKUP = 1000
# A file-records index without its archive index is a dead run's once this old.
ORPHAN_RECORDS_SECONDS = 60
PROGRESS_EVERY = 500
# An archive's first run fills its index as a rebuild does: no replica (copied as files at
# the end instead of every article written twice) and no refresh until it is full.
FILLING = "filling"
# COPIED_AS_FILES: a filled index is flushed (its segments committed) before it gets its
# replicas: a new replica copies the last commit's files and then replays the operations
# after it, so without the flush it would index every article again from the translog.
FILL_SETTINGS = {"number_of_replicas": 0, "refresh_interval": "-1"}
# Bulk requests out at once, each sent from a thread of its own: the cluster always has
# the next one to write while the indexer reads and gathers more.
IN_FLIGHT = 2


def update_cluster(client, alias: str, paths: Iterable[Path], rebuild: bool = False,
                   progress: Progress | None = None, workers: int = 1) -> IndexReport:
    """Index the article files under ``paths`` into the archive ``alias`` on the cluster.

    :raises IndexerError: for missing paths, a cluster that cannot be reached, and a
        cluster that refuses the writes (the message says why).
    """
    started = time.perf_counter()
    report = IndexReport()
    walk = find_sources(paths, report)
    try:
        current, concrete = _current(client, alias)
        _remove_orphans(client, alias, current)
        if rebuild:
            _rebuild(client, alias, current, concrete, walk, report, progress, workers)
        else:
            if concrete:
                raise IndexerError(
                    f"{alias} is an index searchapp did not make (not an alias to one): "
                    "`searchapp index --rebuild` replaces it with an archive")
            first = current is None
            current = current or _create_first(client, alias)
            _update(client, alias, current, walk, report, progress, workers, first)
    except TransportError as error:  # ConnectionError and time-outs are TransportErrors
        raise cluster_error(error) from error
    report.seconds = time.perf_counter() - started
    return report


def archive_exists(client, alias: str) -> bool:
    """Return True when the archive's alias exists (the archive may be empty)."""
    try:
        return bool(client.indices.exists_alias(name=alias))
    except TransportError as error:
        raise cluster_error(error) from error


def cluster_stats(client, alias: str, largest: int = 0,
                  date_range: bool = False) -> IndexStats | None:
    """Describe the archive ``alias``, or return None when there is none.

    :raises IndexerError: when the cluster cannot be reached or refuses.
    """
    try:
        current, concrete = _current(client, alias)
        if current is None or concrete:
            return None  # no archive yet, or an index searchapp did not make
        body: dict = {"size": largest, "track_total_hits": True, "_source": ["id", "headline"]}
        if largest:
            body["sort"] = [{"body_words": {"order": "desc", "missing": "_last"}},
                            {"id": "asc"}]
        if date_range:
            body["aggs"] = {"first": {"min": {"field": "date"}},
                            "last": {"max": {"field": "date"}}}
        answer = client.search(index=alias, body=body)
        stats = IndexStats(answer["hits"]["total"]["value"], _last_change(client, current))
        if date_range:
            stats.first_date = _day(answer["aggregations"]["first"].get("value"))
            stats.last_date = _day(answer["aggregations"]["last"].get("value"))
        for hit in answer["hits"]["hits"]:
            stats.largest.append((hit["_source"]["id"], safe_text(hit["_source"]["headline"]),
                                  int(hit["sort"][0] or 0)))
        sizes = client.indices.stats(index=[current, files.files_index(current)],
                                     metric="store")
        stats.size_bytes = sizes["_all"]["total"]["store"]["size_in_bytes"]
        return stats
    except TransportError as error:
        raise cluster_error(error) from error


def shards_and_replicas() -> tuple[int, int]:
    """Return the shards and replicas a new index gets, from the environment.

    :raises IndexerError: for a value that is not a whole number in range.
    """
    counts = []
    for name, default, lowest in ((SHARDS_VAR, DEFAULT_SHARDS, 1),
                                  (REPLICAS_VAR, DEFAULT_REPLICAS, 0)):
        text = os.environ.get(name, "").strip()
        try:
            value = int(text) if text else default
        except ValueError:
            value = -1
        if not lowest <= value <= 1024:
            raise IndexerError(f"{name} must be a whole number from {lowest} to 1024, "
                               f"not {text!r}")
        counts.append(value)
    return counts[0], counts[1]


# ---------------------------------------------------------------------------------------
# The alias and its physical indices


def _current(client, alias: str) -> tuple[str | None, bool]:
    """Return the physical index behind ``alias`` (None before the first run), and
    whether ``alias`` is a plain index instead of an alias."""
    try:
        names = sorted(client.indices.get_alias(name=alias))
    except NotFoundError:
        concrete = bool(client.indices.exists(index=alias))
        return (alias if concrete else None), concrete
    if alias in names:
        return alias, True
    return (names[0] if names else None), False


def _new_name(alias: str) -> str:
    return f"{alias}-{datetime.now(timezone.utc):%Y%m%dt%H%M%S}-{uuid.uuid4().hex[:6]}"


def _meta(alias: str, state: str, replicas: int | None = None) -> dict:
    meta = {"alias": alias, "state": state, "host": os.uname().nodename,
            "pid": os.getpid(), "heartbeat": files.now_millis()}
    if replicas is not None:
        meta["replicas"] = replicas  # what a first fill sets back when it ends
    return {"searchapp": meta}


def _create(client, alias: str, name: str, state: str, replicas: int, shards: int,
            settings: dict | None = None, aliases: dict | None = None,
            meta: dict | None = None) -> None:
    """Create a physical index and its file records' index (that one first)."""
    client.indices.create(**WAIT, index=files.files_index(name),
                          body=files.files_index_body(replicas))
    body = index_body(shards, replicas)
    body["settings"]["index"].update(settings or {})
    body["mappings"] = {**body["mappings"], "_meta": meta or _meta(alias, state)}
    if aliases:
        body["aliases"] = aliases
    client.indices.create(**WAIT, index=name, body=body)


def _create_first(client, alias: str) -> str:
    """Create the archive's first physical index with the alias; return its name.

    It is made for filling, as a rebuild's is (no replica, no refresh), and marked
    "filling" with the replicas it gets when a run over it ends (``_end_filling``). The
    file records' index has its replicas from the start. Two first runs at once each
    create one: the alias then names both for a moment, and the one made later gives way.
    """
    shards, replicas = shards_and_replicas()
    name = _new_name(alias)
    _create(client, alias, name, FILLING, replicas, shards, FILL_SETTINGS,
            aliases={alias: {}}, meta=_meta(alias, FILLING, replicas))
    winner = sorted(client.indices.get_alias(name=alias))[0]
    if winner != name:
        client.indices.delete(**WAIT, index=[name, files.files_index(name)],
                              ignore_unavailable=True)
    return winner


def _remove_orphans(client, alias: str, current: str | None) -> None:
    """Delete what dead runs left: a half-built index of a rebuild, an old index that a
    rebuild had moved the alias away from, file records without their index."""
    pattern = re.compile(re.escape(alias) + r"-\d{8}t\d{6}-[0-9a-f]{6}")
    try:
        found = client.indices.get(**WAIT, index=f"{alias}-*",
                                   expand_wildcards="open,closed")
    except NotFoundError:
        return
    doomed = []
    for name, info in found.items():
        if name in (current, files.files_index(current or "")):
            continue
        if name.endswith(files.FILES_SUFFIX) and pattern.fullmatch(name[:-6]):
            created = int(info.get("settings", {}).get("index", {}).get("creation_date", 0))
            if name[:-6] not in found and \
                    files.now_millis() - created > ORPHAN_RECORDS_SECONDS * 1000:
                doomed.append(name)
            continue
        meta = (info.get("mappings", {}).get("_meta") or {}).get("searchapp") or {}
        if pattern.fullmatch(name) and meta.get("alias") == alias and _is_dead(meta):
            doomed += [name, files.files_index(name)]
    if doomed:
        client.indices.delete(**WAIT, index=doomed, ignore_unavailable=True)


def _is_dead(meta: dict) -> bool:
    """Tell whether the run that made an index (not behind the alias) is over."""
    if meta.get("state") != "building":
        return True  # a finished index the alias has moved away from
    return _builder_gone(meta)


def _builder_gone(meta: dict) -> bool:
    """Tell whether the run that last noted its heartbeat in ``meta`` is over."""
    if meta.get("host") == os.uname().nodename and not _process_alive(meta.get("pid")):
        return True
    return files.now_millis() - int(meta.get("heartbeat", 0)) > STALE_SECONDS * 1000


def _process_alive(pid) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _last_change(client, physical: str) -> datetime | None:
    try:
        answer = client.search(index=files.files_index(physical), body={
            "size": 0, "aggs": {"last": {"max": {"field": "indexed"}}}})
    except NotFoundError:
        return None  # an index searchapp did not make: no record of its changes
    value = answer["aggregations"]["last"].get("value")
    return datetime.fromtimestamp(value / 1000).astimezone() if value else None


def _day(millis) -> datetime | None:
    if millis is None:
        return None
    day = datetime.fromtimestamp(millis / 1000, timezone.utc)
    return datetime(day.year, day.month, day.day)


# ---------------------------------------------------------------------------------------
# An update and a rebuild


def _update(client, alias: str, physical: str, walk, report: IndexReport, progress,
            workers, first: bool = False) -> None:
    """Apply the changes under the run's folders to the archive's physical index.

    ``first``: this run made the archive, and notes while it fills that it is alive.
    """
    records = files.files_index(physical)
    _require_writable(client, physical)
    filling = _filling(client, physical)
    if filling and not first and _builder_gone(filling):
        _end_filling(client, alias, physical, filling)  # a first run that was killed
        filling = None
    # Make what a killed run wrote visible to the searches below.
    client.indices.refresh(**WAIT, index=[physical, records])
    indexed = files.read_records(client, records, walk.roots)
    changed, gone = plan_changes(walk, indexed, report)
    if changed or gone:
        beat = (lambda: _meta(alias, FILLING, filling.get("replicas"))) if first and filling \
            else None
        writer = Writer(client, physical, records, indexed, report, progress, beat=beat)
        try:
            writer.remove(sorted(gone))
            writer.announce([f for f in changed if f.key not in indexed])
            writer.write(read_files(changed, workers), changed)
            writer.finish(walk.roots)
        finally:
            writer.close()
    if filling:
        # Any run over a filling archive sets it back when done (the first run, or one
        # that ran beside it): what it wrote gets its replicas before it returns.
        _end_filling(client, alias, physical, filling)


def _filling(client, physical: str) -> dict | None:
    """Return the ``_meta`` of an archive being filled by its first run, else None."""
    mappings = client.indices.get_mapping(**WAIT, index=physical)[physical]["mappings"]
    meta = (mappings.get("_meta") or {}).get("searchapp") or {}
    return meta if meta.get("state") == FILLING else None


def _end_filling(client, alias: str, physical: str, meta: dict) -> None:
    """Give a filled archive its replicas and refreshes, and wait for the replicas' copy."""
    replicas = meta.get("replicas")
    if not isinstance(replicas, int) or replicas < 0:
        replicas = shards_and_replicas()[1]
    client.indices.flush(**WAIT, index=physical)  # see COPIED_AS_FILES
    client.indices.put_settings(**WAIT, index=physical, body={"index": {
        "number_of_replicas": replicas, "refresh_interval": None}})
    client.indices.refresh(**WAIT, index=physical)
    client.indices.put_mapping(**WAIT, index=physical, body={"_meta": _meta(alias, "live")})
    # The replicas are copied as files from the full index (not written document by
    # document as they would be from the start); a run ends with every copy in place, as
    # a first run always has, unless the copy takes longer than the wait (the cluster
    # answers 408 then, and goes on copying). Replicas that no node can take (too few
    # nodes) are not waited for.
    client.cluster.health(**WAIT, index=physical, wait_for_no_initializing_shards=True,
                          timeout=f"{REQUEST_TIMEOUT}s", ignore=408)


def _rebuild(client, alias, old, concrete, walk, report, progress, workers) -> None:
    """Build a new physical index from ``walk`` alone and move the alias to it."""
    shards, replicas = shards_and_replicas()
    name = _new_name(alias)
    # No replica and no refresh while it fills: both are set back before it is used.
    _create(client, alias, name, "building", 0, shards, {"refresh_interval": "-1"})
    try:
        report.unchanged = 0
        writer = Writer(client, name, files.files_index(name), {}, report, progress,
                        rebuild=alias, beat=lambda: _meta(alias, "building"))
        try:
            writer.write(read_files(walk.found, workers), walk.found)
            writer.finish(walk.roots)
        finally:
            writer.close()
        report.written = True
        client.indices.flush(**WAIT, index=[name, files.files_index(name)])  # COPIED_AS_FILES
        for index in (name, files.files_index(name)):
            client.indices.put_settings(**WAIT, index=index, body={"index": {
                "number_of_replicas": replicas, "refresh_interval": None}})
        # Searchable once refreshed; the replicas are copied from it in the background
        # (the cluster is yellow meanwhile), which under load takes longer than the build.
        client.indices.refresh(**WAIT, index=[name, files.files_index(name)])
        moves: list[dict] = [{"add": {"index": name, "alias": alias}}]
        if concrete:
            moves.insert(0, {"remove_index": {"index": old}})
        elif old:
            moves.insert(0, {"remove": {"index": old, "alias": alias}})
        client.indices.update_aliases(**WAIT, body={"actions": moves})
    except BaseException:
        try:
            client.indices.delete(**WAIT, index=[name, files.files_index(name)],
                                  ignore_unavailable=True)
        except TransportError:
            pass  # the next run deletes it (its builder is gone)
        raise
    # Marked finished only once behind the alias: an index not behind it that is marked
    # so is one the alias has left, which any run may delete.
    client.indices.put_mapping(**WAIT, index=name, body={"_meta": _meta(alias, "live")})
    if old and not concrete:
        client.indices.delete(**WAIT, index=[old, files.files_index(old)],
                              ignore_unavailable=True)


def _require_writable(client, physical: str) -> None:
    health = client.cluster.health(index=physical)
    if health["status"] == "red":
        raise IndexerError(f"the archive's index {physical} is red: some of its shards have no "
                           "copy on any running node; start the missing nodes, then run this "
                           "again")


class Writer:
    """Write files' articles in batches, deletions after them, each file's record last."""

    def __init__(self, client, physical: str, records: str, indexed: dict[str, str],
                 report: IndexReport, progress: Progress | None, rebuild: str | None = None,
                 beat: Callable[[], dict] | None = None):
        self.client = client
        self.beat = beat
        self.physical = physical
        self.records = records
        self.indexed = indexed
        self.report = report
        self.progress = progress
        self.rebuild = rebuild
        self.batch = Batch()
        self.owners: dict[str, str] = {}
        self.old: dict[str, set[str]] = {}
        self.announced: set[str] = set()  # new files: no article of theirs to look up
        self.done_bytes = 0
        self.total_bytes = 0
        self.articles = 0
        self.heartbeat = time.monotonic()
        self.sent: deque[Request] = deque()  # requests out, oldest first
        self.stopping = threading.Event()

    # What each file needs.

    def remove(self, gone: list[str]) -> None:
        """Delete the articles of files gone from the run's folders, then their records."""
        for start in range(0, len(gone), BATCH_LOOKUP):
            keys = gone[start:start + BATCH_LOOKUP]
            self._look_up(keys)
            for key in keys:
                job = FileJob(key, None, self.old.pop(key, set()), gone=True)
                self.report.removed += len(job.old)
                for article_id in sorted(job.old):
                    self._queue(job, Action("delete", self.physical, article_id, tag=job))
                self._complete(job)
        # Gone files' ids are free for the files read below.
        self._drain()

    def announce(self, new: list[SourceFile]) -> None:
        """Record new files as being written, before any of their articles is."""
        for source in new:
            self.announced.add(source.key)
            self._add(Action("index", self.records, files.record_id(source.key),
                             _json(files.file_record(source.key, files.BEING_WRITTEN, 0))))
            self.indexed[source.key] = files.BEING_WRITTEN
        self._drain()

    def write(self, reads: Iterator[FileRead], changed: list[SourceFile]) -> None:
        """Write the files' new articles and delete those their new versions lack."""
        self.total_bytes = sum(f.size for f in changed)
        recorded = [f.key for f in changed
                     if f.key in self.indexed and f.key not in self.announced]
        looked_up = 0
        for read in reads:
            while looked_up < len(recorded) and read.source.key not in self.old and \
                    read.source.key in self.indexed and read.source.key not in self.announced:
                self._look_up(recorded[looked_up:looked_up + BATCH_LOOKUP])
                looked_up += BATCH_LOOKUP
            self._write_file(read)
            self.done_bytes += read.source.size
            self._report_progress(0)
        self._drain()

    def finish(self, roots: list[Path]) -> None:
        """Leave the run's own record and make the run visible to readers."""
        if self.report.indexed or self.report.removed or self.rebuild:
            self.report.written = True
            run_id, body = files.run_record(roots)
            self._add(Action("index", self.records, run_id, _json(body)))
            self._drain()
        if not self.rebuild:
            self.client.indices.refresh(**WAIT, index=[self.physical, self.records])

    # One file.

    def _write_file(self, read: FileRead) -> None:
        """Queue a file's articles (in one batch when they fit in one), then the deletion of
        those its new version lacks."""
        source = read.source
        job = FileJob(source.key, source, self.old.pop(source.key, set()))
        held: list[Action] = []  # the first actions, held back until they fill a batch
        held_bytes, streaming = 0, False
        for _, item in read.items:
            if not isinstance(item, Skip) and (problem := self._conflict(item.id, source.key)):
                item = Skip(item.origin, problem)
            if isinstance(item, Skip):
                self.report.skipped.append(item)
                continue
            action = self._article(item, job)
            if streaming:
                self._queue(job, action)
                continue
            held.append(action)
            held_bytes += len(action.source)
            if len(held) >= bulk.BATCH_DOCS or held_bytes >= bulk.BATCH_BYTES:
                streaming = True
                for action in held:
                    self._queue(job, action)
                held = []
            if self.articles % PROGRESS_EVERY == 0:
                self._report_progress(_bytes_read(source))
        if not job.ids:
            # An unusable new version never replaces a usable old one.
            if self.indexed.get(source.key) == files.BEING_WRITTEN and not job.old:
                self._add(Action("delete", self.records, files.record_id(source.key)))
            return
        held += [Action("delete", self.physical, i, tag=job) for i in job.old - job.ids]
        if not streaming and len(self.batch) and _would_overflow(self.batch, held):
            self._flush()
        for action in held:
            self._queue(job, action)
        self._complete(job)

    def _article(self, entry: Entry, job: FileJob) -> Action:
        self.owners[entry.id] = job.key
        job.ids.add(entry.id)
        self.articles += 1
        op = "index" if self.rebuild or entry.id in job.old else "create"
        return Action(op, self.physical, entry.id, entry.document, tag=job)

    def _conflict(self, article_id: str, key: str) -> str | None:
        """Say why ``article_id`` cannot be taken by file ``key`` (in this run), or None."""
        owner = self.owners.get(article_id)
        if owner is None:
            return None
        if owner == key:
            return f"id {article_id!r} appears more than once in this file"
        return f"id {article_id!r} is already used by {owner}"

    def _queue(self, job: FileJob, action: Action) -> None:
        job.waiting += 1
        self._add(action)

    def _complete(self, job: FileJob) -> None:
        """Note that all of a file's actions are queued; finish it if all are answered."""
        job.complete = True
        if job.waiting == 0:
            self._finished(job)

    def _finished(self, job: FileJob) -> None:
        """Count what a file's change did and write its record, now that all of it is in."""
        kept = job.ids - job.refused
        if job.gone:
            self._add(Action("delete", self.records, files.record_id(job.key)))
            return
        self.report.added += len(kept - job.old)
        self.report.updated += len(kept & job.old)
        self.report.removed += len(job.old - job.ids)
        if kept:
            record = files.file_record(job.key, job.source.signature, len(kept))
            self._add(Action("index", self.records, files.record_id(job.key), _json(record)))

    # Batches.

    def _add(self, action: Action) -> None:
        self.batch.add(action)
        if self.batch.full:
            self._flush()

    def _flush(self) -> None:
        """Send the batch, once fewer than ``IN_FLIGHT`` requests are out."""
        batch, self.batch = self.batch, Batch()
        if not len(batch):
            return
        while len(self.sent) >= IN_FLIGHT:
            self._answered()
        self.sent.append(Request(self.client, batch.actions, self.stopping))

    def _answered(self) -> None:
        """Wait for the oldest request's answer and act on it (here, never in its thread)."""
        for outcome in self.sent.popleft().outcomes():
            job = outcome.action.tag
            if outcome.conflict:
                self._refuse(job, outcome.action.id)
            if isinstance(job, FileJob):
                job.waiting -= 1
                if job.waiting == 0 and job.complete:
                    self._finished(job)
        self._beat()

    def _drain(self) -> None:
        """Send everything queued and wait for every answer, records that became due
        included."""
        while len(self.batch) or self.sent:
            if len(self.batch):
                self._flush()
            else:
                self._answered()

    def close(self) -> None:
        """Stop the requests still out from retrying (a run that failed)."""
        self.stopping.set()

    def _refuse(self, job: FileJob, article_id: str) -> None:
        """Note an id another file (of another run) holds, unless it is this file's own."""
        try:
            owner = self.client.get(index=self.physical, id=article_id,
                                    _source_includes=["source"])["_source"].get("source")
        except NotFoundError:
            owner = None
        if owner == job.key:
            return  # written by this run's own earlier attempt
        job.refused.add(article_id)
        self.articles -= 1
        self.report.skipped.append(Skip(job.key, f"id {article_id!r} is already used by "
                                                 f"{owner or 'another file'}"))

    def _look_up(self, keys: list[str]) -> None:
        """Find the ids of the articles the cluster holds from each of ``keys``."""
        for key in keys:
            self.old.setdefault(key, set())
        query = {"terms": {"source": keys}}
        for hit in files.scan_sorted(self.client, self.physical, query, "id", ["source"]):
            self.old.setdefault(hit["_source"]["source"], set()).add(hit["_id"])

    def _report_progress(self, within: int) -> None:
        if self.progress:
            done = min(self.done_bytes + within, self.total_bytes)
            self.progress(done, self.total_bytes, self.articles)

    def _beat(self) -> None:
        """Note in an index being built or filled, now and then, that its builder is alive."""
        if self.beat and time.monotonic() - self.heartbeat > HEARTBEAT_SECONDS:
            self.heartbeat = time.monotonic()
            self.client.indices.put_mapping(**WAIT, index=self.physical,
                                            body={"_meta": self.beat()})


class Request:
    """One bulk request, sent from a thread of its own so that the indexer reads on."""

    def __init__(self, client, actions: list[Action], stopping: threading.Event):
        self.actions = actions
        self.stopping = stopping
        self.answer: list[Outcome] | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._send, args=(client,), daemon=True)
        self.thread.start()

    def outcomes(self) -> list[Outcome]:
        """Return each action's outcome; raise what sending raised."""
        self.thread.join()
        if self.error is not None:
            raise self.error
        return self.answer

    def _send(self, client) -> None:
        try:
            self.answer = send(client, self.actions, sleep=self._pause)
        except BaseException as error:  # noqa: BLE001 - raised in the indexer's thread
            self.error = error

    def _pause(self, seconds: float) -> None:
        if self.stopping.wait(seconds):
            raise IndexerError("stopped: another request of the run failed")


class FileJob:
    """One file's change under way: its old ids, its new ones, actions not yet answered."""

    def __init__(self, key: str, source: SourceFile | None, old: set[str], gone=False):
        self.key = key
        self.source = source
        self.old = old
        self.gone = gone
        self.ids: set[str] = set()
        self.refused: set[str] = set()
        self.waiting = 0  # actions sent or queued and not yet answered
        self.complete = False  # all its actions are queued


def _would_overflow(batch: Batch, actions: list[Action]) -> bool:
    size = sum(len(a.id) + len(a.source or b"") + 40 + len(a.index) for a in actions)
    return len(batch) + len(actions) > bulk.BATCH_DOCS or batch.size + size > bulk.BATCH_BYTES


def _bytes_read(source: SourceFile) -> int:
    """Return how far into ``source`` its reader is, short of the end."""
    return max(0, min(source.extra.get("bytes_read", 0), source.size - 1))


def _json(body: dict) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode("utf-8")
