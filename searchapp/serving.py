"""Run the web app under waitress, in one process or in several sharing one socket.

Python runs one thread of a process at a time, so more requests per second on more
cores take more processes. With ``workers`` above one, this process opens the
listening socket and forks that many workers, each a waitress server with its own
threads on the same socket; the kernel hands each new connection to one of them. A
worker that dies is replaced; Ctrl-C or SIGTERM stops them all.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from collections.abc import Callable

import waitress

# A worker that dies is replaced, but no sooner than this after the last one began.
RESTART_PAUSE_SECONDS = 1.0
LISTEN_BACKLOG = 1024


class Stop(Exception):
    """Ctrl-C or SIGTERM: stop serving."""


def serve(make_app: Callable, host: str, port: int, threads: int, workers: int,
          ready: Callable[[], None]) -> None:
    """Serve ``make_app()`` on ``host:port`` until stopped; ``ready`` is called once listening.

    :raises OSError: when the address cannot be listened on.
    """
    _stop_on_sigterm()
    if workers == 1 or not hasattr(os, "fork"):
        server = waitress.create_server(make_app(), host=host, port=port, threads=threads,
                                        ident="searchapp")
        ready()
        _run(server)
        return
    listener = _listen(host, port)
    ready()
    children: dict[int, float] = {}
    try:
        while True:
            while len(children) < workers:
                children[_fork_worker(make_app, listener, threads)] = time.monotonic()
            pid, _ = os.wait()
            started = children.pop(pid, None)
            if started is not None:
                time.sleep(max(0.0, RESTART_PAUSE_SECONDS - (time.monotonic() - started)))
    except (Stop, KeyboardInterrupt):
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # stopping now; no second Stop
        for pid in children:
            _signal(pid, signal.SIGTERM)
        for pid in children:
            _reap(pid)
        listener.close()


def _listen(host: str, port: int) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    listener = socket.socket(family, kind, proto)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen(LISTEN_BACKLOG)
    except OSError:
        listener.close()
        raise
    return listener


def _fork_worker(make_app: Callable, listener: socket.socket, threads: int) -> int:
    """Start one worker process serving on ``listener`` and return its pid."""
    pid = os.fork()
    if pid:
        return pid
    code = 0
    try:
        # The app (and its index) is opened in the worker, after the fork.
        server = waitress.create_server(make_app(), sockets=[listener], threads=threads,
                                        ident="searchapp")
        _run(server)
    except BaseException as error:  # a worker must never return into the parent's loop
        if not isinstance(error, (Stop, KeyboardInterrupt)):
            print(f"searchapp: worker {os.getpid()} stopped: {error}", file=sys.stderr)
            code = 1
    finally:
        sys.stderr.flush()
        os._exit(code)


def _run(server) -> None:
    try:
        server.run()
    except (Stop, KeyboardInterrupt):
        pass
    finally:
        server.close()


def _stop_on_sigterm() -> None:
    def handler(signum, frame):
        raise Stop

    signal.signal(signal.SIGTERM, handler)


def _signal(pid: int, number: int) -> None:
    try:
        os.kill(pid, number)
    except ProcessLookupError:
        pass


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass
