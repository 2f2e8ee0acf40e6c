"""The archive interface: what the web page, the JSON API and the command line ask of an engine.

Two engines stand behind it, each in a package of its own: the embedded Whoosh index
(``backends.whoosh``, the default: one folder, no server) and an OpenSearch cluster
(``backends.opensearch``, chosen by ``SEARCHAPP_OPENSEARCH_URL``). Queries reach an engine
as plain clauses (``querylang.ParsedQuery``), results leave it as plain dataclasses
(``results``); nothing above this package imports an engine.

An ``Archive`` is opened once per process and shared by all its threads.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from searchapp.articles import Skip
from searchapp.results import DEFAULT_PER_PAGE, ArticleRecord, SearchResults

MAX_COMPLETIONS = 8

# Called as progress(bytes done, bytes in all, articles read so far).
Progress = Callable[[int, int, int], None]


class IndexUnavailable(Exception):
    """There is no index to search yet; the message says how to build one."""


class IndexDamaged(IndexUnavailable):
    """The index was deleted or damaged under the running service, or the cluster cannot be
    reached; the message says so."""


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


@dataclass
class IndexStats:
    """What an index holds, for `searchapp stats`, /healthz and /metrics."""

    articles: int
    last_commit: datetime | None
    first_date: datetime | None = None
    last_date: datetime | None = None
    # (id, headline, body length in words) of the longest articles, longest first.
    largest: list[tuple[str, str, int]] = field(default_factory=list)
    # Bytes the index takes on disk (all copies, on a cluster), when the engine says.
    size_bytes: int | None = None


@dataclass
class Health:
    """Whether the archive can be searched, for /healthz.

    ``status`` is "ok", "no index" or "damaged" (the archive cannot be read: ``reason``
    says why); ``details`` adds what the engine knows (a cluster's state, say).
    """

    status: str
    reason: str | None = None
    stats: IndexStats | None = None
    details: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class Archive(ABC):
    """One newspaper archive on one engine: searched by readers, updated by the indexer."""

    #: The engine's name, as `searchapp stats` and /healthz show it.
    engine: str = ""
    #: What an interrupted indexing run leaves behind, for `searchapp index` to say.
    interrupted_note = "nothing from this run was committed; the index is as it was."

    @property
    @abstractmethod
    def location(self) -> str:
        """Say where the archive lives (a folder, a cluster and index), for messages."""

    # Reading.

    @abstractmethod
    def count(self) -> int:
        """Return how many articles the archive holds.

        :raises IndexUnavailable: when there is nothing to search (or it cannot be read).
        """

    @abstractmethod
    def search(
        self,
        text: str,
        page: int = 1,
        per_page: int = DEFAULT_PER_PAGE,
        sort: str = "relevance",
        date_from: date | None = None,
        date_to: date | None = None,
        *,
        snippets: bool = True,
        correct: bool = True,
        typing: bool = False,
        everything: bool = False,
        similar_to: str | None = None,
        fold: bool = True,
    ) -> SearchResults:
        """Run a reader's query and return one page of results.

        ``snippets=False`` leaves each hit's snippet empty, for callers that only rank.
        With ``correct``, a query that finds nothing is run again with the spelling
        correction that finds most, and the results say so in ``corrected``. With
        ``typing`` (search as you type), the last word, when nothing follows it, is the
        start of a word (``coff`` finds coffee) and is never corrected. With
        ``everything``, a query with nothing to look for finds every article (a feed
        of the newest). Copies of a story are folded into its best result, listed in its
        ``similar`` (``fold=False`` keeps every copy in place, for measuring ranking);
        ``similar_to`` (an article id) gives that article and its copies that match the
        query instead, unfolded.

        :raises QueryError: for a query that cannot be run (the message says why).
        :raises ValueError: for out-of-range paging or an unknown sort.
        :raises IndexUnavailable: when there is nothing to search (or it cannot be read).
        """

    @abstractmethod
    def complete(self, text: str, limit: int = MAX_COMPLETIONS) -> list[str]:
        """Complete the last word of ``text`` from the articles' words, most common first."""

    @abstractmethod
    def article(self, article_id: str, related: bool = True) -> ArticleRecord | None:
        """Return the stored article with ``article_id`` and articles like it, or None."""

    @abstractmethod
    def mark(self, text: str, parts: list[str]) -> list[str]:
        """Return each of ``parts`` as escaped HTML with the words ``text`` searches marked.

        An empty or unusable query marks nothing; each part is escaped all the same.
        """

    @abstractmethod
    def damage(self) -> str | None:
        """Return why the archive cannot be read, or None when it reads well (or is absent).

        Cheap enough to call on every request that failed: engines look again only now
        and then.
        """

    @abstractmethod
    def health(self) -> Health:
        """Say whether the archive can be searched, with its size and last change."""

    @abstractmethod
    def stats(self, largest: int = 0, date_range: bool = False) -> IndexStats | None:
        """Describe the archive, or return None when there is none yet.

        :param largest: how many of the longest articles to list.
        :param date_range: also find the first and last dates.
        """

    # Writing.

    @abstractmethod
    def exists(self) -> bool:
        """Return True when there is an index to search (maybe empty), False before the first
        indexing run."""

    @abstractmethod
    def update(self, paths: Iterable[Path], rebuild: bool = False,
               progress: Progress | None = None, workers: int = 1) -> IndexReport:
        """Index the article files under ``paths``, incrementally.

        New and changed files are (re)read, articles whose files are gone from these
        paths are removed, and unchanged files are not read at all. With ``rebuild`` the
        archive is replaced by one built from ``paths`` alone, and readers see either the
        old archive or the new one, never a half-built one.

        :raises IndexLocked: when another indexer holds the index.
        :raises IndexerError: for missing paths and an index that cannot be written.
        """

    # The zero-result report.

    @abstractmethod
    def record_miss(self, query: str) -> None:
        """Remember a search that found nothing, for `searchapp report`.

        :raises OSError: when it cannot be recorded (callers decide whether that matters).
        """

    @abstractmethod
    def top_misses(self, limit: int = 20) -> list[tuple[str, int]]:
        """Return the most frequent searches that found nothing, with their counts."""


def open_archive(index_dir: Path | str, opensearch_url: str | None = None,
                 opensearch_index: str | None = None,
                 time_limit: float | None = None) -> Archive:
    """Open the archive the settings name: a cluster when ``opensearch_url`` is given (one
    URL or several, comma-separated), else the Whoosh index in ``index_dir``.

    Nothing is read or written until the archive is used.

    :raises config.ConfigError: for a cluster address that cannot be used.
    """
    if opensearch_url and opensearch_url.strip():
        from searchapp.backends.opensearch.archive import OpenSearchArchive

        return OpenSearchArchive(opensearch_url, opensearch_index, time_limit=time_limit)
    from searchapp.backends.whoosh import WhooshArchive

    return WhooshArchive(index_dir, time_limit=time_limit)
