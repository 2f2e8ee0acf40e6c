"""Shared fixtures: small article folders written by the tests, an index built from them,
and the app, client and CLI runner (after Flask's tutorial)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from searchapp import create_app
from searchapp.backends.whoosh.indexing import update_index

# A real OpenSearch cluster for the tests marked `opensearch` (fixtures: opensearch_url, ...).
pytest_plugins = ["tests.opensearch_cluster"]

SEED = Path(__file__).resolve().parent.parent / "seeds" / "000_5181227ef7dc2b03.txt"

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


@pytest.fixture
def archive_dir(tmp_path: Path) -> Path:
    """A folder with the seed and the small test archive."""
    folder = write_articles(tmp_path / "articles", ARTICLES)
    (folder / SEED.name).write_bytes(SEED.read_bytes())
    return folder


@pytest.fixture
def index_dir(tmp_path: Path, archive_dir: Path) -> Path:
    """An index built from ``archive_dir``."""
    target = tmp_path / "index"
    report = update_index([archive_dir], target)
    assert not report.skipped
    return target


@pytest.fixture
def app(index_dir: Path):
    return create_app({"INDEX_DIR": str(index_dir), "TESTING": True})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner():
    return CliRunner()
