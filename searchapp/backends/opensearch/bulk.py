"""Send writes to the cluster through the bulk API, in bounded batches, with retries.

A batch holds at most ``BATCH_DOCS`` actions and about ``BATCH_BYTES`` bytes. The cluster
pushing back (429: its write queue is full), a time-out, or a shard that is briefly
unavailable is met with the batch (or only its refused actions) sent again after a
growing pause; anything else the cluster refuses (a mapping error, a read-only index, a
red cluster that stays red) ends the run with an ``IndexerError`` saying why.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from opensearchpy.exceptions import (
    AuthenticationException,
    AuthorizationException,
    ConnectionError,
    ConnectionTimeout,
    TransportError,
)

from searchapp.backends import IndexerError

BATCH_DOCS = 1000
BATCH_BYTES = 5 * 2**20
# A bulk request may wait this long for the cluster.
REQUEST_TIMEOUT = 120
# Pauses before the attempts after the first: 0.5 s doubling up to 30 s (about a minute
# and a half in all).
RETRIES = 7
FIRST_PAUSE = 0.5
LONGEST_PAUSE = 30.0
# What of a bulk answer is read: each action's status, and its error if it has one. The
# rest (index, id, version, shards, sequence numbers) is nearly nine tenths of an
# answer's bytes, for the cluster to write and for the client to parse.
ANSWER_FIELDS = "items.*.status,items.*.error"
# Statuses of a whole request or of one action that are worth trying again.
RETRY_STATUSES = {429, 502, 503, 504}
# An action's first line, as json.dumps writes {op: {"_index": index, "_id": id}}; the
# strings are encoded by one encoder for all (``json.dumps`` with options makes one a call).
ACTION_LINE = '{"%s":{"_index":%s,"_id":%s}}'
_json_text = json.JSONEncoder(ensure_ascii=False).encode


@dataclass
class Action:
    """One write: ``op`` is "index", "create" or "delete"; ``tag`` is the caller's."""

    op: str
    index: str
    id: str
    source: bytes | None = None
    tag: object = None
    _lines: bytes | None = field(default=None, repr=False, compare=False)

    def lines(self) -> bytes:
        """Return the action as bulk API lines (encoded once, sent again on a retry)."""
        if self._lines is None:
            meta = ACTION_LINE % (self.op, _json_text(self.index), _json_text(self.id))
            source = b"" if self.source is None else self.source + b"\n"
            self._lines = meta.encode() + b"\n" + source
        return self._lines


@dataclass
class Outcome:
    """What became of one action: ``status`` as the cluster said, ``error`` its reason."""

    action: Action
    status: int
    error: dict | None = None

    @property
    def conflict(self) -> bool:
        return self.status == 409

    @property
    def ok(self) -> bool:
        return self.status < 300 or (self.status == 404 and self.action.op == "delete")


class Batch:
    """Actions gathered until the batch is full."""

    def __init__(self) -> None:
        self.actions: list[Action] = []
        self.lines: list[bytes] = []
        self.size = 0

    def add(self, action: Action) -> None:
        data = action.lines()
        self.actions.append(action)
        self.lines.append(data)
        self.size += len(data)

    @property
    def full(self) -> bool:
        return len(self.actions) >= BATCH_DOCS or self.size >= BATCH_BYTES

    def __len__(self) -> int:
        return len(self.actions)


def send(client, actions: list[Action], sleep: Callable[[float], None] = time.sleep
         ) -> list[Outcome]:
    """Send ``actions`` in one bulk request; return each one's outcome (conflicts included).

    :raises IndexerError: when the cluster cannot be reached or refuses an action for
        good, after the retries.
    """
    outcomes: dict[int, Outcome] = {}
    todo = list(range(len(actions)))
    last: Exception | Outcome | None = None
    for attempt in range(RETRIES + 1):
        if attempt:
            sleep(min(LONGEST_PAUSE, FIRST_PAUSE * 2 ** (attempt - 1)))
        body = b"".join(actions[i].lines() for i in todo)
        try:
            answer = client.bulk(body=body, request_timeout=REQUEST_TIMEOUT,
                                 filter_path=ANSWER_FIELDS)
        except (ConnectionTimeout, ConnectionError) as error:
            last = error
            continue
        except TransportError as error:
            if _status(error) in RETRY_STATUSES:
                last = error
                continue
            raise cluster_error(error) from error
        again = []
        for i, item in zip(todo, answer["items"], strict=True):
            result = next(iter(item.values()))
            outcome = Outcome(actions[i], result.get("status", 500), result.get("error"))
            if outcome.status in RETRY_STATUSES:
                again.append(i)
                last = outcome
                continue
            if not (outcome.ok or outcome.conflict):
                raise IndexerError(f"the cluster refused to write to {actions[i].index} "
                                   f"(status {outcome.status}): {_reason(outcome.error)}")
            outcomes[i] = outcome
        todo = again
        if not todo:
            return [outcomes[i] for i in range(len(actions))]
    if isinstance(last, Outcome):
        raise IndexerError(f"the cluster kept refusing writes (status {last.status}: "
                           f"{_reason(last.error)}) after {RETRIES} retries")
    raise cluster_error(last)


def cluster_error(error: Exception) -> IndexerError:
    """Return the ``IndexerError`` that says what the cluster's failure means."""
    if isinstance(error, ConnectionTimeout):
        return IndexerError(f"the cluster did not answer in time ({error}); try again later")
    if isinstance(error, ConnectionError):
        return IndexerError(f"cannot reach the OpenSearch cluster: {_cause(error)}; check "
                            "SEARCHAPP_OPENSEARCH_URL and that the cluster is running")
    if isinstance(error, (AuthenticationException, AuthorizationException)):
        return IndexerError(f"the cluster refused the login or the permission "
                            f"(status {_status(error)}): {_reason(getattr(error, 'info', None))}; "
                            "check SEARCHAPP_OPENSEARCH_USER and _PASSWORD")
    if isinstance(error, TransportError):
        return IndexerError(f"the cluster refused the request (status {_status(error)}): "
                            f"{_reason(error.info if isinstance(error.info, dict) else None)}"
                            f"{'' if isinstance(error.info, dict) else f' {error.error}'}")
    return IndexerError(str(error))


def _status(error: TransportError) -> int | None:
    status = error.status_code
    return status if isinstance(status, int) else None


def _cause(error: ConnectionError) -> str:
    cause = getattr(error, "info", None) or error
    return str(getattr(cause, "reason", None) or cause)


def _reason(error) -> str:
    """Return the cluster's reason for an error, as one line."""
    if isinstance(error, dict):
        error = error.get("error", error)
    if isinstance(error, dict):
        cause = error.get("root_cause") or []
        first = cause[0] if cause and isinstance(cause[0], dict) else error
        return f"{first.get('type', 'error')}: {first.get('reason', '')}".strip()
    return str(error)
