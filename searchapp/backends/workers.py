"""How an indexing run's worker processes start, for either engine's indexer.

A worker is forked when the indexer has no other thread, so it begins at once with the
indexer's modules imported; otherwise it is spawned and imports them again. Either way it
starts with Ctrl-C and SIGTERM held until it has set its own handlers, and the garbage
collector looks at new objects less often while a run reads and indexes.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import signal
import threading

# Objects the cyclic garbage collector lets build up before it looks at the youngest,
# while indexing (700 by default). An article's objects mostly live until its segment is
# written, so each look found them alive again: on half of Reuters-21578, 453 collections
# took 0.29 s of a worker's 7.7 s of CPU; 4 take 0.08 s, and the peak memory is the same.
GC_THRESHOLD = 50_000

# Signals that stop a run: a worker holds them from its start until it sets its handlers.
STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


@contextlib.contextmanager
def fewer_collections():
    """Let the garbage collector look at new objects less often (``GC_THRESHOLD``) for
    the block, then as before; workers forked inside it start with it."""
    before = gc.get_threshold()
    gc.set_threshold(max(GC_THRESHOLD, before[0]), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def start_method() -> str:
    """Choose how to start workers: forked, they begin at once with the indexer imported;
    spawned, each first imports it again (about 0.15-0.4 s of CPU, BENCHMARKS.md).

    A process with other threads spawns them: a fork copies only the calling thread, and
    with it any lock another thread held at that moment.
    """
    forks = "fork" in multiprocessing.get_all_start_methods()
    return "fork" if forks and threading.active_count() == 1 else "spawn"


@contextlib.contextmanager
def stop_signals_held():
    """Hold Ctrl-C and SIGTERM while a worker starts: it begins with them held (a forked
    one with the command's handlers, which raise KeyboardInterrupt, with a traceback),
    and lets them through once its own are set (``as_worker``). Here they arrive after
    the start."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    held = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def as_worker() -> None:
    """Set up a worker process as it starts: Ctrl-C reaches the whole process group and
    the indexer itself stops its workers, so a worker ignores it; SIGTERM (how the indexer
    stops one) ends it, whatever handler a fork inherited. Then the signals held since
    its start are let through, and garbage is collected as the indexer's is."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    gc.set_threshold(max(GC_THRESHOLD, gc.get_threshold()[0]), *gc.get_threshold()[1:])
