"""Run the web app under waitress, in one process or in several sharing one socket.

Python runs one thread of a process at a time, so more requests per second on more
cores take more processes. With ``workers`` above one, this process opens the
listening socket and forks that many workers, each a waitress server with its own
threads on the same socket; the kernel hands each new connection to one of them.

Every server process holds its clients to ``Limits``: a connection that sends nothing
for ``timeout`` seconds, or takes longer than that to send one whole request, is
closed (waitress alone only closes connections that send nothing for two minutes, so
a hundred half-sent request lines locked everyone else out). A worker that dies is
replaced after a pause that doubles with each failure; after ``GIVE_UP_FAILURES``
failures within ``FAILURE_WINDOW_SECONDS``, serving stops with ``WorkersFailing``.
SIGTERM or Ctrl-C stops accepting connections, lets the requests in flight finish
(for at most ``Limits.shutdown_timeout`` seconds) and then returns.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import waitress
from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.task import ErrorTask, WSGITask

from searchapp.config import ConfigError

log = logging.getLogger("searchapp.serving")

# A worker that exits is replaced after RESTART_PAUSE_SECONDS, doubled for each other
# failure in the last FAILURE_WINDOW_SECONDS; GIVE_UP_FAILURES failures in that window
# mean it cannot start, and serving stops.
RESTART_PAUSE_SECONDS = 0.5
FAILURE_WINDOW_SECONDS = 30.0
GIVE_UP_FAILURES = 5
# How often overdue connections are looked for, and how long one turn of the loop waits.
CHECK_SECONDS = 1
LOOP_SECONDS = 0.2
# On SIGTERM, connections are kept this long for requests already on their way.
DRAIN_GRACE_SECONDS = 0.5
# File descriptors a server process needs besides its client connections.
SPARE_FILES = 64
# The WSGI environ key of a list of calls for after the answer is sent: the app leaves
# there what the client need not wait for (the access log line, ``observability``).
AFTER_RESPONSE = "searchapp.after_response"


@dataclass(frozen=True)
class Limits:
    """What one server process allows its clients; the defaults are the README's."""

    connections: int = 1000           # open connections; more wait in the listen backlog
    timeout: int = 10                 # seconds to send a request, or to stay idle
    max_body: int = 64 * 1024         # bytes of request body (the service takes none)
    max_header: int = 32 * 1024       # bytes of request line and headers
    backlog: int = 1024               # connections the kernel queues before accepting
    shutdown_timeout: float = 10.0    # seconds given to requests in flight on SIGTERM


class WorkersFailing(Exception):
    """Worker processes keep exiting soon after they start: serving was stopped."""


# The signals that stop the server (and its workers) gracefully.
STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


class Stop(Exception):
    """Ctrl-C or SIGTERM in the parent of the workers: stop serving."""


def serve(make_app: Callable, host: str, port: int, threads: int, workers: int,
          ready: Callable[[], None], limits: Limits = Limits(),
          error_headers: Iterable[tuple[str, str]] = ()) -> None:
    """Serve ``make_app()`` on ``host:port`` until stopped; ``ready`` is called once listening.

    ``error_headers`` are added to the answers waitress itself gives (400, 413, 431, 500, 501).

    :raises OSError: when the address cannot be listened on.
    :raises WorkersFailing: when workers keep exiting (their errors are logged).
    """
    listener = _listen(host, port, limits.backlog)
    _allow_open_files(limits.connections + SPARE_FILES)
    error_headers = tuple(error_headers)
    try:
        if workers == 1 or not hasattr(os, "fork"):
            server = _create_server(make_app(), listener, threads, limits, error_headers)
            ready()
            _run(server, limits)
            return
        ready()
        _supervise(make_app, listener, threads, workers, limits, error_headers)
    finally:
        listener.close()


def _supervise(make_app: Callable, listener: socket.socket, threads: int, workers: int,
               limits: Limits, error_headers: tuple) -> None:
    """Keep ``workers`` worker processes running until stopped or until they keep failing."""
    children: dict[int, float] = {}
    failures: deque[float] = deque()
    next_start = 0.0
    _raise_stop_on(signal.SIGTERM, signal.SIGINT)
    try:
        while True:
            now = time.monotonic()
            if len(children) < workers:
                if now < next_start:
                    time.sleep(next_start - now)
                    continue
                children[_fork_worker(make_app, listener, threads, limits, error_headers)] = now
                continue
            pid, status = os.wait()
            started = children.pop(pid, None)
            if started is None:
                continue
            _forget_metrics_of(pid)
            now = time.monotonic()
            failures.append(now)
            while failures[0] < now - FAILURE_WINDOW_SECONDS:
                failures.popleft()
            how = _exit_description(status)
            if len(failures) >= GIVE_UP_FAILURES:
                raise WorkersFailing(
                    f"workers failed {len(failures)} times within "
                    f"{FAILURE_WINDOW_SECONDS:.0f} s (the last one {how} "
                    f"{now - started:.1f} s after it started); giving up. "
                    "The workers' errors are above.")
            pause = RESTART_PAUSE_SECONDS * 2 ** (len(failures) - 1)
            next_start = now + pause
            log.warning("worker %d %s after %.1f s; starting another in %.1f s",
                        pid, how, now - started, pause)
    except (Stop, KeyboardInterrupt):
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # stopping now; no second Stop
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        listener.close()  # with the workers' copies closed too, new connections are refused
        for pid in children:
            _signal(pid, signal.SIGTERM)
        _reap_all(children, limits.shutdown_timeout + 5)


def _exit_description(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"was killed by signal {os.WTERMSIG(status)}"
    return f"exited with code {os.waitstatus_to_exitcode(status)}"


def _fork_worker(make_app: Callable, listener: socket.socket, threads: int, limits: Limits,
                 error_headers: tuple) -> int:
    """Start one worker process serving on ``listener`` and return its pid."""
    # A stop signal must not reach the new worker while Python is still setting it up
    # after the fork (the inherited handler would raise there, outside any try): it is
    # held until the worker's own code runs, and then ends it cleanly.
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    # Known before the fork: a parent killed while the worker opens the app is noticed
    # (asked after, the worker would take init for its parent and serve on alone).
    parent = os.getpid()
    try:
        pid = os.fork()
    except BaseException:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        raise
    if pid:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        return pid
    code = 0
    try:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        # The app (and its index) is opened in the worker, after the fork.
        server = _create_server(make_app(), listener, threads, limits, error_headers)
        _run(server, limits, parent=parent)
    except (Stop, KeyboardInterrupt):
        pass  # stopped before it was serving: nothing in flight
    except BaseException as error:  # a worker must never return into the parent's loop
        log.error("worker %d could not serve: %s", os.getpid(), error,
                  exc_info=not isinstance(error, ConfigError))
        code = 1
    finally:
        logging.shutdown()
        os._exit(code)


def _create_server(app, listener: socket.socket, threads: int, limits: Limits,
                   error_headers: tuple):
    server = waitress.create_server(
        app, sockets=[listener], threads=threads, ident="searchapp",
        connection_limit=limits.connections, channel_timeout=limits.timeout,
        cleanup_interval=CHECK_SECONDS, max_request_body_size=limits.max_body,
        max_request_header_size=limits.max_header, backlog=limits.backlog,
        asyncore_use_poll=True,  # select() cannot watch more than 1,024 connections
    )
    server.channel_class = _channel_class(error_headers)
    return server


def _channel_class(error_headers: tuple) -> type[HTTPChannel]:
    """Return a waitress channel that dates each request and signs its own error answers."""

    class SignedErrorTask(ErrorTask):
        def execute(self):
            self.response_headers.extend(error_headers)
            super().execute()

    class Channel(HTTPChannel):
        task_class = _AnswerFirstTask
        error_task_class = SignedErrorTask
        request_began = 0.0

        def received(self, data):
            before = self.request
            result = super().received(data)
            if self.request is not None and self.request is not before:
                self.request_began = time.monotonic()
            return result

    return Channel


class _AnswerFirstTask(WSGITask):
    """A request's task that runs what the app left in ``AFTER_RESPONSE`` once the answer
    is written (waitress sends it as it is written), so the client does not wait for it."""

    def get_environment(self):
        environ = super().get_environment()
        environ.setdefault(AFTER_RESPONSE, [])
        return environ

    def service(self):
        try:
            super().service()
        finally:
            for call in self.environ.get(AFTER_RESPONSE, ()) if self.environ else ():
                try:
                    call()
                except Exception:  # one failed log line must not fail the connection
                    log.exception("after answering %s", self.request.path)


def _run(server, limits: Limits, parent: int | None = None) -> None:
    """Serve until SIGTERM or Ctrl-C (or until ``parent`` is gone), then finish the requests."""
    stopping: list[int] = []

    def stop(signum, frame):
        if signum == signal.SIGINT and signal.SIGINT in stopping:  # Ctrl-C twice: at once
            raise KeyboardInterrupt
        stopping.append(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        next_check = 0.0
        while not stopping:
            wasyncore.loop(timeout=LOOP_SECONDS, map=server._map, use_poll=True, count=1)
            now = time.monotonic()
            if now >= next_check:
                next_check = now + CHECK_SECONDS
                _close_overdue(server, now - limits.timeout)
                if parent is not None and os.getppid() != parent:  # killed: no one to stop us
                    stopping.append(0)
        _drain(server, limits.shutdown_timeout)
    finally:
        wasyncore.close_all(server._map)
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=1)


def _close_overdue(server, began_before: float) -> None:
    """Close connections whose current request began before ``began_before`` and is unfinished.

    Waitress closes a connection only when it sends nothing for ``channel_timeout``; a client
    that sends one byte at a time would hold its connection for ever.
    """
    for channel in list(server.active_channels.values()):
        request = channel.request
        if request is not None and not request.completed and \
                channel.request_began < began_before:
            channel.will_close = True


def _drain(server, seconds: float) -> None:
    """Stop accepting, finish the requests already received, then close every connection."""
    server.accepting = False
    wasyncore.dispatcher.close(server)  # the listening socket (this process's copy)
    start = time.monotonic()
    # A request sent just before the signal may still be on its way through the kernel.
    close_idle_from = start + min(DRAIN_GRACE_SECONDS, seconds)
    while True:
        now = time.monotonic()
        busy = 0
        for channel in list(server.active_channels.values()):
            if channel.requests or channel.total_outbufs_len:
                busy += 1
            elif now >= close_idle_from:
                channel.will_close = True  # idle, or a request not yet complete
        if not server.active_channels:
            return
        if now >= start + seconds:
            log.warning("stopping with %d requests unfinished after %.0f s", busy, seconds)
            return
        wasyncore.loop(timeout=LOOP_SECONDS / 2, map=server._map, use_poll=True, count=1)


def _listen(host: str, port: int, backlog: int) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    listener = socket.socket(family, kind, proto)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen(backlog)
    except OSError:
        listener.close()
        raise
    return listener


def _allow_open_files(needed: int) -> None:
    """Raise the soft limit of open files towards ``needed`` (up to the hard limit)."""
    try:
        import resource
    except ImportError:  # not on this system (Windows)
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        target = soft
    if target < needed:
        log.warning("only %d files may be open (ulimit -n), fewer than the %d connections "
                    "allowed need; lower --connection-limit", target, needed)


def _raise_stop_on(*signals: int) -> None:
    def handler(signum, frame):
        raise Stop

    for number in signals:
        signal.signal(number, handler)


def _forget_metrics_of(pid: int) -> None:
    """Tell prometheus_client that a worker is gone (its counters stay counted)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


def _signal(pid: int, number: int) -> None:
    try:
        os.kill(pid, number)
    except ProcessLookupError:
        pass


def _reap_all(children: dict[int, float], seconds: float) -> None:
    """Wait for the workers to exit, killing any still running after ``seconds``."""
    deadline = time.monotonic() + seconds
    pending = set(children)
    while pending and time.monotonic() < deadline:
        for pid in list(pending):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                pending.discard(pid)
        time.sleep(0.05)
    for pid in pending:
        log.warning("worker %d did not stop in %.0f s; killing it", pid, seconds)
        _signal(pid, signal.SIGKILL)
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
