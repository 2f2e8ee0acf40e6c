"""Faults: a killed indexer, two indexers at once, searching during commits, a full disk.

Every test here ends the same way: the index opens and holds exactly the articles of its
last commit, and the next run completes. Run with ``-rP`` to see the figures each test
prints (kills that landed, runs completed, searches served).
"""

from __future__ import annotations

import builtins
import errno
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import write_articles
from whoosh.filedb import filestore

from searchapp.backends.whoosh import WhooshArchive as Archive
from searchapp.backends.whoosh.indexing import INDEX_NAME, IndexerError, open_index, update_index
from searchapp.cli import main as cli_main

# Whoosh only: the Whoosh writer killed mid-run, its lock and its files on disk (a cluster's
# faults are tested in test_opensearch_faults.py).
pytestmark = pytest.mark.whoosh_only

# Seeded, so a failure can be replayed kill for kill.
KILL_SEED = 21578
BUILD_KILLS = 10
UPDATE_KILLS = 10
MAX_ATTEMPTS = 40
MIN_DELAY = 0.05
WORDS = ("market trade oil bank rates shares profit grain wheat dollar yen bond "
         "harvest tariff export import freight copper cocoa sugar").split()


def index_command(folder: Path, index_dir: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "searchapp", "index", str(folder), "--index-dir",
            str(index_dir), *extra]


def run_indexer(folder: Path, index_dir: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(index_command(folder, index_dir, *extra), capture_output=True,
                          text=True, timeout=300)


def kill_after(command: list[str], delay: float) -> bool:
    """Run ``command``, SIGKILL it after ``delay`` seconds; True when the kill landed."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        process.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
    process.wait()
    if process.returncode != -signal.SIGKILL:
        assert process.returncode == 0, f"an unkilled run failed with {process.returncode}"
    return process.returncode == -signal.SIGKILL


def snapshot(index_dir: Path) -> dict[str, str]:
    """Return {id: headline} of the committed index ({} when there is none yet).

    Also checks that the index opens, that an article can be read, and that no id is held twice.
    """
    ix = open_index(index_dir)
    if ix is None:
        return {}
    with ix.searcher() as searcher:
        fields = list(searcher.all_stored_fields())
        assert searcher.doc_count() == len(fields)
    articles = {f["id"]: f["headline"] for f in fields}
    assert len(articles) == len(fields), "an id is in the index twice"
    if articles:
        some_id = min(articles)
        assert Archive(index_dir).article(some_id).headline == articles[some_id]
    return articles


def sentence(rng: random.Random, words: int = 24) -> str:
    return " ".join(rng.choices(WORDS, k=words)).capitalize() + "."


def write_batch(folder: Path, tag: str, records: int, files: int, seed: int,
                prefix: str = "") -> dict[str, str]:
    """Write a JSON Lines feed and small text files; return the {id: headline} they hold.

    ``prefix`` is the folder's path under the indexed folder, which text files' ids start with.
    """
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    expected = {}
    with open(folder / f"{tag}-feed.jsonl", "w", encoding="utf-8") as feed:
        for i in range(records):
            headline = f"{tag.title()} Record {i} On {rng.choice(WORDS).title()}"
            feed.write(json.dumps({"id": f"{tag}-r{i}", "headline": headline,
                                   "body": sentence(rng, 40)}) + "\n")
            expected[f"{tag}-r{i}"] = headline
    for i in range(files):
        headline = f"{tag.title()} Report Number {i} On {rng.choice(WORDS).title()}"
        text = f"{headline}\n\n{sentence(rng)}\n\n{sentence(rng)}\n"
        (folder / f"{tag}-{i:04}.txt").write_text(text, encoding="utf-8")
        expected[f"{prefix}{tag}-{i:04}"] = headline
    return expected


def test_faults_sigkill_during_a_full_build(tmp_path):
    folder = tmp_path / "articles"
    full = write_batch(folder, "build", records=1500, files=300, seed=1)
    started = time.monotonic()
    calibration = run_indexer(folder, tmp_path / "calibration")
    run_seconds = time.monotonic() - started
    assert calibration.returncode == 0, calibration.stderr
    assert snapshot(tmp_path / "calibration") == full

    rng = random.Random(KILL_SEED)
    kills = completed = resumed = 0
    index_dir = None
    for attempt in range(MAX_ATTEMPTS):
        if kills >= BUILD_KILLS:
            break
        if index_dir is None or snapshot(index_dir) == full:
            index_dir = tmp_path / f"ix-{attempt}"  # a fresh build...
        else:
            resumed += 1  # ...or the next run over what the last kill left
        if kill_after(index_command(folder, index_dir), rng.uniform(MIN_DELAY, run_seconds)):
            kills += 1
        else:
            completed += 1
        assert snapshot(index_dir) in ({}, full)
    assert kills >= BUILD_KILLS
    finish = run_indexer(folder, index_dir)
    assert finish.returncode == 0, finish.stderr
    assert snapshot(index_dir) == full
    print(f"full build: {kills} kills landed, {completed} runs finished before their kill, "
          f"{resumed} runs resumed a killed build; {len(full)} articles; "
          f"a full run took {run_seconds:.1f} s")


def test_faults_sigkill_during_incremental_updates(tmp_path):
    folder = tmp_path / "articles"
    index_dir = tmp_path / "index"
    base = write_batch(folder, "base", records=500, files=100, seed=2)
    edited = folder / "base-0000.txt"
    assert run_indexer(folder, index_dir).returncode == 0
    assert snapshot(index_dir) == base

    def next_version(number: int) -> dict[str, str]:
        """Replace the batch folder with new articles and edit one base article."""
        shutil.rmtree(folder / "batch", ignore_errors=True)
        expected = dict(base)
        expected.update(write_batch(folder / "batch", f"u{number}", records=1000, files=200,
                                    seed=100 + number, prefix="batch/"))
        headline = f"Edited Headline Version {number}"
        edited.write_text(f"{headline}\n\n{sentence(random.Random(number))}\n", encoding="utf-8")
        os.utime(edited, ns=(time.time_ns(), time.time_ns() + number))
        expected["base-0000"] = headline
        return expected

    target = next_version(0)
    started = time.monotonic()
    assert run_indexer(folder, index_dir).returncode == 0
    run_seconds = time.monotonic() - started
    assert snapshot(index_dir) == target

    rng = random.Random(KILL_SEED + 1)
    kills = completed = 0
    for attempt in range(1, MAX_ATTEMPTS):
        if kills >= UPDATE_KILLS:
            break
        committed = snapshot(index_dir)
        target = next_version(attempt)
        if kill_after(index_command(folder, index_dir), rng.uniform(MIN_DELAY, run_seconds)):
            kills += 1
        else:
            completed += 1
        assert snapshot(index_dir) in (committed, target)
    assert kills >= UPDATE_KILLS
    finish = run_indexer(folder, index_dir)
    assert finish.returncode == 0, finish.stderr
    assert snapshot(index_dir) == target
    print(f"incremental updates: {kills} kills landed, {completed} runs finished before "
          f"their kill; each update replaces {len(target) - len(base)} articles of "
          f"{len(target)}; an update took {run_seconds:.1f} s")


def holds_lock(pid: int, lock_file: Path) -> bool:
    """Tell from /proc/locks whether process ``pid`` holds the flock on ``lock_file``."""
    try:
        inode = lock_file.stat().st_ino
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return False
    for line in lines:
        parts = line.split()
        if "FLOCK" in parts and str(pid) in parts:
            if any(p.count(":") == 2 and p.rsplit(":", 1)[1] == str(inode) for p in parts):
                return True
    return False


@pytest.mark.skipif(not Path("/proc/locks").exists(), reason="needs Linux's /proc/locks")
def test_faults_two_indexers_at_once(tmp_path):
    folder = tmp_path / "articles"
    index_dir = tmp_path / "index"
    base = write_batch(folder, "base", records=50, files=10, seed=3)
    assert run_indexer(folder, index_dir).returncode == 0
    everything = {**base, **write_batch(folder / "batch", "two", records=1500, files=100, seed=4,
                                          prefix="batch/")}
    first = subprocess.Popen(index_command(folder, index_dir), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not holds_lock(first.pid, index_dir / f"{INDEX_NAME}_WRITELOCK"):
            assert first.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)
        # Freeze the first indexer while it holds the lock, so the race is decided.
        first.send_signal(signal.SIGSTOP)
        second = run_indexer(folder, index_dir)
    finally:
        first.send_signal(signal.SIGCONT)
    out, err = first.communicate(timeout=300)
    assert second.returncode == 4
    assert "locked" in second.stderr and "Traceback" not in second.stderr
    assert first.returncode == 0, err
    assert snapshot(index_dir) == everything
    again = run_indexer(folder, index_dir)
    assert again.returncode == 0 and "No changes" in again.stdout
    print(f"two indexers: the second exited 4 ({second.stderr.strip()!r}); "
          f"the first committed {len(everything)} articles")


def test_faults_searching_while_the_indexer_commits(archive_dir, index_dir, app):
    archive = Archive(index_dir)
    batches, per_batch = 4, 150
    stop = threading.Event()
    errors: list[str] = []
    totals: dict[str, list[int]] = {}

    def read(name: str, count) -> None:
        seen = totals.setdefault(name, [])
        while not stop.is_set():
            try:
                seen.append(count())
            except Exception as error:  # noqa: BLE001 - every failure is a finding
                errors.append(f"{name}: {error!r}")

    def by_archive() -> int:
        assert archive.search("border", sort="newest").total >= 2
        return archive.search("zanzibar", per_page=5).total

    def by_api() -> int:
        client = app.test_client()
        response = client.get("/api/search?q=zanzibar+trade&sort=oldest")
        assert response.status_code == 200, response.status_code
        page = client.get("/?q=zanzibar")
        assert page.status_code == 200, page.status_code
        return response.get_json()["total"]

    readers = [threading.Thread(target=read, args=(f"{kind}-{i}", fn))
               for i in range(2) for kind, fn in (("archive", by_archive), ("api", by_api))]
    for thread in readers:
        thread.start()
    try:
        for batch in range(batches):
            write_articles(archive_dir, {
                f"batch-{batch}/z{i:03}.txt":
                    f"Zanzibar Trade Story {batch} {i}\n\nThe zanzibar trade report {i}."
                for i in range(per_batch)})
            result = run_indexer(archive_dir, index_dir)
            assert result.returncode == 0, result.stderr
            # The same Archive sees the commit: no new one, no restart.
            assert archive.search("zanzibar").total == (batch + 1) * per_batch
        # A rebuild replaces every segment while the readers go on.
        result = run_indexer(archive_dir, index_dir, "--rebuild")
        assert result.returncode == 0, result.stderr
        time.sleep(0.5)
    finally:
        stop.set()
        for thread in readers:
            thread.join(timeout=60)
    assert errors == []
    final = batches * per_batch
    for name, seen in totals.items():
        assert seen, f"{name} never searched"
        assert seen == sorted(seen), f"{name} saw articles disappear"
        assert seen[-1] == final
    served = sum(len(seen) for seen in totals.values())
    print(f"searching during commits: {served} searches in 4 threads across "
          f"{batches} commits and a rebuild, 0 errors")


class DiskSpace:
    """A disk with ``left`` bytes free: writes past it fail with ENOSPC, and so does any
    write to a file whose name contains ``full_for`` (such as the table of contents)."""

    def __init__(self, left: float = float("inf"), full_for: str | None = None):
        self.left = left
        self.full_for = full_for
        self.written = 0

    def open(self, path, mode="r", *args, **kwargs):
        if not any(flag in mode for flag in "wax+"):
            return builtins.open(path, mode, *args, **kwargs)
        return _LimitedFile(path, mode.replace("b", ""), self)


class _LimitedFile(io.FileIO):
    def __init__(self, path, mode, disk: DiskSpace):
        super().__init__(path, mode)
        self.disk = disk

    def write(self, data) -> int:
        size = memoryview(data).nbytes
        if size > self.disk.left or (self.disk.full_for and self.disk.full_for in self.name):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), self.name)
        self.disk.left -= size
        self.disk.written += size
        return super().write(data)


def new_articles(count: int) -> dict[str, str]:
    return {f"new/n{i:03}.txt": f"Fresh Article {i}\n\nA fresh report on copper {i}."
            for i in range(count)}


def measure_commit_bytes(archive_dir: Path, index_dir: Path, tmp_path: Path, monkeypatch) -> int:
    """Return how many bytes the coming update writes, measured on a copy of the index."""
    probe = tmp_path / "probe"
    shutil.copytree(index_dir, probe)
    disk = DiskSpace()
    with monkeypatch.context() as patch:
        patch.setattr(filestore, "open", disk.open, raising=False)
        update_index([archive_dir], probe)
    return disk.written


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.5, 0.9, "table of contents"])
def test_faults_full_disk_during_a_commit(archive_dir, index_dir, tmp_path, monkeypatch,
                                          fraction):
    before = snapshot(index_dir)
    write_articles(archive_dir, new_articles(60))
    total = measure_commit_bytes(archive_dir, index_dir, tmp_path, monkeypatch)
    if fraction == "table of contents":  # the very last file a commit writes
        disk = DiskSpace(full_for=f"_{INDEX_NAME}_")
    else:
        disk = DiskSpace(int(total * fraction))
    with monkeypatch.context() as patch:
        patch.setattr(filestore, "open", disk.open, raising=False)
        with pytest.raises(IndexerError, match="could not write the index") as failure:
            update_index([archive_dir], index_dir)
    assert "No space left on device" in str(failure.value)
    assert snapshot(index_dir) == before
    report = update_index([archive_dir], index_dir)
    assert report.added == 60 and not report.skipped
    assert len(snapshot(index_dir)) == len(before) + 60


def test_faults_full_disk_exits_5_with_a_clear_message(archive_dir, index_dir, tmp_path,
                                                       monkeypatch, runner):
    before = snapshot(index_dir)
    write_articles(archive_dir, new_articles(20))
    total = measure_commit_bytes(archive_dir, index_dir, tmp_path, monkeypatch)
    disk = DiskSpace(total // 2)
    with monkeypatch.context() as patch:
        patch.setattr(filestore, "open", disk.open, raising=False)
        result = runner.invoke(cli_main, ["index", str(archive_dir), "--index-dir", str(index_dir)])
    assert result.exit_code == 5, result.output
    assert "could not write the index" in result.stderr
    assert "No space left on device" in result.stderr and "Traceback" not in result.output
    assert snapshot(index_dir) == before
    assert runner.invoke(cli_main, ["index", str(archive_dir), "--index-dir",
                                    str(index_dir)]).exit_code == 0


def refuse_writes(monkeypatch, index_dir: Path, error: int, lock_too: bool) -> None:
    """Make ``index_dir`` unwritable: creating files fails, and opening the lock file too
    when ``lock_too`` (a read-only file system rather than a read-only folder)."""
    folder = str(index_dir.resolve())
    real_os_open = os.open

    def inside(path) -> bool:
        return os.path.abspath(os.fspath(path)).startswith(folder + os.sep)

    def guarded_open(path, mode="r", *args, **kwargs):
        if any(flag in mode for flag in "wax+") and inside(path):
            raise OSError(error, os.strerror(error), os.fspath(path))
        return builtins.open(path, mode, *args, **kwargs)

    def guarded_os_open(path, flags, *args, **kwargs):
        if lock_too and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT) and inside(path):
            raise OSError(error, os.strerror(error), os.fspath(path))
        return real_os_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(filestore, "open", guarded_open, raising=False)
    monkeypatch.setattr(os, "open", guarded_os_open)


@pytest.mark.parametrize(("error", "lock_too"), [
    (errno.EACCES, False),  # a folder made read-only: the lock file exists, nothing new
    (errno.EROFS, True),    # a read-only file system: not even the lock can be taken
])
def test_faults_unwritable_index_folder(archive_dir, index_dir, monkeypatch, runner, error,
                                        lock_too):
    before = snapshot(index_dir)
    write_articles(archive_dir, new_articles(10))
    with monkeypatch.context() as patch:
        refuse_writes(patch, index_dir, error, lock_too)
        with pytest.raises(IndexerError, match="write") as failure:
            update_index([archive_dir], index_dir)
        result = runner.invoke(cli_main, ["index", str(archive_dir), "--index-dir", str(index_dir)])
    assert os.strerror(error) in str(failure.value)
    assert result.exit_code == 5 and os.strerror(error) in result.stderr
    assert "Traceback" not in result.output
    assert snapshot(index_dir) == before
    assert update_index([archive_dir], index_dir).added == 10


# Imported by every spawned worker process at start-up (through PYTHONPATH), and run in
# the test's own process for forked ones, so that all processes share one disk of
# FAULT_DISK_BYTES for the folder FAULT_DISK_FOLDER: a write that would take the folder
# past it fails with ENOSPC.
SHARED_DISK = '''
import builtins, errno, io, os

FOLDER = os.environ.get("FAULT_DISK_FOLDER")


def used():
    total = 0
    for base, _, names in os.walk(FOLDER):
        for name in names:
            try:
                total += os.path.getsize(os.path.join(base, name))
            except OSError:
                pass  # deleted meanwhile
    return total


class LimitedFile(io.FileIO):
    def write(self, data):
        size = memoryview(data).nbytes
        if used() + size > int(os.environ["FAULT_DISK_BYTES"]):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), self.name)
        return super().write(data)


def limited_open(path, mode="r", *args, **kwargs):
    if not any(flag in mode for flag in "wax+"):
        return builtins.open(path, mode, *args, **kwargs)
    raw = LimitedFile(path, mode.replace("b", ""))
    return io.BufferedRandom(raw) if "+" in mode else io.BufferedWriter(raw)  # as open() does


if FOLDER:
    from whoosh.filedb import filestore
    filestore.open = limited_open
'''


def folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


@pytest.mark.parametrize("fraction", [0.2, 0.9])
def test_faults_full_disk_during_a_parallel_run_leaves_nothing_behind(
        archive_dir, index_dir, tmp_path, monkeypatch, fraction):
    import searchapp.backends.whoosh.indexing as indexing

    monkeypatch.setattr(indexing, "PARALLEL_MIN_BYTES", 0)
    rng = random.Random(9)
    records = [json.dumps({"id": f"wire-{n}", "headline": f"Wire {n}",
                           "body": " ".join(rng.choices(WORDS, k=200)) + f" item{n}"})
               for n in range(600)]
    write_articles(archive_dir, {"wire.jsonl": "\n".join(records), **new_articles(40)})
    probe = tmp_path / "probe"
    shutil.copytree(index_dir, probe)
    update_index([archive_dir], probe, workers=2)
    growth = folder_bytes(probe) - folder_bytes(index_dir)

    before, names = snapshot(index_dir), sorted(os.listdir(index_dir))
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SHARED_DISK)
    with monkeypatch.context() as patch:
        patch.setenv("PYTHONPATH", str(site))
        patch.setenv("FAULT_DISK_FOLDER", str(index_dir))
        patch.setenv("FAULT_DISK_BYTES", str(folder_bytes(index_dir) + int(growth * fraction)))
        # Forked workers start with this process's modules: the same disk, patched here
        # too (the patch is undone with the others: Whoosh's module has no `open` of its own).
        patch.setattr(filestore, "open", open, raising=False)
        exec(SHARED_DISK, {})
        for _ in range(2):  # a retry on the same full disk adds nothing either
            with pytest.raises(IndexerError, match="No space left on device"):
                update_index([archive_dir], index_dir, workers=2)
            assert sorted(os.listdir(index_dir)) == names  # no segment files, no MAIN.tmp
            assert snapshot(index_dir) == before

    report = update_index([archive_dir], index_dir, workers=2)
    assert report.added == 640 and not report.skipped
    assert len(snapshot(index_dir)) == len(before) + 640
    print(f"full disk at {fraction:.0%} of a 2-worker run ({growth:,} bytes): "
          f"0 files left behind, twice; the next run added {report.added}")
