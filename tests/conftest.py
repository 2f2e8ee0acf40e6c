"""Shared fixtures: small article folders written by the tests, an archive built from them,
and the app, client and CLI runner (after Flask's tutorial).

The archive fixtures run over both engines: every test that uses ``engine``, ``index_dir``,
``app``, ``client`` or ``make_archive`` runs once on the embedded Whoosh index
(``test_x[whoosh]``) and once on a real OpenSearch cluster (``test_x[opensearch]``, marked
``opensearch``), the same test, not a copy of it. Tests about Whoosh's own files and internals
are marked ``whoosh_only`` and run on Whoosh alone. Only the OpenSearch runs ask for the
cluster, so ``pytest -m "not opensearch"`` needs none.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from searchapp import config, create_app
from searchapp.backends import Archive, IndexReport, open_archive
from searchapp.backends.whoosh.indexing import update_index

# A real OpenSearch cluster for the tests marked `opensearch` (fixtures: opensearch_url, ...).
pytest_plugins = ["tests.opensearch_cluster"]

SEED = Path(__file__).resolve().parent.parent / "seeds" / "000_5181227ef7dc2b03.txt"
ENGINES = ("whoosh", "opensearch")

# A small archive: the client's seed plus a few articles that exercise ranking, dates,
# paging and hostile text.
ARTICLES = {
    "border-talks.txt": (
        "Talks on the Armenia-Azerbaijan Border Resume\n\n"
        "YEREVAN, March 3, 2023 — Negotiators met again on Friday to discuss the border "
        "commission and the ceasefire that has held since the autumn.\n\n"
        "Officials said the border talks would continue next month."
    ),
    "church-festival.txt": (
        "Date: 2021-06-12\n\n"
        "Church Festival Draws Thousands\n\n"
        "Thousands of pilgrims gathered at the cathedral for the annual festival of "
        "music, food and prayer, organisers said on Saturday."
    ),
    "undated-recipe.txt": (
        "A Recipe for Apricot Jam\n\n"
        "Apricots from the Ararat valley make the best jam, and this recipe shows how to "
        "cook them slowly with sugar and lemon until they set."
    ),
    "feeds/export.jsonl": "\n".join(
        json.dumps(record)
        for record in [
            {"id": "feed-1", "headline": "Jermuk Spa Town Reopens", "date": "2023-05-01",
             "body": "The spa town of Jermuk reopened its mineral springs to visitors."},
            {"id": "feed-2", "headline": "Chess Olympiad Team Named", "date": "2022-07-20",
             "body": "The national chess team for the olympiad was named on Wednesday."},
        ]
    ),
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "whoosh_only: about the embedded Whoosh index's own files or internals; "
        "runs on Whoosh alone, not over both engines")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run every test that uses an archive fixture on each engine, Whoosh-only ones on one."""
    if "engine" not in metafunc.fixturenames:
        return
    if metafunc.definition.get_closest_marker("whoosh_only"):
        engines = ["whoosh"]
    else:
        engines = ["whoosh", pytest.param("opensearch", marks=pytest.mark.opensearch)]
    metafunc.parametrize("engine", engines, indirect=True)


def write_articles(folder: Path, articles: dict[str, str | bytes]) -> Path:
    """Write ``{relative path: text or bytes}`` under ``folder`` and return it."""
    for name, content in articles.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return folder


def whoosh_index_of(tmp_path_factory: pytest.TempPathFactory, name: str,
                    articles: dict[str, str | bytes]) -> Path:
    """Write ``articles`` into a new folder and index them there; return the index."""
    folder = write_articles(tmp_path_factory.mktemp(name), articles)
    target = tmp_path_factory.mktemp(f"{name}-ix")
    update_index([folder], target)
    return target


def write_test_archive(folder: Path) -> Path:
    """Write the seed and the small test archive into ``folder``."""
    write_articles(folder, ARTICLES)
    (folder / SEED.name).write_bytes(SEED.read_bytes())
    return folder


@dataclass
class BuiltArchive:
    """An archive a test built on one engine: a Whoosh folder, or an index on the cluster.

    ``index_dir`` is the Whoosh index's folder; on OpenSearch nothing is written there.
    """

    engine: str
    index_dir: Path
    opensearch_url: str | None = None
    opensearch_index: str | None = None
    report: IndexReport | None = None

    @property
    def config(self) -> dict:
        """``create_app`` settings that open this archive."""
        settings = {"INDEX_DIR": str(self.index_dir)}
        if self.opensearch_url:
            settings.update(OPENSEARCH_URL=self.opensearch_url,
                            OPENSEARCH_INDEX=self.opensearch_index)
        return settings

    @property
    def environ(self) -> dict[str, str]:
        """Environment variables that point the command line at this archive."""
        if not self.opensearch_url:
            return {}
        return {config.OPENSEARCH_URL_VAR: self.opensearch_url,
                config.OPENSEARCH_INDEX_VAR: self.opensearch_index}

    def open(self, time_limit: float | None = None) -> Archive:
        return open_archive(self.index_dir, self.opensearch_url, self.opensearch_index,
                            time_limit=time_limit)

    def app(self, **settings):
        return create_app({**self.config, **settings})

    def client(self, **settings):
        return self.app(**settings).test_client()

    def update(self, folders: Iterable[Path], **options) -> IndexReport:
        """Index ``folders`` into this archive (incrementally, as `searchapp index` does)."""
        if self.engine == "whoosh":
            self.report = update_index(list(folders), self.index_dir, **options)
        else:
            self.report = self.open().update(list(folders), **options)
        return self.report


def open_test_archive(index_dir: Path) -> Archive:
    """Open the archive the command line would use for ``--index-dir index_dir``: the
    cluster when the ``index_dir`` fixture pointed the environment at one."""
    return open_archive(index_dir, config.opensearch_url(), config.opensearch_index())


@pytest.fixture
def engine(request: pytest.FixtureRequest) -> str:
    """The engine this run of the test uses: "whoosh" or "opensearch"."""
    return getattr(request, "param", "whoosh")


@pytest.fixture
def make_archive(engine: str, tmp_path: Path, request: pytest.FixtureRequest):
    """Build archives on this test's engine: ``make_archive(folders, name="ix")``.

    Each call makes a new archive (a folder under tmp_path, or a new index on the cluster,
    deleted after the test) and indexes ``folders`` into it.
    """
    url = prefix = None
    if engine == "opensearch":
        url = request.getfixturevalue("opensearch_url")
        prefix = request.getfixturevalue("opensearch_index_name")

    def make(folders: Iterable[Path] = (), name: str = "ix") -> BuiltArchive:
        index_name = None
        if url:
            index_name = f"{prefix}-{re.sub(r'[^a-z0-9]+', '-', name.lower())}"
        built = BuiltArchive(engine, tmp_path / name, url, index_name)
        folders = list(folders)
        if folders:
            built.update(folders)
        return built

    return make


@pytest.fixture
def archive_dir(tmp_path: Path) -> Path:
    """A folder with the seed and the small test archive."""
    return write_test_archive(tmp_path / "articles")


@pytest.fixture
def built_archive(make_archive, archive_dir: Path, monkeypatch) -> BuiltArchive:
    """The small test archive built on this test's engine, and the command line pointed at it."""
    built = make_archive([archive_dir], name="index")
    assert not built.report.skipped
    for name, value in built.environ.items():
        monkeypatch.setenv(name, value)
    return built


@pytest.fixture
def index_dir(built_archive: BuiltArchive) -> Path:
    """An archive built from ``archive_dir``: on Whoosh, the index's folder; on OpenSearch
    a folder where nothing is written, with SEARCHAPP_OPENSEARCH_* naming the cluster's index
    (so ``--index-dir index_dir`` and ``open_test_archive`` reach it on either engine)."""
    return built_archive.index_dir


@pytest.fixture
def new_index_dir(make_archive, monkeypatch) -> Path:
    """Where a test's own `searchapp index --index-dir new_index_dir` puts the archive: a
    folder not made yet on Whoosh; on OpenSearch SEARCHAPP_OPENSEARCH_* name a new index."""
    built = make_archive(name="ix")
    for name, value in built.environ.items():
        monkeypatch.setenv(name, value)
    return built.index_dir


class ModuleArchives:
    """Archives built once per test module and engine, for tests that only read them."""

    def __init__(self, factory: pytest.TempPathFactory, module: str) -> None:
        self.factory = factory
        self.module = re.sub(r"[^a-z0-9]+", "-", module.lower())[-30:].strip("-")
        self.built: dict[tuple[str, str], BuiltArchive] = {}

    def get(self, key: str, write: Callable[[Path], Path], engine: str,
            opensearch_url: str | None,
            rewrite: Callable[[Path], object] | None = None) -> BuiltArchive:
        """Return archive ``key`` on ``engine``, indexing ``write(folder)`` the first time
        (and then, when given, ``rewrite(folder)``'s changes in a second run)."""
        if (key, engine) not in self.built:
            root = self.factory.mktemp(f"{key}-{engine}")
            name = None
            if engine == "opensearch":
                name = f"searchapp-test-{key}-{self.module}-{uuid.uuid4().hex[:8]}"
            built = BuiltArchive(engine, root / "index", opensearch_url, name)
            folder = write(root / "articles")
            assert not built.update([folder]).skipped
            if rewrite:
                rewrite(folder)
                assert not built.update([folder]).skipped
            self.built[key, engine] = built
        return self.built[key, engine]

    def delete(self) -> None:
        from tests.opensearch_cluster import request_json

        for built in self.built.values():
            if built.opensearch_url:
                request_json("DELETE", f"{built.opensearch_url}/{built.opensearch_index}*"
                             "?expand_wildcards=all")


@pytest.fixture(scope="module")
def module_archives(request: pytest.FixtureRequest,
                    tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleArchives]:
    archives = ModuleArchives(tmp_path_factory, request.module.__name__)
    yield archives
    archives.delete()


@pytest.fixture
def shared_archive(engine: str, module_archives: ModuleArchives,
                   request: pytest.FixtureRequest):
    """``shared_archive(key, write)``: an archive of ``write(folder)``'s files on this test's
    engine, built once per module: for tests that do not change it."""
    url = request.getfixturevalue("opensearch_url") if engine == "opensearch" else None

    def get(key: str, write: Callable[[Path], Path],
            rewrite: Callable[[Path], object] | None = None) -> BuiltArchive:
        return module_archives.get(key, write, engine, url, rewrite)

    return get


@pytest.fixture
def small_archive(engine: str, request: pytest.FixtureRequest) -> BuiltArchive:
    """The small test archive on this test's engine.

    On OpenSearch a test that asks for neither ``index_dir`` nor ``archive_dir`` only reads,
    so it shares one index per module (building one costs a second or so on the cluster);
    on Whoosh every test has its own, as always.
    """
    names = set(request.fixturenames)
    if engine == "opensearch" and not names & {"index_dir", "archive_dir", "built_archive"}:
        return request.getfixturevalue("shared_archive")("small", write_test_archive)
    return request.getfixturevalue("built_archive")


@pytest.fixture
def app(small_archive: BuiltArchive):
    """The app over the small test archive."""
    return create_app({**small_archive.config, "TESTING": True})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner():
    return CliRunner()
